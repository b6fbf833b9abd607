/* The per-bridge reconciler: see reconciler.h.
 *
 * 'have' is what the switch holds of mslb's.  It is filled from the dumps
 * when a session starts, and brought forward when a bundle is sent (the
 * difference refers to entries of 'want', which the caller may change at
 * any time afterwards, so it is applied at once).  The bundle's barrier
 * reply confirms it and moves the installed generation; an error instead
 * makes 'have' unknown, so the reconciler dumps again and compares
 * everything.
 *
 * Bundles are pipelined: a change that comes while bundles are on their
 * way is sent at once, up to MAX_INFLIGHT of them, rather than after the
 * previous barrier reply (the switch applies them in order, so each
 * difference, computed against 'have' as the ones before it left it, is
 * right when its turn comes).  A refused bundle makes the ones after it
 * moot: their replies are swallowed, and the dump that follows them on
 * the connection shows what they did. */
#include <config.h>
#include "reconciler.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "openflow/openflow.h"
#include "byte-order.h"
#include "util.h"

#include "mslb/flowset.h"
#include "mslb/pipeline.h"

VLOG_DEFINE_THIS_MODULE(reconciler);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A bundle sent, until its barrier reply. */
struct inflight {
    uint32_t bundle_id;
    uint32_t first_xid, barrier_xid;
    bool failed;
    uint64_t sent_gen;          /* Installed once it is confirmed. */
    size_t counts[FLOWSET_GROUP_DELETE + 1];
    uint64_t started_ms;
};
#define MAX_INFLIGHT 4

struct reconciler {
    char *bridge;
    const struct reconciler_switch *sw;
    void *sw_aux;
    const struct reconciler_cbs *cbs;
    void *cbs_aux;

    enum reconciler_state state;
    int version;
    struct flowset *have;       /* What the switch holds (mslb's only). */
    uint64_t installed_gen;     /* Confirmed in this session. */

    struct flowset *want;       /* Owned by the caller; NULL: none yet. */
    uint64_t want_gen;
    bool full_diff;             /* Next difference compares everything. */
    bool pending;               /* New desired state while not idle. */
    bool retry_ok;              /* A refused bundle may be retried once. */
    bool hold;                  /* Refused twice: wait for a new state. */

    uint32_t flows_xid, groups_xid;     /* Dumps under way. */

    struct inflight inflight[MAX_INFLIGHT];     /* Oldest first. */
    size_t n_inflight;
    uint32_t stale_lo, stale_hi;        /* xids of dropped bundles. */
};

static uint32_t next_bundle_id = 1;

const char *
reconciler_state_name(enum reconciler_state state)
{
    switch (state) {
#define RECONCILER_STATE(NAME, TEXT) case RECONCILER_##NAME: return TEXT;
        RECONCILER_STATES
#undef RECONCILER_STATE
    }
    return "?";
}

struct reconciler *
reconciler_create(const char *bridge, const struct reconciler_switch *sw,
                  void *sw_aux, const struct reconciler_cbs *cbs,
                  void *cbs_aux)
{
    struct reconciler *r = xzalloc(sizeof *r);

    r->bridge = xstrdup(bridge);
    r->sw = sw;
    r->sw_aux = sw_aux;
    r->cbs = cbs;
    r->cbs_aux = cbs_aux;
    r->state = RECONCILER_DISCONNECTED;
    r->have = flowset_create();
    r->retry_ok = true;
    return r;
}

void
reconciler_destroy(struct reconciler *r)
{
    if (r) {
        flowset_destroy(r->have);
        free(r->bridge);
        free(r);
    }
}

static uint64_t
now_ms(const struct reconciler *r)
{
    return r->sw->now_ms ? r->sw->now_ms(r->sw_aux) : 0;
}

static uint32_t
send_msg(struct reconciler *r, struct ofpbuf *msg)
{
    uint32_t xid = r->sw->alloc_xid(r->sw_aux);

    ((struct ofp_header *) msg->data)->xid = htonl(xid);
    r->sw->send(r->sw_aux, msg);
    return xid;
}

static void
notify_installed(struct reconciler *r)
{
    if (r->cbs && r->cbs->installed) {
        r->cbs->installed(r->cbs_aux, r->installed_gen);
    }
}

/* ---- Adoption. ---- */

/* Forgets the bundles on their way; their replies, should they come, are
 * swallowed. */
static void
drop_inflight(struct reconciler *r)
{
    if (r->n_inflight) {
        r->stale_lo = r->inflight[0].first_xid;
        r->stale_hi = r->inflight[r->n_inflight - 1].barrier_xid;
        r->n_inflight = 0;
    }
}

static void
start_adoption(struct reconciler *r)
{
    struct ofputil_flow_stats_request fsr;

    drop_inflight(r);
    flowset_destroy(r->have);
    r->have = flowset_create();
    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.cookie = htonll(MSLB_COOKIE_TAG);
    fsr.cookie_mask = htonll(MSLB_COOKIE_TAG_MASK);
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    fsr.table_id = 0xff;
    r->flows_xid = send_msg(r, ofputil_encode_flow_stats_request(
                                &fsr, ofputil_protocol_from_ofp_version(
                                    r->version)));
    r->groups_xid = send_msg(r, ofputil_encode_group_desc_request(
                                 r->version, OFPG_ALL));
    r->state = RECONCILER_ADOPTING;
}

static void run(struct reconciler *);

static void
adoption_step(struct reconciler *r)
{
    if (r->state != RECONCILER_ADOPTING || r->flows_xid || r->groups_xid) {
        return;
    }
    VLOG_INFO("bridge %s: adopted %zu flows and %zu groups already "
              "installed", r->bridge, flowset_n_flows(r->have),
              flowset_n_groups(r->have));
    r->state = RECONCILER_IDLE;
    r->full_diff = true;
    if (r->cbs && r->cbs->adopted) {
        r->cbs->adopted(r->cbs_aux);
    }
    run(r);
}

void
reconciler_connected(struct reconciler *r, int ofp_version)
{
    r->version = ofp_version;
    r->installed_gen = 0;
    r->retry_ok = true;
    r->hold = false;
    start_adoption(r);
}

void
reconciler_disconnected(struct reconciler *r)
{
    r->state = RECONCILER_DISCONNECTED;
    r->flows_xid = r->groups_xid = 0;
    r->n_inflight = 0;
    r->stale_lo = r->stale_hi = 0;
    r->pending = false;
    notify_installed(r);
}

void
reconciler_demoted(struct reconciler *r)
{
    drop_inflight(r);           /* Their replies still come: expected. */
    r->state = RECONCILER_DISCONNECTED;
    r->flows_xid = r->groups_xid = 0;
    r->pending = false;
    notify_installed(r);
}

/* ---- Installing. ---- */

static void
bundle_ctrl(struct reconciler *r, uint32_t bundle_id, uint16_t type)
{
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = bundle_id,
        .type = type,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };
    send_msg(r, ofputil_encode_bundle_ctrl_request(r->version, &bc));
}

/* Sends 'diff' as one bundle and a barrier, recorded in 'b'. */
static void
send_bundle(struct reconciler *r, const struct flowset_diff *diff,
            struct inflight *b)
{
    b->bundle_id = next_bundle_id++;
    b->failed = false;
    b->first_xid = r->sw->alloc_xid(r->sw_aux);
    bundle_ctrl(r, b->bundle_id, OFPBCT_OPEN_REQUEST);
    for (size_t i = 0; i < diff->n_ops; i++) {
        struct ofputil_bundle_add_msg badd;
        struct ofpbuf *msg;
        uint32_t xid;
        char *error;

        msg = flowset_op_encode(&diff->ops[i], r->version, &error);
        if (!msg) {
            VLOG_ERR("bridge %s: cannot encode: %s", r->bridge, error);
            free(error);
            b->failed = true;
            continue;
        }
        /* The inner message must carry the outer one's xid. */
        xid = r->sw->alloc_xid(r->sw_aux);
        ((struct ofp_header *) msg->data)->xid = htonl(xid);
        badd.bundle_id = b->bundle_id;
        badd.flags = OFPBF_ATOMIC | OFPBF_ORDERED;
        badd.msg = msg->data;
        struct ofpbuf *add = ofputil_encode_bundle_add(r->version, &badd);
        ((struct ofp_header *) add->data)->xid = htonl(xid);
        r->sw->send(r->sw_aux, add);
        ofpbuf_delete(msg);
    }
    bundle_ctrl(r, b->bundle_id, b->failed ? OFPBCT_DISCARD_REQUEST
                                           : OFPBCT_COMMIT_REQUEST);
    b->barrier_xid = send_msg(r, ofputil_encode_barrier_request(r->version));
}

/* Idle, or bundles on their way with room for one more, none refused. */
static bool
can_send(const struct reconciler *r)
{
    if (r->state == RECONCILER_IDLE) {
        return true;
    }
    if (r->state != RECONCILER_BUSY || r->n_inflight >= MAX_INFLIGHT) {
        return false;
    }
    for (size_t i = 0; i < r->n_inflight; i++) {
        if (r->inflight[i].failed) {
            return false;
        }
    }
    return true;
}

static void
run(struct reconciler *r)
{
    struct flowset_diff diff;

    if (!can_send(r) || !r->want || r->hold) {
        return;
    }
    r->pending = false;
    if (r->full_diff) {
        flowset_diff(r->have, r->want, &diff);
    } else {
        flowset_diff_dirty(r->have, r->want, &diff);
    }
    VLOG_DBG("bridge %s: %zu operations to send (%s diff)", r->bridge,
             diff.n_ops, r->full_diff ? "full" : "incremental");
    r->full_diff = false;
    if (VLOG_IS_DBG_ENABLED()) {
        for (size_t i = 0; i < diff.n_ops && i < 20; i++) {
            char *op = flowset_op_to_string(&diff.ops[i]);
            VLOG_DBG("bridge %s: %s", r->bridge, op);
            free(op);
        }
    }
    if (!diff.n_ops) {
        flowset_diff_uninit(&diff);
        flowset_clear_dirty(r->want);
        if (r->n_inflight) {
            /* Nothing more to send: the last bundle on its way completes
             * this generation. */
            r->inflight[r->n_inflight - 1].sent_gen = r->want_gen;
        } else if (r->installed_gen != r->want_gen) {
            r->installed_gen = r->want_gen;
            VLOG_INFO("bridge %s: generation %"PRIu64" installed (no "
                      "change, %zu flows, %zu groups)", r->bridge,
                      r->installed_gen, flowset_n_flows(r->have),
                      flowset_n_groups(r->have));
            notify_installed(r);
        }
        return;
    }

    struct inflight *b = &r->inflight[r->n_inflight++];
    b->started_ms = now_ms(r);
    b->sent_gen = r->want_gen;
    memcpy(b->counts, diff.counts, sizeof b->counts);
    send_bundle(r, &diff, b);
    /* From here on 'want' may change: take what was sent into 'have'. */
    flowset_apply(r->have, &diff);
    flowset_diff_uninit(&diff);
    flowset_clear_dirty(r->want);
    r->state = RECONCILER_BUSY;
    VLOG_DBG("bridge %s: bundle %"PRIu32" queued (%zu on their way)",
             r->bridge, b->bundle_id, r->n_inflight);
}

/* The oldest bundle's barrier reply came. */
static void
bundle_done(struct reconciler *r)
{
    struct inflight b = r->inflight[0];
    const size_t *n = b.counts;

    r->n_inflight--;
    memmove(&r->inflight[0], &r->inflight[1],
            r->n_inflight * sizeof r->inflight[0]);
    if (!b.failed) {
        r->installed_gen = b.sent_gen;
        if (!r->n_inflight) {
            r->state = RECONCILER_IDLE;
        }
        VLOG_INFO("bridge %s: generation %"PRIu64" installed (flows +%zu "
                  "~%zu -%zu, groups +%zu ~%zu -%zu; %zu flows, %zu groups) "
                  "in %"PRIu64" ms", r->bridge, r->installed_gen,
                  n[FLOWSET_FLOW_ADD], n[FLOWSET_FLOW_MODIFY],
                  n[FLOWSET_FLOW_DELETE], n[FLOWSET_GROUP_ADD],
                  n[FLOWSET_GROUP_MODIFY], n[FLOWSET_GROUP_DELETE],
                  flowset_n_flows(r->have), flowset_n_groups(r->have),
                  now_ms(r) - b.started_ms);
        notify_installed(r);
        run(r);
        return;
    }
    VLOG_ERR("bridge %s: generation %"PRIu64" rejected by the switch; the "
             "bridge keeps generation %"PRIu64, r->bridge, b.sent_gen,
             r->installed_gen);
    /* The switch discarded the bundle, so 'have' is not what it holds:
     * dump again, then retry once with a full difference. */
    if (r->retry_ok) {
        r->retry_ok = false;
    } else {
        r->hold = true;
    }
    start_adoption(r);
}

void
reconciler_set_desired(struct reconciler *r, struct flowset *want,
                       uint64_t generation)
{
    if (want != r->want) {
        r->full_diff = true;
    }
    r->want = want;
    r->want_gen = generation;
    r->retry_ok = true;
    r->hold = false;
    if (can_send(r)) {
        run(r);
    } else {
        r->pending = true;
    }
}

/* ---- Input. ---- */

static void
handle_flow_dump(struct reconciler *r, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofputil_flow_stats fs;
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    while (!ofputil_decode_flow_stats_reply(&fs, &b, false, &ofpacts)) {
        if ((ntohll(fs.cookie) & MSLB_COOKIE_TAG_MASK) == MSLB_COOKIE_TAG) {
            flowset_add_flow_stats(r->have, &fs);
        }
    }
    ofpbuf_uninit(&ofpacts);
    if (!ofpmp_more(oh)) {
        r->flows_xid = 0;
    }
}

static void
handle_group_dump(struct reconciler *r, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofputil_group_desc gd;

    while (!ofputil_decode_group_desc_reply(&gd, &b, r->version)) {
        if ((gd.group_id & MSLB_GROUP_TAG_MASK) == MSLB_GROUP_TAG) {
            flowset_add_group_desc(r->have, &gd);
        }
        ofputil_uninit_group_desc(&gd);
    }
    if (!ofpmp_more(oh)) {
        r->groups_xid = 0;
    }
}

/* The bundle on its way that 'xid' belongs to, or NULL. */
static struct inflight *
find_inflight(struct reconciler *r, uint32_t xid)
{
    for (size_t i = 0; r->state == RECONCILER_BUSY && i < r->n_inflight;
         i++) {
        struct inflight *b = &r->inflight[i];
        if (xid >= b->first_xid && xid <= b->barrier_xid) {
            return b;
        }
    }
    return NULL;
}

/* A reply to a bundle dropped after an earlier one was refused. */
static bool
is_stale(const struct reconciler *r, uint32_t xid)
{
    return r->stale_hi && xid >= r->stale_lo && xid <= r->stale_hi;
}

bool
reconciler_handle_msg(struct reconciler *r, const struct ofp_header *oh)
{
    uint32_t xid = ntohl(oh->xid);
    enum ofptype type;

    if (!xid || ofptype_decode(&type, oh)) {
        return false;
    }
    switch (type) {
    case OFPTYPE_FLOW_STATS_REPLY:
        if (r->state != RECONCILER_ADOPTING || xid != r->flows_xid) {
            return false;
        }
        handle_flow_dump(r, oh);
        adoption_step(r);
        return true;

    case OFPTYPE_GROUP_DESC_STATS_REPLY:
        if (r->state != RECONCILER_ADOPTING || xid != r->groups_xid) {
            return false;
        }
        handle_group_dump(r, oh);
        adoption_step(r);
        return true;

    case OFPTYPE_BUNDLE_CONTROL:
        return find_inflight(r, xid) || is_stale(r, xid);

    case OFPTYPE_BARRIER_REPLY:
        if (is_stale(r, xid)) {
            return true;
        }
        if (!r->n_inflight || r->state != RECONCILER_BUSY
            || xid != r->inflight[0].barrier_xid) {
            return false;
        }
        bundle_done(r);
        return true;

    case OFPTYPE_ERROR: {
        struct inflight *b = find_inflight(r, xid);
        char *s;

        if (b) {
            s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
            b->failed = true;
            VLOG_ERR_RL(&rl, "bridge %s: switch refused part of bundle "
                        "%"PRIu32": %s", r->bridge, b->bundle_id, s);
            free(s);
            return true;
        }
        if (is_stale(r, xid)) {
            return true;
        }
        if (r->state == RECONCILER_ADOPTING
            && (xid == r->flows_xid || xid == r->groups_xid)) {
            /* A switch without groups, say: take the dump as empty. */
            s = ofp_to_string(oh, ntohs(oh->length), NULL, NULL, 1);
            VLOG_WARN_RL(&rl, "bridge %s: dump refused: %s", r->bridge, s);
            free(s);
            if (xid == r->flows_xid) {
                r->flows_xid = 0;
            } else {
                r->groups_xid = 0;
            }
            adoption_step(r);
            return true;
        }
        return false;
    }

    default:
        return false;
    }
}

/* ---- Queries. ---- */

enum reconciler_state
reconciler_state(const struct reconciler *r)
{
    return r->state;
}

uint64_t
reconciler_installed_generation(const struct reconciler *r)
{
    return r->installed_gen;
}

bool
reconciler_in_step(const struct reconciler *r)
{
    return (r->state == RECONCILER_IDLE && !r->pending && r->want
            && !flowset_n_dirty(r->want) && r->installed_gen == r->want_gen);
}

size_t
reconciler_n_flows(const struct reconciler *r)
{
    return flowset_n_flows(r->have);
}

size_t
reconciler_n_groups(const struct reconciler *r)
{
    return flowset_n_groups(r->have);
}
