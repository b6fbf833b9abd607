/* Canonical flow and group sets; see flowset.h. */
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
#include "util.h"
#include "mslb/pipeline.h"

struct fs_flow {
    struct hmap_node node;      /* In flowset's 'flows', by hash of key. */
    char *key;                  /* "table=T,priority=P,MATCH" */
    char *actions;              /* Canonical actions. */
    uint64_t cookie;
    struct ofpbuf *add_msg;     /* Encoded OFPFC_ADD, or NULL. */
    unsigned int refs;          /* How many units contributed it. */
};

struct fs_group {
    struct hmap_node node;      /* In flowset's 'groups', by id. */
    uint32_t id;
    char *body;                 /* "type=select,bucket=...,bucket=..." */
    struct ofpbuf *add_msg;     /* Encoded OFPGC11_ADD, or NULL. */
    unsigned int refs;
};

/* A key touched since the last difference was taken. */
struct fs_dirty {
    struct hmap_node node;
    char *key;                  /* Flow key, or NULL for a group. */
    uint32_t group_id;
};

struct flowset {
    struct hmap flows;
    struct hmap groups;
    int version;                /* Encode ADDs while parsing, if nonzero. */
    struct hmap dirty;          /* fs_dirty, filled by merge and unmerge. */
};

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

static void
fs_flow_free(struct fs_flow *f)
{
    ofpbuf_delete(f->add_msg);
    free(f->key);
    free(f->actions);
    free(f);
}

static void
fs_group_free(struct fs_group *g)
{
    ofpbuf_delete(g->add_msg);
    free(g->body);
    free(g);
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
        fs_flow_free(f);
    }
    HMAP_FOR_EACH_POP (g, node, &fs->groups) {
        fs_group_free(g);
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

void flowset_clear_dirty(struct flowset *);

static struct fs_flow *
find_flow(const struct flowset *fs, const char *key, uint32_t hash)
{
    struct fs_flow *f;

    HMAP_FOR_EACH_WITH_HASH (f, node, hash, &fs->flows) {
        if (!strcmp(f->key, key)) {
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
        if (g->id == id) {
            return g;
        }
    }
    return NULL;
}

static char *
format_key(int table, const struct minimatch *match, int priority)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "table=%d,priority=%d", table, priority);
    /* minimatch_format() prints the priority only when not the default. */
    struct ds m = DS_EMPTY_INITIALIZER;
    minimatch_format(match, NULL, NULL, &m, OFP_DEFAULT_PRIORITY);
    if (m.length) {
        ds_put_format(&s, ",%s", ds_cstr(&m));
    }
    ds_destroy(&m);
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

/* Adds a flow; takes ownership of 'key', 'actions' and 'msg'. */
static char *
add_flow(struct flowset *fs, char *key, char *actions, uint64_t cookie,
         struct ofpbuf *msg)
{
    uint32_t hash = hash_string(key, 0);
    struct fs_flow *f = find_flow(fs, key, hash);

    if (f) {
        char *error = NULL;
        f->refs++;
        if (strcmp(f->actions, actions) || f->cookie != cookie) {
            f->refs--;
            error = xasprintf("two flows with the same match: \"%s\" has "
                              "actions \"%s\" and \"%s\"", key, f->actions,
                              actions);
        }
        free(key);
        free(actions);
        ofpbuf_delete(msg);
        return error;
    }
    f = xmalloc(sizeof *f);
    f->key = key;
    f->actions = actions;
    f->cookie = cookie;
    f->add_msg = msg;
    f->refs = 1;
    hmap_insert(&fs->flows, &f->node, hash);
    return NULL;
}

char *
flowset_add_flow_text(struct flowset *fs, const char *text)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error;

    error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, OFPFC_ADD,
                                   &usable);
    if (error) {
        char *msg = xasprintf("%s: %s", text, error);
        free(error);
        return msg;
    }
    error = add_flow(fs, format_key(fm.table_id, &fm.match, fm.priority),
                     format_actions(fm.ofpacts, fm.ofpacts_len),
                     ntohll(fm.new_cookie),
                     fs->version ? ofputil_encode_flow_mod(
                         &fm, ofputil_protocol_from_ofp_version(fs->version))
                     : NULL);
    minimatch_destroy(&fm.match);
    free(fm.ofpacts);
    return error;
}

void
flowset_add_flow_stats(struct flowset *fs,
                       const struct ofputil_flow_stats *st)
{
    struct minimatch mm;
    char *error;

    minimatch_init(&mm, &st->match);
    error = add_flow(fs, format_key(st->table_id, &mm, st->priority),
                     format_actions(st->ofpacts, st->ofpacts_len),
                     ntohll(st->cookie), NULL);
    minimatch_destroy(&mm);
    free(error);                /* A switch cannot hold duplicates. */
}

static char *
format_group_body(uint8_t type, const struct ofputil_group_props *props,
                  const struct ovs_list *buckets)
{
    static const char *const types[] = { "all", "select", "indirect",
                                         "ff" };
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct ofputil_bucket *b;

    ds_put_format(&s, "type=%s", type < 4 ? types[type] : "?");
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
    LIST_FOR_EACH (b, list_node, buckets) {
        struct ofpact_format_params fp = { .s = &s };

        ds_put_cstr(&s, ",bucket=");
        if (type == OFPGT11_SELECT) {
            ds_put_format(&s, "weight:%"PRIu16",", b->weight);
        }
        ds_put_cstr(&s, "actions=");
        ofpacts_format(b->ofpacts, b->ofpacts_len, &fp);
    }
    return ds_steal_cstr(&s);
}

static char *
add_group(struct flowset *fs, uint32_t id, char *body, struct ofpbuf *msg)
{
    struct fs_group *g = find_group(fs, id);

    if (g) {
        char *error = strcmp(g->body, body)
            ? xasprintf("two different groups with id %"PRIu32, id) : NULL;
        if (!error) {
            g->refs++;
        }
        free(body);
        ofpbuf_delete(msg);
        return error;
    }
    g = xmalloc(sizeof *g);
    g->id = id;
    g->body = body;
    g->add_msg = msg;
    g->refs = 1;
    hmap_insert(&fs->groups, &g->node, hash_int(id, 0));
    return NULL;
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
    error = add_group(fs, gm.group_id,
                      format_group_body(gm.type, &gm.props, &gm.buckets),
                      fs->version ? ofputil_encode_group_mod(fs->version, &gm,
                                                             NULL, -1)
                      : NULL);
    ofputil_uninit_group_mod(&gm);
    return error;
}

void
flowset_add_group_desc(struct flowset *fs,
                       const struct ofputil_group_desc *gd)
{
    free(add_group(fs, gd->group_id,
                   format_group_body(gd->type, &gd->props, &gd->buckets),
                   NULL));
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
        lines[n++] = xasprintf("cookie=%#"PRIx64",%s,actions=%s", f->cookie,
                               f->key, f->actions);
    }
    qsort(lines, n, sizeof *lines, compare_strings);
    size_t n_flows = n;
    HMAP_FOR_EACH (g, node, &fs->groups) {
        lines[n++] = xasprintf("group_id=%"PRIu32",%s", g->id, g->body);
    }
    qsort(lines + n_flows, n - n_flows, sizeof *lines, compare_strings);
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&s, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return ds_steal_cstr(&s);
}

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

void
flowset_diff(const struct flowset *have, const struct flowset *want,
             struct flowset_diff *diff)
{
    const struct fs_flow *f;
    const struct fs_group *g;

    memset(diff, 0, sizeof *diff);
    HMAP_FOR_EACH (g, node, &want->groups) {
        const struct fs_group *old = find_group(have, g->id);
        if (!old) {
            push_op(diff, FLOWSET_GROUP_ADD, g);
        } else if (strcmp(old->body, g->body)) {
            push_op(diff, FLOWSET_GROUP_MODIFY, g);
        }
    }
    HMAP_FOR_EACH (g, node, &have->groups) {
        if (!find_group(want, g->id)) {
            push_op(diff, FLOWSET_GROUP_DELETE, g);
        }
    }
    HMAP_FOR_EACH (f, node, &have->flows) {
        if (!find_flow(want, f->key, f->node.hash)) {
            push_op(diff, FLOWSET_FLOW_DELETE, f);
        }
    }
    HMAP_FOR_EACH (f, node, &want->flows) {
        const struct fs_flow *old = find_flow(have, f->key, f->node.hash);
        if (!old || old->cookie != f->cookie) {
            push_op(diff, FLOWSET_FLOW_ADD, f);
        } else if (strcmp(old->actions, f->actions)) {
            push_op(diff, FLOWSET_FLOW_MODIFY, f);
        }
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

    if (op_is_group(op->type)) {
        const struct fs_group *g = op->entry;
        return xasprintf("%s group_id=%"PRIu32"%s%s", names[op->type], g->id,
                         op->type == FLOWSET_GROUP_DELETE ? "" : ",",
                         op->type == FLOWSET_GROUP_DELETE ? "" : g->body);
    } else {
        const struct fs_flow *f = op->entry;
        if (op->type == FLOWSET_FLOW_DELETE) {
            return xasprintf("%s %s", names[op->type], f->key);
        }
        return xasprintf("%s cookie=%#"PRIx64",%s,actions=%s",
                         names[op->type], f->cookie, f->key, f->actions);
    }
}

struct ofpbuf *
flowset_op_encode(const struct flowset_op *op, int version, char **errorp)
{
    enum ofputil_protocol proto = ofputil_protocol_from_ofp_version(version);
    enum ofputil_protocol usable;
    struct ofpbuf *msg = NULL;
    char *text, *error;

    *errorp = NULL;
    if (op->type == FLOWSET_FLOW_ADD) {
        const struct fs_flow *f = op->entry;
        if (f->add_msg && version == ((struct ofp_header *)
                                      f->add_msg->data)->version) {
            return ofpbuf_clone(f->add_msg);
        }
    } else if (op->type == FLOWSET_GROUP_ADD) {
        const struct fs_group *g = op->entry;
        if (g->add_msg && version == ((struct ofp_header *)
                                      g->add_msg->data)->version) {
            return ofpbuf_clone(g->add_msg);
        }
    }
    if (op_is_group(op->type)) {
        const struct fs_group *g = op->entry;
        struct ofputil_group_mod gm;
        int command = (op->type == FLOWSET_GROUP_ADD ? OFPGC11_ADD
                       : op->type == FLOWSET_GROUP_MODIFY ? OFPGC11_MODIFY
                       : OFPGC11_DELETE);

        text = (command == OFPGC11_DELETE
                ? xasprintf("group_id=%"PRIu32, g->id)
                : xasprintf("group_id=%"PRIu32",%s", g->id, g->body));
        error = parse_ofp_group_mod_str(&gm, command, text, NULL, NULL,
                                        &usable);
        if (!error) {
            msg = ofputil_encode_group_mod(version, &gm, NULL, -1);
            ofputil_uninit_group_mod(&gm);
        }
    } else {
        const struct fs_flow *f = op->entry;
        struct ofputil_flow_mod fm;
        int command = (op->type == FLOWSET_FLOW_ADD ? OFPFC_ADD
                       : op->type == FLOWSET_FLOW_MODIFY
                       ? OFPFC_MODIFY_STRICT : OFPFC_DELETE_STRICT);

        text = (command == OFPFC_DELETE_STRICT
                ? xstrdup(f->key)
                : xasprintf("cookie=%#"PRIx64",%s,actions=%s", f->cookie,
                            f->key, f->actions));
        error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, command,
                                       &usable);
        if (!error) {
            if (command != OFPFC_ADD) {
                /* Touch only flows that carry our tag. */
                fm.cookie = htonll(MSLB_COOKIE_TAG);
                fm.cookie_mask = htonll(MSLB_COOKIE_TAG_MASK);
            }
            msg = ofputil_encode_flow_mod(&fm, proto);
            minimatch_destroy(&fm.match);
            free(fm.ofpacts);
        }
    }
    if (error) {
        *errorp = xasprintf("%s: %s", text, error);
        free(error);
    }
    free(text);
    return msg;
}

void
flowset_apply(struct flowset *have, const struct flowset_diff *diff)
{
    for (size_t i = 0; i < diff->n_ops; i++) {
        const struct flowset_op *op = &diff->ops[i];

        if (op_is_group(op->type)) {
            const struct fs_group *g = op->entry;
            struct fs_group *old = find_group(have, g->id);

            if (old) {
                hmap_remove(&have->groups, &old->node);
                /* For a delete, 'g' is 'old' itself: do not use it after. */
                fs_group_free(old);
            }
            if (op->type != FLOWSET_GROUP_DELETE) {
                free(add_group(have, g->id, xstrdup(g->body), NULL));
            }
        } else {
            const struct fs_flow *f = op->entry;
            struct fs_flow *old = find_flow(have, f->key, f->node.hash);

            if (old) {
                hmap_remove(&have->flows, &old->node);
                fs_flow_free(old);
            }
            if (op->type != FLOWSET_FLOW_DELETE) {
                free(add_flow(have, xstrdup(f->key), xstrdup(f->actions),
                              f->cookie, NULL));
            }
        }
    }
}

static void
mark_dirty(struct flowset *fs, const char *key, uint32_t group_id)
{
    uint32_t hash = key ? hash_string(key, 0) : hash_int(group_id, 1);
    struct fs_dirty *d;

    HMAP_FOR_EACH_WITH_HASH (d, node, hash, &fs->dirty) {
        if (key ? d->key && !strcmp(d->key, key)
            : !d->key && d->group_id == group_id) {
            return;
        }
    }
    d = xmalloc(sizeof *d);
    d->key = key ? xstrdup(key) : NULL;
    d->group_id = group_id;
    hmap_insert(&fs->dirty, &d->node, hash);
}

void
flowset_clear_dirty(struct flowset *fs)
{
    struct fs_dirty *d;

    HMAP_FOR_EACH_POP (d, node, &fs->dirty) {
        free(d->key);
        free(d);
    }
}

size_t
flowset_n_dirty(const struct flowset *fs)
{
    return hmap_count(&fs->dirty);
}

static struct ofpbuf *
clone_or_null(const struct ofpbuf *b)
{
    return b ? ofpbuf_clone(b) : NULL;
}

char *
flowset_merge(struct flowset *fs, const struct flowset *unit)
{
    const struct fs_flow *f;
    const struct fs_group *g;
    char *error = NULL;

    HMAP_FOR_EACH (f, node, &unit->flows) {
        char *e = add_flow(fs, xstrdup(f->key), xstrdup(f->actions),
                           f->cookie, clone_or_null(f->add_msg));
        if (e) {
            if (!error) {
                error = e;
            } else {
                free(e);
            }
            continue;
        }
        mark_dirty(fs, f->key, 0);
    }
    HMAP_FOR_EACH (g, node, &unit->groups) {
        char *e = add_group(fs, g->id, xstrdup(g->body),
                            clone_or_null(g->add_msg));
        if (e) {
            if (!error) {
                error = e;
            } else {
                free(e);
            }
            continue;
        }
        mark_dirty(fs, NULL, g->id);
    }
    return error;
}

void
flowset_unmerge(struct flowset *fs, const struct flowset *unit)
{
    const struct fs_flow *f;
    const struct fs_group *g;

    HMAP_FOR_EACH (f, node, &unit->flows) {
        struct fs_flow *mine = find_flow(fs, f->key, f->node.hash);
        if (mine && !strcmp(mine->actions, f->actions)
            && mine->cookie == f->cookie) {
            mark_dirty(fs, f->key, 0);
            if (!--mine->refs) {
                hmap_remove(&fs->flows, &mine->node);
                fs_flow_free(mine);
            }
        }
    }
    HMAP_FOR_EACH (g, node, &unit->groups) {
        struct fs_group *mine = find_group(fs, g->id);
        if (mine && !strcmp(mine->body, g->body)) {
            mark_dirty(fs, NULL, g->id);
            if (!--mine->refs) {
                hmap_remove(&fs->groups, &mine->node);
                fs_group_free(mine);
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
        if (d->key) {
            uint32_t hash = hash_string(d->key, 0);
            const struct fs_flow *old = find_flow(have, d->key, hash);
            const struct fs_flow *new = find_flow(want, d->key, hash);

            if (!new && old) {
                push_op(diff, FLOWSET_FLOW_DELETE, old);
            } else if (new && (!old || old->cookie != new->cookie)) {
                push_op(diff, FLOWSET_FLOW_ADD, new);
            } else if (new && strcmp(old->actions, new->actions)) {
                push_op(diff, FLOWSET_FLOW_MODIFY, new);
            }
        } else {
            const struct fs_group *old = find_group(have, d->group_id);
            const struct fs_group *new = find_group(want, d->group_id);

            if (!new && old) {
                push_op(diff, FLOWSET_GROUP_DELETE, old);
            } else if (new && !old) {
                push_op(diff, FLOWSET_GROUP_ADD, new);
            } else if (new && strcmp(old->body, new->body)) {
                push_op(diff, FLOWSET_GROUP_MODIFY, new);
            }
        }
    }
    qsort(diff->ops, diff->n_ops, sizeof *diff->ops, compare_ops);
}
