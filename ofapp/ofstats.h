/* Statistics of one bridge, collected over its OpenFlow session: counters
 * of mslb's flows that count something (service flows of CLASSIFY,
 * DSR_FORWARD and NAT_REPLY, backend endpoint flows of CLASSIFY and
 * NAT_OUT; ofstats.c says which), and the session affinity entries DSR
 * modes learned. */
#ifndef OFSTATS_H
#define OFSTATS_H 1

#include <stdbool.h>
#include <jansson.h>
#include "openvswitch/ofp-msgs.h"

struct ofp_header;
struct ofsession;

/* Called once with (new reference)
 *   {"flows": [{"id" (the flow's identity from read to read), "cookie",
 *               "table", "priority", "packets", "bytes", "duration" (s),
 *               and those the flow matches of "nw_proto", "nw_dst",
 *               "tp_dst", "nw_src", "tp_src", "dl_src", "reg1"}...],
 *    "learned": [{"service", "backend", "slot"}...]}
 * or with NULL if the session is lost first. */
typedef void ofstats_cb(void *aux, json_t *stats);

/* The collections under way on one session. */
struct ofstats;

struct ofstats *ofstats_create(void);
/* Fails (calls back with NULL) every collection under way. */
void ofstats_destroy(struct ofstats *);
void ofstats_fail_all(struct ofstats *);

void ofstats_collect(struct ofstats *, struct ofsession *, ofstats_cb *,
                     void *aux);
/* The same with only "learned" filled ("flows" empty). */
void ofstats_collect_learned(struct ofstats *, struct ofsession *,
                             ofstats_cb *, void *aux);
/* Consumes a reply that belongs to a collection; false for others. */
bool ofstats_handle_msg(struct ofstats *, const struct ofp_header *,
                        enum ofptype);

#endif /* ofstats.h */
