/* MSS clamping (ofapp/mss.c): the SYN's MSS option is lowered only when
 * bigger, the TCP checksum stays valid, IPv4 and IPv6, and frames it
 * should not touch (no option, malformed options, not TCP, a later
 * fragment) are left alone. */
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
#include "mss.h"
#include "ofsession.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

/* mss.c's packet-in handling talks to a switch; these tests do not. */
uint32_t
ofsession_send(struct ofsession *s OVS_UNUSED, struct ofpbuf *msg)
{
    ofpbuf_delete(msg);
    return 0;
}

int
ofsession_version(const struct ofsession *s OVS_UNUSED)
{
    return 4;
}

/* A SYN from 198.18.0.10:40000 to 198.18.0.100:80 (or the IPv6 pair)
 * with TCP options 'opts' ('n' bytes, a multiple of 4) and a valid
 * checksum. */
static size_t
syn(uint8_t *f, bool v6, const uint8_t *opts, size_t n)
{
    size_t hl = v6 ? 40 : 20, tl = 20 + n;
    uint8_t *ip = f + 14, *tcp = ip + hl;
    uint32_t partial = 0;
    ovs_be32 be;

    memset(f, 0, 14 + hl + tl);
    f[12] = v6 ? 0x86 : 0x08;
    f[13] = v6 ? 0xdd : 0x00;
    if (v6) {
        ip[0] = 0x60;
        ip[4] = tl >> 8;
        ip[5] = tl & 0xff;
        ip[6] = IPPROTO_TCP;
        ip[7] = 64;
        inet_pton(AF_INET6, "2001:db8::10", ip + 8);
        inet_pton(AF_INET6, "2001:db8::100", ip + 24);
        partial = csum_continue(partial, ip + 8, 32);
    } else {
        ip[0] = 0x45;
        ip[2] = (20 + tl) >> 8;
        ip[3] = (20 + tl) & 0xff;
        ip[8] = 64;
        ip[9] = IPPROTO_TCP;
        inet_pton(AF_INET, "198.18.0.10", ip + 12);
        inet_pton(AF_INET, "198.18.0.100", ip + 16);
        ovs_be16 c = csum(ip, 20);
        memcpy(ip + 10, &c, 2);
        partial = csum_continue(partial, ip + 12, 8);
    }
    tcp[0] = 40000 >> 8;
    tcp[1] = 40000 & 0xff;
    tcp[3] = 80;
    tcp[4] = 0x12;                      /* Sequence number. */
    tcp[12] = (tl / 4) << 4;
    tcp[13] = 0x02;                     /* SYN. */
    tcp[14] = 0xfa;                     /* Window. */
    memcpy(tcp + 20, opts, n);
    be = htonl(tl);
    partial = csum_continue(partial, &be, 4);
    be = htonl(IPPROTO_TCP);
    partial = csum_continue(partial, &be, 4);
    partial = csum_continue(partial, tcp, tl);
    ovs_be16 c = csum_finish(partial);
    memcpy(tcp + 16, &c, 2);
    return 14 + hl + tl;
}

/* The TCP checksum of the frame is valid. */
static bool
tcp_csum_ok(const uint8_t *f, bool v6)
{
    const uint8_t *ip = f + 14;
    size_t hl = v6 ? 40 : 20;
    size_t tl = v6 ? (size_t) ((ip[4] << 8) | ip[5])
                   : (size_t) (((ip[2] << 8) | ip[3]) - 20);
    uint32_t partial = 0;
    ovs_be32 be;

    partial = csum_continue(partial, v6 ? ip + 8 : ip + 12, v6 ? 32 : 8);
    be = htonl(tl);
    partial = csum_continue(partial, &be, 4);
    be = htonl(IPPROTO_TCP);
    partial = csum_continue(partial, &be, 4);
    partial = csum_continue(partial, ip + hl, tl);
    return csum_finish(partial) == 0;
}

/* Linux's SYN options: MSS 1460, SACK permitted, timestamps, NOP, window
 * scale. */
static const uint8_t linux_opts[20] = {
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
};

static void
clamps(void **state OVS_UNUSED)
{
    for (int v6 = 0; v6 < 2; v6++) {
        uint8_t f[128];
        size_t len = syn(f, v6, linux_opts, sizeof linux_opts);
        size_t o = 14 + (v6 ? 40 : 20) + 20;

        assert_true(tcp_csum_ok(f, v6));
        assert_true(mss_clamp_frame(f, len, 1200));
        assert_int_equal((f[o + 2] << 8) | f[o + 3], 1200);
        assert_true(tcp_csum_ok(f, v6));
        /* Already small enough: unchanged. */
        assert_false(mss_clamp_frame(f, len, 1300));
        assert_int_equal((f[o + 2] << 8) | f[o + 3], 1200);
    }
}

static void
leaves_alone(void **state OVS_UNUSED)
{
    static const uint8_t no_mss[4] = { 1, 1, 4, 2 };
    static const uint8_t bad_len[4] = { 3, 0, 2, 4 };      /* Length 0. */
    static const uint8_t overrun[4] = { 1, 8, 10, 20 };    /* Past end. */
    uint8_t f[128], g[128];
    size_t len;

    len = syn(f, false, no_mss, sizeof no_mss);
    memcpy(g, f, len);
    assert_false(mss_clamp_frame(f, len, 1200));
    assert_memory_equal(f, g, len);

    len = syn(f, false, bad_len, sizeof bad_len);
    memcpy(g, f, len);
    assert_false(mss_clamp_frame(f, len, 1200));
    assert_memory_equal(f, g, len);

    len = syn(f, false, overrun, sizeof overrun);
    memcpy(g, f, len);
    assert_false(mss_clamp_frame(f, len, 1200));
    assert_memory_equal(f, g, len);

    /* Truncated frames. */
    len = syn(f, false, linux_opts, sizeof linux_opts);
    for (size_t cut = 0; cut < len; cut += 7) {
        memcpy(g, f, len);
        assert_false(mss_clamp_frame(g, cut, 1200));
    }
    /* Not TCP; a later fragment. */
    f[14 + 9] = IPPROTO_UDP;
    assert_false(mss_clamp_frame(f, len, 1200));
    f[14 + 9] = IPPROTO_TCP;
    f[14 + 7] = 0x10;
    assert_false(mss_clamp_frame(f, len, 1200));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clamps),
        cmocka_unit_test(leaves_alone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
