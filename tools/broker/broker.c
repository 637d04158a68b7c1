/* osh-broker: the embedded Kafka default (docs/architecture.md §8).
 *
 * Starts one librdkafka mock cluster per segment (or one shared cluster with
 * --single) on loopback, pre-creates the topics of topics.conf, then writes
 * the bootstrap addresses to an env file. The file appears (atomically)
 * only once everything is up, so its existence means "ready"; it is removed
 * on SIGTERM/SIGINT before the clusters are torn down. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "oshirase/log.h"
#include "oshirase/transfer.h" /* osh_transfer_topic_valid() */
#include "topics_conf.h"       /* OSH_BROKER_TOPICS_CONF (built-in table) */

#define NSEG           4
#define MAX_TOPICS     128
#define MAX_PARTITIONS 1000
#define MAX_BROKERS    16

static const char *const SEG_NAMES[NSEG] = {"core", "processing", "exchange", "cloud"};
static const char *const SEG_ENV[NSEG] = {"OSH_BOOTSTRAP_CORE", "OSH_BOOTSTRAP_PROCESSING",
                                          "OSH_BOOTSTRAP_EXCHANGE", "OSH_BOOTSTRAP_CLOUD"};

/* What the mock keeps per partition before it drops the oldest records
 * without a word (librdkafka's rdkafka_mock.c: 5 MiB or 100,000 message
 * sets), so a topic must be given partitions for what it has to hold. */
#define MOCK_PART_BYTES   (5LL * 1024 * 1024)
#define MOCK_PART_MSGSETS 100000

typedef struct {
        char name[250];
        int parts[NSEG];      /* 0 = not in this segment's cluster */
        long long hold_count; /* records the topic must hold, 0 = not said */
        long long hold_bytes; /* per record, key + value + headers */
} topic_t;

typedef struct {
        rd_kafka_t *rk; /* dummy producer that owns the mock cluster */
        rd_kafka_mock_cluster_t *mc;
        char *bootstraps;
} cluster_t;

typedef struct {
        int single;
        int brokers;
        int partitions; /* 0 = as in the table */
        const char *topics_path;
        const char *env_file;
        topic_t topics[MAX_TOPICS];
        size_t ntopics;
        cluster_t clusters[NSEG]; /* with --single only [0] is used */
} broker_t;

static void usage(FILE *fp)
{
        fprintf(fp,
                "usage: osh-broker [options]\n"
                "Runs librdkafka mock Kafka clusters on 127.0.0.1 for the demo and tests.\n\n"
                "  --single          one shared cluster for all four segments\n"
                "  --brokers N       brokers per cluster (default 1, max %d)\n"
                "  --partitions N    override every topic's partition count\n"
                "  --topics PATH     topic table (default: built-in tools/broker/topics.conf)\n"
                "  --env-file PATH   where to write OSH_BOOTSTRAP_* (default ./broker.env);\n"
                "                    written once all clusters are up, removed on exit\n"
                "  --log-level L     debug, info, warn, error (default info)\n"
                "  --help            this text\n\n"
                "Stops on SIGTERM or SIGINT.\n",
                MAX_BROKERS);
}

static int parse_int(const char *s, int min, int max, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return -1;
        *out = (int)v;
        return 0;
}

/* 0 run, 1 exit 0 (help), -1 exit 2. */
static int parse_args(broker_t *b, int argc, char **argv)
{
        static const struct option opts[] = {
            {"single", no_argument, NULL, 's'},
            {"brokers", required_argument, NULL, 'b'},
            {"partitions", required_argument, NULL, 'p'},
            {"topics", required_argument, NULL, 't'},
            {"env-file", required_argument, NULL, 'e'},
            {"log-level", required_argument, NULL, 'l'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        osh_log_level_t level = OSH_LOG_INFO;
        int c, idx = 0;

        while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
                switch (c) {
                case 's':
                        b->single = 1;
                        break;
                case 'b':
                        if (parse_int(optarg, 1, MAX_BROKERS, &b->brokers) == -1)
                                goto bad;
                        break;
                case 'p':
                        if (parse_int(optarg, 1, MAX_PARTITIONS, &b->partitions) == -1)
                                goto bad;
                        break;
                case 't':
                        b->topics_path = optarg;
                        break;
                case 'e':
                        b->env_file = optarg;
                        break;
                case 'l':
                        if (osh_log_level_parse(optarg, &level) == -1)
                                goto bad;
                        break;
                case 'h':
                        usage(stdout);
                        return 1;
                default:
                        usage(stderr);
                        return -1;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "osh-broker: unexpected argument '%s'\n", argv[optind]);
                return -1;
        }
        osh_log_init("osh-broker", "broker", level, 0);
        return 0;
bad:
        fprintf(stderr, "osh-broker: invalid value '%s' for --%s\n", optarg, opts[idx].name);
        return -1;
}

/* ---- topic table ----------------------------------------------------- */

/* "<records>x<bytes per record>": what the topic must hold. */
static int parse_hold(const char *s, topic_t *t)
{
        char *end;

        errno = 0;
        t->hold_count = strtoll(s, &end, 10);
        if (errno || end == s || *end != 'x' || t->hold_count < 1)
                return -1;
        s = end + 1;
        t->hold_bytes = strtoll(s, &end, 10);
        if (errno || end == s || *end || t->hold_bytes < 1 || t->hold_bytes > MOCK_PART_BYTES)
                return -1;
        return 0;
}

/* Partitions topic t needs to hold what it must; 0 when it said nothing. */
static int partitions_needed(const topic_t *t)
{
        long long bytes = t->hold_count * t->hold_bytes;
        long long by_size = (bytes + MOCK_PART_BYTES - 1) / MOCK_PART_BYTES;
        /* a message set holds at least one record */
        long long by_sets = (t->hold_count + MOCK_PART_MSGSETS - 1) / MOCK_PART_MSGSETS;
        long long need = by_size > by_sets ? by_size : by_sets;

        if (!t->hold_count)
                return 0;
        return need > MAX_PARTITIONS ? MAX_PARTITIONS : (int)need;
}

/* Raises a table count that could not hold what the topic must. */
static void size_partitions(topic_t *t)
{
        int need = partitions_needed(t);

        for (int i = 0; i < NSEG; i++) {
                if (!t->parts[i] || t->parts[i] >= need)
                        continue;
                osh_warn("%s: %d partitions cannot hold %lld records of %lld B: %d instead",
                         t->name, t->parts[i], t->hold_count, t->hold_bytes, need);
                t->parts[i] = need;
        }
}

static int parse_topic_line(broker_t *b, char *line, int lineno, char *errstr, size_t errstr_size)
{
        char *tok[NSEG + 2], *save = NULL, *p;
        topic_t *t;
        int n = 0, i;

        for (p = strtok_r(line, " \t\r", &save); p; p = strtok_r(NULL, " \t\r", &save)) {
                if (n == NSEG + 2)
                        goto bad;
                tok[n++] = p;
        }
        if (n == 0)
                return 0;
        if (n != NSEG + 1 && n != NSEG + 2)
                goto bad;
        if (!osh_transfer_topic_valid(tok[0]) || b->ntopics == MAX_TOPICS)
                goto bad;
        t = &b->topics[b->ntopics];
        snprintf(t->name, sizeof(t->name), "%s", tok[0]);
        for (i = 0; i < NSEG; i++) {
                if (!strcmp(tok[i + 1], "-"))
                        t->parts[i] = 0;
                else if (parse_int(tok[i + 1], 1, MAX_PARTITIONS, &t->parts[i]) == -1)
                        goto bad;
        }
        if (n == NSEG + 2 && parse_hold(tok[NSEG + 1], t) == -1)
                goto bad;
        size_partitions(t);
        b->ntopics++;
        return 0;
bad:
        snprintf(
            errstr, errstr_size,
            "line %d: want '<topic> <core> <processing> <exchange> <cloud> [<records>x<bytes>]' "
            "with partition counts 1..%d or '-' (at most %d topics)",
            lineno, MAX_PARTITIONS, MAX_TOPICS);
        return -1;
}

/* text is modified in place. */
static int parse_topics(broker_t *b, char *text, char *errstr, size_t errstr_size)
{
        char *save = NULL, *line, *hash;
        int lineno = 0;

        /* strtok_r skips empty lines, so count them by hand. */
        for (line = text; line; line = save) {
                save = strchr(line, '\n');
                if (save)
                        *save++ = '\0';
                lineno++;
                hash = strchr(line, '#');
                if (hash)
                        *hash = '\0';
                if (parse_topic_line(b, line, lineno, errstr, errstr_size) == -1)
                        return -1;
        }
        if (b->ntopics == 0) {
                snprintf(errstr, errstr_size, "no topics defined");
                return -1;
        }
        return 0;
}

static char *read_file(const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        long len;

        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        if (fseek(fp, 0, SEEK_END) == -1 || (len = ftell(fp)) < 0 || len > (1 << 20) ||
            fseek(fp, 0, SEEK_SET) == -1)
                goto fail;
        buf = malloc((size_t)len + 1);
        if (!buf || fread(buf, 1, (size_t)len, fp) != (size_t)len)
                goto fail;
        buf[len] = '\0';
        fclose(fp);
        return buf;
fail:
        snprintf(errstr, errstr_size, "%s: cannot read (or larger than 1 MiB)", path);
        free(buf);
        fclose(fp);
        return NULL;
}

static int load_topics(broker_t *b)
{
        char errstr[512];
        char *text = b->topics_path ? read_file(b->topics_path, errstr, sizeof(errstr))
                                    : strdup(OSH_BROKER_TOPICS_CONF);
        int rc;

        if (!text) {
                osh_error("topics: %s", b->topics_path ? errstr : "out of memory");
                return -1;
        }
        rc = parse_topics(b, text, errstr, sizeof(errstr));
        if (rc == -1)
                osh_error("topics %s: %s", b->topics_path ? b->topics_path : "(built-in)", errstr);
        free(text);
        return rc;
}

/* ---- clusters -------------------------------------------------------- */

/* The owning producer never gets bootstrap.servers; its warning about that
 * is expected noise. */
static void rk_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
        if (strstr(buf, "bootstrap.servers"))
                return;
        osh_log_rdkafka(rk, level, fac, buf);
}

/* Partition count of topic t in the cluster serving segment seg (or all
 * segments with --single); 0 = not created there. */
static int topic_parts(const broker_t *b, const topic_t *t, int seg)
{
        int i, n = 0;

        if (!b->single)
                n = t->parts[seg];
        else
                for (i = 0; i < NSEG; i++)
                        n = t->parts[i] > n ? t->parts[i] : n;
        return n && b->partitions ? b->partitions : n;
}

static int cluster_start(broker_t *b, cluster_t *c, int seg)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        const char *label = b->single ? "single" : SEG_NAMES[seg];
        char errstr[512], client_id[64];
        int rf = b->brokers < 3 ? b->brokers : 3;
        size_t i;

        snprintf(client_id, sizeof(client_id), "osh-broker-%s", label);
        rd_kafka_conf_set_log_cb(conf, rk_log);
        if (rd_kafka_conf_set(conf, "client.id", client_id, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
                goto fail_conf;
        c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!c->rk)
                goto fail_conf; /* conf still ours on failure */
        c->mc = rd_kafka_mock_cluster_new(c->rk, b->brokers);
        if (!c->mc) {
                osh_error("%s: cannot create mock cluster", label);
                return -1;
        }
        for (i = 0; i < b->ntopics; i++) {
                int n = topic_parts(b, &b->topics[i], seg);
                rd_kafka_resp_err_t err;

                if (!n)
                        continue;
                err = rd_kafka_mock_topic_create(c->mc, b->topics[i].name, n, rf);
                if (err) {
                        osh_error("%s: create topic %s: %s", label, b->topics[i].name,
                                  rd_kafka_err2str(err));
                        return -1;
                }
                osh_debug("%s: topic %s, %d partitions", label, b->topics[i].name, n);
        }
        c->bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(c->mc));
        if (!c->bootstraps)
                return -1;
        osh_info("cluster %s up: %s (%d broker%s)", label, c->bootstraps, b->brokers,
                 b->brokers == 1 ? "" : "s");
        return 0;
fail_conf:
        rd_kafka_conf_destroy(conf);
        osh_error("%s: %s", label, errstr);
        return -1;
}

static void cluster_stop(cluster_t *c)
{
        if (c->mc)
                rd_kafka_mock_cluster_destroy(c->mc);
        if (c->rk)
                rd_kafka_destroy(c->rk);
        free(c->bootstraps);
        memset(c, 0, sizeof(*c));
}

static void *cluster_stop_thread(void *arg)
{
        cluster_stop(arg);
        return NULL;
}

/* Each teardown idles up to ~1 s in librdkafka's timers; run them side by
 * side so tests do not pay that four times. */
static void clusters_stop(broker_t *b, int n)
{
        pthread_t th[NSEG];
        int started[NSEG] = {0}, i;

        for (i = 0; i < n; i++) {
                started[i] =
                    pthread_create(&th[i], NULL, cluster_stop_thread, &b->clusters[i]) == 0;
                if (!started[i])
                        cluster_stop(&b->clusters[i]);
        }
        for (i = 0; i < n; i++)
                if (started[i])
                        pthread_join(th[i], NULL);
}

/* tmp + rename so readers never see a half-written file. */
static int write_env_file(const broker_t *b)
{
        char tmp[4096];
        FILE *fp;
        int i, ok;

        snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", b->env_file, (long)getpid());
        fp = fopen(tmp, "w");
        if (!fp) {
                osh_error("env file %s: %s", tmp, strerror(errno));
                return -1;
        }
        fprintf(fp, "# Written by osh-broker (pid %ld); removed when it exits.\n", (long)getpid());
        for (i = 0; i < NSEG; i++)
                fprintf(fp, "%s=%s\n", SEG_ENV[i], b->clusters[b->single ? 0 : i].bootstraps);
        fprintf(fp, "OSH_BROKER_MODE=%s\n", b->single ? "single" : "segmented");
        fprintf(fp, "OSH_BROKER_PID=%ld\n", (long)getpid());
        ok = !ferror(fp) && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
        ok = (fclose(fp) == 0) && ok;
        if (!ok || rename(tmp, b->env_file) == -1) {
                osh_error("env file %s: %s", b->env_file, strerror(errno));
                unlink(tmp);
                return -1;
        }
        return 0;
}

/* Per topic: partitions and what they hold before the mock drops data. */
static void print_capacity(const broker_t *b)
{
        osh_info("capacity per topic (%lld MiB or %d message sets per partition; the "
                 "oldest records beyond are dropped):",
                 MOCK_PART_BYTES >> 20, MOCK_PART_MSGSETS);
        for (size_t i = 0; i < b->ntopics; i++) {
                const topic_t *t = &b->topics[i];
                int n = 0;
                for (int seg = 0; seg < NSEG; seg++) {
                        int k = topic_parts(b, t, seg);
                        n = k > n ? k : n;
                }
                if (!t->hold_count) {
                        osh_info("  %-24s %4d partition(s), %5lld MiB", t->name, n,
                                 n * MOCK_PART_BYTES >> 20);
                        continue;
                }
                long long cap = n * MOCK_PART_BYTES / t->hold_bytes;
                if (cap > (long long)n * MOCK_PART_MSGSETS)
                        cap = (long long)n * MOCK_PART_MSGSETS;
                osh_info("  %-24s %4d partition(s), %5lld MiB: holds %lld records of %lld B "
                         "(must hold %lld)%s",
                         t->name, n, n * MOCK_PART_BYTES >> 20, cap, t->hold_bytes, t->hold_count,
                         cap < t->hold_count ? ": TOO SMALL (--partitions?)" : "");
        }
}

static void print_limits(void)
{
        osh_info("limits of the embedded broker (librdkafka %s mock cluster):",
                 rd_kafka_version_str());
        osh_info("  in memory only: nothing survives a restart");
        osh_info("  5 MiB or 100,000 message sets retained per partition; older data is "
                 "dropped (consumers raise DATA LOST; see the capacity below)");
        osh_info("  no CreateTopics/DeleteTopics/DescribeConfigs: topics come from topics.conf; "
                 "unknown topics are auto-created with 4 partitions");
        osh_info("  no ListGroups/DescribeGroups (DescribeGroups can hang rd_kafka_destroy)");
        osh_info("  no ListOffsets by timestamp; no transactional guarantees");
        osh_info("  consumer groups: use session.timeout.ms >= 6000; first join takes ~3 s");
}

int main(int argc, char **argv)
{
        static broker_t b = {.brokers = 1, .env_file = "broker.env"};
        sigset_t set;
        int i, nclusters, sig = 0, rc;

        osh_log_init("osh-broker", "broker", OSH_LOG_INFO, 0);
        rc = parse_args(&b, argc, argv);
        if (rc)
                return rc == 1 ? 0 : 2;
        if (load_topics(&b) == -1)
                return 2;
        /* Block before librdkafka starts threads, so they inherit the mask
         * and the signals reach sigwait() below. */
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (unlink(b.env_file) == 0)
                osh_warn("removed stale env file %s", b.env_file);
        print_limits();

        nclusters = b.single ? 1 : NSEG;
        for (i = 0; i < nclusters; i++)
                if (cluster_start(&b, &b.clusters[i], i) == -1)
                        goto fail;
        if (write_env_file(&b) == -1)
                goto fail;
        print_capacity(&b);
        osh_info("ready: %zu topics, env file %s", b.ntopics, b.env_file);

        if (sigwait(&set, &sig) != 0)
                sig = 0;
        osh_info("signal %d: shutting down", sig);
        unlink(b.env_file);
        rc = 0;
        goto out;
fail:
        rc = 1;
out:
        clusters_stop(&b, nclusters);
        osh_info("stopped");
        return rc;
}
