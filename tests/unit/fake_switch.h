/* An in-memory OpenFlow switch for unit tests of the reconciler: it decodes
 * what the reconciler sends (flow_mod, group_mod, bundle control and add,
 * barrier, flow and group dumps) with libopenvswitch, applies it to its
 * tables and queues the replies a switch would send.  Failures can be
 * injected.  The test decides when replies are delivered, so it can act
 * while a bundle is in flight. */
#ifndef FAKE_SWITCH_H
#define FAKE_SWITCH_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/ofp-errors.h"
#include "reconciler.h"

struct fake_switch;

/* Counters of what the switch received. */
struct fake_switch_stats {
    size_t bundles_opened, commits, discards, barriers;
    size_t bundle_adds;         /* Messages added to bundles. */
    size_t flow_mods, group_mods;       /* Applied (committed) ones. */
    size_t flow_dumps, group_dumps;
    size_t outside_bundle;      /* Flow or group mods sent bare. */
};

struct fake_switch *fake_switch_create(int ofp_version);
void fake_switch_destroy(struct fake_switch *);

/* The seam the reconciler talks to; 'aux' must be the fake switch. */
extern const struct reconciler_switch fake_switch_seam;

/* Installs a flow or group given as ovs-ofctl text, as if another
 * controller (or an earlier mslbd) had. */
void fake_switch_add_flow(struct fake_switch *, const char *text);
void fake_switch_add_group(struct fake_switch *, const char *text);

/* The switch restarted: empty tables, nothing in flight. */
void fake_switch_restart(struct fake_switch *);
/* The connection dropped: whatever was sent and not processed is lost,
 * queued replies too (the tables keep what was committed). */
void fake_switch_drop_connection(struct fake_switch *);

/* The next bundle commit fails with 'error' (and is discarded). */
void fake_switch_fail_next_commit(struct fake_switch *, enum ofperr error);

/* Processes every message received so far, queuing replies; returns how
 * many it processed. */
size_t fake_switch_process(struct fake_switch *);
/* Hands every queued reply to 'r' (which may send more); returns how many
 * replies it delivered. */
size_t fake_switch_deliver(struct fake_switch *, struct reconciler *r);
/* Hands the first queued reply to 'r'; returns its type, or -1 if none
 * was queued. */
int fake_switch_deliver_one(struct fake_switch *, struct reconciler *r);
/* Delivers every waiting reply; returns how many the reconciler did not
 * take as its own. */
size_t fake_switch_deliver_unclaimed(struct fake_switch *,
                                     struct reconciler *r);
/* Processes and delivers until nothing moves (bounded). */
void fake_switch_converge(struct fake_switch *, struct reconciler *r);

/* Sorted canonical text of the tables, one entry a line (malloc'd):
 *   "cookie=0x...,table=T,priority=P,MATCH actions=..." then
 *   "group_id=N,type=..." */
char *fake_switch_dump(const struct fake_switch *);
size_t fake_switch_n_flows(const struct fake_switch *);
size_t fake_switch_n_groups(const struct fake_switch *);
const struct fake_switch_stats *fake_switch_stats(const struct fake_switch *);
void fake_switch_clear_stats(struct fake_switch *);
/* Messages received and not yet processed. */
size_t fake_switch_n_pending(const struct fake_switch *);

#endif /* fake_switch.h */
