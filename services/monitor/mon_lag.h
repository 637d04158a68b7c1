/* Burrow-style consumer lag rules over a sliding window of samples.
 *
 * A sample is (committed offset, high watermark, time) for one partition.
 * The window keeps the last MON_LAG_WINDOW_MAX samples (or fewer, as
 * configured). The rules, checked in this order:
 *
 *   REWIND  the committed offset went backwards inside the window (a replay);
 *   OK      the newest lag is zero;
 *   STOP    the committed offset did not move across a full window, lag > 0,
 *           and the consumer is known to be gone (no fresh heartbeat);
 *   STALL   the same, but the consumer is alive (or its liveness unknown):
 *           it is running and not progressing;
 *   WARN    lag never decreased across a full window and grew overall;
 *   OK      otherwise (lag falling, or moving with the consumer keeping up).
 *
 * With fewer than `min` samples only REWIND and zero-lag OK can be decided;
 * everything else is UNKNOWN. Pure functions: no clocks, no I/O. */
#ifndef MON_LAG_H
#define MON_LAG_H

#include <stddef.h>
#include <stdint.h>

#define MON_LAG_WINDOW_MAX 32

typedef enum {
        MON_LAG_OK = 0,
        MON_LAG_WARN,
        MON_LAG_STALL,
        MON_LAG_STOP,
        MON_LAG_REWIND,
        MON_LAG_UNKNOWN,
} mon_lag_status_t;

/* Liveness of the consumer behind a group, from heartbeats. */
typedef enum {
        MON_ALIVE_UNKNOWN = -1,
        MON_ALIVE_NO = 0,
        MON_ALIVE_YES = 1,
} mon_alive_t;

typedef struct mon_lag_sample {
        int64_t committed; /* next offset the group will read */
        int64_t hwm;       /* high watermark */
        int64_t ts_ms;
} mon_lag_sample_t;

/* Ring buffer of samples, oldest first when read through mon_lag_window_at. */
typedef struct mon_lag_window {
        mon_lag_sample_t s[MON_LAG_WINDOW_MAX];
        size_t n;    /* samples held */
        size_t head; /* index of the oldest */
        size_t cap;  /* configured size, 2..MON_LAG_WINDOW_MAX */
} mon_lag_window_t;

/* cap is clamped to 2..MON_LAG_WINDOW_MAX. */
void mon_lag_window_init(mon_lag_window_t *w, size_t cap);
/* Appends, dropping the oldest sample once full. */
void mon_lag_window_push(mon_lag_window_t *w, const mon_lag_sample_t *s);
/* i-th sample, 0 = oldest; i < w->n. */
const mon_lag_sample_t *mon_lag_window_at(const mon_lag_window_t *w, size_t i);
/* hwm - committed of the newest sample, never negative; 0 when empty. */
int64_t mon_lag_current(const mon_lag_window_t *w);

/* Judges one window with the rules above; min is the number of samples
 * that makes a full window (2..cap). */
mon_lag_status_t mon_lag_judge(const mon_lag_window_t *w, size_t min, mon_alive_t alive);

/* Worse of two statuses for a group made of partitions: UNKNOWN < OK < WARN
 * < REWIND < STALL < STOP. */
mon_lag_status_t mon_lag_worse(mon_lag_status_t a, mon_lag_status_t b);

/* "OK", "WARN", "STALL", "STOP", "REWIND", "UNKNOWN" (the ops.health.v1
 * LagStatus symbols). */
const char *mon_lag_status_name(mon_lag_status_t st);

#endif
