/* Flow and group sets, and the difference between what a bridge has and
 * what it should have.
 *
 * A flow's identity is (table, priority, match); its value is (actions,
 * cookie).  A group's identity is its id; its value is its type, selection
 * properties and buckets (weights and actions; not bucket ids, which OpenFlow
 * 1.3 does not carry).  Desired entries come from the compiler as binary
 * matches and ofpacts, installed ones from the switch's replies.  Both are
 * compared in their OpenFlow 1.5 wire encoding (OXM match, instructions),
 * which is what the switch itself keeps and sends back, so equal means
 * equal on the switch; no text is parsed or printed on the way. */
#ifndef MSLB_FLOWSET_H
#define MSLB_FLOWSET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mslb/model.h"

struct match;
struct ofpact;
struct ofpbuf;
struct ofputil_flow_stats;
struct ofputil_group_desc;
struct ofputil_group_mod;

struct flowset;

struct flowset *flowset_create(void);
void flowset_destroy(struct flowset *);
/* Makes the set encode every new desired flow and group as an ADD message of
 * OpenFlow 'version' when it is added, so that installing it later is a
 * copy.  (Comparisons do not depend on the version.) */
void flowset_set_version(struct flowset *, int version);
size_t flowset_n_flows(const struct flowset *);
size_t flowset_n_groups(const struct flowset *);

/* Adds a desired flow: (table_id, priority, match) -> (cookie, ofpacts).
 * Copies what it needs.  Adding an identical flow again counts it once
 * more.  Returns NULL, or a malloc'd error if the set already has the key
 * with other values (then nothing changes). */
char *flowset_add_flow(struct flowset *, uint8_t table_id, uint16_t priority,
                       const struct match *, uint64_t cookie,
                       const struct ofpact *ofpacts, size_t ofpacts_len)
    MSLB_WARN_UNUSED;

/* Adds a desired group: gm->group_id, type, props and buckets (copied; the
 * buckets' ids are ignored).  Errors as for flowset_add_flow(). */
char *flowset_add_group(struct flowset *, const struct ofputil_group_mod *)
    MSLB_WARN_UNUSED;

/* The same from ovs-ofctl text, parsed by libopenvswitch: for tests and
 * tools only (mslbd never parses flow text). */
char *flowset_add_flow_text(struct flowset *, const char *text)
    MSLB_WARN_UNUSED;
char *flowset_add_group_text(struct flowset *, const char *text)
    MSLB_WARN_UNUSED;

/* Adds an installed flow or group decoded from a switch reply. */
void flowset_add_flow_stats(struct flowset *,
                            const struct ofputil_flow_stats *);
void flowset_add_group_desc(struct flowset *,
                            const struct ofputil_group_desc *);

/* Appends every flow and group as text lines (libopenvswitch's match and
 * actions formatters) to a malloc'd, sorted, NUL-terminated string: flows
 * "cookie=C,table=T,priority=P,MATCH,actions=A", then groups
 * "group_id=N,type=select[,selection_method=..],bucket=weight:W,actions=A,..".
 * For golden tests, mslb-compile and debugging. */
char *flowset_to_string(const struct flowset *);

/* Units: a bridge's desired set is the union of small sets (one per
 * service, one for the bridge's base).  Entries several units share are
 * counted, not duplicated; merging shares the unit's immutable entry data
 * instead of copying it.  Merging and unmerging mark the keys they touch
 * dirty, so the next difference needs to look at those only.
 *
 * flowset_merge() returns NULL or an error (an entry that conflicts with
 * one already there: such entries are skipped). */
char *flowset_merge(struct flowset *, const struct flowset *unit)
    MSLB_WARN_UNUSED;
void flowset_unmerge(struct flowset *, const struct flowset *unit);
size_t flowset_n_dirty(const struct flowset *);
void flowset_clear_dirty(struct flowset *);

enum flowset_op_type {
    /* In the order a bundle must carry them. */
    FLOWSET_GROUP_ADD,
    FLOWSET_GROUP_MODIFY,
    FLOWSET_FLOW_DELETE,
    FLOWSET_FLOW_ADD,           /* New key, or a new cookie. */
    FLOWSET_FLOW_MODIFY,        /* Same key and cookie, new actions. */
    FLOWSET_GROUP_DELETE,
};

struct flowset_op {
    enum flowset_op_type type;
    const void *entry;          /* Owned by the set it came from. */
};

struct flowset_diff {
    struct flowset_op *ops;
    size_t n_ops, allocated;
    size_t counts[FLOWSET_GROUP_DELETE + 1];
};

/* Computes the ordered operations that turn 'have' into 'want'.  The
 * entries stay owned by 'have' (deletes) and 'want' (the rest); both must
 * outlive 'diff'. */
void flowset_diff(const struct flowset *have, const struct flowset *want,
                  struct flowset_diff *diff);
void flowset_diff_uninit(struct flowset_diff *);

/* Like flowset_diff(), but looks only at the keys 'want' has marked dirty
 * (the caller clears them once the switch confirmed the result). */
void flowset_diff_dirty(const struct flowset *have,
                        const struct flowset *want,
                        struct flowset_diff *diff);

/* Encodes one operation as an OpenFlow message of 'version'.  Returns NULL
 * and stores an error message in '*errorp' if it cannot be encoded. */
struct ofpbuf *flowset_op_encode(const struct flowset_op *, int version,
                                 char **errorp);
/* Formats one operation as text (for logs and tests). */
char *flowset_op_to_string(const struct flowset_op *);

/* Makes 'have' equal 'want' for the entries 'diff' touched, after the
 * switch confirmed them. */
void flowset_apply(struct flowset *have, const struct flowset_diff *diff);

#endif /* flowset.h */
