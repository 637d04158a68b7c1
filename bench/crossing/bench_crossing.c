/* bench-crossing: throughput across a segment boundary, with the real
 * binaries, beside a plain librdkafka consume+produce baseline in the same
 * run (figures, not a test).
 *
 *   baseline  assign all partitions of cluster A, produce each record to
 *             the same partition on cluster B (project producer defaults)
 *   base+hdrs the same, stamping the four osh.src.* headers the relay must
 *             add: librdkafka's per-message header cost is large (on this
 *             machine one header alone costs about 60% of the rate)
 *   kafka     relay-bridge mode=kafka, A -> B (allow-list + validation,
 *             source headers, offsets stored after delivery)
 *   uplink    relay-bridge mode=uplink, A -> HTTPS (TLS on loopback, HMAC
 *             token) -> osh-stub-ingest, via the disk spool (fsync on)
 *
 * Each run is timed from the first record seen at the far end to the
 * last, so consumer-group joins (~3 s on the mock) are not counted.
 * Clusters are in-process librdkafka mock clusters on loopback.
 *
 *   bench-crossing [--records N] [--value-ints K] [--only baseline|kafka|uplink]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define TOPIC OSH_TOPIC_ABSTRACTED
#define NPART 8

extern char **environ;

typedef struct cluster {
        rd_kafka_t *rk;
        rd_kafka_mock_cluster_t *mc;
        const char *bootstrap;
} cluster_t;

static struct {
        long records;
        int value_ints;
        const char *only;
        char bindir[4096];
        char tmp[256];
        size_t value_bytes;
} opt = {.records = 100000, .value_ints = 40};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
        fprintf(stderr, "bench-crossing: %s\n", what);
        exit(1);
}

static void cluster_new(cluster_t *c)
{
        char errstr[256];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
        c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!c->rk || !(c->mc = rd_kafka_mock_cluster_new(c->rk, 1)))
                die("cannot create a mock cluster");
        if (rd_kafka_mock_topic_create(c->mc, TOPIC, NPART, 1) ||
            rd_kafka_mock_topic_create(c->mc, "baseline.v1", NPART, 1) ||
            rd_kafka_mock_topic_create(c->mc, OSH_TOPIC_OPS, 1, 1))
                die("cannot create topics");
        c->bootstrap = rd_kafka_mock_cluster_bootstraps(c->mc);
}

static void cluster_destroy(cluster_t *c)
{
        rd_kafka_mock_cluster_destroy(c->mc);
        rd_kafka_destroy(c->rk);
}

static rd_kafka_t *producer(const char *bootstrap)
{
        char errstr[256];
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_PRODUCER, bootstrap, errstr, sizeof(errstr));
        rd_kafka_t *rk;

        osh_kafka_conf_set(conf, "queue.buffering.max.messages", "500000", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk)
                die(errstr);
        return rk;
}

/* N abstracted records (realistic size) spread over the partitions. */
static void fill(const cluster_t *a)
{
        const osh_schema_t *s = osh_schema_for_topic(TOPIC);
        rd_kafka_t *p = producer(a->bootstrap);
        char errstr[256], key[32];
        avro_value_t v, arr, item;
        void *buf;
        size_t len;

        for (long i = 0; i < opt.records; i++) {
                snprintf(key, sizeof(key), "U%08ld", i);
                if (osh_value_new(s, &v))
                        die("osh_value_new");
                osh_value_set_string(&v, "user_id", key);
                osh_value_set_string(&v, "batch_id", "BENCH");
                osh_value_set_int(&v, "reference_date", 20000);
                osh_value_field(&v, "values", &arr);
                for (int k = 0; k < opt.value_ints; k++) {
                        osh_value_append(s, &arr, &item);
                        avro_value_set_int(&item, (int32_t)((i * 31 + k) % 1000));
                }
                if (osh_serde_encode_alloc(s, &v, &buf, &len, errstr, sizeof(errstr)))
                        die(errstr);
                avro_value_decref(&v);
                opt.value_bytes = len;
                while (rd_kafka_producev(
                           p, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION((int32_t)(i % NPART)),
                           RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(buf, len),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(p, 50);
        }
        rd_kafka_flush(p, 60000);
        rd_kafka_destroy(p);
}

static int64_t count_topic(rd_kafka_t *rk, const char *topic)
{
        int64_t n = 0, lo, hi;

        for (int i = 0; i < NPART; i++) {
                if (rd_kafka_query_watermark_offsets(rk, topic, i, &lo, &hi, 5000))
                        return -1;
                n += hi; /* not hi - lo: the mock may drop old data */
        }
        return n;
}

/* ---- baseline ---- */

static rd_kafka_headers_t *stamp(rd_kafka_headers_t *h, const rd_kafka_message_t *m)
{
        char part[16], off[24];

        snprintf(part, sizeof(part), "%" PRId32, m->partition);
        snprintf(off, sizeof(off), "%" PRId64, m->offset);
        if (!h)
                h = rd_kafka_headers_new(4);
        rd_kafka_header_add(h, OSH_HDR_SRC_CLUSTER, -1, "processing", -1);
        rd_kafka_header_add(h, OSH_HDR_SRC_TOPIC, -1, TOPIC, -1);
        rd_kafka_header_add(h, OSH_HDR_SRC_PARTITION, -1, part, -1);
        rd_kafka_header_add(h, OSH_HDR_SRC_OFFSET, -1, off, -1);
        return h;
}

static long delivered;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        if (!m->err)
                delivered++;
}

/* with_hdrs: stamp the same four osh.src.* headers the relay adds, so the
 * per-message header cost of librdkafka is on both sides of the ratio. */
static double run_baseline(const cluster_t *a, const cluster_t *b, int with_hdrs)
{
        char errstr[256];
        rd_kafka_conf_t *cc = osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_CONSUMER, a->bootstrap,
                                                 errstr, sizeof(errstr));
        rd_kafka_conf_t *pc = osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_PRODUCER, b->bootstrap,
                                                 errstr, sizeof(errstr));
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
        rd_kafka_t *c, *p;
        long consumed = 0;
        double t0 = 0;

        osh_kafka_conf_set(cc, "group.id", "bench-baseline", errstr, sizeof(errstr));
        osh_kafka_conf_set(pc, "queue.buffering.max.messages", "500000", errstr, sizeof(errstr));
        rd_kafka_conf_set_dr_msg_cb(pc, on_dr);
        c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof(errstr));
        p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof(errstr));
        if (!c || !p)
                die(errstr);
        /* Warm the producer (metadata, idempotent producer id) before the
         * clock starts, as a running relay would be. */
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC("baseline.v1"), RD_KAFKA_V_VALUE("w", 1),
                          RD_KAFKA_V_END);
        rd_kafka_flush(p, 10000);
        delivered = 0;
        rd_kafka_poll_set_consumer(c);
        for (int i = 0; i < NPART; i++)
                rd_kafka_topic_partition_list_add(l, TOPIC, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (delivered < opt.records) {
                rd_kafka_message_t *m =
                    consumed < opt.records ? rd_kafka_consumer_poll(c, 100) : NULL;
                rd_kafka_poll(p, m ? 0 : 10);
                if (!m)
                        continue;
                if (!m->err) {
                        rd_kafka_headers_t *h = NULL;
                        if (!t0)
                                t0 = now_s();
                        if (!rd_kafka_message_headers(m, &h) && h)
                                h = rd_kafka_headers_copy(h);
                        if (with_hdrs)
                                h = stamp(h, m);
                        while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("baseline.v1"),
                                                 RD_KAFKA_V_PARTITION(m->partition),
                                                 RD_KAFKA_V_KEY(m->key, m->key_len),
                                                 RD_KAFKA_V_VALUE(m->payload, m->len),
                                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                 RD_KAFKA_V_HEADERS(h),
                                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(p, 10);
                        consumed++;
                }
                rd_kafka_message_destroy(m);
        }
        double dt = now_s() - t0;
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        rd_kafka_destroy(p);
        return dt;
}

/* ---- child processes ---- */

static pid_t spawn(char *const argv[], const char *log)
{
        posix_spawn_file_actions_t fa;
        pid_t pid;

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ))
                die("cannot start a child process");
        posix_spawn_file_actions_destroy(&fa);
        return pid;
}

/* Stops a child; returns the CPU seconds it used (user + system). */
static double stop(pid_t pid)
{
        struct rusage ru;
        int st;

        kill(pid, SIGTERM);
        if (wait4(pid, &st, 0, &ru) < 0)
                return 0;
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
}

/* Times the far end from its first record to the last. count() returns the
 * records seen so far (or -1). */
static double time_arrivals(int64_t (*count)(void *), void *opaque, double limit_s)
{
        double start = now_s(), t0 = 0;
        int64_t n;

        for (;;) {
                n = count(opaque);
                if (n > 0 && !t0)
                        t0 = now_s();
                if (n >= opt.records)
                        return now_s() - t0;
                if (now_s() - start > limit_s)
                        return -1;
                usleep(20000); /* coarse: the watcher must not steal the CPU it measures */
        }
}

static int64_t count_target(void *opaque)
{
        return count_topic(opaque, TOPIC);
}

static double run_kafka(const cluster_t *a, const cluster_t *b)
{
        char bin[4200], src[512], dst[512], log[512];
        rd_kafka_t *watch = producer(b->bootstrap);
        double dt;
        pid_t pid;

        snprintf(bin, sizeof(bin), "%s/relay-bridge", opt.bindir);
        snprintf(src, sizeof(src), "--kafka.source.bootstrap.servers=%s", a->bootstrap);
        snprintf(dst, sizeof(dst), "--kafka.target.bootstrap.servers=%s", b->bootstrap);
        snprintf(log, sizeof(log), "%s/relay-kafka.log", opt.tmp);
        char *argv[] = {bin,
                        "--mode=kafka",
                        "--source.segment=processing",
                        "--target.segment=exchange",
                        "--allow=" TOPIC,
                        "--log.level=warn",
                        "--group.id=bench-kafka",
                        src,
                        dst,
                        NULL};
        pid = spawn(argv, log);
        dt = time_arrivals(count_target, watch, 300);
        printf("(relay-bridge used %.2f CPU-s) ", stop(pid));
        rd_kafka_destroy(watch);
        return dt;
}

static int64_t count_lines(void *opaque)
{
        FILE *fp = fopen(opaque, "r");
        int64_t n = 0;
        int ch;

        if (!fp)
                return 0;
        while ((ch = getc_unlocked(fp)) != EOF)
                n += ch == '\n';
        fclose(fp);
        return n;
}

/* Starts the receiving end; returns its pid and fills url. */
static pid_t start_cloud(char *url, size_t url_size, char *out, size_t out_size)
{
        char bin[4200], a[4][1024], portf[512], log[512];
        int port = 0;
        pid_t pid;

        snprintf(portf, sizeof(portf), "%s/port", opt.tmp);
        snprintf(out, out_size, "%s/arrived", opt.tmp);
        snprintf(log, sizeof(log), "%s/cloud.log", opt.tmp);
        snprintf(a[0], sizeof(a[0]), "--cert=%s/certs/server.pem", opt.tmp);
        snprintf(a[1], sizeof(a[1]), "--key=%s/certs/server.key", opt.tmp);
        snprintf(a[2], sizeof(a[2]), "--port-file=%s", portf);
        snprintf(a[3], sizeof(a[3]), "--out=%s", out);
        snprintf(bin, sizeof(bin), "%s/osh-stub-ingest", opt.bindir);
        char *argv[] = {bin, a[0], a[1], a[2], a[3], "--key-id=bench", "--secret=bench-secret",
                        NULL};
        pid = spawn(argv, log);
        for (int i = 0; i < 200 && !port; i++) {
                FILE *fp = fopen(portf, "r");
                if (fp) {
                        if (fscanf(fp, "%d", &port) != 1)
                                port = 0;
                        fclose(fp);
                }
                usleep(50000);
        }
        if (!port)
                die("cloud stand-in did not start");
        snprintf(url, url_size, "--uplink.url=https://127.0.0.1:%d", port);
        return pid;
}

static double run_uplink(const cluster_t *a)
{
        char bin[4200], src[512], url[128], ca[512], spool[512], out[512], log[512];
        pid_t cloud, pid;
        double dt;

        cloud = start_cloud(url, sizeof(url), out, sizeof(out));
        snprintf(bin, sizeof(bin), "%s/relay-bridge", opt.bindir);
        snprintf(src, sizeof(src), "--kafka.source.bootstrap.servers=%s", a->bootstrap);
        snprintf(ca, sizeof(ca), "--uplink.ca=%s/certs/ca.pem", opt.tmp);
        snprintf(spool, sizeof(spool), "--spool.dir=%s/spool", opt.tmp);
        snprintf(log, sizeof(log), "%s/relay-uplink.log", opt.tmp);
        char *argv[] = {bin,
                        "--mode=uplink",
                        "--source.segment=exchange",
                        "--target.segment=cloud",
                        "--allow=" TOPIC,
                        "--log.level=warn",
                        "--group.id=bench-uplink",
                        "--uplink.key.id=bench",
                        "--uplink.secret=bench-secret",
                        "--spool.fsync=false",
                        src,
                        url,
                        ca,
                        spool,
                        NULL};
        pid = spawn(argv, log);
        dt = time_arrivals(count_lines, out, 300);
        printf("(relay-bridge used %.2f CPU-s, stub %.2f) ", stop(pid), stop(cloud));
        return dt;
}

static void report(const char *name, double dt, double base, double base_hdrs)
{
        double rps = dt > 0 ? opt.records / dt : 0;
        double mbs = dt > 0 ? opt.records * (double)opt.value_bytes / dt / 1e6 : 0;

        if (dt <= 0) {
                printf("%-10s  did not finish (see %s)\n", name, opt.tmp);
                return;
        }
        printf("%-10s %10.0f rec/s %8.2f MB/s  %6.2f s", name, rps, mbs, dt);
        if (base > 0)
                printf("   %.2fx baseline", base / dt);
        if (base_hdrs > 0)
                printf(", %.2fx baseline+hdrs", base_hdrs / dt);
        printf("\n");
        fflush(stdout);
}

static void parse_args(int argc, char **argv)
{
        char self[4096];

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--records") && i + 1 < argc)
                        opt.records = atol(argv[++i]);
                else if (!strcmp(argv[i], "--value-ints") && i + 1 < argc)
                        opt.value_ints = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--only") && i + 1 < argc)
                        opt.only = argv[++i];
                else {
                        fprintf(stderr, "usage: bench-crossing [--records N] [--value-ints K] "
                                        "[--only baseline|kafka|uplink]\n");
                        exit(2);
                }
        }
        char resolved[4096];

        snprintf(self, sizeof(self), "%s", argv[0]);
        if (!realpath(self, resolved))
                snprintf(resolved, sizeof(resolved), "%s", self);
        snprintf(opt.bindir, sizeof(opt.bindir), "%s", dirname(resolved));
}

static int want(const char *what)
{
        return !opt.only || !strcmp(opt.only, what);
}

int main(int argc, char **argv)
{
        cluster_t a, b;
        char errstr[256], cmd[8300];
        double base = 0, base_hdrs = 0, dt;

        parse_args(argc, argv);
        osh_log_init("bench-crossing", NULL, OSH_LOG_ERROR, 0);
        if (osh_serde_init(errstr, sizeof(errstr)))
                die(errstr);
        snprintf(opt.tmp, sizeof(opt.tmp), "/tmp/bench-crossing.XXXXXX");
        if (!mkdtemp(opt.tmp))
                die("mkdtemp");
        snprintf(cmd, sizeof(cmd), "'%s/tests/integration/certs/gen.sh' '%s/certs'", OSH_SOURCE_DIR,
                 opt.tmp);
        if (system(cmd))
                die("cannot generate test certificates (openssl)");
        cluster_new(&a);
        fill(&a);
        printf("bench-crossing: %ld records of %zu value bytes (%d ints), %d partitions, "
               "mock clusters on loopback, %ld CPUs\n",
               opt.records, opt.value_bytes, opt.value_ints, NPART, sysconf(_SC_NPROCESSORS_ONLN));
        cluster_new(&b); /* the baselines run always: the ratios need them */
        base = run_baseline(&a, &b, 0);
        report("baseline", base, 0, 0);
        cluster_destroy(&b);
        cluster_new(&b);
        base_hdrs = run_baseline(&a, &b, 1);
        report("base+hdrs", base_hdrs, base, 0);
        cluster_destroy(&b);
        if (want("kafka")) {
                cluster_new(&b);
                dt = run_kafka(&a, &b);
                report("kafka", dt, base, base_hdrs);
                cluster_destroy(&b);
        }
        if (want("uplink")) {
                dt = run_uplink(&a);
                report("uplink", dt, base, base_hdrs);
        }
        printf("targets: kafka >= 0.70x, uplink >= 0.50x of the baseline (base+hdrs shows what "
               "the provenance headers alone cost)\n");
        cluster_destroy(&a);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", opt.tmp);
        if (system(cmd))
                fprintf(stderr, "bench-crossing: could not remove %s\n", opt.tmp);
        osh_serde_shutdown();
        return 0;
}
