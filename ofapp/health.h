/* Health monitors (docs/health.md): mslbd probes the backends of every
 * service that has a monitor, in band, the way a client's packets reach
 * them, and hands the engine the set that fails (rtfacts).
 *
 * A TCP probe is a SYN sent by packet-out from a first-stage bridge of the
 * service, from one of the bridge's gateway addresses and a port of the
 * prober's own; in mode nat to the backend's address and port (the
 * translation the service applies), in the DSR modes to VIP:port through
 * DSR_FORWARD's flows for that backend (the mode's own rewrite: MAC, DSCP
 * and real address, or the tunnel).  The answer comes back to the
 * gateway address: CLASSIFY hands SYN-ACKs and RSTs to it to mslbd, which
 * accepts only one that matches an outstanding probe (addresses, ports,
 * acknowledgement number) and closes the half-open connection with an RST.
 *
 * Results: 'rise' successes in a row make a failed backend usable again,
 * 'fall' failures in a row (no answer within 'timeout', or an RST) make it
 * fail; a backend starts usable.  Probes of one backend are 'interval'
 * apart, and backends start at different offsets so that probes spread
 * over the interval. */
#ifndef HEALTH_H
#define HEALTH_H 1

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <uv.h>
#include "openvswitch/ofp-msgs.h"

struct bridges;
struct health;
struct lbengine;
struct mdb;
struct ofp_header;
struct ofsession;
struct rtfacts;

/* 'changed' is called when the failed set of some service changed (the
 * engine has work). */
struct resolver;
/* A failed probe asks 'resolver' for the backend's MAC again (a server
 * whose MAC changed is followed within one interval). */
struct health *health_create(uv_loop_t *, const struct mdb *,
                             struct rtfacts *, struct bridges *,
                             const struct lbengine *, struct resolver *,
                             void (*changed)(void *aux), void *aux);
void health_destroy(struct health *);

/* Brings the probes in line with the model's tracked service changes
 * (call before the engine clears them), or with every service ('all'). */
void health_sync(struct health *, bool all);

/* A packet-in on bridge 'bridge': true if it was a probe's answer. */
bool health_handle_msg(struct health *, const char *bridge,
                       struct ofsession *, const struct ofp_header *,
                       enum ofptype);

/* Backend 'key' of service 'service': its health as JSON (new reference:
 * {"state", "last", "reason", "since", "latency_ms", ...}), or NULL if it is
 * not monitored. */
json_t *health_backend_json(const struct health *, const char *service,
                            uint32_t key);

/* Backend 'key' of service 'service' passes its health checks (true if
 * it is not monitored). */
bool health_backend_up(const struct health *, const char *service,
                       uint32_t key);

/* Counters for /metrics. */
struct health_counters {
    uint64_t probes_sent, answers, timeouts, refused, bad, stray;
    uint64_t transitions;
    uint64_t not_sent;          /* No connected bridge, port or gateway. */
    /* How late probes were sent after their due time (the loop busy, or
     * more probes due than it sends per turn): in all, the worst, and how
     * many were late by more than their interval. */
    uint64_t delay_sum_us, delay_max_us, late;
};
void health_get_counters(const struct health *, struct health_counters *);

/* Calls 'cb' for every monitored backend: service, backend name, up,
 * transitions, last latency in ms (-1: none yet). */
void health_for_each(const struct health *,
                     void (*cb)(void *aux, const char *service,
                                const char *backend, bool up,
                                uint64_t transitions, double latency_ms),
                     void *aux);

/* Several mslbd on one database (docs/deployment.md): only the active one
 * (the master) sends probes and ends recovery moves (default: inactive
 * until set).  health_seq() moves whenever a result does;
 * health_export() calls 'cb' for every service with a failing backend or
 * a recovery move; a standby takes the master's with health_import(),
 * so that its desired tables are the master's, and probing goes on from
 * there once it is master. */
struct model_slot_move;
void health_set_active(struct health *, bool active);
uint64_t health_seq(const struct health *);
void health_export(const struct health *,
                   void (*cb)(void *aux, const char *service,
                              const uint32_t *failed, size_t n_failed,
                              const struct model_slot_move *,
                              size_t n_moves),
                   void *aux);
void health_import(struct health *, const char *service,
                   const uint32_t *failed, size_t n_failed,
                   const struct model_slot_move *, size_t n_moves);

#endif /* health.h */
