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
#include "mslb/modeldb.h"

#include <jansson.h>

#define TUN_BRIDGE_M "{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\"," \
    "\"frontend_port\":\"front\",\"tunnel_ports\":{\"vxlan\":\"vx\"}}"
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
          "\"mslb\", \"local\" or \"slb\"" },
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
/* A backend's MAC is optional where mslbd resolves it (nat, dr, l3dsr,
 * and mslb from the final stage), required in tun, where the server's own
 * tunnel end hides it; absent, it is not rendered. */
static void
test_optional_mac(void **state)
{
    static const char *const modes[] = { "nat", "dr", "l3dsr" };
    char in[1024];
    struct model *m;
    char *error;

    (void) state;
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
        snprintf(in, sizeof in, "{\"bridges\":[" BRIDGE "],\"services\":["
                 "{\"name\":\"a\",\"vip\":\"198.18.0.1\","
                 "\"protocol\":\"tcp\",\"port\":80,\"mode\":\"%s\",%s"
                 "\"bridges\":[\"br-lb\"],\"backends\":[{\"name\":\"s1\","
                 "\"ip\":\"198.18.1.11\"}]}]}", modes[i],
                 !strcmp(modes[i], "l3dsr") ? "\"dscp\":10," : "");
        error = try_parse(in, &m);
        if (error) {
            print_error("%s: %s\n", modes[i], error);
            fail();
        }
        assert_false(m->services[0].backends[0].has_mac);
        json_t *j = model_backend_to_json(&m->services[0].backends[0]);
        assert_null(json_object_get(j, "mac"));
        json_decref(j);
        model_destroy(m);
    }
    expect_error("{\"bridges\":[" TUN_BRIDGE_M "],\"services\":["
                 "{\"name\":\"t\",\"vip\":\"198.18.0.1\","
                 "\"protocol\":\"tcp\",\"port\":80,\"mode\":\"tun\","
                 "\"bridges\":[\"br-lb\"],\"backends\":[{\"name\":\"s1\","
                 "\"ip\":\"198.18.1.11\"}]}]}",
                 "services[0].backends[0].mac: is required");
}

/* Mode slb: backends on a final stage's host, each with its own port
 * (translated there), a MAC (the host tells them apart by it), "host" and
 * "host_bridge"; a service of every port translates addresses only. */
#define SLB_BRIDGES TUN_BRIDGE_M ",{\"name\":\"h1\",\"role\":\"final\"," \
    "\"tunnel_ports\":{\"vxlan\":\"vx1\"}}"
#define SLB(PROTO, PORT, BE) \
    "{\"bridges\":[" SLB_BRIDGES "],\"services\":[{\"name\":\"a\"," \
    "\"vip\":\"198.18.0.1\",\"protocol\":\"" PROTO "\"," PORT \
    "\"mode\":\"slb\",\"bridges\":[\"br-lb\"],\"backends\":[{" \
    "\"name\":\"vm\",\"ip\":\"198.18.1.11\"" BE "}]}]}"
#define ON_HOST ",\"host\":\"198.18.2.2\",\"host_bridge\":\"h1\""
#define VM_MAC ",\"mac\":\"02:00:00:00:01:11\""
static void
test_slb(void **state)
{
    struct model *m;

    (void) state;
    assert_null(try_parse(SLB("tcp", "\"port\":80,",
                              ",\"port\":8080" VM_MAC ON_HOST), &m));
    assert_int_equal(m->services[0].mode, MODEL_MODE_SLB);
    assert_int_equal(m->services[0].backends[0].port, 8080);
    assert_true(model_mode_via_host(MODEL_MODE_SLB));
    assert_true(model_mode_is_dsr(MODEL_MODE_SLB));
    json_t *j = model_service_to_json(&m->services[0]);
    assert_string_equal(json_string_value(json_object_get(j, "mode")),
                        "slb");
    assert_string_equal(json_string_value(json_object_get(j, "tunnel")),
                        "vxlan");
    json_decref(j);
    model_destroy(m);
    /* The backend's port defaults to the service's. */
    assert_null(try_parse(SLB("udp", "\"port\":53,", VM_MAC ON_HOST), &m));
    assert_int_equal(m->services[0].backends[0].port, 53);
    model_destroy(m);
    assert_null(try_parse(SLB("any", "", VM_MAC ON_HOST), &m));
    model_destroy(m);

    /* Probes go through the host's translation of VIP:port only. */
    expect_error(SLB("tcp", "\"port\":80,\"monitor\":{\"type\":\"icmp\"},",
                     VM_MAC ON_HOST),
                 "services[0].monitor.type: an icmp monitor cannot reach an "
                 "slb backend: its host translates tcp to port 80 only");
    expect_error(SLB("tcp", "\"port\":80,\"monitor\":{\"type\":\"tcp\","
                     "\"port\":81},", VM_MAC ON_HOST),
                 "services[0].monitor.port: must be the service's port (80) "
                 "in mode slb: the host translates only that one");

    /* No MAC: mslbd asks for it from the host's bridge. */
    assert_null(try_parse(SLB("tcp", "\"port\":80,", ON_HOST), &m));
    assert_false(m->services[0].backends[0].has_mac);
    model_destroy(m);
    expect_error(SLB("tcp", "\"port\":80,", VM_MAC),
                 "services[0].backends[0].host: is required in mode slb "
                 "(the final-stage bridge's tunnel address)");
    expect_error(SLB("any", "", ",\"port\":8080" VM_MAC ON_HOST),
                 "services[0].backends[0].port: must be absent when the "
                 "service covers every port");

    /* Floating IP: no translation, so the service's port. */
    assert_null(try_parse(SLB("tcp", "\"port\":80,\"floating_ip\":true,",
                              VM_MAC ON_HOST), &m));
    assert_true(m->services[0].floating_ip);
    j = model_service_to_json(&m->services[0]);
    assert_true(json_is_true(json_object_get(j, "floating_ip")));
    json_decref(j);
    model_destroy(m);
    expect_error(SLB("tcp", "\"port\":80,\"floating_ip\":true,",
                     ",\"port\":8080" VM_MAC ON_HOST),
                 "services[0].backends[0].port: must equal the service's "
                 "with floating_ip (nothing translates it)");
    expect_error(SLB("tcp", "\"port\":80,\"floating_ip\":1,",
                     VM_MAC ON_HOST),
                 "services[0].floating_ip: must be true or false");
    expect_error("{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","
                 "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
                 "\"mode\":\"dr\",\"floating_ip\":true,"
                 "\"bridges\":[\"br-lb\"],\"backends\":[]}]}",
                 "services[0].floating_ip: only for mode slb");
}

/* Outbound SNAT (flows/model_outbound.c): members, blocks given at
 * parse time, kept and given out by fit and grow, and the rules. */
#define OB(OUT) SLB("tcp", "\"port\":80,\"outbound\":" OUT ",", \
                    ",\"port\":8080" VM_MAC ON_HOST)
static void
test_outbound(void **state)
{
    struct model *m;

    (void) state;
    assert_null(try_parse(OB("{}"), &m));
    const struct model_outbound *o = m->services[0].outbound;
    assert_non_null(o);
    assert_int_equal(o->port_lo, MODEL_OUTBOUND_PORT_LO);
    assert_int_equal(o->port_hi, MODEL_OUTBOUND_PORT_HI);
    assert_int_equal(o->block, MODEL_OUTBOUND_BLOCK);
    assert_int_equal(o->n_blocks, 1);           /* One for host h1. */
    assert_int_equal(o->blocks[0].start, 1024);
    assert_string_equal(o->blocks[0].host_bridge, "h1");
    /* Round trip through JSON keeps the blocks. */
    json_t *j = model_service_to_json(&m->services[0]);
    const json_t *b = json_object_get(json_object_get(j, "outbound"),
                                      "blocks");
    assert_int_equal(json_array_size(b), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(b, 0), "end")), 1024 + 255);
    json_decref(j);

    /* Grow gives the lowest free block; fit keeps blocks in order, drops
     * those of bridges without backends and out of the range. */
    struct model_service *svc = &m->services[0];
    assert_true(model_outbound_grow(svc, "h1"));
    assert_int_equal(svc->outbound->n_blocks, 2);
    assert_int_equal(model_outbound_newest(svc->outbound, "h1")->start,
                     1280);
    assert_int_equal(model_outbound_count(svc->outbound, "h1"), 2);
    char *text = model_outbound_blocks_format(svc->outbound);
    assert_string_equal(text, "1024:h1 1280:h1");
    struct model_snat_block *prev;
    size_t n;
    assert_true(model_outbound_blocks_parse("1280:h1 7:h1 1536:gone",
                                            &prev, &n));
    assert_int_equal(n, 3);
    model_outbound_fit(svc, prev, n);
    assert_int_equal(svc->outbound->n_blocks, 1);   /* 7: not aligned. */
    assert_int_equal(svc->outbound->blocks[0].start, 1280);
    model_snat_blocks_free(prev, n);
    assert_false(model_outbound_blocks_parse("1024:h1 x", &prev, &n));
    free(text);
    model_destroy(m);

    /* A range of two blocks: the third is refused. */
    assert_null(try_parse(OB("{\"ports\":\"40000-40015\",\"block\":8,"
                             "\"ip\":\"198.18.0.9\","
                             "\"exclude\":[\"198.18.1.0/24\"]}"), &m));
    svc = &m->services[0];
    assert_int_equal(svc->outbound->exclude[0].len, 24);
    assert_true(model_outbound_grow(svc, "h1"));
    assert_false(model_outbound_grow(svc, "h1"));
    model_destroy(m);

    expect_error(OB("{\"block\":12}"),
                 "services[0].outbound.block: must be a power of two from "
                 "8 to 32768");
    expect_error(OB("{\"ports\":\"100-50\"}"),
                 "services[0].outbound.ports: must be \"FIRST-LAST\", "
                 "1 <= FIRST <= LAST <= 65535");
    expect_error(OB("{\"ports\":\"1000-2047\"}"),
                 "services[0].outbound.ports: must start and end on blocks "
                 "of 256 ports (e.g. 1024-2047)");
    expect_error(OB("{\"ports\":\"0-1023\"}"),
                 "services[0].outbound.ports: must be \"FIRST-LAST\", "
                 "1 <= FIRST <= LAST <= 65535");
    expect_error(OB("{\"ports\":\"64-127\",\"block\":64}"),
                 "services[0].outbound.ports: holds the service's own "
                 "port 80");
    expect_error(OB("{\"exclude\":[\"2001:db8::/32\"]}"),
                 "services[0].outbound.exclude[0]: is not of the outbound "
                 "address's family");
    expect_error(OB("{\"exclude\":[\"198.18.0.0/33\"]}"),
                 "services[0].outbound.exclude[0]: must be an address or "
                 "ADDRESS/LENGTH");
    expect_error(OB("{\"ip\":\"2001:db8::1\"}"),
                 "services[0].outbound.ip: is IPv6 but backends[0] is not");
    expect_error(OB("{\"mask\":1}"),
                 "services[0].outbound.mask: unknown key");
    expect_error(SLB("any", "\"outbound\":{},", VM_MAC ON_HOST),
                 "services[0].outbound.ip: a service of every port cannot "
                 "share its address with outbound connections: give another "
                 "\"ip\"");
}

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

/* Health monitors: a service's, a backend's merged over it, their
 * rendering, and where probes can leave from. */
#define GW_BRIDGE "{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\"," \
    "\"frontend_port\":\"front\",\"gateways\":[\"198.18.0.254\"," \
    "\"2001:db8::fe\"]}"
/* A service with one backend, and JSON members of each. */
#define MON_SERVICE(PROTO, PORT, SVC_MON, BE_MON)                          \
    "{\"bridges\":[" GW_BRIDGE "],\"services\":[{\"name\":\"a\","        \
    "\"vip\":\"198.18.0.1\",\"protocol\":\"" PROTO "\"," PORT SVC_MON      \
    "\"bridges\":[\"br-lb\"],\"backends\":[{\"name\":\"s\","             \
    "\"ip\":\"198.18.1.1\",\"mac\":\"02:00:00:00:00:01\"" BE_MON "}]}]}"
#define TCP80 "\"port\":80,"

static json_t *
render(const struct model *m)
{
    json_t *j = model_to_json(m);
    json_t *svc = json_array_get(json_object_get(j, "services"), 0);

    return json_incref(svc), json_decref(j), svc;
}

static void
test_monitor(void **state)
{
    struct model *m, *again;
    char *error = try_parse(
        "{\"bridges\":[" GW_BRIDGE "],\"services\":[{\"name\":\"a\","
        "\"vip\":\"198.18.0.1\",\"protocol\":\"tcp\",\"port\":80,"
        "\"monitor\":{\"type\":\"tcp\"},\"bridges\":[\"br-lb\"],"
        "\"backends\":[" BACKEND("198.18.1.1", "02:00:00:00:00:01") ","
        "{\"name\":\"b\",\"ip\":\"198.18.1.2\",\"mac\":\"02:00:00:00:00:02\","
        "\"monitor\":{\"interval\":0.5,\"port\":8081}},"
        "{\"name\":\"c\",\"ip\":\"198.18.1.3\",\"mac\":\"02:00:00:00:00:03\","
        "\"monitor\":{\"type\":\"none\"}},"
        "{\"name\":\"d\",\"ip\":\"198.18.1.4\",\"mac\":\"02:00:00:00:00:04\","
        "\"monitor\":{\"timeout\":1.0004,\"rise\":1,\"fall\":100}}]}]}",
        &m);
    const struct model_monitor *mon;

    (void) state;
    assert_null(error);
    mon = &m->services[0].monitor;
    assert_int_equal(mon->type, MODEL_MONITOR_TCP);
    assert_int_equal(mon->port, 0);
    assert_int_equal(mon->interval_ms, MODEL_MONITOR_INTERVAL_MS);
    assert_int_equal(mon->timeout_ms, MODEL_MONITOR_TIMEOUT_MS);
    assert_int_equal(mon->rise, MODEL_MONITOR_RISE);
    assert_int_equal(mon->fall, MODEL_MONITOR_FALL);
    assert_int_equal(mon->set, MODEL_MONITOR_F_TYPE);
    /* No monitor of its own: the service's. */
    mon = &m->services[0].backends[0].monitor;
    assert_int_equal(mon->type, MODEL_MONITOR_TCP);
    assert_int_equal(mon->interval_ms, 5000);
    assert_int_equal(mon->set, 0);
    /* Its own interval: the default timeout is no longer than that. */
    mon = &m->services[0].backends[1].monitor;
    assert_int_equal(mon->type, MODEL_MONITOR_TCP);
    assert_int_equal(mon->port, 8081);
    assert_int_equal(mon->interval_ms, 500);
    assert_int_equal(mon->timeout_ms, 500);
    assert_int_equal(mon->set,
                     MODEL_MONITOR_F_INTERVAL | MODEL_MONITOR_F_PORT);
    mon = &m->services[0].backends[2].monitor;
    assert_int_equal(mon->type, MODEL_MONITOR_NONE);
    assert_int_equal(mon->set, MODEL_MONITOR_F_TYPE);
    /* Rounded to the ms. */
    mon = &m->services[0].backends[3].monitor;
    assert_int_equal(mon->timeout_ms, 1000);
    assert_int_equal(mon->rise, 1);
    assert_int_equal(mon->fall, 100);

    /* The service's monitor in full, a backend's own fields only. */
    json_t *svc = render(m);
    json_t *want = json_loads(
        "{\"type\":\"tcp\",\"interval\":5,\"timeout\":2,\"rise\":2,"
        "\"fall\":3,\"sessions\":\"keep\"}", 0, NULL);
    json_t *backends = json_object_get(svc, "backends");
    assert_true(json_equal(json_object_get(svc, "monitor"), want));
    json_decref(want);
    assert_null(json_object_get(json_array_get(backends, 0), "monitor"));
    want = json_loads("{\"port\":8081,\"interval\":0.5}", 0, NULL);
    assert_true(json_equal(json_object_get(json_array_get(backends, 1),
                                           "monitor"), want));
    json_decref(want);
    want = json_loads("{\"timeout\":1,\"rise\":1,\"fall\":100}", 0,
                      NULL);
    assert_true(json_equal(json_object_get(json_array_get(backends, 3),
                                           "monitor"), want));
    json_decref(want);

    /* What model_to_json() writes reads back the same, through text. */
    json_t *doc = model_to_json(m);
    char *text = json_dumps(doc, 0);
    assert_null(try_parse(text, &again));
    json_t *doc2 = model_to_json(again);
    assert_true(json_equal(doc, doc2));
    for (size_t i = 0; i < m->services[0].n_backends; i++) {
        assert_memory_equal(&m->services[0].backends[i].monitor,
                            &again->services[0].backends[i].monitor,
                            sizeof (struct model_monitor));
    }
    json_decref(doc);
    json_decref(doc2);
    json_decref(svc);
    free(text);
    model_destroy(again);
    model_destroy(m);

    /* Fractions, bounds, and the monitor of a service without one. */
    assert_null(try_parse(MON_SERVICE("tcp", TCP80,
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"interval\":0.1,\"timeout\":0.05,"
                                      "\"port\":81},", ""), &m));
    mon = &m->services[0].backends[0].monitor;
    assert_int_equal(mon->interval_ms, 100);
    assert_int_equal(mon->timeout_ms, 50);
    assert_int_equal(mon->port, 81);
    svc = render(m);
    want = json_loads("{\"type\":\"tcp\",\"port\":81,\"interval\":0.1,"
                      "\"timeout\":0.05,\"rise\":2,\"fall\":3,"
                      "\"sessions\":\"keep\"}", 0, NULL);
    assert_true(json_equal(json_object_get(svc, "monitor"), want));
    json_decref(want);
    json_decref(svc);
    model_destroy(m);

    assert_null(try_parse(MON_SERVICE("tcp", TCP80,
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"interval\":3600,"
                                      "\"timeout\":3600},", ""), &m));
    assert_int_equal(m->services[0].monitor.timeout_ms, 3600000);
    model_destroy(m);

    assert_null(try_parse(MON_SERVICE("tcp", TCP80,
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"interval\":1},", ""), &m));
    assert_int_equal(m->services[0].monitor.timeout_ms, 1000);
    model_destroy(m);

    /* A backend's shorter interval shortens the timeout it inherits. */
    assert_null(try_parse(MON_SERVICE("tcp", TCP80,
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"timeout\":3},",
                                      ",\"monitor\":{\"interval\":1}"),
                          &m));
    assert_int_equal(m->services[0].monitor.timeout_ms, 3000);
    assert_int_equal(m->services[0].backends[0].monitor.timeout_ms, 1000);
    uint32_t hash = model_service_hash(&m->services[0]);
    model_destroy(m);
    assert_null(try_parse(MON_SERVICE("tcp", TCP80,
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"timeout\":3},",
                                      ",\"monitor\":{\"interval\":2}"),
                          &m));
    assert_int_not_equal(model_service_hash(&m->services[0]), hash);
    model_destroy(m);

    assert_null(try_parse(MON_SERVICE("tcp", TCP80, "", ""), &m));
    assert_int_equal(m->services[0].monitor.type, MODEL_MONITOR_NONE);
    assert_int_equal(m->services[0].backends[0].monitor.type,
                     MODEL_MONITOR_NONE);
    svc = render(m);
    assert_null(json_object_get(svc, "monitor"));
    json_decref(svc);
    model_destroy(m);

    /* "none" given: rendered all the same. */
    assert_null(try_parse(MON_SERVICE("udp", "\"port\":53,",
                                      "\"monitor\":{\"type\":\"none\"},",
                                      ""), &m));
    svc = render(m);
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(svc, "monitor"), "type")), "none");
    json_decref(svc);
    model_destroy(m);

    /* A TCP probe of a UDP service's backends, on a port of its own; one
     * backend probed though its service is not. */
    assert_null(try_parse(MON_SERVICE("udp", "\"port\":53,",
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"port\":53},", ""), &m));
    model_destroy(m);
    assert_null(try_parse(MON_SERVICE("tcp", TCP80, "",
                                      ",\"monitor\":{\"type\":\"tcp\"}"),
                          &m));
    assert_int_equal(m->services[0].backends[0].monitor.type,
                     MODEL_MONITOR_TCP);
    model_destroy(m);

    /* Every port: a monitor with a port of its own. */
    assert_null(try_parse(MON_SERVICE("tcp", "\"mode\":\"dr\",",
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"port\":22},", ""), &m));
    model_destroy(m);

    /* "sessions": the service's, a backend's own over it; a change of
     * it changes the service's flows (hash). */
    assert_null(try_parse(MON_SERVICE("tcp", TCP80,
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"sessions\":\"reset\"},",
                                      ",\"monitor\":{\"sessions\":\"keep\"}"),
                          &m));
    assert_true(m->services[0].monitor.reset_sessions);
    assert_false(m->services[0].backends[0].monitor.reset_sessions);
    assert_int_equal(m->services[0].backends[0].monitor.set,
                     MODEL_MONITOR_F_SESSIONS);
    svc = render(m);
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(svc, "monitor"), "sessions")), "reset");
    want = json_loads("{\"sessions\":\"keep\"}", 0, NULL);
    assert_true(json_equal(json_object_get(json_array_get(
        json_object_get(svc, "backends"), 0), "monitor"), want));
    json_decref(want);
    json_decref(svc);
    hash = model_service_hash(&m->services[0]);
    model_destroy(m);
    assert_null(try_parse(MON_SERVICE("tcp", TCP80,
                                      "\"monitor\":{\"type\":\"tcp\","
                                      "\"sessions\":\"reset\"},",
                                      ",\"monitor\":{\"sessions\":\"reset\"}"),
                          &m));
    assert_int_not_equal(model_service_hash(&m->services[0]), hash);
    model_destroy(m);

    /* Nothing probed, nothing needed of the bridge. */
    assert_null(try_parse("{\"bridges\":[" BRIDGE "],\"services\":["
                          "{\"name\":\"a\",\"vip\":\"198.18.0.1\","
                          "\"protocol\":\"tcp\",\"port\":80,"
                          "\"monitor\":{\"type\":\"tcp\"},"
                          "\"bridges\":[\"br-lb\"],\"backends\":[]}]}",
                          &m));
    model_destroy(m);
}

static void
test_monitor_errors(void **state)
{
#define NOGW_SERVICE(NET, SVC_MON, BE_MON)                                 \
    "{\"bridges\":[" BRIDGE "],\"services\":[{\"name\":\"a\","           \
    "\"vip\":\"" NET "1\",\"protocol\":\"tcp\",\"port\":80," SVC_MON      \
    "\"bridges\":[\"br-lb\"],\"backends\":[{\"name\":\"s\","             \
    "\"ip\":\"" NET "2\",\"mac\":\"02:00:00:00:00:01\"" BE_MON "}]}]}"
#define TCP_MON(MEMBERS) "\"monitor\":{\"type\":\"tcp\"" MEMBERS "},"
    static const struct { const char *in, *out; } cases[] = {
        { MON_SERVICE("tcp", TCP80, "\"monitor\":5,", ""),
          "services[0].monitor: must be an object" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"paths\":\"/\""), ""),
          "services[0].monitor.paths: unknown key" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"interval\":1},", ""),
          "services[0].monitor.type: is required" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":\"smtp\"},", ""),
          "services[0].monitor.type: must be \"none\", \"tcp\", \"http\", "
          "\"udp\" or \"icmp\"" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":\"http\","
                      "\"path\":\"x\"},", ""),
          "services[0].monitor.path: must start with \"/\"" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":\"http\","
                      "\"status\":\"200-99\"},", ""),
          "services[0].monitor.status: must be status codes or ranges from "
          "100 to 599, e.g. \"200-399\" or \"200,301-302\"" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":\"http\","
                      "\"method\":\"HEAD\",\"body\":\"ok\"},", ""),
          "services[0].monitor.body: a HEAD request's answer has no body: "
          "use \"GET\"" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":\"tcp\","
                      "\"send\":\"x\"},", ""),
          "services[0].monitor.send: only for type \"udp\"" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":\"udp\"},", ""),
          "services[0].monitor.port: is required for a udp monitor when "
          "protocol is \"tcp\" (probes need a UDP port)" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":\"icmp\","
                      "\"port\":80},", ""),
          "services[0].monitor.port: not for type \"icmp\"" },
        { MON_SERVICE("tcp", TCP80, "\"monitor\":{\"type\":1},", ""),
          "services[0].monitor.type: must be a string" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"interval\":0.05"), ""),
          "services[0].monitor.interval: must be a number of seconds from "
          "0.1 to 3600" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"interval\":3601"), ""),
          "services[0].monitor.interval: must be a number of seconds from "
          "0.1 to 3600" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"interval\":\"5\""), ""),
          "services[0].monitor.interval: must be a number of seconds from "
          "0.1 to 3600" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"interval\":-1"), ""),
          "services[0].monitor.interval: must be a number of seconds from "
          "0.1 to 3600" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"interval\":1e300"), ""),
          "services[0].monitor.interval: must be a number of seconds from "
          "0.1 to 3600" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"timeout\":0.01"), ""),
          "services[0].monitor.timeout: must be a number of seconds from "
          "0.05 to 3600" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"timeout\":6"), ""),
          "services[0].monitor.timeout: must not exceed interval (5 s)" },
        { MON_SERVICE("tcp", TCP80,
                      TCP_MON(",\"interval\":0.5,\"timeout\":0.75"), ""),
          "services[0].monitor.timeout: must not exceed interval (0.5 s)" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"sessions\":\"end\""), ""),
          "services[0].monitor.sessions: must be \"keep\" or \"reset\"" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(""), ",\"monitor\":{\"sessions\":1}"),
          "services[0].backends[0].monitor.sessions: must be a string" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"rise\":0"), ""),
          "services[0].monitor.rise: must be an integer from 1 to 100" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"fall\":101"), ""),
          "services[0].monitor.fall: must be an integer from 1 to 100" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"rise\":1.5"), ""),
          "services[0].monitor.rise: must be an integer from 1 to 100" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"port\":0"), ""),
          "services[0].monitor.port: must be an integer from 1 to 65535" },
        { MON_SERVICE("tcp", TCP80 "\"mode\":\"local\",", TCP_MON(""), ""),
          "services[0].monitor: not available in mode local (the bridge's "
          "own host serves the VIP)" },
        { MON_SERVICE("udp", "\"port\":53,", TCP_MON(""), ""),
          "services[0].monitor.port: is required for a tcp monitor when "
          "protocol is \"udp\" (probes need a TCP port)" },
        { MON_SERVICE("any", "\"mode\":\"dr\",", TCP_MON(""), ""),
          "services[0].monitor.port: is required for a tcp monitor when "
          "protocol is \"any\" (probes need a TCP port)" },
        { MON_SERVICE("tcp", "\"mode\":\"dr\",", TCP_MON(""), ""),
          "services[0].monitor.port: is required for a tcp monitor: the "
          "service has no port (it covers every port)" },
        /* A backend's own monitor, merged over the service's. */
        { MON_SERVICE("tcp", TCP80, TCP_MON(""), ",\"monitor\":[]"),
          "services[0].backends[0].monitor: must be an object" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(""), ",\"monitor\":{\"x\":1}"),
          "services[0].backends[0].monitor.x: unknown key" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(""),
                      ",\"monitor\":{\"type\":\"udp\"}"),
          "services[0].backends[0].monitor.type: \"udp\" needs the service's "
          "monitor to be of that type (it holds the request)" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(",\"interval\":2"),
                      ",\"monitor\":{\"timeout\":3}"),
          "services[0].backends[0].monitor.timeout: must not exceed "
          "interval (2 s)" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(""),
                      ",\"monitor\":{\"interval\":1,\"timeout\":1.5}"),
          "services[0].backends[0].monitor.timeout: must not exceed "
          "interval (1 s)" },
        { MON_SERVICE("tcp", TCP80, TCP_MON(""),
                      ",\"monitor\":{\"fall\":0}"),
          "services[0].backends[0].monitor.fall: must be an integer from 1 "
          "to 100" },
        { MON_SERVICE("udp", "\"port\":53,", "",
                      ",\"monitor\":{\"type\":\"tcp\"}"),
          "services[0].backends[0].monitor.port: is required for a tcp "
          "monitor when protocol is \"udp\" (probes need a TCP port)" },
        { MON_SERVICE("tcp", "\"mode\":\"dr\",", "",
                      ",\"monitor\":{\"type\":\"tcp\"}"),
          "services[0].backends[0].monitor.port: is required for a tcp "
          "monitor: the service has no port (it covers every port)" },
        /* Probes leave from a gateway address of the backend's family. */
        { NOGW_SERVICE("198.18.0.", TCP_MON(""), ""),
          "services[0].monitor: bridge \"br-lb\" has no IPv4 gateway "
          "address to send probes from (add one to its gateways)" },
        { NOGW_SERVICE("2001:db8::", TCP_MON(""), ""),
          "services[0].monitor: bridge \"br-lb\" has no IPv6 gateway "
          "address to send probes from (add one to its gateways)" },
        { NOGW_SERVICE("198.18.0.", "", ",\"monitor\":{\"type\":\"tcp\"}"),
          "services[0].backends[0].monitor: bridge \"br-lb\" has no IPv4 "
          "gateway address to send probes from (add one to its gateways)" },
        { "{\"bridges\":[{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\","
          "\"frontend_port\":\"front\",\"gateways\":[\"198.18.0.254\"]}],"
          "\"services\":[{\"name\":\"a\",\"vip\":\"2001:db8::1\","
          "\"protocol\":\"tcp\",\"port\":80," TCP_MON("")
          "\"bridges\":[\"br-lb\"],\"backends\":[{\"name\":\"s\","
          "\"ip\":\"2001:db8::2\",\"mac\":\"02:00:00:00:00:01\"}]}]}",
          "services[0].monitor: bridge \"br-lb\" has no IPv6 gateway "
          "address to send probes from (add one to its gateways)" },
    };

    (void) state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_error(cases[i].in, cases[i].out);
    }

    /* All backends unprobed: no gateway needed. */
    struct model *m;
    assert_null(try_parse(NOGW_SERVICE("198.18.0.", TCP_MON(""),
                                       ",\"monitor\":{\"type\":\"none\"}"),
                          &m));
    model_destroy(m);
#undef NOGW_SERVICE
#undef TCP_MON
}

/* mslbd's model: a bridge change may not take away the gateway address
 * a service's probes leave from; a request body's paths start at "". */
static void
test_monitor_mdb(void **state)
{
    struct mdb *db = mdb_create();
    struct model_lookup lk = mdb_lookup(db);
    struct model_service *svc;
    struct model_bridge *br;
    bool conflict;
    json_t *j;

    (void) state;
    j = json_loads(GW_BRIDGE, 0, NULL);
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    mdb_put_bridge(db, br);
    j = json_loads("{\"name\":\"a\",\"vip\":\"198.18.0.1\","
                   "\"protocol\":\"tcp\",\"port\":80,"
                   "\"monitor\":{\"type\":\"tcp\"},\"bridges\":[\"br-lb\"],"
                   "\"backends\":[" BACKEND("198.18.1.1", "02:00:00:00:00:01")
                   "]}", 0, NULL);
    assert_null(model_service_from_json(j, "", &lk, &svc));
    json_decref(j);
    svc->id = mdb_new_service_id(db, svc);
    assert_null(mdb_check_service(db, svc, "", &conflict));
    mdb_put_service(db, svc);

    /* The IPv6 gateway may go, the IPv4 one may change, not go. */
    j = json_loads("{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\","
                   "\"frontend_port\":\"front\","
                   "\"gateways\":[\"198.18.0.253\"]}", 0, NULL);
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    assert_null(mdb_check_bridge(db, br, "", &conflict));
    model_bridge_destroy(br);
    j = json_loads("{\"name\":\"br-lb\",\"mac\":\"0a:00:00:00:00:01\","
                   "\"frontend_port\":\"front\","
                   "\"gateways\":[\"2001:db8::fe\"]}", 0, NULL);
    assert_null(model_bridge_from_json(j, "", &br));
    json_decref(j);
    char *error = mdb_check_bridge(db, br, "", &conflict);
    assert_non_null(error);
    assert_string_equal(error, "gateways: service \"a\" sends health probes "
                        "from this bridge's IPv4 gateway address (keep one)");
    assert_true(conflict);
    free(error);

    /* A service written against that bridge: "monitor" at the top. */
    struct model_lookup over = mdb_lookup(db);
    struct mdb *db2 = mdb_create();
    mdb_put_bridge(db2, br);
    over = mdb_lookup(db2);
    j = json_loads("{\"name\":\"a\",\"vip\":\"198.18.0.1\","
                   "\"protocol\":\"tcp\",\"port\":80,"
                   "\"monitor\":{\"type\":\"tcp\"},\"bridges\":[\"br-lb\"],"
                   "\"backends\":[" BACKEND("198.18.1.1", "02:00:00:00:00:01")
                   "]}", 0, NULL);
    error = model_service_from_json(j, "", &over, &svc);
    json_decref(j);
    assert_null(svc);
    assert_string_equal(error, "monitor: bridge \"br-lb\" has no IPv4 "
                        "gateway address to send probes from (add one to "
                        "its gateways)");
    free(error);
    mdb_destroy(db2);
    mdb_destroy(db);
}
#undef MON_SERVICE
#undef TCP80

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
        cmocka_unit_test(test_optional_mac),
        cmocka_unit_test(test_slb),
        cmocka_unit_test(test_outbound),
        cmocka_unit_test(test_host_addresses),
        cmocka_unit_test(test_monitor),
        cmocka_unit_test(test_monitor_errors),
        cmocka_unit_test(test_monitor_mdb),
        cmocka_unit_test(test_file_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
