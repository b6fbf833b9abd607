/* Canonical sets and the reconciler's difference. */
#include <jansson.h>
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/match.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/list.h"
#include "mslb/compile.h"
#include "mslb/flowset.h"
#include "mslb/pipeline.h"

/* A model of 'n' services of 4 backends each; service 'extra_for' (if
 * < n) gets a fifth backend. */
static struct model *
big_model(size_t n, size_t extra_for)
{
    json_t *services = json_array();
    struct model *m;
    json_t *j;
    char *error;

    for (size_t i = 0; i < n; i++) {
        json_t *backends = json_array();
        char vip[32], name[32];

        for (size_t k = 0; k < (i == extra_for ? 5 : 4); k++) {
            char ip[32], mac[32], bname[16];
            snprintf(ip, sizeof ip, "198.19.%zu.%zu", k, 1 + i % 250);
            snprintf(mac, sizeof mac, "02:00:00:00:%02zx:%02zx", k,
                     1 + i % 250);
            snprintf(bname, sizeof bname, "b%zu", k);
            json_array_append_new(backends, json_pack(
                "{s:s, s:s, s:i, s:s}", "name", bname, "ip", ip,
                "port", (int) (8000 + i), "mac", mac));
        }
        snprintf(vip, sizeof vip, "198.18.%zu.%zu", i / 250, 1 + i % 250);
        snprintf(name, sizeof name, "svc%zu", i);
        json_array_append_new(services, json_pack(
            "{s:s, s:s, s:s, s:i, s:[s], s:o}", "name", name, "vip", vip,
            "protocol", "tcp", "port", 80, "bridges", "br-lb",
            "backends", backends));
    }
    j = json_pack("{s:[{s:s, s:s, s:s, s:s}], s:o}", "bridges",
                  "name", "br-lb", "mac", "0a:00:00:00:00:01",
                  "frontend_port", "front", "backend_port", "back",
                  "services", services);
    error = model_from_json(j, &m);
    if (error) {
        print_error("%s\n", error);
        fail();
    }
    json_decref(j);
    return m;
}

static struct flowset *
compile_to_set(const struct model *m)
{
    struct compile_ports ports = { 1, 2, false };
    struct flowset *fs = flowset_create();

    assert_null(compile_bridge(m, &m->bridges[0], &ports, fs));
    return fs;
}

static void
test_no_change(void **state)
{
    struct model *m = big_model(50, SIZE_MAX);
    struct flowset *a = compile_to_set(m), *b = compile_to_set(m);
    struct flowset_diff diff;

    (void) state;
    flowset_diff(a, b, &diff);
    assert_int_equal(diff.n_ops, 0);
    flowset_diff_uninit(&diff);
    flowset_destroy(a);
    flowset_destroy(b);
    model_destroy(m);
}

static const struct model_service *
find_service(const struct model *m, const char *name)
{
    for (size_t i = 0; i < m->n_services; i++) {
        if (!strcmp(m->services[i].name, name)) {
            return &m->services[i];
        }
    }
    return NULL;
}

/* One backend added to a 1,000-service model: only that service's flows
 * (its slot table) and the new backend's own flows change (its requests
 * and replies, and their fragments, matched without ports); the shared
 * hash group stays. */
static void
test_minimal_diff(void **state)
{
    struct model *m1 = big_model(1000, SIZE_MAX);
    struct model *m2 = big_model(1000, 617);
    struct flowset *have = compile_to_set(m1), *want = compile_to_set(m2);
    const struct model_service *svc = find_service(m2, "svc617");
    struct flowset_diff diff;
    char cookie[64], reg0[64];

    (void) state;
    snprintf(reg0, sizeof reg0, "reg0=%#"PRIx32",", svc->id);
    snprintf(cookie, sizeof cookie, "cookie=0x%"PRIx64",",
             mslb_cookie(MSLB_COOKIE_SERVICE, svc->id));
    flowset_diff(have, want, &diff);
    /* 5 backends need a wider table: its group comes in; the narrower
     * one stays, used by the others. */
    assert_int_equal(diff.counts[FLOWSET_GROUP_ADD], 1);
    assert_int_equal(diff.counts[FLOWSET_GROUP_MODIFY]
                     + diff.counts[FLOWSET_GROUP_DELETE], 0);
    size_t new_backend = 0;
    for (size_t i = 0; i < diff.n_ops; i++) {
        char *s = flowset_op_to_string(&diff.ops[i]);
        /* The new backend 198.19.4.118 (617 % 250 + 1), port 8617. */
        bool mine = strstr(s, "198.19.4.118") != NULL
                    || diff.ops[i].type == FLOWSET_GROUP_ADD;
        new_backend += mine && diff.ops[i].type == FLOWSET_FLOW_ADD
                       && !strstr(s, cookie);
        if (!mine && !strstr(s, cookie) && !strstr(s, reg0)) {
            print_error("not svc617's: %s\n", s);
            fail();
        }
        free(s);
    }
    /* Its endpoint's flows: replies (CLASSIFY), requests, first packets
     * and closing FINs and RSTs (NAT_OUT 100, 101, 102 twice), fragments
     * each way. */
    assert_int_equal(new_backend, 7);
    /* A few runs of slots, not the whole table. */
    assert_true(diff.n_ops < 4 + 2 * 5 * 8);

    /* Applying the diff makes the sets equal; every op encodes. */
    for (int v = 4; v <= 5; v++) {         /* OpenFlow 1.3 and 1.4. */
        for (size_t i = 0; i < diff.n_ops; i++) {
            char *error;
            struct ofpbuf *msg = flowset_op_encode(&diff.ops[i], v, &error);
            assert_non_null(msg);
            ofpbuf_delete(msg);
        }
    }
    flowset_apply(have, &diff);
    flowset_diff_uninit(&diff);
    flowset_diff(have, want, &diff);
    assert_int_equal(diff.n_ops, 0);
    flowset_diff_uninit(&diff);

    flowset_destroy(have);
    flowset_destroy(want);
    model_destroy(m1);
    model_destroy(m2);
}

/* Removing the last service that uses a hash group deletes its flows and
 * then the group, in that order; while others use it, the group stays. */
static void
test_delete_order(void **state)
{
    struct model *m1 = big_model(3, SIZE_MAX);
    struct model *m2 = big_model(2, SIZE_MAX);
    struct model *m0 = big_model(0, SIZE_MAX);
    struct flowset *have = compile_to_set(m1), *want = compile_to_set(m2);
    struct flowset *none = compile_to_set(m0);
    struct flowset_diff diff;

    (void) state;
    flowset_diff(have, want, &diff);
    assert_int_equal(diff.counts[FLOWSET_GROUP_DELETE], 0);
    assert_true(diff.counts[FLOWSET_FLOW_DELETE] > 0);
    flowset_diff_uninit(&diff);
    flowset_diff(have, none, &diff);
    flowset_destroy(none);
    model_destroy(m0);
    assert_int_equal(diff.counts[FLOWSET_GROUP_DELETE], 1);
    assert_true(diff.counts[FLOWSET_FLOW_DELETE] > 0);
    assert_int_equal(diff.ops[diff.n_ops - 1].type, FLOWSET_GROUP_DELETE);
    for (size_t i = 1; i < diff.n_ops; i++) {
        assert_true(diff.ops[i - 1].type <= diff.ops[i].type);
    }
    flowset_diff_uninit(&diff);
    flowset_destroy(have);
    flowset_destroy(want);
    model_destroy(m1);
    model_destroy(m2);
}

static void
test_conflicts(void **state)
{
    struct flowset *fs = flowset_create();
    char *error;

    (void) state;
    assert_null(flowset_add_flow_text(fs, "table=0,priority=5,ip,"
                                      "actions=drop"));
    /* Same flow again: fine. */
    assert_null(flowset_add_flow_text(fs, "table=0,priority=5,ip,"
                                      "actions=drop"));
    error = flowset_add_flow_text(fs, "table=0,priority=5,ip,"
                                  "actions=NORMAL");
    assert_non_null(error);
    assert_non_null(strstr(error, "same match"));
    free(error);
    error = flowset_add_flow_text(fs, "table=0,nonsense=1,actions=drop");
    assert_non_null(error);
    free(error);
    assert_int_equal(flowset_n_flows(fs), 1);
    flowset_destroy(fs);
}


/* The golden cases: model, bridge, ports and OpenFlow 1.5 as in
 * tests/golden/NAME.args. */
static const char *const goldens[] = {
    "dsr_final", "dsr_first", "ipv6_modes", "nat_of15", "nat_one_arm",
    "nat_two_arms",
};

static struct model *
golden_model(const char *name, struct compile_ports *ports,
             const struct model_bridge **br)
{
    char path[512], args[256], bridge[64] = "";
    unsigned int front = 1, back = 2;
    struct model *m;
    char *error, *tok, *save;
    FILE *f;

    *ports = (struct compile_ports) {
        .frontend = 1, .backend = 2, .tunnel = { 100, 101, 102, 103 },
        .local_mac = { { 0x0a, 0, 0, 0, 0, 0xfe } },
    };
    snprintf(path, sizeof path, "%s/tests/golden/%s.args", MSLB_SRC_DIR,
             name);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(args, sizeof args, f));
    fclose(f);
    int n = 0;
    for (tok = strtok_r(args, " \n", &save); tok;
         tok = strtok_r(NULL, " \n", &save)) {
        if (!strcmp(tok, "--of15")) {
            ports->of15 = true;
        } else if (!n++) {
            snprintf(bridge, sizeof bridge, "%s", tok);
        } else if (n == 2) {
            front = back = atoi(tok);
        } else {
            back = atoi(tok);
        }
    }
    ports->frontend = front;
    ports->backend = back;
    snprintf(path, sizeof path, "%s/tests/golden/%s.json", MSLB_SRC_DIR,
             name);
    error = model_from_file(path, &m);
    assert_null(error);
    *br = model_find_bridge(m, bridge);
    assert_non_null(*br);
    for (int t = 0; t < MODEL_N_TUNNELS; t++) {
        if (!(*br)->tunnel_ports[t]) {
            ports->tunnel[t] = 0;
        }
    }
    return m;
}

static void
assert_same(const struct flowset *a, const struct flowset *b)
{
    struct flowset_diff diff;

    flowset_diff(a, b, &diff);
    for (size_t i = 0; i < diff.n_ops; i++) {
        char *s = flowset_op_to_string(&diff.ops[i]);
        print_error("unexpected: %s\n", s);
        free(s);
    }
    assert_int_equal(diff.n_ops, 0);
    flowset_diff_uninit(&diff);
}

/* The compiler's binary flows equal what libopenvswitch's parser makes of
 * the golden text: the same matches and the same encoded actions. */
static void
test_golden_parse_equal(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof goldens / sizeof *goldens; i++) {
        const struct model_bridge *br;
        struct compile_ports ports;
        struct model *m = golden_model(goldens[i], &ports, &br);
        struct flowset *bin = flowset_create(), *text = flowset_create();
        char path[512], *line = NULL;
        size_t size = 0;
        ssize_t len;
        FILE *f;

        assert_null(compile_bridge(m, br, &ports, bin));
        snprintf(path, sizeof path, "%s/tests/golden/%s.flows",
                 MSLB_SRC_DIR, goldens[i]);
        f = fopen(path, "r");
        assert_non_null(f);
        while ((len = getline(&line, &size, f)) > 0) {
            line[strcspn(line, "\n")] = '\0';
            assert_null(strncmp(line, "group_id=", 9)
                        ? flowset_add_flow_text(text, line)
                        : flowset_add_group_text(text, line));
        }
        free(line);
        fclose(f);
        assert_int_equal(flowset_n_flows(bin), flowset_n_flows(text));
        assert_int_equal(flowset_n_groups(bin), flowset_n_groups(text));
        assert_same(text, bin);
        assert_same(bin, text);
        flowset_destroy(bin);
        flowset_destroy(text);
        model_destroy(m);
    }
}

/* What a switch does with every ADD the reconciler sends: decode it, keep
 * it, encode it into a flow stats or group desc reply; the controller
 * decodes that into its installed set.  A restarted controller must find
 * that set equal to the compiler's, with OpenFlow 1.3 and 1.5 alike. */
static void
switch_round_trip(const struct flowset *want, int version,
                  struct flowset *have)
{
    enum ofputil_protocol proto = ofputil_protocol_from_ofp_version(version);
    struct flowset *empty = flowset_create();
    struct flowset_diff diff;

    flowset_diff(empty, want, &diff);
    for (size_t i = 0; i < diff.n_ops; i++) {
        char *error;
        struct ofpbuf *msg = flowset_op_encode(&diff.ops[i], version, &error);
        struct ovs_list replies;
        struct ofpbuf *req, *reply;

        assert_non_null(msg);
        ofpmsg_update_length(msg);
        if (diff.ops[i].type == FLOWSET_FLOW_ADD) {
            struct ofputil_flow_stats_request fsr;
            struct ofputil_flow_mod fm;
            struct ofputil_flow_stats st;
            uint64_t stub[256];
            struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);

            assert_int_equal(ofputil_decode_flow_mod(&fm, msg->data, proto,
                                                     NULL, NULL, &ofpacts,
                                                     OFPP_MAX, 255), 0);
            memset(&fsr, 0, sizeof fsr);
            match_init_catchall(&fsr.match);
            fsr.out_port = OFPP_ANY;
            fsr.out_group = OFPG_ANY;
            fsr.table_id = 0xff;
            req = ofputil_encode_flow_stats_request(&fsr, proto);
            ofpmp_init(&replies, req->data);
            memset(&st, 0, sizeof st);
            minimatch_expand(&fm.match, &st.match);
            st.table_id = fm.table_id;
            st.priority = fm.priority;
            st.cookie = fm.new_cookie;
            st.ofpacts = fm.ofpacts;
            st.ofpacts_len = fm.ofpacts_len;
            ofputil_append_flow_stats_reply(&st, &replies, NULL);
            minimatch_destroy(&fm.match);
            ofpbuf_uninit(&ofpacts);

            reply = ofpbuf_from_list(ovs_list_front(&replies));
            reply->header = NULL;       /* Decode it as received. */
            ofpbuf_init(&ofpacts, 0);
            assert_int_equal(ofputil_decode_flow_stats_reply(&st, reply,
                                                             false,
                                                             &ofpacts), 0);
            flowset_add_flow_stats(have, &st);
            ofpbuf_uninit(&ofpacts);
        } else {
            struct ofputil_group_mod gm;
            struct ofputil_group_desc gd;

            assert_int_equal(diff.ops[i].type, FLOWSET_GROUP_ADD);
            assert_int_equal(ofputil_decode_group_mod(msg->data, &gm), 0);
            req = ofputil_encode_group_desc_request(version, OFPG_ALL);
            ofpmp_init(&replies, req->data);
            memset(&gd, 0, sizeof gd);
            gd.type = gm.type;
            gd.group_id = gm.group_id;
            gd.props = gm.props;
            ofputil_append_group_desc_reply(&gd, &gm.buckets, &replies);
            ofputil_uninit_group_mod(&gm);

            reply = ofpbuf_from_list(ovs_list_front(&replies));
            reply->header = NULL;       /* Decode it as received. */
            assert_int_equal(ofputil_decode_group_desc_reply(&gd, reply,
                                                             version), 0);
            flowset_add_group_desc(have, &gd);
            ofputil_uninit_group_desc(&gd);
        }
        ofpbuf_list_delete(&replies);
        ofpbuf_delete(req);
        ofpbuf_delete(msg);
    }
    flowset_diff_uninit(&diff);
    flowset_destroy(empty);
}

static void
test_golden_switch_round_trip(void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof goldens / sizeof *goldens; i++) {
        for (int v = OFP13_VERSION; v <= OFP15_VERSION; v += 2) {
            const struct model_bridge *br;
            struct compile_ports ports;
            struct model *m = golden_model(goldens[i], &ports, &br);
            struct flowset *want, *have;

            if (ports.of15 && v < OFP15_VERSION) {
                model_destroy(m);
                continue;       /* 1.5 group properties need 1.5. */
            }
            want = flowset_create();
            have = flowset_create();
            flowset_set_version(want, v);
            assert_null(compile_bridge(m, br, &ports, want));
            switch_round_trip(want, v, have);
            assert_int_equal(flowset_n_flows(have), flowset_n_flows(want));
            assert_int_equal(flowset_n_groups(have),
                             flowset_n_groups(want));
            assert_same(have, want);
            flowset_destroy(want);
            flowset_destroy(have);
            model_destroy(m);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_change),
        cmocka_unit_test(test_minimal_diff),
        cmocka_unit_test(test_delete_order),
        cmocka_unit_test(test_conflicts),
        cmocka_unit_test(test_golden_parse_equal),
        cmocka_unit_test(test_golden_switch_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
