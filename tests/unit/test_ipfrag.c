/* ipfrag.c: fragments as bytes.  Datagrams split into fragments (IPv4 and
 * IPv6) parse back to the right offsets, reassemble to the original bytes
 * in any order, and broken sets are refused; echo replies carry valid
 * checksums and swapped addresses. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "csum.h"
#include "ipfrag.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

static const uint8_t lb_mac[6] = { 0x0a, 0, 0, 0, 0, 0x01 };
static const uint8_t c_mac[6] = { 0x0a, 0, 0, 0, 0, 0x10 };

/* An Ethernet frame from the client to 198.18.0.100 (IPv4) or
 * 2001:db8::100 (IPv6) with 'plen' bytes after the IP header of protocol
 * 'proto' counting up; ICMP and ICMPv6 get an echo request header with a
 * valid checksum. */
static size_t
make(uint8_t *f, int family, uint8_t proto, size_t plen)
{
    bool v6 = family == AF_INET6;
    size_t hl = v6 ? 40 : 20;
    uint8_t *ip = f + 14, *l4 = ip + hl;

    memcpy(f, lb_mac, 6);
    memcpy(f + 6, c_mac, 6);
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    memset(ip, 0, hl);
    for (size_t i = 0; i < plen; i++) {
        l4[i] = i * 7 + 3;
    }
    if (v6) {
        ip[0] = 0x60;
        ip[4] = plen >> 8;
        ip[5] = plen & 0xff;
        ip[6] = proto;
        ip[7] = 64;
        inet_pton(AF_INET6, "2001:db8::10", ip + 8);
        inet_pton(AF_INET6, "2001:db8::100", ip + 24);
    } else {
        ip[0] = 0x45;
        ip[2] = (20 + plen) >> 8;
        ip[3] = (20 + plen) & 0xff;
        ip[4] = 0x12;
        ip[5] = 0x34;
        ip[8] = 64;
        ip[9] = proto;
        inet_pton(AF_INET, "198.18.0.10", ip + 12);
        inet_pton(AF_INET, "198.18.0.100", ip + 16);
        ovs_be16 c = csum(ip, 20);
        memcpy(ip + 10, &c, 2);
    }
    if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
        l4[0] = v6 ? 128 : 8;
        l4[1] = 0;
        l4[2] = l4[3] = 0;
        if (!v6) {
            ovs_be16 c = csum(l4, plen);
            memcpy(l4 + 2, &c, 2);
        }
    }
    return 14 + hl + plen;
}

struct pieces {
    uint8_t *f[64];
    size_t len[64];
    size_t n;
};

static void
collect(void *aux, const void *frag, size_t len)
{
    struct pieces *p = aux;

    assert_true(p->n < 64);
    p->f[p->n] = xmemdup(frag, len);
    p->len[p->n++] = len;
}

static void
pieces_free(struct pieces *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->f[i]);
    }
    p->n = 0;
}

/* Splits, checks every piece parses as the right fragment, reassembles in
 * order, reversed and rotated, and compares with the original. */
static void
round_trip(int family, size_t plen, int mtu)
{
    static uint8_t f[14 + 40 + 9000];
    size_t len = make(f, family, IPPROTO_UDP, plen);
    struct pieces p = { .n = 0 };
    size_t next = 0;

    assert_true(ipfrag_split(f, len, mtu, 0xabcd1234, collect, &p));
    assert_true(p.n >= 2);
    for (size_t i = 0; i < p.n; i++) {
        struct ipfrag fr;
        uint8_t proto;
        size_t l4;

        assert_true(ipfrag_parse(p.f[i], p.len[i], &fr));
        assert_int_equal(fr.family, family);
        assert_int_equal(fr.proto, IPPROTO_UDP);
        assert_int_equal(fr.offset, next);
        assert_int_equal(fr.more, i < p.n - 1);
        assert_true(p.len[i] - 14 <= (size_t) mtu);
        if (family == AF_INET6) {
            assert_int_equal(fr.id, 0xabcd1234);
        } else {
            assert_int_equal(fr.id, 0x1234);
            assert_int_equal(csum(p.f[i] + 14, 20), 0);
        }
        assert_int_equal(ipfrag_upper(p.f[i], &fr, &proto, &l4), i == 0);
        if (i == 0) {
            assert_int_equal(proto, IPPROTO_UDP);
            assert_int_equal(l4, 14 + (family == AF_INET6 ? 48 : 20));
        }
        next += fr.len;
    }

    for (int order = 0; order < 3; order++) {
        const uint8_t *frames[64];
        size_t lens[64];
        struct ofpbuf out;

        for (size_t i = 0; i < p.n; i++) {
            size_t k = order == 0 ? i : order == 1 ? p.n - 1 - i
                       : (i + 1) % p.n;
            frames[i] = p.f[k];
            lens[i] = p.len[k];
        }
        ofpbuf_init(&out, 0);
        assert_true(ipfrag_reassemble(frames, lens, p.n, &out));
        assert_int_equal(out.size, len);
        assert_memory_equal(out.data, f, len);
        ofpbuf_uninit(&out);
    }
    pieces_free(&p);
}

static void
split_reassemble4(void **state OVS_UNUSED)
{
    round_trip(AF_INET, 3000, 1400);
    round_trip(AF_INET, 8972, 1500);
    round_trip(AF_INET, 1481, 1500);    /* Just over: two pieces. */
}

static void
split_reassemble6(void **state OVS_UNUSED)
{
    round_trip(AF_INET6, 3000, 1280);
    round_trip(AF_INET6, 8952, 1500);
}

static void
reassemble_refuses(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 3020], g[14 + 3020];
    size_t len = make(f, AF_INET, IPPROTO_UDP, 3000);
    struct pieces p = { .n = 0 }, q = { .n = 0 };
    const uint8_t *frames[8];
    size_t lens[8];
    struct ofpbuf out;

    assert_true(ipfrag_split(f, len, 1400, 0, collect, &p));
    assert_int_equal(p.n, 3);
    ofpbuf_init(&out, 0);

    /* A piece missing. */
    frames[0] = p.f[0], lens[0] = p.len[0];
    frames[1] = p.f[2], lens[1] = p.len[2];
    assert_false(ipfrag_reassemble(frames, lens, 2, &out));
    /* A piece twice. */
    frames[2] = p.f[1], lens[2] = p.len[1];
    frames[3] = p.f[1], lens[3] = p.len[1];
    assert_false(ipfrag_reassemble(frames, lens, 4, &out));
    /* A piece of another datagram (another id). */
    len = make(g, AF_INET, IPPROTO_UDP, 3000);
    g[14 + 5] = 0x35;
    ovs_be16 zero = 0;
    memcpy(g + 14 + 10, &zero, 2);
    ovs_be16 c = csum(g + 14, 20);
    memcpy(g + 14 + 10, &c, 2);
    assert_true(ipfrag_split(g, len, 1400, 0, collect, &q));
    frames[0] = p.f[0], lens[0] = p.len[0];
    frames[1] = q.f[1], lens[1] = q.len[1];
    frames[2] = p.f[2], lens[2] = p.len[2];
    assert_false(ipfrag_reassemble(frames, lens, 3, &out));
    /* Not fragments at all. */
    frames[0] = f, lens[0] = len;
    assert_false(ipfrag_reassemble(frames, lens, 1, &out));
    assert_int_equal(out.size, 0);
    ofpbuf_uninit(&out);
    pieces_free(&p);
    pieces_free(&q);
}

static void
split_refuses(void **state OVS_UNUSED)
{
    static uint8_t f[14 + 3020];
    size_t len = make(f, AF_INET, IPPROTO_UDP, 3000);
    struct pieces p = { .n = 0 };

    f[14 + 6] = 0x40;                   /* DF. */
    assert_false(ipfrag_split(f, len, 1400, 0, collect, &p));
    f[14 + 6] = 0;
    assert_false(ipfrag_split(f, len, 20, 0, collect, &p));
    assert_int_equal(p.n, 0);
}

static void
echo_reply(int family)
{
    static uint8_t f[14 + 40 + 3000];
    size_t len = make(f, family, family == AF_INET6 ? IPPROTO_ICMPV6
                      : IPPROTO_ICMP, 3000);
    bool v6 = family == AF_INET6;
    size_t hl = v6 ? 40 : 20, alen = v6 ? 16 : 4;
    const uint8_t *ip = f + 14, *r;
    struct ofpbuf out;

    ofpbuf_init(&out, 0);
    assert_true(ipfrag_echo_reply(f, len, lb_mac, &out));
    assert_int_equal(out.size, len);
    r = out.data;
    assert_memory_equal(r, c_mac, 6);
    assert_memory_equal(r + 6, lb_mac, 6);
    r += 14;
    /* From the VIP back to the client. */
    assert_memory_equal(r + (v6 ? 8 : 12), ip + (v6 ? 24 : 16), alen);
    assert_memory_equal(r + (v6 ? 24 : 16), ip + (v6 ? 8 : 12), alen);
    assert_int_equal(r[hl], v6 ? 129 : 0);
    assert_memory_equal(r + hl + 4, ip + hl + 4, 3000 - 4);
    if (v6) {
        uint32_t partial = 0;
        ovs_be32 be;

        partial = csum_continue(partial, r + 8, 32);
        be = htonl(3000);
        partial = csum_continue(partial, &be, 4);
        be = htonl(IPPROTO_ICMPV6);
        partial = csum_continue(partial, &be, 4);
        partial = csum_continue(partial, r + 40, 3000);
        assert_int_equal(csum_finish(partial), 0);
    } else {
        assert_int_equal(csum(r, 20), 0);
        assert_int_equal(csum(r + 20, 3000), 0);
    }
    ofpbuf_uninit(&out);

    /* Not an echo request: no reply. */
    f[14 + hl] = v6 ? 129 : 0;
    ofpbuf_init(&out, 0);
    assert_false(ipfrag_echo_reply(f, len, lb_mac, &out));
    ofpbuf_uninit(&out);
}

static void
echo_reply4(void **state OVS_UNUSED)
{
    echo_reply(AF_INET);
}

static void
echo_reply6(void **state OVS_UNUSED)
{
    echo_reply(AF_INET6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(split_reassemble4),
        cmocka_unit_test(split_reassemble6),
        cmocka_unit_test(reassemble_refuses),
        cmocka_unit_test(split_refuses),
        cmocka_unit_test(echo_reply4),
        cmocka_unit_test(echo_reply6),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
