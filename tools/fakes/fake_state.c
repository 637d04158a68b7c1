#include "fake_state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include "oshirase/clock.h"
#include "oshirase/strutil.h"

typedef struct idem {
        char *key;
        char id[40];
} idem_t;

struct fake_state {
        fake_conf_t conf;
        pthread_mutex_t mu;
        FILE *log;
        int64_t start_ms;
        uint64_t seq;
        unsigned rnd;
        idem_t *keys; /* open addressing, capkeys a power of two (a benchmark sends
                         hundreds of thousands of keys to one fake) */
        size_t nkeys, capkeys;
        FILE *requests;
        long line_seq;
        int64_t win_ms[FAKE_API__CNT]; /* fixed one-second windows */
        double win_n[FAKE_API__CNT];
};

fake_state_t *fake_state_new(const fake_conf_t *conf, const char *log_path)
{
        fake_state_t *st = calloc(1, sizeof(*st));

        if (!st)
                return NULL;
        st->conf = *conf;
        pthread_mutex_init(&st->mu, NULL);
        st->log = fopen(log_path, "a");
        if (!st->log) {
                free(st);
                return NULL;
        }
        if (conf->requests_log && !(st->requests = fopen(conf->requests_log, "a"))) {
                fclose(st->log);
                free(st);
                return NULL;
        }
        st->start_ms = osh_mono_ms();
        st->rnd = (unsigned)st->start_ms;
        return st;
}

void fake_state_destroy(fake_state_t *st)
{
        if (!st)
                return;
        fclose(st->log);
        if (st->requests)
                fclose(st->requests);
        for (size_t i = 0; i < st->capkeys; i++)
                free(st->keys[i].key);
        free(st->keys);
        pthread_mutex_destroy(&st->mu);
        free(st);
}

const fake_conf_t *fake_conf(const fake_state_t *st)
{
        return &st->conf;
}

static int line_like(fake_api_t api)
{
        return api == FAKE_API_PUSH || api == FAKE_API_MULTICAST;
}

static void reply_json(osh_http_reply_t *rep, int status, json_t *j)
{
        char *s = json_dumps(j, JSON_COMPACT);

        json_decref(j);
        osh_http_reply_take(rep, status, "application/json", (uint8_t *)s, s ? strlen(s) : 0);
}

int fake_gate(fake_state_t *st, fake_api_t api, osh_http_reply_t *rep)
{
        int64_t t = osh_mono_ms(), since;
        int verdict = 0;
        double r;

        pthread_mutex_lock(&st->mu);
        since = t - st->start_ms;
        r = (double)rand_r(&st->rnd) / RAND_MAX;
        if (line_like(api) && ++st->line_seq == st->conf.throttle_nth) {
                verdict = -429; /* with the configured Retry-After */
        } else if (since >= st->conf.outage_from_ms && since < st->conf.outage_to_ms) {
                verdict = 503;
        } else if (since >= st->conf.storm_from_ms && since < st->conf.storm_to_ms) {
                verdict = 429;
        } else if (r < st->conf.error_rate) {
                verdict = 500;
        } else if (st->conf.rate[api] > 0) {
                if (t - st->win_ms[api] >= 1000) {
                        st->win_ms[api] = t;
                        st->win_n[api] = 0;
                }
                if (++st->win_n[api] > st->conf.rate[api])
                        verdict = 429;
        }
        if (st->requests) {
                static const char *const names[] = {"push", "multicast", "twitter", "facebook",
                                                    "webhook"};
                fprintf(st->requests, "{\"ms\":%lld,\"api\":\"%s\",\"status\":%d}\n",
                        (long long)since, names[api], verdict < 0 ? -verdict : verdict);
                fflush(st->requests);
        }
        pthread_mutex_unlock(&st->mu);
        if (!verdict)
                return 0;
        if (verdict < 0) {
                char ra[24];
                snprintf(ra, sizeof(ra), "%ld", st->conf.throttle_after_s);
                osh_http_reply_header(rep, "Retry-After", ra);
                verdict = -verdict;
        } else if (verdict == 429) {
                osh_http_reply_header(rep, "Retry-After", "1");
        }
        if (line_like(api))
                reply_json(rep, verdict,
                           json_pack("{s:s}", "message",
                                     verdict == 429
                                         ? "The API rate limit has been exceeded. Try again later."
                                         : "An error occurred in the backend"));
        else
                osh_http_reply_error(rep, verdict,
                                     verdict == 429 ? "Too Many Requests" : "Service Unavailable");
        return 1;
}

int fake_ack_lost(fake_state_t *st)
{
        double r;

        pthread_mutex_lock(&st->mu);
        r = (double)rand_r(&st->rnd) / RAND_MAX;
        pthread_mutex_unlock(&st->mu);
        return r < st->conf.ack_loss;
}

int fake_invalid(fake_state_t *st, const char *acc)
{
        const char *p = st->conf.invalid;
        size_t n = strlen(acc);

        while (p && *p) {
                const char *e = strchr(p, ',');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                if (len == n && !strncmp(p, acc, n))
                        return 1;
                p = e ? e + 1 : NULL;
        }
        return 0;
}

/* The slot of key in keys (cap a power of two): its entry or the empty
 * slot where it belongs. */
static idem_t *idem_slot(idem_t *keys, size_t cap, const char *key)
{
        size_t i = (size_t)osh_str_hash(key) & (cap - 1);

        while (keys[i].key && strcmp(keys[i].key, key))
                i = (i + 1) & (cap - 1);
        return &keys[i];
}

/* Doubles the table (under st->mu). 0 / -1. */
static int idem_grow(fake_state_t *st)
{
        size_t cap = st->capkeys ? st->capkeys * 2 : 1024;
        idem_t *nk = calloc(cap, sizeof(*nk));

        if (!nk)
                return -1;
        for (size_t i = 0; i < st->capkeys; i++)
                if (st->keys[i].key)
                        *idem_slot(nk, cap, st->keys[i].key) = st->keys[i];
        free(st->keys);
        st->keys = nk;
        st->capkeys = cap;
        return 0;
}

int fake_idem(fake_state_t *st, const char *key, const char *new_id, char *out, size_t out_size)
{
        idem_t *e = NULL;
        int found = 0;

        out[0] = '\0';
        if (!key || !*key)
                return 0;
        pthread_mutex_lock(&st->mu);
        if ((st->nkeys + 1) * 2 <= st->capkeys || idem_grow(st) == 0)
                e = idem_slot(st->keys, st->capkeys, key);
        if (e && e->key) {
                snprintf(out, out_size, "%s", e->id);
                found = 1;
        } else if (e && (e->key = strdup(key))) {
                snprintf(e->id, sizeof(e->id), "%s", new_id);
                st->nkeys++;
        }
        pthread_mutex_unlock(&st->mu);
        return found;
}

void fake_log(fake_state_t *st, void *obj)
{
        json_t *j = obj;
        char *s;

        json_object_set_new(j, "ts", json_integer(osh_mono_ms() - st->start_ms));
        s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(j);
        if (!s)
                return;
        pthread_mutex_lock(&st->mu);
        fprintf(st->log, "%s\n", s);
        fflush(st->log);
        pthread_mutex_unlock(&st->mu);
        free(s);
}

void fake_request_id(fake_state_t *st, char out[40])
{
        pthread_mutex_lock(&st->mu);
        snprintf(out, 40, "req-%08llx-%06llu", (unsigned long long)st->start_ms,
                 (unsigned long long)++st->seq);
        pthread_mutex_unlock(&st->mu);
}

size_t fake_chars(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += ((unsigned char)*s & 0xC0) != 0x80;
        return n;
}

size_t fake_utf16_units(const char *s)
{
        size_t n = 0;

        for (; *s; s++) /* a 4-byte sequence (outside the BMP) is a surrogate pair */
                n += (((unsigned char)*s & 0xC0) != 0x80) + (((unsigned char)*s & 0xF8) == 0xF0);
        return n;
}
