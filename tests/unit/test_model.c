/* Model validation: every bad input gets the documented "path: reason". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/model.h"

#include <jansson.h>

#define BRIDGE "{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\"," \
    "\"frontend_port\":\"front\",\"backend_port\":\"back\"}"
#define BACKEND(IP, MAC) "{\"name\":\"" IP "\",\"ip\":\"" IP "\"," \
    "\"mac\":\"" MAC "\"}"
#define L3DSR(NAME, VIP, DSCP, HOSTBR) \
    "{\"name\":\"" NAME "\",\"vip\":\"" VIP "\",\"protocol\":\"tcp\"," \
    "\"port\":80,\"mode\":\"l3dsr\",\"dscp\":" DSCP "," \
    "\"bridges\":[\"br-lb\"],\"backends\":[{\"name\":\"s\"," \
    "\"ip\":\"198.18.1.1\",\"mac\":\"02:00:00:00:00:01\"," \
    "\"host_bridge\":\"" HOSTBR "\"}]}"
#define FINALS ",{\"name\":\"h1\",\"role\":\"final\"}," \
    "{\"name\":\"h2\",\"role\":\"final\"}"
#define SERVICE(NAME, VIP, PROTO, PORT, BACKENDS) \
    "{\"name\":\"" NAME "\",\"vip\":\"" VIP "\",\"protocol\":\"" PROTO "\"," \
    "\"port\":" PORT ",\"bridges\":[\"br-lb\"],\"backends\":[" BACKENDS "]}"

static char *
try_parse(const char *text, struct model **mp)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    char *error;

    assert_non_null(j);
    error = model_from_json(j, mp);
    json_decref(j);
    return error;
}

static void
expect_error(const char *text, const char *expected)
{
    struct model *m;
    char *error = try_parse(text, &m);

    if (!error || strcmp(error, expected)) {
        print_error("input:    %s\nexpected: %s\ngot:      %s\n", text,
                    expected, error ? error : "(accepted)");
        fail();
    }
    assert_null(m);
    free(error);
}

static void
test_valid(void **state)
{
    struct model *m;
    char *error = try_parse(
        "{\"bridges\":[" BRIDGE "],\"services\":["
        SERVICE("web", "198.18.0.100", "tcp", "80",
                BACKEND("198.18.1.11", "02:00:00:00:01:11") ","
                "{\"name\":\"b\",\"ip\":\"198.18.1.12\",\"port\":8080,"
                "\"mac\":\"02:00:00:00:01:12\",\"weight\":10,"
                "\"state\":\"drain\"}") ","
        SERVICE("dns", "198.18.0.100", "udp", "53",
                BACKEND("198.18.1.11", "02:00:00:00:01:11")) "]}", &m);

    (void) state;
    assert_null(error);
    assert_int_equal(m->n_bridges, 1);
    assert_int_equal(m->n_services, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct model_service *svc = &m->services[i];
        assert_true(svc->id >= 1 && svc->id <= 0xffffff);
        if (!strcmp(svc->name, "web")) {
            assert_int_equal(svc->backends[0].port, 80);
            assert_int_equal(svc->backends[0].weight, 1);
            assert_int_equal(svc->backends[1].port, 8080);
            assert_int_equal(svc->backends[1].weight, 10);
            assert_int_equal(svc->backends[1].state, MODEL_BACKEND_DRAIN);
        }
    }
    assert_int_equal(m->bridges[0].ct_zone, 1);
    assert_string_equal(m->bridges[0].backend_port, "back");
    model_destroy(m);

    /* l3dsr: one DSCP may name two VIPs behind different host bridges. */
    error = try_parse("{\"bridges\":[" BRIDGE FINALS "],\"services\":["
                      L3DSR("a", "198.18.0.1", "10", "h1") ","
                      L3DSR("b", "198.18.0.2", "10", "h2") "]}", &m);
    assert_null(error);
    model_destroy(m);
}

/* Ids depend on the service key only: another service does not move them. */
static void
test_stable_ids(void **state)
{
    struct model *a, *b;
    uint32_t id_a = 0, id_b = 0;

    (void) state;
    assert_null(try_parse("{\"bridges\":[" BRIDGE "],\"services\":["
                          SERVICE("web", "198.18.0.100", "tcp", "80",
                                  BACKEND("198.18.1.11", "02:00:00:00:01:11"))
                          "]}", &a));
    assert_null(try_parse("{\"bridges\":[" BRIDGE "],\"services\":["
                          SERVICE("x", "198.18.0.7", "tcp", "80", "") ","
                          SERVICE("web", "198.18.0.100", "tcp", "80",
                                  BACKEND("198.18.1.11", "02:00:00:00:01:11"))
                          "]}", &b));
    for (size_t i = 0; i < a->n_services; i++) {
        if (!strcmp(a->services[i].name, "web")) id_a = a->services[i].id;
    }
    for (size_t i = 0; i < b->n_services; i++) {
        if (!strcmp(b->services[i].name, "web")) id_b = b->services[i].id;
    }
    assert_int_equal(id_a, id_b);
    model_destroy(a);
    model_destroy(b);
}

static void
test_errors(void **state)
{
    static const struct { const char *in, *out; } cases[] = {
        { "[]", "(top level): must be a JSON object" },
        { "{}", "bridges: is required" },
        { "{\"bridges\":[],\"extra\":1}", "extra: unknown key" },
        { "{\"bridges\":{}}", "bridges: must be an array" },
        { "{\"bridges\":[{}]}", "bridges[0].name: is required" },
        { "{\"bridges\":[{\"name\":\"br lb\"}]}",
          "bridges[0].name: must be 1 to 15 characters of A-Z a-z 0-9 . _ -" },
        { "{\"bridges\":[{\"name\":\"b\",\"mac\":\"0a:00:00:00:00\"}]}",
          "bridges[0].mac: \"0a:00:00:00:00\" is not a MAC address "
          "(xx:xx:xx:xx:xx:xx)" },
        { "{\"bridges\":[{\"name\":\"b\",\"mac\":\"01:00:00:00:00:01\"}]}",
          "bridges[0].mac: \"01:00:00:00:00:01\" is a multicast MAC address" },
        { "{\"bridges\":[{\"name\":\"b\",\"mac\":\"0a:00:00:00:00:01\"}]}",
          "bridges[0].frontend_port: is required" },
        { "{\"bridges\":[{\"name\":\"b\",\"mac\":\"0a:00:00:00:00:01\","
          "\"frontend_port\":\"f\",\"color\":\"red\"}]}",
          "bridges[0].color: unknown key" },
        { "{\"bridges\":[{\"name\":\"b\",\"mac\":\"0a:00:00:00:00:01\","
          "\"frontend_port\":\"f\",\"ct_zone\":0}]}",
          "bridges[0].ct_zone: must be an integer from 1 to 65535" },
        { "{\"bridges\":[{\"name\":\"b\",\"mac\":\"0a:00:00:00:00:01\","
          "\"frontend_port\":\"f\",\"datapath_id\":\"xyz\"}]}",
          "bridges[0].datapath_id: must be a nonzero hexadecimal string of "
          "up to 16 digits" },
        { "{\"bridges\":[" BRIDGE "," BRIDGE "]}",
          "bridges[1]: duplicate bridge name \"br-lb\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\"}]}",
          "services[0].vip: is required" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.300", "tcp", "80", "") "]}",
          "services[0].vip: \"198.18.0.300\" is not an IPv4 or IPv6 address" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "224.0.0.1", "tcp", "80", "") "]}",
          "services[0].vip: \"224.0.0.1\" is not a unicast host address" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "sctp", "80", "") "]}",
          "services[0].protocol: must be \"tcp\", \"udp\" or \"any\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "0", "") "]}",
          "services[0].port: must be an integer from 1 to 65535" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "\"80\"", "") "]}",
          "services[0].port: must be an integer from 1 to 65535" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
          "\"mode\":\"magic\",\"bridges\":[\"br-lb\"],\"backends\":[]}]}",
          "services[0].mode: must be \"nat\", \"dr\", \"tun\", \"l3dsr\", "
          "\"mslb\" or \"local\"" },
        { "{\"bridges\":[" BRIDGE FINALS "],\"services\":["
          L3DSR("a", "198.18.0.1", "10", "h1") ","
          L3DSR("b", "198.18.0.2", "10", "h1") "]}",
          "services[1].dscp: 10 already names vip 198.18.0.1 for backend "
          "198.18.1.1 (service \"a\"): the final stage could not tell them "
          "apart" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"udp\",\"port\":53,"
          "\"mss\":1200,\"bridges\":[\"br-lb\"],\"backends\":[]}]}",
          "services[0].mss: only for protocol \"tcp\" or \"any\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"any\",\"mode\":\"dr\","
          "\"distribution\":\"3-tuple\",\"bridges\":[\"br-lb\"],"
          "\"backends\":[]}]}",
          "services[0].distribution: \"3-tuple\" needs protocol \"tcp\" or "
          "\"udp\"; use \"2-tuple\" for \"any\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
          "\"distribution\":\"4-tuple\",\"bridges\":[\"br-lb\"],"
          "\"backends\":[]}]}",
          "services[0].distribution: must be \"5-tuple\", \"3-tuple\" or "
          "\"2-tuple\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
          "\"mode\":\"dr\",\"persistence\":30,"
          "\"distribution\":\"2-tuple\",\"bridges\":[\"br-lb\"],"
          "\"backends\":[]}]}",
          "services[0].distribution: a service with persistence is spread "
          "by client address already" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
          "\"slots\":\"1/15/\",\"bridges\":[\"br-lb\"],"
          "\"backends\":[]}]}",
          "services[0].slots: is not a slot table (see docs/database.md)" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
          "\"mss\":500,\"bridges\":[\"br-lb\"],\"backends\":[]}]}",
          "services[0].mss: must be an integer from 536 to 65495" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"2001:db8::1\",\"protocol\":\"tcp\",\"port\":80,"
          "\"mss\":1000,\"bridges\":[\"br-lb\"],\"backends\":[]}]}",
          "services[0].mss: must be an integer from 1220 to 65495" },
        { "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
          "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
          "\"bridges\":[\"br-x\"],\"backends\":[]}]}",
          "services[0].bridges[0]: no bridge named \"br-x\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80",
                  "{\"name\":\"s\",\"ip\":\"2001:db8::1\","
                  "\"mac\":\"02:00:00:00:00:01\"}") "]}",
          "services[0].backends[0].ip: address family differs from the "
          "service's vip" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80",
                  "{\"name\":\"s\",\"ip\":\"198.18.1.1\","
                  "\"mac\":\"02:00:00:00:00:01\",\"weight\":0}") "]}",
          "services[0].backends[0].weight: must be an integer from 1 to "
          "10000" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80",
                  "{\"name\":\"s\",\"ip\":\"198.18.1.1\","
                  "\"mac\":\"02:00:00:00:00:01\",\"weight\":1.5}") "]}",
          "services[0].backends[0].weight: must be an integer from 1 to "
          "10000" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80",
                  "{\"name\":\"s\",\"ip\":\"198.18.1.1\","
                  "\"mac\":\"02:00:00:00:00:01\",\"state\":\"off\"}") "]}",
          "services[0].backends[0].state: must be \"up\", \"drain\" or "
          "\"down\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80",
                  BACKEND("198.18.1.1", "02:00:00:00:00:01") ","
                  BACKEND("198.18.1.1", "02:00:00:00:00:01")) "]}",
          "services[0].backends[1]: duplicate backend name \"198.18.1.1\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80", "") ","
          SERVICE("a", "198.18.0.2", "tcp", "80", "") "]}",
          "services[1]: duplicate service name \"a\"" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80", "") ","
          SERVICE("b", "198.18.0.1", "tcp", "80", "") "]}",
          "services[1]: duplicate virtual service (same vip, protocol and "
          "port as services[0])" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80",
                  BACKEND("198.18.1.1", "02:00:00:00:00:01")) ","
          SERVICE("b", "198.18.0.1", "udp", "80",
                  BACKEND("198.18.1.1", "02:00:00:00:00:02")) "]}",
          "services[1].backends[0].mac: differs from the MAC given for the "
          "same address in services[0].backends[0]" },
        { "{\"bridges\":[" BRIDGE "],\"services\":["
          SERVICE("a", "198.18.0.1", "tcp", "80",
                  BACKEND("198.18.0.1", "02:00:00:00:00:01")) "]}",
          "services[0].backends[0].ip: must differ from the service's vip" },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_error(cases[i].in, cases[i].out);
    }
}

/* Addresses of one host only: a VIP, a backend's ip and host, a gateway.
 * IPv4 written inside IPv6 is refused too (a second spelling). */
static void
test_host_addresses(void **state)
{
#define GW_BRIDGE(GW) "{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\"," \
    "\"frontend_port\":\"front\",\"gateways\":[\"" GW "\"]}"
#define TUN_BRIDGE "{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\"," \
    "\"frontend_port\":\"front\",\"tunnel_ports\":{\"vxlan\":\"vx\"}}"
#define TUN_SERVICE(HOST) "{\"name\":\"t\",\"vip\":\"198.18.0.1\"," \
    "\"protocol\":\"tcp\",\"port\":80,\"mode\":\"tun\"," \
    "\"bridges\":[\"br-lb\"],\"backends\":[{\"name\":\"s1\"," \
    "\"ip\":\"198.18.1.11\",\"mac\":\"02:00:00:00:01:11\"," \
    "\"host\":\"" HOST "\"}]}"
    static const char *const bad_vips[][2] = {
        { "::ffff:198.18.0.1",
          "is an IPv4-mapped IPv6 address: write the IPv4 address" },
        { "::ffff:c612:1",
          "is an IPv4-mapped IPv6 address: write the IPv4 address" },
        { "::198.18.0.1", "is an IPv4-compatible IPv6 address (deprecated)" },
        { "255.255.255.255", "is not a unicast host address" },
        { "240.0.0.1", "is not a unicast host address" },
        { "0.0.0.0", "is not a unicast host address" },
        { "0.1.2.3", "is not a unicast host address" },
        { "127.0.0.1", "is not a unicast host address" },
        { "239.1.1.1", "is not a unicast host address" },
        { "::", "is not a unicast host address" },
        { "::1", "is not a unicast host address" },
        { "ff02::1", "is not a unicast host address" },
    };
    char in[1024], out[256];

    (void) state;
    for (size_t i = 0; i < sizeof bad_vips / sizeof bad_vips[0]; i++) {
        const char *a = bad_vips[i][0], *why = bad_vips[i][1];

        snprintf(in, sizeof in, "{\"bridges\":[" BRIDGE "],\"services\":["
                 SERVICE("a", "%s", "tcp", "80", "") "]}", a);
        snprintf(out, sizeof out, "services[0].vip: \"%s\" %s", a, why);
        expect_error(in, out);

        snprintf(in, sizeof in, "{\"bridges\":[" GW_BRIDGE("%s") "]}", a);
        snprintf(out, sizeof out, "bridges[0].gateways[0]: \"%s\" %s", a,
                 why);
        expect_error(in, out);

        snprintf(in, sizeof in, "{\"bridges\":[" BRIDGE "],\"services\":["
                 SERVICE("a", "198.18.0.1", "tcp", "80",
                         "{\"name\":\"s\",\"ip\":\"%s\","
                         "\"mac\":\"02:00:00:00:01:11\"}") "]}", a);
        snprintf(out, sizeof out, "services[0].backends[0].ip: \"%s\" %s", a,
                 why);
        expect_error(in, out);

        snprintf(in, sizeof in, "{\"bridges\":[" TUN_BRIDGE "],"
                 "\"services\":[" TUN_SERVICE("%s") "]}", a);
        snprintf(out, sizeof out, "services[0].backends[0].host: \"%s\" %s",
                 a, why);
        expect_error(in, out);
    }

    /* Still fine: unicast, link-local IPv6 gateways included. */
    struct model *m;
    char *error = try_parse("{\"bridges\":[" GW_BRIDGE("fe80::1") "],"
                            "\"services\":[" SERVICE("v6", "2001:db8::1",
                                                     "tcp", "80", "") "]}",
                            &m);
    assert_null(error);
    model_destroy(m);
#undef GW_BRIDGE
#undef TUN_BRIDGE
#undef TUN_SERVICE
}

static void
test_file_errors(void **state)
{
    struct model *m;
    char *error = model_from_file("/nonexistent/mslb.json", &m);

    (void) state;
    assert_non_null(error);
    assert_non_null(strstr(error, "/nonexistent/mslb.json"));
    assert_null(m);
    free(error);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_stable_ids),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_host_addresses),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
