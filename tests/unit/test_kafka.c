/* kafka + consumer + heartbeat against an in-process librdkafka mock cluster
 * (real clients over TCP on loopback). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "oshirase/heartbeat.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/scan.h"
#include "oshirase/serde.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char bootstrap[256];
static int topic_seq;

static int setup_all(void **state)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        osh_log_init("test_kafka", NULL, OSH_LOG_WARN, 0);
        mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        assert_non_null(mock_rk);
        mock = rd_kafka_mock_cluster_new(mock_rk, 1);
        assert_non_null(mock);
        snprintf(bootstrap, sizeof(bootstrap), "%s", rd_kafka_mock_cluster_bootstraps(mock));
        rd_kafka_mock_topic_create(mock, OSH_TOPIC_OPS, 1, 1);
        if (osh_serde_init(errstr, sizeof(errstr)))
                fail_msg("serde: %s", errstr);
        return 0;
}

static int teardown_all(void **state)
{
        osh_serde_shutdown();
        rd_kafka_mock_cluster_destroy(mock);
        rd_kafka_destroy(mock_rk);
        return 0;
}

/* A fresh topic per test keeps tests independent of each other's records. */
static const char *new_topic(char *buf, size_t size, int partitions)
{
        snprintf(buf, size, "test.topic.%d", ++topic_seq);
        rd_kafka_mock_topic_create(mock, buf, partitions, 1);
        return buf;
}

static osh_producer_t *producer(const char *extra_key, const char *extra_val)
{
        char errstr[256];
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_PRODUCER, bootstrap, errstr, sizeof(errstr));
        assert_non_null(conf);
        if (extra_key)
                assert_int_equal(
                    osh_kafka_conf_set(conf, extra_key, extra_val, errstr, sizeof(errstr)), 0);
        osh_producer_t *p = osh_producer_new(conf, errstr, sizeof(errstr));
        assert_non_null(p);
        return p;
}

static osh_consumer_t *consumer(const char *topic, const char *group, const osh_replay_t *replay)
{
        char errstr[256];
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_CONSUMER, bootstrap, errstr, sizeof(errstr));
        assert_non_null(conf);
        osh_consumer_t *c =
            osh_consumer_new(conf, group, &topic, 1, replay, errstr, sizeof(errstr));
        assert_non_null(c);
        return c;
}

static void send_n(osh_producer_t *p, const char *topic, int from, int n, const char *batch,
                   int64_t ts)
{
        for (int i = from; i < from + n; i++) {
                char val[32];
                rd_kafka_headers_t *h = NULL;
                snprintf(val, sizeof(val), "v%d", i);
                if (batch) {
                        h = rd_kafka_headers_new(1);
                        rd_kafka_header_add(h, OSH_HDR_BATCH_ID, -1, batch, -1);
                }
                osh_kafka_msg_t m = {.topic = topic,
                                     .partition = 0,
                                     .key = val,
                                     .key_len = strlen(val),
                                     .value = val,
                                     .value_len = strlen(val),
                                     .headers = h,
                                     .timestamp_ms = ts};
                assert_int_equal(osh_producer_send(p, &m, NULL), 0);
        }
}

/* Consumes until every partition is at its end; returns the count and the
 * sum of the value numbers (so we check *which* records came, not only how many). */
static int drain(osh_consumer_t *c, long *sum, int store)
{
        int n = 0, idle = 0;

        *sum = 0;
        while (idle < 150) {
                rd_kafka_message_t *m = osh_consumer_poll(c, 100);
                if (!m) {
                        if (osh_consumer_at_end(c))
                                break;
                        idle++;
                        continue;
                }
                char buf[32];
                snprintf(buf, sizeof(buf), "%.*s", (int)m->len, (const char *)m->payload);
                *sum += atol(buf + 1);
                n++;
                if (store)
                        assert_int_equal(osh_consumer_store(c, m), 0);
                rd_kafka_message_destroy(m);
        }
        return n;
}

static void test_produce_delivery_accounting(void **state)
{
        char topic[64];
        osh_producer_stats_t st;
        osh_producer_t *p = producer(NULL, NULL);

        new_topic(topic, sizeof(topic), 2);
        send_n(p, topic, 0, 100, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        osh_producer_stats(p, &st);
        assert_int_equal(st.produced, 100);
        assert_int_equal(st.delivered, 100);
        assert_int_equal(st.failed, 0);
        osh_producer_destroy(p);
}

static void test_backpressure_loses_nothing(void **state)
{
        char topic[64];
        osh_producer_stats_t st;
        /* A 10-message local queue forces send() to wait for delivery reports. */
        osh_producer_t *p = producer("queue.buffering.max.messages", "10");

        new_topic(topic, sizeof(topic), 1);
        send_n(p, topic, 0, 2000, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 20000), 0);
        osh_producer_stats(p, &st);
        assert_int_equal(st.delivered, 2000);
        osh_producer_destroy(p);
}

static void test_flush_reports_failure(void **state)
{
        char topic[64];
        osh_producer_stats_t st;
        osh_producer_t *p = producer("message.timeout.ms", "300");

        new_topic(topic, sizeof(topic), 1);
        rd_kafka_mock_broker_set_down(mock, 1);
        send_n(p, topic, 0, 5, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 5000), -1);
        osh_producer_stats(p, &st);
        assert_int_equal(st.failed, 5);
        rd_kafka_mock_broker_set_up(mock, 1);
        osh_producer_destroy(p);
}

/* Partitioning a message needs the topic's partition count: librdkafka
 * partitions in producev() when it has it, else later on its own thread. */
static pthread_t sender;
static int partitioned_by_sender;

static int32_t note_partitioner(const rd_kafka_topic_t *t, const void *key, size_t key_len,
                                int32_t n, void *topic_opaque, void *msg_opaque)
{
        (void)t, (void)key, (void)key_len, (void)topic_opaque, (void)msg_opaque;
        partitioned_by_sender |= pthread_equal(pthread_self(), sender);
        return n - 1;
}

static osh_producer_t *noting_producer(const char *bs)
{
        char errstr[256];
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_PRODUCER, bs, errstr, sizeof(errstr));
        rd_kafka_topic_conf_t *tc = rd_kafka_topic_conf_new();

        rd_kafka_topic_conf_set_partitioner_cb(tc, note_partitioner);
        rd_kafka_conf_set_default_topic_conf(conf, tc);
        osh_producer_t *p = osh_producer_new(conf, errstr, sizeof(errstr));
        assert_non_null(p);
        return p;
}

static void send_ua(osh_producer_t *p, const char *topic)
{
        /* keyed: a keyless message would take the sticky partition instead */
        osh_kafka_msg_t m = {.topic = topic,
                             .partition = RD_KAFKA_PARTITION_UA,
                             .key = "k",
                             .key_len = 1,
                             .value = "x",
                             .value_len = 1};

        sender = pthread_self();
        partitioned_by_sender = 0;
        assert_int_equal(osh_producer_send(p, &m, NULL), 0);
}

static void test_prepare_learns_partitions_up_front(void **state)
{
        char topic[64];
        const char *topics[] = {topic};
        osh_producer_stats_t st;
        osh_producer_t *p = noting_producer(bootstrap);

        /* unprepared: the first message waits for librdkafka's metadata tick */
        new_topic(topic, sizeof(topic), 3);
        send_ua(p, topic);
        assert_int_equal(partitioned_by_sender, 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        osh_producer_destroy(p);

        p = noting_producer(bootstrap);
        new_topic(topic, sizeof(topic), 3);
        usleep(300000); /* connected by now: the lookup is prepare's own */
        assert_int_equal(osh_producer_prepare(p, topics, 1, 10000), 0);
        send_ua(p, topic);
        assert_int_equal(partitioned_by_sender, 1);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        osh_producer_stats(p, &st);
        assert_int_equal(st.delivered, 1);
        osh_producer_destroy(p);
}

static void test_prepare_without_broker_gives_up(void **state)
{
        const char *topics[] = {"test.unreachable"};
        osh_producer_t *p = noting_producer("127.0.0.1:1");

        assert_int_equal(osh_producer_prepare(p, topics, 1, 300), -1);
        osh_producer_purge(p);
        osh_producer_destroy(p);
}

static void test_commit_then_resume(void **state)
{
        char topic[64];
        long sum;
        osh_producer_t *p = producer(NULL, NULL);

        new_topic(topic, sizeof(topic), 1);
        send_n(p, topic, 0, 50, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);

        osh_consumer_t *c = consumer(topic, "g-resume", NULL);
        assert_int_equal(drain(c, &sum, 1), 50);
        assert_int_equal(sum, 49 * 50 / 2);
        assert_int_equal(osh_consumer_lag(c), 0);
        assert_int_equal(osh_consumer_commit(c), 0);
        osh_consumer_destroy(c);

        send_n(p, topic, 50, 10, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        c = consumer(topic, "g-resume", NULL);
        assert_int_equal(drain(c, &sum, 1), 10); /* only the new ones */
        assert_int_equal(sum, 50 + 51 + 52 + 53 + 54 + 55 + 56 + 57 + 58 + 59);
        osh_consumer_destroy(c);
        osh_producer_destroy(p);
}

static void test_unstored_is_redelivered(void **state)
{
        char topic[64];
        long sum;
        osh_producer_t *p = producer(NULL, NULL);

        new_topic(topic, sizeof(topic), 1);
        send_n(p, topic, 0, 20, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        osh_consumer_t *c = consumer(topic, "g-unstored", NULL);
        assert_int_equal(drain(c, &sum, 0), 20); /* processed nothing "successfully" */
        osh_consumer_destroy(c);
        c = consumer(topic, "g-unstored", NULL);
        assert_int_equal(drain(c, &sum, 1), 20);
        osh_consumer_destroy(c);
        osh_producer_destroy(p);
}

static void test_replay_earliest_and_batch(void **state)
{
        char topic[64];
        long sum;
        osh_replay_t r;
        osh_producer_t *p = producer(NULL, NULL);

        new_topic(topic, sizeof(topic), 1);
        send_n(p, topic, 0, 10, "B1", 0);
        send_n(p, topic, 10, 10, "B2", 0);
        send_n(p, topic, 20, 10, "B3", 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);

        osh_consumer_t *c = consumer(topic, "g-replay", NULL);
        assert_int_equal(drain(c, &sum, 1), 30);
        osh_consumer_destroy(c);

        assert_int_equal(osh_config_replay_parse("earliest", &r), 0);
        c = consumer(topic, "g-replay", &r);
        assert_int_equal(drain(c, &sum, 1), 30);
        osh_consumer_destroy(c);

        assert_int_equal(osh_config_replay_parse("batch:B2", &r), 0);
        c = consumer(topic, "g-replay", &r);
        assert_int_equal(drain(c, &sum, 1), 20); /* B2 and what followed it */
        assert_int_equal(sum, (10 + 29) * 20 / 2);
        osh_consumer_destroy(c);
        osh_producer_destroy(p);
}

static void test_replay_timestamp(void **state)
{
        char topic[64];
        long sum;
        osh_replay_t r;
        osh_producer_t *p = producer(NULL, NULL);

        new_topic(topic, sizeof(topic), 1);
        send_n(p, topic, 0, 5, NULL, 1700000000000);
        send_n(p, topic, 5, 5, NULL, 1700000100000);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        assert_int_equal(osh_config_replay_parse("ts:1700000050000", &r), 0);
        osh_consumer_t *c = consumer(topic, "g-ts", &r);
        assert_int_equal(drain(c, &sum, 1), 5);
        assert_int_equal(sum, 5 + 6 + 7 + 8 + 9);
        osh_consumer_destroy(c);
        osh_producer_destroy(p);
}

/* A consumer's prefetch must not stop at librdkafka's 100K default (the
 * fetcher then idles up to 1 s while the stage has drained its queue), nor
 * wait 500 ms on an empty Fetch (docs/performance.md, bench-crossing
 * --stats). */
static void test_consumer_prefetch_threshold(void **state)
{
        char errstr[256], val[32];
        size_t len = sizeof(val);
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_CONSUMER, bootstrap, errstr, sizeof(errstr));

        (void)state;
        assert_non_null(conf);
        assert_int_equal(rd_kafka_conf_get(conf, "queued.min.messages", val, &len),
                         RD_KAFKA_CONF_OK);
        assert_true(atol(val) >= 1000000);
        len = sizeof(val);
        assert_int_equal(rd_kafka_conf_get(conf, "queued.max.messages.kbytes", val, &len),
                         RD_KAFKA_CONF_OK);
        assert_true(atol(val) <= 65536); /* memory stays bounded */
        /* the mock holds an empty Fetch this long whatever arrives */
        len = sizeof(val);
        assert_int_equal(rd_kafka_conf_get(conf, "fetch.wait.max.ms", val, &len), RD_KAFKA_CONF_OK);
        assert_true(atol(val) <= 50);
        rd_kafka_conf_destroy(conf);
}

static void test_heartbeat_record(void **state)
{
        char errstr[256], topic[64];
        osh_heartbeat_id_t id = {"svc", "svc-1", "processing"};
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_PRODUCER, bootstrap, errstr, sizeof(errstr));
        osh_heartbeat_t *hb = osh_heartbeat_new(conf, &id, 1000, errstr, sizeof(errstr));
        const char *s;
        int64_t n;
        size_t len;

        assert_non_null(hb);
        osh_heartbeat_count(hb, OSH_CTR_IN, 7);
        osh_heartbeat_count(hb, OSH_CTR_REJECTED, 2);
        osh_heartbeat_set_batch(hb, "batch-42");
        osh_heartbeat_set_state(hb, OSH_STATE_RUNNING);
        osh_heartbeat_set_lag(hb, 3);
        assert_int_equal(osh_heartbeat_set_named(hb, "files", 4), 0);
        assert_int_equal(osh_heartbeat_emit(hb), 0);
        osh_heartbeat_destroy(hb); /* adds a STOPPED heartbeat */

        snprintf(topic, sizeof(topic), "%s", OSH_TOPIC_OPS);
        osh_consumer_t *c = consumer(topic, "g-hb", NULL);
        const char *states[2] = {"RUNNING", "STOPPED"};
        for (int i = 0; i < 2; i++) {
                rd_kafka_message_t *m = NULL;
                for (int t = 0; t < 100 && !m; t++)
                        m = osh_consumer_poll(c, 100);
                assert_non_null(m);
                avro_value_t v;
                assert_int_equal(osh_serde_decode(osh_schema_for_topic(OSH_TOPIC_OPS), m->payload,
                                                  m->len, &v, NULL, errstr, sizeof(errstr)),
                                 0);
                assert_int_equal(osh_value_get_enum(&v, "state", &s), 0);
                assert_string_equal(s, states[i]);
                assert_int_equal(osh_value_get_enum(&v, "segment", &s), 0);
                assert_string_equal(s, "PROCESSING");
                assert_int_equal(osh_value_get_long(&v, "records_in", &n), 0);
                assert_int_equal(n, 7);
                assert_int_equal(osh_value_get_long(&v, "records_rejected", &n), 0);
                assert_int_equal(n, 2);
                assert_int_equal(osh_value_get_long(&v, "lag", &n), 0);
                assert_int_equal(n, 3);
                assert_int_equal(osh_value_get_string(&v, "last_batch_id", &s, &len), 0);
                assert_string_equal(s, "batch-42");
                assert_int_equal(m->key_len, 5);
                assert_memory_equal(m->key, "svc-1", 5);
                avro_value_decref(&v);
                rd_kafka_message_destroy(m);
        }
        osh_consumer_destroy(c);
}

/* Issue 15.6: the mock keeps ~5 MiB per partition and drops older records.
 * A group whose committed offset is gone, and a replay from the earliest,
 * both count what they missed (never a silent reset) and read on from the
 * first record held. */
static void test_removed_records_are_an_alarm(void **state)
{
        char topic[64];
        static char big[200000];
        long sum;
        int64_t lo, hi, lost0 = osh_kafka_records_lost();
        osh_replay_t earliest = {.kind = OSH_REPLAY_EARLIEST};
        osh_producer_t *p = producer(NULL, NULL);
        osh_consumer_t *c;

        new_topic(topic, sizeof(topic), 1);
        send_n(p, topic, 0, 5, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        c = consumer(topic, "g-lost", NULL);
        assert_int_equal(drain(c, &sum, 1), 5);
        assert_int_equal(osh_consumer_commit(c), 0);
        osh_consumer_destroy(c);
        assert_int_equal(osh_kafka_records_lost(), lost0); /* nothing removed yet */

        srand(15);
        for (size_t i = 0; i < sizeof(big); i++) /* lz4 must not shrink it */
                big[i] = (char)rand();
        for (int i = 0; i < 40; i++) { /* 8 MB: the mock drops the oldest */
                osh_kafka_msg_t m = {.topic = topic, .value = big, .value_len = sizeof(big)};
                assert_int_equal(osh_producer_send(p, &m, NULL), 0);
                assert_int_equal(osh_producer_flush(p, 10000), 0);
        }
        assert_int_equal(
            rd_kafka_query_watermark_offsets(osh_producer_handle(p), topic, 0, &lo, &hi, 5000), 0);
        assert_true(lo > 5);
        c = consumer(topic, "g-lost", NULL);
        assert_int_equal(drain(c, &sum, 1), hi - lo);
        assert_int_equal(osh_kafka_records_lost() - lost0, lo - 5);
        osh_consumer_destroy(c);

        c = consumer(topic, "g-lost-replay", &earliest);
        assert_int_equal(drain(c, &sum, 1), hi - lo);
        assert_int_equal(osh_kafka_records_lost() - lost0, 2 * lo - 5);
        osh_consumer_destroy(c);
        osh_producer_destroy(p);
}

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Issue 15.11: with the broker gone, a flush asked for 60 s, the producer's
 * destroy and a consumer's close all end within the shutdown grace. */
static void test_shutdown_is_bounded_with_broker_down(void **state)
{
        char topic[64];
        long sum;
        int64_t t0;
        osh_producer_t *p = producer(NULL, NULL);
        osh_consumer_t *c;

        new_topic(topic, sizeof(topic), 1);
        send_n(p, topic, 0, 5, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 10000), 0);
        c = consumer(topic, "g-shutdown", NULL);
        assert_int_equal(drain(c, &sum, 1), 5);

        rd_kafka_mock_broker_set_down(mock, 1);
        send_n(p, topic, 5, 5, NULL, 0);
        assert_int_equal(osh_shutdown_budget_ms(60000), 60000);
        assert_int_equal(osh_shutdown_elapsed_ms(), -1);
        osh_shutdown_request();
        t0 = mono_ms();
        assert_in_range(osh_shutdown_elapsed_ms(), 0, 1000);
        assert_true(osh_shutdown_budget_ms(60000) <= OSH_SHUTDOWN_GRACE_MS);
        assert_int_equal(osh_shutdown_budget_ms(10), 10);
        assert_int_equal(osh_producer_flush(p, 60000), -1);
        assert_true(mono_ms() - t0 < OSH_SHUTDOWN_GRACE_MS + 1000);
        assert_int_equal(osh_shutdown_budget_ms(60000), 0);
        assert_true(osh_shutdown_elapsed_ms() >= OSH_SHUTDOWN_GRACE_MS);
        osh_consumer_destroy(c); /* its close cannot commit: left behind */
        osh_producer_destroy(p); /* purges the five undelivered records */
        assert_true(mono_ms() - t0 < OSH_SHUTDOWN_GRACE_MS + 1000);
        assert_int_equal(osh_kafka_close_wait(20000), 0);
        rd_kafka_mock_broker_set_up(mock, 1);
        osh_shutdown_reset();
        assert_int_equal(osh_shutdown_budget_ms(500), 500);
        assert_int_equal(osh_shutdown_elapsed_ms(), -1);
}

/* ---- assign-mode reads (scan.h) ---- */

struct scan_seen {
        int n;
        long sum;
};

static int scan_record(void *opaque, const rd_kafka_message_t *m)
{
        struct scan_seen *seen = opaque;
        char buf[32];

        snprintf(buf, sizeof(buf), "%.*s", (int)m->len, (const char *)m->payload);
        seen->sum += atol(buf + 1);
        seen->n++;
        return atol(buf + 1) % 4 == 0; /* "a match", for osh_scan_last */
}

static int64_t scan_from_2(void *opaque, const char *topic, int32_t partition)
{
        return 2;
}

static rd_kafka_t *scan_handle(void)
{
        char errstr[256];
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_CONSUMER, bootstrap, errstr, sizeof(errstr));
        rd_kafka_t *rk;

        assert_non_null(conf);
        assert_int_equal(osh_kafka_conf_set(conf, "group.id", "scan", errstr, sizeof(errstr)), 0);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        assert_non_null(rk);
        return rk;
}

/* A reader on the mock cluster, configured as a service's would be. */
static osh_scan_t *scan_reader(osh_config_t **cfg)
{
        char errstr[256], text[300];
        char *argv[] = {"test_kafka", NULL}, *env[] = {NULL};
        osh_scan_t *s;

        *cfg = osh_config_new("test_kafka", NULL, 0);
        assert_non_null(*cfg);
        snprintf(text, sizeof(text), "kafka.bootstrap.servers = %s\n", bootstrap);
        assert_int_equal(
            osh_config_load_text(*cfg, "t", text, strlen(text), errstr, sizeof(errstr)), 0);
        assert_int_equal(osh_config_load(*cfg, 1, argv, env, errstr, sizeof(errstr)),
                         OSH_CONFIG_RUN);
        s = osh_scan_new(*cfg, "kafka.", errstr, sizeof(errstr));
        assert_non_null(s);
        return s;
}

static void test_scan_to_watermarks(void **state)
{
        char topic[64], errstr[256];
        osh_producer_t *p = producer(NULL, NULL);
        osh_config_t *cfg;
        osh_scan_t *s = scan_reader(&cfg);
        rd_kafka_t *rk = scan_handle();
        struct scan_seen seen = {0, 0};

        new_topic(topic, sizeof(topic), 3);
        assert_int_equal(osh_scan_partition_count(rk, topic, 5000, errstr, sizeof(errstr)), 3);
        send_n(p, topic, 1, 10, NULL, 0); /* all to partition 0 */
        assert_int_equal(osh_producer_flush(p, 5000), 0);
        assert_int_equal(osh_scan_topic(s, topic, NULL, scan_record, &seen, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(seen.n, 10);
        assert_int_equal(seen.sum, 55);
        /* from offset 2: v3..v10; records sent after the read began are not waited for */
        seen = (struct scan_seen){0, 0};
        assert_int_equal(
            osh_scan_topic(s, topic, scan_from_2, scan_record, &seen, errstr, sizeof(errstr)), 0);
        assert_int_equal(seen.n, 8);
        assert_int_equal(seen.sum, 52);
        /* a topic with nothing in it is an empty read (the mock creates any topic asked about) */
        seen = (struct scan_seen){0, 0};
        assert_int_equal(
            osh_scan_topic(s, "test.empty.topic", NULL, scan_record, &seen, errstr, sizeof(errstr)),
            0);
        assert_int_equal(seen.n, 0);
        osh_producer_destroy(p);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        osh_scan_destroy(s);
        osh_config_destroy(cfg);
}

/* The last match is found reading back from the end; marks taken now
 * bound what is written after them. */
static void test_scan_last_and_marks(void **state)
{
        char topic[64], errstr[256], marks[256] = "";
        osh_producer_t *p = producer(NULL, NULL);
        osh_config_t *cfg;
        osh_scan_t *s = scan_reader(&cfg);
        struct scan_seen seen = {0, 0};

        new_topic(topic, sizeof(topic), 1);
        assert_int_equal(osh_scan_last(s, topic, 0, scan_record, &seen, errstr, sizeof(errstr)),
                         0); /* empty */
        send_n(p, topic, 1, 200, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 5000), 0);
        /* v200 matches: the first window (v137..v200) is enough */
        assert_int_equal(osh_scan_last(s, topic, 0, scan_record, &seen, errstr, sizeof(errstr)), 1);
        assert_int_equal(seen.n, 64);
        assert_int_equal(osh_scan_marks(s, topic, marks, sizeof(marks), errstr, sizeof(errstr)), 0);
        send_n(p, topic, 201, 3, NULL, 0);
        assert_int_equal(osh_producer_flush(p, 5000), 0);
        seen = (struct scan_seen){0, 0};
        assert_int_equal(osh_scan_from_marks(s, marks, scan_record, &seen, errstr, sizeof(errstr)),
                         0);
        assert_int_equal(seen.n, 3);
        assert_int_equal(seen.sum, 201 + 202 + 203);
        osh_producer_destroy(p);
        osh_scan_destroy(s);
        osh_config_destroy(cfg);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_produce_delivery_accounting),
            cmocka_unit_test(test_backpressure_loses_nothing),
            cmocka_unit_test(test_flush_reports_failure),
            cmocka_unit_test(test_prepare_learns_partitions_up_front),
            cmocka_unit_test(test_prepare_without_broker_gives_up),
            cmocka_unit_test(test_commit_then_resume),
            cmocka_unit_test(test_unstored_is_redelivered),
            cmocka_unit_test(test_replay_earliest_and_batch),
            cmocka_unit_test(test_replay_timestamp),
            cmocka_unit_test(test_consumer_prefetch_threshold),
            cmocka_unit_test(test_heartbeat_record),
            cmocka_unit_test(test_removed_records_are_an_alarm),
            cmocka_unit_test(test_scan_to_watermarks),
            cmocka_unit_test(test_scan_last_and_marks),
            cmocka_unit_test(test_shutdown_is_bounded_with_broker_down),
        };
        return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
