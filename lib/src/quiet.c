#include "oshirase/quiet.h"

#include <stdio.h>
#include <string.h>

/* "H:MM" or "HH:MM", at most 24:00, into minutes after midnight; the
 * characters used, 0 when it is not one. Strict by hand: sscanf's %d
 * would take signs, spaces and numbers that overflow. */
static int time_of_day(const char *s, int *min)
{
        int i = 0, h = 0;

        while (i < 2 && s[i] >= '0' && s[i] <= '9')
                h = h * 10 + (s[i++] - '0');
        if (!i || s[i] != ':' || s[i + 1] < '0' || s[i + 1] > '5' || s[i + 2] < '0' ||
            s[i + 2] > '9')
                return 0;
        *min = h * 60 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
        return *min <= 24 * 60 ? i + 3 : 0;
}

int osh_quiet_parse(const char *spec, int utc_offset_min, osh_quiet_t *q)
{
        int a, b;

        memset(q, 0, sizeof(*q));
        q->utc_offset_min = utc_offset_min;
        if (!spec || !*spec)
                return 0;
        if (!(a = time_of_day(spec, &q->start_min)) || spec[a] != '-' ||
            !(b = time_of_day(spec + a + 1, &q->end_min)) || spec[a + 1 + b]) {
                memset(q, 0, sizeof(*q));
                return -1;
        }
        q->enabled = q->start_min != q->end_min;
        return 0;
}

int osh_quiet_from_minutes(int start_min, int end_min, int utc_offset_min, osh_quiet_t *q)
{
        memset(q, 0, sizeof(*q));
        q->utc_offset_min = utc_offset_min;
        if (utc_offset_min < -720 || utc_offset_min > 840)
                return -1;
        if (start_min == -1 && end_min == -1)
                return 0;
        if (start_min < 0 || start_min > 24 * 60 || end_min < 0 || end_min > 24 * 60)
                return -1;
        q->start_min = start_min;
        q->end_min = end_min;
        q->enabled = start_min != end_min;
        return 0;
}

int64_t osh_quiet_until(const osh_quiet_t *q, int64_t now_ms)
{
        const int64_t day = 86400000;
        int64_t local = now_ms + (int64_t)q->utc_offset_min * 60000;
        int64_t midnight = local - ((local % day) + day) % day;
        int64_t minute = (local - midnight) / 60000, end;
        int in;

        if (!q->enabled)
                return 0;
        if (q->start_min < q->end_min)
                in = minute >= q->start_min && minute < q->end_min;
        else
                in = minute >= q->start_min || minute < q->end_min;
        if (!in)
                return 0;
        end = midnight + (int64_t)q->end_min * 60000;
        if (end <= local)
                end += day;
        return end - (int64_t)q->utc_offset_min * 60000;
}

void osh_quiet_format(const osh_quiet_t *q, char *out, size_t size)
{
        if (!q->enabled)
                snprintf(out, size, "%s", "");
        else
                snprintf(out, size, "%02d:%02d-%02d:%02d", q->start_min / 60, q->start_min % 60,
                         q->end_min / 60, q->end_min % 60);
}
