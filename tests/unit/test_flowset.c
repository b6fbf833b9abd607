/* Canonical sets and the reconciler's difference. */
#include <config.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/ofpbuf.h"
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

/* One backend added to a 1,000-service model: only that service's group
 * and the new backend's own flows change. */
static void
test_minimal_diff(void **state)
{
    struct model *m1 = big_model(1000, SIZE_MAX);
    struct model *m2 = big_model(1000, 617);
    struct flowset *have = compile_to_set(m1), *want = compile_to_set(m2);
    const struct model_service *svc = find_service(m2, "svc617");
    struct flowset_diff diff;
    char group[64];

    (void) state;
    snprintf(group, sizeof group, "group_id=%u,",
             MSLB_GROUP_ID(svc->id));
    flowset_diff(have, want, &diff);
    assert_int_equal(diff.counts[FLOWSET_GROUP_MODIFY], 1);
    assert_int_equal(diff.counts[FLOWSET_FLOW_ADD], 2);
    assert_int_equal(diff.n_ops, 3);
    for (size_t i = 0; i < diff.n_ops; i++) {
        char *s = flowset_op_to_string(&diff.ops[i]);
        if (diff.ops[i].type == FLOWSET_GROUP_MODIFY) {
            assert_non_null(strstr(s, group));
        } else {
            /* The new backend 198.19.4.118 (617 % 250 + 1), port 8617. */
            assert_non_null(strstr(s, "198.19.4.118"));
            assert_non_null(strstr(s, "8617"));
        }
        free(s);
    }

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

/* Removing a service deletes its flows and then its group, in that order. */
static void
test_delete_order(void **state)
{
    struct model *m1 = big_model(3, SIZE_MAX);
    struct model *m2 = big_model(2, SIZE_MAX);
    struct flowset *have = compile_to_set(m1), *want = compile_to_set(m2);
    struct flowset_diff diff;

    (void) state;
    flowset_diff(have, want, &diff);
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_change),
        cmocka_unit_test(test_minimal_diff),
        cmocka_unit_test(test_delete_order),
        cmocka_unit_test(test_conflicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
