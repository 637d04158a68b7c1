/* Pacing (pure, clock passed in): a token bucket per channel and the quiet
 * hours window. */
#ifndef DISP_LIMIT_H
#define DISP_LIMIT_H

#include <stdint.h>

typedef struct disp_bucket {
        double rate_per_ms; /* 0: unlimited */
        double burst;
        double tokens;
        int64_t last_ms;
} disp_bucket_t;

/* "0" or "" (unlimited), "N/s", "N/m", "N/h", "N/d" (N may be fractional).
 * Burst is max(1, N per second) unless given as "N/s:B". 0 / -1. */
int disp_bucket_parse(const char *spec, disp_bucket_t *b, int64_t now_ms);
/* Takes n tokens and returns 0, or returns the ms to wait (nothing taken). */
int64_t disp_bucket_take(disp_bucket_t *b, double n, int64_t now_ms);

typedef struct disp_quiet {
        int enabled;
        int start_min, end_min; /* minutes after local midnight; may wrap */
        int utc_offset_min;     /* Asia/Tokyo: +540 (no DST) */
} disp_quiet_t;

/* "HH:MM-HH:MM" (e.g. "21:00-08:00") or "" (off). 0 / -1. */
int disp_quiet_parse(const char *spec, int utc_offset_min, disp_quiet_t *q);
/* 0 when now is outside the window, else the epoch ms at which it ends. */
int64_t disp_quiet_until(const disp_quiet_t *q, int64_t now_ms);

#endif
