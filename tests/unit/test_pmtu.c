/* Path MTU packets (ofapp/pmtu.c): the ICMP "fragmentation needed" and
 * ICMPv6 "packet too big" answers, and IPv4 fragmentation; the refusals of
 * an empty service (ofapp/answers.c): TCP resets, port unreachable. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "csum.h"
#include "openvswitch/ofpbuf.h"
#include "answers.h"
#include "pmtu.h"
#include "util.h"

/* pmtu.c's packet-in handling talks to a switch; these tests never reach
 * it, but the linker wants the session's functions. */
#include "ofsession.h"

void
ofsession_packet_out(struct ofsession *s OVS_UNUSED,
                     ofp_port_t in_port OVS_UNUSED,
                     const void *pkt OVS_UNUSED, size_t len OVS_UNUSED,
                     const struct ofpact *ofpacts OVS_UNUSED,
                     size_t ofpacts_len OVS_UNUSED)
{
}

static const uint8_t lb_mac[6] = { 0x0a, 0, 0, 0, 0, 0x01 };
static const uint8_t c_mac[6] = { 0x0a, 0, 0, 0, 0, 0x10 };

/* An Ethernet frame from the client to the balancer's MAC holding an IPv4
 * TCP packet of 'ip_len' bytes from 198.18.0.10 to 198.18.0.100, with DF
 * if 'df'; the payload counts up. */
static size_t
make_ip4(uint8_t *f, size_t ip_len, bool df)
{
    uint8_t *ip = f + 14;
    ovs_be16 c;

    memcpy(f, lb_mac, 6);
    memcpy(f + 6, c_mac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[2] = ip_len >> 8;
    ip[3] = ip_len & 0xff;
    ip[4] = 0x12;
    ip[5] = 0x34;
    ip[6] = df ? 0x40 : 0;
    ip[8] = 64;
    ip[9] = 6;
    inet_pton(AF_INET, "198.18.0.10", ip + 12);
    inet_pton(AF_INET, "198.18.0.100", ip + 16);
    c = csum(ip, 20);
    memcpy(ip + 10, &c, 2);
    for (size_t i = 20; i < ip_len; i++) {
        ip[i] = i * 7;
    }
    return 14 + ip_len;
}

/* The same for IPv6, 2001:db8::10 to 2001:db8::100, 'plen' bytes of TCP
 * payload. */
static size_t
make_ip6(uint8_t *f, size_t plen)
{
    uint8_t *ip = f + 14;

    memcpy(f, lb_mac, 6);
    memcpy(f + 6, c_mac, 6);
    f[12] = 0x86;
    f[13] = 0xdd;
    memset(ip, 0, 40);
    ip[0] = 0x60;
    ip[4] = plen >> 8;
    ip[5] = plen & 0xff;
    ip[6] = 6;
    ip[7] = 64;
    inet_pton(AF_INET6, "2001:db8::10", ip + 8);
    inet_pton(AF_INET6, "2001:db8::100", ip + 24);
    for (size_t i = 0; i < plen; i++) {
        ip[40 + i] = i * 13;
    }
    return 14 + 40 + plen;
}

/* The checksum of a TCP segment with its pseudo-header, checksum field
 * included: 0 when that field is right. */
static uint16_t
tcp_sum(const uint8_t *ip, bool v6)
{
    size_t hl = v6 ? 40 : 20;
    size_t len = v6 ? ((ip[4] << 8) | ip[5]) : ((ip[2] << 8) | ip[3]) - 20;
    uint32_t sum = v6 ? csum_continue(0, ip + 8, 32)
                      : csum_continue(0, ip + 12, 8);

    sum = csum_add16(sum, htons(6));
    sum = csum_add16(sum, htons(len));
    sum = csum_continue(sum, ip + hl, len);
    return ntohs(csum_finish(sum));
}

/* A SYN (IPv4, then IPv6) refused: RST+ACK from VIP:port to the client's,
 * acknowledging the SYN, checksum right; a reset is never answered. */
static void
tcp_rst(void **state OVS_UNUSED)
{
    for (int v6 = 0; v6 <= 1; v6++) {
        static uint8_t f[14 + 60];
        size_t len = v6 ? make_ip6(f, 20) : make_ip4(f, 40, true);
        uint8_t *tcp = f + 14 + (v6 ? 40 : 20);
        const uint8_t *e, *ip, *t;
        struct ofpbuf out;

        memset(tcp, 0, 20);
        tcp[0] = 0xc3; tcp[1] = 0x50;           /* 50000 -> 80. */
        tcp[3] = 80;
        tcp[4] = 0x11; tcp[5] = 0x22; tcp[6] = 0x33; tcp[7] = 0x44;
        tcp[12] = 5 << 4;
        tcp[13] = 0x02;                         /* SYN. */
        ofpbuf_init(&out, 0);
        assert_true(answer_tcp_rst(f, len, &out));
        e = out.data;
        ip = e + 14;
        t = ip + (v6 ? 40 : 20);
        assert_int_equal(out.size, 14 + (v6 ? 40 : 20) + 20);
        assert_memory_equal(e, c_mac, 6);       /* Back to the client. */
        assert_memory_equal(e + 6, lb_mac, 6);
        if (v6) {
            assert_memory_equal(ip + 8, f + 14 + 24, 16);   /* From VIP. */
            assert_memory_equal(ip + 24, f + 14 + 8, 16);
        } else {
            assert_memory_equal(ip + 12, f + 14 + 16, 4);
            assert_memory_equal(ip + 16, f + 14 + 12, 4);
            assert_int_equal(ntohs(csum(ip, 20)), 0);
        }
        assert_int_equal(t[0] << 8 | t[1], 80);
        assert_int_equal(t[2] << 8 | t[3], 50000);
        assert_int_equal(((uint32_t) t[8] << 24 | t[9] << 16 | t[10] << 8
                          | t[11]), 0x11223345);   /* seq + 1. */
        assert_int_equal(t[13], 0x14);              /* RST, ACK. */
        assert_int_equal(tcp_sum(ip, v6), 0);
        ofpbuf_uninit(&out);

        tcp[13] = 0x04;                         /* A reset: no answer. */
        ofpbuf_init(&out, 0);
        assert_false(answer_tcp_rst(f, len, &out));
        ofpbuf_uninit(&out);
    }
}

/* A UDP datagram refused: ICMP 3/3 and ICMPv6 1/4 from the VIP. */
static void
port_unreachable(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 100];
    struct ofpbuf out;
    size_t len;

    len = make_ip4(f, 60, false);
    f[14 + 9] = 17;
    ofpbuf_init(&out, 0);
    assert_int_equal(answer_icmp(f, len, ANSWER_PORT_UNREACHABLE, 0, &out),
                     AF_INET);
    assert_int_equal(((uint8_t *) out.data)[14 + 20], 3);
    assert_int_equal(((uint8_t *) out.data)[14 + 21], 3);
    assert_memory_equal((uint8_t *) out.data + 14 + 12, f + 14 + 16, 4);
    ofpbuf_uninit(&out);

    len = make_ip6(f, 40);
    f[14 + 6] = 17;
    ofpbuf_init(&out, 0);
    assert_int_equal(answer_icmp(f, len, ANSWER_PORT_UNREACHABLE, 0, &out),
                     AF_INET6);
    assert_int_equal(((uint8_t *) out.data)[14 + 40], 1);
    assert_int_equal(((uint8_t *) out.data)[14 + 41], 4);
    ofpbuf_uninit(&out);
}

static void
icmp4_frag_needed(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 1500];
    size_t len = make_ip4(f, 1500, true);
    struct ofpbuf out;
    const uint8_t *e, *h, *icmp;
    size_t ip_len, quote;

    ofpbuf_init(&out, 0);
    assert_true(pmtu_icmp_answer(f, len, 1450, &out));
    e = out.data;
    /* Back to the client, from the MAC it sent to. */
    assert_memory_equal(e, c_mac, 6);
    assert_memory_equal(e + 6, lb_mac, 6);
    assert_int_equal(e[12], 0x08);
    assert_int_equal(e[13], 0x00);

    h = e + 14;
    ip_len = (h[2] << 8) | h[3];
    assert_int_equal(h[0], 0x45);
    assert_int_equal(ip_len, out.size - 14);
    assert_true(ip_len <= 576);
    assert_int_equal(h[9], 1);
    assert_int_equal(csum(h, 20), 0);
    /* From the VIP to the client. */
    assert_memory_equal(h + 12, f + 14 + 16, 4);
    assert_memory_equal(h + 16, f + 14 + 12, 4);

    icmp = h + 20;
    assert_int_equal(icmp[0], 3);
    assert_int_equal(icmp[1], 4);
    assert_int_equal((icmp[6] << 8) | icmp[7], 1450);
    assert_int_equal(csum(icmp, ip_len - 20), 0);
    /* The quote: the header and as much of the rest as fits, unchanged. */
    quote = ip_len - 28;
    assert_true(quote >= 28);
    assert_memory_equal(icmp + 8, f + 14, quote);
    ofpbuf_uninit(&out);
}

static void
icmp4_not_for_errors(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 1500];
    size_t len = make_ip4(f, 1500, true);
    struct ofpbuf out;

    /* An ICMP error (destination unreachable) is never answered. */
    f[14 + 9] = 1;
    f[14 + 20] = 3;
    ofpbuf_init(&out, 0);
    assert_false(pmtu_icmp_answer(f, len, 1450, &out));
    assert_int_equal(out.size, 0);
    /* Nor a packet from a multicast MAC. */
    len = make_ip4(f, 1500, true);
    f[6] |= 1;
    assert_false(pmtu_icmp_answer(f, len, 1450, &out));
    assert_int_equal(out.size, 0);
    ofpbuf_uninit(&out);
}

static void
icmp6_packet_too_big(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 1500];
    size_t len = make_ip6(f, 1460);
    struct ofpbuf out;
    const uint8_t *e, *h, *icmp;
    size_t plen, quote;
    uint32_t partial = 0;
    ovs_be32 be;

    ofpbuf_init(&out, 0);
    assert_true(pmtu_icmp_answer(f, len, 1450, &out));
    e = out.data;
    assert_memory_equal(e, c_mac, 6);
    assert_memory_equal(e + 6, lb_mac, 6);
    assert_int_equal(e[12], 0x86);
    assert_int_equal(e[13], 0xdd);

    h = e + 14;
    plen = (h[4] << 8) | h[5];
    assert_int_equal(h[0] >> 4, 6);
    assert_int_equal(h[6], 58);
    assert_int_equal(plen, out.size - 14 - 40);
    assert_true(40 + plen <= 1280);
    assert_memory_equal(h + 8, f + 14 + 24, 16);
    assert_memory_equal(h + 24, f + 14 + 8, 16);

    icmp = h + 40;
    assert_int_equal(icmp[0], 2);
    assert_int_equal(icmp[1], 0);
    assert_int_equal(((uint32_t) icmp[4] << 24) | (icmp[5] << 16)
                     | (icmp[6] << 8) | icmp[7], 1450);
    /* The checksum over the pseudo-header and the message sums to 0. */
    partial = csum_continue(partial, h + 8, 32);
    be = htonl(plen);
    partial = csum_continue(partial, &be, 4);
    be = htonl(58);
    partial = csum_continue(partial, &be, 4);
    partial = csum_continue(partial, icmp, plen);
    assert_int_equal(csum_finish(partial), 0);
    quote = plen - 8;
    assert_true(quote >= 40);
    assert_memory_equal(icmp + 8, f + 14, quote);
    ofpbuf_uninit(&out);

    /* Never below IPv6's minimum MTU. */
    ofpbuf_init(&out, 0);
    assert_true(pmtu_icmp_answer(f, len, 1000, &out));
    icmp = (const uint8_t *) out.data + 14 + 40;
    assert_int_equal((icmp[6] << 8) | icmp[7], 1280);
    ofpbuf_uninit(&out);
}

/* Collects fragments. */
struct frags {
    int n;
    uint8_t *f[8];
    size_t len[8];
};

static void
collect(void *aux, const void *frag, size_t len)
{
    struct frags *fr = aux;

    assert_true(fr->n < 8);
    fr->f[fr->n] = xmemdup(frag, len);
    fr->len[fr->n++] = len;
}

static void
fragment4(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 3000];
    static uint8_t whole[3000];
    size_t len = make_ip4(f, 3000, false);
    struct frags fr = { .n = 0 };
    size_t next = 0;

    assert_true(pmtu_fragment(f, len, 1450, collect, &fr));
    assert_int_equal(fr.n, 3);
    memset(whole, 0, sizeof whole);
    memcpy(whole, f + 14, 20);
    for (int i = 0; i < fr.n; i++) {
        const uint8_t *h = fr.f[i] + 14;
        size_t tot = (h[2] << 8) | h[3];
        uint16_t frag = (h[6] << 8) | h[7];
        size_t off = (frag & 0x1fff) * 8;
        bool mf = frag & 0x2000;

        assert_memory_equal(fr.f[i], f, 14);         /* Same Ethernet. */
        assert_int_equal(fr.len[i], 14 + tot);
        assert_true(tot <= 1450);
        assert_int_equal(h[0], 0x45);
        assert_memory_equal(h + 4, f + 14 + 4, 2);    /* Same id. */
        assert_memory_equal(h + 8, f + 14 + 8, 2);    /* TTL, protocol. */
        assert_memory_equal(h + 12, f + 14 + 12, 8);  /* Addresses. */
        assert_int_equal(frag & 0x4000, 0);
        assert_int_equal(csum(h, 20), 0);
        assert_int_equal(off, next);
        assert_int_equal(mf, i < fr.n - 1);
        if (mf) {
            assert_int_equal((tot - 20) % 8, 0);
        }
        memcpy(whole + 20 + off, h + 20, tot - 20);
        next = off + tot - 20;
    }
    assert_int_equal(next, 3000 - 20);
    assert_memory_equal(whole + 20, f + 14 + 20, 3000 - 20);
    for (int i = 0; i < fr.n; i++) {
        free(fr.f[i]);
    }
}

static void
fragment4_refuses(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 3000];
    size_t len = make_ip4(f, 3000, true);
    struct frags fr = { .n = 0 };

    /* DF set: an ICMP error is due, not fragments. */
    assert_false(pmtu_fragment(f, len, 1450, collect, &fr));
    /* IPv6: never fragmented on the way. */
    len = make_ip6(f, 2000);
    assert_false(pmtu_fragment(f, len, 1450, collect, &fr));
    assert_int_equal(fr.n, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(icmp4_frag_needed),
        cmocka_unit_test(tcp_rst),
        cmocka_unit_test(port_unreachable),
        cmocka_unit_test(icmp4_not_for_errors),
        cmocka_unit_test(icmp6_packet_too_big),
        cmocka_unit_test(fragment4),
        cmocka_unit_test(fragment4_refuses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
