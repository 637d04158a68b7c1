#include "disp_core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/clock.h"
#include "oshirase/log.h"
#include "oshirase/signal.h"

#include "disp_job.h"
#include "disp_template.h"

const char *const disp_status_names[DISP_N_STATUS] = {"QUEUED",      "SENT",        "DELIVERED",
                                                      "FAILED_TEMP", "FAILED_PERM", "SUPPRESSED"};

/* The delivery report of one campaign, kept equal to what the ledger
 * holds: final recipients by status, recipients still pending (QUEUED),
 * and dispatches settled / pending for the DONE verdict. */
typedef struct campaign {
        char *id;
        int64_t counts[DISP_N_STATUS];
        int64_t settled, pending; /* dispatches */
        int dirty;
} campaign_t;

struct disp_core {
        const disp_core_conf_t *conf;
        disp_ledger_t *ledger;
        disp_clock_t clock;
        disp_status_fn *status_fn;
        void *opaque;
        const disp_channel_t *chan[DISP_CH__CNT];
        disp_bucket_t bucket[DISP_CH__CNT];
        int64_t reserved[DISP_CH__CNT]; /* next token slot promised to a held job */
        int64_t blocked[DISP_CH__CNT];  /* a 429 said: nothing to this channel before */
        osh_http_client_t *http;
        campaign_t *camp;
        size_t ncamp;
        unsigned rnd;
        disp_core_stats_t st;
};

static void rebuild(disp_core_t *c);

/* Wall time: quiet hours and give-up ages are calendar matters. */
static int64_t real_now(void *opaque)
{
        return osh_wall_ms();
}

static void real_sleep(void *opaque, int64_t ms)
{
        osh_sleep_ms(ms);
}

disp_core_t *disp_core_new(const disp_core_conf_t *conf, disp_ledger_t *ledger,
                           const disp_clock_t *clock, disp_status_fn *status_fn, void *opaque,
                           char *errstr, size_t errstr_size)
{
        disp_core_t *c = calloc(1, sizeof(*c));

        if (!c)
                goto fail;
        c->conf = conf;
        c->ledger = ledger;
        c->clock = clock ? *clock : (disp_clock_t){real_now, real_sleep, NULL};
        c->status_fn = status_fn;
        c->opaque = opaque;
        c->rnd = (unsigned)c->clock.now_ms(c->clock.opaque);
        for (size_t i = 0; disp_channels[i]; i++)
                c->chan[disp_channels[i]->kind] = disp_channels[i];
        for (int i = 0; i < DISP_CH__CNT; i++)
                if (disp_bucket_parse(conf->rate[i], &c->bucket[i],
                                      c->clock.now_ms(c->clock.opaque)) < 0) {
                        snprintf(errstr, errstr_size, "bad rate '%s' (want N/s, N/m, N/h or N/d)",
                                 conf->rate[i]);
                        goto fail;
                }
        c->http = osh_http_client_new(NULL);
        if (!c->http)
                goto fail;
        rebuild(c);
        return c;
fail:
        if (!c)
                snprintf(errstr, errstr_size, "out of memory");
        disp_core_destroy(c);
        return NULL;
}

void disp_core_destroy(disp_core_t *c)
{
        if (!c)
                return;
        osh_http_client_destroy(c->http);
        for (size_t i = 0; i < c->ncamp; i++)
                free(c->camp[i].id);
        free(c->camp);
        free(c);
}

void disp_core_set_channel(disp_core_t *c, disp_chan_kind_t kind, const disp_channel_t *ch)
{
        c->chan[kind] = ch;
}

static campaign_t *campaign(disp_core_t *c, const char *id)
{
        campaign_t *np;

        for (size_t i = 0; i < c->ncamp; i++)
                if (!strcmp(c->camp[i].id, id))
                        return &c->camp[i];
        np = realloc(c->camp, (c->ncamp + 1) * sizeof(*np));
        if (!np)
                return NULL;
        c->camp = np;
        memset(&np[c->ncamp], 0, sizeof(*np));
        np[c->ncamp].id = strdup(id);
        return np[c->ncamp].id ? &np[c->ncamp++] : NULL;
}

static void emit(disp_core_t *c, const disp_job_t *job, int status, const char *code,
                 const char *msgid, const char *detail, size_t recipients, unsigned attempt)
{
        disp_status_t st = {job->key,
                            job->campaign_id,
                            job->channel,
                            disp_status_names[status],
                            code ? code : "",
                            msgid ? msgid : "",
                            detail ? detail : "",
                            (int)recipients,
                            (int)attempt,
                            c->clock.now_ms(c->clock.opaque)};
        if (c->status_fn)
                c->status_fn(c->opaque, &st);
}

enum { ST_QUEUED, ST_SENT, ST_DELIVERED, ST_TEMP, ST_PERM, ST_SUPPRESSED };

/* A dispatch of campaign_id of n recipients enters (+1) or leaves (-1) the
 * pending queue. */
static void count_pending(disp_core_t *c, const char *campaign_id, int dir, size_t n)
{
        campaign_t *cp = *campaign_id ? campaign(c, campaign_id) : NULL;

        if (cp) {
                cp->pending += dir;
                cp->counts[ST_QUEUED] += dir * (int64_t)n;
                cp->dirty = 1;
        }
}

/* A final entry of the ledger, counted into its campaign. */
static void count_final(disp_core_t *c, const char *status, const disp_final_meta_t *m)
{
        campaign_t *cp = m->campaign_id && *m->campaign_id ? campaign(c, m->campaign_id) : NULL;

        if (!cp)
                return;
        cp->settled++;
        cp->counts[strcmp(status, "SENT") ? ST_PERM : ST_SENT] += m->recipients;
        cp->counts[ST_PERM] += m->perm;
        cp->dirty = 1;
}

/* Writes the final entry of job and counts it (the pending entry the ledger
 * drops leaves the queue). 0 / -1 (I/O). */
static int put_final(disp_core_t *c, const disp_job_t *job, const char *status,
                     const disp_final_meta_t *m)
{
        int was_pending = disp_ledger_is_pending(c->ledger, job->key);

        if (disp_ledger_put_final(c->ledger, job->key, status, m) < 0)
                return -1;
        if (was_pending)
                count_pending(c, job->campaign_id, -1, job->n_rcpt);
        count_final(c, status, m);
        return 0;
}

/* Final failure for every recipient. */
static int fail_perm(disp_core_t *c, const disp_job_t *job, const char *code, const char *why,
                     unsigned attempt)
{
        size_t n = job->n_rcpt + job->n_invalid;
        disp_final_meta_t m = {job->campaign_id, (int)job->channel, (int)n, 0};

        if (put_final(c, job, "FAILED_PERM", &m) < 0)
                return -1;
        c->st.failed_perm++;
        emit(c, job, ST_PERM, code, NULL, why, n, attempt);
        return 0;
}

#define LB "【"
#define RB "】"

/* 1 when title is already one 【...】 bracket (as staff often write it). */
static int bracketed(const char *t, size_t tl)
{
        return tl > strlen(LB) + strlen(RB) && !strncmp(t, LB, strlen(LB)) &&
               !strcmp(t + tl - strlen(RB), RB);
}

/* Chat channels have no subject: the title becomes the 【title】 first line
 * (a title already in 【】 is not wrapped again; nothing is added when the
 * text already starts with it). E-mail and webhooks carry the title
 * separately. Caller frees. */
static char *with_title(const disp_channel_t *ch, const disp_job_t *job, char *text)
{
        size_t tl = strlen(job->title), n = tl + strlen(text) + 16;
        int wrap = !bracketed(job->title, tl);
        char *out;

        if (!tl || !ch || !ch->titled)
                return text;
        out = malloc(n);
        if (out) {
                snprintf(out, n, "%s%s%s", wrap ? LB : "", job->title, wrap ? RB : "");
                if (!strncmp(text, out, strlen(out))) {
                        free(out);
                        return text;
                }
                snprintf(out, n, "%s%s%s\n%s", wrap ? LB : "", job->title, wrap ? RB : "", text);
        }
        free(text);
        return out;
}

/* Text as the resident sees it: rendered, titled, normalised, test-marked. */
static char *render(disp_core_t *c, disp_job_t *job, char *err, size_t err_size)
{
        char *tpl, *out = NULL, *norm;

        if (job->text[0] || !job->template_name[0]) {
                out = strdup(job->text);
                out = out ? with_title(c->chan[job->channel], job, out)
                          : NULL; /* templates carry their own */
        } else {
                tpl = disp_template_load(c->conf->templates_dir ? c->conf->templates_dir
                                                                : "templates",
                                         job->template_name, err, err_size);
                if (!tpl)
                        return NULL;
                out = disp_template_render(tpl, strlen(tpl), disp_job_var, job, err, err_size);
                free(tpl);
        }
        if (!out)
                return NULL;
        norm = disp_text_normalise(out, job->test);
        free(out);
        return norm;
}

static int hold(disp_core_t *c, const disp_job_t *job, const void *rec, size_t len, int64_t due,
                int64_t first, unsigned attempt, const char *code, const char *why)
{
        disp_pending_t p = {(char *)job->key, due, first, attempt, (unsigned char *)rec, len};
        char detail[96];
        int was_pending = disp_ledger_is_pending(c->ledger, job->key);

        if (disp_ledger_put_pending(c->ledger, &p) < 0)
                return -1;
        if (!was_pending)
                count_pending(c, job->campaign_id, 1, job->n_rcpt);
        snprintf(detail, sizeof(detail), "%s; due in %lld s", why,
                 (long long)((due - c->clock.now_ms(c->clock.opaque)) / 1000));
        emit(c, job, attempt ? ST_TEMP : ST_QUEUED, code, NULL, detail, job->n_rcpt, attempt);
        return 0;
}

#define PACE_SLEEP_MAX_MS 200

/* Takes the channel's tokens (one per provider request), sleeping for short
 * waits. Returns 0 to send now, or the epoch ms to hold the job until: a
 * long wait (a slow channel must not stall the others) or a shutdown. Held
 * jobs get staggered slots so they do not all wake at once; a job coming
 * back from the queue (queued) uses its slot instead of queueing again. */
static int64_t pace(disp_core_t *c, disp_chan_kind_t ch, size_t requests, int queued)
{
        disp_bucket_t *b = &c->bucket[ch];
        int64_t now, wait, slot;

        for (;;) {
                now = c->clock.now_ms(c->clock.opaque);
                if (c->blocked[ch] > now) /* the provider asked the whole channel to wait */
                        wait = c->blocked[ch] - now;
                else if (!queued && c->reserved[ch] > now) /* held jobs are ahead: queue up */
                        wait = c->reserved[ch] - now;
                else if ((wait = disp_bucket_take(b, (double)requests, now)) == 0)
                        return 0;
                if (wait > PACE_SLEEP_MAX_MS || osh_shutdown_requested())
                        break;
                c->clock.sleep_ms(c->clock.opaque, wait);
        }
        slot = c->reserved[ch] > now + wait ? c->reserved[ch] : now + wait;
        c->reserved[ch] =
            slot + (b->rate_per_ms > 0 ? (int64_t)((double)requests / b->rate_per_ms)
                                       : 0); /* unlimited: all may go when a 429 window ends */
        return slot;
}

/* A dispatch has exactly one final status: SENT once any recipient was sent,
 * with the recipients not sent (provider refusals, ids refused before any
 * request) told in its detail, not in a second final status. */
static void emit_sent(disp_core_t *c, const disp_job_t *job, const disp_send_res_t *res,
                      unsigned attempt)
{
        char detail[512]; /* both reasons, cut by snprintf */

        if (!res->n_perm && !job->n_invalid) {
                emit(c, job, ST_SENT, res->code, res->message_id, res->detail, res->n_ok, attempt);
                return;
        }
        snprintf(detail, sizeof(detail), "%zu not sent%s%s; %zu refused%s%s", res->n_perm,
                 res->n_perm ? ": " : "", res->n_perm ? res->detail : "", job->n_invalid,
                 job->n_invalid ? ": " : "", job->n_invalid ? job->why_invalid : "");
        emit(c, job, ST_SENT, res->code, res->message_id, detail, res->n_ok, attempt);
}

static int settle(disp_core_t *c, const disp_job_t *job, const void *rec, size_t len,
                  osh_delivery_t d, const disp_send_res_t *res, unsigned attempt, int64_t first)
{
        int64_t now = c->clock.now_ms(c->clock.opaque);
        disp_final_meta_t m = {job->campaign_id, (int)job->channel, (int)res->n_ok,
                               (int)(res->n_perm + job->n_invalid)};

        if (d == OSH_DELIVERY_RETRY) {
                int64_t due =
                    now + osh_backoff_ms(attempt, c->conf->retry_base_ms, c->conf->retry_max_ms,
                                         res->retry_after_ms, &c->rnd);
                c->st.retries++;
                if (!strcmp(res->code, "429")) /* rate limits are per channel: back it off */
                        c->blocked[job->channel] =
                            now + (res->retry_after_ms > 0 ? res->retry_after_ms : due - now);
                if (now - first >= c->conf->give_up_ms)
                        return fail_perm(c, job, res->code, "gave up: provider unavailable",
                                         attempt + 1);
                return hold(c, job, rec, len, due, first, attempt + 1, res->code,
                            "provider unavailable or busy");
        }
        if (d == OSH_DELIVERY_FAIL && !res->n_ok)
                return fail_perm(c, job, res->code, res->detail, attempt);
        if (put_final(c, job, "SENT", &m) < 0)
                return -1;
        c->st.sent++;
        emit_sent(c, job, res, attempt);
        return 0;
}

/* Provider requests a dispatch of n recipients and parts will take. */
static size_t requests(const disp_channel_t *ch, size_t n, size_t parts)
{
        size_t per = ch->parts_per_request ? ch->parts_per_request : 1;

        return (n + ch->max_rcpt - 1) / ch->max_rcpt * ((parts + per - 1) / per);
}

#define SEND_LEDGER_ERROR ((osh_delivery_t)-1)

/* One request per recipient, each outcome in the ledger at once, so a retry
 * of the dispatch (after a 4xx, a crash) skips the recipients already
 * settled. Counts every recipient of the dispatch into res. Returns RETRY
 * at the first recipient that must wait, SEND_LEDGER_ERROR when the ledger
 * cannot be written. */
static osh_delivery_t send_each(disp_core_t *c, const disp_channel_t *ch,
                                const disp_chan_conf_t *cc, const disp_job_t *job,
                                const disp_send_req_t *req, const disp_parts_t *parts,
                                disp_send_res_t *res)
{
        for (size_t i = 0; i < job->n_rcpt; i++) {
                disp_send_req_t one = *req;
                disp_send_res_t r = {0};
                char done = disp_ledger_rcpt(c->ledger, job->key, i);
                osh_delivery_t d;

                if (!done) {
                        one.rcpt = &job->rcpt[i];
                        one.n_rcpt = 1;
                        one.rcpt_index = i;
                        d = ch->send(c->http, cc, &one, parts, &r);
                        snprintf(res->code, sizeof(res->code), "%s", r.code);
                        if (r.detail[0] || d != OSH_DELIVERY_OK)
                                snprintf(res->detail, sizeof(res->detail), "%s", r.detail);
                        if (!res->message_id[0])
                                snprintf(res->message_id, sizeof(res->message_id), "%s",
                                         r.message_id);
                        res->retry_after_ms = r.retry_after_ms;
                        if (d == OSH_DELIVERY_RETRY)
                                return d;
                        done = d == OSH_DELIVERY_OK ? 'S' : 'P';
                        if (disp_ledger_put_rcpt(c->ledger, job->key, i, done) < 0)
                                return SEND_LEDGER_ERROR;
                }
                if (done == 'S')
                        res->n_ok++;
                else
                        res->n_perm++;
        }
        return res->n_ok ? OSH_DELIVERY_OK : OSH_DELIVERY_FAIL;
}

/* Repeated ids are sent once; ids the channel's validator refuses are
 * never put into a request (FAILED_PERM with the validator's reason). */
static void screen(disp_core_t *c, disp_job_t *job)
{
        const disp_channel_t *ch = c->chan[job->channel];

        disp_job_screen(job, ch ? ch->check_account : NULL);
}

/* Sends job now unless it must wait; settles the outcome in the ledger. */
static int attempt(disp_core_t *c, disp_job_t *job, const void *rec, size_t len, unsigned n,
                   int64_t first, int queued)
{
        int64_t now = c->clock.now_ms(c->clock.opaque), quiet, due;
        const disp_channel_t *ch = c->chan[job->channel];
        const disp_chan_conf_t *cc = &c->conf->chan[job->channel];
        disp_send_req_t req = {.key = job->key,
                               .campaign_id = job->campaign_id,
                               .title = job->title,
                               .rcpt = job->rcpt,
                               .n_rcpt = job->n_rcpt,
                               .test = job->test,
                               .critical = job->critical};
        disp_send_res_t res = {0};
        disp_parts_t parts = {0};
        char err[256] = "";
        char *text;
        osh_delivery_t d;
        int rc;

        if (job->not_before_ms > now)
                return hold(c, job, rec, len, job->not_before_ms, first, n, "", "scheduled");
        quiet = osh_quiet_until(&c->conf->quiet, now);
        if (quiet && !job->critical) {
                c->st.held++;
                return hold(c, job, rec, len, quiet, first, n, "", "quiet hours");
        }
        if (!ch || !cc->url || !*cc->url)
                return fail_perm(c, job, "", "channel not configured", n);
        if (!job->n_rcpt)
                return fail_perm(c, job, "", job->n_invalid ? job->why_invalid : "no recipients",
                                 n);
        text = render(c, job, err, sizeof(err));
        if (!text || disp_channel_format(ch, cc, text, &parts, err, sizeof(err)) < 0) {
                free(text);
                disp_parts_free(&parts);
                return fail_perm(c, job, "", err[0] ? err : "out of memory", n);
        }
        free(text);
        due = pace(c, job->channel, requests(ch, job->n_rcpt, parts.n), queued);
        if (due) {
                disp_parts_free(&parts);
                return hold(c, job, rec, len, due, first, n, "", "rate limit");
        }
        d = ch->max_rcpt == 1 ? send_each(c, ch, cc, job, &req, &parts, &res)
                              : ch->send(c->http, cc, &req, &parts, &res);
        disp_parts_free(&parts);
        if ((int)d < 0)
                return -1;
        rc = settle(c, job, rec, len, d, &res, n, first);
        return rc;
}

int disp_core_handle(disp_core_t *c, const void *rec, size_t len, const char *key)
{
        disp_job_t job;
        char err[256];
        int rc = 0;

        c->st.in++;
        if (disp_job_decode(rec, len, &job, err, sizeof(err)) < 0) {
                disp_job_free(&job);
                snprintf(job.key, sizeof(job.key), "%s", key && *key ? key : "unknown");
                job.campaign_id = (char *)"";
                osh_warn("undecodable dispatch record: %s", err);
                emit(c, &job, ST_PERM, "", NULL, err, 0, 0);
                return 0;
        }
        screen(c, &job);
        if (disp_ledger_final(c->ledger, job.key) || disp_ledger_is_pending(c->ledger, job.key)) {
                c->st.duplicates++; /* a replay: already settled or already queued */
        } else {
                rc = attempt(c, &job, rec, len, 0, c->clock.now_ms(c->clock.opaque), 0);
        }
        disp_job_free(&job);
        return rc;
}

int64_t disp_core_tick(disp_core_t *c, int max)
{
        for (int i = 0; i < max && !osh_shutdown_requested(); i++) {
                const disp_pending_t *p = disp_ledger_next(c->ledger);
                int64_t now = c->clock.now_ms(c->clock.opaque), first;
                unsigned char *rec;
                size_t len;
                unsigned n;
                disp_job_t job;
                char err[256];
                int rc;

                if (!p)
                        return -1;
                if (p->due_ms > now)
                        return p->due_ms - now;
                rec = malloc(p->rec_len ? p->rec_len : 1);
                if (!rec)
                        return -2;
                memcpy(rec, p->rec, p->rec_len);
                len = p->rec_len;
                n = p->attempt;
                first = p->first_ms;
                if (disp_job_decode(rec, len, &job, err, sizeof(err)) < 0) {
                        snprintf(job.key, sizeof(job.key), "%s", p->key);
                        rc = disp_ledger_put_final(c->ledger, job.key, "FAILED_PERM", NULL);
                } else {
                        screen(c, &job);
                        rc = attempt(c, &job, rec, len, n, first, 1);
                }
                disp_job_free(&job);
                free(rec);
                if (rc < 0)
                        return -2;
        }
        return 0;
}

void disp_core_report(disp_core_t *c, int all, disp_report_fn *fn, void *opaque)
{
        for (size_t i = 0; i < c->ncamp; i++) {
                campaign_t *cp = &c->camp[i];
                int64_t expected = disp_ledger_expected(c->ledger, cp->id);
                disp_report_t r = {
                    cp->id,      cp->counts,
                    expected,    cp->settled,
                    cp->pending, expected >= 0 && cp->settled >= expected && !cp->pending};
                if (!all && !cp->dirty)
                        continue;
                cp->dirty = 0;
                fn(opaque, &r);
        }
}

int disp_core_expect(disp_core_t *c, const char *campaign_id, int64_t dispatches)
{
        campaign_t *cp = campaign(c, campaign_id);

        if (disp_ledger_put_expected(c->ledger, campaign_id, dispatches) < 0)
                return -1;
        if (cp)
                cp->dirty = 1;
        return 0;
}

static void rebuild_final(void *opaque, const char *key, const char *status,
                          const disp_final_meta_t *m)
{
        (void)key;
        count_final(opaque, status, m);
}

static void rebuild_pending(void *opaque, const disp_pending_t *p)
{
        disp_core_t *c = opaque;
        disp_job_t job;
        char err[128];

        if (disp_job_decode(p->rec, p->rec_len, &job, err, sizeof(err)) == 0) {
                screen(c, &job);
                count_pending(c, job.campaign_id, 1, job.n_rcpt);
        }
        disp_job_free(&job);
}

/* The delivery report after a restart: everything the ledger settled or
 * holds, counted as if the run had not stopped. */
static void rebuild(disp_core_t *c)
{
        disp_ledger_foreach_final(c->ledger, rebuild_final, c);
        disp_ledger_foreach_pending(c->ledger, rebuild_pending, c);
        for (size_t i = 0; i < c->ncamp; i++)
                c->camp[i].dirty = 1;
}

void disp_core_stats(const disp_core_t *c, disp_core_stats_t *out)
{
        *out = c->st;
}
