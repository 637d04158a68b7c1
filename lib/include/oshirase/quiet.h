/* Quiet hours: a local time-of-day window in which non-critical notices
 * are held (sns-dispatcher holds them; the console shows staff whether a
 * chosen send time falls in it). Pure, clock passed in. The dispatcher's
 * configuration (quiet.hours, quiet.utc_offset) is the truth: it announces
 * the window on its heartbeat (OSH_QUIET_HB_*), the console reads it there. */
#ifndef OSHIRASE_QUIET_H
#define OSHIRASE_QUIET_H

#include <stddef.h>
#include <stdint.h>

/* Named heartbeat counters (ops.status.v1 "counters") carrying the window:
 * minutes after local midnight (-1 both: no quiet hours) and the offset. */
#define OSH_QUIET_HB_START  "quiet_start_min"
#define OSH_QUIET_HB_END    "quiet_end_min"
#define OSH_QUIET_HB_OFFSET "quiet_utc_offset_min"

typedef struct osh_quiet {
        int enabled;
        int start_min, end_min; /* minutes after local midnight; may wrap */
        int utc_offset_min;     /* Asia/Tokyo: +540 (no DST) */
} osh_quiet_t;

/* "HH:MM-HH:MM" (e.g. "21:00-08:00") or "" (off). 0 / -1. */
int osh_quiet_parse(const char *spec, int utc_offset_min, osh_quiet_t *q);
/* From minutes (start/end -1: off). 0 / -1 when out of range. */
int osh_quiet_from_minutes(int start_min, int end_min, int utc_offset_min, osh_quiet_t *q);
/* 0 when now is outside the window, else the epoch ms at which it ends. */
int64_t osh_quiet_until(const osh_quiet_t *q, int64_t now_ms);
/* "21:00-08:00", or "" when off, into out (at least 12 bytes). */
void osh_quiet_format(const osh_quiet_t *q, char *out, size_t size);

#endif
