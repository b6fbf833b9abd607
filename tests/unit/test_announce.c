/* Announcements (ofapp/announce.c): what a bridge announces, the frames,
 * the packet-out, and the schedule (new addresses at once, in bursts; the
 * rest spread over the interval). */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <jansson.h>

#include "announce.h"
#include "csum.h"
#include "flow.h"
#include "mslb/modeldb.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

static const struct mslb_mac mac = { { 0x0a, 0, 0, 0, 0, 1 } };

static struct mslb_addr
addr(const char *s)
{
    struct mslb_addr a = { .family = strchr(s, ':') ? AF_INET6 : AF_INET };

    assert_int_equal(inet_pton(a.family, s, &a.v4), 1);
    return a;
}

static json_t *
load(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);

    assert_non_null(j);
    return j;
}

static void
put_service(struct mdb *db, const char *name, const char *vip,
            const char *proto, const char *bridge)
{
    char text[512];
    struct model_service *svc;
    struct model_lookup lk = mdb_lookup(db);
    json_t *j;
    char *error;

    snprintf(text, sizeof text,
             "{\"name\": \"%s\", \"vip\": \"%s\", \"protocol\": \"%s\", "
             "\"port\": 80, \"bridges\": [\"%s\"], \"backends\": "
             "[{\"name\": \"s1\", \"ip\": \"%s\", \"port\": 80, "
             "\"mac\": \"02:00:00:00:01:11\"}]}", name, vip, proto, bridge,
             strchr(vip, ':') ? "2001:db8:1::11" : "198.18.1.11");
    j = load(text);
    error = model_service_from_json(j, "", &lk, &svc);
    json_decref(j);
    if (error) {
        fail_msg("%s", error);
    }
    svc->id = mdb_new_service_id(db, svc);
    mdb_put_service(db, svc);
}

static void
test_targets(void **state OVS_UNUSED)
{
    struct mdb *db = mdb_create();
    struct model_bridge *br;
    struct announce_target *t;
    size_t n;
    json_t *j;

    j = load("{\"name\": \"lb1\", \"mac\": \"0a:00:00:00:00:01\", "
             "\"frontend_port\": \"front\", \"backend_port\": \"back\", "
             "\"gateways\": [\"198.18.1.1\", \"2001:db8:1::1\"]}");
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    mdb_put_bridge(db, br);
    j = load("{\"name\": \"lb2\", \"mac\": \"0a:00:00:00:00:02\", "
             "\"frontend_port\": \"arm\"}");
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    mdb_put_bridge(db, br);
    put_service(db, "web", "198.18.0.100", "tcp", "lb1");
    put_service(db, "dns", "198.18.0.100", "udp", "lb1");
    put_service(db, "web6", "2001:db8::100", "tcp", "lb1");
    put_service(db, "other", "198.18.0.200", "tcp", "lb2");

    t = announce_targets(db, mdb_find_bridge(db, "lb1"), &n);
    assert_int_equal(n, 4);     /* One VIP shared by two services. */
    struct mslb_addr want[] = {
        addr("198.18.0.100"), addr("198.18.1.1"),
        addr("2001:db8::100"), addr("2001:db8:1::1"),
    };
    bool gw[] = { false, true, false, true };
    for (size_t i = 0; i < n; i++) {
        assert_true(mslb_addr_equal(&t[i].addr, &want[i]));
        assert_int_equal(t[i].gateway, gw[i]);
    }
    free(t);
    t = announce_targets(db, mdb_find_bridge(db, "lb2"), &n);
    assert_int_equal(n, 1);
    free(t);
    mdb_destroy(db);
}

static void
test_frames(void **state OVS_UNUSED)
{
    uint8_t f[ANNOUNCE_FRAME_MAX];
    struct mslb_addr a4 = addr("198.18.0.100");
    struct mslb_addr a6 = addr("2001:db8::100");
    size_t len;

    len = announce_frame(&a4, &mac, f);
    assert_int_equal(len, 42);
    assert_memory_equal(f, "\xff\xff\xff\xff\xff\xff", 6);
    assert_memory_equal(f + 6, mac.b, 6);
    assert_memory_equal(f + 12, "\x08\x06", 2);
    assert_memory_equal(f + 20, "\x00\x01", 2);         /* Request. */
    assert_memory_equal(f + 22, mac.b, 6);               /* Sender MAC. */
    assert_memory_equal(f + 28, &a4.v4, 4);              /* Sender IP. */
    assert_memory_equal(f + 32, "\0\0\0\0\0\0", 6);
    assert_memory_equal(f + 38, &a4.v4, 4);              /* Target IP. */

    len = announce_frame(&a6, &mac, f);
    assert_int_equal(len, 14 + 40 + 24 + 8);
    assert_memory_equal(f, "\x33\x33\x00\x00\x00\x01", 6);
    assert_memory_equal(f + 6, mac.b, 6);
    assert_memory_equal(f + 12, "\x86\xdd", 2);
    assert_int_equal(f[14 + 6], IPPROTO_ICMPV6);
    assert_int_equal(f[14 + 7], 255);                    /* Hop limit. */
    assert_memory_equal(f + 14 + 8, &a6.v6, 16);         /* Source. */
    assert_memory_equal(f + 14 + 24,
                        "\xff\x02\0\0\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    const uint8_t *icmp = f + 54;
    assert_int_equal(icmp[0], 136);                      /* NA. */
    assert_int_equal(icmp[4], 0x20);                     /* Override only. */
    assert_memory_equal(icmp + 8, &a6.v6, 16);           /* Target. */
    assert_int_equal(icmp[24], 2);                       /* Target LLA. */
    assert_int_equal(icmp[25], 1);
    assert_memory_equal(icmp + 26, mac.b, 6);
    uint32_t sum = packet_csum_pseudoheader6((const void *) (f + 14));
    assert_int_equal(csum_finish(csum_continue(sum, icmp, 32)), 0);
}

/* A final stage asks for the servers it hosts: ARP probes and plain
 * neighbour solicitations, answered to its MAC. */
static void
test_probes(void **state OVS_UNUSED)
{
    struct mdb *db = mdb_create();
    struct model_service *svc;
    struct model_bridge *br;
    struct announce_target *t;
    uint8_t f[ANNOUNCE_FRAME_MAX];
    struct mslb_addr a4 = addr("198.18.1.11");
    struct mslb_addr a6 = addr("2001:db8::21");
    struct model_lookup lk;
    size_t n, len;
    char *error;
    json_t *j;

    j = load("{\"name\": \"lb\", \"mac\": \"0a:00:00:00:00:01\", "
             "\"frontend_port\": \"arm\"}");
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    mdb_put_bridge(db, br);
    j = load("{\"name\": \"host\", \"role\": \"final\"}");
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    mdb_put_bridge(db, br);
    lk = mdb_lookup(db);
    j = load("{\"name\": \"l3\", \"vip\": \"198.18.0.100\", "
             "\"protocol\": \"tcp\", \"port\": 80, \"mode\": \"l3dsr\", \"dscp\": 10, "
             "\"bridges\": [\"lb\"], \"backends\": ["
             "{\"name\": \"s1\", \"ip\": \"198.18.1.11\", "
             "\"mac\": \"02:00:00:00:01:11\", \"host_bridge\": \"host\"},"
             "{\"name\": \"s2\", \"ip\": \"198.18.1.12\", "
             "\"mac\": \"02:00:00:00:01:12\"}]}");
    error = model_service_from_json(j, "", &lk, &svc);
    json_decref(j);
    if (error) {
        fail_msg("%s", error);
    }
    svc->id = mdb_new_service_id(db, svc);
    mdb_put_service(db, svc);

    t = announce_targets(db, mdb_find_bridge(db, "host"), &n);
    assert_int_equal(n, 1);         /* s2 is not behind it. */
    assert_true(mslb_addr_equal(&t[0].addr, &a4));
    assert_true(t[0].probe);
    free(t);
    t = announce_targets(db, mdb_find_bridge(db, "lb"), &n);
    assert_int_equal(n, 1);
    assert_false(t[0].probe);
    free(t);
    mdb_destroy(db);

    len = announce_probe_frame(&a4, &mac, f);
    assert_int_equal(len, 42);
    assert_memory_equal(f, "\xff\xff\xff\xff\xff\xff", 6);
    assert_memory_equal(f + 20, "\x00\x01", 2);         /* Request. */
    assert_memory_equal(f + 22, mac.b, 6);
    assert_memory_equal(f + 28, "\0\0\0\0", 4);        /* A probe. */
    assert_memory_equal(f + 38, &a4.v4, 4);

    len = announce_probe_frame(&a6, &mac, f);
    assert_int_equal(len, 14 + 40 + 24 + 8);
    /* To the target's solicited-node group, from our link-local. */
    assert_memory_equal(f, "\x33\x33\xff\x00\x00\x21", 6);
    assert_int_equal(f[14 + 8], 0xfe);
    assert_int_equal(f[14 + 9], 0x80);
    assert_memory_equal(f + 14 + 24,
                        "\xff\x02\0\0\0\0\0\0\0\0\0\x01\xff\0\0\x21", 16);
    const uint8_t *icmp = f + 54;
    assert_int_equal(icmp[0], 135);                      /* NS. */
    assert_memory_equal(icmp + 8, &a6.v6, 16);
    assert_int_equal(icmp[24], 1);                       /* Source LLA. */
    assert_memory_equal(icmp + 26, mac.b, 6);
    uint32_t sum = packet_csum_pseudoheader6((const void *) (f + 14));
    assert_int_equal(csum_finish(csum_continue(sum, icmp, 32)), 0);
}

static void
test_packet_out(void **state OVS_UNUSED)
{
    uint8_t f[ANNOUNCE_FRAME_MAX];
    struct mslb_addr a4 = addr("198.18.0.100");
    size_t len = announce_frame(&a4, &mac, f);

    for (int v = OFP13_VERSION; v <= OFP15_VERSION; v++) {
        struct ofpbuf *msg = announce_packet_out(v, f, len, 7);
        struct ofputil_packet_out po;
        struct ofpbuf ofpacts;

        ofpbuf_init(&ofpacts, 64);
        assert_int_equal(ofputil_decode_packet_out(&po, msg->data, NULL,
                                                   &ofpacts), 0);
        assert_int_equal(po.packet_len, len);
        assert_memory_equal(po.packet, f, len);
        assert_int_equal(po.buffer_id, UINT32_MAX);
        assert_int_equal(ofp_to_u16(po.flow_metadata.flow.in_port.ofp_port),
                         ofp_to_u16(OFPP_CONTROLLER));
        const struct ofpact *a = ofpacts.data;
        assert_int_equal(a->type, OFPACT_OUTPUT);
        assert_int_equal(ofp_to_u16(ofpact_get_OUTPUT(a)->port), 7);
        ofpbuf_uninit(&ofpacts);
        ofpbuf_delete(msg);
    }
}

static struct announce_target *
targets(size_t first, size_t n)
{
    struct announce_target *t = xcalloc(n + 1, sizeof *t);

    for (size_t i = 0; i < n; i++) {
        t[i].addr.family = AF_INET;
        t[i].addr.v4.s_addr = htonl(0xc6120000 + first + i);
    }
    return t;
}

static void
test_schedule(void **state OVS_UNUSED)
{
    const struct announce_target *out[ANNOUNCE_BURST];
    struct announcer *a = announcer_create(1000);
    size_t counts[10] = { 0 };
    uint64_t next, now = 5000;
    size_t n, total = 0;

    /* 10 new: all at once; then one round of 10, spread over 1 s. */
    announcer_set_targets(a, targets(0, 10), 10, now);
    assert_int_equal(announcer_due(a, now, out, &next), 10);
    assert_true(next > now && next <= now + 1000);
    while (now < 6000) {
        now = next;
        n = announcer_due(a, now, out, &next);
        assert_true(n <= 3);    /* Spread: never the whole round. */
        for (size_t i = 0; i < n; i++) {
            counts[ntohl(out[i]->addr.v4.s_addr) - 0xc6120000]++;
        }
        total += n;
    }
    assert_int_equal(total, 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(counts[i], 1);
    }

    /* One added, one removed: only the new one at once. */
    announcer_set_targets(a, targets(1, 10), 10, now);
    n = announcer_due(a, now, out, &next);
    assert_true(n >= 1);
    assert_int_equal(ntohl(out[0]->addr.v4.s_addr), 0xc6120000 + 10);

    /* Many new ones go out in bursts, 20 ms apart. */
    announcer_set_targets(a, targets(0, 450), 450, now);
    assert_int_equal(announcer_due(a, now, out, &next), ANNOUNCE_BURST);
    assert_int_equal(next, now + ANNOUNCE_MIN_STEP_MS);

    /* Reset: everything is new again. */
    announcer_reset(a);
    announcer_set_targets(a, targets(0, 5), 5, now);
    assert_int_equal(announcer_due(a, now, out, &next), 5);
    announcer_destroy(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_frames),
        cmocka_unit_test(test_probes),
        cmocka_unit_test(test_packet_out),
        cmocka_unit_test(test_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
