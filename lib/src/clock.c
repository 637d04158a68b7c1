#include "oshirase/clock.h"

#include <time.h>

#include "oshirase/signal.h"

/* How often a sleep looks at the shutdown flag: short enough for the 10 s
 * SIGTERM budget, long enough not to spin. */
#define SLEEP_SLICE_MS 50

static int64_t clock_ms(clockid_t id)
{
        struct timespec ts;

        clock_gettime(id, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t osh_wall_ms(void)
{
        return clock_ms(CLOCK_REALTIME);
}

int64_t osh_mono_ms(void)
{
        return clock_ms(CLOCK_MONOTONIC);
}

double osh_mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec osh_wall_deadline(int64_t ms)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t)(ms / 1000);
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        return ts;
}

int osh_sleep_ms(int64_t ms)
{
        int64_t end = osh_mono_ms() + ms;

        for (int64_t left = ms; left > 0; left = end - osh_mono_ms()) {
                int64_t slice = left < SLEEP_SLICE_MS ? left : SLEEP_SLICE_MS;
                struct timespec ts = {(time_t)(slice / 1000), (long)(slice % 1000) * 1000000L};
                if (osh_shutdown_requested())
                        return -1;
                nanosleep(&ts, NULL);
        }
        return osh_shutdown_requested() ? -1 : 0;
}
