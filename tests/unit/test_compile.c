/* A service's slot table in the model (flows/model_slots.c): exact shares,
 * the moves a change records and when they end, the text form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mslb/model.h"

#define NOW 1000000

static struct model_backend backends[8];

/* A dr TCP service with 'n' backends, keys 1..n, weight 1, up. */
static struct model_service
service(enum model_mode mode, uint8_t proto, size_t n)
{
    struct model_service svc;

    memset(&svc, 0, sizeof svc);
    memset(backends, 0, sizeof backends);
    for (size_t i = 0; i < n; i++) {
        backends[i].key = i + 1;
        backends[i].weight = 1;
        backends[i].state = MODEL_BACKEND_UP;
    }
    svc.mode = mode;
    svc.proto = proto;
    svc.idle_timeout = 60;
    svc.backends = backends;
    svc.n_backends = n;
    return svc;
}

static size_t
count(const struct model_slots *sl, uint32_t key)
{
    size_t c = 0;
    for (uint32_t s = 0; s < sl->n_slots; s++) {
        c += sl->owner[s] == key;
    }
    return c;
}

static const struct model_slot_move *
move_of(const struct model_slots *sl, uint32_t slot)
{
    for (size_t i = 0; i < sl->n_moves; i++) {
        if (sl->moves[i].slot == slot) {
            return &sl->moves[i];
        }
    }
    return NULL;
}

static void
test_weights(void **state)
{
    struct model_service svc = service(MODEL_MODE_DR, IPPROTO_TCP, 3);
    struct model_slots sl;

    (void) state;
    backends[1].weight = 2;
    backends[2].weight = 3;
    model_slots_compute(&svc, NULL, NOW, &sl);
    for (int i = 0; i < 3; i++) {
        /* Exact quotas, within 2% of the weight's share. */
        double exact = (double) sl.n_slots * (i + 1) / 6;
        assert_true(count(&sl, i + 1) >= (size_t) exact);
        assert_true(count(&sl, i + 1) <= (size_t) exact + 1);
        assert_true(count(&sl, i + 1) <= exact * 1.02);
        assert_true(count(&sl, i + 1) >= exact * 0.98);
    }
    assert_int_equal(sl.n_moves, 0);
    model_slots_uninit(&sl);

    /* No backend up: no table (nothing to keep either). */
    svc = service(MODEL_MODE_NAT, IPPROTO_TCP, 2);
    backends[0].state = backends[1].state = MODEL_BACKEND_DOWN;
    model_slots_compute(&svc, NULL, NOW, &sl);
    assert_int_equal(sl.n_slots, 0);
}

/* Health (model_slots_effective()): a failed backend's slots go to the
 * usable ones and nothing else moves; a TCP service of a DSR mode keeps
 * its sessions through moves, UDP and nat do not; all failed: no owner;
 * none failed: the stored table. */
static void
test_effective(void **state)
{
    struct model_service svc = service(MODEL_MODE_DR, IPPROTO_TCP, 4);
    struct model_slots eff;
    uint32_t failed[] = { 2 }, all[] = { 1, 2, 3, 4 };

    (void) state;
    model_slots_compute(&svc, NULL, NOW, &svc.slots);
    model_slots_effective(&svc, failed, 1, &eff);
    assert_int_equal(eff.n_slots, svc.slots.n_slots);
    assert_int_equal(count(&eff, 2), 0);
    for (uint32_t s = 0; s < eff.n_slots; s++) {
        const struct model_slot_move *m = move_of(&eff, s);
        if (svc.slots.owner[s] == 2) {
            assert_true(eff.owner[s] >= 1 && eff.owner[s] <= 4);
            assert_non_null(m);
            assert_int_equal(m->from, 2);
            assert_int_equal(m->until, MODEL_MOVE_WHILE_DRAINING);
        } else {
            assert_int_equal(eff.owner[s], svc.slots.owner[s]);
            assert_null(m);
        }
    }
    /* The usable ones share the slots as slots_assign() would: within one
     * slot of each other. */
    for (uint32_t k = 1; k <= 4; k++) {
        if (k != 2) {
            assert_true(count(&eff, k) + 1 >= eff.n_slots / 3);
            assert_true(count(&eff, k) <= eff.n_slots / 3 + 1);
        }
    }
    model_slots_uninit(&eff);

    /* Extra moves go where a slot has none and another owner: not over
     * the table's own move (A), on a slot of another backend (B), not on
     * a slot of the move's own backend (C). */
    {
        struct model_slots t;
        uint32_t A = UINT32_MAX, B = UINT32_MAX, C = UINT32_MAX;

        model_slots_effective(&svc, failed, 1, &t);
        for (uint32_t s = 0; s < t.n_slots; s++) {
            if (move_of(&t, s)) {
                A = A == UINT32_MAX ? s : A;
            } else if (t.owner[s] == 3) {
                C = C == UINT32_MAX ? s : C;
            } else {
                B = B == UINT32_MAX ? s : B;
            }
        }
        assert_true(A != UINT32_MAX && B != UINT32_MAX && C != UINT32_MAX);
        struct model_slot_move extra[3] = {
            { .slot = A, .from = 3, .until = 9 },
            { .slot = B, .from = 3, .until = 9 },
            { .slot = C, .from = 3, .until = 9 },
        };
        for (int i = 0; i < 3; i++) {       /* Sorted by slot. */
            for (int k = i + 1; k < 3; k++) {
                if (extra[k].slot < extra[i].slot) {
                    struct model_slot_move x = extra[i];
                    extra[i] = extra[k];
                    extra[k] = x;
                }
            }
        }
        size_t before = t.n_moves;
        uint32_t a_from = move_of(&t, A)->from;
        model_slots_add_moves(&t, extra, 3);
        assert_int_equal(t.n_moves, before + 1);
        assert_int_equal(move_of(&t, A)->from, a_from);
        assert_int_equal(move_of(&t, B)->from, 3);
        assert_null(move_of(&t, C));
        for (size_t i = 1; i < t.n_moves; i++) {
            assert_true(t.moves[i - 1].slot < t.moves[i].slot);
        }
        model_slots_uninit(&t);
    }

    /* None failed: the stored table as it is. */
    model_slots_effective(&svc, NULL, 0, &eff);
    assert_true(model_slots_equal(&eff, &svc.slots));
    model_slots_uninit(&eff);

    /* All failed: no owner, the sessions kept. */
    model_slots_effective(&svc, all, 4, &eff);
    assert_int_equal(count(&eff, 0), eff.n_slots);
    assert_int_equal(eff.n_moves, eff.n_slots);
    model_slots_uninit(&eff);

    /* "sessions": "reset" on backend 2 (and 4): the same slots go to the
     * same owners, but no move keeps its sessions; with all failed, only
     * the keeping ones' slots are moves. */
    {
        struct model_slots keep, reset;

        model_slots_effective(&svc, failed, 1, &keep);
        svc.backends[1].monitor.reset_sessions = true;
        svc.backends[3].monitor.reset_sessions = true;
        model_slots_effective(&svc, failed, 1, &reset);
        assert_int_equal(reset.n_slots, keep.n_slots);
        assert_memory_equal(reset.owner, keep.owner,
                            keep.n_slots * sizeof *keep.owner);
        assert_true(keep.n_moves > 0);
        assert_int_equal(reset.n_moves, 0);
        model_slots_uninit(&reset);
        model_slots_effective(&svc, all, 4, &reset);
        assert_int_equal(count(&reset, 0), reset.n_slots);
        assert_int_equal(reset.n_moves, count(&svc.slots, 1)
                                        + count(&svc.slots, 3));
        for (size_t i = 0; i < reset.n_moves; i++) {
            assert_true(reset.moves[i].from == 1 || reset.moves[i].from == 3);
        }
        model_slots_uninit(&reset);
        model_slots_uninit(&keep);
        svc.backends[1].monitor.reset_sessions = false;
        svc.backends[3].monitor.reset_sessions = false;
    }
    model_slots_uninit(&svc.slots);

    /* UDP (no SYN tells a new session) and nat (conntrack keeps them):
     * no moves. */
    svc = service(MODEL_MODE_DR, IPPROTO_UDP, 4);
    model_slots_compute(&svc, NULL, NOW, &svc.slots);
    model_slots_effective(&svc, failed, 1, &eff);
    assert_int_equal(count(&eff, 2), 0);
    assert_int_equal(eff.n_moves, 0);
    model_slots_uninit(&eff);
    model_slots_uninit(&svc.slots);
    svc = service(MODEL_MODE_NAT, IPPROTO_TCP, 4);
    model_slots_compute(&svc, NULL, NOW, &svc.slots);
    model_slots_effective(&svc, failed, 1, &eff);
    assert_int_equal(count(&eff, 2), 0);
    assert_int_equal(eff.n_moves, 0);
    model_slots_uninit(&eff);
    model_slots_uninit(&svc.slots);
}

/* A backend added: the slots it takes are moves from their old owners, for
 * idle_timeout seconds; the others stay. */
static void
test_add_moves(void **state)
{
    struct model_service svc = service(MODEL_MODE_DR, IPPROTO_TCP, 3);
    struct model_slots a, b, c;
    size_t moved = 0;

    (void) state;
    model_slots_compute(&svc, NULL, NOW, &a);
    svc = service(MODEL_MODE_DR, IPPROTO_TCP, 4);
    model_slots_compute(&svc, &a, NOW, &b);
    assert_true(b.n_slots >= a.n_slots);
    for (uint32_t s = 0; s < b.n_slots; s++) {
        uint32_t before = a.owner[s % a.n_slots];
        const struct model_slot_move *m = move_of(&b, s);
        if (before != b.owner[s]) {
            moved++;
            assert_int_equal(b.owner[s], 4);
            assert_non_null(m);
            assert_int_equal(m->from, before);
            assert_int_equal(m->until, NOW + 60);
        } else {
            assert_null(m);
        }
    }
    assert_int_equal(moved, b.n_moves);
    assert_int_equal(count(&b, 4), b.n_slots / 4);

    /* Nothing changes: the moves stay while they last, then end. */
    model_slots_compute(&svc, &b, NOW + 59, &c);
    assert_true(model_slots_equal(&b, &c));
    model_slots_uninit(&c);
    model_slots_compute(&svc, &b, NOW + 60, &c);
    assert_int_equal(c.n_moves, 0);
    /* The same mapping (the table may have shrunk back to the size 4
     * backends need, which its halves being equal allows). */
    assert_true(c.n_slots <= b.n_slots);
    for (uint32_t s = 0; s < b.n_slots; s++) {
        assert_int_equal(c.owner[s % c.n_slots], b.owner[s]);
    }
    assert_int_equal(model_slots_next_expiry(&b), NOW + 60);
    assert_int_equal(model_slots_next_expiry(&c), INT64_MAX);
    model_slots_uninit(&a);
    model_slots_uninit(&b);
    model_slots_uninit(&c);
}

/* Removed or down backends keep no sessions: no move.  A drained TCP
 * backend keeps its connections as long as it drains. */
static void
test_remove_and_drain(void **state)
{
    struct model_service svc = service(MODEL_MODE_DR, IPPROTO_TCP, 4);
    struct model_slots a, b, c, d;

    (void) state;
    model_slots_compute(&svc, NULL, NOW, &a);
    svc = service(MODEL_MODE_DR, IPPROTO_TCP, 3);
    model_slots_compute(&svc, &a, NOW, &b);
    assert_int_equal(b.n_moves, 0);
    assert_int_equal(count(&b, 4), 0);
    model_slots_uninit(&b);

    svc = service(MODEL_MODE_DR, IPPROTO_TCP, 4);
    backends[3].state = MODEL_BACKEND_DRAIN;
    model_slots_compute(&svc, &a, NOW, &b);
    assert_int_equal(count(&b, 4), 0);
    assert_int_equal(b.n_moves, count(&a, 4) * (b.n_slots / a.n_slots));
    for (size_t i = 0; i < b.n_moves; i++) {
        assert_int_equal(b.moves[i].from, 4);
        assert_int_equal(b.moves[i].until, MODEL_MOVE_WHILE_DRAINING);
    }
    /* Hours later, still draining: still moves. */
    model_slots_compute(&svc, &b, NOW + 86400, &c);
    assert_true(model_slots_equal(&b, &c));
    model_slots_uninit(&c);

    /* Then removed: its sessions are gone, so are the moves. */
    svc = service(MODEL_MODE_DR, IPPROTO_TCP, 3);
    model_slots_compute(&svc, &b, NOW + 86400, &c);
    assert_int_equal(c.n_moves, 0);

    /* UDP cannot tell a new session from an old one: a drained backend
     * keeps the slots' traffic for idle_timeout only. */
    svc = service(MODEL_MODE_DR, IPPROTO_UDP, 4);
    backends[3].state = MODEL_BACKEND_DRAIN;
    model_slots_compute(&svc, &a, NOW, &d);
    assert_true(d.n_moves > 0);
    assert_int_equal(d.moves[0].until, NOW + 60);
    model_slots_uninit(&a);
    model_slots_uninit(&b);
    model_slots_uninit(&c);
    model_slots_uninit(&d);
}

/* nat (conntrack keeps sessions) and persistence (learns every client)
 * need no moves. */
static void
test_no_moves(void **state)
{
    struct model_service svc = service(MODEL_MODE_NAT, IPPROTO_TCP, 3);
    struct model_slots a, b;

    (void) state;
    model_slots_compute(&svc, NULL, NOW, &a);
    svc = service(MODEL_MODE_NAT, IPPROTO_TCP, 4);
    model_slots_compute(&svc, &a, NOW, &b);
    assert_int_equal(b.n_moves, 0);
    assert_int_equal(count(&b, 4), b.n_slots / 4);
    model_slots_uninit(&b);
    svc = service(MODEL_MODE_TUN, IPPROTO_TCP, 4);
    svc.persistence = 30;
    model_slots_compute(&svc, &a, NOW, &b);
    assert_int_equal(b.n_moves, 0);
    model_slots_uninit(&a);
    model_slots_uninit(&b);
}

static void
test_text(void **state)
{
    struct model_service svc = service(MODEL_MODE_MSLB, IPPROTO_TCP, 5);
    struct model_slots a, b, p;
    char *text;

    (void) state;
    backends[4].weight = 3;
    model_slots_compute(&svc, NULL, NOW, &a);
    backends[1].state = MODEL_BACKEND_DRAIN;
    backends[2].weight = 2;
    model_slots_compute(&svc, &a, NOW, &b);
    assert_true(b.n_moves > 0);
    text = model_slots_format(&b);
    assert_true(model_slots_parse(text, &p));
    assert_true(model_slots_equal(&b, &p));
    /* Few runs: the table's text is short. */
    assert_true(strlen(text) < 40 * 20 + 20 * b.n_moves);
    free(text);
    model_slots_uninit(&p);

    static const char *const bad[] = {
        "", "2/16//", "1/15/1*15/", "1/16/1*15/", "1/16/1*17/",
        "1/16/1*16", "1/16/1*16/16:1:0", "1/16/1*16/3:0:0",
        "1/16/1*16/3:1:0.3:1:0", "1/16/x*16/", "1/65536/1*65536/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(model_slots_parse(bad[i], &p));
    }
    assert_true(model_slots_parse("1/0//", &p));
    assert_int_equal(p.n_slots, 0);
    model_slots_uninit(&a);
    model_slots_uninit(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_effective),
        cmocka_unit_test(test_add_moves),
        cmocka_unit_test(test_remove_and_drain),
        cmocka_unit_test(test_no_moves),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
