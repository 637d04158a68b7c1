#include "oshirase/clock.h"
#include "oshirase/kafka.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/log.h"
#include "oshirase/signal.h"

/* ---- configuration ---- */

int osh_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *errstr,
                       size_t errstr_size)
{
        char err[256];

        if (rd_kafka_conf_set(conf, key, val, err, sizeof(err)) == RD_KAFKA_CONF_OK)
                return 0;
        snprintf(errstr, errstr_size, "kafka.%s: %s", key, err);
        return -1;
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
        (void)opaque;
        if (err == RD_KAFKA_RESP_ERR__FATAL) {
                char fatal[256];
                rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
                osh_error("kafka %s fatal: %s", rd_kafka_name(rk), fatal);
                osh_shutdown_request();
                return;
        }
        /* Transient broker/transport errors are retried by librdkafka. */
        osh_warn("kafka %s: %s", rd_kafka_name(rk), reason);
}

struct conf_apply {
        rd_kafka_conf_t *conf;
        char *errstr;
        size_t errstr_size;
};

static int apply_one(const char *key, const char *val, void *opaque)
{
        struct conf_apply *a = opaque;

        return osh_kafka_conf_set(a->conf, key, val, a->errstr, a->errstr_size) ? -1 : 0;
}

static const char *const producer_defaults[][2] = {
    {"enable.idempotence", "true"},
    {"linger.ms", "5"},
    {"compression.type", "lz4"},
    {"message.timeout.ms", "300000"},
    /* A whole batch (190K records at Chiba scale) fits in the queue: with
     * librdkafka's 100K a full queue makes the producer trickle (the
     * anonymizer's release took 1.2 s instead of 0.46 s). Bytes stay capped. */
    {"queue.buffering.max.messages", "1000000"},
    {"queue.buffering.max.kbytes", "262144"},
};

static const char *const consumer_defaults[][2] = {
    {"enable.auto.commit", "true"},
    {"enable.auto.offset.store", "false"},
    {"auto.commit.interval.ms", "1000"},
    {"auto.offset.reset", "earliest"},
    {"enable.partition.eof", "true"},
    /* The mock cluster needs >= 6 s (docs/architecture.md §8); real Kafka is fine too. */
    {"session.timeout.ms", "6000"},
    /* librdkafka 2.0.2 stops fetching once the consumer queue (shared by
     * all assigned partitions) holds queued.min.messages, and looks again
     * only on its broker thread's next 1 s wake-up (librdkafka #2879; 2.3
     * adds fetch.queue.backoff.ms). At the default 100K a stage drains the
     * queue in ~0.2 s and then idles up to 0.8 s: the bimodal 195K/630K
     * rec/s of bench-crossing. Prefetch is still bounded by
     * queued.max.messages.kbytes (64 MB). docs/performance.md. */
    {"queued.min.messages", "1000000"},
    /* The mock (osh-broker) holds a Fetch that finds no data for the whole
     * fetch.wait.max.ms even when data arrives meanwhile, and a consumer
     * has one Fetch in flight per broker: at librdkafka's 500 ms every
     * segment hop waited up to 0.5 s and some bench runs stalled ~1 s.
     * Real Kafka answers as soon as data arrives; this only bounds its idle
     * polling (50 empty Fetches/s). docs/performance.md. */
    {"fetch.wait.max.ms", "20"},
};

static int set_defaults(rd_kafka_conf_t *conf, osh_kafka_role_t role, char *errstr,
                        size_t errstr_size)
{
        const char *const(*d)[2] =
            role == OSH_KAFKA_PRODUCER ? producer_defaults : consumer_defaults;
        size_t n = role == OSH_KAFKA_PRODUCER
                       ? sizeof(producer_defaults) / sizeof(producer_defaults[0])
                       : sizeof(consumer_defaults) / sizeof(consumer_defaults[0]);

        for (size_t i = 0; i < n; i++)
                if (osh_kafka_conf_set(conf, d[i][0], d[i][1], errstr, errstr_size))
                        return -1;
        return 0;
}

rd_kafka_conf_t *osh_kafka_conf_new(const osh_config_t *cfg, const char *prefix,
                                    osh_kafka_role_t role, const char *bootstrap, char *errstr,
                                    size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        struct conf_apply a = {conf, errstr, errstr_size};

        rd_kafka_conf_set_log_cb(conf, osh_log_rdkafka);
        rd_kafka_conf_set_error_cb(conf, on_error);
        if (set_defaults(conf, role, errstr, errstr_size))
                goto fail;
        if (bootstrap &&
            osh_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, errstr_size))
                goto fail;
        if (cfg && prefix && osh_config_foreach_prefixed(cfg, prefix, apply_one, &a))
                goto fail;
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}

/* ---- producer ---- */

#define MAX_PREPARED 16
/* Flush waits are cut into slices so a shutdown request is seen soon. */
#define FLUSH_SLICE_MS 100
/* What osh_producer_destroy waits for queued records (less during a
 * shutdown: osh_shutdown_budget_ms). */
#define DESTROY_FLUSH_MS 10000
/* What a purge waits for its (local) delivery reports. */
#define PURGE_REPORTS_MS 100

struct osh_producer {
        rd_kafka_t *rk;
        rd_kafka_topic_t *prepared[MAX_PREPARED]; /* held so they stay known */
        size_t nprepared;
        osh_delivery_cb_t *cb;
        void *cb_opaque;
        uint64_t produced;
        uint64_t delivered;
        uint64_t failed;
        int purging;             /* purge under way: delivery reports summed */
        char purged_topics[256]; /* topics of purged records, comma-separated */
};

/* Remembers which topics lost records to a purge, for its summary line. */
static void note_purged(osh_producer_t *p, const char *topic)
{
        size_t len = strlen(p->purged_topics), tl = strlen(topic);

        if (strstr(p->purged_topics, topic) || len + tl + 2 >= sizeof(p->purged_topics))
                return;
        snprintf(p->purged_topics + len, sizeof(p->purged_topics) - len, "%s%s", len ? "," : "",
                 topic);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        osh_producer_t *p = opaque;

        (void)rk;
        if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
                note_purged(p, rd_kafka_topic_name(m->rkt));
        if (m->err && p->purging) {
                __atomic_add_fetch(&p->failed, 1, __ATOMIC_RELAXED);
        } else if (m->err) {
                __atomic_add_fetch(&p->failed, 1, __ATOMIC_RELAXED);
                osh_warn("delivery to %s failed: %s", rd_kafka_topic_name(m->rkt),
                         rd_kafka_err2str(m->err));
        } else {
                __atomic_add_fetch(&p->delivered, 1, __ATOMIC_RELAXED);
        }
        if (p->cb)
                p->cb(p->cb_opaque, m->_private, m->err, m->partition, m->offset);
}

osh_producer_t *osh_producer_new(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
        osh_producer_t *p = calloc(1, sizeof(*p));

        if (!p) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        rd_kafka_conf_set_opaque(conf, p);
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
        if (!p->rk)
                goto fail;
        return p;
fail:
        rd_kafka_conf_destroy(conf);
        free(p);
        return NULL;
}

int osh_producer_prepare(osh_producer_t *p, const char *const *topics, size_t n, int timeout_ms)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;

        for (size_t i = 0; i < n; i++) {
                rd_kafka_topic_t *t =
                    p->nprepared < MAX_PREPARED ? rd_kafka_topic_new(p->rk, topics[i], NULL) : NULL;
                if (!t)
                        osh_warn("%s: not prepared (at most %d topics)", topics[i], MAX_PREPARED);
                else
                        p->prepared[p->nprepared++] = t;
        }
        /* all_topics 0 without a topic: the topics this handle knows */
        err = rd_kafka_metadata(p->rk, 0, NULL, &md, timeout_ms);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (err) {
                osh_warn("metadata for the output topics not fetched (%s); the first records "
                         "will wait for it",
                         rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

void osh_producer_set_delivery_cb(osh_producer_t *p, osh_delivery_cb_t *cb, void *opaque)
{
        p->cb = cb;
        p->cb_opaque = opaque;
}

int osh_producer_send(osh_producer_t *p, const osh_kafka_msg_t *m, void *msg_opaque)
{
        rd_kafka_resp_err_t err;

        for (;;) {
                err = rd_kafka_producev(
                    p->rk, RD_KAFKA_V_TOPIC(m->topic), RD_KAFKA_V_PARTITION(m->partition),
                    RD_KAFKA_V_KEY(m->key, m->key_len),
                    RD_KAFKA_V_VALUE((void *)m->value, m->value_len),
                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(m->timestamp_ms),
                    RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_HEADERS(m->headers), RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                /* Back-pressure: serve delivery reports, then try again
                 * soon (a long poll idles while acks free room). */
                if (osh_shutdown_requested())
                        break;
                rd_kafka_poll(p->rk, 5);
        }
        if (err) {
                osh_error("produce to %s failed: %s", m->topic, rd_kafka_err2str(err));
                return -1;
        }
        p->produced++;
        rd_kafka_poll(p->rk, 0);
        return 0;
}

void osh_producer_poll(osh_producer_t *p, int timeout_ms)
{
        rd_kafka_poll(p->rk, timeout_ms);
}

/* Flushes in short slices so that a shutdown requested meanwhile cuts the
 * wait to what is left of its grace (a 60 s flush against a dead broker
 * would otherwise outlive the 10 s a service has to exit). */
static void flush_bounded(osh_producer_t *p, int timeout_ms)
{
        int64_t start = osh_mono_ms();

        while (rd_kafka_outq_len(p->rk) > 0) {
                int64_t left = timeout_ms - (osh_mono_ms() - start);
                left = osh_shutdown_budget_ms(left > 0 ? (int)left : 0);
                if (left <= 0)
                        break;
                rd_kafka_flush(p->rk, left < FLUSH_SLICE_MS ? (int)left : FLUSH_SLICE_MS);
        }
}

int osh_producer_flush(osh_producer_t *p, int timeout_ms)
{
        int left;

        flush_bounded(p, timeout_ms);
        left = rd_kafka_outq_len(p->rk);
        if (left > 0) {
                osh_error("%d message(s) still queued after the flush (%s)", left,
                          osh_shutdown_requested() ? "shutting down" : "timed out");
                return -1;
        }
        if (__atomic_load_n(&p->failed, __ATOMIC_RELAXED) > 0) {
                osh_error("%" PRIu64 " delivery failure(s) since start",
                          __atomic_load_n(&p->failed, __ATOMIC_RELAXED));
                return -1;
        }
        return 0;
}

void osh_producer_purge(osh_producer_t *p)
{
        int left = rd_kafka_outq_len(p->rk);

        p->purging = 1; /* one summary line instead of one per record */
        rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p->rk, PURGE_REPORTS_MS); /* the purged reports are local */
        if (left > 0)
                osh_warn("%d record(s) not delivered: purged (topics: %s)", left,
                         p->purged_topics[0] ? p->purged_topics : "-");
}

void osh_producer_stats(const osh_producer_t *p, osh_producer_stats_t *out)
{
        out->produced = __atomic_load_n(&p->produced, __ATOMIC_RELAXED);
        out->delivered = __atomic_load_n(&p->delivered, __ATOMIC_RELAXED);
        out->failed = __atomic_load_n(&p->failed, __ATOMIC_RELAXED);
}

rd_kafka_t *osh_producer_handle(osh_producer_t *p)
{
        return p->rk;
}

void osh_producer_destroy(osh_producer_t *p)
{
        if (!p)
                return;
        if (p->rk) {
                if (rd_kafka_outq_len(p->rk) > 0)
                        flush_bounded(p, DESTROY_FLUSH_MS);
                if (rd_kafka_outq_len(p->rk) > 0)
                        osh_producer_purge(p);
                for (size_t i = 0; i < p->nprepared; i++)
                        rd_kafka_topic_destroy(p->prepared[i]);
                rd_kafka_destroy(p->rk);
        }
        free(p);
}
