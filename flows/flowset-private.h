/* Internals shared by flows/flowset.c (entries, sets, formatting) and
 * flows/flowset_diff.c (differences, units, dirty keys).  Not a public
 * header: include/mslb/flowset.h is the module's interface. */
#ifndef MSLB_FLOWSET_PRIVATE_H
#define MSLB_FLOWSET_PRIVATE_H 1

#include "mslb/flowset.h"

#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-group.h"

/* Comparisons use this encoding, whatever the connection speaks: a set
 * built for OpenFlow 1.3 compares with one decoded from 1.5 replies. */
#define CMP_VERSION OFP15_VERSION

/* What a flow is, immutable once built (but for 'add_msg', a cache dropped
 * once the switch confirmed the ADD) and shared by every set holding it (a
 * unit, the bridge's desired set, the installed set). */
struct fs_fdata {
    unsigned int n_refs;
    uint32_t hash;              /* Of 'key'. */
    uint8_t *key;               /* Table, priority, OXM match. */
    size_t key_len;
    uint8_t *value;             /* OpenFlow 1.5 instructions. */
    size_t value_len;
    uint64_t cookie;
    uint8_t table_id;
    uint16_t priority;
    struct minimatch match;
    struct ofpact *ofpacts;
    size_t ofpacts_len;
    struct ofpbuf *add_msg;     /* Encoded OFPFC_ADD, or NULL. */
};

struct fs_flow {
    struct hmap_node node;      /* In flowset's 'flows', by data's hash. */
    struct fs_fdata *d;
    unsigned int refs;          /* How many units contributed it. */
};

struct fs_gdata {
    unsigned int n_refs;
    uint32_t id;
    uint8_t type;
    struct ofputil_group_props props;
    struct ovs_list buckets;    /* Of struct ofputil_bucket. */
    uint8_t *value;             /* Type, props, weights and actions. */
    size_t value_len;
    struct ofpbuf *add_msg;     /* Encoded OFPGC11_ADD, or NULL. */
};

struct fs_group {
    struct hmap_node node;      /* In flowset's 'groups', by id. */
    struct fs_gdata *d;
    unsigned int refs;
};

/* A key touched since the last difference was taken. */
struct fs_dirty {
    struct hmap_node node;
    struct fs_fdata *flow;      /* A flow's data (for its key), or NULL... */
    uint32_t group_id;          /* ...for a group. */
};

struct flowset {
    struct hmap flows;
    struct hmap groups;
    int version;                /* Encode ADDs when adding, if nonzero. */
    struct hmap dirty;          /* fs_dirty, filled by merge and unmerge. */
};

struct fs_fdata *fs_fdata_ref(struct fs_fdata *);
void fs_fdata_unref(struct fs_fdata *);
struct fs_gdata *fs_gdata_ref(struct fs_gdata *);
void fs_gdata_unref(struct fs_gdata *);
bool fs_fdata_same_key(const struct fs_fdata *, const struct fs_fdata *);
bool fs_fdata_same_value(const struct fs_fdata *, const struct fs_fdata *);
bool fs_gdata_same_value(const struct fs_gdata *, const struct fs_gdata *);

/* Encode a flow_mod or group_mod 'command' (OFPFC_*, OFPGC11_*). */
struct ofpbuf *fs_fdata_encode(const struct fs_fdata *, int command,
                               int version);
struct ofpbuf *fs_gdata_encode(const struct fs_gdata *, int command,
                               int version);

struct fs_flow *fs_find_flow(const struct flowset *, const struct fs_fdata *);
struct fs_group *fs_find_group(const struct flowset *, uint32_t id);

/* Add an entry (taking over the caller's reference to its data), or count
 * it once more; an error if the key is there with another value. */
char *fs_add_fdata(struct flowset *, struct fs_fdata *) MSLB_WARN_UNUSED;
char *fs_add_gdata(struct flowset *, struct fs_gdata *) MSLB_WARN_UNUSED;

/* Malloc'd text: "table=T,priority=P,MATCH"; the whole flow with cookie
 * and actions; a group's "type=..,bucket=..". */
char *fs_format_key(const struct fs_fdata *);
char *fs_format_flow(const struct fs_fdata *);
char *fs_format_group_body(const struct fs_gdata *);

#endif /* flowset-private.h */
