/* Fragments to VIPs: see fragments.h. */
#include <config.h>
#include "fragments.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "byte-order.h"
#include "flow.h"
#include "hash.h"
#include "timeval.h"
#include "util.h"

#include "ipfrag.h"
#include "mslb/compile.h"
#include "mslb/modeldb.h"
#include "mslb/pipeline.h"
#include "ofsession.h"

VLOG_DEFINE_THIS_MODULE(fragments);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

static struct frags_counters counters;

void
frags_get_counters(struct frags_counters *c)
{
    *c = counters;
}

struct dgram_key {
    int family;
    uint8_t src[16], dst[16];
    uint32_t id;
    uint8_t proto;              /* IPv4 only: IPv6 later fragments do not
                                 * show it before the fragment header. */
};

enum dgram_state {
    DG_WAIT_HEAD,               /* Holding, until the first fragment. */
    DG_PROBING,                 /* Holding, until the probe comes back. */
    DG_FORWARD,                 /* Each fragment with 'actions'. */
    DG_SWITCH,                  /* Each fragment to NORMAL. */
    DG_ECHO,                    /* Holding, to answer when whole. */
    DG_DROP,
};

struct dgram {
    struct hmap_node node;      /* In frags->dgrams, by key. */
    struct hmap_node token_node;    /* In frags->probes while probing. */
    struct ovs_list lru;        /* In frags->lru, oldest first. */
    struct dgram_key key;
    uint32_t token;
    ofp_port_t in_port;
    long long int expires;
    enum dgram_state state;
    uint32_t service;           /* While probing. */
    struct ofpbuf actions;      /* DG_FORWARD. */
    struct ofpbuf *held[FRAGS_MAX_FRAGMENTS];
    size_t n_held;
    size_t n_frags;             /* Seen. */
    size_t seen;                /* Bytes of data seen. */
    size_t total;               /* Bytes of data in all; 0: unknown yet. */
    size_t largest;             /* The largest fragment's IP size. */
};

struct frags {
    char *bridge;
    struct hmap dgrams;
    struct hmap probes;
    struct ovs_list lru;
    size_t n;
    size_t held_bytes;
    uint32_t next_token;
};

struct frags *
frags_create(const char *bridge_name)
{
    struct frags *fr = xzalloc(sizeof *fr);

    fr->bridge = xstrdup(bridge_name);
    hmap_init(&fr->dgrams);
    hmap_init(&fr->probes);
    ovs_list_init(&fr->lru);
    return fr;
}

static void
dgram_release_held(struct frags *fr, struct dgram *d)
{
    for (size_t i = 0; i < d->n_held; i++) {
        fr->held_bytes -= d->held[i]->size;
        ofpbuf_delete(d->held[i]);
    }
    d->n_held = 0;
}

static void
dgram_destroy(struct frags *fr, struct dgram *d)
{
    dgram_release_held(fr, d);
    if (d->state == DG_PROBING) {
        hmap_remove(&fr->probes, &d->token_node);
    }
    hmap_remove(&fr->dgrams, &d->node);
    ovs_list_remove(&d->lru);
    ofpbuf_uninit(&d->actions);
    fr->n--;
    free(d);
}

void
frags_destroy(struct frags *fr)
{
    if (fr) {
        struct dgram *d;

        LIST_FOR_EACH_SAFE (d, lru, &fr->lru) {
            dgram_destroy(fr, d);
        }
        hmap_destroy(&fr->dgrams);
        hmap_destroy(&fr->probes);
        free(fr->bridge);
        free(fr);
    }
}

static uint32_t
key_hash(const struct dgram_key *k)
{
    return hash_bytes(k, sizeof *k, 0);
}

static struct dgram *
dgram_find(struct frags *fr, const struct dgram_key *k, uint32_t hash)
{
    struct dgram *d;

    HMAP_FOR_EACH_WITH_HASH (d, node, hash, &fr->dgrams) {
        if (!memcmp(&d->key, k, sizeof *k)) {
            return d;
        }
    }
    return NULL;
}

/* Forgets datagrams past their time, and the oldest ones while the table is
 * full. */
static void
expire(struct frags *fr, long long int now)
{
    struct dgram *d;

    LIST_FOR_EACH_SAFE (d, lru, &fr->lru) {
        if (d->expires > now && fr->n < FRAGS_MAX_DATAGRAMS) {
            break;
        }
        if (d->state == DG_WAIT_HEAD || d->state == DG_PROBING
            || d->state == DG_ECHO || d->total == 0 || d->seen < d->total) {
            counters.expired++;
            VLOG_DBG_RL(&rl, "bridge %s: datagram id %"PRIu32" not whole "
                        "in time (%zu fragments)", fr->bridge, d->key.id,
                        d->n_frags);
        }
        dgram_destroy(fr, d);
    }
}

/* ---- Sending. ---- */

static void
send_with(struct ofsession *s, const struct dgram *d, const void *frame,
          size_t len, const struct ofpbuf *ofpacts)
{
    ofsession_packet_out(s, d->in_port, frame, len, ofpacts->data,
                         ofpacts->size);
}

static void
send_one(struct ofsession *s, struct dgram *d, const void *frame, size_t len)
{
    if (d->state == DG_FORWARD) {
        send_with(s, d, frame, len, &d->actions);
    } else if (d->state == DG_SWITCH) {
        uint64_t stub[64 / 8];
        struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);

        ofpact_put_OUTPUT(&ofpacts)->port = OFPP_NORMAL;
        send_with(s, d, frame, len, &ofpacts);
        ofpbuf_uninit(&ofpacts);
    }
}

/* Sends (or drops) what 'd' holds, now that it is decided. */
static void
flush(struct frags *fr, struct ofsession *s, struct dgram *d)
{
    for (size_t i = 0; i < d->n_held; i++) {
        send_one(s, d, d->held[i]->data, d->held[i]->size);
    }
    dgram_release_held(fr, d);
}

struct echo_ctx {
    struct ofsession *s;
    ofp_port_t in_port;
};

static void
send_echo_fragment(void *ctx_, const void *frag, size_t len)
{
    struct echo_ctx *ctx = ctx_;
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);

    ofpact_put_OUTPUT(&ofpacts)->port = OFPP_IN_PORT;
    ofsession_packet_out(ctx->s, ctx->in_port, frag, len, ofpacts.data,
                         ofpacts.size);
    ofpbuf_uninit(&ofpacts);
}

/* A whole echo request to a VIP: answered from the VIP, in fragments no
 * bigger than the request's largest. */
static void
answer_echo(struct frags *fr, struct ofsession *s, struct dgram *d,
            const struct frags_env *env)
{
    const uint8_t *frames[FRAGS_MAX_FRAGMENTS];
    size_t lens[FRAGS_MAX_FRAGMENTS];
    struct ofpbuf whole, reply;

    for (size_t i = 0; i < d->n_held; i++) {
        frames[i] = d->held[i]->data;
        lens[i] = d->held[i]->size;
    }
    ofpbuf_init(&whole, 0);
    ofpbuf_init(&reply, 0);
    if (ipfrag_reassemble(frames, lens, d->n_held, &whole)
        && ipfrag_echo_reply(whole.data, whole.size, env->br->mac.b,
                             &reply)) {
        struct echo_ctx ctx = { .s = s, .in_port = d->in_port };

        if (ipfrag_split(reply.data, reply.size, d->largest,
                         d->key.id ^ 0x5a5a5a5a, send_echo_fragment, &ctx)) {
            counters.answered++;
        } else {
            counters.dropped++;
        }
    } else {
        counters.dropped++;
        VLOG_DBG_RL(&rl, "bridge %s: echo request in fragments does not "
                    "reassemble", fr->bridge);
    }
    ofpbuf_uninit(&whole);
    ofpbuf_uninit(&reply);
}

/* ---- Deciding. ---- */

static const struct model_service *
find_service(const struct frags_env *env, const struct ipfrag *f,
             uint8_t proto, uint16_t port)
{
    static const struct { bool proto, port; } tries[] = {
        { true, true }, { true, false }, { false, false },
    };

    for (size_t i = 0; i < ARRAY_SIZE(tries); i++) {
        const struct model_service *svc;
        struct model_service key;

        memset(&key, 0, sizeof key);
        key.vip.family = f->family;
        memcpy(f->family == AF_INET ? (void *) &key.vip.v4
               : (void *) &key.vip.v6, f->dst, f->family == AF_INET ? 4 : 16);
        key.proto = tries[i].proto ? proto : 0;
        key.port = tries[i].port ? port : 0;
        if ((tries[i].port && !port) || (tries[i].proto && !proto)) {
            continue;
        }
        svc = mdb_find_service_by_key(env->mdb, &key);
        if (svc && model_service_on_bridge(svc, env->br->name)) {
            return svc;
        }
    }
    return NULL;
}

static bool
has_ports(uint8_t proto)
{
    return proto == IPPROTO_TCP || proto == IPPROTO_UDP
           || proto == IPPROTO_SCTP;
}

static bool
is_echo_request(const uint8_t *pkt, const struct ipfrag *f, uint8_t proto,
                size_t l4)
{
    return (f->family == AF_INET && proto == IPPROTO_ICMP && pkt[l4] == 8)
           || (f->family == AF_INET6 && proto == IPPROTO_ICMPV6
               && pkt[l4] == 128);
}

/* The slot 'svc' gives the datagram's session: what the switch gives a
 * packet of the same 5-tuple that is not a fragment (it hashes fragments
 * without their ports). */
static uint32_t
datagram_slot(const struct model_service *svc, const struct ipfrag *f,
              uint8_t proto, uint16_t sport, uint16_t dport,
              const struct frags_env *env)
{
    struct flow flow;

    memset(&flow, 0, sizeof flow);
    if (f->family == AF_INET) {
        flow.dl_type = htons(ETH_TYPE_IP);
        memcpy(&flow.nw_src, f->src, 4);
        memcpy(&flow.nw_dst, f->dst, 4);
    } else {
        flow.dl_type = htons(ETH_TYPE_IPV6);
        memcpy(&flow.ipv6_src, f->src, 16);
        memcpy(&flow.ipv6_dst, f->dst, 16);
    }
    flow.nw_proto = proto;
    flow.tp_src = htons(sport);
    flow.tp_dst = htons(dport);
    return compile_slot_of(svc, env->ports->of15, &flow);
}

/* The first fragment 'pkt' of 'd' has come: decides where the datagram
 * goes. */
static void
decide(struct frags *fr, struct ofsession *s, struct dgram *d,
       const uint8_t *pkt, const struct ipfrag *f,
       const struct frags_env *env)
{
    const struct model_service *svc;
    uint16_t sport = 0, dport = 0;
    uint8_t proto;
    size_t l4;

    if (!ipfrag_upper(pkt, f, &proto, &l4)) {
        d->state = DG_DROP;
        counters.dropped++;
        return;
    }
    if (has_ports(proto)) {
        sport = (pkt[l4] << 8) | pkt[l4 + 1];
        dport = (pkt[l4 + 2] << 8) | pkt[l4 + 3];
    }
    svc = find_service(env, f, proto, dport);
    if (!svc) {
        if (is_echo_request(pkt, f, proto, l4)) {
            d->state = DG_ECHO;
        } else {
            d->state = DG_SWITCH;
            counters.switched++;
        }
        return;
    }
    uint32_t slot = datagram_slot(svc, f, proto, sport, dport, env);
    if (compile_fragment_probe(svc, proto, slot, d->token, &d->actions)) {
        d->state = DG_PROBING;
        d->service = svc->id;
        hmap_insert(&fr->probes, &d->token_node, hash_int(d->token, 0));
        send_with(s, d, pkt, f->data + f->len, &d->actions);
        ofpbuf_clear(&d->actions);
        return;
    }

    const struct model_backend *be = NULL;
    if (svc->mode == MODEL_MODE_NAT) {
        /* A new session gets what its slot names; conntrack keeps an
         * existing session's translation whatever this says. */
        be = svc->slots.n_slots
             ? model_find_backend_by_key(svc, svc->slots.owner[slot])
             : NULL;
        if (!be) {
            d->state = DG_DROP;
            counters.dropped++;
            return;
        }
        /* ovs-vswitchd cannot resume a packet-out after ct(table=...)
         * when its in_port is a patch port (the upcall finds no port and
         * drops it), so NAT fragments come from the controller; NAT_OUT's
         * fragment flows name the backend port (not IN_PORT) for that. */
        d->in_port = OFPP_CONTROLLER;
    }
    compile_fragment_actions(svc, be, env->br, env->ports, &d->actions);
    d->state = DG_FORWARD;
    counters.forwarded++;
    VLOG_DBG_RL(&rl, "bridge %s: datagram id %"PRIu32" (ports %u>%u) to "
                "service %s", fr->bridge, d->key.id, sport, dport, svc->name);
}

/* A probe came back from DSR_FORWARD: the backend is in reg1. */
static void
probe_answered(struct frags *fr, struct ofsession *s, uint32_t token,
               uint32_t backend_key, const struct frags_env *env)
{
    const struct model_service *svc;
    struct dgram *d;

    HMAP_FOR_EACH_WITH_HASH (d, token_node, hash_int(token, 0),
                             &fr->probes) {
        if (d->token == token) {
            break;
        }
    }
    if (!d) {
        return;                 /* Expired meanwhile. */
    }
    hmap_remove(&fr->probes, &d->token_node);
    svc = mdb_find_service_by_id(env->mdb, d->service);
    d->state = DG_DROP;
    for (size_t i = 0; svc && i < svc->n_backends; i++) {
        if (svc->backends[i].key == backend_key) {
            compile_fragment_actions(svc, &svc->backends[i], env->br,
                                     env->ports, &d->actions);
            d->state = DG_FORWARD;
            counters.forwarded++;
            break;
        }
    }
    if (d->state == DG_DROP) {
        counters.dropped++;
    }
    flush(fr, s, d);
    if (d->total && d->seen >= d->total) {
        dgram_destroy(fr, d);
    }
}

/* ---- Receiving. ---- */

static bool
hold(struct frags *fr, struct dgram *d, const void *pkt, size_t len)
{
    if (d->n_held >= FRAGS_MAX_FRAGMENTS
        || fr->held_bytes + len > FRAGS_MAX_HELD_BYTES) {
        return false;
    }
    d->held[d->n_held++] = ofpbuf_clone_data(pkt, len);
    fr->held_bytes += len;
    return true;
}

static void
fragment_in(struct frags *fr, struct ofsession *s, ofp_port_t in_port,
            const uint8_t *pkt, size_t len, const struct frags_env *env)
{
    long long int now = time_msec();
    struct dgram_key key;
    struct ipfrag f;
    struct dgram *d;
    uint32_t hash;

    counters.fragments++;
    if (!ipfrag_parse(pkt, len, &f)) {
        counters.dropped++;
        return;
    }
    len = f.data + f.len;       /* Without Ethernet padding. */
    expire(fr, now);

    memset(&key, 0, sizeof key);
    key.family = f.family;
    memcpy(key.src, f.src, 16);
    memcpy(key.dst, f.dst, 16);
    key.id = f.id;
    key.proto = f.family == AF_INET ? f.proto : 0;
    hash = key_hash(&key);
    d = dgram_find(fr, &key, hash);
    if (!d) {
        /* expire() left room for one more. */
        d = xzalloc(sizeof *d);
        d->key = key;
        d->in_port = in_port;
        d->expires = now + FRAGS_TIMEOUT_MS;
        d->token = ++fr->next_token & ~MSLB_PROBE_FLAG;
        if (!d->token) {
            d->token = fr->next_token = 1;
        }
        ofpbuf_init(&d->actions, 64);
        hmap_insert(&fr->dgrams, &d->node, hash);
        ovs_list_push_back(&fr->lru, &d->lru);
        fr->n++;
    }
    d->n_frags++;
    d->seen += f.len;
    d->largest = MAX(d->largest, len - f.l3);
    if (!f.more) {
        d->total = f.offset + f.len;
    }

    switch (d->state) {
    case DG_WAIT_HEAD:
        if (!hold(fr, d, pkt, len)) {
            counters.dropped++;
            d->state = DG_DROP;
            dgram_release_held(fr, d);
            break;
        }
        if (!f.offset) {
            decide(fr, s, d, pkt, &f, env);
            if (d->state != DG_PROBING && d->state != DG_ECHO) {
                flush(fr, s, d);
            }
        }
        break;
    case DG_PROBING:
    case DG_ECHO:
        if (!hold(fr, d, pkt, len)) {
            counters.dropped++;
            if (d->state == DG_PROBING) {
                hmap_remove(&fr->probes, &d->token_node);
            }
            d->state = DG_DROP;
            dgram_release_held(fr, d);
        }
        break;
    case DG_FORWARD:
    case DG_SWITCH:
        send_one(s, d, pkt, len);
        break;
    case DG_DROP:
        break;
    }

    if (d->total && d->seen >= d->total) {
        if (d->state == DG_ECHO) {
            answer_echo(fr, s, d, env);
            dgram_destroy(fr, d);
        } else if (d->state != DG_PROBING && d->state != DG_WAIT_HEAD) {
            dgram_destroy(fr, d);
        }
    }
}

bool
frags_handle_msg(struct frags *fr, struct ofsession *s,
                 const struct ofp_header *oh, enum ofptype type,
                 const struct frags_env *env)
{
    struct ofputil_packet_in pin;
    const struct flow *md;
    size_t total_len;
    uint32_t buffer_id;

    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                    &buffer_id, NULL)) {
        return false;
    }
    md = &pin.flow_metadata.flow;
    if (pin.table_id == MSLB_T_DSR_FORWARD
        && (md->regs[4] & MSLB_PROBE_FLAG)) {
        if (env->br && env->ports) {
            probe_answered(fr, s, md->regs[4] & ~MSLB_PROBE_FLAG,
                           md->regs[1], env);
        }
        return true;
    }
    if (pin.table_id != MSLB_T_CLASSIFY
        || pin.cookie != htonll(mslb_cookie(MSLB_COOKIE_VIP, 0))) {
        return false;
    }
    if (total_len != pin.packet_len || !env->br || !env->ports) {
        counters.dropped++;
        return true;
    }
    fragment_in(fr, s, md->in_port.ofp_port, pin.packet, pin.packet_len,
                env);
    return true;
}
