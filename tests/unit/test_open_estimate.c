/* The DSR modes' open-session estimate (restapi/open_estimate.c): SYNs
 * less FINs and RSTs, carried from read to read, never below zero, zero
 * after the idle timeout without packets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "open_estimate.h"

#define IDLE 300                /* The service's idle_timeout, s. */

/* Reads totals (opened, closed, packets) at second 's'. */
static uint64_t
read_at(struct open_estimate *e, uint64_t opened, uint64_t closed,
        uint64_t packets, int s)
{
    struct open_totals t = { opened, closed, packets };

    return open_estimate_update(e, &t, IDLE, 1000000 + s * 1000LL);
}

static void
test_opens_and_closes(void **state)
{
    struct open_estimate e = { 0 };

    (void) state;
    assert_int_equal(read_at(&e, 10, 4, 100, 0), 6);    /* First read. */
    assert_int_equal(read_at(&e, 15, 4, 150, 1), 11);
    assert_int_equal(read_at(&e, 15, 15, 170, 2), 0);
}

/* Closes counted twice (a FIN then an RST) take nothing from later
 * sessions: the estimate stops at zero at each read. */
static void
test_double_close_no_debt(void **state)
{
    struct open_estimate e = { 0 };

    (void) state;
    assert_int_equal(read_at(&e, 5, 0, 50, 0), 5);
    assert_int_equal(read_at(&e, 5, 10, 60, 1), 0);     /* 5 closed twice. */
    assert_int_equal(read_at(&e, 8, 10, 70, 2), 3);     /* 3 new, open. */
}

/* Sessions never seen to close (the client gone, the server's RST) are
 * forgotten once the backend had no packet for the idle timeout. */
static void
test_idle_forgets(void **state)
{
    struct open_estimate e = { 0 };

    (void) state;
    assert_int_equal(read_at(&e, 4, 1, 40, 0), 3);
    assert_int_equal(read_at(&e, 4, 1, 41, 10), 3);     /* Packets: alive. */
    assert_int_equal(read_at(&e, 4, 1, 41, 10 + IDLE - 1), 3);
    assert_int_equal(read_at(&e, 4, 1, 41, 10 + IDLE), 0);
    /* A new session counts again. */
    assert_int_equal(read_at(&e, 5, 1, 45, 11 + IDLE), 1);
}

/* Totals that went back (the backend made again, a bridge's flows gone)
 * start the estimate again from them. */
static void
test_totals_restart(void **state)
{
    struct open_estimate e = { 0 };

    (void) state;
    assert_int_equal(read_at(&e, 100, 90, 1000, 0), 10);
    assert_int_equal(read_at(&e, 3, 1, 20, 1), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_opens_and_closes),
        cmocka_unit_test(test_double_close_no_debt),
        cmocka_unit_test(test_idle_forgets),
        cmocka_unit_test(test_totals_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
