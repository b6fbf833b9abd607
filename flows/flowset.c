/* Flow sets: entries, adding, formatting; see flowset.h.  The
 * differences, units and dirty keys are in flowset_diff.c. */
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
#include "flowset-private.h"
#include "mslb/pipeline.h"

/* ---- Entry data. ---- */

struct fs_fdata *
fs_fdata_ref(struct fs_fdata *d)
{
    d->n_refs++;
    return d;
}

void
fs_fdata_unref(struct fs_fdata *d)
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

struct fs_gdata *
fs_gdata_ref(struct fs_gdata *d)
{
    d->n_refs++;
    return d;
}

void
fs_gdata_unref(struct fs_gdata *d)
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

bool
fs_fdata_same_key(const struct fs_fdata *a, const struct fs_fdata *b)
{
    return a == b || (a->hash == b->hash && a->key_len == b->key_len
                      && !memcmp(a->key, b->key, a->key_len));
}

bool
fs_fdata_same_value(const struct fs_fdata *a, const struct fs_fdata *b)
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

struct ofpbuf *
fs_fdata_encode(const struct fs_fdata *d, int command, int version)
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

bool
fs_gdata_same_value(const struct fs_gdata *a, const struct fs_gdata *b)
{
    return a == b || (a->value_len == b->value_len
                      && !memcmp(a->value, b->value, a->value_len));
}

struct ofpbuf *
fs_gdata_encode(const struct fs_gdata *d, int command, int version)
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
        fs_fdata_unref(f->d);
        free(f);
    }
    HMAP_FOR_EACH_POP (g, node, &fs->groups) {
        fs_gdata_unref(g->d);
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

struct fs_flow *
fs_find_flow(const struct flowset *fs, const struct fs_fdata *key)
{
    struct fs_flow *f;

    HMAP_FOR_EACH_WITH_HASH (f, node, key->hash, &fs->flows) {
        if (fs_fdata_same_key(f->d, key)) {
            return f;
        }
    }
    return NULL;
}

struct fs_group *
fs_find_group(const struct flowset *fs, uint32_t id)
{
    struct fs_group *g;

    HMAP_FOR_EACH_WITH_HASH (g, node, hash_int(id, 0), &fs->groups) {
        if (g->d->id == id) {
            return g;
        }
    }
    return NULL;
}

char *
fs_format_key(const struct fs_fdata *d)
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

char *
fs_format_flow(const struct fs_fdata *d)
{
    char *key = fs_format_key(d);
    char *actions = format_actions(d->ofpacts, d->ofpacts_len);
    char *s = xasprintf("cookie=%#"PRIx64",%s,actions=%s", d->cookie, key,
                        actions);
    free(key);
    free(actions);
    return s;
}

/* Adds 'd' to 'fs' (taking over the caller's reference), or counts the
 * flow once more if it is already there with the same value. */
char *
fs_add_fdata(struct flowset *fs, struct fs_fdata *d)
{
    struct fs_flow *f = fs_find_flow(fs, d);
    char *error = NULL;

    if (f) {
        if (fs_fdata_same_value(f->d, d)) {
            f->refs++;
        } else {
            char *key = fs_format_key(d);
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
        fs_fdata_unref(d);
        return error;
    }
    if (fs->version && !d->add_msg) {
        d->add_msg = fs_fdata_encode(d, OFPFC_ADD, fs->version);
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
    return fs_add_fdata(fs, fdata_create(table_id, priority, match, cookie,
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
    free(fs_add_fdata(fs, fdata_create(st->table_id, st->priority, &st->match,
                                    ntohll(st->cookie), st->ofpacts,
                                    st->ofpacts_len)));
}

char *
fs_format_group_body(const struct fs_gdata *d)
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

char *
fs_add_gdata(struct flowset *fs, struct fs_gdata *d)
{
    struct fs_group *g = fs_find_group(fs, d->id);
    char *error = NULL;

    if (g) {
        if (fs_gdata_same_value(g->d, d)) {
            g->refs++;
        } else {
            error = xasprintf("two different groups with id %"PRIu32, d->id);
        }
        fs_gdata_unref(d);
        return error;
    }
    if (fs->version && !d->add_msg) {
        d->add_msg = fs_gdata_encode(d, OFPGC11_ADD, fs->version);
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
    return fs_add_gdata(fs, gdata_create(gm->group_id, gm->type, &gm->props,
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
    free(fs_add_gdata(fs, gdata_create(gd->group_id, gd->type, &gd->props,
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
        lines[n++] = fs_format_flow(f->d);
    }
    qsort(lines, n, sizeof *lines, compare_strings);
    size_t n_flows = n;
    HMAP_FOR_EACH (g, node, &fs->groups) {
        char *body = fs_format_group_body(g->d);
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
