#include "mon_kafka.h"

#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "oshirase/heartbeat.h"
#include "oshirase/scan.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

static int64_t get_long(avro_value_t *v, const char *field)
{
        int64_t x = 0;
        return osh_value_get_long(v, field, &x) == 0 ? x : 0;
}

static const char *get_str(avro_value_t *v, const char *field, int enumeration)
{
        const char *s = NULL;

        if (enumeration)
                return osh_value_get_enum(v, field, &s) == 0 ? s : NULL;
        return osh_value_get_string(v, field, &s, NULL) == 0 ? s : NULL;
}

/* counters[name] of a heartbeat, 0 when absent */
static int64_t get_counter(avro_value_t *v, const char *name)
{
        avro_value_t map, e;
        int64_t x = 0;

        if (avro_value_get_by_name(v, "counters", &map, NULL) ||
            avro_value_get_by_name(&map, name, &e, NULL) || avro_value_get_long(&e, &x))
                return 0;
        return x;
}

int mon_heartbeat_decode(const void *buf, size_t len, mon_model_t *m, char *errstr,
                         size_t errstr_size)
{
        const osh_schema_t *sc = osh_schema_for_topic(OSH_TOPIC_OPS);
        avro_value_t v;
        int rc;

        if (!sc || osh_serde_decode(sc, buf, len, &v, NULL, errstr, errstr_size))
                return -1;
        mon_heartbeat_t hb = {
            .service = get_str(&v, "service", 0),
            .instance = get_str(&v, "instance", 0),
            .segment = get_str(&v, "segment", 1),
            .state = get_str(&v, "state", 1),
            .ts_ms = get_long(&v, "timestamp"),
            .started_ms = get_long(&v, "started_at"),
            .records_in = get_long(&v, "records_in"),
            .records_out = get_long(&v, "records_out"),
            .records_rejected = get_long(&v, "records_rejected"),
            .errors = get_long(&v, "errors"),
            .lag = osh_value_is_null(&v, "lag") == 0 ? get_long(&v, "lag") : -1,
            .last_batch = get_str(&v, "last_batch_id", 0),
            .records_lost = get_counter(&v, OSH_HB_RECORDS_LOST),
        };
        rc = mon_model_heartbeat(m, &hb);
        if (rc)
                snprintf(errstr, errstr_size, "heartbeat without service/instance, or table full");
        avro_value_decref(&v);
        return rc;
}

static int watch_one(const char *entry, size_t len, mon_model_t *m, char *errstr,
                     size_t errstr_size)
{
        char buf[3 * MON_NAME_MAX], *colon, *at;

        if (len == 0)
                return 0;
        if (len >= sizeof(buf))
                goto fail;
        memcpy(buf, entry, len);
        buf[len] = '\0';
        colon = strchr(buf, ':');
        if (!colon)
                goto fail;
        *colon = '\0';
        at = strchr(colon + 1, '@');
        if (at)
                *at++ = '\0';
        if (mon_model_watch(m, buf, colon + 1, at) == 0)
                return 0;
fail:
        snprintf(errstr, errstr_size, "watch: bad entry '%.*s' (want group:topic[@service])",
                 (int)(len > 200 ? 200 : len), entry);
        return -1;
}

int mon_watch_parse(const char *spec, mon_model_t *m, char *errstr, size_t errstr_size)
{
        const char *p = spec, *end;

        while (p && *p) {
                while (*p == ' ' || *p == ',')
                        p++;
                end = p + strcspn(p, ", ");
                if (watch_one(p, (size_t)(end - p), m, errstr, errstr_size))
                        return -1;
                p = end;
        }
        return 0;
}

/* ---- sampler ---- */

struct mon_sampler {
        mon_model_t *m;
        size_t n;
        rd_kafka_t **rk; /* one per watched group, index = watch index */
        int timeout_ms;
};

void mon_sampler_destroy(mon_sampler_t *s)
{
        size_t i;

        if (!s)
                return;
        for (i = 0; s->rk && i < s->n; i++)
                if (s->rk[i])
                        /* never subscribed: nothing to close */
                        rd_kafka_destroy_flags(s->rk[i], RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        free(s->rk);
        free(s);
}

static rd_kafka_t *group_handle(const osh_config_t *cfg, const char *group, char *errstr,
                                size_t errstr_size)
{
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_CONSUMER, NULL, errstr, errstr_size);
        rd_kafka_t *rk;

        if (!conf)
                return NULL;
        if (osh_kafka_conf_set(conf, "group.id", group, errstr, errstr_size) ||
            osh_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size)) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
        if (!rk)
                rd_kafka_conf_destroy(conf);
        return rk;
}

mon_sampler_t *mon_sampler_new(const osh_config_t *cfg, mon_model_t *m, int timeout_ms,
                               char *errstr, size_t errstr_size)
{
        mon_sampler_t *s = calloc(1, sizeof(*s));
        char group[MON_NAME_MAX], topic[MON_NAME_MAX];
        size_t i;

        if (!s)
                goto fail;
        s->m = m;
        s->timeout_ms = timeout_ms;
        s->n = mon_model_watch_count(m);
        s->rk = calloc(s->n ? s->n : 1, sizeof(*s->rk));
        if (!s->rk)
                goto fail;
        for (i = 0; i < s->n; i++) {
                mon_model_watch_at(m, i, group, sizeof(group), topic, sizeof(topic));
                s->rk[i] = group_handle(cfg, group, errstr, errstr_size);
                if (!s->rk[i])
                        goto fail;
        }
        return s;
fail:
        if (!s)
                snprintf(errstr, errstr_size, "out of memory");
        mon_sampler_destroy(s);
        return NULL;
}

static int partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms)
{
        char why[256]; /* unknown this round: the group gets no sample */
        int n = osh_scan_partition_count(rk, topic, timeout_ms, why, sizeof(why));

        return n > MON_MAX_PARTITIONS ? MON_MAX_PARTITIONS : n;
}

static int sample_group(mon_sampler_t *s, size_t i, int64_t now_ms)
{
        int64_t committed[MON_MAX_PARTITIONS], low[MON_MAX_PARTITIONS], hwm[MON_MAX_PARTITIONS];
        char group[MON_NAME_MAX], topic[MON_NAME_MAX];
        rd_kafka_topic_partition_list_t *parts = NULL;
        rd_kafka_resp_err_t err;
        int n, p, rc = -1;

        mon_model_watch_at(s->m, i, group, sizeof(group), topic, sizeof(topic));
        n = partition_count(s->rk[i], topic, s->timeout_ms);
        if (n <= 0)
                goto done;
        parts = rd_kafka_topic_partition_list_new(n);
        for (p = 0; p < n; p++)
                rd_kafka_topic_partition_list_add(parts, topic, p);
        err = rd_kafka_committed(s->rk[i], parts, s->timeout_ms);
        if (err)
                goto done;
        for (p = 0; p < n; p++) {
                if (rd_kafka_query_watermark_offsets(s->rk[i], topic, p, &low[p], &hwm[p],
                                                     s->timeout_ms))
                        goto done;
                /* A partition whose committed offset could not be read
                 * (a loaded broker) must not count as "no commit": its
                 * sample would fall back to the low watermark and read as a
                 * REWIND for a whole window. Skip the round instead. */
                if (parts->elems[p].err)
                        goto done;
                committed[p] = parts->elems[p].offset;
        }
        mon_model_lag_sample(s->m, i, n, committed, low, hwm, now_ms);
        rc = 0;
done:
        if (rc)
                osh_warn("lag: cannot sample group %s on %s this round", group, topic);
        if (parts)
                rd_kafka_topic_partition_list_destroy(parts);
        return rc;
}

void mon_sampler_run(mon_sampler_t *s, int64_t now_ms)
{
        size_t i;

        for (i = 0; i < s->n; i++)
                sample_group(s, i, now_ms);
}
