/* Reading the switch's conntrack (ofapp/ctdump.c): dump-conntrack's text,
 * as OVS 3.1's ct_dpif_format_entry() writes it, counted by zone, VIP and
 * backend; closed TCP sessions left out. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "ctdump.h"

static struct mslb_addr
addr(const char *s)
{
    struct mslb_addr a = { .family = strchr(s, ':') ? AF_INET6 : AF_INET };

    assert_int_equal(inet_pton(a.family, s, &a.v4), 1);
    return a;
}

static const char dump[] =
    "tcp,orig=(src=198.18.9.10,dst=198.18.0.100,sport=40001,dport=80),"
    "reply=(src=198.18.1.11,dst=198.18.9.10,sport=8080,dport=40001),zone=7,"
    "labels=0x2000000000a,protoinfo=(state=ESTABLISHED)\n"
    "tcp,orig=(src=198.18.9.10,dst=198.18.0.100,sport=40002,dport=80),"
    "reply=(src=198.18.1.11,dst=198.18.9.10,sport=8080,dport=40002),zone=7,"
    "protoinfo=(state=SYN_SENT)\n"
    "tcp,orig=(src=198.18.9.10,dst=198.18.0.100,sport=40003,dport=80),"
    "reply=(src=198.18.1.11,dst=198.18.9.10,sport=8080,dport=40003),zone=7,"
    "protoinfo=(state=TIME_WAIT)\n"
    "tcp,orig=(src=198.18.9.10,dst=198.18.0.100,sport=40004,dport=80),"
    "reply=(src=198.18.1.12,dst=198.18.9.10,sport=8080,dport=40004),zone=7,"
    "protoinfo=(state=CLOSED)\n"
    "tcp,orig=(src=198.18.9.10,dst=198.18.0.100,sport=40005,dport=80),"
    "reply=(src=198.18.1.12,dst=198.18.9.10,sport=8080,dport=40005),zone=7,"
    "protoinfo=(state=FIN_WAIT_1)\n"
    /* Another zone (another bridge), the same addresses. */
    "tcp,orig=(src=198.18.9.10,dst=198.18.0.100,sport=40006,dport=80),"
    "reply=(src=198.18.1.11,dst=198.18.9.10,sport=8080,dport=40006),zone=9,"
    "protoinfo=(state=ESTABLISHED)\n"
    /* Zone 0 is not printed. */
    "udp,orig=(src=198.18.9.10,dst=198.18.0.101,sport=5000,dport=53),"
    "reply=(src=198.18.1.13,dst=198.18.9.10,sport=5353,dport=5000)\n"
    "tcp,orig=(src=2001:db8::10,dst=2001:db8::100,sport=40007,dport=80),"
    "reply=(src=2001:db8:1::11,dst=2001:db8::10,sport=8080,dport=40007),"
    "zone=7,protoinfo=(state=ESTABLISHED)\n"
    "icmp,orig=(src=198.18.9.10,dst=198.18.0.100,id=1,type=8,code=0),"
    "reply=(src=198.18.0.100,dst=198.18.9.10,id=1,type=0,code=0),zone=7\n"
    "garbage\n";

static void
test_counts(void **state)
{
    (void) state;
    struct ct_sessions *ct = ct_sessions_parse(dump);
    struct mslb_addr vip = addr("198.18.0.100"), vip2 = addr("198.18.0.101");
    struct mslb_addr a = addr("198.18.1.11"), b = addr("198.18.1.12");
    struct mslb_addr c = addr("198.18.1.13");
    struct mslb_addr vip6 = addr("2001:db8::100"), a6 = addr("2001:db8:1::11");

    /* ESTABLISHED and SYN_SENT open; TIME_WAIT closed. */
    assert_int_equal(ct_sessions_count(ct, 7, 6, &vip, 80, &a, 8080), 2);
    /* CLOSED left out, FIN_WAIT_1 still open. */
    assert_int_equal(ct_sessions_count(ct, 7, 6, &vip, 80, &b, 8080), 1);
    assert_int_equal(ct_sessions_count(ct, 9, 6, &vip, 80, &a, 8080), 1);
    assert_int_equal(ct_sessions_count(ct, 0, 17, &vip2, 53, &c, 5353), 1);
    assert_int_equal(ct_sessions_count(ct, 7, 6, &vip6, 80, &a6, 8080), 1);
    /* Other protocol, port, zone: none. */
    assert_int_equal(ct_sessions_count(ct, 7, 17, &vip, 80, &a, 8080), 0);
    assert_int_equal(ct_sessions_count(ct, 7, 6, &vip, 81, &a, 8080), 0);
    assert_int_equal(ct_sessions_count(ct, 8, 6, &vip, 80, &a, 8080), 0);
    /* 2 + 1 + 1 + 1 + 1 + the echo. */
    assert_int_equal(ct_sessions_total(ct), 7);
    ct_sessions_destroy(ct);
}

static void
test_empty(void **state)
{
    (void) state;
    struct ct_sessions *ct = ct_sessions_parse("");
    struct mslb_addr vip = addr("198.18.0.100"), a = addr("198.18.1.11");

    assert_int_equal(ct_sessions_count(ct, 7, 6, &vip, 80, &a, 8080), 0);
    assert_int_equal(ct_sessions_total(ct), 0);
    ct_sessions_destroy(ct);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
