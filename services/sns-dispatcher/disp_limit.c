#include "disp_limit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int disp_bucket_parse(const char *spec, disp_bucket_t *b, int64_t now_ms)
{
        char unit = 's', *end;
        double n, per_ms, burst = 0;

        memset(b, 0, sizeof(*b));
        b->last_ms = now_ms;
        if (!spec || !*spec || !strcmp(spec, "0"))
                return 0;
        n = strtod(spec, &end);
        if (end == spec || n <= 0 || *end != '/')
                return -1;
        unit = end[1];
        per_ms = unit == 's'   ? 1e3
                 : unit == 'm' ? 6e4
                 : unit == 'h' ? 3.6e6
                 : unit == 'd' ? 8.64e7
                               : 0;
        if (per_ms == 0)
                return -1;
        if (end[2] == ':') {
                burst = strtod(end + 3, &end);
                if (burst < 1 || *end)
                        return -1;
        } else if (end[2]) {
                return -1;
        }
        b->rate_per_ms = n / per_ms;
        b->burst = burst > 0 ? burst : (b->rate_per_ms * 1e3 > 1 ? b->rate_per_ms * 1e3 : 1);
        b->tokens = b->burst;
        return 0;
}

int64_t disp_bucket_take(disp_bucket_t *b, double n, int64_t now_ms)
{
        if (b->rate_per_ms <= 0)
                return 0;
        if (now_ms > b->last_ms) {
                b->tokens += (double)(now_ms - b->last_ms) * b->rate_per_ms;
                if (b->tokens > b->burst)
                        b->tokens = b->burst;
                b->last_ms = now_ms;
        }
        if (n > b->burst) /* a batch larger than the burst waits for a full bucket */
                n = b->burst;
        if (b->tokens >= n) {
                b->tokens -= n;
                return 0;
        }
        return (int64_t)((n - b->tokens) / b->rate_per_ms) + 1;
}
