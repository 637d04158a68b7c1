#include "con_link.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oshirase/avro_json.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define AUDIT_KEEP   100000 /* newest audit records kept in memory */
#define HISTORY_KEEP 500    /* progress points per campaign */
#define WAITERS_MAX  256

typedef struct waiter {
        char id[CON_MAX_SHORT + 8];
        const char *action;
        json_t *result;
        int used;
} waiter_t;

struct con_link {
        osh_service_t *svc;
        osh_producer_t *prod;
        osh_consumer_t *cons;
        pthread_t thr;
        int started, stop, caught_up;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        waiter_t waiters[WAITERS_MAX];
        json_t *results;  /* id -> result */
        json_t *audit;    /* array, oldest first */
        json_t *snapshot; /* END marker or NULL */
        json_t *quiet;    /* the last heartbeat announcing quiet hours, or NULL */
        char instance[64];
};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- producing ---- */

static int produce_json(con_link_t *l, const char *topic, const char *key, json_t *j)
{
        const osh_schema_t *sch = osh_schema_for_topic(topic);
        char *text = json_dumps(j, JSON_COMPACT), err[256];
        void *buf = NULL;
        size_t len = 0;
        avro_value_t v;
        int rc = -1, have = 0;
        osh_kafka_msg_t m = {topic, RD_KAFKA_PARTITION_UA, key, strlen(key), NULL, 0, NULL, 0};

        if (!sch || !text || osh_value_new(sch, &v)) {
                osh_error("%s: no schema or out of memory", topic);
                goto done;
        }
        have = 1;
        if (osh_avro_from_json(text, strlen(text), sch->json, &v, err, sizeof(err)) ||
            osh_serde_encode_alloc(sch, &v, &buf, &len, err, sizeof(err))) {
                osh_error("%s: cannot encode: %s", topic, err);
                goto done;
        }
        m.value = buf;
        m.value_len = len;
        rc = osh_producer_send(l->prod, &m, NULL);
        if (rc)
                osh_error("%s: cannot queue the record", topic);
        osh_producer_poll(l->prod, 0);
done:
        if (have)
                avro_value_decref(&v);
        free(buf);
        free(text);
        return rc;
}

static json_t *request_json(const char *id, const char *action, const con_campaign_t *c,
                            int min_audience, const char *by)
{
        json_t *ch = json_array(), *tests = json_array(), *tpl = con_template_json(&c->tpl);

        json_object_del(tpl, "confidential"); /* the console's own warning, not in the schema */
        for (int i = 0; i < CON_CH__CNT; i++)
                if (c->channels & (1u << i))
                        json_array_append_new(ch, json_string(con_channel_names[i]));
        for (size_t i = 0; i < c->ntests; i++)
                json_array_append_new(tests, json_string(c->tests[i]));
        return json_pack(
            "{s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:o,s:b,s:o,s:b,s:n,s:i,s:n,s:b,s:s,s:I}", "campaign_id",
            id, "action", action, "condition", c->condition ? c->condition : "true", "category",
            c->category ? c->category : "", "template", tpl, "channels", ch, "channel_policy",
            c->policy_all ? "ALL" : "PREFERRED", "send_at",
            c->send_at_ms ? json_integer(c->send_at_ms) : json_null(), "test", c->test,
            "test_recipients", tests, "critical", c->critical, "max_recipients", "min_audience",
            min_audience, "rate_per_minute", "include_possible", c->include_possible,
            "requested_by", by, "requested_at", (json_int_t)now_ms());
}

static waiter_t *waiter_add(con_link_t *l, const char *id, const char *action)
{
        for (int i = 0; i < WAITERS_MAX; i++)
                if (!l->waiters[i].used) {
                        waiter_t *w = &l->waiters[i];
                        snprintf(w->id, sizeof(w->id), "%s", id);
                        w->action = action;
                        w->result = NULL;
                        w->used = 1;
                        return w;
                }
        return NULL;
}

static json_t *wait_for(con_link_t *l, waiter_t *w, int wait_ms)
{
        struct timespec dl;
        json_t *r;

        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += wait_ms / 1000;
        dl.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
        }
        while (!w->result && !l->stop)
                if (pthread_cond_timedwait(&l->cv, &l->mu, &dl))
                        break;
        r = w->result;
        w->used = 0;
        w->result = NULL;
        return r;
}

json_t *con_link_request(con_link_t *l, const char *id, const char *action, const con_campaign_t *c,
                         int min_audience, const char *by, int wait_ms, char *errstr,
                         size_t errstr_size)
{
        json_t *req = request_json(id, action, c, min_audience, by), *res = NULL;
        waiter_t *w = NULL;

        if (!req) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_lock(&l->mu);
        if (wait_ms > 0 && !(w = waiter_add(l, id, action)))
                snprintf(errstr, errstr_size, "too many requests waiting; try again");
        pthread_mutex_unlock(&l->mu);
        if (wait_ms > 0 && !w)
                goto done;
        if (produce_json(l, OSH_TOPIC_CAMPAIGNS, id, req)) {
                snprintf(errstr, errstr_size, "cannot send the request to the segmenter");
                if (w) {
                        pthread_mutex_lock(&l->mu);
                        w->used = 0;
                        pthread_mutex_unlock(&l->mu);
                }
                goto done;
        }
        if (!w) {
                res = json_null();
                goto done;
        }
        pthread_mutex_lock(&l->mu);
        res = wait_for(l, w, wait_ms);
        pthread_mutex_unlock(&l->mu);
        if (!res)
                snprintf(errstr, errstr_size, "the segmenter did not answer within %d ms", wait_ms);
done:
        json_decref(req);
        return res;
}

int con_link_audit(con_link_t *l, const con_audit_t *a)
{
        json_t *j = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "at", (json_int_t)now_ms(),
                              "actor", a->actor ? a->actor : "", "role", a->role ? a->role : "",
                              "action", a->action, "target", a->target ? a->target : "", "detail",
                              a->detail ? a->detail : "", "outcome", a->outcome ? a->outcome : "OK",
                              "remote", a->remote ? a->remote : "", "instance", l->instance);
        int rc = j ? produce_json(l, OSH_TOPIC_STAFF_AUDIT, a->actor ? a->actor : "", j) : -1;

        json_decref(j);
        return rc;
}

/* ---- consuming ---- */

static json_t *decode(const char *topic, const rd_kafka_message_t *m)
{
        const osh_schema_t *sch = osh_schema_for_topic(topic);
        avro_value_t v;
        json_t *j;
        char err[256];

        if (!sch || !m->payload ||
            osh_serde_decode(sch, m->payload, m->len, &v, NULL, err, sizeof(err)))
                return NULL;
        j = osh_avro_to_json(&v);
        avro_value_decref(&v);
        return j;
}

/* A reply wakes its waiter; a campaign's result is kept with its progress. */
static void on_result(con_link_t *l, json_t *r)
{
        const char *id = json_string_value(json_object_get(r, "campaign_id"));
        const char *action = json_string_value(json_object_get(r, "action"));
        json_t *old, *hist;

        if (!id || !action)
                return;
        for (int i = 0; i < WAITERS_MAX; i++) {
                waiter_t *w = &l->waiters[i];
                if (w->used && !w->result && !strcmp(w->id, id) && !strcmp(w->action, action)) {
                        w->result = json_incref(r);
                        pthread_cond_broadcast(&l->cv);
                }
        }
        if (!strncmp(id, "pv-", 3))
                return; /* previews are answers, not campaigns */
        old = json_object_get(l->results, id);
        hist = old ? json_incref(json_object_get(old, "history")) : NULL;
        if (!hist)
                hist = json_array();
        if (json_array_size(hist) < HISTORY_KEEP) {
                /* "O" takes a reference of its own: a fresh 0 is handed over with "o" */
                json_t *sent = json_object_get(json_object_get(r, "delivery"), "SENT");
                json_array_append_new(
                    hist,
                    sent ? json_pack("[O,O]", json_object_get(r, "computed_at"), sent)
                         : json_pack("[O,o]", json_object_get(r, "computed_at"), json_integer(0)));
        }
        /* a delivery report carries no counts: keep the frozen ones */
        if (old && !json_integer_value(json_object_get(r, "recipients")))
                json_object_set(r, "recipients", json_object_get(old, "recipients"));
        if (old && json_object_size(json_object_get(r, "delivery")) == 0)
                json_object_set(r, "delivery", json_object_get(old, "delivery"));
        json_object_set_new(r, "history", hist);
        json_object_set(l->results, id, r);
}

static void on_record(con_link_t *l, const rd_kafka_message_t *m)
{
        const char *topic = rd_kafka_topic_name(m->rkt);
        json_t *j = decode(topic, m);

        if (!j) {
                osh_warn("%s @%lld: undecodable record skipped", topic, (long long)m->offset);
                return;
        }
        pthread_mutex_lock(&l->mu);
        if (!strcmp(topic, OSH_TOPIC_RESULTS)) {
                on_result(l, j);
        } else if (!strcmp(topic, OSH_TOPIC_STAFF_AUDIT)) {
                if (json_array_size(l->audit) >= AUDIT_KEEP)
                        json_array_remove(l->audit, 0);
                json_array_append(l->audit, j);
        } else if (!strcmp(topic, OSH_TOPIC_OPS)) {
                if (json_object_get(json_object_get(j, "counters"), OSH_QUIET_HB_START)) {
                        json_decref(l->quiet);
                        l->quiet = json_incref(j);
                }
        } else if (!strcmp(topic, OSH_TOPIC_BATCH) &&
                   !strcmp(json_string_value(json_object_get(j, "kind")) ?: "", "END") &&
                   !strcmp(json_string_value(json_object_get(j, "topic")) ?: "",
                           OSH_TOPIC_ABSTRACTED)) {
                json_decref(l->snapshot);
                l->snapshot = json_incref(j);
        }
        pthread_mutex_unlock(&l->mu);
        json_decref(j);
}

static void *consume_loop(void *arg)
{
        con_link_t *l = arg;

        while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
                rd_kafka_message_t *m = osh_consumer_poll(l->cons, 50);
                if (m) {
                        on_record(l, m);
                        rd_kafka_message_destroy(m);
                } else if (osh_consumer_at_end(l->cons)) {
                        __atomic_store_n(&l->caught_up, 1, __ATOMIC_RELEASE);
                }
                osh_producer_poll(l->prod, 0);
        }
        return NULL;
}

/* ---- life cycle ---- */

static rd_kafka_conf_t *conf_for(osh_service_t *svc, osh_kafka_role_t role, char *errstr,
                                 size_t errstr_size)
{
        rd_kafka_conf_t *c =
            osh_kafka_conf_new(svc->cfg, "kafka.", role, NULL, errstr, errstr_size);

        /* A preview is a round trip: do not let batching add to it. */
        if (c && role == OSH_KAFKA_PRODUCER &&
            osh_kafka_conf_set(c, "linger.ms", "0", errstr, errstr_size))
                goto fail;
        if (c && role == OSH_KAFKA_CONSUMER &&
            (osh_kafka_conf_set(c, "fetch.wait.max.ms", "5", errstr, errstr_size) ||
             osh_kafka_conf_set(c, "enable.auto.commit", "false", errstr, errstr_size) ||
             osh_kafka_conf_set(c, "auto.offset.reset", "earliest", errstr, errstr_size)))
                goto fail;
        return c;
fail:
        rd_kafka_conf_destroy(c);
        return NULL;
}

con_link_t *con_link_new(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        static const char *const in[] = {OSH_TOPIC_RESULTS, OSH_TOPIC_STAFF_AUDIT, OSH_TOPIC_BATCH,
                                         OSH_TOPIC_OPS};
        static const char *const out[] = {OSH_TOPIC_CAMPAIGNS, OSH_TOPIC_STAFF_AUDIT};
        con_link_t *l = calloc(1, sizeof(*l));
        rd_kafka_conf_t *c;
        char group[128], host[48] = "console";

        if (!l || !(l->results = json_object()) || !(l->audit = json_array())) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        l->svc = svc;
        pthread_mutex_init(&l->mu, NULL);
        pthread_cond_init(&l->cv, NULL);
        gethostname(host, sizeof(host) - 1);
        snprintf(l->instance, sizeof(l->instance), "%s-%d", host, (int)getpid());
        snprintf(group, sizeof(group), "console-%s-%lld", l->instance, (long long)now_ms());
        if (!(c = conf_for(svc, OSH_KAFKA_PRODUCER, errstr, errstr_size)) ||
            !(l->prod = osh_producer_new(c, errstr, errstr_size)))
                goto fail;
        osh_producer_prepare(l->prod, out, 2, 5000);
        if (!(c = conf_for(svc, OSH_KAFKA_CONSUMER, errstr, errstr_size)) ||
            !(l->cons = osh_consumer_new(c, group, in, 4, NULL, errstr, errstr_size)))
                goto fail;
        if (pthread_create(&l->thr, NULL, consume_loop, l)) {
                snprintf(errstr, errstr_size, "cannot start the consumer thread");
                goto fail;
        }
        l->started = 1;
        return l;
fail:
        con_link_destroy(l);
        return NULL;
}

void con_link_destroy(con_link_t *l)
{
        if (!l)
                return;
        pthread_mutex_lock(&l->mu);
        __atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        if (l->started)
                pthread_join(l->thr, NULL);
        osh_consumer_destroy(l->cons);
        if (l->prod && osh_producer_flush(l->prod, 5000))
                osh_producer_purge(l->prod);
        osh_producer_destroy(l->prod);
        json_decref(l->results);
        json_decref(l->audit);
        json_decref(l->snapshot);
        json_decref(l->quiet);
        free(l);
}

json_t *con_link_results(con_link_t *l)
{
        json_t *r;

        pthread_mutex_lock(&l->mu);
        r = json_deep_copy(l->results);
        pthread_mutex_unlock(&l->mu);
        return r;
}

json_t *con_link_audit_log(con_link_t *l, const char *actor, const char *action, size_t limit)
{
        json_t *out = json_array(), *e;
        size_t n;

        pthread_mutex_lock(&l->mu);
        n = json_array_size(l->audit);
        /* newest first */
        for (size_t i = n; i-- > 0 && json_array_size(out) < limit;) {
                e = json_array_get(l->audit, i);
                if ((actor && *actor &&
                     strcmp(json_string_value(json_object_get(e, "actor")) ?: "", actor)) ||
                    (action && *action &&
                     strcmp(json_string_value(json_object_get(e, "action")) ?: "", action)))
                        continue;
                json_array_append_new(out, json_deep_copy(e));
        }
        pthread_mutex_unlock(&l->mu);
        return out;
}

json_t *con_link_snapshot(con_link_t *l)
{
        json_t *r;

        pthread_mutex_lock(&l->mu);
        r = l->snapshot ? json_deep_copy(l->snapshot) : json_null();
        pthread_mutex_unlock(&l->mu);
        return r;
}

int con_link_quiet(con_link_t *l, osh_quiet_t *q, char *by, size_t by_size, int64_t *at_ms)
{
        json_t *c;
        int known = 0;

        pthread_mutex_lock(&l->mu);
        c = json_object_get(l->quiet, "counters");
        if (c && osh_quiet_from_minutes(
                     (int)json_integer_value(json_object_get(c, OSH_QUIET_HB_START)),
                     (int)json_integer_value(json_object_get(c, OSH_QUIET_HB_END)),
                     (int)json_integer_value(json_object_get(c, OSH_QUIET_HB_OFFSET)), q) == 0) {
                snprintf(by, by_size, "%s",
                         json_string_value(json_object_get(l->quiet, "instance")) ?: "");
                *at_ms = json_integer_value(json_object_get(l->quiet, "timestamp"));
                known = 1;
        }
        pthread_mutex_unlock(&l->mu);
        return known;
}

int con_link_caught_up(con_link_t *l)
{
        return __atomic_load_n(&l->caught_up, __ATOMIC_ACQUIRE);
}
