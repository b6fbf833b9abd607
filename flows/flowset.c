/* Flow and group sets; see flowset.h. */
#include <config.h>
#include "mslb/flowset.h"

#include <stdlib.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "bitmap.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "byte-order.h"
#include "hash.h"
#include "nx-match.h"
#include "util.h"
#include "mslb/pipeline.h"

/* Comparisons use this encoding, whatever the connection speaks: a set
 * built for OpenFlow 1.3 compares with one decoded from 1.5 replies. */
#define CMP_VERSION OFP15_VERSION

/* What a flow is, immutable once built and shared by every set holding it
 * (a unit, the bridge's desired set, the installed set). */
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

/* ---- Entry data. ---- */

static struct fs_fdata *
fdata_ref(struct fs_fdata *d)
{
    d->n_refs++;
    return d;
}

static void
fdata_unref(struct fs_fdata *d)
{
    if (d && !--d->n_refs) {
        free(d->key);
        free(d->value);
        minimatch_destroy(&d->match);
        free(d->ofpacts);
        ofpbuf_delete(d->add_msg);
        free(d);
    }
}

static struct fs_gdata *
gdata_ref(struct fs_gdata *d)
{
    d->n_refs++;
    return d;
}

static void
gdata_unref(struct fs_gdata *d)
{
    if (d && !--d->n_refs) {
        ofputil_group_properties_destroy(&d->props);
        ofputil_bucket_list_destroy(&d->buckets);
        free(d->value);
        ofpbuf_delete(d->add_msg);
        free(d);
    }
}

/* Builds a flow's data; the key and value are its wire encoding. */
static struct fs_fdata *
fdata_create(uint8_t table_id, uint16_t priority, const struct match *match,
             uint64_t cookie, const struct ofpact *ofpacts,
             size_t ofpacts_len)
{
    struct fs_fdata *d = xzalloc(sizeof *d);
    uint64_t stub[128];
    struct ofpbuf b = OFPBUF_STUB_INITIALIZER(stub);
    ovs_be16 prio = htons(priority);

    d->n_refs = 1;
    d->table_id = table_id;
    d->priority = priority;
    d->cookie = cookie;
    minimatch_init(&d->match, match);
    d->ofpacts = ofpacts_len ? xmemdup(ofpacts, ofpacts_len) : NULL;
    d->ofpacts_len = ofpacts_len;

    ofpbuf_put(&b, &table_id, 1);
    ofpbuf_put(&b, &prio, 2);
    oxm_put_match(&b, match, CMP_VERSION);
    d->key_len = b.size;
    d->key = xmemdup(b.data, b.size);
    d->hash = hash_bytes(d->key, d->key_len, 0);

    ofpbuf_clear(&b);
    ofpacts_put_openflow_instructions(ofpacts, ofpacts_len, &b, CMP_VERSION);
    d->value_len = b.size;
    d->value = b.size ? xmemdup(b.data, b.size) : NULL;
    ofpbuf_uninit(&b);
    return d;
}

static bool
fdata_same_key(const struct fs_fdata *a, const struct fs_fdata *b)
{
    return a == b || (a->hash == b->hash && a->key_len == b->key_len
                      && !memcmp(a->key, b->key, a->key_len));
}

static bool
fdata_same_value(const struct fs_fdata *a, const struct fs_fdata *b)
{
    return a == b || (a->cookie == b->cookie && a->value_len == b->value_len
                      && (!a->value_len
                          || !memcmp(a->value, b->value, a->value_len)));
}

static void
fdata_to_flow_mod(const struct fs_fdata *d, int command,
                  struct ofputil_flow_mod *fm)
{
    *fm = (struct ofputil_flow_mod) {
        .match = d->match,              /* Shallow: not destroyed. */
        .priority = d->priority,
        .table_id = d->table_id,
        .command = command,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
    };
    if (command != OFPFC_DELETE_STRICT) {
        fm->new_cookie = htonll(d->cookie);
        fm->modify_cookie = true;
        fm->ofpacts = d->ofpacts;
        fm->ofpacts_len = d->ofpacts_len;
    }
    if (command != OFPFC_ADD) {
        /* Touch only flows that carry our tag. */
        fm->cookie = htonll(MSLB_COOKIE_TAG);
        fm->cookie_mask = htonll(MSLB_COOKIE_TAG_MASK);
    }
}

static struct ofpbuf *
fdata_encode(const struct fs_fdata *d, int command, int version)
{
    struct ofputil_flow_mod fm;

    fdata_to_flow_mod(d, command, &fm);
    return ofputil_encode_flow_mod(
        &fm, ofputil_protocol_from_ofp_version(version));
}

static void
put_group_value(struct ofpbuf *b, uint8_t type,
                const struct ofputil_group_props *props,
                const struct ovs_list *buckets)
{
    char method[NTR_MAX_SELECTION_METHOD_LEN] = { 0 };
    const struct ofputil_bucket *bucket;

    ofpbuf_put(b, &type, 1);
    memcpy(method, props->selection_method,
           strnlen(props->selection_method, sizeof method - 1));
    ofpbuf_put(b, method, sizeof method);
    ofpbuf_put(b, &props->selection_method_param,
               sizeof props->selection_method_param);
    ofpbuf_put(b, &props->fields.used, sizeof props->fields.used);
    LIST_FOR_EACH (bucket, list_node, buckets) {
        size_t ofs = b->size;
        uint32_t len;

        ofpbuf_put(b, &bucket->weight, sizeof bucket->weight);
        ofpbuf_put_zeros(b, sizeof len);
        len = ofpacts_put_openflow_actions(bucket->ofpacts,
                                           bucket->ofpacts_len, b,
                                           CMP_VERSION);
        memcpy((uint8_t *) b->data + ofs + sizeof bucket->weight, &len,
               sizeof len);
    }
}

static struct fs_gdata *
gdata_create(uint32_t id, uint8_t type,
             const struct ofputil_group_props *props,
             const struct ovs_list *buckets)
{
    struct fs_gdata *d = xzalloc(sizeof *d);
    struct ofpbuf b;

    d->n_refs = 1;
    d->id = id;
    d->type = type;
    ofputil_group_properties_copy(&d->props, props);
    ovs_list_init(&d->buckets);
    ofputil_bucket_clone_list(&d->buckets, buckets, NULL);
    ofpbuf_init(&b, 4096);
    put_group_value(&b, type, props, buckets);
    d->value_len = b.size;
    d->value = ofpbuf_steal_data(&b);
    return d;
}

static bool
gdata_same_value(const struct fs_gdata *a, const struct fs_gdata *b)
{
    return a == b || (a->value_len == b->value_len
                      && !memcmp(a->value, b->value, a->value_len));
}

static struct ofpbuf *
gdata_encode(const struct fs_gdata *d, int command, int version)
{
    struct ofputil_group_mod gm;
    struct ofpbuf *msg;

    memset(&gm, 0, sizeof gm);
    gm.command = command;
    gm.type = d->type;
    gm.group_id = d->id;
    gm.command_bucket_id = OFPG15_BUCKET_ALL;
    ovs_list_init(&gm.buckets);
    if (command != OFPGC11_DELETE) {
        ofputil_group_properties_copy(&gm.props, &d->props);
        ofputil_bucket_clone_list(&gm.buckets, &d->buckets, NULL);
    }
    msg = ofputil_encode_group_mod(version, &gm, NULL, -1);
    ofputil_uninit_group_mod(&gm);
    return msg;
}

/* ---- Sets. ---- */

struct flowset *
flowset_create(void)
{
    struct flowset *fs = xmalloc(sizeof *fs);
    hmap_init(&fs->flows);
    hmap_init(&fs->groups);
    hmap_init(&fs->dirty);
    fs->version = 0;
    return fs;
}

void
flowset_set_version(struct flowset *fs, int version)
{
    fs->version = version;
}

void
flowset_destroy(struct flowset *fs)
{
    struct fs_flow *f;
    struct fs_group *g;

    if (!fs) {
        return;
    }
    HMAP_FOR_EACH_POP (f, node, &fs->flows) {
        fdata_unref(f->d);
        free(f);
    }
    HMAP_FOR_EACH_POP (g, node, &fs->groups) {
        gdata_unref(g->d);
        free(g);
    }
    flowset_clear_dirty(fs);
    hmap_destroy(&fs->flows);
    hmap_destroy(&fs->groups);
    hmap_destroy(&fs->dirty);
    free(fs);
}

size_t
flowset_n_flows(const struct flowset *fs)
{
    return hmap_count(&fs->flows);
}

size_t
flowset_n_groups(const struct flowset *fs)
{
    return hmap_count(&fs->groups);
}

static struct fs_flow *
find_flow(const struct flowset *fs, const struct fs_fdata *key)
{
    struct fs_flow *f;

    HMAP_FOR_EACH_WITH_HASH (f, node, key->hash, &fs->flows) {
        if (fdata_same_key(f->d, key)) {
            return f;
        }
    }
    return NULL;
}

static struct fs_group *
find_group(const struct flowset *fs, uint32_t id)
{
    struct fs_group *g;

    HMAP_FOR_EACH_WITH_HASH (g, node, hash_int(id, 0), &fs->groups) {
        if (g->d->id == id) {
            return g;
        }
    }
    return NULL;
}

static char *
format_key(const struct fs_fdata *d)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t len;

    ds_put_format(&s, "table=%d,priority=%d,", d->table_id, d->priority);
    len = s.length;
    /* minimatch_format() prints the priority only when not the default. */
    minimatch_format(&d->match, NULL, NULL, &s, OFP_DEFAULT_PRIORITY);
    if (s.length == len) {
        ds_chomp(&s, ',');
    }
    return ds_steal_cstr(&s);
}

static char *
format_actions(const struct ofpact *ofpacts, size_t len)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct ofpact_format_params fp = { .s = &s };

    ofpacts_format(ofpacts, len, &fp);
    return ds_steal_cstr(&s);
}

static char *
format_flow(const struct fs_fdata *d)
{
    char *key = format_key(d);
    char *actions = format_actions(d->ofpacts, d->ofpacts_len);
    char *s = xasprintf("cookie=%#"PRIx64",%s,actions=%s", d->cookie, key,
                        actions);
    free(key);
    free(actions);
    return s;
}

/* Adds 'd' to 'fs' (taking over the caller's reference), or counts the
 * flow once more if it is already there with the same value. */
static char *
add_fdata(struct flowset *fs, struct fs_fdata *d)
{
    struct fs_flow *f = find_flow(fs, d);
    char *error = NULL;

    if (f) {
        if (fdata_same_value(f->d, d)) {
            f->refs++;
        } else {
            char *key = format_key(d);
            char *a = format_actions(f->d->ofpacts, f->d->ofpacts_len);
            char *b = format_actions(d->ofpacts, d->ofpacts_len);
            error = xasprintf("two flows with the same match: \"%s\" has "
                              "actions \"%s\" (cookie %#"PRIx64") and \"%s\" "
                              "(cookie %#"PRIx64")", key, a, f->d->cookie, b,
                              d->cookie);
            free(key);
            free(a);
            free(b);
        }
        fdata_unref(d);
        return error;
    }
    if (fs->version && !d->add_msg) {
        d->add_msg = fdata_encode(d, OFPFC_ADD, fs->version);
    }
    f = xmalloc(sizeof *f);
    f->d = d;
    f->refs = 1;
    hmap_insert(&fs->flows, &f->node, d->hash);
    return NULL;
}

char *
flowset_add_flow(struct flowset *fs, uint8_t table_id, uint16_t priority,
                 const struct match *match, uint64_t cookie,
                 const struct ofpact *ofpacts, size_t ofpacts_len)
{
    return add_fdata(fs, fdata_create(table_id, priority, match, cookie,
                                      ofpacts, ofpacts_len));
}

char *
flowset_add_flow_text(struct flowset *fs, const char *text)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    struct match match;
    char *error;

    error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, OFPFC_ADD,
                                   &usable);
    if (error) {
        char *msg = xasprintf("%s: %s", text, error);
        free(error);
        return msg;
    }
    minimatch_expand(&fm.match, &match);
    error = flowset_add_flow(fs, fm.table_id, fm.priority, &match,
                             ntohll(fm.new_cookie), fm.ofpacts,
                             fm.ofpacts_len);
    minimatch_destroy(&fm.match);
    free(fm.ofpacts);
    return error;
}

void
flowset_add_flow_stats(struct flowset *fs,
                       const struct ofputil_flow_stats *st)
{
    /* A switch cannot hold duplicates. */
    free(add_fdata(fs, fdata_create(st->table_id, st->priority, &st->match,
                                    ntohll(st->cookie), st->ofpacts,
                                    st->ofpacts_len)));
}

static char *
format_group_body(const struct fs_gdata *d)
{
    static const char *const types[] = { "all", "select", "indirect",
                                         "ff" };
    const struct ofputil_group_props *props = &d->props;
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct ofputil_bucket *b;

    ds_put_format(&s, "type=%s", d->type < 4 ? types[d->type] : "?");
    if (props->selection_method[0]) {
        ds_put_format(&s, ",selection_method=%s", props->selection_method);
        if (props->selection_method_param) {
            ds_put_format(&s, ",selection_method_param=%"PRIu64,
                          props->selection_method_param);
        }
        if (!bitmap_is_all_zeros(props->fields.used.bm, MFF_N_IDS)) {
            const char *sep = "";
            size_t i;

            ds_put_cstr(&s, ",fields(");
            BITMAP_FOR_EACH_1 (i, MFF_N_IDS, props->fields.used.bm) {
                ds_put_format(&s, "%s%s", sep, mf_from_id(i)->name);
                sep = ",";
            }
            ds_put_char(&s, ')');
        }
    }
    LIST_FOR_EACH (b, list_node, &d->buckets) {
        struct ofpact_format_params fp = { .s = &s };

        ds_put_cstr(&s, ",bucket=");
        if (d->type == OFPGT11_SELECT) {
            ds_put_format(&s, "weight:%"PRIu16",", b->weight);
        }
        ds_put_cstr(&s, "actions=");
        ofpacts_format(b->ofpacts, b->ofpacts_len, &fp);
    }
    return ds_steal_cstr(&s);
}

static char *
add_gdata(struct flowset *fs, struct fs_gdata *d)
{
    struct fs_group *g = find_group(fs, d->id);
    char *error = NULL;

    if (g) {
        if (gdata_same_value(g->d, d)) {
            g->refs++;
        } else {
            error = xasprintf("two different groups with id %"PRIu32, d->id);
        }
        gdata_unref(d);
        return error;
    }
    if (fs->version && !d->add_msg) {
        d->add_msg = gdata_encode(d, OFPGC11_ADD, fs->version);
    }
    g = xmalloc(sizeof *g);
    g->d = d;
    g->refs = 1;
    hmap_insert(&fs->groups, &g->node, hash_int(d->id, 0));
    return NULL;
}

char *
flowset_add_group(struct flowset *fs, const struct ofputil_group_mod *gm)
{
    return add_gdata(fs, gdata_create(gm->group_id, gm->type, &gm->props,
                                      &gm->buckets));
}

char *
flowset_add_group_text(struct flowset *fs, const char *text)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error;

    error = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, text, NULL, NULL,
                                    &usable);
    if (error) {
        char *msg = xasprintf("%s: %s", text, error);
        free(error);
        return msg;
    }
    error = flowset_add_group(fs, &gm);
    ofputil_uninit_group_mod(&gm);
    return error;
}

void
flowset_add_group_desc(struct flowset *fs,
                       const struct ofputil_group_desc *gd)
{
    free(add_gdata(fs, gdata_create(gd->group_id, gd->type, &gd->props,
                                    &gd->buckets)));
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

char *
flowset_to_string(const struct flowset *fs)
{
    size_t n = 0, total = hmap_count(&fs->flows) + hmap_count(&fs->groups);
    char **lines = xmalloc((total + 1) * sizeof *lines);
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct fs_flow *f;
    const struct fs_group *g;

    HMAP_FOR_EACH (f, node, &fs->flows) {
        lines[n++] = format_flow(f->d);
    }
    qsort(lines, n, sizeof *lines, compare_strings);
    size_t n_flows = n;
    HMAP_FOR_EACH (g, node, &fs->groups) {
        char *body = format_group_body(g->d);
        lines[n++] = xasprintf("group_id=%"PRIu32",%s", g->d->id, body);
        free(body);
    }
    qsort(lines + n_flows, n - n_flows, sizeof *lines, compare_strings);
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&s, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return ds_steal_cstr(&s);
}

/* ---- Differences. ---- */

static void
push_op(struct flowset_diff *diff, enum flowset_op_type type,
        const void *entry)
{
    if (diff->n_ops >= diff->allocated) {
        diff->ops = x2nrealloc(diff->ops, &diff->allocated,
                               sizeof *diff->ops);
    }
    diff->ops[diff->n_ops++] = (struct flowset_op) { type, entry };
    diff->counts[type]++;
}

static int
compare_ops(const void *a_, const void *b_)
{
    const struct flowset_op *a = a_, *b = b_;
    return (a->type > b->type) - (a->type < b->type);
}

/* The operation (if any) that turns 'old' into 'new' (either may be NULL). */
static void
diff_flow(const struct fs_flow *old, const struct fs_flow *new,
          struct flowset_diff *diff)
{
    if (!new) {
        if (old) {
            push_op(diff, FLOWSET_FLOW_DELETE, old);
        }
    } else if (!old || old->d->cookie != new->d->cookie) {
        push_op(diff, FLOWSET_FLOW_ADD, new);
    } else if (!fdata_same_value(old->d, new->d)) {
        push_op(diff, FLOWSET_FLOW_MODIFY, new);
    }
}

static void
diff_group(const struct fs_group *old, const struct fs_group *new,
           struct flowset_diff *diff)
{
    if (!new) {
        if (old) {
            push_op(diff, FLOWSET_GROUP_DELETE, old);
        }
    } else if (!old) {
        push_op(diff, FLOWSET_GROUP_ADD, new);
    } else if (!gdata_same_value(old->d, new->d)) {
        push_op(diff, FLOWSET_GROUP_MODIFY, new);
    }
}

void
flowset_diff(const struct flowset *have, const struct flowset *want,
             struct flowset_diff *diff)
{
    const struct fs_flow *f;
    const struct fs_group *g;

    memset(diff, 0, sizeof *diff);
    HMAP_FOR_EACH (g, node, &want->groups) {
        diff_group(find_group(have, g->d->id), g, diff);
    }
    HMAP_FOR_EACH (g, node, &have->groups) {
        if (!find_group(want, g->d->id)) {
            push_op(diff, FLOWSET_GROUP_DELETE, g);
        }
    }
    HMAP_FOR_EACH (f, node, &have->flows) {
        if (!find_flow(want, f->d)) {
            push_op(diff, FLOWSET_FLOW_DELETE, f);
        }
    }
    HMAP_FOR_EACH (f, node, &want->flows) {
        diff_flow(find_flow(have, f->d), f, diff);
    }
    /* qsort is not stable, but within a type the order does not matter. */
    qsort(diff->ops, diff->n_ops, sizeof *diff->ops, compare_ops);
}

void
flowset_diff_uninit(struct flowset_diff *diff)
{
    free(diff->ops);
    memset(diff, 0, sizeof *diff);
}

static bool
op_is_group(enum flowset_op_type type)
{
    return type == FLOWSET_GROUP_ADD || type == FLOWSET_GROUP_MODIFY
           || type == FLOWSET_GROUP_DELETE;
}

char *
flowset_op_to_string(const struct flowset_op *op)
{
    static const char *const names[] = {
        "add-group", "mod-group", "del-flow", "add-flow", "mod-flow",
        "del-group"
    };
    char *body, *s;

    if (op_is_group(op->type)) {
        const struct fs_group *g = op->entry;
        if (op->type == FLOWSET_GROUP_DELETE) {
            return xasprintf("%s group_id=%"PRIu32, names[op->type],
                             g->d->id);
        }
        body = format_group_body(g->d);
        s = xasprintf("%s group_id=%"PRIu32",%s", names[op->type], g->d->id,
                      body);
    } else {
        const struct fs_flow *f = op->entry;
        body = (op->type == FLOWSET_FLOW_DELETE ? format_key(f->d)
                : format_flow(f->d));
        s = xasprintf("%s %s", names[op->type], body);
    }
    free(body);
    return s;
}

struct ofpbuf *
flowset_op_encode(const struct flowset_op *op, int version, char **errorp)
{
    const struct ofpbuf *ready = NULL;

    *errorp = NULL;
    if (op_is_group(op->type)) {
        const struct fs_gdata *d = ((const struct fs_group *) op->entry)->d;
        if (op->type == FLOWSET_GROUP_ADD) {
            ready = d->add_msg;
        }
        if (ready && version == ((struct ofp_header *) ready->data)->version) {
            return ofpbuf_clone(ready);
        }
        return gdata_encode(d, (op->type == FLOWSET_GROUP_ADD ? OFPGC11_ADD
                                : op->type == FLOWSET_GROUP_MODIFY
                                ? OFPGC11_MODIFY : OFPGC11_DELETE), version);
    } else {
        const struct fs_fdata *d = ((const struct fs_flow *) op->entry)->d;
        if (op->type == FLOWSET_FLOW_ADD) {
            ready = d->add_msg;
        }
        if (ready && version == ((struct ofp_header *) ready->data)->version) {
            return ofpbuf_clone(ready);
        }
        return fdata_encode(d, (op->type == FLOWSET_FLOW_ADD ? OFPFC_ADD
                                : op->type == FLOWSET_FLOW_MODIFY
                                ? OFPFC_MODIFY_STRICT : OFPFC_DELETE_STRICT),
                            version);
    }
}

void
flowset_apply(struct flowset *have, const struct flowset_diff *diff)
{
    for (size_t i = 0; i < diff->n_ops; i++) {
        const struct flowset_op *op = &diff->ops[i];

        if (op_is_group(op->type)) {
            struct fs_gdata *d = ((const struct fs_group *) op->entry)->d;
            struct fs_group *old = find_group(have, d->id);

            /* For a delete, 'op->entry' is 'old' itself: keep 'd' alive. */
            gdata_ref(d);
            if (old) {
                hmap_remove(&have->groups, &old->node);
                gdata_unref(old->d);
                free(old);
            }
            if (op->type != FLOWSET_GROUP_DELETE) {
                free(add_gdata(have, gdata_ref(d)));
            }
            gdata_unref(d);
        } else {
            struct fs_fdata *d = ((const struct fs_flow *) op->entry)->d;
            struct fs_flow *old = find_flow(have, d);

            fdata_ref(d);
            if (old) {
                hmap_remove(&have->flows, &old->node);
                fdata_unref(old->d);
                free(old);
            }
            if (op->type != FLOWSET_FLOW_DELETE) {
                free(add_fdata(have, fdata_ref(d)));
            }
            fdata_unref(d);
        }
    }
}

/* ---- Units and dirty keys. ---- */

static void
mark_dirty(struct flowset *fs, struct fs_fdata *flow, uint32_t group_id)
{
    uint32_t hash = flow ? flow->hash : hash_int(group_id, 1);
    struct fs_dirty *d;

    HMAP_FOR_EACH_WITH_HASH (d, node, hash, &fs->dirty) {
        if (flow ? d->flow && fdata_same_key(d->flow, flow)
            : !d->flow && d->group_id == group_id) {
            return;
        }
    }
    d = xmalloc(sizeof *d);
    d->flow = flow ? fdata_ref(flow) : NULL;
    d->group_id = group_id;
    hmap_insert(&fs->dirty, &d->node, hash);
}

void
flowset_clear_dirty(struct flowset *fs)
{
    struct fs_dirty *d;

    HMAP_FOR_EACH_POP (d, node, &fs->dirty) {
        fdata_unref(d->flow);
        free(d);
    }
}

size_t
flowset_n_dirty(const struct flowset *fs)
{
    return hmap_count(&fs->dirty);
}

static void
keep_first(char **error, char *e)
{
    if (!*error) {
        *error = e;
    } else {
        free(e);
    }
}

char *
flowset_merge(struct flowset *fs, const struct flowset *unit)
{
    const struct fs_flow *f;
    const struct fs_group *g;
    char *error = NULL;

    HMAP_FOR_EACH (f, node, &unit->flows) {
        char *e = add_fdata(fs, fdata_ref(f->d));
        if (e) {
            keep_first(&error, e);
        } else {
            mark_dirty(fs, f->d, 0);
        }
    }
    HMAP_FOR_EACH (g, node, &unit->groups) {
        char *e = add_gdata(fs, gdata_ref(g->d));
        if (e) {
            keep_first(&error, e);
        } else {
            mark_dirty(fs, NULL, g->d->id);
        }
    }
    return error;
}

void
flowset_unmerge(struct flowset *fs, const struct flowset *unit)
{
    const struct fs_flow *f;
    const struct fs_group *g;

    HMAP_FOR_EACH (f, node, &unit->flows) {
        struct fs_flow *mine = find_flow(fs, f->d);
        if (mine && fdata_same_value(mine->d, f->d)) {
            mark_dirty(fs, f->d, 0);
            if (!--mine->refs) {
                hmap_remove(&fs->flows, &mine->node);
                fdata_unref(mine->d);
                free(mine);
            }
        }
    }
    HMAP_FOR_EACH (g, node, &unit->groups) {
        struct fs_group *mine = find_group(fs, g->d->id);
        if (mine && gdata_same_value(mine->d, g->d)) {
            mark_dirty(fs, NULL, g->d->id);
            if (!--mine->refs) {
                hmap_remove(&fs->groups, &mine->node);
                gdata_unref(mine->d);
                free(mine);
            }
        }
    }
}

void
flowset_diff_dirty(const struct flowset *have, const struct flowset *want,
                   struct flowset_diff *diff)
{
    const struct fs_dirty *d;

    memset(diff, 0, sizeof *diff);
    HMAP_FOR_EACH (d, node, &want->dirty) {
        if (d->flow) {
            diff_flow(find_flow(have, d->flow), find_flow(want, d->flow),
                      diff);
        } else {
            diff_group(find_group(have, d->group_id),
                       find_group(want, d->group_id), diff);
        }
    }
    qsort(diff->ops, diff->n_ops, sizeof *diff->ops, compare_ops);
}
