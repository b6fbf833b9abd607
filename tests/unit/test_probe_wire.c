/* Health probes as bytes (ofapp/probe_wire.c): each frame a probe sends
 * parses back as what it is, with right checksums; answers: an echo
 * reply, and a port unreachable quoting a UDP probe (as answers.c builds
 * one) read as the probe's refusal; fragments are no answer. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>

#include "answers.h"
#include "csum.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "probe_wire.h"
#include "util.h"

static const struct mslb_mac lb = { { 0x0a, 0, 0, 0, 0, 0x01 } };
static const struct mslb_mac srv = { { 0x02, 0, 0, 0, 0, 0x21 } };

static struct mslb_addr
addr(const char *s)
{
    struct mslb_addr a;

    memset(&a, 0, sizeof a);
    a.family = strchr(s, ':') ? AF_INET6 : AF_INET;
    assert_int_equal(inet_pton(a.family, s, &a.v6), 1);
    return a;
}

/* The checksum of the L4 payload of 'f' with its pseudo-header (none for
 * ICMPv4), its own field included: 0 when right; and the IPv4 header's. */
static void
check_sums(const struct probe_frame *f)
{
    const uint8_t *ip = f->b + 14;
    bool v6 = f->b[12] == 0x86;
    size_t hl = v6 ? 40 : 20;
    size_t l4_len = f->len - 14 - hl;
    uint8_t proto = v6 ? ip[6] : ip[9];
    uint32_t sum = 0;

    if (!v6) {
        assert_int_equal(csum(ip, 20), 0);
    }
    if (proto != IPPROTO_ICMP) {
        sum = csum_continue(0, ip + (v6 ? 8 : 12), v6 ? 32 : 8);
        sum = csum_add16(sum, htons(proto));
        sum = csum_add16(sum, htons(l4_len));
    }
    sum = csum_continue(sum, ip + hl, l4_len);
    assert_int_equal(csum_finish(sum), 0);
}

static void
tcp_round_trip(void **state OVS_UNUSED)
{
    static const char *const pairs[][2] = {
        { "198.18.1.1", "198.18.1.11" },
        { "2001:db8:1::1", "2001:db8:1::11" },
    };

    for (int i = 0; i < 2; i++) {
        struct mslb_addr gw = addr(pairs[i][0]), be = addr(pairs[i][1]);
        struct probe_answer a;
        struct probe_frame f;

        probe_frame_tcp(&f, &lb, &srv, &gw, 40123, &be, 8080, TCP_SYN,
                        0x11223344, 0, NULL, 0);
        check_sums(&f);
        assert_memory_equal(f.b, srv.b, 6);
        assert_true(probe_parse_answer(f.b, f.len, &a));
        assert_int_equal(a.proto, IPPROTO_TCP);
        assert_true(mslb_addr_equal(&a.src, &gw));
        assert_true(mslb_addr_equal(&a.dst, &be));
        assert_int_equal(a.sport, 40123);
        assert_int_equal(a.dport, 8080);
        assert_int_equal(a.seq, 0x11223344);
        assert_int_equal(a.flags, TCP_SYN);
        assert_int_equal(a.len, 0);

        /* With data (an http request). */
        probe_frame_tcp(&f, &lb, &srv, &gw, 40123, &be, 8080,
                        TCP_ACK | TCP_PSH, 7, 9, "GET / HTTP/1.1\r\n", 16);
        check_sums(&f);
        assert_true(probe_parse_answer(f.b, f.len, &a));
        assert_int_equal(a.len, 16);
        assert_memory_equal(a.data, "GET / HTTP/1.1\r\n", 16);
        assert_int_equal(a.ack, 9);
    }
}

static void
udp_and_refusal(void **state OVS_UNUSED)
{
    struct mslb_addr gw = addr("198.18.1.1"), be = addr("198.18.1.11");
    struct probe_answer a;
    struct probe_frame f;
    struct ofpbuf icmp;

    probe_frame_udp(&f, &lb, &srv, &gw, 40500, &be, 5353, "PING", 4);
    check_sums(&f);
    assert_true(probe_parse_answer(f.b, f.len, &a));
    assert_int_equal(a.proto, IPPROTO_UDP);
    assert_false(a.unreachable);
    assert_int_equal(a.len, 4);
    assert_memory_equal(a.data, "PING", 4);

    /* The server's port unreachable, from its address to the gateway,
     * quoting the probe: the probe's refusal, in the answer's terms. */
    ofpbuf_init(&icmp, 0);
    assert_int_equal(answer_icmp(f.b, f.len, ANSWER_PORT_UNREACHABLE, 0,
                                 &icmp), AF_INET);
    assert_true(probe_parse_answer(icmp.data, icmp.size, &a));
    assert_int_equal(a.proto, IPPROTO_UDP);
    assert_true(a.unreachable);
    assert_true(mslb_addr_equal(&a.src, &be));
    assert_true(mslb_addr_equal(&a.dst, &gw));
    assert_int_equal(a.sport, 5353);
    assert_int_equal(a.dport, 40500);
    ofpbuf_uninit(&icmp);

    /* A fragment is nobody's answer. */
    f.b[14 + 6] |= 0x20;                /* More fragments. */
    assert_false(probe_parse_answer(f.b, f.len, &a));
}

static void
echo(void **state OVS_UNUSED)
{
    static const char *const pairs[][2] = {
        { "198.18.1.1", "198.18.1.11" },
        { "2001:db8:1::1", "2001:db8:1::11" },
    };

    for (int i = 0; i < 2; i++) {
        struct mslb_addr gw = addr(pairs[i][0]), be = addr(pairs[i][1]);
        bool v6 = gw.family == AF_INET6;
        struct probe_answer a;
        struct probe_frame f;

        probe_frame_echo(&f, &lb, &srv, &gw, &be, 41000, 0xbeef);
        check_sums(&f);
        /* A request is no answer; the reply (same body, type 0 / 129)
         * names the probe by identifier and sequence number. */
        assert_false(probe_parse_answer(f.b, f.len, &a));
        f.b[14 + (v6 ? 40 : 20)] = v6 ? 129 : 0;
        assert_true(probe_parse_answer(f.b, f.len, &a));
        assert_int_equal(a.proto, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
        assert_int_equal(a.dport, 41000);
        assert_int_equal(a.sport, 0xbeef);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_round_trip),
        cmocka_unit_test(udp_and_refusal),
        cmocka_unit_test(echo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
