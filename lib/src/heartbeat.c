#include "oshirase/clock.h"
#include "oshirase/heartbeat.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define HB_NAMED_MAX 16
/* The interval when the caller gives none (heartbeat.interval's default). */
#define HB_DEFAULT_INTERVAL_MS 5000
/* The STOPPED heartbeat is worth a short wait at shutdown, not a slow exit. */
#define HB_STOP_FLUSH_MS 2000

struct named_ctr {
        char name[48];
        int64_t value;
};

struct osh_heartbeat {
        osh_producer_t *producer;
        const osh_schema_t *schema;
        char service[64];
        char instance[128];
        char segment[16];
        int64_t interval_ms;
        int64_t started_ms;

        pthread_t thread;
        int thread_started;
        pthread_mutex_t lock; /* guards everything below and the stop flag */
        pthread_cond_t wake;
        int stop;
        uint64_t ctr[OSH_CTR__CNT];
        char state[16];
        int64_t lag;
        char batch_id[128];
        char alive_file[512];
        struct named_ctr named[HB_NAMED_MAX];
        size_t named_cnt;
};

/* The schema's Segment enum is upper case; configuration is lower case. */
static void segment_symbol(const char *seg, char *out, size_t size)
{
        size_t i = 0;

        if (!seg || !*seg)
                seg = "unknown";
        for (; seg[i] && i + 1 < size; i++)
                out[i] = (char)toupper((unsigned char)seg[i]);
        out[i] = '\0';
}

osh_heartbeat_t *osh_heartbeat_new(rd_kafka_conf_t *conf, const osh_heartbeat_id_t *id,
                                   int64_t interval_ms, char *errstr, size_t errstr_size)
{
        osh_heartbeat_t *hb = calloc(1, sizeof(*hb));

        if (!hb) {
                rd_kafka_conf_destroy(conf);
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&hb->lock, NULL);
        pthread_cond_init(&hb->wake, NULL);
        snprintf(hb->service, sizeof(hb->service), "%s", id->service);
        snprintf(hb->instance, sizeof(hb->instance), "%s",
                 id->instance ? id->instance : id->service);
        segment_symbol(id->segment, hb->segment, sizeof(hb->segment));
        snprintf(hb->state, sizeof(hb->state), "%s", OSH_STATE_STARTING);
        hb->interval_ms = interval_ms > 0 ? interval_ms : HB_DEFAULT_INTERVAL_MS;
        hb->started_ms = osh_wall_ms();
        hb->lag = -1;
        hb->schema = osh_schema_for_topic(OSH_TOPIC_OPS);
        if (!hb->schema) {
                rd_kafka_conf_destroy(conf);
                snprintf(errstr, errstr_size, "no schema for %s (osh_serde_init?)", OSH_TOPIC_OPS);
                goto fail;
        }
        hb->producer = osh_producer_new(conf, errstr, errstr_size);
        if (!hb->producer)
                goto fail;
        return hb;
fail:
        osh_heartbeat_destroy(hb);
        return NULL;
}

void osh_heartbeat_count(osh_heartbeat_t *hb, osh_counter_t ctr, uint64_t n)
{
        __atomic_add_fetch(&hb->ctr[ctr], n, __ATOMIC_RELAXED);
}

uint64_t osh_heartbeat_counter(osh_heartbeat_t *hb, osh_counter_t ctr)
{
        return __atomic_load_n(&hb->ctr[ctr], __ATOMIC_RELAXED);
}

void osh_heartbeat_set_state(osh_heartbeat_t *hb, const char *state)
{
        pthread_mutex_lock(&hb->lock);
        snprintf(hb->state, sizeof(hb->state), "%s", state);
        pthread_mutex_unlock(&hb->lock);
}

void osh_heartbeat_set_lag(osh_heartbeat_t *hb, int64_t lag)
{
        __atomic_store_n(&hb->lag, lag, __ATOMIC_RELAXED);
}

void osh_heartbeat_set_batch(osh_heartbeat_t *hb, const char *batch_id)
{
        pthread_mutex_lock(&hb->lock);
        snprintf(hb->batch_id, sizeof(hb->batch_id), "%s", batch_id ? batch_id : "");
        pthread_mutex_unlock(&hb->lock);
}

int osh_heartbeat_set_named(osh_heartbeat_t *hb, const char *name, int64_t value)
{
        size_t i;
        int rc = 0;

        pthread_mutex_lock(&hb->lock);
        for (i = 0; i < hb->named_cnt; i++)
                if (!strcmp(hb->named[i].name, name))
                        break;
        if (i == hb->named_cnt && hb->named_cnt < HB_NAMED_MAX &&
            strlen(name) < sizeof(hb->named[0].name))
                snprintf(hb->named[hb->named_cnt++].name, sizeof(hb->named[0].name), "%s", name);
        if (i < hb->named_cnt)
                hb->named[i].value = value;
        else
                rc = -1;
        pthread_mutex_unlock(&hb->lock);
        return rc;
}

/* Fills the record under the lock so a heartbeat is one consistent view. */
static int fill(osh_heartbeat_t *hb, avro_value_t *v)
{
        int64_t lag = __atomic_load_n(&hb->lag, __ATOMIC_RELAXED);
        /* data removed before it was read: an alarm, never silent */
        int64_t lost = osh_kafka_records_lost();
        avro_value_t map, e;
        int rc = 0;

        pthread_mutex_lock(&hb->lock);
        rc |= osh_value_set_string(v, "service", hb->service);
        rc |= osh_value_set_string(v, "instance", hb->instance);
        if (osh_value_set_enum(v, "segment", hb->segment))
                rc |= osh_value_set_enum(v, "segment", "UNKNOWN");
        rc |= osh_value_set_enum(
            v, "state",
            lost > 0 && !strcmp(hb->state, OSH_STATE_RUNNING) ? OSH_STATE_DEGRADED : hb->state);
        rc |= osh_value_set_long(v, "records_in", (int64_t)osh_heartbeat_counter(hb, OSH_CTR_IN));
        rc |= osh_value_set_long(v, "records_out", (int64_t)osh_heartbeat_counter(hb, OSH_CTR_OUT));
        rc |= osh_value_set_long(v, "records_rejected",
                                 (int64_t)osh_heartbeat_counter(hb, OSH_CTR_REJECTED));
        rc |= osh_value_set_long(v, "errors", (int64_t)osh_heartbeat_counter(hb, OSH_CTR_ERRORS));
        rc |= lag >= 0 ? osh_value_set_long(v, "lag", lag) : osh_value_set_null(v, "lag");
        rc |= osh_value_set_string(v, "last_batch_id", hb->batch_id[0] ? hb->batch_id : NULL);
        rc |= osh_value_set_string(v, "version", OSH_VERSION);
        rc |= osh_value_set_long(v, "timestamp", osh_wall_ms());
        rc |= osh_value_set_long(v, "started_at", hb->started_ms);
        rc |= osh_value_field(v, "counters", &map);
        for (size_t i = 0; !rc && i < hb->named_cnt; i++) {
                rc |= avro_value_add(&map, hb->named[i].name, &e, NULL, NULL);
                rc |= avro_value_set_long(&e, hb->named[i].value);
        }
        if (!rc && lost > 0) {
                rc |= avro_value_add(&map, OSH_HB_RECORDS_LOST, &e, NULL, NULL);
                rc |= avro_value_set_long(&e, lost);
        }
        pthread_mutex_unlock(&hb->lock);
        return rc ? -1 : 0;
}

int osh_heartbeat_emit(osh_heartbeat_t *hb)
{
        char errstr[256];
        avro_value_t v;
        void *buf = NULL;
        size_t len = 0;
        int rc = -1;

        if (osh_value_new(hb->schema, &v))
                return -1;
        if (fill(hb, &v)) {
                osh_warn("heartbeat: cannot fill record (state %s?)", hb->state);
                goto done;
        }
        if (osh_serde_encode_alloc(hb->schema, &v, &buf, &len, errstr, sizeof(errstr))) {
                osh_warn("heartbeat: %s", errstr);
                goto done;
        }
        osh_kafka_msg_t m = {
            .topic = OSH_TOPIC_OPS,
            .partition = RD_KAFKA_PARTITION_UA,
            .key = hb->instance,
            .key_len = strlen(hb->instance),
            .value = buf,
            .value_len = len,
        };
        rc = osh_producer_send(hb->producer, &m, NULL);
done:
        free(buf);
        avro_value_decref(&v);
        return rc;
}

void osh_heartbeat_set_alive_file(osh_heartbeat_t *hb, const char *path)
{
        pthread_mutex_lock(&hb->lock);
        snprintf(hb->alive_file, sizeof(hb->alive_file), "%s", path ? path : "");
        pthread_mutex_unlock(&hb->lock);
}

static void touch_alive(osh_heartbeat_t *hb)
{
        char path[sizeof(hb->alive_file)];

        pthread_mutex_lock(&hb->lock);
        memcpy(path, hb->alive_file, sizeof(path));
        pthread_mutex_unlock(&hb->lock);
        if (path[0])
                utimensat(AT_FDCWD, path, NULL, 0);
}

static void *run(void *arg)
{
        osh_heartbeat_t *hb = arg;
        struct timespec until;

        pthread_mutex_lock(&hb->lock);
        while (!hb->stop) {
                pthread_mutex_unlock(&hb->lock);
                if (osh_heartbeat_emit(hb) == 0)
                        touch_alive(hb);
                osh_producer_poll(hb->producer, 0);
                until = osh_wall_deadline(hb->interval_ms);
                pthread_mutex_lock(&hb->lock);
                while (!hb->stop && pthread_cond_timedwait(&hb->wake, &hb->lock, &until) == 0)
                        ;
        }
        pthread_mutex_unlock(&hb->lock);
        return NULL;
}

int osh_heartbeat_start(osh_heartbeat_t *hb)
{
        if (pthread_create(&hb->thread, NULL, run, hb))
                return -1;
        hb->thread_started = 1;
        return 0;
}

void osh_heartbeat_destroy(osh_heartbeat_t *hb)
{
        if (!hb)
                return;
        if (hb->thread_started) {
                pthread_mutex_lock(&hb->lock);
                hb->stop = 1;
                pthread_cond_signal(&hb->wake);
                pthread_mutex_unlock(&hb->lock);
                pthread_join(hb->thread, NULL);
        }
        if (hb->producer) {
                osh_heartbeat_set_state(hb, OSH_STATE_STOPPED);
                osh_heartbeat_emit(hb);
                /* A heartbeat is worth a short wait, not a slow shutdown when
                 * the broker is gone: drop what is still queued. */
                if (osh_producer_flush(hb->producer, HB_STOP_FLUSH_MS))
                        osh_producer_purge(hb->producer);
                osh_producer_destroy(hb->producer);
        }
        pthread_cond_destroy(&hb->wake);
        pthread_mutex_destroy(&hb->lock);
        free(hb);
}
