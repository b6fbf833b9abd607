/* Outbound SNAT's port blocks at run time (mode slb, docs/slb.md): when an
 * slb host's conntrack finds no free port in the host's newest block for a
 * backend's new connection, the host's SNAT_OUT table hands the packet to
 * mslbd, which gives the host another block (a write to the database, as
 * a REST write would be: every mux learns it from there) and counts the
 * exhaustion.  The connection's next attempt (a TCP SYN's retransmission,
 * the application's next datagram) takes a port of the new block. */
#ifndef SNAT_H
#define SNAT_H 1

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "openvswitch/ofp-msgs.h"

struct mdb;
struct nbdb;
struct ofp_header;
struct ofsession;
struct snat;

/* At most one new block per (service, host bridge) per this long: the
 * packets that were already on their way when a block was given do not
 * take another. */
#define SNAT_GROW_INTERVAL_MS 1000

struct snat *snat_create(const struct mdb *, struct nbdb *);
void snat_destroy(struct snat *);

/* A packet-in from bridge 'bridge': true if it was an exhausted outbound
 * commit (taken). */
bool snat_handle_msg(struct snat *, const char *bridge, struct ofsession *,
                     const struct ofp_header *, enum ofptype);

/* Per (service, host bridge): packets that found no port ("exhausted"),
 * blocks given at run time ("grown"), and exhaustions with the range used
 * up ("refused"): a JSON array of objects, for GET /v1/snat and the
 * metrics. */
json_t *snat_counters_json(const struct snat *);

#endif /* snat.h */
