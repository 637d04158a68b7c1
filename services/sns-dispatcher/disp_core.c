#include "disp_core.h"

#include <pthread.h>
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
        int throttle[DISP_CH__CNT]; /* a 429 seen in the running batch (atomic) */
        /* The send pool (conf->concurrency - 1 workers besides the owner's
         * thread) and the batch it is running, under pool_mu. */
        struct worker *workers;
        int nworkers, stop;
        pthread_mutex_t pool_mu;
        pthread_cond_t pool_go, pool_done;
        struct task **run;
        size_t nrun, next, finished;
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

static int start_pool(disp_core_t *c);
static void stop_pool(disp_core_t *c);

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
        pthread_mutex_init(&c->pool_mu, NULL);
        pthread_cond_init(&c->pool_go, NULL);
        pthread_cond_init(&c->pool_done, NULL);
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
        if (!c->http || start_pool(c) < 0)
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
        stop_pool(c);
        pthread_mutex_destroy(&c->pool_mu);
        pthread_cond_destroy(&c->pool_go);
        pthread_cond_destroy(&c->pool_done);
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
 * back from the queue (queued) uses its slot instead of queueing again.
 * Without may_sleep a short wait returns -1 (nothing taken): the caller
 * first sends what it prepared, so no request leaves before its token. */
static int64_t pace(disp_core_t *c, disp_chan_kind_t ch, size_t requests, int queued, int may_sleep)
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
                if (!may_sleep)
                        return -1;
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

/* One dispatch of a batch, from its preparation (this thread) through its
 * provider requests (a worker) to its settlement (this thread again). */
typedef struct task {
        disp_job_t job;
        const void *rec;
        size_t len;
        unsigned n;    /* failed attempts before this one */
        int64_t first; /* first attempt or receipt */
        int queued;    /* back from the pending queue (keeps its rate slot) */
        int send;      /* prepared: its requests are to go out */
        disp_parts_t parts;
        char *done; /* max_rcpt == 1: recipients the ledger had settled ('S'/'P') */
        char *out;  /* ... and the outcome of this attempt's request for each */
        disp_send_res_t res;
        osh_delivery_t d;
        int throttled; /* stopped: a 429 of its channel earlier in the batch */
} task_t;

/* Repeated ids are sent once; ids the channel's validator refuses are
 * never put into a request (FAILED_PERM with the validator's reason). */
static void screen(disp_core_t *c, disp_job_t *job)
{
        const disp_channel_t *ch = c->chan[job->channel];

        disp_job_screen(job, ch ? ch->check_account : NULL);
}

/* Everything before the request, on the owner's thread: the job is held
 * (schedule, quiet hours, rate slot), refused, or made ready to send
 * (t->send). 0 / -1 (ledger), or 1 without may_sleep when its token is a
 * short wait away (nothing done: send the prepared ones, then again). */
static int prepare(disp_core_t *c, task_t *t, int may_sleep)
{
        disp_job_t *job = &t->job;
        int64_t now = c->clock.now_ms(c->clock.opaque), quiet, due;
        const disp_channel_t *ch = c->chan[job->channel];
        const disp_chan_conf_t *cc = &c->conf->chan[job->channel];
        char err[256] = "";
        char *text;

        if (job->not_before_ms > now)
                return hold(c, job, t->rec, t->len, job->not_before_ms, t->first, t->n, "",
                            "scheduled");
        quiet = osh_quiet_until(&c->conf->quiet, now);
        if (quiet && !job->critical) {
                c->st.held++;
                return hold(c, job, t->rec, t->len, quiet, t->first, t->n, "", "quiet hours");
        }
        if (!ch || !cc->url || !*cc->url)
                return fail_perm(c, job, "", "channel not configured", t->n);
        if (!job->n_rcpt)
                return fail_perm(c, job, "", job->n_invalid ? job->why_invalid : "no recipients",
                                 t->n);
        text = render(c, job, err, sizeof(err));
        if (!text || disp_channel_format(ch, cc, text, &t->parts, err, sizeof(err)) < 0) {
                free(text);
                return fail_perm(c, job, "", err[0] ? err : "out of memory", t->n);
        }
        free(text);
        due = pace(c, job->channel, requests(ch, job->n_rcpt, t->parts.n), t->queued, may_sleep);
        if (due < 0) {
                disp_parts_free(&t->parts);
                memset(&t->parts, 0, sizeof(t->parts));
                return 1;
        }
        if (due)
                return hold(c, job, t->rec, t->len, due, t->first, t->n, "", "rate limit");
        if (ch->max_rcpt == 1) {
                t->done = calloc(job->n_rcpt, 1);
                t->out = calloc(job->n_rcpt, 1);
                if (!t->done || !t->out)
                        return -1;
                for (size_t i = 0; i < job->n_rcpt; i++)
                        t->done[i] = disp_ledger_rcpt(c->ledger, job->key, i);
        }
        t->send = 1;
        return 0;
}

/* A 429 of channel ch was seen in this batch (set and read by workers). */
static int throttled(disp_core_t *c, disp_chan_kind_t ch)
{
        return __atomic_load_n(&c->throttle[ch], __ATOMIC_ACQUIRE);
}

static osh_delivery_t request(disp_core_t *c, osh_http_client_t *http, task_t *t,
                              const disp_send_req_t *req, disp_send_res_t *res)
{
        const disp_channel_t *ch = c->chan[t->job.channel];
        osh_delivery_t d = ch->send(http, &c->conf->chan[t->job.channel], req, &t->parts, res);

        if (d == OSH_DELIVERY_RETRY && !strcmp(res->code, "429"))
                __atomic_store_n(&c->throttle[t->job.channel], 1, __ATOMIC_RELEASE);
        return d;
}

/* The provider requests of a prepared task, on a worker's connection;
 * touches nothing but the task (and the throttle flags). Channels with
 * max_rcpt == 1 get one request per recipient not settled before, each
 * outcome noted for the ledger; the first that must wait stops it. */
static void send_task(disp_core_t *c, osh_http_client_t *http, task_t *t)
{
        const disp_job_t *job = &t->job;
        disp_send_req_t req = {.key = job->key,
                               .campaign_id = job->campaign_id,
                               .title = job->title,
                               .rcpt = job->rcpt,
                               .n_rcpt = job->n_rcpt,
                               .test = job->test,
                               .critical = job->critical};

        if (throttled(c, job->channel)) {
                t->throttled = 1;
                return;
        }
        if (c->chan[job->channel]->max_rcpt != 1) {
                t->d = request(c, http, t, &req, &t->res);
                return;
        }
        t->d = OSH_DELIVERY_OK;
        for (size_t i = 0; i < job->n_rcpt; i++) {
                disp_send_req_t one = req;
                disp_send_res_t r = {0};
                osh_delivery_t d;
                if (t->done[i])
                        continue;
                if (throttled(c, job->channel)) {
                        t->throttled = 1;
                        return;
                }
                one.rcpt = &job->rcpt[i];
                one.n_rcpt = 1;
                one.rcpt_index = i;
                d = request(c, http, t, &one, &r);
                snprintf(t->res.code, sizeof(t->res.code), "%s", r.code);
                if (r.detail[0] || d != OSH_DELIVERY_OK)
                        snprintf(t->res.detail, sizeof(t->res.detail), "%s", r.detail);
                if (!t->res.message_id[0])
                        snprintf(t->res.message_id, sizeof(t->res.message_id), "%s", r.message_id);
                t->res.retry_after_ms = r.retry_after_ms;
                if (d == OSH_DELIVERY_RETRY) {
                        t->d = d;
                        return;
                }
                t->out[i] = d == OSH_DELIVERY_OK ? 'S' : 'P';
        }
}

/* Per-recipient outcomes of a task counted into res (the dispatch is OK
 * once any recipient was sent) and, when the dispatch stays open (a retry
 * or a 429 stopped it), written to the ledger so its retry skips them; a
 * dispatch that settles now gets its final entry right away instead.
 * 0 / -1 (ledger). */
static int settle_each(disp_core_t *c, task_t *t)
{
        int open = t->d == OSH_DELIVERY_RETRY || t->throttled;

        for (size_t i = 0; i < t->job.n_rcpt; i++) {
                char o = t->out[i] ? t->out[i] : t->done[i];
                if (open && t->out[i] &&
                    disp_ledger_put_rcpt(c->ledger, t->job.key, i, t->out[i]) < 0)
                        return -1;
                t->res.n_ok += o == 'S';
                t->res.n_perm += o == 'P';
        }
        if (t->d != OSH_DELIVERY_RETRY && !t->throttled)
                t->d = t->res.n_ok ? OSH_DELIVERY_OK : OSH_DELIVERY_FAIL;
        return 0;
}

/* The outcome of a sent task into the ledger and the statuses. A task the
 * batch's 429 stopped waits, as a new job would in pace(), until the
 * provider's window ends; it is not counted as a failed attempt. */
static int finish(disp_core_t *c, task_t *t)
{
        int64_t now = c->clock.now_ms(c->clock.opaque), due;

        if (t->done && settle_each(c, t) < 0)
                return -1;
        if (!t->throttled)
                return settle(c, &t->job, t->rec, t->len, t->d, &t->res, t->n, t->first);
        due = c->blocked[t->job.channel] > now ? c->blocked[t->job.channel]
                                               : now + c->conf->retry_base_ms;
        return hold(c, &t->job, t->rec, t->len, due, t->first, t->n, "429",
                    "the provider rate-limited the channel");
}

static void task_free(task_t *t)
{
        disp_job_free(&t->job);
        disp_parts_free(&t->parts);
        free(t->done);
        free(t->out);
}

/* A worker thread of the pool: its own libcurl handle, so its own kept-
 * alive connection to every provider. */
typedef struct worker {
        disp_core_t *c;
        osh_http_client_t *http;
        pthread_t th;
} worker_t;

/* Takes the next task of the running batch (under pool_mu), NULL when all
 * are taken. */
static task_t *take(disp_core_t *c)
{
        return c->next < c->nrun ? c->run[c->next++] : NULL;
}

static void *worker_main(void *opaque)
{
        worker_t *w = opaque;
        disp_core_t *c = w->c;
        task_t *t;

        pthread_mutex_lock(&c->pool_mu);
        for (;;) {
                while (!c->stop && c->next >= c->nrun)
                        pthread_cond_wait(&c->pool_go, &c->pool_mu);
                if (c->stop)
                        break;
                t = take(c);
                pthread_mutex_unlock(&c->pool_mu);
                send_task(c, w->http, t);
                pthread_mutex_lock(&c->pool_mu);
                if (++c->finished == c->nrun)
                        pthread_cond_signal(&c->pool_done);
        }
        pthread_mutex_unlock(&c->pool_mu);
        return NULL;
}

/* Sends the n prepared tasks, up to conf->concurrency at a time (this
 * thread takes part), and returns when all are done. */
static void send_all(disp_core_t *c, task_t **run, size_t n)
{
        task_t *t;

        if (!c->nworkers) {
                for (size_t i = 0; i < n; i++)
                        send_task(c, c->http, run[i]);
                return;
        }
        pthread_mutex_lock(&c->pool_mu);
        c->run = run;
        c->nrun = n;
        c->next = c->finished = 0;
        pthread_cond_broadcast(&c->pool_go);
        while ((t = take(c))) {
                pthread_mutex_unlock(&c->pool_mu);
                send_task(c, c->http, t);
                pthread_mutex_lock(&c->pool_mu);
                c->finished++;
        }
        while (c->finished < c->nrun)
                pthread_cond_wait(&c->pool_done, &c->pool_mu);
        c->run = NULL;
        c->nrun = c->next = c->finished = 0;
        pthread_mutex_unlock(&c->pool_mu);
}

/* conf->concurrency - 1 workers, each with its own connection. 0 / -1. */
static int start_pool(disp_core_t *c)
{
        int n = c->conf->concurrency > 1 ? c->conf->concurrency - 1 : 0;

        c->workers = n ? calloc((size_t)n, sizeof(*c->workers)) : NULL;
        if (n && !c->workers)
                return -1;
        for (int i = 0; i < n; i++) {
                worker_t *w = &c->workers[i];
                w->c = c;
                w->http = osh_http_client_new(NULL);
                if (!w->http || pthread_create(&w->th, NULL, worker_main, w) != 0) {
                        osh_http_client_destroy(w->http);
                        return -1;
                }
                c->nworkers++;
        }
        return 0;
}

static void stop_pool(disp_core_t *c)
{
        pthread_mutex_lock(&c->pool_mu);
        c->stop = 1;
        pthread_cond_broadcast(&c->pool_go);
        pthread_mutex_unlock(&c->pool_mu);
        for (int i = 0; i < c->nworkers; i++) {
                pthread_join(c->workers[i].th, NULL);
                osh_http_client_destroy(c->workers[i].http);
        }
        free(c->workers);
        c->workers = NULL;
        c->nworkers = 0;
}

/* 1 when an earlier record of the batch has key (it will settle or hold it). */
static int in_batch(task_t *tasks, size_t n, const char *key)
{
        for (size_t i = 0; i < n; i++)
                if (!strcmp(tasks[i].job.key, key))
                        return 1;
        return 0;
}

/* Sends the prepared run[0..n) and settles them, those a 429 stopped
 * after the others, so the channel's block is known. Before requests of a
 * channel without idempotency keys, every entry written so far is made
 * durable: a crash re-sends at most this run to those. 0 / -1. */
static int flush(disp_core_t *c, task_t **run, size_t n)
{
        int rc = 0;

        memset(c->throttle, 0, sizeof(c->throttle));
        for (size_t i = 0; i < n; i++)
                if (!c->chan[run[i]->job.channel]->idempotent) {
                        if (disp_ledger_sync(c->ledger) < 0)
                                return -1;
                        break;
                }
        send_all(c, run, n);
        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < n && rc == 0; i++)
                        if (run[i]->throttled == pass)
                                rc = finish(c, run[i]);
        return rc;
}

/* Prepares, sends and settles the decoded tasks[0..n): the prepared ones
 * go out together, and before any wait for a rate token (a request never
 * leaves before its token). 0 / -1. */
static int run_tasks(disp_core_t *c, task_t *tasks, size_t n)
{
        task_t **run = calloc(n ? n : 1, sizeof(*run));
        size_t nrun = 0, from = 0;
        int rc = run ? 0 : -1;

        for (size_t i = 0; i < n && rc == 0; i++) {
                rc = prepare(c, &tasks[i], nrun == from);
                if (rc == 1) {
                        rc = flush(c, run + from, nrun - from);
                        from = nrun;
                        if (rc == 0)
                                rc = prepare(c, &tasks[i], 1);
                }
                if (rc == 0 && tasks[i].send)
                        run[nrun++] = &tasks[i];
        }
        if (rc == 0)
                rc = flush(c, run + from, nrun - from);
        free(run);
        return rc;
}

int disp_core_handle_batch(disp_core_t *c, const disp_record_t *recs, size_t n)
{
        task_t *tasks = calloc(n ? n : 1, sizeof(*tasks));
        size_t nt = 0;
        char err[256];
        int rc;

        if (!tasks)
                return -1;
        for (size_t i = 0; i < n; i++) {
                task_t *t = &tasks[nt];
                c->st.in++;
                if (disp_job_decode(recs[i].rec, recs[i].len, &t->job, err, sizeof(err)) < 0) {
                        disp_job_free(&t->job);
                        snprintf(t->job.key, sizeof(t->job.key), "%s",
                                 recs[i].key && *recs[i].key ? recs[i].key : "unknown");
                        t->job.campaign_id = (char *)"";
                        osh_warn("undecodable dispatch record: %s", err);
                        emit(c, &t->job, ST_PERM, "", NULL, err, 0, 0);
                        memset(t, 0, sizeof(*t));
                        continue;
                }
                screen(c, &t->job);
                if (disp_ledger_final(c->ledger, t->job.key) ||
                    disp_ledger_is_pending(c->ledger, t->job.key) ||
                    in_batch(tasks, nt, t->job.key)) {
                        c->st.duplicates++; /* a replay: settled, queued, or earlier in the batch */
                        disp_job_free(&t->job);
                        memset(t, 0, sizeof(*t));
                        continue;
                }
                t->rec = recs[i].rec;
                t->len = recs[i].len;
                t->first = c->clock.now_ms(c->clock.opaque);
                nt++;
        }
        rc = run_tasks(c, tasks, nt);
        for (size_t i = 0; i < nt; i++)
                task_free(&tasks[i]);
        free(tasks);
        return rc;
}

int disp_core_handle(disp_core_t *c, const void *rec, size_t len, const char *key)
{
        disp_record_t r = {rec, len, key};

        return disp_core_handle_batch(c, &r, 1);
}

int64_t disp_core_tick(disp_core_t *c, int max)
{
        for (int i = 0; i < max && !osh_shutdown_requested(); i++) {
                const disp_pending_t *p = disp_ledger_next(c->ledger);
                int64_t now = c->clock.now_ms(c->clock.opaque);
                task_t t = {0};
                unsigned char *rec;
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
                t.rec = rec;
                t.len = p->rec_len;
                t.n = p->attempt;
                t.first = p->first_ms;
                t.queued = 1;
                if (disp_job_decode(rec, t.len, &t.job, err, sizeof(err)) < 0) {
                        snprintf(t.job.key, sizeof(t.job.key), "%s", p->key);
                        rc = disp_ledger_put_final(c->ledger, t.job.key, "FAILED_PERM", NULL);
                } else {
                        screen(c, &t.job);
                        rc = run_tasks(c, &t, 1);
                }
                task_free(&t);
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
