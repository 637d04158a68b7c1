/* Burrow-style lag rules of the monitor, one synthetic window per state. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mon_lag.h"

#define WIN 5

/* Fills a window from parallel arrays of committed offsets and watermarks,
 * one sample per second. */
static void fill(mon_lag_window_t *w, size_t n, const int64_t *committed, const int64_t *hwm)
{
        size_t i;

        mon_lag_window_init(w, WIN);
        for (i = 0; i < n; i++) {
                mon_lag_sample_t s = {committed[i], hwm[i], (int64_t)i * 1000};
                mon_lag_window_push(w, &s);
        }
}

static mon_lag_status_t judge(size_t n, const int64_t *c, const int64_t *h, mon_alive_t alive)
{
        mon_lag_window_t w;

        fill(&w, n, c, h);
        return mon_lag_judge(&w, WIN, alive);
}

static void test_ok_caught_up(void **state)
{
        int64_t c[] = {10, 20, 30, 40, 50}, h[] = {10, 20, 30, 40, 50};
        assert_int_equal(judge(5, c, h, MON_ALIVE_YES), MON_LAG_OK);
        /* Zero lag is OK even with a single sample and a gone consumer. */
        assert_int_equal(judge(1, c, h, MON_ALIVE_NO), MON_LAG_OK);
}

static void test_ok_lag_decreasing(void **state)
{
        int64_t c[] = {0, 20, 40, 60, 80}, h[] = {100, 100, 100, 100, 100};
        assert_int_equal(judge(5, c, h, MON_ALIVE_YES), MON_LAG_OK);
}

static void test_ok_moving_with_steady_lag(void **state)
{
        /* Lag goes up and down while the consumer moves: not WARN. */
        int64_t c[] = {0, 10, 20, 30, 40}, h[] = {5, 20, 25, 38, 45};
        assert_int_equal(judge(5, c, h, MON_ALIVE_YES), MON_LAG_OK);
}

static void test_warn_lag_increasing(void **state)
{
        int64_t c[] = {0, 10, 20, 30, 40}, h[] = {5, 20, 35, 50, 65};
        assert_int_equal(judge(5, c, h, MON_ALIVE_YES), MON_LAG_WARN);
        /* Flat lag (never decreasing but not grown) is not WARN. */
        int64_t h2[] = {5, 15, 25, 35, 45};
        assert_int_equal(judge(5, c, h2, MON_ALIVE_YES), MON_LAG_OK);
}

static void test_stall_alive(void **state)
{
        int64_t c[] = {7, 7, 7, 7, 7}, h[] = {10, 12, 14, 16, 18};
        assert_int_equal(judge(5, c, h, MON_ALIVE_YES), MON_LAG_STALL);
        /* Liveness unknown: cannot prove it is gone, so STALL. */
        assert_int_equal(judge(5, c, h, MON_ALIVE_UNKNOWN), MON_LAG_STALL);
        /* Constant lag with no movement is a stall too. */
        int64_t h2[] = {10, 10, 10, 10, 10};
        assert_int_equal(judge(5, c, h2, MON_ALIVE_YES), MON_LAG_STALL);
}

static void test_stop_gone(void **state)
{
        int64_t c[] = {7, 7, 7, 7, 7}, h[] = {10, 12, 14, 16, 18};
        assert_int_equal(judge(5, c, h, MON_ALIVE_NO), MON_LAG_STOP);
        /* Gone but caught up: nothing to worry about. */
        int64_t h2[] = {7, 7, 7, 7, 7};
        assert_int_equal(judge(5, c, h2, MON_ALIVE_NO), MON_LAG_OK);
        /* Gone but its offset moved inside the window: not STOP (yet). */
        int64_t c2[] = {3, 7, 7, 7, 7};
        assert_int_not_equal(judge(5, c2, h, MON_ALIVE_NO), MON_LAG_STOP);
}

static void test_rewind(void **state)
{
        int64_t c[] = {50, 60, 0, 10, 20}, h[] = {100, 100, 100, 100, 100};
        assert_int_equal(judge(5, c, h, MON_ALIVE_YES), MON_LAG_REWIND);
        /* Detectable from two samples, before the window is full. */
        assert_int_equal(judge(3, c, h, MON_ALIVE_YES), MON_LAG_REWIND);
}

static void test_unknown_until_full(void **state)
{
        int64_t c[] = {7, 7, 7, 7, 7}, h[] = {10, 12, 14, 16, 18};
        mon_lag_window_t w;

        assert_int_equal(judge(4, c, h, MON_ALIVE_NO), MON_LAG_UNKNOWN);
        mon_lag_window_init(&w, WIN);
        assert_int_equal(mon_lag_judge(&w, WIN, MON_ALIVE_YES), MON_LAG_UNKNOWN);
}

static void test_window_slides(void **state)
{
        /* A rewind leaves the window after WIN newer samples. */
        int64_t c[] = {50, 0, 1, 2, 3, 4}, h[] = {100, 100, 100, 100, 100, 100};
        mon_lag_window_t w;
        size_t i;

        mon_lag_window_init(&w, WIN);
        for (i = 0; i < 6; i++) {
                mon_lag_sample_t s = {c[i], h[i], (int64_t)i};
                mon_lag_window_push(&w, &s);
        }
        assert_int_equal(w.n, WIN);
        assert_int_equal(mon_lag_window_at(&w, 0)->committed, 0);
        assert_int_equal(mon_lag_window_at(&w, WIN - 1)->committed, 4);
        assert_int_equal(mon_lag_current(&w), 96);
        assert_int_equal(mon_lag_judge(&w, WIN, MON_ALIVE_YES), MON_LAG_OK);
}

static void test_worse_and_names(void **state)
{
        assert_int_equal(mon_lag_worse(MON_LAG_OK, MON_LAG_WARN), MON_LAG_WARN);
        assert_int_equal(mon_lag_worse(MON_LAG_STOP, MON_LAG_STALL), MON_LAG_STOP);
        assert_int_equal(mon_lag_worse(MON_LAG_REWIND, MON_LAG_STALL), MON_LAG_STALL);
        assert_int_equal(mon_lag_worse(MON_LAG_UNKNOWN, MON_LAG_OK), MON_LAG_OK);
        assert_int_equal(mon_lag_worse(MON_LAG_WARN, MON_LAG_UNKNOWN), MON_LAG_WARN);
        assert_string_equal(mon_lag_status_name(MON_LAG_STALL), "STALL");
        assert_string_equal(mon_lag_status_name(MON_LAG_REWIND), "REWIND");
        assert_string_equal(mon_lag_status_name((mon_lag_status_t)99), "UNKNOWN");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_ok_caught_up),
            cmocka_unit_test(test_ok_lag_decreasing),
            cmocka_unit_test(test_ok_moving_with_steady_lag),
            cmocka_unit_test(test_warn_lag_increasing),
            cmocka_unit_test(test_stall_alive),
            cmocka_unit_test(test_stop_gone),
            cmocka_unit_test(test_rewind),
            cmocka_unit_test(test_unknown_until_full),
            cmocka_unit_test(test_window_slides),
            cmocka_unit_test(test_worse_and_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
