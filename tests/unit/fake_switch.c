/* An in-memory OpenFlow switch: see fake_switch.h.  Modelled on what OVS
 * does where it matters to the reconciler: ADD replaces a flow of the same
 * (table, priority, match); MODIFY_STRICT and DELETE_STRICT honour the
 * cookie mask; a flow may not name a group that does not exist; deleting a
 * group deletes the flows that use it; a bundle commits all or nothing. */
#include <config.h>
#include "fake_switch.h"

#include <stdlib.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openflow/openflow.h"
#include "byte-order.h"
#include "util.h"

struct fake_flow {
    struct match match;
    uint8_t table;
    uint16_t priority;
    uint64_t cookie;
    struct ofpact *ofpacts;
    size_t ofpacts_len;
};

struct fake_group {
    uint32_t id;
    uint8_t type;
    struct ovs_list buckets;    /* struct ofputil_bucket. */
};

struct tables {
    struct fake_flow *flows;
    size_t n_flows, allocated_flows;
    struct fake_group **groups;
    size_t n_groups, allocated_groups;
};

struct fake_switch {
    int version;
    uint32_t next_xid;
    struct tables t;
    struct ovs_list in;         /* struct ofpbuf: received. */
    struct ovs_list out;        /* struct ofpbuf: replies to deliver. */
    bool bundle_open;
    uint32_t bundle_id;
    struct ovs_list bundle;     /* struct ofpbuf: added messages. */
    enum ofperr fail_next_commit;
    struct fake_switch_stats stats;
};

/* ---- Tables. ---- */

static void
tables_clear(struct tables *t)
{
    for (size_t i = 0; i < t->n_flows; i++) {
        free(t->flows[i].ofpacts);
    }
    for (size_t i = 0; i < t->n_groups; i++) {
        ofputil_bucket_list_destroy(&t->groups[i]->buckets);
        free(t->groups[i]);
    }
    free(t->flows);
    free(t->groups);
    memset(t, 0, sizeof *t);
}

static void
tables_copy(struct tables *dst, const struct tables *src)
{
    memset(dst, 0, sizeof *dst);
    dst->n_flows = dst->allocated_flows = src->n_flows;
    dst->flows = xmemdup(src->flows, src->n_flows * sizeof *src->flows + 1);
    for (size_t i = 0; i < src->n_flows; i++) {
        dst->flows[i].ofpacts = xmemdup(src->flows[i].ofpacts,
                                        src->flows[i].ofpacts_len + 1);
    }
    dst->n_groups = dst->allocated_groups = src->n_groups;
    dst->groups = xmalloc((src->n_groups + 1) * sizeof *dst->groups);
    for (size_t i = 0; i < src->n_groups; i++) {
        struct fake_group *g = xmalloc(sizeof *g);
        g->id = src->groups[i]->id;
        g->type = src->groups[i]->type;
        ovs_list_init(&g->buckets);
        ofputil_bucket_clone_list(&g->buckets, &src->groups[i]->buckets,
                                  NULL);
        dst->groups[i] = g;
    }
}

static struct fake_group *
find_group(const struct tables *t, uint32_t id, size_t *idx)
{
    for (size_t i = 0; i < t->n_groups; i++) {
        if (t->groups[i]->id == id) {
            if (idx) {
                *idx = i;
            }
            return t->groups[i];
        }
    }
    return NULL;
}

static struct fake_flow *
find_flow(const struct tables *t, uint8_t table, uint16_t priority,
          const struct match *match)
{
    for (size_t i = 0; i < t->n_flows; i++) {
        struct fake_flow *f = &t->flows[i];
        if (f->table == table && f->priority == priority
            && match_equal(&f->match, match)) {
            return f;
        }
    }
    return NULL;
}

static void
remove_flow(struct tables *t, struct fake_flow *f)
{
    free(f->ofpacts);
    *f = t->flows[--t->n_flows];
}

static enum ofperr
check_groups(const struct tables *t, const struct ofpact *ofpacts,
             size_t len)
{
    const struct ofpact *a;

    OFPACT_FOR_EACH_FLATTENED (a, ofpacts, len) {
        if (a->type == OFPACT_GROUP
            && !find_group(t, ofpact_get_GROUP(a)->group_id, NULL)) {
            return OFPERR_OFPBAC_BAD_OUT_GROUP;
        }
    }
    return 0;
}

static bool
cookie_ok(const struct fake_flow *f, const struct ofputil_flow_mod *fm)
{
    uint64_t mask = ntohll(fm->cookie_mask);
    return (f->cookie & mask) == (ntohll(fm->cookie) & mask);
}

static enum ofperr
apply_flow_mod(struct tables *t, const struct ofputil_flow_mod *fm)
{
    struct match match;
    struct fake_flow *f;
    enum ofperr error;

    minimatch_expand(&fm->match, &match);
    f = find_flow(t, fm->table_id, fm->priority, &match);
    switch (fm->command) {
    case OFPFC_ADD:
        error = check_groups(t, fm->ofpacts, fm->ofpacts_len);
        if (error) {
            return error;
        }
        if (!f) {
            if (t->n_flows >= t->allocated_flows) {
                t->flows = x2nrealloc(t->flows, &t->allocated_flows,
                                      sizeof *t->flows);
            }
            f = &t->flows[t->n_flows++];
            f->match = match;
            f->table = fm->table_id;
            f->priority = fm->priority;
        } else {
            free(f->ofpacts);
        }
        f->cookie = ntohll(fm->new_cookie);
        f->ofpacts = xmemdup(fm->ofpacts, fm->ofpacts_len + 1);
        f->ofpacts_len = fm->ofpacts_len;
        return 0;

    case OFPFC_MODIFY_STRICT:
        error = check_groups(t, fm->ofpacts, fm->ofpacts_len);
        if (!error && f && cookie_ok(f, fm)) {
            free(f->ofpacts);
            f->ofpacts = xmemdup(fm->ofpacts, fm->ofpacts_len + 1);
            f->ofpacts_len = fm->ofpacts_len;
        }
        return error;

    case OFPFC_DELETE_STRICT:
        if (f && cookie_ok(f, fm)) {
            remove_flow(t, f);
        }
        return 0;

    default:
        return OFPERR_OFPFMFC_BAD_COMMAND;
    }
}

static enum ofperr
apply_group_mod(struct tables *t, const struct ofputil_group_mod *gm)
{
    struct fake_group *g;
    size_t idx;

    g = find_group(t, gm->group_id, &idx);
    switch (gm->command) {
    case OFPGC11_ADD:
        if (g) {
            return OFPERR_OFPGMFC_GROUP_EXISTS;
        }
        g = xmalloc(sizeof *g);
        g->id = gm->group_id;
        ovs_list_init(&g->buckets);
        if (t->n_groups >= t->allocated_groups) {
            t->groups = x2nrealloc(t->groups, &t->allocated_groups,
                                   sizeof *t->groups);
        }
        t->groups[t->n_groups++] = g;
        break;

    case OFPGC11_MODIFY:
        if (!g) {
            return OFPERR_OFPGMFC_UNKNOWN_GROUP;
        }
        ofputil_bucket_list_destroy(&g->buckets);
        ovs_list_init(&g->buckets);
        break;

    case OFPGC11_DELETE:
        if (g) {
            /* Like OVS: the flows that use the group go with it. */
            for (size_t i = 0; i < t->n_flows; ) {
                struct fake_flow *f = &t->flows[i];
                if (ofpacts_output_to_group(f->ofpacts, f->ofpacts_len,
                                            g->id)) {
                    remove_flow(t, f);
                } else {
                    i++;
                }
            }
            ofputil_bucket_list_destroy(&g->buckets);
            free(g);
            t->groups[idx] = t->groups[--t->n_groups];
        }
        return 0;

    default:
        return OFPERR_OFPGMFC_BAD_COMMAND;
    }
    g->type = gm->type;
    ofputil_bucket_clone_list(&g->buckets, &gm->buckets, NULL);
    return 0;
}

/* Decodes and applies a flow_mod or group_mod message. */
static enum ofperr
apply_msg(struct fake_switch *sw, struct tables *t,
          const struct ofp_header *oh)
{
    enum ofptype type;
    enum ofperr error = ofptype_decode(&type, oh);

    if (error) {
        return error;
    }
    if (type == OFPTYPE_FLOW_MOD) {
        struct ofputil_flow_mod fm;
        struct ofpbuf ofpacts;

        ofpbuf_init(&ofpacts, 64);
        error = ofputil_decode_flow_mod(
            &fm, oh, ofputil_protocol_from_ofp_version(sw->version), NULL,
            NULL, &ofpacts, OFPP_MAX, 255);
        if (!error) {
            error = apply_flow_mod(t, &fm);
            minimatch_destroy(&fm.match);
            sw->stats.flow_mods++;
        }
        ofpbuf_uninit(&ofpacts);
    } else if (type == OFPTYPE_GROUP_MOD) {
        struct ofputil_group_mod gm;

        error = ofputil_decode_group_mod(oh, &gm);
        if (!error) {
            error = apply_group_mod(t, &gm);
            ofputil_uninit_group_mod(&gm);
            sw->stats.group_mods++;
        }
    } else {
        error = OFPERR_OFPBFC_MSG_UNSUP;
    }
    return error;
}

/* ---- Messages. ---- */

static void
reply(struct fake_switch *sw, struct ofpbuf *msg)
{
    ofpmsg_update_length(msg);
    ovs_list_push_back(&sw->out, &msg->list_node);
}

static void
reply_error(struct fake_switch *sw, enum ofperr error,
            const struct ofp_header *oh)
{
    reply(sw, ofperr_encode_reply(error, oh));
}

static void
reply_all(struct fake_switch *sw, struct ovs_list *replies)
{
    struct ofpbuf *b;

    LIST_FOR_EACH_POP (b, list_node, replies) {
        reply(sw, b);
    }
}

static void
drop_list(struct ovs_list *list)
{
    struct ofpbuf *b;

    LIST_FOR_EACH_POP (b, list_node, list) {
        ofpbuf_delete(b);
    }
}

static void
commit(struct fake_switch *sw, const struct ofp_header *oh)
{
    struct tables copy;
    struct ofpbuf *b;
    enum ofperr error = sw->fail_next_commit;

    sw->fail_next_commit = 0;
    sw->stats.commits++;
    tables_copy(&copy, &sw->t);
    LIST_FOR_EACH (b, list_node, &sw->bundle) {
        if (error) {
            break;
        }
        error = apply_msg(sw, &copy, b->data);
        if (error) {
            reply_error(sw, error, b->data);
        }
    }
    drop_list(&sw->bundle);
    sw->bundle_open = false;
    if (error) {
        tables_clear(&copy);
        reply_error(sw, OFPERR_OFPBFC_MSG_FAILED, oh);
        return;
    }
    tables_clear(&sw->t);
    sw->t = copy;

    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = sw->bundle_id, .type = OFPBCT_COMMIT_REPLY,
    };
    reply(sw, ofputil_encode_bundle_ctrl_reply(oh, &bc));
}

static void
bundle_control(struct fake_switch *sw, const struct ofp_header *oh)
{
    struct ofputil_bundle_ctrl_msg bc;
    enum ofperr error = ofputil_decode_bundle_ctrl(oh, &bc);

    if (error) {
        reply_error(sw, error, oh);
        return;
    }
    if (bc.type == OFPBCT_OPEN_REQUEST) {
        drop_list(&sw->bundle);
        sw->bundle_open = true;
        sw->bundle_id = bc.bundle_id;
        sw->stats.bundles_opened++;
        bc.type = OFPBCT_OPEN_REPLY;
    } else if (!sw->bundle_open || bc.bundle_id != sw->bundle_id) {
        reply_error(sw, OFPERR_OFPBFC_BAD_ID, oh);
        return;
    } else if (bc.type == OFPBCT_COMMIT_REQUEST) {
        commit(sw, oh);
        return;
    } else if (bc.type == OFPBCT_DISCARD_REQUEST) {
        drop_list(&sw->bundle);
        sw->bundle_open = false;
        sw->stats.discards++;
        bc.type = OFPBCT_DISCARD_REPLY;
    } else {
        reply_error(sw, OFPERR_OFPBFC_BAD_TYPE, oh);
        return;
    }
    reply(sw, ofputil_encode_bundle_ctrl_reply(oh, &bc));
}

static void
bundle_add(struct fake_switch *sw, const struct ofp_header *oh)
{
    struct ofputil_bundle_add_msg badd;
    enum ofptype type;
    enum ofperr error = ofputil_decode_bundle_add(oh, &badd, &type);

    if (!error && (!sw->bundle_open || badd.bundle_id != sw->bundle_id)) {
        error = OFPERR_OFPBFC_BAD_ID;
    }
    if (error) {
        reply_error(sw, error, oh);
        return;
    }
    sw->stats.bundle_adds++;
    ovs_list_push_back(&sw->bundle, &ofpbuf_clone_data(
                           badd.msg, ntohs(badd.msg->length))->list_node);
}

static void
flow_dump(struct fake_switch *sw, const struct ofp_header *oh)
{
    struct ofputil_flow_stats_request fsr;
    struct ovs_list replies;
    struct ofpbuf ofpacts;
    enum ofperr error;

    ofpbuf_init(&ofpacts, 0);
    error = ofputil_decode_flow_stats_request(&fsr, oh, NULL, NULL);
    if (error) {
        reply_error(sw, error, oh);
        return;
    }
    sw->stats.flow_dumps++;
    ofpmp_init(&replies, oh);
    for (size_t i = 0; i < sw->t.n_flows; i++) {
        const struct fake_flow *f = &sw->t.flows[i];
        uint64_t mask = ntohll(fsr.cookie_mask);
        struct ofputil_flow_stats fs;

        if ((fsr.table_id != 0xff && fsr.table_id != f->table)
            || (f->cookie & mask) != (ntohll(fsr.cookie) & mask)) {
            continue;
        }
        memset(&fs, 0, sizeof fs);
        fs.match = f->match;
        fs.cookie = htonll(f->cookie);
        fs.table_id = f->table;
        fs.priority = f->priority;
        fs.idle_age = fs.hard_age = -1;
        fs.ofpacts = f->ofpacts;
        fs.ofpacts_len = f->ofpacts_len;
        ofputil_append_flow_stats_reply(&fs, &replies, NULL);
    }
    reply_all(sw, &replies);
    ofpbuf_uninit(&ofpacts);
}

static void
group_dump(struct fake_switch *sw, const struct ofp_header *oh)
{
    struct ovs_list replies;

    sw->stats.group_dumps++;
    ofpmp_init(&replies, oh);
    for (size_t i = 0; i < sw->t.n_groups; i++) {
        const struct fake_group *g = sw->t.groups[i];
        struct ofputil_group_desc gd;

        memset(&gd, 0, sizeof gd);
        gd.type = g->type;
        gd.group_id = g->id;
        ofputil_append_group_desc_reply(&gd, &g->buckets, &replies);
    }
    reply_all(sw, &replies);
}

static void
process_one(struct fake_switch *sw, const struct ofp_header *oh)
{
    enum ofptype type;
    enum ofperr error = ofptype_decode(&type, oh);

    if (error) {
        reply_error(sw, error, oh);
        return;
    }
    switch (type) {
    case OFPTYPE_FLOW_MOD:
    case OFPTYPE_GROUP_MOD:
        sw->stats.outside_bundle++;
        error = apply_msg(sw, &sw->t, oh);
        if (error) {
            reply_error(sw, error, oh);
        }
        break;
    case OFPTYPE_BUNDLE_CONTROL:
        bundle_control(sw, oh);
        break;
    case OFPTYPE_BUNDLE_ADD_MESSAGE:
        bundle_add(sw, oh);
        break;
    case OFPTYPE_BARRIER_REQUEST:
        sw->stats.barriers++;
        reply(sw, ofpraw_alloc_reply(OFPRAW_OFPT11_BARRIER_REPLY, oh, 0));
        break;
    case OFPTYPE_FLOW_STATS_REQUEST:
        flow_dump(sw, oh);
        break;
    case OFPTYPE_GROUP_DESC_STATS_REQUEST:
        group_dump(sw, oh);
        break;
    default:
        reply_error(sw, OFPERR_OFPBRC_BAD_TYPE, oh);
        break;
    }
}

/* ---- The seam. ---- */

static uint32_t
seam_alloc_xid(void *sw_)
{
    struct fake_switch *sw = sw_;
    return sw->next_xid++;
}

static void
seam_send(void *sw_, struct ofpbuf *msg)
{
    struct fake_switch *sw = sw_;

    ofpmsg_update_length(msg);
    ovs_list_push_back(&sw->in, &msg->list_node);
}

const struct reconciler_switch fake_switch_seam = {
    .alloc_xid = seam_alloc_xid,
    .send = seam_send,
    .now_ms = NULL,
};

/* ---- Public. ---- */

struct fake_switch *
fake_switch_create(int ofp_version)
{
    struct fake_switch *sw = xzalloc(sizeof *sw);

    sw->version = ofp_version;
    sw->next_xid = 1;
    ovs_list_init(&sw->in);
    ovs_list_init(&sw->out);
    ovs_list_init(&sw->bundle);
    return sw;
}

void
fake_switch_destroy(struct fake_switch *sw)
{
    if (sw) {
        tables_clear(&sw->t);
        drop_list(&sw->in);
        drop_list(&sw->out);
        drop_list(&sw->bundle);
        free(sw);
    }
}

void
fake_switch_add_flow(struct fake_switch *sw, const char *text)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error;

    error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, OFPFC_ADD,
                                   &usable);
    ovs_assert(!error);
    ovs_assert(!apply_flow_mod(&sw->t, &fm));
    minimatch_destroy(&fm.match);
    free(fm.ofpacts);
}

void
fake_switch_add_group(struct fake_switch *sw, const char *text)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error;

    error = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, text, NULL, NULL,
                                    &usable);
    ovs_assert(!error);
    ovs_assert(!apply_group_mod(&sw->t, &gm));
    ofputil_uninit_group_mod(&gm);
}

void
fake_switch_restart(struct fake_switch *sw)
{
    tables_clear(&sw->t);
    fake_switch_drop_connection(sw);
}

void
fake_switch_drop_connection(struct fake_switch *sw)
{
    drop_list(&sw->in);
    drop_list(&sw->out);
    drop_list(&sw->bundle);
    sw->bundle_open = false;
}

void
fake_switch_fail_next_commit(struct fake_switch *sw, enum ofperr error)
{
    sw->fail_next_commit = error;
}

size_t
fake_switch_process(struct fake_switch *sw)
{
    struct ofpbuf *b;
    size_t n = 0;

    LIST_FOR_EACH_POP (b, list_node, &sw->in) {
        process_one(sw, b->data);
        ofpbuf_delete(b);
        n++;
    }
    return n;
}

size_t
fake_switch_deliver(struct fake_switch *sw, struct reconciler *r)
{
    struct ovs_list out;
    struct ofpbuf *b;
    size_t n = 0;

    /* Replies sent while delivering wait for the next round. */
    ovs_list_init(&out);
    ovs_list_push_back_all(&out, &sw->out);
    LIST_FOR_EACH_POP (b, list_node, &out) {
        reconciler_handle_msg(r, b->data);
        ofpbuf_delete(b);
        n++;
    }
    return n;
}

size_t
fake_switch_deliver_unclaimed(struct fake_switch *sw, struct reconciler *r)
{
    struct ofpbuf *b;
    size_t n = 0;

    LIST_FOR_EACH_POP (b, list_node, &sw->out) {
        n += !reconciler_handle_msg(r, b->data);
        ofpbuf_delete(b);
    }
    return n;
}

int
fake_switch_deliver_one(struct fake_switch *sw, struct reconciler *r)
{
    struct ofpbuf *b;
    enum ofptype type;

    if (ovs_list_is_empty(&sw->out)) {
        return -1;
    }
    b = CONTAINER_OF(ovs_list_pop_front(&sw->out), struct ofpbuf, list_node);
    ovs_assert(!ofptype_decode(&type, b->data));
    reconciler_handle_msg(r, b->data);
    ofpbuf_delete(b);
    return type;
}

void
fake_switch_converge(struct fake_switch *sw, struct reconciler *r)
{
    for (int i = 0; i < 100; i++) {
        size_t n = fake_switch_process(sw);
        if (!fake_switch_deliver(sw, r) && !n) {
            return;
        }
    }
    ovs_assert(!"fake switch did not converge in 100 rounds");
}

static int
compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

char *
fake_switch_dump(const struct fake_switch *sw)
{
    size_t n = sw->t.n_flows + sw->t.n_groups;
    char **lines = xmalloc((n + 1) * sizeof *lines);
    struct ds out = DS_EMPTY_INITIALIZER;
    size_t k = 0;

    for (size_t i = 0; i < sw->t.n_flows; i++) {
        const struct fake_flow *f = &sw->t.flows[i];
        struct ofpact_format_params fp;
        struct ds s = DS_EMPTY_INITIALIZER;

        ds_put_format(&s, "cookie=%#"PRIx64",table=%d,priority=%d,",
                      f->cookie, f->table, f->priority);
        match_format(&f->match, NULL, &s, OFP_DEFAULT_PRIORITY);
        ds_put_cstr(&s, " actions=");
        memset(&fp, 0, sizeof fp);
        fp.s = &s;
        ofpacts_format(f->ofpacts, f->ofpacts_len, &fp);
        lines[k++] = ds_steal_cstr(&s);
    }
    for (size_t i = 0; i < sw->t.n_groups; i++) {
        const struct fake_group *g = sw->t.groups[i];
        const struct ofputil_bucket *bucket;
        struct ds s = DS_EMPTY_INITIALIZER;

        ds_put_format(&s, "group_id=%"PRIu32",type=%d", g->id, g->type);
        LIST_FOR_EACH (bucket, list_node, &g->buckets) {
            struct ofpact_format_params fp;

            memset(&fp, 0, sizeof fp);
            fp.s = &s;
            ds_put_format(&s, ",bucket=weight:%d,actions=", bucket->weight);
            ofpacts_format(bucket->ofpacts, bucket->ofpacts_len, &fp);
        }
        lines[k++] = ds_steal_cstr(&s);
    }
    qsort(lines, k, sizeof *lines, compare_strings);
    for (size_t i = 0; i < k; i++) {
        ds_put_format(&out, "%s\n", lines[i]);
        free(lines[i]);
    }
    free(lines);
    return ds_steal_cstr(&out);
}

size_t
fake_switch_n_flows(const struct fake_switch *sw)
{
    return sw->t.n_flows;
}

size_t
fake_switch_n_groups(const struct fake_switch *sw)
{
    return sw->t.n_groups;
}

const struct fake_switch_stats *
fake_switch_stats(const struct fake_switch *sw)
{
    return &sw->stats;
}

void
fake_switch_clear_stats(struct fake_switch *sw)
{
    memset(&sw->stats, 0, sizeof sw->stats);
}

size_t
fake_switch_n_pending(const struct fake_switch *sw)
{
    return ovs_list_size(&sw->in);
}
