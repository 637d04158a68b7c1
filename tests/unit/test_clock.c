/* oshirase/clock.h: which clock is which, and sleeps that end on shutdown. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "oshirase/clock.h"
#include "oshirase/signal.h"

static void test_clocks(void **state)
{
        int64_t wall = osh_wall_ms(), mono = osh_mono_ms();

        /* The wall clock is the calendar (after 2020-01-01); the monotonic
         * one counts from boot, far below it. */
        assert_true(wall > 1577836800000LL);
        assert_true(mono < wall / 2);
        assert_true(wall - (int64_t)time(NULL) * 1000 < 2000);
        assert_true(osh_mono_s() * 1000 >= (double)mono - 1);
}

static void test_sleep(void **state)
{
        struct timespec now, dl;
        int64_t t0 = osh_mono_ms();

        osh_shutdown_reset();
        assert_int_equal(osh_sleep_ms(120), 0);
        assert_true(osh_mono_ms() - t0 >= 120);
        assert_int_equal(osh_sleep_ms(0), 0);
        osh_shutdown_request();
        t0 = osh_mono_ms();
        assert_int_equal(osh_sleep_ms(60000), -1); /* returns at once */
        assert_true(osh_mono_ms() - t0 < 1000);
        osh_shutdown_reset();
        clock_gettime(CLOCK_REALTIME, &now);
        dl = osh_wall_deadline(1500);
        assert_true(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000L);
        assert_true((dl.tv_sec - now.tv_sec) * 1000 + (dl.tv_nsec - now.tv_nsec) / 1000000 >= 1500);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_clocks),
            cmocka_unit_test(test_sleep),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
