#include "mon_lag.h"

void mon_lag_window_init(mon_lag_window_t *w, size_t cap)
{
        w->n = 0;
        w->head = 0;
        w->cap = cap < 2 ? 2 : cap > MON_LAG_WINDOW_MAX ? MON_LAG_WINDOW_MAX : cap;
}

void mon_lag_window_push(mon_lag_window_t *w, const mon_lag_sample_t *s)
{
        if (w->n < w->cap) {
                w->s[(w->head + w->n) % w->cap] = *s;
                w->n++;
                return;
        }
        w->s[w->head] = *s;
        w->head = (w->head + 1) % w->cap;
}

const mon_lag_sample_t *mon_lag_window_at(const mon_lag_window_t *w, size_t i)
{
        return &w->s[(w->head + i) % w->cap];
}

static int64_t sample_lag(const mon_lag_sample_t *s)
{
        return s->hwm > s->committed ? s->hwm - s->committed : 0;
}

int64_t mon_lag_current(const mon_lag_window_t *w)
{
        return w->n ? sample_lag(mon_lag_window_at(w, w->n - 1)) : 0;
}

static int rewound(const mon_lag_window_t *w)
{
        size_t i;

        for (i = 1; i < w->n; i++)
                if (mon_lag_window_at(w, i)->committed < mon_lag_window_at(w, i - 1)->committed)
                        return 1;
        return 0;
}

/* Lag never fell between consecutive samples and ended higher than it began. */
static int lag_growing(const mon_lag_window_t *w)
{
        size_t i;

        for (i = 1; i < w->n; i++)
                if (sample_lag(mon_lag_window_at(w, i)) < sample_lag(mon_lag_window_at(w, i - 1)))
                        return 0;
        return sample_lag(mon_lag_window_at(w, w->n - 1)) > sample_lag(mon_lag_window_at(w, 0));
}

mon_lag_status_t mon_lag_judge(const mon_lag_window_t *w, size_t min, mon_alive_t alive)
{
        const mon_lag_sample_t *first, *last;

        if (w->n == 0)
                return MON_LAG_UNKNOWN;
        if (rewound(w))
                return MON_LAG_REWIND;
        if (mon_lag_current(w) == 0)
                return MON_LAG_OK;
        if (w->n < (min < 2 ? 2 : min))
                return MON_LAG_UNKNOWN;
        first = mon_lag_window_at(w, 0);
        last = mon_lag_window_at(w, w->n - 1);
        if (first->committed == last->committed)
                return alive == MON_ALIVE_NO ? MON_LAG_STOP : MON_LAG_STALL;
        if (lag_growing(w))
                return MON_LAG_WARN;
        return MON_LAG_OK;
}

static int rank(mon_lag_status_t st)
{
        static const int r[] = {
            [MON_LAG_UNKNOWN] = 0, [MON_LAG_OK] = 1,    [MON_LAG_WARN] = 2,
            [MON_LAG_REWIND] = 3,  [MON_LAG_STALL] = 4, [MON_LAG_STOP] = 5,
        };
        return (unsigned)st <= MON_LAG_UNKNOWN ? r[st] : 0;
}

mon_lag_status_t mon_lag_worse(mon_lag_status_t a, mon_lag_status_t b)
{
        return rank(b) > rank(a) ? b : a;
}

const char *mon_lag_status_name(mon_lag_status_t st)
{
        static const char *const names[] = {"OK", "WARN", "STALL", "STOP", "REWIND", "UNKNOWN"};
        return (unsigned)st <= MON_LAG_UNKNOWN ? names[st] : "UNKNOWN";
}
