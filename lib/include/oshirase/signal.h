/* Process-wide shutdown flag set by SIGTERM/SIGINT, and the shutdown
 * budget: a service exits within 10 s of SIGTERM whatever the broker does,
 * so every wait after the request is cut to what is left of
 * OSH_SHUTDOWN_GRACE_MS. */
#ifndef OSHIRASE_SIGNAL_H
#define OSHIRASE_SIGNAL_H

#include <stdint.h>

/* Time from the shutdown request that flushes and closes may take
 * together; the rest of the 10 s is for destroying handles and threads. */
#define OSH_SHUTDOWN_GRACE_MS 6000
/* Time from the request after which nothing is waited for any more: what
 * still runs in the background (a consumer's close) is left behind. */
#define OSH_SHUTDOWN_EXIT_MS 8500

/* Installs SIGTERM and SIGINT handlers (and ignores SIGPIPE: sockets report
 * EPIPE instead). Idempotent. */
void osh_signal_install(void);
/* Non-zero once a shutdown was requested by a signal or osh_shutdown_request(). */
int osh_shutdown_requested(void);
void osh_shutdown_request(void);
/* want_ms before a shutdown request; after it, the smaller of want_ms and
 * what is left of the grace (0 once it is spent). want_ms < 0 means "no
 * limit of its own". */
int osh_shutdown_budget_ms(int want_ms);
/* limit_ms before a shutdown request; after it, what is left of limit_ms
 * counted from the request (0 once it is spent). */
int osh_shutdown_left_ms(int limit_ms);
/* Milliseconds since the shutdown request, -1 before it. */
int64_t osh_shutdown_elapsed_ms(void);
/* Tests only: clears the flag. */
void osh_shutdown_reset(void);

#endif
