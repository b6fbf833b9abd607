/* One OpenFlow connection to one bridge: handshake, version negotiation,
 * port discovery, echo keepalive, adoption of installed flows, and the
 * reconciler that sends a bridge only what differs from the model. */
#ifndef OFCONN_H
#define OFCONN_H 1

#include <stdbool.h>
#include <uv.h>
#include <jansson.h>
#include <stdint.h>

struct mslbd;
struct ofconn;

/* A target: "ptcp:PORT[:IP]", "punix:PATH" (listen) or "tcp:IP:PORT",
 * "unix:PATH" (connect, and reconnect when lost).  Returns NULL or an error
 * message. */
char *ofconn_listen(struct mslbd *, const char *target);
char *ofconn_connect(struct mslbd *, const char *target);

/* Brings the connection's bridge in step with the daemon's model: called
 * when the model changes. */
void ofconn_sync(struct ofconn *);

/* Closes every listener (and removes unix socket files). */
void ofconn_close_listeners(void);

/* Status of a connection as JSON (new reference): name, datapath_id,
 * openflow_version, connected, installed_generation, flows, groups,
 * ports. */
json_t *ofconn_status_json(const struct ofconn *);
const char *ofconn_bridge_name(const struct ofconn *);
bool ofconn_is_ready(const struct ofconn *);
uint64_t ofconn_installed_generation(const struct ofconn *);
bool ofconn_in_step(const struct ofconn *);

/* Asks the switch for mslb's service and backend flow counters and its
 * groups' bucket counters, and calls 'cb' once with (new reference)
 *   {"flows": [{"cookie", "table", "nw_proto", "nw_dst", "tp_dst",
 *               "packets", "bytes"}...],
 *    "groups": [{"group_id", "buckets": [packets...]}...]}
 * or with NULL if the connection is lost first. */
typedef void ofconn_stats_cb(void *aux, json_t *stats);
void ofconn_collect_stats(struct ofconn *, ofconn_stats_cb *, void *aux);

#endif /* ofconn.h */
