/* Path MTU answers for the tunnelling modes: see pmtu.h. */
#include <config.h>
#include "pmtu.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "csum.h"
#include "ipfrag.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "timeval.h"
#include "util.h"

#include "mslb/pipeline.h"
#include "ofsession.h"

VLOG_DEFINE_THIS_MODULE(pmtu);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Answers per second and burst, per bridge: enough for many clients'
 * path-MTU discovery (one answer each per path), little for a flood. */
#define PMTU_RATE 200
#define PMTU_BURST 200

/* What an ICMP error may quote: RFC 1812 (576 bytes in all) and RFC 4443
 * (1280). */
#define ICMP4_MAX 576
#define ICMP6_MAX 1280

static struct pmtu_counters counters;

struct pmtu {
    char *bridge;
    long long int last_ms;      /* Tokens as of then. */
    int tokens;
};

void
pmtu_get_counters(struct pmtu_counters *c)
{
    *c = counters;
}

struct pmtu *
pmtu_create(const char *bridge_name)
{
    struct pmtu *p = xzalloc(sizeof *p);

    p->bridge = xstrdup(bridge_name);
    p->tokens = PMTU_BURST;
    p->last_ms = time_msec();
    return p;
}

void
pmtu_destroy(struct pmtu *p)
{
    if (p) {
        free(p->bridge);
        free(p);
    }
}

static bool
take_token(struct pmtu *p)
{
    long long int now = time_msec();
    long long int add = (now - p->last_ms) * PMTU_RATE / 1000;

    if (add > 0) {
        p->tokens = MIN(PMTU_BURST, p->tokens + add);
        p->last_ms = now;
    }
    if (p->tokens <= 0) {
        return false;
    }
    p->tokens--;
    return true;
}

/* ---- Packets. ---- */

static bool
ip4_may_answer(const uint8_t *ip, size_t len)
{
    size_t ihl = (ip[0] & 0xf) * 4;
    ovs_be32 src;

    memcpy(&src, ip + 12, 4);
    if (ihl < 20 || len < ihl || ip_is_multicast(src) || !src
        || src == htonl(0xffffffff)) {
        return false;
    }
    /* Never an error about an error (RFC 1122 3.2.2). */
    if (ip[9] == IPPROTO_ICMP && len >= ihl + 1) {
        uint8_t type = ip[ihl];
        if (type != 0 && type != 8 && type != 13 && type != 14
            && type != 17 && type != 18) {
            return false;
        }
    }
    return true;
}

static bool
ip6_may_answer(const uint8_t *ip, size_t len)
{
    static const uint8_t zero[16];

    if (len < 40 || ip[8] == 0xff || !memcmp(ip + 8, zero, 16)) {
        return false;
    }
    /* An ICMPv6 error right after the fixed header is not answered. */
    if (ip[6] == IPPROTO_ICMPV6 && len >= 41 && ip[40] < 128) {
        return false;
    }
    return true;
}

bool
pmtu_icmp_answer(const void *pkt_, size_t len, int mtu, struct ofpbuf *out)
{
    const uint8_t *pkt = pkt_;
    uint16_t type;
    size_t l3 = ipfrag_l3_offset(pkt, len, &type);
    const uint8_t *ip = pkt + l3;
    size_t ip_len = len - l3;
    struct eth_header *eh;

    if (!l3 || (pkt[6] & 1)) {
        return false;           /* No IP, or a multicast source MAC. */
    }
    if (type == ETH_TYPE_IP && ip_len >= 20 && ip4_may_answer(ip, ip_len)) {
        size_t quote = MIN(ip_len, ICMP4_MAX - 20 - 8);
        size_t total = 20 + 8 + quote;
        uint8_t *h;

        eh = ofpbuf_put_uninit(out, sizeof *eh);
        memcpy(eh->eth_dst.ea, pkt + 6, 6);
        memcpy(eh->eth_src.ea, pkt, 6);
        eh->eth_type = htons(ETH_TYPE_IP);

        h = ofpbuf_put_zeros(out, 28);
        h[0] = 0x45;
        h[2] = total >> 8;
        h[3] = total & 0xff;
        h[8] = 64;                          /* TTL. */
        h[9] = IPPROTO_ICMP;
        memcpy(h + 12, ip + 16, 4);         /* From the VIP... */
        memcpy(h + 16, ip + 12, 4);         /* ...to the client. */
        ovs_be16 c = csum(h, 20);
        memcpy(h + 10, &c, 2);

        h[20] = 3;                          /* Destination unreachable, */
        h[21] = 4;                          /* fragmentation needed. */
        h[26] = mtu >> 8;
        h[27] = mtu & 0xff;
        ofpbuf_put(out, ip, quote);
        h = (uint8_t *) out->data + out->size - quote - 8;
        c = csum(h, 8 + quote);
        memcpy(h + 2, &c, 2);
        counters.icmp4++;
        return true;
    }
    if (type == ETH_TYPE_IPV6 && ip6_may_answer(ip, ip_len)) {
        size_t quote = MIN(ip_len, ICMP6_MAX - 40 - 8);
        uint32_t plen = 8 + quote;
        uint32_t partial = 0;
        ovs_be32 be;
        uint8_t *h;

        eh = ofpbuf_put_uninit(out, sizeof *eh);
        memcpy(eh->eth_dst.ea, pkt + 6, 6);
        memcpy(eh->eth_src.ea, pkt, 6);
        eh->eth_type = htons(ETH_TYPE_IPV6);

        h = ofpbuf_put_zeros(out, 48);
        h[0] = 0x60;
        h[4] = plen >> 8;
        h[5] = plen & 0xff;
        h[6] = IPPROTO_ICMPV6;
        h[7] = 64;                          /* Hop limit. */
        memcpy(h + 8, ip + 24, 16);         /* From the VIP... */
        memcpy(h + 24, ip + 8, 16);         /* ...to the client. */

        h[40] = 2;                          /* Packet too big. */
        be = htonl(MAX(mtu, 1280));
        memcpy(h + 44, &be, 4);
        ofpbuf_put(out, ip, quote);
        h = (uint8_t *) out->data + out->size - quote - 48;

        /* The pseudo-header: addresses, upper-layer length, next header. */
        partial = csum_continue(partial, h + 8, 32);
        be = htonl(plen);
        partial = csum_continue(partial, &be, 4);
        be = htonl(IPPROTO_ICMPV6);
        partial = csum_continue(partial, &be, 4);
        partial = csum_continue(partial, h + 40, plen);
        ovs_be16 c = csum_finish(partial);
        memcpy(h + 42, &c, 2);
        counters.icmp6++;
        return true;
    }
    return false;
}

bool
pmtu_fragment(const void *pkt_, size_t len, int mtu,
              void (*cb)(void *aux, const void *frag, size_t len),
              void *aux)
{
    const uint8_t *pkt = pkt_;
    uint16_t type;

    if (!ipfrag_l3_offset(pkt, len, &type) || type != ETH_TYPE_IP
        || !ipfrag_split(pkt, len, mtu, 0, cb, aux)) {
        return false;
    }
    counters.fragmented++;
    return true;
}

/* ---- The switch. ---- */

struct frag_ctx {
    struct ofsession *s;
    ofp_port_t in_port;
    uint32_t regs[3];
};

static void
put_reg(struct ofpbuf *ofpacts, enum mf_field_id id, uint32_t x)
{
    union mf_value v = { .be32 = htonl(x) };
    ofpact_put_set_field(ofpacts, mf_from_id(id), &v, NULL);
}

/* Sends one fragment through DSR_FORWARD's forwarding flow (reg2 says
 * "checked, fits") for the packet's service and backend. */
static void
send_fragment(void *ctx_, const void *frag, size_t len)
{
    struct frag_ctx *ctx = ctx_;
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    struct ofpact_resubmit *r;

    put_reg(&ofpacts, MFF_REG0, ctx->regs[0]);
    put_reg(&ofpacts, MFF_REG1, ctx->regs[1]);
    put_reg(&ofpacts, MFF_REG2,
            (ctx->regs[2] & ~MSLB_PMTU_TOO_BIG) | MSLB_PMTU_CHECKED);
    r = ofpact_put_RESUBMIT(&ofpacts);
    r->in_port = OFPP_IN_PORT;
    r->table_id = MSLB_T_DSR_FORWARD;
    ofsession_packet_out(ctx->s, ctx->in_port, frag, len, ofpacts.data,
                         ofpacts.size);
    ofpbuf_uninit(&ofpacts);
}

bool
pmtu_handle_msg(struct pmtu *p, struct ofsession *s,
                const struct ofp_header *oh, enum ofptype type)
{
    struct ofputil_packet_in pin;
    struct frag_ctx ctx;
    size_t total_len;
    uint32_t buffer_id;
    const struct flow *md;
    int mtu;

    if (type != OFPTYPE_PACKET_IN
        || ofputil_decode_packet_in(oh, true, NULL, NULL, &pin, &total_len,
                                    &buffer_id, NULL)) {
        return false;
    }
    md = &pin.flow_metadata.flow;
    if (pin.table_id != MSLB_T_DSR_FORWARD
        || (md->regs[2] & (MSLB_PMTU_CHECKED | MSLB_PMTU_TOO_BIG))
           != (MSLB_PMTU_CHECKED | MSLB_PMTU_TOO_BIG)) {
        return false;           /* The packet (in 'oh') is not ours. */
    }
    mtu = md->regs[2] >> MSLB_PMTU_MTU_SHIFT;
    if (total_len != pin.packet_len || !take_token(p)) {
        if (total_len != pin.packet_len) {
            counters.ignored++;
        } else {
            counters.limited++;
        }
        return true;
    }

    ctx.s = s;
    ctx.in_port = md->in_port.ofp_port;
    memcpy(ctx.regs, md->regs, sizeof ctx.regs);
    if (!pmtu_fragment(pin.packet, pin.packet_len, mtu, send_fragment,
                       &ctx)) {
        uint64_t stub[2048 / 8];
        struct ofpbuf icmp = OFPBUF_STUB_INITIALIZER(stub);

        if (pmtu_icmp_answer(pin.packet, pin.packet_len, mtu, &icmp)) {
            uint64_t astub[64 / 8];
            struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(astub);

            ofpact_put_OUTPUT(&ofpacts)->port = ctx.in_port;
            ofsession_packet_out(s, OFPP_CONTROLLER, icmp.data, icmp.size,
                                 ofpacts.data, ofpacts.size);
            ofpbuf_uninit(&ofpacts);
            VLOG_DBG_RL(&rl, "bridge %s: %zu-byte packet over the tunnel's "
                        "MTU %d: ICMP sent", p->bridge, pin.packet_len, mtu);
        } else {
            counters.ignored++;
        }
        ofpbuf_uninit(&icmp);
    }
    return true;
}
