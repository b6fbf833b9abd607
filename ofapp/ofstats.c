/* Statistics collection: see ofstats.h. */
#include <config.h>
#include "ofstats.h"

#include <stdlib.h>
#include <arpa/inet.h>

#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openflow/openflow.h"
#include "byte-order.h"
#include "hash.h"
#include "packets.h"
#include "util.h"

#include "mslb/pipeline.h"
#include "ofsession.h"

/* The flows that count something (restapi/rest_stats.c), one request a
 * (table, cookie kind): service flows of CLASSIFY (the clients' packets;
 * on a final stage a DSR backend's answers), DSR_FORWARD (a DSR backend's
 * packets, SYNs, FINs and RSTs) and NAT_REPLY (an slb host's backend's
 * answers); backend endpoint flows of CLASSIFY (nat replies) and NAT_OUT
 * (nat requests, new and closed sessions).  Only these: a bridge's other
 * flows (slot runs, NAT_REQUEST...) are most of its table and count
 * nothing. */
static const struct { int table; int kind; } counted[] = {
    { MSLB_T_CLASSIFY, MSLB_COOKIE_SERVICE },
    { MSLB_T_DSR_FORWARD, MSLB_COOKIE_SERVICE },
    { MSLB_T_NAT_REPLY, MSLB_COOKIE_SERVICE },
    { MSLB_T_CLASSIFY, MSLB_COOKIE_BACKEND },
    { MSLB_T_NAT_OUT, MSLB_COOKIE_BACKEND },
};
#define N_COUNTED ARRAY_SIZE(counted)
#define LEARNED N_COUNTED       /* The xid of the learned entries. */

/* One collection: a request per counted (table, kind) and one for the
 * learned entries, one callback. */
struct stats_req {
    struct stats_req *next;
    uint32_t xids[N_COUNTED + 1];       /* 0: not sent. */
    int pending;
    json_t *flows, *learned;
    ofstats_cb *cb;
    void *aux;
};

struct ofstats {
    struct stats_req *reqs;
};

struct ofstats *
ofstats_create(void)
{
    return xzalloc(sizeof(struct ofstats));
}

void
ofstats_destroy(struct ofstats *st)
{
    if (st) {
        ofstats_fail_all(st);
        free(st);
    }
}

static uint32_t
request_flows(struct ofsession *s, uint8_t table, uint64_t cookie,
              uint64_t mask)
{
    struct ofputil_flow_stats_request fsr;

    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.cookie = htonll(cookie);
    fsr.cookie_mask = htonll(mask);
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    fsr.table_id = table;
    return ofsession_send(s, ofputil_encode_flow_stats_request(
                              &fsr, ofputil_protocol_from_ofp_version(
                                  ofsession_version(s))));
}

void
ofstats_collect(struct ofstats *st, struct ofsession *s, ofstats_cb *cb,
                void *aux)
{
    struct stats_req *r = xzalloc(sizeof *r);

    r->flows = json_array();
    r->learned = json_array();
    r->cb = cb;
    r->aux = aux;
    for (size_t i = 0; i < N_COUNTED; i++) {
        r->xids[i] = request_flows(s, counted[i].table,
                                   mslb_cookie(counted[i].kind, 0),
                                   MSLB_COOKIE_TAG_MASK
                                   | (0xffULL << MSLB_COOKIE_KIND_SHIFT));
    }
    r->xids[LEARNED] = request_flows(s, MSLB_T_DSR_AFFINITY,
                                     MSLB_LEARNED_COOKIE,
                                     MSLB_COOKIE_TAG_MASK);
    r->pending = N_COUNTED + 1;
    r->next = st->reqs;
    st->reqs = r;
}

void
ofstats_collect_learned(struct ofstats *st, struct ofsession *s,
                        ofstats_cb *cb, void *aux)
{
    struct stats_req *r = xzalloc(sizeof *r);

    r->flows = json_array();
    r->learned = json_array();
    r->cb = cb;
    r->aux = aux;
    r->xids[LEARNED] = request_flows(s, MSLB_T_DSR_AFFINITY,
                                     MSLB_LEARNED_COOKIE,
                                     MSLB_COOKIE_TAG_MASK);
    r->pending = 1;
    r->next = st->reqs;
    st->reqs = r;
}

static void
finish(struct ofstats *st, struct stats_req *r, bool ok)
{
    struct stats_req **p;

    for (p = &st->reqs; *p; p = &(*p)->next) {
        if (*p == r) {
            *p = r->next;
            break;
        }
    }
    if (ok) {
        r->cb(r->aux, json_pack("{s:o, s:o}", "flows", r->flows,
                                "learned", r->learned));
    } else {
        json_decref(r->flows);
        json_decref(r->learned);
        r->cb(r->aux, NULL);
    }
    free(r);
}

void
ofstats_fail_all(struct ofstats *st)
{
    while (st->reqs) {
        finish(st, st->reqs, false);
    }
}

/* A learned entry: its cookie names the service, the reg1 it loads names
 * the backend. */
static void
add_learned(struct stats_req *r, struct ofpbuf *b)
{
    struct ofputil_flow_stats fs;
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    while (!ofputil_decode_flow_stats_reply(&fs, b, false, &ofpacts)) {
        const struct ofpact *a;
        uint32_t backend = 0;

        OFPACT_FOR_EACH (a, fs.ofpacts, fs.ofpacts_len) {
            if (a->type == OFPACT_SET_FIELD) {
                const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
                if (sf->field->id == MFF_REG1) {
                    backend = ntohl(sf->value->be32);
                }
            }
        }
        json_array_append_new(r->learned, json_pack(
            "{s:I, s:I, s:I}", "service",
            (json_int_t) (ntohll(fs.cookie) & 0xffffff),
            "backend", (json_int_t) backend,
            "slot", (json_int_t) fs.match.flow.regs[5]));
    }
    ofpbuf_uninit(&ofpacts);
}

/* Of the flows the requests return, those that count: a DSR backend's
 * answers on its final stage, its forwarding flow and its SYN, FIN and RST
 * copies (a tunnel's first pass only, not the size check's second pass or
 * the probes' flows), and a failed backend's TCP flow that resets its
 * sessions; a nat endpoint's reply flow and its request flows (not the
 * fragments'). */
static bool
flow_counts(const struct ofputil_flow_stats *fs)
{
    int kind = ntohll(fs->cookie) >> MSLB_COOKIE_KIND_SHIFT & 0xff;
    int p = fs->priority;

    if (kind == MSLB_COOKIE_SERVICE) {
        if (fs->table_id == MSLB_T_NAT_REPLY) {
            return p == MSLB_DSR_REPLY_PRIORITY;
        }
        return fs->table_id == MSLB_T_CLASSIFY
               || ((p == 100 || p == MSLB_SYN_COUNT_PRIORITY
                    || p == MSLB_CLOSE_COUNT_PRIORITY)
                   && !(fs->match.flow.regs[2] & fs->match.wc.masks.regs[2]
                        & MSLB_PMTU_CHECKED))
               || (p == MSLB_FAILED_PRIORITY
                   && fs->match.flow.nw_proto == IPPROTO_TCP
                   && fs->match.wc.masks.nw_proto);
    }
    return fs->table_id == MSLB_T_CLASSIFY
           ? p == MSLB_NAT_REPLY_PRIORITY
           : p == MSLB_NAT_OUT_PRIORITY || p == MSLB_NAT_NEW_PRIORITY
             || p == MSLB_NAT_CLOSE_PRIORITY;
}

/* A counted flow's identity from one read to the next (the statistics
 * keeper's key, restapi/rest_stats.c): its cookie, table, priority and the
 * match fields mslb's counted flows differ by, hashed to 64 bits (cheaper
 * to key on than their text). */
static uint64_t
flow_id(const struct ofputil_flow_stats *fs)
{
    const struct flow *f = &fs->match.flow, *m = &fs->match.wc.masks;
    struct {
        uint64_t cookie;
        uint32_t priority, reg1, reg2, reg2_mask, ct_state;
        ovs_be32 nw_dst, nw_src;
        struct in6_addr ipv6_dst, ipv6_src;
        ovs_be16 dl_type, tp_dst, tp_src, tcp_flags, tcp_flags_mask;
        struct eth_addr dl_src;
        uint8_t table, nw_proto;
    } k;

    memset(&k, 0, sizeof k);
    k.cookie = ntohll(fs->cookie);
    k.priority = fs->priority;
    k.reg1 = f->regs[1] & m->regs[1];
    k.reg2 = f->regs[2] & m->regs[2];
    k.reg2_mask = m->regs[2];
    k.ct_state = f->ct_state & m->ct_state;
    k.nw_dst = f->nw_dst & m->nw_dst;
    k.nw_src = f->nw_src & m->nw_src;
    k.ipv6_dst = ipv6_addr_bitand(&f->ipv6_dst, &m->ipv6_dst);
    k.ipv6_src = ipv6_addr_bitand(&f->ipv6_src, &m->ipv6_src);
    k.dl_type = f->dl_type & m->dl_type;
    k.tp_dst = f->tp_dst & m->tp_dst;
    k.tp_src = f->tp_src & m->tp_src;
    k.tcp_flags = f->tcp_flags & m->tcp_flags;
    k.tcp_flags_mask = m->tcp_flags;
    for (int i = 0; i < ARRAY_SIZE(k.dl_src.be16); i++) {
        k.dl_src.be16[i] = f->dl_src.be16[i] & m->dl_src.be16[i];
    }
    k.table = fs->table_id;
    k.nw_proto = f->nw_proto & m->nw_proto;
    return (uint64_t) hash_bytes(&k, sizeof k, 0) << 32
           | hash_bytes(&k, sizeof k, 0x9e3779b9);
}

static void
add_flows(struct stats_req *r, struct ofpbuf *b)
{
    struct ofputil_flow_stats fs;
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    while (!ofputil_decode_flow_stats_reply(&fs, b, false, &ofpacts)) {
        const struct flow *f = &fs.match.flow, *m = &fs.match.wc.masks;
        char addr[INET6_ADDRSTRLEN];

        if (!flow_counts(&fs)) {
            continue;
        }
        /* Only what the statistics read (rest_stats.c): a counted flow is
         * told by its id; the match fields that name its backend or
         * endpoint are set only when the flow matches them. */
        json_t *j = json_pack(
            "{s:I, s:I, s:i, s:i, s:I, s:I, s:f}",
            "id", (json_int_t) flow_id(&fs),
            "cookie", (json_int_t) ntohll(fs.cookie),
            "table", (int) fs.table_id,
            "priority", (int) fs.priority,
            "packets", (json_int_t) fs.packet_count,
            "bytes", (json_int_t) fs.byte_count,
            "duration", fs.duration_sec + fs.duration_nsec / 1e9);

        if (m->nw_proto) {
            json_object_set_new(j, "nw_proto", json_integer(f->nw_proto));
        }
        if (f->dl_type == htons(ETH_TYPE_IP)) {
            if (m->nw_dst) {
                inet_ntop(AF_INET, &f->nw_dst, addr, sizeof addr);
                json_object_set_new(j, "nw_dst", json_string(addr));
            }
            if (m->nw_src) {
                inet_ntop(AF_INET, &f->nw_src, addr, sizeof addr);
                json_object_set_new(j, "nw_src", json_string(addr));
            }
        } else if (f->dl_type == htons(ETH_TYPE_IPV6)) {
            if (!ipv6_mask_is_any(&m->ipv6_dst)) {
                inet_ntop(AF_INET6, &f->ipv6_dst, addr, sizeof addr);
                json_object_set_new(j, "nw_dst", json_string(addr));
            }
            if (!ipv6_mask_is_any(&m->ipv6_src)) {
                inet_ntop(AF_INET6, &f->ipv6_src, addr, sizeof addr);
                json_object_set_new(j, "nw_src", json_string(addr));
            }
        }
        if (m->tp_dst) {
            json_object_set_new(j, "tp_dst", json_integer(ntohs(f->tp_dst)));
        }
        if (m->tp_src) {
            json_object_set_new(j, "tp_src", json_integer(ntohs(f->tp_src)));
        }
        if (!eth_addr_is_zero(m->dl_src)) {
            snprintf(addr, sizeof addr, ETH_ADDR_FMT,
                     ETH_ADDR_ARGS(f->dl_src));
            json_object_set_new(j, "dl_src", json_string(addr));
        }
        if (m->regs[1]) {       /* A DSR_FORWARD flow's backend. */
            json_object_set_new(j, "reg1", json_integer(f->regs[1]));
        }
        json_array_append_new(r->flows, j);
    }
    ofpbuf_uninit(&ofpacts);
}

bool
ofstats_handle_msg(struct ofstats *st, const struct ofp_header *oh,
                   enum ofptype type)
{
    uint32_t xid = ntohl(oh->xid);
    struct stats_req *r;
    int which = -1;
    struct ofpbuf b;

    if (type != OFPTYPE_FLOW_STATS_REPLY) {
        return false;
    }
    for (r = st->reqs; r && which < 0; r = which < 0 ? r->next : r) {
        for (int i = 0; i < ARRAY_SIZE(r->xids); i++) {
            if (r->xids[i] && r->xids[i] == xid) {    /* 0: not sent. */
                which = i;
                break;
            }
        }
    }
    if (!r) {
        return false;
    }
    b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    if (which == LEARNED) {
        add_learned(r, &b);
    } else {
        add_flows(r, &b);
    }
    if (!ofpmp_more(oh) && !--r->pending) {
        finish(st, r, true);
    }
    return true;
}
