/* bench-pipeline-watch: prints, to the millisecond, when each batch marker
 * arrives on batch.control.v1 of each segment's cluster (figures, not a
 * test; bench-pipeline.sh drives it).
 *
 *   bench-pipeline-watch --until CLUSTER:TOPIC [--timeout S] NAME=BOOTSTRAP...
 *
 * One plain consumer per cluster, assigned every partition of
 * batch.control.v1 from the end (so earlier batches do not count) with a
 * 5 ms fetch wait; all are polled round-robin from one thread. Each END
 * marker prints as
 *
 *   <unix ms> <cluster> END <topic> <batch id> <records>
 *
 * and the watcher exits 0 after the END of TOPIC on CLUSTER, 1 on timeout.
 * Wall time is CLOCK_REALTIME so that it lines up with the services' log
 * timestamps and the driver's drop time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "oshirase/batch.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define MAX_CLUSTERS 8

typedef struct watched {
        char name[32];
        rd_kafka_t *rk;
} watched_t;

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A consumer on every partition of batch.control.v1, from its end. */
static rd_kafka_t *watch_new(const char *bootstrap, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_topic_partition_list_t *l = NULL;
        rd_kafka_topic_t *rkt = NULL;
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, errstr_size) ||
            rd_kafka_conf_set(conf, "group.id", "bench-pipeline-watch", errstr, errstr_size) ||
            rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, errstr_size) ||
            rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
            rd_kafka_conf_set(conf, "log_level", "3", errstr, errstr_size)) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_poll_set_consumer(rk);
        rkt = rd_kafka_topic_new(rk, OSH_TOPIC_BATCH, NULL);
        if (!rkt || rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
            md->topics[0].err || md->topics[0].partition_cnt < 1) {
                snprintf(errstr, errstr_size, "no metadata for %s at %s", OSH_TOPIC_BATCH,
                         bootstrap);
                goto fail;
        }
        l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
                rd_kafka_topic_partition_list_add(l, OSH_TOPIC_BATCH,
                                                  md->topics[0].partitions[i].id)
                    ->offset = RD_KAFKA_OFFSET_END;
        if (rd_kafka_assign(rk, l)) {
                snprintf(errstr, errstr_size, "cannot assign %s", OSH_TOPIC_BATCH);
                goto fail;
        }
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
        return rk;
fail:
        if (l)
                rd_kafka_topic_partition_list_destroy(l);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return NULL;
}

/* 1 when m is the END marker we wait for. */
static int report(const watched_t *w, const rd_kafka_message_t *m, const char *until)
{
        osh_batch_marker_t mk;
        char errstr[256], key[512];

        if (m->err || osh_batch_marker_decode(m->payload, m->len, &mk, errstr, sizeof(errstr)) ||
            !mk.is_end)
                return 0;
        printf("%" PRId64 " %s END %s %s %" PRId64 "\n", now_ms(), w->name, mk.topic, mk.batch_id,
               mk.record_count);
        fflush(stdout);
        snprintf(key, sizeof(key), "%s:%s", w->name, mk.topic);
        return !strcmp(key, until);
}

int main(int argc, char **argv)
{
        watched_t w[MAX_CLUSTERS];
        const char *until = NULL;
        char errstr[256];
        int n = 0, done = 0;
        double timeout_s = 120;

        osh_log_init("bench-pipeline-watch", NULL, OSH_LOG_ERROR, 0);
        if (osh_serde_init(errstr, sizeof(errstr))) {
                fprintf(stderr, "bench-pipeline-watch: %s\n", errstr);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                const char *eq = strchr(argv[i], '=');
                if (!strcmp(argv[i], "--until") && i + 1 < argc) {
                        until = argv[++i];
                } else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
                        timeout_s = atof(argv[++i]);
                } else if (eq && n < MAX_CLUSTERS && (size_t)(eq - argv[i]) < sizeof(w[n].name)) {
                        snprintf(w[n].name, sizeof(w[n].name), "%.*s", (int)(eq - argv[i]),
                                 argv[i]);
                        if (!(w[n].rk = watch_new(eq + 1, errstr, sizeof(errstr)))) {
                                fprintf(stderr, "bench-pipeline-watch: %s\n", errstr);
                                return 2;
                        }
                        n++;
                } else {
                        fprintf(stderr, "usage: bench-pipeline-watch --until CLUSTER:TOPIC "
                                        "[--timeout S] NAME=BOOTSTRAP...\n");
                        return 2;
                }
        }
        if (!until || !n) {
                fprintf(stderr, "bench-pipeline-watch: --until and a cluster are required\n");
                return 2;
        }
        printf("%" PRId64 " watching\n", now_ms());
        fflush(stdout);
        for (int64_t end = now_ms() + (int64_t)(timeout_s * 1000); !done && now_ms() < end;)
                for (int i = 0; i < n && !done; i++) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(w[i].rk, 2);
                        if (m) {
                                done = report(&w[i], m, until);
                                rd_kafka_message_destroy(m);
                        }
                }
        for (int i = 0; i < n; i++) {
                rd_kafka_consumer_close(w[i].rk);
                rd_kafka_destroy(w[i].rk);
        }
        osh_serde_shutdown();
        return done ? 0 : 1;
}
