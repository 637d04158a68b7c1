#include "oshirase/signal.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t shutdown_flag;

static void on_signal(int sig)
{
        (void)sig;
        shutdown_flag = 1;
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
        shutdown_flag = 1;
}

void osh_shutdown_reset(void)
{
        shutdown_flag = 0;
}
