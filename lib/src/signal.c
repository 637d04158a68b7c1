#include "oshirase/signal.h"
#include "oshirase/clock.h"

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t shutdown_flag;
/* Monotonic ms of the first request; written before the flag is set
 * (clock_gettime is async-signal-safe). */
static volatile int64_t shutdown_at_ms;

static void request(void)
{
        if (!shutdown_flag)
                shutdown_at_ms = osh_mono_ms();
        shutdown_flag = 1;
}

static void on_signal(int sig)
{
        (void)sig;
        request();
}

void osh_signal_install(void)
{
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
}

int osh_shutdown_requested(void)
{
        return shutdown_flag != 0;
}

void osh_shutdown_request(void)
{
        request();
}

int osh_shutdown_left_ms(int limit_ms)
{
        int64_t left;

        if (!shutdown_flag)
                return limit_ms;
        left = shutdown_at_ms + limit_ms - osh_mono_ms();
        return left > 0 ? (int)left : 0;
}

int osh_shutdown_budget_ms(int want_ms)
{
        int left = osh_shutdown_left_ms(OSH_SHUTDOWN_GRACE_MS);

        if (!shutdown_flag)
                return want_ms;
        return want_ms >= 0 && want_ms < left ? want_ms : left;
}

int64_t osh_shutdown_elapsed_ms(void)
{
        return shutdown_flag ? osh_mono_ms() - shutdown_at_ms : -1;
}

void osh_shutdown_reset(void)
{
        shutdown_flag = 0;
        shutdown_at_ms = 0;
}
