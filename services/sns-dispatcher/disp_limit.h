/* Pacing (pure, clock passed in): a token bucket per channel. Quiet hours
 * are lib's (oshirase/quiet.h): the console shows them too. */
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

#endif
