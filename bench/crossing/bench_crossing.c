/* bench-crossing: throughput across a segment boundary, with the real
 * binaries, beside a plain librdkafka consume+produce baseline (figures,
 * not a test). Every mode runs once per round and the rounds interleave, so
 * machine noise lands on all of them alike; the summary gives the median
 * and min-max of each, and ratios of medians.
 *
 *   baseline  assign all partitions of cluster A, produce each record to
 *             the same partition on cluster B (project producer defaults:
 *             lz4, linger 5 ms, idempotence; same records, same partitions)
 *   base+1hdr the same, stamping the one osh.src provenance header the
 *             relay adds (provenance.h)
 *   base+4hdr the same with the four headers of the older format
 *   (all three consume with the project's consumer defaults, as the
 *   stages do; base+1hdr is the reference the stages' targets use)
 *   kafka     relay-bridge mode=kafka, A -> B (allow-list + validation,
 *             provenance header, offsets stored after delivery)
 *   uplink    relay-bridge mode=uplink, A -> HTTPS (TLS on loopback, HMAC
 *             token) -> osh-stub-ingest, via the disk spool (fsync off)
 *   ingest    the same uplink into the real cloud-ingest, which produces
 *             every record to cluster B and waits for it before its Ack
 *
 * Each run is timed from the first record seen at the far end to the
 * last, so consumer-group joins (~3 s on the mock) are not counted.
 * Round 0 is a warm-up; ratios are per round (stage and reference ran
 * back to back) and given as median and min-max; a target is "met" only
 * when the whole range is at or above it. --stats prints librdkafka's
 * request counts (messages per Fetch / Produce request) per run and how
 * the mock stored each run's output (docs/performance.md).
 * Clusters are in-process librdkafka mock clusters on loopback; CPU-s is
 * the child's (relay, stub) or this process's (baselines, mocks included).
 *
 *   bench-crossing [--records N] [--value-ints K] [--rounds R] [--stats]
 *                  [--consumer KEY=VALUE (baselines' consumer; repeatable)]
 *                  [--only base+1hdr|base+4hdr|kafka|uplink|ingest[,...]]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/provenance.h"
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
        int rounds;
        int stats;
        const char *cconf[8]; /* --consumer KEY=VALUE for the baselines */
        int ncconf;
        char bindir[4096];
        char tmp[256];
        size_t value_bytes;
} opt = {.records = 300000, .value_ints = 40, .rounds = 5};

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
            rd_kafka_mock_topic_create(c->mc, OSH_TOPIC_BATCH, 1, 1) ||
            rd_kafka_mock_topic_create(c->mc, "ingest.offsets.v1", 1, 1) ||
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

/* ---- librdkafka statistics (--stats) ----
 * Cumulative counters from the last emission: the top-level txmsgs/rxmsgs
 * come last in the JSON, the per-broker request counts are summed. */

typedef struct rkstats {
        int64_t msgs;  /* txmsgs (producer) or rxmsgs (consumer) */
        int64_t reqs;  /* Produce or Fetch requests */
        int64_t bytes; /* txmsg_bytes or rxmsg_bytes */
        const char *msgs_key, *reqs_key, *bytes_key;
} rkstats_t;

static int64_t json_last(const char *json, const char *key)
{
        const char *p = NULL, *q = json;

        while ((q = strstr(q, key)))
                p = q++;
        return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

static int64_t json_sum(const char *json, const char *key)
{
        int64_t n = 0;

        for (const char *q = json; (q = strstr(q, key)); q++)
                n += strtoll(q + strlen(key), NULL, 10);
        return n;
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
        rkstats_t *st = opaque;

        (void)rk;
        (void)len;
        st->msgs = json_last(json, st->msgs_key);
        st->bytes = json_last(json, st->bytes_key);
        st->reqs = json_sum(json, st->reqs_key);
        return 0;
}

/* Asks for statistics every 100 ms into st (no-op without --stats). */
static void stats_on(rd_kafka_conf_t *conf, rkstats_t *st, int producer)
{
        char errstr[256];

        if (!opt.stats)
                return;
        st->msgs_key = producer ? "\"txmsgs\":" : "\"rxmsgs\":";
        st->bytes_key = producer ? "\"txmsg_bytes\":" : "\"rxmsg_bytes\":";
        st->reqs_key = producer ? "\"Produce\":" : "\"Fetch\":";
        rd_kafka_conf_set_opaque(conf, st);
        rd_kafka_conf_set_stats_cb(conf, on_stats);
        osh_kafka_conf_set(conf, "statistics.interval.ms", "100", errstr, sizeof(errstr));
}

static void stats_print(const char *what, const rkstats_t *st)
{
        if (!opt.stats || !st->reqs)
                return;
        printf("      %-8s %8" PRId64 " msgs in %6" PRId64 " %s requests: %7.1f msgs/request, "
               "%6.1f KB/request\n",
               what, st->msgs, st->reqs, st->reqs_key[1] == 'P' ? "Produce" : "Fetch",
               (double)st->msgs / (double)st->reqs, (double)st->bytes / (double)st->reqs / 1e3);
}

/* How the mock stored what a run wrote to cluster b: it answers a Fetch
 * with one message set per partition, so a fresh consumer's messages per
 * Fetch request is the mean produced batch per partition (times the
 * partitions in a request). */
static void probe_batches(const cluster_t *b, const char *topic)
{
        char errstr[256];
        rkstats_t st = {0};
        rd_kafka_conf_t *cc;
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_t *c;
        long n = 0, eof = 0;

        if (!opt.stats)
                return;
        cc = osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_CONSUMER, b->bootstrap, errstr,
                                sizeof(errstr));
        osh_kafka_conf_set(cc, "group.id", "bench-probe", errstr, sizeof(errstr));
        stats_on(cc, &st, 0);
        if (!(c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof(errstr))))
                die(errstr);
        l = rd_kafka_topic_partition_list_new(NPART);
        for (int i = 0; i < NPART; i++)
                rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (eof < NPART) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 1000);
                rd_kafka_poll(c, 0); /* statistics */
                if (!m)
                        break;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                        eof++;
                else if (!m->err)
                        n++;
                rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(c, 250); /* one more statistics emission */
        usleep(150000);
        rd_kafka_poll(c, 0);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        stats_print("stored", &st);
}

/* ---- baseline ---- */

static double cpu_s(int who)
{
        struct rusage ru;

        getrusage(who, &ru);
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
}

/* The provenance the relay stamps: one osh.src header, or (nhdrs 4) the
 * four headers of the older format. */
static rd_kafka_headers_t *stamp(rd_kafka_headers_t *h, const rd_kafka_message_t *m, int nhdrs)
{
        char v[512], part[16], off[24];
        int n;

        if (!h)
                h = rd_kafka_headers_new(nhdrs);
        if (nhdrs == 1) {
                n = osh_src_format(v, sizeof(v), "processing", TOPIC, m->partition, m->offset);
                rd_kafka_header_add(h, OSH_HDR_SRC, -1, v, n);
                return h;
        }
        snprintf(part, sizeof(part), "%" PRId32, m->partition);
        snprintf(off, sizeof(off), "%" PRId64, m->offset);
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

/* nhdrs 0: plain; 1 or 4: stamp provenance headers as above, so the
 * per-message header cost of librdkafka can be seen on its own. */
static double run_baseline(const cluster_t *a, const cluster_t *b, int nhdrs, int round,
                           double *cpu)
{
        char errstr[256], group[64];
        rd_kafka_conf_t *cc = osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_CONSUMER, a->bootstrap,
                                                 errstr, sizeof(errstr));
        rd_kafka_conf_t *pc = osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_PRODUCER, b->bootstrap,
                                                 errstr, sizeof(errstr));
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(NPART);
        rd_kafka_t *c, *p;
        long consumed = 0;
        double t0 = 0, c0 = 0, last = 0, gap = 0;
        rkstats_t cst = {0}, pst = {0};

        snprintf(group, sizeof(group), "bench-baseline-%d-%d", nhdrs, round);
        osh_kafka_conf_set(cc, "group.id", group, errstr, sizeof(errstr));
        for (int i = 0; i < opt.ncconf; i++) {
                char key[128];
                const char *eq = strchr(opt.cconf[i], '=');
                snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - opt.cconf[i]) : 0, opt.cconf[i]);
                if (!eq || osh_kafka_conf_set(cc, key, eq + 1, errstr, sizeof(errstr)))
                        die("bad --consumer KEY=VALUE");
        }
        osh_kafka_conf_set(pc, "queue.buffering.max.messages", "500000", errstr, sizeof(errstr));
        rd_kafka_conf_set_dr_msg_cb(pc, on_dr);
        stats_on(cc, &cst, 0);
        stats_on(pc, &pst, 1);
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
        /* With --stats the statistics stay on the main queue (served by
         * rd_kafka_poll): forwarded to the consumer queue, librdkafka 2.0.2
         * sometimes hung in rd_kafka_destroy. */
        if (!opt.stats)
                rd_kafka_poll_set_consumer(c);
        for (int i = 0; i < NPART; i++)
                rd_kafka_topic_partition_list_add(l, TOPIC, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, l);
        rd_kafka_topic_partition_list_destroy(l);
        while (delivered < opt.records) {
                rd_kafka_message_t *m =
                    consumed < opt.records ? rd_kafka_consumer_poll(c, 100) : NULL;
                rd_kafka_poll(p, m ? 0 : 10);
                if (opt.stats && !(consumed & 1023))
                        rd_kafka_poll(c, 0);
                if (!m)
                        continue;
                if (!m->err) {
                        rd_kafka_headers_t *h = NULL;
                        if (!t0) {
                                t0 = last = now_s();
                                c0 = cpu_s(RUSAGE_SELF);
                        }
                        if (now_s() - last > gap)
                                gap = now_s() - last;
                        last = now_s();
                        if (!rd_kafka_message_headers(m, &h) && h)
                                h = rd_kafka_headers_copy(h);
                        if (nhdrs)
                                h = stamp(h, m, nhdrs);
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
        *cpu = cpu_s(RUSAGE_SELF) - c0;
        if (opt.stats) { /* one more emission with the final counters */
                usleep(150000);
                rd_kafka_poll(p, 0);
                rd_kafka_poll(c, 0);
        }
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        rd_kafka_destroy(p);
        stats_print("consumer", &cst);
        stats_print("producer", &pst);
        if (opt.stats)
                printf("      longest wait for the next record: %.0f ms\n", gap * 1e3);
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

#define TOO_FAST (-2.0) /* every record came within one poll: no duration */

/* Times the far end from its first record to the last. count() returns the
 * records seen so far (or -1). -1 past limit_s, TOO_FAST if the first look
 * already saw them all. */
static double time_arrivals(int64_t (*count)(void *), void *opaque, double limit_s)
{
        double start = now_s(), t0 = 0;
        int64_t n;

        for (;;) {
                n = count(opaque);
                if (n >= opt.records)
                        return t0 ? now_s() - t0 : TOO_FAST;
                if (n > 0 && !t0)
                        t0 = now_s();
                if (now_s() - start > limit_s)
                        return -1;
                usleep(20000); /* coarse: the watcher must not steal the CPU it measures */
        }
}

static int64_t count_target(void *opaque)
{
        return count_topic(opaque, TOPIC);
}

static double run_kafka(const cluster_t *a, const cluster_t *b, int round, double *cpu)
{
        char bin[4200], src[512], dst[512], log[512], group[64];
        rd_kafka_t *watch = producer(b->bootstrap);
        double dt;
        pid_t pid;

        snprintf(bin, sizeof(bin), "%s/relay-bridge", opt.bindir);
        snprintf(src, sizeof(src), "--kafka.source.bootstrap.servers=%s", a->bootstrap);
        snprintf(dst, sizeof(dst), "--kafka.target.bootstrap.servers=%s", b->bootstrap);
        snprintf(log, sizeof(log), "%s/relay-kafka-%d.log", opt.tmp, round);
        snprintf(group, sizeof(group), "--group.id=bench-kafka-%d", round);
        char *argv[] = {bin,
                        "--mode=kafka",
                        "--source.segment=processing",
                        "--target.segment=exchange",
                        "--allow=" TOPIC,
                        "--log.level=warn",
                        group,
                        src,
                        dst,
                        NULL};
        pid = spawn(argv, log);
        dt = time_arrivals(count_target, watch, 300);
        *cpu = stop(pid);
        rd_kafka_destroy(watch);
        return dt;
}

/* Lines in the stub's output so far. Reads only what was appended since
 * the last look (the file grows to tens of MB: re-reading it every 20 ms
 * took a core from the processes being measured). */
static int64_t count_lines(void *opaque)
{
        static char path[512];
        static long off;
        static int64_t n;
        char buf[1 << 16];
        size_t got;
        FILE *fp;

        if (strcmp(path, opaque)) {
                snprintf(path, sizeof(path), "%s", (const char *)opaque);
                off = 0;
                n = 0;
        }
        if (!(fp = fopen(path, "r")))
                return 0;
        if (fseek(fp, off, SEEK_SET) == 0)
                while ((got = fread(buf, 1, sizeof(buf), fp)) > 0) {
                        for (const char *q = buf; (q = memchr(q, '\n', (size_t)(buf + got - q)));
                             q++)
                                n++;
                        off += (long)got;
                }
        fclose(fp);
        return n;
}

/* Waits for a child's port file (with content) or ready file (empty). */
static void wait_file(const char *path, int need_content, const char *what)
{
        struct stat st;

        for (int i = 0; i < 400; i++) {
                if (!stat(path, &st) && (st.st_size > 0 || !need_content))
                        return;
                usleep(50000);
        }
        die(what);
}

/* Starts osh-stub-ingest; returns its pid and fills url / out. */
static pid_t start_stub(int round, char *url, size_t url_size, char *out, size_t out_size)
{
        char bin[4200], a[4][1024], portf[512], log[512];
        int port = 0;
        pid_t pid;
        FILE *fp;

        snprintf(portf, sizeof(portf), "%s/port-%d", opt.tmp, round);
        snprintf(out, out_size, "%s/arrived-%d", opt.tmp, round);
        snprintf(log, sizeof(log), "%s/stub-%d.log", opt.tmp, round);
        snprintf(a[0], sizeof(a[0]), "--cert=%s/certs/server.pem", opt.tmp);
        snprintf(a[1], sizeof(a[1]), "--key=%s/certs/server.key", opt.tmp);
        snprintf(a[2], sizeof(a[2]), "--port-file=%s", portf);
        snprintf(a[3], sizeof(a[3]), "--out=%s", out);
        snprintf(bin, sizeof(bin), "%s/osh-stub-ingest", opt.bindir);
        char *argv[] = {bin, a[0], a[1], a[2], a[3], "--key-id=bench", "--secret=bench-secret",
                        NULL};
        pid = spawn(argv, log);
        wait_file(portf, 1, "cloud stand-in did not start");
        if ((fp = fopen(portf, "r"))) {
                if (fscanf(fp, "%d", &port) != 1)
                        port = 0;
                fclose(fp);
        }
        if (!port)
                die("cloud stand-in wrote no port");
        snprintf(url, url_size, "--uplink.url=https://127.0.0.1:%d", port);
        return pid;
}

static int free_port(void)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

        if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
            !getsockname(fd, (struct sockaddr *)&sa, &len))
                port = ntohs(sa.sin_port);
        if (fd >= 0)
                close(fd);
        if (!port)
                die("no free port");
        return port;
}

/* Starts the real cloud-ingest, producing to cluster b. */
static pid_t start_ingest(const cluster_t *b, int round, char *url, size_t url_size)
{
        char bin[4200], a[6][1024], ready[512], log[512];
        int port = free_port();
        pid_t pid;

        snprintf(ready, sizeof(ready), "%s/ingest-ready-%d", opt.tmp, round);
        snprintf(log, sizeof(log), "%s/ingest-%d.log", opt.tmp, round);
        snprintf(bin, sizeof(bin), "%s/cloud-ingest", opt.bindir);
        snprintf(a[0], sizeof(a[0]), "--tls.cert=%s/certs/server.pem", opt.tmp);
        snprintf(a[1], sizeof(a[1]), "--tls.key=%s/certs/server.key", opt.tmp);
        snprintf(a[2], sizeof(a[2]), "--listen.port=%d", port);
        snprintf(a[3], sizeof(a[3]), "--kafka.bootstrap.servers=%s", b->bootstrap);
        snprintf(a[4], sizeof(a[4]), "--ready.file=%s", ready);
        char *argv[] = {bin,
                        a[0],
                        a[1],
                        a[2],
                        a[3],
                        a[4],
                        "--auth.keys=bench:bench-secret",
                        "--segment=cloud",
                        "--log.level=warn",
                        NULL};
        pid = spawn(argv, log);
        wait_file(ready, 0, "cloud-ingest did not become ready");
        snprintf(url, url_size, "--uplink.url=https://127.0.0.1:%d", port);
        return pid;
}

/* b NULL: into osh-stub-ingest; else into cloud-ingest producing to b. */
static double run_uplink(const cluster_t *a, const cluster_t *b, int round, double *cpu,
                         double *cloud_cpu)
{
        char bin[4200], src[512], url[128], ca[512], spool[512], out[512], log[512], group[64];
        rd_kafka_t *watch = NULL;
        pid_t cloud, pid;
        double dt;

        if (b) {
                cloud = start_ingest(b, round, url, sizeof(url));
                watch = producer(b->bootstrap);
        } else {
                cloud = start_stub(round, url, sizeof(url), out, sizeof(out));
        }
        snprintf(bin, sizeof(bin), "%s/relay-bridge", opt.bindir);
        snprintf(src, sizeof(src), "--kafka.source.bootstrap.servers=%s", a->bootstrap);
        snprintf(ca, sizeof(ca), "--uplink.ca=%s/certs/ca.pem", opt.tmp);
        snprintf(spool, sizeof(spool), "--spool.dir=%s/spool-%s-%d", opt.tmp, b ? "ci" : "stub",
                 round);
        snprintf(log, sizeof(log), "%s/relay-uplink-%s-%d.log", opt.tmp, b ? "ci" : "stub", round);
        snprintf(group, sizeof(group), "--group.id=bench-uplink-%s-%d", b ? "ci" : "stub", round);
        char *argv[] = {bin,
                        "--mode=uplink",
                        "--source.segment=exchange",
                        "--target.segment=cloud",
                        "--allow=" TOPIC,
                        "--log.level=warn",
                        group,
                        "--uplink.key.id=bench",
                        "--uplink.secret=bench-secret",
                        "--spool.fsync=false",
                        src,
                        url,
                        ca,
                        spool,
                        NULL};
        pid = spawn(argv, log);
        dt = b ? time_arrivals(count_target, watch, 300) : time_arrivals(count_lines, out, 300);
        *cpu = stop(pid);
        *cloud_cpu = stop(cloud);
        if (watch)
                rd_kafka_destroy(watch);
        return dt;
}

/* ---- rounds and summary ---- */

enum { M_BASE, M_BASE1, M_BASE4, M_KAFKA, M_UPLINK, M_INGEST, M__CNT };
static const char *const mode_name[M__CNT] = {"baseline", "base+1hdr", "base+4hdr",
                                              "kafka",    "uplink",    "ingest"};

typedef struct results {
        double dt[M__CNT][64];
        int n[M__CNT];
} results_t;

static int cmp_double(const void *x, const void *y)
{
        double a = *(const double *)x, b = *(const double *)y;

        return (a > b) - (a < b);
}

/* Median of the finished runs' durations (0 if none). */
static double median(const double *v, int n, double *lo, double *hi)
{
        double s[64];
        int k = 0;

        for (int i = 0; i < n; i++)
                if (v[i] > 0)
                        s[k++] = v[i];
        if (!k)
                return 0;
        qsort(s, (size_t)k, sizeof(s[0]), cmp_double);
        *lo = s[0];
        *hi = s[k - 1];
        return k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

static void line(int mode, int round, double dt, double cpu, double cloud_cpu)
{
        if (round == 0)
                printf("  (warm-up)");
        if (dt == TOO_FAST) {
                printf("  round %d %-10s too fast to time: all records within one poll (raise "
                       "--records)\n",
                       round, mode_name[mode]);
                return;
        }
        if (dt <= 0) {
                printf("  round %d %-10s did not finish (see %s)\n", round, mode_name[mode],
                       opt.tmp);
                return;
        }
        printf("  round %d %-10s %9.0f rec/s  %5.2f s  %5.2f CPU-s", round, mode_name[mode],
               opt.records / dt, dt, cpu);
        if (cloud_cpu > 0)
                printf(" (+%.2f CPU-s receiver)", cloud_cpu);
        printf("\n");
        fflush(stdout);
}

/* Per-round ratios mode/ref (rates, so ref duration / mode duration) of the
 * rounds where both finished: median and min-max. 0 if none. */
static double ratio(const results_t *r, int mode, int ref, double *lo, double *hi)
{
        double v[64];
        int k = 0;

        for (int i = 0; i < r->n[mode] && i < r->n[ref]; i++)
                if (r->dt[mode][i] > 0 && r->dt[ref][i] > 0)
                        v[k++] = r->dt[ref][i] / r->dt[mode][i];
        if (!k)
                return 0;
        qsort(v, (size_t)k, sizeof(v[0]), cmp_double);
        *lo = v[0];
        *hi = v[k - 1];
        return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* "met", "NOT met" or "crosses target" when the range straddles it. */
static const char *verdict(double lo, double hi, double target)
{
        return lo >= target ? "met" : hi < target ? "NOT met" : "range crosses the target";
}

static void summary(const results_t *r)
{
        static const struct {
                int mode, ref;
                double target; /* 0: none */
        } ratios[] = {{M_BASE1, M_BASE, 0},     {M_BASE4, M_BASE, 0},   {M_KAFKA, M_BASE1, 0.9},
                      {M_UPLINK, M_BASE1, 0.7}, {M_INGEST, M_BASE1, 0}, {M_KAFKA, M_BASE, 0}};
        double lo = 0, hi = 0, noise = 0;

        printf("\nmedians of %d timed round(s) after a warm-up round, %ld records of %zu value "
               "bytes:\n",
               opt.rounds, opt.records, opt.value_bytes);
        for (int m = 0; m < M__CNT; m++) {
                double med = median(r->dt[m], r->n[m], &lo, &hi);
                if (!r->n[m])
                        continue;
                if (med <= 0) {
                        printf("%-10s  %s\n", mode_name[m],
                               r->dt[m][0] == TOO_FAST ? "too fast to time (raise --records)"
                                                       : "did not finish");
                        continue;
                }
                printf("%-10s %9.0f rec/s %7.2f MB/s  (min %.0f, max %.0f, spread %.0f%%)\n",
                       mode_name[m], opt.records / med,
                       opt.records * (double)opt.value_bytes / med / 1e6, opt.records / hi,
                       opt.records / lo, 100 * (hi - lo) / med);
                if (m <= M_BASE4 && (hi - lo) / med > noise)
                        noise = (hi - lo) / med;
        }
        printf("noise: the baselines' spread (max-min)/median is up to %.0f%%\n", 100 * noise);
        for (size_t i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
                double med = ratio(r, ratios[i].mode, ratios[i].ref, &lo, &hi);
                if (med <= 0)
                        continue;
                printf("%-10s / %-10s %.2fx (rounds %.2f-%.2f)", mode_name[ratios[i].mode],
                       mode_name[ratios[i].ref], med, lo, hi);
                if (ratios[i].target > 0)
                        printf("  target >= %.2fx: %s", ratios[i].target,
                               verdict(lo, hi, ratios[i].target));
                printf("\n");
        }
        printf("(base+1hdr carries the osh.src header the relay stamps: the stages' reference)\n");
}

static void parse_args(int argc, char **argv)
{
        char self[4096], resolved[4096];

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--records") && i + 1 < argc)
                        opt.records = atol(argv[++i]);
                else if (!strcmp(argv[i], "--value-ints") && i + 1 < argc)
                        opt.value_ints = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
                        opt.rounds = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--stats"))
                        opt.stats = 1;
                else if (!strcmp(argv[i], "--consumer") && i + 1 < argc && opt.ncconf < 8)
                        opt.cconf[opt.ncconf++] = argv[++i];
                else if (!strcmp(argv[i], "--only") && i + 1 < argc)
                        opt.only = argv[++i];
                else {
                        fprintf(stderr, "usage: bench-crossing [--records N] [--value-ints K] "
                                        "[--rounds R] [--stats] [--consumer K=V] [--only "
                                        "base+1hdr|base+4hdr|kafka|uplink|ingest[,...]]\n");
                        exit(2);
                }
        }
        if (opt.rounds < 1 || opt.rounds > 64)
                opt.rounds = opt.rounds < 1 ? 1 : 64;
        snprintf(self, sizeof(self), "%s", argv[0]);
        if (!realpath(self, resolved))
                snprintf(resolved, sizeof(resolved), "%s", self);
        snprintf(opt.bindir, sizeof(opt.bindir), "%s", dirname(resolved));
}

/* The plain baseline always runs; --only picks the others. */
static int want(int mode)
{
        return mode == M_BASE || !opt.only || strstr(opt.only, mode_name[mode]);
}

static double run_mode(int mode, const cluster_t *a, int round, double *cpu, double *cloud_cpu)
{
        cluster_t b;
        double dt;

        *cloud_cpu = 0;
        if (mode == M_UPLINK)
                return run_uplink(a, NULL, round, cpu, cloud_cpu);
        cluster_new(&b);
        if (mode == M_KAFKA)
                dt = run_kafka(a, &b, round, cpu);
        else if (mode == M_INGEST)
                dt = run_uplink(a, &b, round, cpu, cloud_cpu);
        else
                dt = run_baseline(a, &b, mode == M_BASE ? 0 : mode == M_BASE1 ? 1 : 4, round, cpu);
        if (mode != M_INGEST)
                probe_batches(&b, mode == M_KAFKA ? TOPIC : "baseline.v1");
        cluster_destroy(&b);
        return dt;
}

int main(int argc, char **argv)
{
        static results_t res;
        cluster_t a;
        char errstr[256], cmd[8300];
        double cpu, cloud_cpu;

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
               "mock clusters on loopback, %ld CPUs, %d round(s)\n",
               opt.records, opt.value_bytes, opt.value_ints, NPART, sysconf(_SC_NPROCESSORS_ONLN),
               opt.rounds);
        probe_batches(&a, TOPIC);
        /* Round 0 warms caches, the page cache and the allocator; it is
         * printed but not counted. */
        for (int r = 0; r <= opt.rounds; r++)
                for (int m = 0; m < M__CNT; m++) {
                        if (!want(m))
                                continue;
                        double dt = run_mode(m, &a, r, &cpu, &cloud_cpu);
                        if (r > 0)
                                res.dt[m][res.n[m]++] = dt;
                        line(m, r, dt, cpu, cloud_cpu);
                }
        summary(&res);
        cluster_destroy(&a);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", opt.tmp);
        if (system(cmd))
                fprintf(stderr, "bench-crossing: could not remove %s\n", opt.tmp);
        osh_serde_shutdown();
        return 0;
}
