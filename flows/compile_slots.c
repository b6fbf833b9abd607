/* The compiler: slot tables (docs/selection.md).  A new session's hash
 * picks a slot, reg5 = hash & (n_slots - 1); table SLOTS maps (service,
 * slot) to the backend, from the service's slot table in the model.
 *
 * Where the hash comes from: the datapath computes it (dp_hash, by a
 * select group, then recirculation) with no upcall per connection, but a
 * controller may not match dp_hash in OVS 3.1, only copy it: a shared
 * one-bucket group per table width copies its low bits into reg5 and
 * resubmits to SLOTS.  Spreading by fewer fields than the datapath hashes
 * needs the slow path's multipath instead: one upcall per distinct key
 * (client address), not per connection. */
#include <config.h>
#include "mslb/compile.h"

#include <string.h>

#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/util.h"
#include "flow.h"
#include "hash.h"
#include "multipath.h"
#include "nx-match.h"
#include "util.h"
#include "compile-private.h"
#include "mslb/flowset.h"
#include "mslb/pipeline.h"
#include "mslb/slots.h"

enum compile_hash
compile_hash_of(const struct model_service *svc, bool of15)
{
    if (svc->distribution != MODEL_DIST_5TUPLE) {
        /* With a protocol, the 3-tuple is the address pair. */
        return COMPILE_HASH_MP_L3;
    }
    if (svc->proto == IPPROTO_UDP) {
        /* The symmetric hash leaves UDP's ports out. */
        return of15 ? COMPILE_HASH_DP_L4 : COMPILE_HASH_MP_L3L4_UDP;
    }
    return COMPILE_HASH_DP_SYM_L4;
}

uint32_t
compile_hash_flow(enum compile_hash h, const struct flow *flow)
{
    switch (h) {
    case COMPILE_HASH_DP_SYM_L4:
        /* lib/odp-execute.c, OVS_HASH_ALG_SYM_L4, basis 0. */
        return flow_hash_symmetric_l3l4(flow, 0, false);
    case COMPILE_HASH_DP_L4:
        /* OVS_HASH_ALG_L4: the receive hash, which the userspace datapath
         * takes from the 5-tuple, rehashed with basis 0. */
        return hash_int(flow_hash_5tuple(flow, 0), 0);
    case COMPILE_HASH_MP_L3:
        return flow_hash_fields(flow, NX_HASH_FIELDS_SYMMETRIC_L3, 0);
    case COMPILE_HASH_MP_L3L4_UDP:
        return flow_hash_fields(flow, NX_HASH_FIELDS_SYMMETRIC_L3L4_UDP, 0);
    }
    OVS_NOT_REACHED();
}

uint32_t
compile_slot_of(const struct model_service *svc, bool of15,
                const struct flow *flow)
{
    uint32_t n = svc->slots.n_slots;

    return n ? compile_hash_flow(compile_hash_of(svc, of15), flow) & (n - 1)
           : 0;
}

static unsigned int
slot_bits(const struct model_service *svc)
{
    unsigned int k = 0;

    while ((1u << k) < svc->slots.n_slots) {
        k++;
    }
    return k;
}

static uint32_t
hash_group_id(enum compile_hash h, unsigned int k)
{
    return h == COMPILE_HASH_DP_L4 ? MSLB_HASH_GROUP_L4(k)
                                   : MSLB_HASH_GROUP_SYM_L4(k);
}

/* The shared group for tables of 2^k slots: one bucket, which copies the
 * low 'k' bits of the datapath's hash into reg5 and looks them up.  Added
 * to 'out' by every service that uses it (the flow set counts
 * references); its bucket is built with a builder of its own, since the
 * caller's is in the middle of a flow. */
static void
add_hash_group(struct cbuild *cb, enum compile_hash h, unsigned int k)
{
    struct ofputil_group_mod gm;
    struct ofputil_bucket *b = xzalloc(sizeof *b);
    struct cbuild bucket;

    memset(&gm, 0, sizeof gm);
    gm.command = OFPGC11_ADD;
    gm.type = OFPGT11_SELECT;
    gm.group_id = hash_group_id(h, k);
    gm.command_bucket_id = OFPG15_BUCKET_ALL;
    ovs_list_init(&gm.buckets);
    if (h == COMPILE_HASH_DP_L4) {
        /* OpenFlow 1.5: dp_hash with algorithm 0 (L4), basis 0.  Without a
         * selection method a group gets the symmetric hash. */
        ovs_strlcpy(gm.props.selection_method, "dp_hash",
                    sizeof gm.props.selection_method);
        gm.props.selection_method_param = 0;
    }
    cb_init(&bucket, NULL);
    a_move(&bucket, MFF_DP_HASH, 0, k, MFF_REG5, 0);
    a_resubmit(&bucket, MSLB_T_SLOTS);
    b->weight = 1;
    b->watch_port = OFPP_ANY;
    b->watch_group = OFPG_ANY;
    b->bucket_id = OFPG15_BUCKET_ALL;
    b->ofpacts = xmemdup(bucket.ofpacts.data, bucket.ofpacts.size);
    b->ofpacts_len = bucket.ofpacts.size;
    ovs_list_push_back(&gm.buckets, &b->list_node);
    cb_error(cb, cb_finish(&bucket));
    cb_error(cb, flowset_add_group(cb->out, &gm));
    ofputil_uninit_group_mod(&gm);
}

void
a_select_slot(struct cbuild *cb, const struct model_service *svc,
              const struct compile_ports *ports)
{
    enum compile_hash h = compile_hash_of(svc, ports->of15);
    unsigned int k = slot_bits(svc);

    if (!svc->slots.n_slots) {
        return;                 /* No backend: nothing to pick. */
    }
    if (h == COMPILE_HASH_DP_SYM_L4 || h == COMPILE_HASH_DP_L4) {
        if (cb->out) {
            add_hash_group(cb, h, k);
        }
        a_group(cb, hash_group_id(h, k));
        return;
    }

    struct ofpact_multipath *mp = ofpact_put_MULTIPATH(&cb->ofpacts);
    mp->fields = h == COMPILE_HASH_MP_L3 ? NX_HASH_FIELDS_SYMMETRIC_L3
                 : NX_HASH_FIELDS_SYMMETRIC_L3L4_UDP;
    mp->basis = 0;
    mp->algorithm = NX_MP_ALG_MODULO_N;
    mp->max_link = svc->slots.n_slots - 1;
    mp->arg = 0;
    mp->dst.field = mf_from_id(MFF_REG5);
    mp->dst.ofs = 0;
    mp->dst.n_bits = MAX(k, 1);
    a_resubmit(cb, MSLB_T_SLOTS);
}

/* ---- SLOTS' flows. ---- */

struct run {
    uint32_t value, mask, id;
    unsigned int depth;
};

struct runs {
    struct run *r;
    size_t n, allocated;
};

static void
collect_run(void *runs_, uint32_t value, uint32_t mask, uint32_t id)
{
    struct runs *runs = runs_;

    if (runs->n == runs->allocated) {
        runs->r = x2nrealloc(runs->r, &runs->allocated, sizeof *runs->r);
    }
    runs->r[runs->n++] = (struct run) { value, mask, id, 0 };
}

static void
collect_layer(void *runs_, uint32_t value, uint32_t mask, uint32_t id,
              unsigned int depth)
{
    struct runs *runs = runs_;

    collect_run(runs, value, mask, id);
    runs->r[runs->n - 1].depth = depth;
}

static void
m_slot(struct cbuild *cb, const struct model_service *svc,
       const struct run *r)
{
    /* The IP version too: what SLOTS does may learn the packet's
     * addresses, which need it. */
    m_ip_proto(cb, &svc->vip, svc->proto);
    m_u32(cb, MFF_REG0, svc->id);
    match_set_reg_masked(&cb->match, 5, r->value, r->mask);
}

void
compile_slots(struct cbuild *cb, const struct model_service *svc,
              uint64_t cookie, compile_stable_fn *stable,
              compile_move_fn *move, const void *aux)
{
    const struct model_slots *sl = &svc->slots;
    uint32_t n = sl->n_slots;
    struct runs runs = { NULL, 0, 0 };
    uint32_t *table;

    if (!n) {
        return;
    }
    table = xmalloc(n * sizeof *table);

    /* Stable slots: layered runs, a more specific one (more bits of the
     * slot) at a higher priority, so that few flows cover the table and a
     * change to a few slots changes few flows. */
    for (uint32_t s = 0; s < n; s++) {
        table[s] = sl->owner[s] ? sl->owner[s] : SLOTS_NONE;
    }
    slots_layer(table, n, collect_layer, &runs);
    for (size_t i = 0; i < runs.n; i++) {
        const struct model_backend *be
            = model_find_backend_by_key(svc, runs.r[i].id);
        if (!be) {
            continue;
        }
        cb_begin(cb);
        m_slot(cb, svc, &runs.r[i]);
        stable(cb, be, aux);
        cb_add(cb, cookie, MSLB_T_SLOTS,
               MSLB_SLOTS_PRIORITY + runs.r[i].depth);
    }

    /* Slots in a move: runs of one (from, to) pair, numbered by first
     * appearance. */
    if (move && sl->n_moves) {
        uint32_t (*pairs)[2] = xmalloc(sl->n_moves * sizeof *pairs);
        size_t n_pairs = 0;

        for (uint32_t s = 0; s < n; s++) {
            table[s] = SLOTS_NONE;
        }
        for (size_t i = 0; i < sl->n_moves; i++) {
            const struct model_slot_move *m = &sl->moves[i];
            uint32_t to = sl->owner[m->slot];
            size_t p;

            for (p = 0; p < n_pairs; p++) {
                if (pairs[p][0] == m->from && pairs[p][1] == to) {
                    break;
                }
            }
            if (p == n_pairs) {
                pairs[n_pairs][0] = m->from;
                pairs[n_pairs][1] = to;
                n_pairs++;
            }
            table[m->slot] = p;
        }
        runs.n = 0;
        slots_compress(table, n, collect_run, &runs);      /* Disjoint. */
        for (size_t i = 0; i < runs.n; i++) {
            const uint32_t *pair = pairs[runs.r[i].id];
            const struct model_backend *from
                = model_find_backend_by_key(svc, pair[0]);
            const struct model_backend *to
                = model_find_backend_by_key(svc, pair[1]);
            if (!from) {
                continue;
            }
            cb_begin(cb);
            m_slot(cb, svc, &runs.r[i]);
            move(cb, to, from, aux);
            cb_add(cb, cookie, MSLB_T_SLOTS, MSLB_SLOTS_MOVE_PRIORITY);
        }
        free(pairs);
    }
    free(runs.r);
    free(table);
}
