#include "mon_model_int.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void copy(char *dst, size_t size, const char *src)
{
        snprintf(dst, size, "%s", src ? src : "");
}

mon_model_t *mon_model_new(const mon_opts_t *opts)
{
        mon_model_t *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        m->grps = calloc(MON_MAX_GROUPS, sizeof(*m->grps));
        if (!m->grps) {
                free(m);
                return NULL;
        }
        pthread_mutex_init(&m->lock, NULL);
        m->o = *opts;
        copy(m->instance, sizeof(m->instance), opts->instance ? opts->instance : "monitor");
        m->o.instance = m->instance;
        if (m->o.window < 2)
                m->o.window = 2;
        m->probe.state = MON_PROBE_UNKNOWN;
        m->overall = MON_HEALTH_UNKNOWN;
        return m;
}

void mon_model_destroy(mon_model_t *m)
{
        if (!m)
                return;
        pthread_mutex_destroy(&m->lock);
        free(m->grps);
        free(m);
}

static void lower_copy(char *dst, size_t size, const char *src)
{
        size_t i;

        for (i = 0; src && src[i] && i + 1 < size; i++)
                dst[i] = (char)tolower((unsigned char)src[i]);
        dst[i] = '\0';
}

static svc_t *svc_find(mon_model_t *m, const char *service, const char *instance, int create)
{
        size_t i;

        for (i = 0; i < m->nsvc; i++)
                if (!strcmp(m->svcs[i].service, service) && !strcmp(m->svcs[i].instance, instance))
                        return &m->svcs[i];
        if (!create || m->nsvc == MON_MAX_SERVICES)
                return NULL;
        svc_t *s = &m->svcs[m->nsvc++];
        memset(s, 0, sizeof(*s));
        copy(s->service, sizeof(s->service), service);
        copy(s->instance, sizeof(s->instance), instance);
        mon_lag_window_init(&s->win, m->o.window);
        s->lag = -1;
        s->lag_status = MON_LAG_UNKNOWN;
        return s;
}

static void svc_update(mon_model_t *m, svc_t *s, const mon_heartbeat_t *hb)
{
        if (hb->started_ms != s->started_ms)
                mon_lag_window_init(&s->win, m->o.window); /* restarted: counters reset */
        lower_copy(s->segment, sizeof(s->segment), hb->segment ? hb->segment : "unknown");
        copy(s->state, sizeof(s->state), hb->state ? hb->state : "RUNNING");
        copy(s->last_batch, sizeof(s->last_batch), hb->last_batch);
        s->from_probe = hb->from_probe;
        s->ts_ms = hb->ts_ms;
        s->started_ms = hb->started_ms;
        s->in = hb->records_in;
        s->out = hb->records_out;
        s->rejected = hb->records_rejected;
        s->errors = hb->errors;
        s->lag = hb->lag;
        s->lost = hb->records_lost;
        if (hb->lag >= 0) {
                mon_lag_sample_t smp = {hb->records_in, hb->records_in + hb->lag, hb->ts_ms};
                mon_lag_window_push(&s->win, &smp);
        }
}

int mon_model_heartbeat(mon_model_t *m, const mon_heartbeat_t *hb)
{
        svc_t *s;
        int rc = -1;

        if (!hb->service || !*hb->service || !hb->instance || !*hb->instance)
                return -1;
        pthread_mutex_lock(&m->lock);
        s = svc_find(m, hb->service, hb->instance, 1);
        if (!s)
                goto done;
        if (hb->ts_ms >= s->ts_ms)
                svc_update(m, s, hb);
        rc = 0;
done:
        pthread_mutex_unlock(&m->lock);
        return rc;
}

int mon_model_watch(mon_model_t *m, const char *group, const char *topic, const char *service)
{
        grp_t *g;
        int rc = -1;

        if (!group || !*group || !topic || !*topic)
                return -1;
        pthread_mutex_lock(&m->lock);
        if (m->ngrp == MON_MAX_GROUPS)
                goto done;
        g = &m->grps[m->ngrp++];
        memset(g, 0, sizeof(*g));
        copy(g->group, sizeof(g->group), group);
        copy(g->topic, sizeof(g->topic), topic);
        copy(g->service, sizeof(g->service), service && *service ? service : group);
        g->status = MON_LAG_UNKNOWN;
        rc = 0;
done:
        pthread_mutex_unlock(&m->lock);
        return rc;
}

size_t mon_model_watch_count(mon_model_t *m)
{
        size_t n;

        pthread_mutex_lock(&m->lock);
        n = m->ngrp;
        pthread_mutex_unlock(&m->lock);
        return n;
}

int mon_model_watch_at(mon_model_t *m, size_t i, char *group, size_t gsize, char *topic,
                       size_t tsize)
{
        int rc = -1;

        pthread_mutex_lock(&m->lock);
        if (i < m->ngrp) {
                copy(group, gsize, m->grps[i].group);
                copy(topic, tsize, m->grps[i].topic);
                rc = 0;
        }
        pthread_mutex_unlock(&m->lock);
        return rc;
}

void mon_model_lag_sample(mon_model_t *m, size_t i, int32_t n, const int64_t *committed,
                          const int64_t *low, const int64_t *hwm, int64_t now_ms)
{
        grp_t *g;
        int32_t p;

        pthread_mutex_lock(&m->lock);
        if (i >= m->ngrp)
                goto done;
        g = &m->grps[i];
        if (n > MON_MAX_PARTITIONS)
                n = MON_MAX_PARTITIONS;
        if (n != g->nparts) /* partitions added: start the windows afresh */
                for (p = 0; p < n; p++)
                        mon_lag_window_init(&g->win[p], m->o.window);
        g->nparts = n;
        g->lost = 0;
        for (p = 0; p < n; p++) {
                if (committed[p] >= 0 && low[p] > committed[p])
                        g->lost += low[p] - committed[p];
        }
        for (p = 0; p < n; p++) {
                mon_lag_sample_t s = {committed[p] >= 0 ? committed[p] : low[p], hwm[p], now_ms};
                mon_lag_window_push(&g->win[p], &s);
        }
done:
        pthread_mutex_unlock(&m->lock);
}

void mon_model_probe(mon_model_t *m, const mon_probe_result_t *r)
{
        pthread_mutex_lock(&m->lock);
        m->probe_attempts++;
        if (r->state == MON_PROBE_OK) {
                m->probe = *r;
                m->probe_last_ok = r->sent_ms;
        } else {
                /* Keep the last good cloud figures; show why this one failed. */
                m->probe.state = r->state;
                m->probe.sent_ms = r->sent_ms;
                m->probe.rtt_ms = r->rtt_ms;
                copy(m->probe.detail, sizeof(m->probe.detail), r->detail);
                m->probe_failures++;
        }
        pthread_mutex_unlock(&m->lock);
}

/* ---- judgements ---- */

int mon_svc_fresh(const mon_model_t *m, const svc_t *s, int64_t now)
{
        return now - s->ts_ms <= m->o.stale_ms;
}

static const char *svc_health(const mon_model_t *m, const svc_t *s, int64_t now)
{
        if (!strcmp(s->state, "STOPPED"))
                return "STOPPED";
        if (!mon_svc_fresh(m, s, now))
                return "STALE";
        if (s->lost > 0)
                return "DATA_LOST"; /* records removed before it read them */
        return s->state;
}

static mon_health_t health_of_service(const char *h)
{
        if (!strcmp(h, "RUNNING"))
                return MON_HEALTH_OK;
        if (!strcmp(h, "STOPPED") || !strcmp(h, "STALE") || !strcmp(h, "FAILED") ||
            !strcmp(h, "DATA_LOST"))
                return MON_HEALTH_ERROR;
        return MON_HEALTH_WARN; /* STARTING, DEGRADED, STOPPING */
}

static mon_health_t health_of_lag(mon_lag_status_t st)
{
        switch (st) {
        case MON_LAG_STALL:
        case MON_LAG_STOP:
                return MON_HEALTH_ERROR;
        case MON_LAG_WARN:
        case MON_LAG_REWIND:
                return MON_HEALTH_WARN;
        default:
                return MON_HEALTH_OK;
        }
}

static mon_alive_t group_alive(const mon_model_t *m, const grp_t *g, int64_t now)
{
        mon_alive_t alive = MON_ALIVE_UNKNOWN;
        size_t i;

        for (i = 0; i < m->nsvc; i++) {
                const svc_t *s = &m->svcs[i];
                if (strcmp(s->service, g->service) && strcmp(s->instance, g->service))
                        continue;
                if (health_of_service(svc_health(m, s, now)) != MON_HEALTH_ERROR)
                        return MON_ALIVE_YES;
                alive = MON_ALIVE_NO;
        }
        return alive;
}

int mon_svc_watched(const mon_model_t *m, const char *service)
{
        size_t i;

        for (i = 0; i < m->ngrp; i++)
                if (!strcmp(m->grps[i].service, service))
                        return 1;
        return 0;
}

static mon_health_t worst(mon_health_t a, mon_health_t b)
{
        if (a == MON_HEALTH_UNKNOWN)
                return b;
        if (b == MON_HEALTH_UNKNOWN)
                return a;
        return a > b ? a : b;
}

static int healthy_label(const char *s)
{
        return !*s || !strcmp(s, "OK") || !strcmp(s, "RUNNING") || !strcmp(s, "UNKNOWN");
}

/* Records cur as the reported state of an item; appends a transition when
 * it changed (start-up and UNKNOWN → healthy are not news). */
static void transition(char reported[16], const char *cur, const char *kind, const char *subject,
                       mon_transition_t *out, size_t max, size_t *n)
{
        if (!strcmp(reported, cur))
                return;
        if (!(healthy_label(reported) && healthy_label(cur)) && *n < max) {
                mon_transition_t *t = &out[(*n)++];
                copy(t->kind, sizeof(t->kind), kind);
                copy(t->subject, sizeof(t->subject), subject);
                copy(t->from, sizeof(t->from), *reported ? reported : "UNKNOWN");
                copy(t->to, sizeof(t->to), cur);
        }
        copy(reported, 16, cur);
}

static mon_health_t probe_health(const mon_model_t *m, int64_t now)
{
        if (m->probe_attempts == 0)
                return MON_HEALTH_UNKNOWN;
        if (m->probe.state != MON_PROBE_OK)
                return MON_HEALTH_ERROR;
        if (m->o.snapshot_max_ms > 0 && m->probe.has_snapshot &&
            now - m->probe.snapshot_extract_ms > m->o.snapshot_max_ms)
                return MON_HEALTH_WARN;
        return MON_HEALTH_OK;
}

static mon_health_t eval_services(mon_model_t *m, int64_t now, mon_transition_t *out, size_t max,
                                  size_t *n)
{
        mon_health_t h = MON_HEALTH_UNKNOWN;
        char subject[2 * MON_NAME_MAX + 2];
        size_t i;

        for (i = 0; i < m->nsvc; i++) {
                svc_t *s = &m->svcs[i];
                s->health = svc_health(m, s, now);
                h = worst(h, health_of_service(s->health));
                s->lag_status = mon_lag_judge(
                    &s->win, m->o.window, mon_svc_fresh(m, s, now) ? MON_ALIVE_YES : MON_ALIVE_NO);
                if (s->lag >= 0 && !mon_svc_watched(m, s->service))
                        h = worst(h, health_of_lag(s->lag_status));
                snprintf(subject, sizeof(subject), "%s/%s", s->service, s->instance);
                transition(s->reported, s->health, "service", subject, out, max, n);
        }
        return h;
}

static mon_health_t eval_groups(mon_model_t *m, int64_t now, mon_transition_t *out, size_t max,
                                size_t *n)
{
        mon_health_t h = MON_HEALTH_UNKNOWN;
        char subject[2 * MON_NAME_MAX + 2];
        size_t i;
        int32_t p;

        for (i = 0; i < m->ngrp; i++) {
                grp_t *g = &m->grps[i];
                mon_alive_t alive = group_alive(m, g, now);
                g->status = MON_LAG_UNKNOWN;
                g->lag = 0;
                for (p = 0; p < g->nparts; p++) {
                        g->status =
                            mon_lag_worse(g->status, mon_lag_judge(&g->win[p], m->o.window, alive));
                        g->lag += mon_lag_current(&g->win[p]);
                }
                h = worst(h, g->lost > 0 ? MON_HEALTH_ERROR : health_of_lag(g->status));
                snprintf(subject, sizeof(subject), "%s/%s", g->group, g->topic);
                transition(g->reported, g->lost > 0 ? "DATA_LOST" : mon_lag_status_name(g->status),
                           "consumer", subject, out, max, n);
        }
        return h;
}

mon_health_t mon_model_evaluate(mon_model_t *m, int64_t now_ms, mon_transition_t *out, size_t max,
                                size_t *n)
{
        mon_health_t h, ph;
        size_t dummy = 0;

        if (!n)
                n = &dummy;
        *n = 0;
        pthread_mutex_lock(&m->lock);
        m->eval_ms = now_ms;
        h = eval_services(m, now_ms, out, max, n);
        h = worst(h, eval_groups(m, now_ms, out, max, n));
        ph = probe_health(m, now_ms);
        h = worst(h, ph);
        if (m->probe_attempts)
                transition(m->probe_reported, mon_probe_state_name(m->probe.state), "probe",
                           "cloud", out, max, n);
        m->overall = h;
        transition(m->overall_reported, mon_health_name(h), "overall", "pipeline", out, max, n);
        pthread_mutex_unlock(&m->lock);
        return h;
}

const char *mon_health_name(mon_health_t h)
{
        static const char *const names[] = {"OK", "WARN", "ERROR", "UNKNOWN"};
        return (unsigned)h <= MON_HEALTH_UNKNOWN ? names[h] : "UNKNOWN";
}

const char *mon_probe_state_name(mon_probe_state_t s)
{
        static const char *const names[] = {"OK", "FAILED", "TIMEOUT", "AUTH_ERROR", "UNKNOWN"};
        return (unsigned)s <= MON_PROBE_UNKNOWN ? names[s] : "UNKNOWN";
}
