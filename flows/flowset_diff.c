/* Flow sets: differences, units and dirty keys; see flowset.h. */
#include <config.h>
#include "mslb/flowset.h"

#include <stdlib.h>
#include <string.h>

#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "hash.h"
#include "util.h"
#include "flowset-private.h"

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
    } else if (!fs_fdata_same_value(old->d, new->d)) {
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
    } else if (!fs_gdata_same_value(old->d, new->d)) {
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
        diff_group(fs_find_group(have, g->d->id), g, diff);
    }
    HMAP_FOR_EACH (g, node, &have->groups) {
        if (!fs_find_group(want, g->d->id)) {
            push_op(diff, FLOWSET_GROUP_DELETE, g);
        }
    }
    HMAP_FOR_EACH (f, node, &have->flows) {
        if (!fs_find_flow(want, f->d)) {
            push_op(diff, FLOWSET_FLOW_DELETE, f);
        }
    }
    HMAP_FOR_EACH (f, node, &want->flows) {
        diff_flow(fs_find_flow(have, f->d), f, diff);
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
        body = fs_format_group_body(g->d);
        s = xasprintf("%s group_id=%"PRIu32",%s", names[op->type], g->d->id,
                      body);
    } else {
        const struct fs_flow *f = op->entry;
        body = (op->type == FLOWSET_FLOW_DELETE ? fs_format_key(f->d)
                : fs_format_flow(f->d));
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
        return fs_gdata_encode(d, (op->type == FLOWSET_GROUP_ADD ? OFPGC11_ADD
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
        return fs_fdata_encode(d, (op->type == FLOWSET_FLOW_ADD ? OFPFC_ADD
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
            struct fs_group *old = fs_find_group(have, d->id);

            /* For a delete, 'op->entry' is 'old' itself: keep 'd' alive. */
            fs_gdata_ref(d);
            if (old) {
                hmap_remove(&have->groups, &old->node);
                fs_gdata_unref(old->d);
                free(old);
            }
            if (op->type != FLOWSET_GROUP_DELETE) {
                free(fs_add_gdata(have, fs_gdata_ref(d)));
                /* Installed: the ready ADD was for this once. */
                ofpbuf_delete(d->add_msg);
                d->add_msg = NULL;
            }
            fs_gdata_unref(d);
        } else {
            struct fs_fdata *d = ((const struct fs_flow *) op->entry)->d;
            struct fs_flow *old = fs_find_flow(have, d);

            fs_fdata_ref(d);
            if (old) {
                hmap_remove(&have->flows, &old->node);
                fs_fdata_unref(old->d);
                free(old);
            }
            if (op->type != FLOWSET_FLOW_DELETE) {
                free(fs_add_fdata(have, fs_fdata_ref(d)));
                ofpbuf_delete(d->add_msg);
                d->add_msg = NULL;
            }
            fs_fdata_unref(d);
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
        if (flow ? d->flow && fs_fdata_same_key(d->flow, flow)
            : !d->flow && d->group_id == group_id) {
            return;
        }
    }
    d = xmalloc(sizeof *d);
    d->flow = flow ? fs_fdata_ref(flow) : NULL;
    d->group_id = group_id;
    hmap_insert(&fs->dirty, &d->node, hash);
}

void
flowset_clear_dirty(struct flowset *fs)
{
    struct fs_dirty *d;

    HMAP_FOR_EACH_POP (d, node, &fs->dirty) {
        fs_fdata_unref(d->flow);
        free(d);
    }
    /* Iterating an hmap walks all its buckets: after a whole build (every
     * key dirty) an unshrunk 'dirty' made each later small change cost
     * O(largest build), about 1 ms per walk at 650,000 flows. */
    hmap_shrink(&fs->dirty);
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
        char *e = fs_add_fdata(fs, fs_fdata_ref(f->d));
        if (e) {
            keep_first(&error, e);
        } else {
            mark_dirty(fs, f->d, 0);
        }
    }
    HMAP_FOR_EACH (g, node, &unit->groups) {
        char *e = fs_add_gdata(fs, fs_gdata_ref(g->d));
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
        struct fs_flow *mine = fs_find_flow(fs, f->d);
        if (mine && fs_fdata_same_value(mine->d, f->d)) {
            mark_dirty(fs, f->d, 0);
            if (!--mine->refs) {
                hmap_remove(&fs->flows, &mine->node);
                fs_fdata_unref(mine->d);
                free(mine);
            }
        }
    }
    HMAP_FOR_EACH (g, node, &unit->groups) {
        struct fs_group *mine = fs_find_group(fs, g->d->id);
        if (mine && fs_gdata_same_value(mine->d, g->d)) {
            mark_dirty(fs, NULL, g->d->id);
            if (!--mine->refs) {
                hmap_remove(&fs->groups, &mine->node);
                fs_gdata_unref(mine->d);
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
            diff_flow(fs_find_flow(have, d->flow), fs_find_flow(want, d->flow),
                      diff);
        } else {
            diff_group(fs_find_group(have, d->group_id),
                       fs_find_group(want, d->group_id), diff);
        }
    }
    qsort(diff->ops, diff->n_ops, sizeof *diff->ops, compare_ops);
}
