/* Announcements: see announce.h. */
#include <config.h>
#include "announce.h"

#include <stdlib.h>
#include <string.h>

#include "dp-packet.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

#include "mslb/modeldb.h"

/* ---- What a bridge announces. ---- */

static int
addr_cmp(const struct mslb_addr *a, const struct mslb_addr *b)
{
    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }
    return (a->family == AF_INET
            ? memcmp(&a->v4, &b->v4, sizeof a->v4)
            : memcmp(&a->v6, &b->v6, sizeof a->v6));
}

static int
target_cmp(const void *a_, const void *b_)
{
    const struct announce_target *a = a_, *b = b_;
    int c = addr_cmp(&a->addr, &b->addr);

    return c ? c : (int) a->gateway - (int) b->gateway;
}

struct announce_target *
announce_targets(const struct mdb *mdb, const struct model_bridge *br,
                 size_t *np)
{
    const struct model_service **svcs;
    struct announce_target *t;
    size_t n_svcs, n = 0;

    *np = 0;
    svcs = mdb_services_of_bridge(mdb, br->name, &n_svcs);
    if (br->role == MODEL_ROLE_FINAL) {
        size_t n_bes = 0;

        for (size_t i = 0; i < n_svcs; i++) {
            n_bes += svcs[i]->n_backends;
        }
        t = xmalloc((n_bes + 1) * sizeof *t);
        for (size_t i = 0; i < n_svcs; i++) {
            for (size_t j = 0; j < svcs[i]->n_backends; j++) {
                const struct model_backend *be = &svcs[i]->backends[j];

                if (be->host_bridge && !strcmp(be->host_bridge, br->name)
                    && be->state != MODEL_BACKEND_DOWN) {
                    t[n++] = (struct announce_target) { .addr = be->ip,
                                                        .probe = true };
                }
            }
        }
        free(svcs);
        goto sort;
    }
    t = xmalloc((n_svcs + br->n_gateways + 1) * sizeof *t);
    for (size_t i = 0; i < n_svcs; i++) {
        if (model_service_on_bridge(svcs[i], br->name)) {
            t[n++] = (struct announce_target) { .addr = svcs[i]->vip };
        }
    }
    for (size_t i = 0; i < br->n_gateways; i++) {
        t[n++] = (struct announce_target) { .addr = br->gateways[i],
                                            .gateway = true };
    }
    free(svcs);

sort:
    /* Several services share a VIP (or a server): one entry per address
     * (a gateway is never a VIP: the model forbids it). */
    qsort(t, n, sizeof *t, target_cmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!k || addr_cmp(&t[k - 1].addr, &t[i].addr)) {
            t[k++] = t[i];
        }
    }
    *np = k;
    return t;
}

/* ---- Frames. ---- */

size_t
announce_frame(const struct mslb_addr *addr, const struct mslb_mac *mac_,
               uint8_t buf[ANNOUNCE_FRAME_MAX])
{
    struct eth_addr mac;
    struct dp_packet p;
    size_t len;

    memcpy(mac.ea, mac_->b, sizeof mac.ea);
    dp_packet_init(&p, ANNOUNCE_FRAME_MAX);
    if (addr->family == AF_INET) {
        /* The request form: every stack accepts it, and it asks nobody to
         * answer. */
        compose_arp(&p, ARP_OP_REQUEST, mac, eth_addr_zero, true,
                    addr->v4.s_addr, addr->v4.s_addr);
    } else {
        struct in6_addr all_hosts = IN6ADDR_ALL_HOSTS_INIT;
        struct in6_addr vip;
        struct eth_addr dst;

        memcpy(&vip, &addr->v6, sizeof vip);
        ipv6_multicast_to_ethernet(&dst, &all_hosts);
        /* compose_nd_na() takes the target from the source address: the
         * VIP is both, and the target link-layer option carries 'mac'. */
        compose_nd_na(&p, mac, dst, &vip, &all_hosts,
                      htonl(ND_RSO_OVERRIDE));
    }
    len = dp_packet_size(&p);
    ovs_assert(len <= ANNOUNCE_FRAME_MAX);
    memcpy(buf, dp_packet_data(&p), len);
    dp_packet_uninit(&p);
    return len;
}

size_t
announce_probe_frame(const struct mslb_addr *addr,
                     const struct mslb_mac *mac_,
                     uint8_t buf[ANNOUNCE_FRAME_MAX])
{
    struct eth_addr mac;
    struct dp_packet p;
    size_t len;

    memcpy(mac.ea, mac_->b, sizeof mac.ea);
    dp_packet_init(&p, ANNOUNCE_FRAME_MAX);
    if (addr->family == AF_INET) {
        compose_arp(&p, ARP_OP_REQUEST, mac, eth_addr_zero, true, 0,
                    addr->v4.s_addr);
    } else {
        struct in6_addr lla, target;

        /* Not duplicate address detection (from ::), which a server
         * answers to everyone: a plain solicitation, answered to us. */
        in6_generate_lla(mac, &lla);
        memcpy(&target, &addr->v6, sizeof target);
        compose_nd_ns(&p, mac, &lla, &target);
    }
    len = dp_packet_size(&p);
    ovs_assert(len <= ANNOUNCE_FRAME_MAX);
    memcpy(buf, dp_packet_data(&p), len);
    dp_packet_uninit(&p);
    return len;
}

struct ofpbuf *
announce_packet_out(int ofp_version, const void *frame, size_t len,
                    uint32_t port)
{
    struct ofputil_packet_out po;
    struct ofpbuf ofpacts;
    struct ofpbuf *msg;

    ofpbuf_init(&ofpacts, 64);
    ofpact_put_OUTPUT(&ofpacts)->port = u16_to_ofp(port);
    memset(&po, 0, sizeof po);
    po.packet = frame;
    po.packet_len = len;
    po.buffer_id = UINT32_MAX;
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata, OFPP_CONTROLLER);
    po.ofpacts = ofpacts.data;
    po.ofpacts_len = ofpacts.size;
    msg = ofputil_encode_packet_out(
        &po, ofputil_protocol_from_ofp_version(ofp_version));
    ofpbuf_uninit(&ofpacts);
    return msg;
}

/* ---- The schedule. ---- */

struct announcer {
    uint64_t interval_ms;
    struct announce_target *targets;    /* Sorted. */
    bool *fresh;                        /* Not announced since it came. */
    size_t n, n_fresh;
    uint64_t round_start;               /* Of the periodic round. */
    size_t cursor;                      /* Next in the round. */
};

struct announcer *
announcer_create(uint64_t interval_ms)
{
    struct announcer *a = xzalloc(sizeof *a);

    a->interval_ms = MAX(interval_ms, 1);
    return a;
}

void
announcer_destroy(struct announcer *a)
{
    if (a) {
        free(a->targets);
        free(a->fresh);
        free(a);
    }
}

void
announcer_reset(struct announcer *a)
{
    free(a->targets);
    free(a->fresh);
    a->targets = NULL;
    a->fresh = NULL;
    a->n = a->n_fresh = a->cursor = 0;
}

void
announcer_set_targets(struct announcer *a, struct announce_target *t,
                      size_t n, uint64_t now_ms)
{
    bool *fresh = xmalloc((n + 1) * sizeof *fresh);
    size_t i = 0, j = 0, n_fresh = 0;

    /* Merge against the old set: what it lacked, or had not announced
     * yet, is fresh. */
    for (i = 0; i < n; i++) {
        int c = 1;

        while (j < a->n
               && (c = addr_cmp(&a->targets[j].addr, &t[i].addr)) < 0) {
            j++;
        }
        fresh[i] = j >= a->n || c || a->fresh[j];
        n_fresh += fresh[i];
    }
    if (!a->n) {
        a->round_start = now_ms;    /* The first round follows the burst. */
        a->cursor = 0;
    }
    free(a->targets);
    free(a->fresh);
    a->targets = t;
    a->fresh = fresh;
    a->n = n;
    a->n_fresh = n_fresh;
    a->cursor = MIN(a->cursor, n);
}

size_t
announcer_due(struct announcer *a, uint64_t now_ms,
              const struct announce_target **out, uint64_t *next_ms)
{
    uint64_t I = a->interval_ms;
    size_t count = 0;

    for (size_t i = 0; i < a->n && a->n_fresh && count < ANNOUNCE_BURST;
         i++) {
        if (a->fresh[i]) {
            a->fresh[i] = false;
            a->n_fresh--;
            out[count++] = &a->targets[i];
        }
    }

    if (a->n && a->cursor >= a->n && now_ms >= a->round_start + I) {
        a->round_start = now_ms;
        a->cursor = 0;
    }
    if (a->n && now_ms >= a->round_start) {
        /* Spread evenly: by 'now' the first ceil(n * elapsed / I) are due. */
        uint64_t elapsed = MIN(now_ms - a->round_start, I);
        size_t want = (a->n * elapsed + I - 1) / I;

        while (a->cursor < want && count < ANNOUNCE_BURST) {
            out[count++] = &a->targets[a->cursor++];
        }
    }

    if (!a->n) {
        *next_ms = UINT64_MAX;
    } else if (a->n_fresh || count >= ANNOUNCE_BURST) {
        *next_ms = now_ms + ANNOUNCE_MIN_STEP_MS;
    } else if (a->cursor < a->n) {
        uint64_t t = a->round_start + a->cursor * I / a->n + 1;
        *next_ms = MAX(t, now_ms + ANNOUNCE_MIN_STEP_MS);
    } else {
        *next_ms = MAX(a->round_start + I, now_ms + 1);
    }
    return count;
}
