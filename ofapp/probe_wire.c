/* Health probes as bytes: see probe_wire.h. */
#include <config.h>
#include "probe_wire.h"

#include <netinet/in.h>
#include <string.h>

#include "csum.h"
#include "util.h"

static void
put16(uint8_t *p, uint16_t x)
{
    p[0] = x >> 8;
    p[1] = x;
}

static void
put32(uint8_t *p, uint32_t x)
{
    put16(p, x >> 16);
    put16(p + 2, x);
}

static uint16_t
get16(const uint8_t *p)
{
    return (p[0] << 8) | p[1];
}

static uint32_t
get32(const uint8_t *p)
{
    return ((uint32_t) get16(p) << 16) | get16(p + 2);
}

/* A frame under construction: 'f' and where its L4 header is. */
struct builder {
    struct probe_frame *f;
    size_t l4;                  /* Offset of the L4 header. */
    bool v6;
    uint8_t proto;
};

/* Starts an Ethernet frame from src to dst holding 'l4_len' bytes of
 * protocol 'proto', whose header the caller writes at the returned
 * pointer, then finish_l4() computes its checksum. */
static uint8_t *
start_frame(struct builder *bf, struct probe_frame *f, const struct mslb_mac *eth_src,
            const struct mslb_mac *eth_dst, const struct mslb_addr *src,
            const struct mslb_addr *dst, uint8_t proto, size_t l4_len)
{
    uint8_t *ip = f->b + 14;

    bf->f = f;
    bf->v6 = src->family == AF_INET6;
    bf->proto = proto;
    bf->l4 = 14 + (bf->v6 ? 40 : 20);
    f->len = bf->l4 + l4_len;
    memset(f->b, 0, f->len);
    memcpy(f->b, eth_dst->b, 6);
    memcpy(f->b + 6, eth_src->b, 6);
    put16(f->b + 12, bf->v6 ? 0x86dd : 0x0800);
    if (bf->v6) {
        ip[0] = 0x60;
        put16(ip + 4, l4_len);
        ip[6] = proto;
        ip[7] = 64;
        memcpy(ip + 8, &src->v6, 16);
        memcpy(ip + 24, &dst->v6, 16);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, 20 + l4_len);
        put16(ip + 6, 0x4000);          /* DF. */
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, &src->v4, 4);
        memcpy(ip + 16, &dst->v4, 4);
        ovs_be16 c = csum(ip, 20);
        memcpy(ip + 10, &c, 2);
    }
    return f->b + bf->l4;
}

/* The L4 checksum at offset 'ofs' of the L4 header: with the
 * pseudo-header, except for ICMPv4. */
static void
finish_l4(const struct builder *bf, size_t ofs)
{
    struct probe_frame *f = bf->f;
    const uint8_t *ip = f->b + 14;
    size_t l4_len = f->len - bf->l4;
    uint32_t sum = 0;

    ovs_be16 c;

    if (bf->proto != IPPROTO_ICMP) {
        /* The pseudo-header: addresses, protocol, upper-layer length. */
        sum = bf->v6 ? csum_continue(0, ip + 8, 32)
                     : csum_continue(0, ip + 12, 8);
        sum = csum_add16(sum, htons(bf->proto));
        sum = csum_add16(sum, htons(l4_len));
    }
    put16(f->b + bf->l4 + ofs, 0);
    c = csum_finish(csum_continue(sum, f->b + bf->l4, l4_len));
    memcpy(f->b + bf->l4 + ofs, &c, 2);
}

void
probe_frame_tcp(struct probe_frame *f, const struct mslb_mac *eth_src,
                const struct mslb_mac *eth_dst, const struct mslb_addr *src,
                uint16_t sport, const struct mslb_addr *dst, uint16_t dport,
                uint8_t flags, uint32_t seq, uint32_t ack,
                const void *data, size_t len)
{
    struct builder bf;
    uint8_t *tcp;

    len = MIN(len, 1400);
    tcp = start_frame(&bf, f, eth_src, eth_dst, src, dst, IPPROTO_TCP,
                      20 + len);

    put16(tcp, sport);
    put16(tcp + 2, dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    if (len) {
        memcpy(tcp + 20, data, len);
    }
    finish_l4(&bf, 16);
}

void
probe_frame_udp(struct probe_frame *f, const struct mslb_mac *eth_src,
                const struct mslb_mac *eth_dst, const struct mslb_addr *src,
                uint16_t sport, const struct mslb_addr *dst, uint16_t dport,
                const void *data, size_t len)
{
    struct builder bf;
    uint8_t *udp;

    len = MIN(len, 1400);
    udp = start_frame(&bf, f, eth_src, eth_dst, src, dst, IPPROTO_UDP,
                      8 + len);
    put16(udp, sport);
    put16(udp + 2, dport);
    put16(udp + 4, 8 + len);
    if (len) {
        memcpy(udp + 8, data, len);
    }
    finish_l4(&bf, 6);
    if (!get16(udp + 6)) {
        put16(udp + 6, 0xffff);         /* 0 means none. */
    }
}

void
probe_frame_echo(struct probe_frame *f, const struct mslb_mac *eth_src,
                 const struct mslb_mac *eth_dst, const struct mslb_addr *src,
                 const struct mslb_addr *dst, uint16_t id, uint16_t seq)
{
    bool v6 = src->family == AF_INET6;
    struct builder bf;
    uint8_t *icmp;

    icmp = start_frame(&bf, f, eth_src, eth_dst, src, dst,
                       v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 8 + 8);
    icmp[0] = v6 ? 128 : 8;
    put16(icmp + 4, id);
    put16(icmp + 6, seq);
    memcpy(icmp + 8, "mslb-hc!", 8);
    finish_l4(&bf, 2);
}

/* The IP header at 'ip' ('len' bytes): its addresses, protocol and the
 * offset of its payload, or 0. */
static size_t
parse_ip(const uint8_t *ip, size_t len, struct mslb_addr *src,
         struct mslb_addr *dst, uint8_t *proto, size_t *l4_len)
{
    memset(src, 0, sizeof *src);
    memset(dst, 0, sizeof *dst);
    if (len >= 20 && ip[0] >> 4 == 4) {
        size_t ihl = (ip[0] & 0xf) * 4, total = get16(ip + 2);
        if (ihl < 20 || total < ihl || total > len
            || (get16(ip + 6) & 0x3fff)) {  /* Fragments are not ours. */
            return 0;
        }
        src->family = dst->family = AF_INET;
        memcpy(&src->v4, ip + 12, 4);
        memcpy(&dst->v4, ip + 16, 4);
        *proto = ip[9];
        *l4_len = total - ihl;
        return ihl;
    }
    if (len >= 40 && ip[0] >> 4 == 6) {
        size_t plen = get16(ip + 4);
        if (40 + plen > len) {
            plen = len - 40;            /* Quoted: maybe cut short. */
        }
        src->family = dst->family = AF_INET6;
        memcpy(&src->v6, ip + 8, 16);
        memcpy(&dst->v6, ip + 24, 16);
        *proto = ip[6];
        *l4_len = plen;
        return 40;
    }
    return 0;
}

bool
probe_parse_answer(const uint8_t *p, size_t len, struct probe_answer *a)
{
    const uint8_t *ip, *l4;
    size_t hl, l4_len;

    memset(a, 0, sizeof *a);
    if (len < 14) {
        return false;
    }
    ip = p + 14;
    hl = parse_ip(ip, len - 14, &a->src, &a->dst, &a->proto, &l4_len);
    if (!hl) {
        return false;
    }
    l4 = ip + hl;
    if (a->proto == IPPROTO_TCP && l4_len >= 20) {
        size_t off = (l4[12] >> 4) * 4;
        a->sport = get16(l4);
        a->dport = get16(l4 + 2);
        a->seq = get32(l4 + 4);
        a->ack = get32(l4 + 8);
        a->flags = l4[13];
        if (off < 20 || off > l4_len) {
            return false;
        }
        a->data = l4 + off;
        a->len = l4_len - off;
        return true;
    }
    if (a->proto == IPPROTO_UDP && l4_len >= 8) {
        a->sport = get16(l4);
        a->dport = get16(l4 + 2);
        a->data = l4 + 8;
        a->len = MIN(l4_len, get16(l4 + 4)) - MIN(8, get16(l4 + 4));
        return true;
    }
    if ((a->proto == IPPROTO_ICMP || a->proto == IPPROTO_ICMPV6)
        && l4_len >= 8) {
        bool v6 = a->proto == IPPROTO_ICMPV6;
        uint8_t type = l4[0], code = l4[1];

        if (type == (v6 ? 129 : 0)) {           /* Echo reply. */
            a->dport = get16(l4 + 4);
            a->sport = get16(l4 + 6);
            return true;
        }
        if (v6 ? type == 1 && code == 4 : type == 3 && code == 3) {
            /* Port unreachable: the quoted datagram is ours if it went
             * from this packet's destination. */
            struct mslb_addr qs, qd;
            uint8_t qproto;
            size_t q_l4;
            size_t qhl = parse_ip(l4 + 8, l4_len - 8, &qs, &qd, &qproto,
                                  &q_l4);
            if (!qhl || qproto != IPPROTO_UDP || l4_len < 8 + qhl + 4) {
                return false;
            }
            a->proto = IPPROTO_UDP;
            a->unreachable = true;
            a->src = qd;
            a->dst = qs;
            a->dport = get16(l4 + 8 + qhl);
            a->sport = get16(l4 + 8 + qhl + 2);
            return true;
        }
    }
    return false;
}

