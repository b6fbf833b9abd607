/* Answers built from a client's packet: see answers.h. */
#include <config.h>
#include "answers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "csum.h"
#include "ipfrag.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "util.h"

/* What an ICMP error may quote: RFC 1812 (576 bytes in all) and RFC 4443
 * (1280). */
#define ICMP4_MAX 576
#define ICMP6_MAX 1280


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

int
answer_icmp(const void *pkt_, size_t len, enum answer_icmp kind, int mtu,
            struct ofpbuf *out)
{
    const uint8_t *pkt = pkt_;
    uint16_t type;
    size_t l3 = ipfrag_l3_offset(pkt, len, &type);
    const uint8_t *ip = pkt + l3;
    size_t ip_len = len - l3;
    struct eth_header *eh;

    if (!l3 || (pkt[6] & 1)) {
        return 0;               /* No IP, or a multicast source MAC. */
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

        h[20] = 3;                          /* Destination unreachable: */
        if (kind == ANSWER_TOO_BIG) {
            h[21] = 4;                      /* fragmentation needed. */
            h[26] = mtu >> 8;
            h[27] = mtu & 0xff;
        } else {
            h[21] = 3;                      /* port unreachable. */
        }
        ofpbuf_put(out, ip, quote);
        h = (uint8_t *) out->data + out->size - quote - 8;
        c = csum(h, 8 + quote);
        memcpy(h + 2, &c, 2);
        return AF_INET;
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

        if (kind == ANSWER_TOO_BIG) {
            h[40] = 2;                      /* Packet too big. */
            be = htonl(MAX(mtu, 1280));
            memcpy(h + 44, &be, 4);
        } else {
            h[40] = 1;                      /* Destination unreachable: */
            h[41] = 4;                      /* port unreachable. */
        }
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
        return AF_INET6;
    }
    return 0;
}


bool
answer_tcp_rst(const void *pkt_, size_t len, struct ofpbuf *out)
{
    const uint8_t *pkt = pkt_;
    uint16_t type;
    size_t l3 = ipfrag_l3_offset(pkt, len, &type);
    const uint8_t *ip = pkt + l3, *tcp;
    size_t ip_len = len - l3, hl, tcp_len, data;
    struct eth_header *eh;
    uint32_t seq, ack, partial;
    bool v6;
    uint8_t *h, *t;

    if (!l3 || (pkt[6] & 1)) {
        return false;
    }
    if (type == ETH_TYPE_IP && ip_len >= 20 && ip4_may_answer(ip, ip_len)
        && ip[9] == IPPROTO_TCP) {
        size_t total = (ip[2] << 8) | ip[3];
        hl = (ip[0] & 0xf) * 4;
        v6 = false;
        if (total < hl || total > ip_len) {
            return false;
        }
        ip_len = total;
    } else if (type == ETH_TYPE_IPV6 && ip6_may_answer(ip, ip_len)
               && ip[6] == IPPROTO_TCP) {
        size_t plen = (ip[4] << 8) | ip[5];
        hl = 40;
        v6 = true;
        if (40 + plen > ip_len) {
            return false;
        }
        ip_len = 40 + plen;
    } else {
        return false;
    }
    if (ip_len < hl + 20) {
        return false;
    }
    tcp = ip + hl;
    tcp_len = ip_len - hl;
    if (tcp[13] & 0x04) {
        return false;                       /* Never reset a reset. */
    }
    data = tcp_len - MIN(tcp_len, (size_t) (tcp[12] >> 4) * 4);
    memcpy(&seq, tcp + 4, 4);
    memcpy(&ack, tcp + 8, 4);
    /* What it carried: its data, and a SYN and a FIN count one each. */
    ack = htonl(ntohl(seq) + data + !!(tcp[13] & 0x02) + !!(tcp[13] & 0x01));

    eh = ofpbuf_put_uninit(out, sizeof *eh);
    memcpy(eh->eth_dst.ea, pkt + 6, 6);
    memcpy(eh->eth_src.ea, pkt, 6);
    eh->eth_type = htons(v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP);
    h = ofpbuf_put_zeros(out, (v6 ? 40 : 20) + 20);
    t = h + (v6 ? 40 : 20);
    if (v6) {
        h[0] = 0x60;
        h[5] = 20;
        h[6] = IPPROTO_TCP;
        h[7] = 64;
        memcpy(h + 8, ip + 24, 16);
        memcpy(h + 24, ip + 8, 16);
        partial = csum_continue(0, h + 8, 32);
    } else {
        h[0] = 0x45;
        h[3] = 40;
        h[8] = 64;
        h[9] = IPPROTO_TCP;
        memcpy(h + 12, ip + 16, 4);
        memcpy(h + 16, ip + 12, 4);
        ovs_be16 c = csum(h, 20);
        memcpy(h + 10, &c, 2);
        partial = csum_continue(0, h + 12, 8);
    }
    memcpy(t, tcp + 2, 2);                  /* Ports swapped. */
    memcpy(t + 2, tcp, 2);
    if (tcp[13] & 0x10) {
        memcpy(t + 4, tcp + 8, 4);          /* seq = its ack. */
    }
    memcpy(t + 8, &ack, 4);
    t[12] = 5 << 4;
    t[13] = 0x04 | 0x10;                    /* RST, ACK. */
    partial = csum_add16(partial, htons(IPPROTO_TCP));
    partial = csum_add16(partial, htons(20));
    partial = csum_continue(partial, t, 20);
    ovs_be16 c = csum_finish(partial);
    memcpy(t + 16, &c, 2);
    return true;
}
