#include "watch.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oshirase/scan.h"
#include "oshirase/batch.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"

#define CI_WATCH_METADATA_MS 10000 /* each watched topic's partition count */
#define CI_WATCH_POLL_MS     200   /* the watcher notices stop this soon */
#define CI_WATCH_CLOSE_MS    10000 /* consumer close at shutdown */

struct svc {
        char service[64], instance[64], state[16];
        int64_t last_seen_ms;
        int64_t in, out, rejected, errors;
};

struct chan {
        char name[16];
        uint64_t temp, perm;
};

struct ci_watch {
        pthread_mutex_t lock;
        pthread_t thr;
        int running, stop;
        rd_kafka_t *rk;
        osh_batch_tracker_t *tracker;
        struct svc svcs[CI_WATCH_MAX_SERVICES];
        size_t nsvc;
        struct chan chans[8];
        size_t nchan;
        int have_snapshot;
        char snap_id[OSH_BATCH_ID_MAX];
        int64_t snap_extract_ms, snap_count;
        /* END markers seen but not yet complete */
        char pending[16][OSH_BATCH_ID_MAX];
        size_t npending;
};

static const char *const watched[] = {OSH_TOPIC_BATCH, OSH_TOPIC_ABSTRACTED, OSH_TOPIC_OPS,
                                      OSH_TOPIC_STATUS};

ci_watch_t *ci_watch_new_detached(void)
{
        ci_watch_t *w = calloc(1, sizeof(*w));

        if (!w)
                return NULL;
        pthread_mutex_init(&w->lock, NULL);
        w->tracker = osh_batch_tracker_new();
        if (!w->tracker) {
                free(w);
                return NULL;
        }
        return w;
}

/* Swaps in a batch once the tracker calls it complete. */
static void check_complete(ci_watch_t *w)
{
        for (size_t i = 0; i < w->npending; i++) {
                const char *id = w->pending[i];
                if (osh_batch_tracker_state(w->tracker, id) != OSH_BATCH_COMPLETE)
                        continue;
                const osh_batch_marker_t *end = osh_batch_tracker_end(w->tracker, id);
                if (!w->have_snapshot || end->extract_time_ms >= w->snap_extract_ms) {
                        w->have_snapshot = 1;
                        snprintf(w->snap_id, sizeof(w->snap_id), "%s", id);
                        w->snap_extract_ms = end->extract_time_ms;
                        w->snap_count = end->record_count;
                        osh_info("snapshot %s complete (%" PRId64 " records)", id, w->snap_count);
                }
                osh_batch_tracker_forget(w->tracker, id);
                memmove(&w->pending[i], &w->pending[i + 1],
                        (w->npending - i - 1) * sizeof(w->pending[0]));
                w->npending--;
                i--;
        }
}

static void on_marker(ci_watch_t *w, const rd_kafka_message_t *m)
{
        osh_batch_marker_t mk;
        char err[128];

        if (!m->payload || osh_batch_marker_decode(m->payload, m->len, &mk, err, sizeof(err)) ||
            strcmp(mk.topic, OSH_TOPIC_ABSTRACTED))
                return;
        osh_batch_tracker_marker(w->tracker, &mk);
        if (mk.is_end && w->npending < sizeof(w->pending) / sizeof(w->pending[0])) {
                snprintf(w->pending[w->npending++], OSH_BATCH_ID_MAX, "%s", mk.batch_id);
                check_complete(w);
        }
}

static void on_abstracted(ci_watch_t *w, const rd_kafka_message_t *m)
{
        char id[OSH_BATCH_ID_MAX];

        if (!osh_kafka_header(m, OSH_HDR_BATCH_ID, id, sizeof(id)))
                return;
        osh_batch_tracker_add(w->tracker, id, m->key, m->key_len, m->payload, m->len);
        if (w->npending)
                check_complete(w);
}

static void on_heartbeat(ci_watch_t *w, const rd_kafka_message_t *m)
{
        const char *svc = NULL, *inst = NULL, *state = NULL;
        size_t l1, l2;
        int64_t ts = 0;
        avro_value_t v;
        char err[128];
        size_t i;

        if (!m->payload || osh_serde_decode(osh_schema_for_topic(OSH_TOPIC_OPS), m->payload, m->len,
                                            &v, NULL, err, sizeof(err)))
                return;
        if (osh_value_get_string(&v, "service", &svc, &l1) ||
            osh_value_get_string(&v, "instance", &inst, &l2) ||
            osh_value_get_enum(&v, "state", &state) || osh_value_get_long(&v, "timestamp", &ts))
                goto out;
        for (i = 0; i < w->nsvc; i++)
                if (!strcmp(w->svcs[i].service, svc) && !strcmp(w->svcs[i].instance, inst))
                        break;
        if (i == w->nsvc) {
                if (w->nsvc == CI_WATCH_MAX_SERVICES)
                        goto out;
                w->nsvc++;
                snprintf(w->svcs[i].service, sizeof(w->svcs[i].service), "%s", svc);
                snprintf(w->svcs[i].instance, sizeof(w->svcs[i].instance), "%s", inst);
        }
        if (ts >= w->svcs[i].last_seen_ms) {
                struct svc *s = &w->svcs[i];
                snprintf(s->state, sizeof(s->state), "%s", state);
                s->last_seen_ms = ts;
                /* each has a default: an older writer's record reads 0 */
                osh_value_get_long(&v, "records_in", &s->in);
                osh_value_get_long(&v, "records_out", &s->out);
                osh_value_get_long(&v, "records_rejected", &s->rejected);
                osh_value_get_long(&v, "errors", &s->errors);
        }
out:
        avro_value_decref(&v);
}

static void on_status(ci_watch_t *w, const rd_kafka_message_t *m)
{
        const char *chan = NULL, *status = NULL;
        avro_value_t v;
        char err[128];
        size_t i;

        if (!m->payload || osh_serde_decode(osh_schema_for_topic(OSH_TOPIC_STATUS), m->payload,
                                            m->len, &v, NULL, err, sizeof(err)))
                return;
        if (osh_value_get_enum(&v, "channel", &chan) || osh_value_get_enum(&v, "status", &status) ||
            strncmp(status, "FAILED_", 7))
                goto out;
        for (i = 0; i < w->nchan; i++)
                if (!strcasecmp(w->chans[i].name, chan))
                        break;
        if (i == w->nchan) {
                if (w->nchan == sizeof(w->chans) / sizeof(w->chans[0]))
                        goto out;
                w->nchan++;
                for (size_t k = 0; k < sizeof(w->chans[i].name) - 1 && chan[k]; k++)
                        w->chans[i].name[k] =
                            (char)(chan[k] >= 'A' && chan[k] <= 'Z' ? chan[k] + 32 : chan[k]);
        }
        if (!strcmp(status, "FAILED_TEMP"))
                w->chans[i].temp++;
        else
                w->chans[i].perm++;
out:
        avro_value_decref(&v);
}

void ci_watch_feed(ci_watch_t *w, const char *topic, const rd_kafka_message_t *m)
{
        pthread_mutex_lock(&w->lock);
        if (!strcmp(topic, OSH_TOPIC_BATCH))
                on_marker(w, m);
        else if (!strcmp(topic, OSH_TOPIC_ABSTRACTED))
                on_abstracted(w, m);
        else if (!strcmp(topic, OSH_TOPIC_OPS))
                on_heartbeat(w, m);
        else if (!strcmp(topic, OSH_TOPIC_STATUS))
                on_status(w, m);
        pthread_mutex_unlock(&w->lock);
}

static void *run(void *arg)
{
        ci_watch_t *w = arg;

        while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(w->rk, CI_WATCH_POLL_MS);
                if (!m)
                        continue;
                if (!m->err && m->rkt)
                        ci_watch_feed(w, rd_kafka_topic_name(m->rkt), m);
                rd_kafka_message_destroy(m);
        }
        return NULL;
}

/* Every partition of the watched topics, from the beginning. */
static int assign_all(ci_watch_t *w, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(32);
        char why[256] = "";
        int rc = -1;

        for (size_t k = 0; k < sizeof(watched) / sizeof(watched[0]); k++) {
                /* A topic the cluster lacks is left out. */
                int n = osh_scan_partition_count(w->rk, watched[k], CI_WATCH_METADATA_MS, why,
                                                 sizeof(why));
                for (int p = 0; p < n; p++)
                        rd_kafka_topic_partition_list_add(l, watched[k], p)->offset =
                            RD_KAFKA_OFFSET_BEGINNING;
        }
        if (!l->cnt)
                snprintf(errstr, errstr_size, "watch: no metadata from the cloud cluster (%s)",
                         why);
        else if (rd_kafka_assign(w->rk, l))
                snprintf(errstr, errstr_size, "watch: cannot assign");
        else
                rc = 0;
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

ci_watch_t *ci_watch_start(const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        ci_watch_t *w = ci_watch_new_detached();
        rd_kafka_conf_t *conf = NULL;

        if (!w) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        conf = osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_CONSUMER, NULL, errstr, errstr_size);
        if (!conf ||
            osh_kafka_conf_set(conf, "group.id", "cloud-ingest-watch", errstr, errstr_size) ||
            osh_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
            osh_kafka_conf_set(conf, "enable.partition.eof", "false", errstr, errstr_size))
                goto fail;
        w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
        if (!w->rk)
                goto fail;
        conf = NULL;
        rd_kafka_poll_set_consumer(w->rk);
        if (assign_all(w, errstr, errstr_size))
                goto fail;
        if (pthread_create(&w->thr, NULL, run, w)) {
                snprintf(errstr, errstr_size, "watch: cannot start thread");
                goto fail;
        }
        w->running = 1;
        return w;
fail:
        if (conf)
                rd_kafka_conf_destroy(conf);
        ci_watch_stop(w);
        return NULL;
}

void ci_watch_stop(ci_watch_t *w)
{
        if (!w)
                return;
        if (w->running) {
                __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
                pthread_join(w->thr, NULL);
        }
        if (w->rk) {
                osh_kafka_consumer_close(w->rk, CI_WATCH_CLOSE_MS);
        }
        osh_batch_tracker_destroy(w->tracker);
        pthread_mutex_destroy(&w->lock);
        free(w);
}

static int fill_services(ci_watch_t *w, Osh__ProbeResponse *r)
{
        r->services = calloc(w->nsvc + 1, sizeof(*r->services));
        if (!r->services)
                return -1;
        for (size_t i = 0; i < w->nsvc; i++) {
                Osh__ServiceHeartbeat *h = calloc(1, sizeof(*h));
                if (!h)
                        return -1;
                osh__service_heartbeat__init(h);
                h->service = strdup(w->svcs[i].service);
                h->instance = strdup(w->svcs[i].instance);
                h->state = strdup(w->svcs[i].state);
                h->last_seen_ms = w->svcs[i].last_seen_ms;
                h->records_in = w->svcs[i].in;
                h->records_out = w->svcs[i].out;
                h->records_rejected = w->svcs[i].rejected;
                h->errors = w->svcs[i].errors;
                r->services[r->n_services++] = h;
                if (!h->service || !h->instance || !h->state)
                        return -1;
        }
        return 0;
}

static int fill_errors(ci_watch_t *w, Osh__ProbeResponse *r)
{
        r->send_errors = calloc(w->nchan + 1, sizeof(*r->send_errors));
        if (!r->send_errors)
                return -1;
        for (size_t i = 0; i < w->nchan; i++) {
                Osh__SendErrorCount *e = calloc(1, sizeof(*e));
                if (!e)
                        return -1;
                osh__send_error_count__init(e);
                r->send_errors[r->n_send_errors++] = e;
                e->channel = strdup(w->chans[i].name);
                e->failed_temp = w->chans[i].temp;
                e->failed_perm = w->chans[i].perm;
                if (!e->channel)
                        return -1;
        }
        return 0;
}

int ci_watch_probe(ci_watch_t *w, int64_t now_ms, Osh__ProbeResponse *r)
{
        int rc = -1;

        pthread_mutex_lock(&w->lock);
        if (fill_services(w, r) || fill_errors(w, r))
                goto out;
        if (w->have_snapshot) {
                Osh__SnapshotStatus *s = calloc(1, sizeof(*s));
                if (!s)
                        goto out;
                osh__snapshot_status__init(s);
                r->snapshot = s;
                s->batch_id = strdup(w->snap_id);
                s->extract_ms = w->snap_extract_ms;
                s->age_ms = now_ms - w->snap_extract_ms;
                s->record_count = (uint64_t)w->snap_count;
                if (!s->batch_id)
                        goto out;
        }
        rc = 0;
out:
        pthread_mutex_unlock(&w->lock);
        return rc;
}

void ci_watch_probe_free(Osh__ProbeResponse *r)
{
        for (size_t i = 0; i < r->n_services; i++) {
                free(r->services[i]->service);
                free(r->services[i]->instance);
                free(r->services[i]->state);
                free(r->services[i]);
        }
        free(r->services);
        for (size_t i = 0; i < r->n_send_errors; i++) {
                free(r->send_errors[i]->channel);
                free(r->send_errors[i]);
        }
        free(r->send_errors);
        if (r->snapshot) {
                free(r->snapshot->batch_id);
                free(r->snapshot);
        }
        r->services = NULL;
        r->send_errors = NULL;
        r->snapshot = NULL;
        r->n_services = r->n_send_errors = 0;
}
