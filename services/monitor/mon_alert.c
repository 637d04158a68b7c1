#include "mon_alert.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/clock.h"
#include "oshirase/http_client.h"
#include "oshirase/log.h"
#include "oshirase/retry.h"
#include "oshirase/sha256.h"

typedef struct item {
        struct item *next;
        int64_t ts_ms;
        char *body;
} item_t;

struct mon_alerter {
        char *url;
        void *secret;
        size_t secret_len;
        int64_t timeout_ms, base_ms, max_ms;
        unsigned max_attempts, rnd;
        osh_http_client_t *http;
        pthread_t thread;
        int started, stop;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        item_t *head, *tail;
        size_t queued;
        uint64_t sent, failed;
};

char *mon_alert_body(const char *monitor, const mon_transition_t *t, int64_t now_ms)
{
        json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s}", "monitor", monitor, "ts_ms",
                              (json_int_t)now_ms, "kind", t->kind, "subject", t->subject, "from",
                              t->from, "to", t->to);
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

        json_decref(o);
        return s;
}

int mon_alert_sign(const void *secret, size_t secret_len, int64_t ts_s, const char *body,
                   char out[65])
{
        uint8_t mac[OSH_SHA256_LEN];
        char *msg;
        int n, rc;

        msg = malloc(strlen(body) + 32);
        if (!msg)
                return -1;
        n = sprintf(msg, "%lld.%s", (long long)ts_s, body);
        rc = osh_hmac_sha256(secret, secret_len, msg, (size_t)n, mac);
        free(msg);
        if (rc == 0)
                osh_hex_encode(mac, sizeof(mac), out);
        return rc;
}

/* One POST; OK / RETRY / FAIL and the server's Retry-After. */
static osh_delivery_t post_once(mon_alerter_t *a, const item_t *it, int64_t *retry_after)
{
        char ts[64], sig[128], hex[65];
        const char *headers[] = {"Content-Type: application/json", ts, sig, NULL};
        osh_http_response_t resp;
        osh_delivery_t d;

        memset(&resp, 0, sizeof(resp));
        snprintf(ts, sizeof(ts), "X-Osh-Timestamp: %lld", (long long)(it->ts_ms / 1000));
        if (a->secret &&
            mon_alert_sign(a->secret, a->secret_len, it->ts_ms / 1000, it->body, hex) == 0)
                snprintf(sig, sizeof(sig), "X-Osh-Signature: sha256=%s", hex);
        else
                headers[2] = NULL;
        osh_http_request(a->http, "POST", a->url, headers, it->body, strlen(it->body),
                         (long)a->timeout_ms, 4096, &resp);
        d = osh_delivery_from_http(resp.status);
        *retry_after = resp.retry_after_ms;
        if (d != OSH_DELIVERY_OK && resp.status)
                osh_warn("alert webhook: HTTP %ld", resp.status);
        else if (d != OSH_DELIVERY_OK)
                osh_warn("alert webhook: %s", resp.errstr);
        osh_http_response_free(&resp);
        return d;
}

/* Sleeps ms unless stopped; called with the lock held. 1 if stopped. */
static int pause_ms(mon_alerter_t *a, int64_t ms)
{
        struct timespec ts = osh_wall_deadline(ms);

        while (!a->stop && pthread_cond_timedwait(&a->cond, &a->lock, &ts) == 0)
                ;
        return a->stop;
}

static void deliver(mon_alerter_t *a, item_t *it)
{
        int64_t retry_after = 0;
        osh_delivery_t d = OSH_DELIVERY_RETRY;
        unsigned attempt;

        for (attempt = 0; attempt < a->max_attempts; attempt++) {
                pthread_mutex_unlock(&a->lock);
                d = post_once(a, it, &retry_after);
                pthread_mutex_lock(&a->lock);
                if (d != OSH_DELIVERY_RETRY || attempt + 1 == a->max_attempts ||
                    pause_ms(a,
                             osh_backoff_ms(attempt, a->base_ms, a->max_ms, retry_after, &a->rnd)))
                        break;
        }
        if (d == OSH_DELIVERY_OK)
                a->sent++;
        else
                a->failed++;
}

static void *run(void *opaque)
{
        mon_alerter_t *a = opaque;
        item_t *it;

        pthread_mutex_lock(&a->lock);
        while (!a->stop) {
                if (!a->head) {
                        pthread_cond_wait(&a->cond, &a->lock);
                        continue;
                }
                it = a->head;
                a->head = it->next;
                if (!a->head)
                        a->tail = NULL;
                a->queued--;
                deliver(a, it);
                free(it->body);
                free(it);
        }
        pthread_mutex_unlock(&a->lock);
        return NULL;
}

mon_alerter_t *mon_alerter_new(const mon_alert_opts_t *o, char *errstr, size_t errstr_size)
{
        mon_alerter_t *a = calloc(1, sizeof(*a));

        if (!a)
                goto fail;
        pthread_mutex_init(&a->lock, NULL);
        pthread_cond_init(&a->cond, NULL);
        a->url = strdup(o->url);
        a->http = osh_http_client_new(NULL);
        a->secret = o->secret_len ? malloc(o->secret_len) : NULL;
        if (!a->url || !a->http || (o->secret_len && !a->secret))
                goto fail;
        if (o->secret_len)
                memcpy(a->secret, o->secret, o->secret_len);
        a->secret_len = o->secret_len;
        a->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
        a->max_attempts = o->max_attempts ? o->max_attempts : 5;
        a->base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms : 500;
        a->max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms : 30000;
        a->rnd = (unsigned)time(NULL);
        if (pthread_create(&a->thread, NULL, run, a))
                goto fail;
        a->started = 1;
        return a;
fail:
        snprintf(errstr, errstr_size, "alert webhook: out of memory or no thread");
        mon_alerter_destroy(a);
        return NULL;
}

void mon_alerter_post(mon_alerter_t *a, const char *monitor, const mon_transition_t *t,
                      int64_t now_ms)
{
        item_t *it = calloc(1, sizeof(*it)), *old = NULL;

        if (!it || !(it->body = mon_alert_body(monitor, t, now_ms))) {
                free(it);
                return;
        }
        it->ts_ms = now_ms;
        pthread_mutex_lock(&a->lock);
        if (a->queued == MON_ALERT_QUEUE_MAX) {
                old = a->head;
                a->head = old->next;
                a->queued--;
                a->failed++;
        }
        if (a->tail)
                a->tail->next = it;
        else
                a->head = it;
        a->tail = it;
        a->queued++;
        pthread_cond_broadcast(&a->cond);
        pthread_mutex_unlock(&a->lock);
        if (old) {
                osh_warn("alert queue full: dropped the oldest alert");
                free(old->body);
                free(old);
        }
}

void mon_alerter_stats(mon_alerter_t *a, uint64_t *sent, uint64_t *failed)
{
        pthread_mutex_lock(&a->lock);
        *sent = a->sent;
        *failed = a->failed;
        pthread_mutex_unlock(&a->lock);
}

void mon_alerter_destroy(mon_alerter_t *a)
{
        item_t *it;

        if (!a)
                return;
        if (a->started) {
                pthread_mutex_lock(&a->lock);
                a->stop = 1;
                pthread_cond_broadcast(&a->cond);
                pthread_mutex_unlock(&a->lock);
                pthread_join(a->thread, NULL);
        }
        while ((it = a->head)) {
                a->head = it->next;
                free(it->body);
                free(it);
        }
        osh_http_client_destroy(a->http);
        pthread_mutex_destroy(&a->lock);
        pthread_cond_destroy(&a->cond);
        free(a->url);
        free(a->secret);
        free(a);
}
