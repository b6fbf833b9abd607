/* The VIPs announced by BGP (docs/bgp.md): mslbd runs FRR's bgpd as its
 * child, with the sessions a local file describes and without zebra (it
 * installs no route, it only announces), and tells it through vtysh which
 * VIPs to announce: those mslbd says, as they change.  bgpd dies with
 * mslbd (the parent-death signal), so a dead mslbd's sessions drop and the
 * routers withdraw what it announced.  bgpd restarts when it exits. */
#ifndef SPEAKER_H
#define SPEAKER_H 1

#include <stdbool.h>
#include <jansson.h>
#include <uv.h>
#include "mslb/model.h"

struct speaker;
struct sset;

/* Reads the speaker's file 'path' (JSON: asn, router_id, peers [{address,
 * asn, hold_time, port}], next_hop, next_hop6, bridges, run_dir,
 * listen_port, bgpd, vtysh) and starts
 * bgpd.  Returns NULL and sets '*error' (malloc'd, naming the field) if
 * the file is wrong. */
struct speaker *speaker_create(uv_loop_t *, const char *path, char **error);
/* Stops bgpd (its sessions close: the routers withdraw everything). */
void speaker_destroy(struct speaker *);

/* Whether the speaker announces what first-stage bridge 'bridge' serves:
 * the file's "bridges" (the muxes on the speaker's host) name it, or the
 * file names none (every bridge). */
bool speaker_speaks_for(const struct speaker *, const char *bridge);

/* The prefixes to announce: "ADDR/32" and "ADDR/128".  Applied in the
 * background, in order, retried until bgpd takes them. */
void speaker_set(struct speaker *, const struct sset *prefixes);

/* The speaker's state (new reference): {"asn", "router_id", "peers",
 * "bridges": [...] or null, "bgpd_pid", "announced": [...], "pending": N,
 * "restarts"}. */
json_t *speaker_status_json(const struct speaker *);

#endif /* speaker.h */
