/* The reconciler against an in-memory switch (fake_switch.c). */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/vlog.h"
#include "openflow/openflow.h"
#include "util.h"

#include "fake_switch.h"
#include "mslb/flowset.h"
#include "reconciler.h"

#define V OFP13_VERSION

/* mslb's group ids carry the 0x4d tag in their top byte. */
#define G1 "1291845633"         /* 0x4d000001 */
#define G2 "1291845634"         /* 0x4d000002 */

static const char *const base_flows[] = {
    "cookie=0x4d53010000000000,table=0,priority=0,actions=NORMAL",
    "cookie=0x4d53010000000000,table=0,priority=10,arp,arp_tpa=198.18.0.254,"
    "actions=drop",
    NULL,
};
static const char *const svc1_groups[] = {
    "group_id=" G1 ",type=select,bucket=weight:1,actions=output:1,"
    "bucket=weight:1,actions=output:2",
    NULL,
};
static const char *const svc1_flows[] = {
    "cookie=0x4d53040000000001,table=0,priority=100,tcp,nw_dst=198.18.0.1,"
    "tp_dst=80,actions=group:" G1,
    "cookie=0x4d53040000000001,table=0,priority=100,tcp,nw_dst=198.18.0.1,"
    "tp_dst=443,actions=group:" G1,
    NULL,
};
/* svc1 with one flow's actions changed. */
static const char *const svc1b_flows[] = {
    "cookie=0x4d53040000000001,table=0,priority=100,tcp,nw_dst=198.18.0.1,"
    "tp_dst=80,actions=group:" G1,
    "cookie=0x4d53040000000001,table=0,priority=100,tcp,nw_dst=198.18.0.1,"
    "tp_dst=443,actions=drop",
    NULL,
};
static const char *const svc2_groups[] = {
    "group_id=" G2 ",type=select,bucket=weight:1,actions=output:3",
    NULL,
};
static const char *const svc2_flows[] = {
    "cookie=0x4d53040000000002,table=0,priority=100,udp,nw_dst=198.18.0.2,"
    "tp_dst=53,actions=group:" G2,
    NULL,
};
static const char *const none[] = { NULL };

/* Another controller's entries: never mslb's to touch. */
#define FOREIGN_FLOW "cookie=0x1234,table=0,priority=5,udp,actions=drop"
#define FOREIGN_GROUP "group_id=7,type=all,bucket=actions=output:4"

struct unit {
    const char *const *flows;
    const char *const *groups;
};

static const struct unit BASE = { base_flows, none };
static const struct unit SVC1 = { svc1_flows, svc1_groups };
static const struct unit SVC1B = { svc1b_flows, svc1_groups };
static const struct unit SVC2 = { svc2_flows, svc2_groups };

struct test {
    struct fake_switch *sw;
    struct reconciler *r;
    struct flowset *want;
    struct flowset *units[4];   /* Merged into 'want', by slot. */
    size_t n_installed_cbs;
    uint64_t last_cb_gen;
    size_t n_adopted_cbs;
};

static struct flowset *
unit_create(const struct unit *u)
{
    struct flowset *fs = flowset_create();

    flowset_set_version(fs, V);
    for (size_t i = 0; u->flows[i]; i++) {
        char *error = flowset_add_flow_text(fs, u->flows[i]);
        assert_null(error);
    }
    for (size_t i = 0; u->groups[i]; i++) {
        char *error = flowset_add_group_text(fs, u->groups[i]);
        assert_null(error);
    }
    return fs;
}

/* Puts unit 'u' (or nothing) in slot 'slot' of the desired set. */
static void
set_unit(struct test *t, int slot, const struct unit *u)
{
    if (t->units[slot]) {
        flowset_unmerge(t->want, t->units[slot]);
        flowset_destroy(t->units[slot]);
        t->units[slot] = NULL;
    }
    if (u) {
        t->units[slot] = unit_create(u);
        assert_null(flowset_merge(t->want, t->units[slot]));
    }
}

static void
on_installed(void *t_, uint64_t gen)
{
    struct test *t = t_;
    t->n_installed_cbs++;
    t->last_cb_gen = gen;
}

static void
on_adopted(void *t_)
{
    struct test *t = t_;
    t->n_adopted_cbs++;
}

static const struct reconciler_cbs cbs = {
    .adopted = on_adopted,
    .installed = on_installed,
};

static void
add_unit_to_switch(struct fake_switch *sw, const struct unit *u)
{
    for (size_t i = 0; u->groups[i]; i++) {
        fake_switch_add_group(sw, u->groups[i]);
    }
    for (size_t i = 0; u->flows[i]; i++) {
        fake_switch_add_flow(sw, u->flows[i]);
    }
}

/* What a switch holding the foreign entries and 'units' dumps. */
static char *
expected_dump(const struct unit *const *units, size_t n)
{
    struct fake_switch *sw = fake_switch_create(V);
    char *dump;

    fake_switch_add_flow(sw, FOREIGN_FLOW);
    fake_switch_add_group(sw, FOREIGN_GROUP);
    for (size_t i = 0; i < n; i++) {
        add_unit_to_switch(sw, units[i]);
    }
    dump = fake_switch_dump(sw);
    fake_switch_destroy(sw);
    return dump;
}

static void
assert_switch_holds(const struct test *t, const struct unit *const *units,
                    size_t n)
{
    char *want = expected_dump(units, n);
    char *have = fake_switch_dump(t->sw);

    assert_string_equal(have, want);
    free(want);
    free(have);
}

static int
setup(void **state)
{
    struct test *t = xzalloc(sizeof *t);

    t->sw = fake_switch_create(V);
    fake_switch_add_flow(t->sw, FOREIGN_FLOW);
    fake_switch_add_group(t->sw, FOREIGN_GROUP);
    t->r = reconciler_create("br-test", &fake_switch_seam, t->sw, &cbs, t);
    t->want = flowset_create();
    flowset_set_version(t->want, V);
    *state = t;
    return 0;
}

static int
teardown(void **state)
{
    struct test *t = *state;

    reconciler_destroy(t->r);
    for (int i = 0; i < 4; i++) {
        flowset_destroy(t->units[i]);
    }
    flowset_destroy(t->want);
    fake_switch_destroy(t->sw);
    free(t);
    return 0;
}

/* Connects with BASE and SVC1 desired, and converges. */
static void
start_converged(struct test *t, uint64_t gen)
{
    set_unit(t, 0, &BASE);
    set_unit(t, 1, &SVC1);
    reconciler_connected(t->r, V);
    reconciler_set_desired(t->r, t->want, gen);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(reconciler_installed_generation(t->r), gen);
    assert_true(reconciler_in_step(t->r));
    fake_switch_clear_stats(t->sw);
}

/* A switch that already holds exactly the desired entries is adopted with
 * no operation at all. */
static void
test_adopt_no_ops(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1 };

    add_unit_to_switch(t->sw, &BASE);
    add_unit_to_switch(t->sw, &SVC1);
    set_unit(t, 0, &BASE);
    set_unit(t, 1, &SVC1);
    reconciler_connected(t->r, V);
    reconciler_set_desired(t->r, t->want, 1);
    assert_int_equal(reconciler_state(t->r), RECONCILER_ADOPTING);
    fake_switch_converge(t->sw, t->r);

    assert_int_equal(st->flow_dumps, 1);
    assert_int_equal(st->group_dumps, 1);
    assert_int_equal(st->bundles_opened, 0);
    assert_int_equal(st->barriers, 0);
    assert_int_equal(st->outside_bundle, 0);
    assert_int_equal(reconciler_n_flows(t->r), 4);   /* Not the foreign. */
    assert_int_equal(reconciler_n_groups(t->r), 1);
    assert_int_equal(reconciler_installed_generation(t->r), 1);
    assert_true(reconciler_in_step(t->r));
    assert_int_equal(t->n_adopted_cbs, 1);
    assert_switch_holds(t, all, 2);
}

/* One changed flow: exactly one operation, in one bundle closed by a
 * barrier; the generation moves only on the barrier reply. */
static void
test_one_change(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1B };
    int type, last = -1;

    start_converged(t, 1);
    set_unit(t, 1, &SVC1B);
    reconciler_set_desired(t->r, t->want, 2);
    assert_int_equal(reconciler_state(t->r), RECONCILER_BUSY);
    /* Open, one add, commit, barrier. */
    assert_int_equal(fake_switch_n_pending(t->sw), 4);
    assert_int_equal(fake_switch_process(t->sw), 4);
    assert_int_equal(st->bundles_opened, 1);
    assert_int_equal(st->bundle_adds, 1);
    assert_int_equal(st->commits, 1);
    assert_int_equal(st->barriers, 1);
    assert_int_equal(st->flow_mods, 1);
    assert_int_equal(st->group_mods, 0);
    assert_int_equal(st->outside_bundle, 0);

    while ((type = fake_switch_deliver_one(t->sw, t->r)) >= 0) {
        if (type != OFPTYPE_BARRIER_REPLY) {
            assert_int_equal(reconciler_installed_generation(t->r), 1);
        }
        last = type;
    }
    assert_int_equal(last, OFPTYPE_BARRIER_REPLY);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_int_equal(t->last_cb_gen, 2);
    assert_true(reconciler_in_step(t->r));
    assert_switch_holds(t, all, 2);
}

/* Groups come before the flows that use them, flow deletes before the
 * group deletes (the fake switch refuses a flow naming a missing group and
 * deletes the flows of a deleted group, as OVS does). */
static void
test_order(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 1, NULL);
    set_unit(t, 2, &SVC2);
    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->commits, 1);
    /* -2 flows, -1 group, +1 group, +1 flow. */
    assert_int_equal(st->bundle_adds, 5);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_switch_holds(t, all, 2);
}

/* A refused commit: the bundle is discarded, the reconciler dumps again
 * and retries with a full difference, and converges. */
static void
test_commit_error_retry(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 2, &SVC2);
    fake_switch_fail_next_commit(t->sw, OFPERR_OFPBFC_TIMEOUT);
    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_converge(t->sw, t->r);

    assert_int_equal(st->commits, 2);
    assert_int_equal(st->flow_dumps, 1);
    assert_int_equal(st->group_dumps, 1);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_true(reconciler_in_step(t->r));
    assert_switch_holds(t, all, 3);
}

/* Refused twice: it stops retrying (no loop) and keeps the old generation
 * until it is given a desired state again. */
static void
test_commit_error_twice(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *before[] = { &BASE, &SVC1 };
    const struct unit *all[] = { &BASE, &SVC1, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 2, &SVC2);
    fake_switch_fail_next_commit(t->sw, OFPERR_OFPBFC_TIMEOUT);
    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_process(t->sw);
    fake_switch_deliver(t->sw, t->r);     /* Refused: dumps again. */
    fake_switch_fail_next_commit(t->sw, OFPERR_OFPBFC_TIMEOUT);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->commits, 2);
    assert_int_equal(reconciler_installed_generation(t->r), 1);
    assert_false(reconciler_in_step(t->r));
    assert_int_equal(reconciler_state(t->r), RECONCILER_IDLE);
    assert_switch_holds(t, before, 2);

    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->commits, 3);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_switch_holds(t, all, 3);
}

/* A change while a bundle is in flight is sent at once, in a bundle of its
 * own behind it (pipelined); each barrier reply moves the generation. */
static void
test_dirty_while_busy(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1B, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 2, &SVC2);
    reconciler_set_desired(t->r, t->want, 2);
    size_t first = fake_switch_n_pending(t->sw);

    set_unit(t, 1, &SVC1B);
    reconciler_set_desired(t->r, t->want, 3);
    /* The second bundle: open, one modify, commit, barrier. */
    assert_int_equal(fake_switch_n_pending(t->sw), first + 4);
    assert_int_equal(reconciler_state(t->r), RECONCILER_BUSY);
    fake_switch_process(t->sw);
    assert_int_equal(st->commits, 2);
    int type;
    bool saw2 = false;
    while ((type = fake_switch_deliver_one(t->sw, t->r)) >= 0) {
        saw2 |= reconciler_installed_generation(t->r) == 2;
    }
    assert_true(saw2);
    assert_int_equal(reconciler_installed_generation(t->r), 3);
    assert_true(reconciler_in_step(t->r));
    assert_switch_holds(t, all, 3);
}

/* The first of two pipelined bundles is refused: the second's replies are
 * swallowed, the reconciler dumps (after both, on the connection), and
 * converges with a full difference. */
static void
test_pipelined_error(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1B, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 2, &SVC2);
    fake_switch_fail_next_commit(t->sw, OFPERR_OFPBFC_TIMEOUT);
    reconciler_set_desired(t->r, t->want, 2);
    set_unit(t, 1, &SVC1B);
    reconciler_set_desired(t->r, t->want, 3);
    assert_int_equal(st->commits, 0);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->flow_dumps, 1);
    assert_int_equal(reconciler_installed_generation(t->r), 3);
    assert_true(reconciler_in_step(t->r));
    assert_switch_holds(t, all, 3);
}

/* The connection drops with the bundle unsent: reconnecting adopts again
 * and converges with the desired set as it was (nothing recompiled, no
 * new desired state given). */
static void
test_disconnect_mid_bundle(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 2, &SVC2);
    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_drop_connection(t->sw);
    reconciler_disconnected(t->r);
    assert_int_equal(reconciler_state(t->r), RECONCILER_DISCONNECTED);

    reconciler_connected(t->r, V);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->flow_dumps, 1);
    assert_int_equal(st->commits, 1);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_true(reconciler_in_step(t->r));
    assert_switch_holds(t, all, 3);
}

/* Demoted (another controller became the switch's master) with a bundle
 * in flight: its replies, still coming on the same session, are taken
 * quietly; made master again, it adopts and sends nothing the switch
 * already has. */
static void
test_demoted_mid_bundle(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 2, &SVC2);
    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_process(t->sw);             /* Committed; replies wait. */
    reconciler_demoted(t->r);
    assert_int_equal(reconciler_state(t->r), RECONCILER_DISCONNECTED);
    assert_int_equal(fake_switch_deliver_unclaimed(t->sw, t->r), 0);
    assert_int_equal(reconciler_state(t->r), RECONCILER_DISCONNECTED);

    reconciler_connected(t->r, V);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->commits, 1);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_true(reconciler_in_step(t->r));
    assert_switch_holds(t, all, 3);
}

/* The bundle was committed but its replies were lost: the new session's
 * dumps show it, and nothing is sent again. */
static void
test_disconnect_after_commit(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1, &SVC2 };

    start_converged(t, 1);
    set_unit(t, 2, &SVC2);
    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_process(t->sw);
    fake_switch_drop_connection(t->sw);
    reconciler_disconnected(t->r);

    reconciler_connected(t->r, V);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->commits, 1);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_true(reconciler_in_step(t->r));
    assert_switch_holds(t, all, 3);
}

/* The switch restarted with empty tables: everything is installed again. */
static void
test_switch_restarted_empty(void **state)
{
    struct test *t = *state;
    const struct fake_switch_stats *st = fake_switch_stats(t->sw);
    const struct unit *all[] = { &BASE, &SVC1 };

    start_converged(t, 1);
    fake_switch_restart(t->sw);
    fake_switch_add_flow(t->sw, FOREIGN_FLOW);
    fake_switch_add_group(t->sw, FOREIGN_GROUP);
    reconciler_disconnected(t->r);
    reconciler_connected(t->r, V);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(st->commits, 1);
    assert_int_equal(st->bundle_adds, 5);     /* 4 flows, 1 group. */
    assert_int_equal(reconciler_installed_generation(t->r), 1);
    assert_switch_holds(t, all, 2);
}

/* A bridge that should hold none of mslb's entries loses them all, and
 * keeps every entry not carrying mslb's tags. */
static void
test_foreign_untouched(void **state)
{
    struct test *t = *state;

    start_converged(t, 1);
    set_unit(t, 0, NULL);
    set_unit(t, 1, NULL);
    reconciler_set_desired(t->r, t->want, 2);
    fake_switch_converge(t->sw, t->r);
    assert_int_equal(reconciler_installed_generation(t->r), 2);
    assert_int_equal(reconciler_n_flows(t->r), 0);
    assert_switch_holds(t, NULL, 0);
    assert_int_equal(fake_switch_n_flows(t->sw), 1);
    assert_int_equal(fake_switch_n_groups(t->sw), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(NAME) cmocka_unit_test_setup_teardown(NAME, setup, teardown)
        T(test_adopt_no_ops),
        T(test_one_change),
        T(test_order),
        T(test_commit_error_retry),
        T(test_commit_error_twice),
        T(test_dirty_while_busy),
        T(test_pipelined_error),
        T(test_disconnect_mid_bundle),
        T(test_demoted_mid_bundle),
        T(test_disconnect_after_commit),
        T(test_switch_restarted_empty),
        T(test_foreign_untouched),
#undef T
    };

    /* Quiet: the reconciler logs every refusal. */
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    if (getenv("TEST_VERBOSE")) {
        vlog_set_levels(vlog_module_from_name("reconciler"), VLF_CONSOLE,
                        VLL_DBG);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
