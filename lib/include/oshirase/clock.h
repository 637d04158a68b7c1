/* Clocks, each named for what it measures. Pick by meaning:
 *
 *   osh_wall_ms()   the calendar: timestamps that leave the process
 *                   (records, headers, tokens, reports, schedules). It
 *                   jumps when the clock is set: never time intervals with it.
 *   osh_mono_ms()   elapsed time: deadlines, intervals, rate limits, round
 *                   trips. Meaningless outside this process.
 *   osh_sleep_ms()  waits, waking early when shutdown is requested, so a
 *                   service still exits within seconds of SIGTERM. */
#ifndef OSHIRASE_CLOCK_H
#define OSHIRASE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t osh_wall_ms(void);
/* Milliseconds on CLOCK_MONOTONIC (arbitrary origin). */
int64_t osh_mono_ms(void);
/* Seconds on CLOCK_MONOTONIC with sub-millisecond precision (rates). */
double osh_mono_s(void);
/* The CLOCK_REALTIME instant ms from now, as pthread_cond_timedwait and
 * pthread_timedjoin_np want their deadlines. */
struct timespec osh_wall_deadline(int64_t ms);
/* Sleeps ms (<= 0: returns at once) in short slices, returning early once
 * osh_shutdown_requested(). 0 after the whole sleep, -1 when cut short. */
int osh_sleep_ms(int64_t ms);

#endif
