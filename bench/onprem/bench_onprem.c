/* bench-onprem: the on-premises data path with the real binaries on
 * osh-broker --single (figures, not a test).
 *
 *   extractor    a gen-residents city (Chiba scale by default) ->
 *                resident.raw.v1: process start to exit (read, hash, parse,
 *                join, emit, END)
 *   produce      the extractor's reference without the files: produce its
 *                records (same count, keys, values, partitions and osh.batch
 *                header, project producer defaults) to a topic laid out like
 *                resident.raw.v1 on the same broker, and flush
 *   scan+produce the physical limit of the extractor's work: read() every
 *                export file and find every ',' and line break with memchr
 *                (one thread), then the same produce + flush
 *   anonymizer   resident.raw.v1 -> resident.abstracted.v1: its first record
 *                seen to its END marker; its log gives the phases (taking
 *                in, judging, releasing) and the k floor, whose target is
 *                0.5x when k is enforced (issue 13), else 0.8x
 *   produce+consume  the anonymizer's reference: produce the same records,
 *                flush, and consume them all back (project consumer defaults)
 *   both stages  a fresh broker, the anonymizer already running: extractor
 *                start to the anonymizer's END marker
 *
 * Round 0 is a warm-up, printed but not counted. Every round starts a fresh
 * broker and runs every mode once; the extractor and its references swap
 * order every round, so load from other processes lands on both sides.
 * The summary gives each mode's median and min-max, the references' spread
 * as the noise level, and each stage's ratio to its references as the
 * median and range of per-round ratios; a target is "met" only when the
 * whole range is at or above it ("range crosses the target" otherwise).
 * Peak RSS and CPU come from wait4() of each child.
 *
 *   bench-onprem [--residents N] [--seed S] [--rounds N (3)] [--only extractor]
 *                [--keep] [--wrap SERVICE=COMMAND] [--anon-arg ARG]...
 *
 * --wrap runs one service (extractor or anonymizer) under a profiler, e.g.
 *   --wrap 'anonymizer=valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p'
 * (COMMAND is split on spaces; its figures are then the profiler's, not
 * the service's). --anon-arg passes ARG to the anonymizer (up to 16), e.g.
 *   --anon-arg --kafka.queue.buffering.max.messages=1000000 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "oshirase/batch.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define BASELINE_TOPIC "bench.baseline.v1" /* produce+consume */
#define PRODUCE_TOPIC  "bench.produce.v1"  /* produce, scan+produce */
#define WATCH_GROUP    "bench-onprem-watch"
#define MAX_ROUNDS     9 /* the warm-up included */
#define HMAC_KEY       "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0"

extern char **environ;

static struct {
        long residents;
        const char *seed;
        int extractor_only, keep;
        const char *wrap;          /* "service=command ..." */
        const char *anon_args[16]; /* --anon-arg: extra anonymizer arguments */
        int nanon_args;
        char bindir[4096], tmp[256];
        int rounds;
        char batch[128]; /* the extractor's last batch id */
        char load[160];  /* load averages, for the report */
} opt = {.residents = 973183, .seed = "1", .rounds = 3};

typedef struct child {
        pid_t pid;
        double t0, wall, cpu;
        long maxrss_kb;
} child_t;

typedef struct stage {
        double secs, cpu;
        long records, maxrss_kb;
} stage_t;

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Children still running, so a failure does not leave brokers behind. */
static pid_t live[8];

static void track(pid_t pid, int add)
{
        for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
                if (add ? !live[i] : live[i] == pid) {
                        live[i] = add ? pid : 0;
                        return;
                }
        }
}

static void die(const char *what)
{
        fprintf(stderr, "bench-onprem: %s (temp dir %s)\n", what, opt.tmp);
        for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++) {
                if (live[i]) {
                        kill(live[i], SIGTERM);
                        waitpid(live[i], NULL, 0);
                }
        }
        exit(1);
}

/* ---- children ---- */

/* argv with opt.wrap's command in front when it names argv[0]'s program;
 * returns argv itself otherwise. The result lives in static storage. */
static char *const *wrapped(char *const argv[])
{
        static char words[1024], *full[64];
        const char *eq = opt.wrap ? strchr(opt.wrap, '=') : NULL;
        const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
        size_t n = 0;

        if (!eq || strlen(prog) != (size_t)(eq - opt.wrap) ||
            strncmp(prog, opt.wrap, (size_t)(eq - opt.wrap)))
                return argv;
        snprintf(words, sizeof(words), "%s", eq + 1);
        for (char *sv, *w = strtok_r(words, " ", &sv); w && n < 32; w = strtok_r(NULL, " ", &sv))
                full[n++] = w;
        for (size_t i = 0; argv[i] && n < 63; i++)
                full[n++] = argv[i];
        full[n] = NULL;
        return full;
}

static void spawn(child_t *c, char *const argv[], const char *out, const char *log)
{
        posix_spawn_file_actions_t fa;
        char *const *av = wrapped(argv);

        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
                                         O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        memset(c, 0, sizeof(*c));
        c->t0 = now_s();
        if (posix_spawnp(&c->pid, av[0], &fa, NULL, av, environ))
                die("cannot start a child process");
        track(c->pid, 1);
        posix_spawn_file_actions_destroy(&fa);
}

/* The child's peak RSS so far (VmHWM, KiB), or 0 once it is gone. Not
 * ru_maxrss: a posix_spawn()ed child starts from this process's high-water
 * mark (exec keeps the larger of the two), and this process holds every
 * record for the baselines. */
static long vm_hwm_kb(pid_t pid)
{
        char path[64], line[256];
        long kb = 0;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        if (!(fp = fopen(path, "r")))
                return 0;
        while (fgets(line, sizeof(line), fp))
                if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
                        break;
        fclose(fp);
        return kb;
}

/* Waits for the child (after sig, unless 0), reading its peak RSS every
 * 5 ms (it can only miss growth in the last 5 ms); fills wall (to now), CPU
 * and peak RSS. Returns its exit status, or -1. */
static int reap(child_t *c, int sig)
{
        struct rusage ru;
        pid_t got;
        int st;

        c->maxrss_kb = vm_hwm_kb(c->pid); /* before a signal ends it */
        if (sig)
                kill(c->pid, sig);
        while ((got = wait4(c->pid, &st, WNOHANG, &ru)) == 0) {
                long kb = vm_hwm_kb(c->pid);
                c->maxrss_kb = kb > c->maxrss_kb ? kb : c->maxrss_kb;
                usleep(5000);
        }
        if (got < 0)
                return -1;
        track(c->pid, 0);
        c->wall = now_s() - c->t0;
        c->cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void bin(char *out, size_t size, const char *name)
{
        snprintf(out, size, "%s/%s", opt.bindir, name);
}

static void gen_city(const char *dir)
{
        char b[4200], n[32], o[512], log[512];
        child_t c;

        bin(b, sizeof(b), "gen-residents");
        snprintf(n, sizeof(n), "%ld", opt.residents);
        snprintf(o, sizeof(o), "%s", dir);
        snprintf(log, sizeof(log), "%s/gen.log", opt.tmp);
        char *argv[] = {b, "--out", o, "--residents", n, "--seed", (char *)opt.seed, NULL};
        spawn(&c, argv, NULL, log);
        if (reap(&c, 0))
                die("gen-residents failed");
        printf("city: %ld residents generated in %.1f s (%s)\n", opt.residents, c.wall, dir);
}

/* The project's topic table plus the baseline topics, laid out exactly like
 * resident.raw.v1 (the mock cannot create topics over the admin API). */
static void write_topics(const char *path)
{
        char src[600], line[512];
        FILE *in, *out;
        int found = 0;

        snprintf(src, sizeof(src), "%s/tools/broker/topics.conf", OSH_SOURCE_DIR);
        in = fopen(src, "r");
        out = fopen(path, "w");
        if (!in || !out)
                die("cannot write the topic table");
        while (fgets(line, sizeof(line), in)) {
                fputs(line, out);
                if (!strncmp(line, OSH_TOPIC_RAW " ", strlen(OSH_TOPIC_RAW) + 1)) {
                        fprintf(out, "%s%s", BASELINE_TOPIC, line + strlen(OSH_TOPIC_RAW));
                        fprintf(out, "%s%s", PRODUCE_TOPIC, line + strlen(OSH_TOPIC_RAW));
                        found = 1;
                }
        }
        fclose(in);
        if (fclose(out) || !found)
                die("topics.conf has no " OSH_TOPIC_RAW);
}

/* Starts osh-broker --single; returns its bootstrap in bs. */
static void start_broker(child_t *c, const char *name, char *bs, size_t bs_size)
{
        char b[4200], env[512], log[512], line[512], topics[512];

        bin(b, sizeof(b), "osh-broker");
        snprintf(env, sizeof(env), "%s/%s.env", opt.tmp, name);
        snprintf(log, sizeof(log), "%s/%s.log", opt.tmp, name);
        snprintf(topics, sizeof(topics), "%s/topics.conf", opt.tmp);
        write_topics(topics);
        char *argv[] = {b, "--single", "--topics", topics, "--env-file", env, NULL};
        spawn(c, argv, NULL, log);
        for (int i = 0; i < 300; i++) {
                FILE *fp = fopen(env, "r");
                while (fp && fgets(line, sizeof(line), fp)) {
                        if (!strncmp(line, "OSH_BOOTSTRAP_CORE=", 19)) {
                                line[strcspn(line, "\r\n")] = '\0';
                                snprintf(bs, bs_size, "%s", line + 19);
                                fclose(fp);
                                return;
                        }
                }
                if (fp)
                        fclose(fp);
                usleep(50000);
        }
        die("osh-broker did not start");
}

static void spawn_extractor(child_t *c, const char *city, const char *bs, const char *tag)
{
        char b[4200], in[600], boot[600], out[512], log[512];

        bin(b, sizeof(b), "extractor");
        snprintf(in, sizeof(in), "--input=%s", city);
        snprintf(boot, sizeof(boot), "--kafka.bootstrap.servers=%s", bs);
        snprintf(out, sizeof(out), "%s/extractor-%s.out", opt.tmp, tag);
        snprintf(log, sizeof(log), "%s/extractor-%s.log", opt.tmp, tag);
        char *argv[] = {b, in, boot, "--ledger=", "--log.level=warn", NULL};
        spawn(c, argv, out, log);
}

static void spawn_anonymizer(child_t *c, const char *bs, const char *tag)
{
        char b[4200], rules[600], boot[600], ready[512], log[512];

        bin(b, sizeof(b), "anonymizer");
        snprintf(rules, sizeof(rules), "--anon.rules=%s/services/anonymizer/rules/rules-v1.conf",
                 OSH_SOURCE_DIR);
        snprintf(boot, sizeof(boot), "--kafka.bootstrap.servers=%s", bs);
        snprintf(ready, sizeof(ready), "--ready.file=%s/anonymizer-%s.ready", opt.tmp, tag);
        snprintf(log, sizeof(log), "%s/anonymizer-%s.log", opt.tmp, tag);
        /* info: its "first record seen" line times the stage without the join */
        char *argv[8 + 16] = {b,     rules, boot, "--anon.hmac.key=" HMAC_KEY, "--log.level=info",
                              ready, NULL};
        for (int i = 0; i < opt.nanon_args; i++)
                argv[6 + i] = (char *)opt.anon_args[i];
        spawn(c, argv, NULL, log);
}

/* The extractor's "batch <id> emitted=<n>" line. */
static long extractor_result(const char *tag, char *batch, size_t batch_size)
{
        char path[512], line[512];
        long n = -1;
        FILE *fp;

        snprintf(path, sizeof(path), "%s/extractor-%s.out", opt.tmp, tag);
        fp = fopen(path, "r");
        while (fp && fgets(line, sizeof(line), fp)) {
                char id[128];
                long e;
                if (sscanf(line, "batch %127s emitted=%ld", id, &e) == 2) {
                        snprintf(batch, batch_size, "%s", id);
                        n = e;
                }
        }
        if (fp)
                fclose(fp);
        return n;
}

static double wall_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall-clock time (epoch s) of the first log line containing needle, from
 * its "YYYY-MM-DDTHH:MM:SS.mmmZ" prefix; -1 if none. */
static double log_time(const char *path, const char *needle)
{
        FILE *fp = fopen(path, "r");
        char line[1024];
        double t = -1;

        while (fp && t < 0 && fgets(line, sizeof(line), fp)) {
                struct tm tm;
                int ms = 0;
                char *rest;
                memset(&tm, 0, sizeof(tm));
                if (!strstr(line, needle) || !(rest = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm)) ||
                    sscanf(rest, ".%3dZ", &ms) != 1)
                        continue;
                t = (double)timegm(&tm) + ms / 1000.0;
        }
        if (fp)
                fclose(fp);
        return t;
}

/* The anonymizer's phases of a batch from its log: taken in, judged,
 * produced (seconds), and its k floor. 0 / -1. */
static int log_phases(const char *path, double ph[3], int *k)
{
        FILE *fp = fopen(path, "r");
        char line[1024];
        const char *p;
        int got = 0;

        while (fp && fgets(line, sizeof(line), fp)) {
                if ((p = strstr(line, " k_floor=")))
                        got |= sscanf(p, " k_floor=%d", k) == 1;
                if ((p = strstr(line, "taken in (first record to END marker) in ")) &&
                    sscanf(p,
                           "taken in (first record to END marker) in %lf s, judged (and START "
                           "sent) in %lf s, produced and flushed (with END) in %lf s",
                           &ph[0], &ph[1], &ph[2]) == 3)
                        got |= 2;
        }
        if (fp)
                fclose(fp);
        return got == 3 ? 0 : -1;
}

/* ---- Kafka helpers ---- */

static rd_kafka_t *client(rd_kafka_type_t type, const char *bs, const char *group)
{
        char errstr[256];
        rd_kafka_conf_t *conf = osh_kafka_conf_new(
            NULL, NULL, type == RD_KAFKA_PRODUCER ? OSH_KAFKA_PRODUCER : OSH_KAFKA_CONSUMER, bs,
            errstr, sizeof(errstr));
        rd_kafka_t *rk;

        if (!conf)
                die(errstr);
        if (group)
                osh_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
        /* the END watcher must see a marker when it lands: with librdkafka's
         * 500 ms fetch wait an idle fetch adds up to half a second to a stage */
        if (group && !strcmp(group, WATCH_GROUP))
                osh_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, sizeof(errstr));
        if (type == RD_KAFKA_PRODUCER)
                osh_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr,
                                   sizeof(errstr));
        rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk)
                die(errstr);
        if (type == RD_KAFKA_CONSUMER)
                rd_kafka_poll_set_consumer(rk);
        return rk;
}

static int partitions(rd_kafka_t *rk, const char *topic)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
        int n = -1;

        if (t && !rd_kafka_metadata(rk, 0, t, &md, 10000) && md->topic_cnt == 1 &&
            !md->topics[0].err)
                n = md->topics[0].partition_cnt;
        if (md)
                rd_kafka_metadata_destroy(md);
        if (t)
                rd_kafka_topic_destroy(t);
        return n;
}

static void assign_all(rd_kafka_t *c, const char *topic, int n)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);

        for (int i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        if (rd_kafka_assign(c, l))
                die("assign");
        rd_kafka_topic_partition_list_destroy(l);
}

/* Reads batch.control.v1 until the END of batch on topic shows up. */
typedef struct watcher {
        rd_kafka_t *c;
} watcher_t;

static void watcher_start(watcher_t *w, const char *bs)
{
        w->c = client(RD_KAFKA_CONSUMER, bs, WATCH_GROUP);
        assign_all(w->c, OSH_TOPIC_BATCH, partitions(w->c, OSH_TOPIC_BATCH));
}

/* Seconds (now) when END arrives, or -1 after limit_s. */
static double watcher_wait_end(watcher_t *w, const char *batch, const char *topic, double limit_s)
{
        double start = now_s();
        char errstr[128];

        while (now_s() - start < limit_s) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(w->c, 100);
                osh_batch_marker_t mk;
                int hit;
                if (!m)
                        continue;
                hit = !m->err &&
                      !osh_batch_marker_decode(m->payload, m->len, &mk, errstr, sizeof(errstr)) &&
                      mk.is_end && !strcmp(mk.topic, topic) &&
                      (!batch || !strcmp(mk.batch_id, batch));
                rd_kafka_message_destroy(m);
                if (hit)
                        return now_s();
        }
        return -1;
}

static void watcher_stop(watcher_t *w)
{
        rd_kafka_consumer_close(w->c);
        rd_kafka_destroy(w->c);
}

/* ---- baselines ---- */

typedef struct rec {
        char key[16];
        void *val;
        size_t len;
        int32_t part;
} rec_t;

/* The records the extractor wrote, and the headers they carry (the same
 * osh.batch on every record: the baselines stamp it as the stage does). */
static struct {
        rec_t *r;
        long n;
        int np;
        size_t bytes;
        char hname[64], hval[128];
        int has_hdr;
} recs;

static rd_kafka_headers_t *rec_headers(void)
{
        rd_kafka_headers_t *h;

        if (!recs.has_hdr)
                return NULL;
        h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, recs.hname, -1, recs.hval, -1);
        return h;
}

static int cmp_key(const void *a, const void *b)
{
        return strcmp(((const rec_t *)a)->key, ((const rec_t *)b)->key);
}

/* Copies the n records of topic (np partitions) into recs. */
static void load(const char *bs, const char *topic, int np, long n)
{
        rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bs, "bench-onprem-load");
        long got = 0;
        double start = now_s();

        if (!(recs.r = calloc((size_t)n, sizeof(*recs.r))))
                die("out of memory");
        assign_all(c, topic, np);
        while (got < n && now_s() - start < 120) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
                rd_kafka_headers_t *h = NULL;
                const char *name;
                const void *v;
                size_t vlen;
                if (!m)
                        continue;
                if (!m->err) {
                        rec_t *x = &recs.r[got++];
                        snprintf(x->key, sizeof(x->key), "%.*s", (int)m->key_len,
                                 (const char *)m->key);
                        if (!(x->val = malloc(m->len)))
                                die("out of memory");
                        memcpy(x->val, m->payload, m->len);
                        x->len = m->len;
                        x->part = m->partition;
                        recs.bytes += m->len;
                        if (!recs.has_hdr && !rd_kafka_message_headers(m, &h) &&
                            !rd_kafka_header_get_all(h, 0, &name, &v, &vlen) &&
                            vlen < sizeof(recs.hval)) {
                                snprintf(recs.hname, sizeof(recs.hname), "%s", name);
                                snprintf(recs.hval, sizeof(recs.hval), "%.*s", (int)vlen,
                                         (const char *)v);
                                recs.has_hdr = 1;
                        }
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        if (got < n)
                die("could not read the extractor's records back");
        recs.n = n;
        recs.np = np;
        /* the extractor sends in ascending 宛名番号 (the 10-digit key), not
         * partition by partition as they come back */
        qsort(recs.r, (size_t)n, sizeof(*recs.r), cmp_key);
}

static long delivered;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        (void)rk;
        (void)opaque;
        delivered += !m->err;
}

/* A producer with the project's defaults, its metadata and producer id
 * fetched before any clock starts (as the extractor's are by the time it
 * sends its first record). */
static rd_kafka_t *warm_producer(const char *bs, const char *topic)
{
        char errstr[256];
        rd_kafka_conf_t *pc =
            osh_kafka_conf_new(NULL, NULL, OSH_KAFKA_PRODUCER, bs, errstr, sizeof(errstr));
        rd_kafka_t *p;

        rd_kafka_conf_set_dr_msg_cb(pc, on_dr);
        if (!(p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof(errstr))))
                die(errstr);
        rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                          RD_KAFKA_V_VALUE("w", 1), RD_KAFKA_V_END);
        rd_kafka_flush(p, 10000);
        delivered = 0;
        return p;
}

/* Every record (same key, value, partition and header), then a flush. */
static void produce_all(rd_kafka_t *p, const char *topic)
{
        for (long i = 0; i < recs.n; i++) {
                const rec_t *r = &recs.r[i];
                rd_kafka_headers_t *h = rec_headers();
                while (rd_kafka_producev(
                           p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(r->part),
                           RD_KAFKA_V_KEY(r->key, strlen(r->key)), RD_KAFKA_V_VALUE(r->val, r->len),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(p, 10);
        }
        rd_kafka_flush(p, 120000);
        if (delivered < recs.n)
                die("baseline: not every record was delivered");
}

/* What reading and splitting the batch's bytes costs at least: every
 * export file read() in 1 MiB blocks (from the page cache, as the
 * extractor maps it) and every ',' and line break found with memchr, on
 * one thread. Returns the separators found (so the work is not dropped). */
static uint64_t scan_city(const char *city)
{
        static char buf[1 << 20];
        char path[1024];
        uint64_t seps = 0;
        DIR *d = opendir(city);
        struct dirent *e;

        while (d && (e = readdir(d))) {
                size_t nl = strlen(e->d_name);
                int fd;
                ssize_t n;
                if (nl < 4 || strcmp(e->d_name + nl - 4, ".csv") || !strcmp(e->d_name, "truth.tsv"))
                        continue;
                snprintf(path, sizeof(path), "%s/%s", city, e->d_name);
                if ((fd = open(path, O_RDONLY)) < 0)
                        die("scan baseline: cannot open an export file");
                while ((n = read(fd, buf, sizeof(buf))) > 0) {
                        for (const char *p = buf, *end = buf + n;
                             (p = memchr(p, '\n', (size_t)(end - p))); p++)
                                seps++;
                        for (const char *p = buf, *end = buf + n;
                             (p = memchr(p, ',', (size_t)(end - p))); p++)
                                seps++;
                }
                close(fd);
        }
        if (d)
                closedir(d);
        return seps;
}

static uint64_t scan_seps;

/* produce: the records alone; scan+produce: the files scanned first. */
static double run_produce(const char *bs, const char *city, int scan)
{
        rd_kafka_t *p = warm_producer(bs, PRODUCE_TOPIC);
        double t0 = now_s(), dt;

        if (scan)
                scan_seps = scan_city(city);
        produce_all(p, PRODUCE_TOPIC);
        dt = now_s() - t0;
        rd_kafka_destroy(p);
        return dt;
}

/* The anonymizer's reference: produce all, flush, consume them all back
 * (the stage consumes and produces as many records). */
static double run_roundtrip(const char *bs)
{
        rd_kafka_t *p = warm_producer(bs, BASELINE_TOPIC), *c;
        long consumed = 0;
        double t0;

        c = client(RD_KAFKA_CONSUMER, bs, "bench-onprem-baseline");
        assign_all(c, BASELINE_TOPIC, recs.np);
        t0 = now_s();
        produce_all(p, BASELINE_TOPIC);
        while (consumed < recs.n + 1 && now_s() - t0 < 300) { /* + the warm-up record */
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                if (!m)
                        continue;
                consumed += !m->err;
                rd_kafka_message_destroy(m);
        }
        double dt = now_s() - t0;
        if (consumed < recs.n + 1)
                die("baseline: not every record came back");
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        rd_kafka_destroy(p);
        return dt;
}

/* ---- rounds ---- */

static void parse_args(int argc, char **argv)
{
        char resolved[4096];

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--residents") && i + 1 < argc)
                        opt.residents = atol(argv[++i]);
                else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
                        opt.seed = argv[++i];
                else if (!strcmp(argv[i], "--only") && i + 1 < argc &&
                         !strcmp(argv[i + 1], "extractor") && ++i)
                        opt.extractor_only = 1;
                else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
                        opt.rounds = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--keep"))
                        opt.keep = 1;
                else if (!strcmp(argv[i], "--wrap") && i + 1 < argc && strchr(argv[i + 1], '='))
                        opt.wrap = argv[++i];
                else if (!strcmp(argv[i], "--anon-arg") && i + 1 < argc && opt.nanon_args < 16)
                        opt.anon_args[opt.nanon_args++] = argv[++i];
                else {
                        fprintf(stderr, "usage: bench-onprem [--residents N] [--seed S] "
                                        "[--rounds N] [--only extractor] [--keep] "
                                        "[--wrap SERVICE=COMMAND] "
                                        "[--anon-arg ARG]...\n");
                        exit(2);
                }
        }
        if (opt.residents < 100)
                die("--residents: at least 100");
        if (opt.rounds < 1 || opt.rounds > MAX_ROUNDS - 1)
                die("--rounds: 1 to 8 (plus the warm-up round)");
        if (!realpath(argv[0], resolved))
                snprintf(resolved, sizeof(resolved), "%s", argv[0]);
        snprintf(opt.bindir, sizeof(opt.bindir), "%s", dirname(resolved));
}

static int have_anonymizer(void)
{
        char b[4200];

        bin(b, sizeof(b), "anonymizer");
        return access(b, X_OK) == 0 && !opt.extractor_only;
}

static void wait_file(const char *path, double limit_s)
{
        double start = now_s();

        while (access(path, F_OK) && now_s() - start < limit_s)
                usleep(50000);
        if (access(path, F_OK))
                die("a service did not become ready");
}

/* Both stages at once on a fresh broker; returns extractor start to the
 * anonymizer's END. */
static double run_pipeline(const char *city, long records, const char *t)
{
        child_t broker, anon, ext;
        watcher_t w;
        char bs[512], ready[512], batch[128], name[64];
        double t_end;

        snprintf(name, sizeof(name), "broker-%s", t);
        start_broker(&broker, name, bs, sizeof(bs));
        spawn_anonymizer(&anon, bs, t);
        snprintf(ready, sizeof(ready), "%s/anonymizer-%s.ready", opt.tmp, t);
        wait_file(ready, 60);
        watcher_start(&w, bs);
        sleep(4); /* a running pipeline has joined its group long ago */
        spawn_extractor(&ext, city, bs, t);
        if (reap(&ext, 0))
                die("extractor failed (pipeline)");
        if (extractor_result(t, batch, sizeof(batch)) != records)
                die("pipeline: another record count");
        t_end = watcher_wait_end(&w, batch, OSH_TOPIC_ABSTRACTED, 600);
        watcher_stop(&w);
        reap(&anon, SIGTERM);
        reap(&broker, SIGTERM);
        return t_end < 0 ? -1 : t_end - ext.t0;
}

/* One round's figures. */
typedef struct round {
        stage_t ext, produce, scanprod, anon, trip, both;
        stage_t take, judge, release; /* the anonymizer's phases, from its log */
        double anon_from_start;
        int k; /* the anonymizer's k floor */
} round_t;

static void tag(char *out, size_t size, const char *what, int r)
{
        snprintf(out, size, "%s%d", what, r);
}

static void run_extractor(int r, const char *city, const char *bs, round_t *out)
{
        child_t ext;
        char batch[128], t[32];

        tag(t, sizeof(t), "alone", r);
        spawn_extractor(&ext, city, bs, t);
        if (reap(&ext, 0))
                die("extractor failed (see its log under the temp dir; --keep)");
        out->ext =
            (stage_t){ext.wall, ext.cpu, extractor_result(t, batch, sizeof(batch)), ext.maxrss_kb};
        if (out->ext.records <= 0 || (recs.n && out->ext.records != recs.n))
                die("extractor: no result, or another record count");
        if (!recs.n) { /* the warm-up round keeps its records for the baselines */
                rd_kafka_t *probe = client(RD_KAFKA_PRODUCER, bs, NULL);
                int np = partitions(probe, OSH_TOPIC_RAW);
                rd_kafka_destroy(probe);
                load(bs, OSH_TOPIC_RAW, np, out->ext.records);
                printf("records: %ld resident.raw.v1 (consenting applicants), %.0f value bytes "
                       "on average, %d partitions, header %s\n",
                       recs.n, (double)recs.bytes / (double)recs.n, np,
                       recs.has_hdr ? recs.hname : "(none)");
        }
        snprintf(opt.batch, sizeof(opt.batch), "%s", batch);
}

static void run_extractor_baselines(const char *city, const char *bs, round_t *out)
{
        out->produce = (stage_t){run_produce(bs, city, 0), 0, recs.n, 0};
        out->scanprod = (stage_t){run_produce(bs, city, 1), 0, recs.n, 0};
}

/* The anonymizer alone (the extractor's records already on bs), then its
 * reference on the same broker. */
static void run_anonymizer(int r, const char *bs, round_t *out)
{
        child_t anon;
        watcher_t w;
        char t[32], log[600];
        double t_end, t_wall, t_first, ph[3];

        tag(t, sizeof(t), "alone", r);
        watcher_start(&w, bs);
        spawn_anonymizer(&anon, bs, t);
        t_end = watcher_wait_end(&w, opt.batch, OSH_TOPIC_ABSTRACTED, 600);
        t_wall = wall_s();
        watcher_stop(&w);
        reap(&anon, SIGTERM);
        snprintf(log, sizeof(log), "%s/anonymizer-%s.log", opt.tmp, t);
        t_first = log_time(log, "first record seen");
        if (t_end < 0 || t_first < 0)
                die("anonymizer: no END marker (see its log; --keep)");
        out->anon = (stage_t){t_wall - t_first, anon.cpu, recs.n, anon.maxrss_kb};
        if (log_phases(log, ph, &out->k))
                die("anonymizer: no phase times or k floor in its log");
        out->take = (stage_t){ph[0], 0, recs.n, 0};
        out->judge = (stage_t){ph[1], 0, recs.n, 0};
        out->release = (stage_t){ph[2], 0, recs.n, 0};
        out->anon_from_start = t_end - anon.t0;
        out->trip = (stage_t){run_roundtrip(bs), 0, recs.n, 0};
}

/* Every mode once on a fresh broker. The extractor and its two references
 * swap order every round, so a burst of load lands on either side alike. */
static void run_round(int r, const char *city, round_t *out)
{
        child_t broker;
        char bs[512], t[32];

        tag(t, sizeof(t), "broker", r);
        start_broker(&broker, t, bs, sizeof(bs));
        if (r == 0 || r % 2) {
                run_extractor(r, city, bs, out);
                run_extractor_baselines(city, bs, out);
        } else {
                run_extractor_baselines(city, bs, out);
                run_extractor(r, city, bs, out);
        }
        if (have_anonymizer())
                run_anonymizer(r, bs, out);
        reap(&broker, SIGTERM);
        if (have_anonymizer()) {
                tag(t, sizeof(t), "pipe", r);
                double both = run_pipeline(city, recs.n, t);
                if (both < 0)
                        die("pipeline: no END marker");
                out->both = (stage_t){both, 0, recs.n, 0};
        }
}

static void print_round(int r, const round_t *x)
{
        printf("round %d%s: extractor %.3f s, produce %.3f s (%.2fx), scan+produce %.3f s "
               "(%.2fx)",
               r, r ? "" : " (warm-up, not counted)", x->ext.secs, x->produce.secs,
               x->produce.secs / x->ext.secs, x->scanprod.secs, x->scanprod.secs / x->ext.secs);
        if (have_anonymizer())
                printf("; anonymizer %.3f s (%.2f s from its start, with the mock's group join), "
                       "produce+consume %.3f s (%.2fx); both %.2f s",
                       x->anon.secs, x->anon_from_start, x->trip.secs, x->trip.secs / x->anon.secs,
                       x->both.secs);
        printf("\n");
        fflush(stdout);
}

/* ---- report ---- */

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* Median, and the range, of n values (sorted in place). */
static double median(double *v, int n, double *lo, double *hi)
{
        qsort(v, (size_t)n, sizeof(*v), cmp_double);
        *lo = v[0];
        *hi = v[n - 1];
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const stage_t *stage_of(const round_t *r, size_t off)
{
        return (const stage_t *)((const char *)r + off);
}

/* A mode's line: median seconds (range), records/s, peak RSS and CPU.
 * Returns the spread (max-min)/median. */
static double summarize(const char *name, const round_t *rs, int n, size_t off)
{
        double secs[MAX_ROUNDS], cpu[MAX_ROUNDS], lo, hi, clo, chi, ms, mc;
        long rss = 0;

        for (int r = 0; r < n; r++) {
                const stage_t *s = stage_of(&rs[r], off);
                secs[r] = s->secs;
                cpu[r] = s->cpu;
                rss = s->maxrss_kb > rss ? s->maxrss_kb : rss;
        }
        ms = median(secs, n, &lo, &hi);
        mc = median(cpu, n, &clo, &chi);
        printf("%-15s %7.3f s (%.3f-%.3f)  %8.0f records/s", name, ms, lo, hi, (double)recs.n / ms);
        if (rss)
                printf("  peak RSS %5.1f MiB (max of the rounds, target < 256)  CPU %.2f s "
                       "(%.2f-%.2f)",
                       (double)rss / 1024, mc, clo, chi);
        printf("\n");
        return (hi - lo) / ms;
}

/* "met" only when the whole range is at or above the target. */
static const char *verdict(double lo, double hi, double target)
{
        return lo >= target ? "met" : hi < target ? "NOT met" : "range crosses the target";
}

/* A stage against a reference: the per-round ratios reference/stage. */
static void ratio(const char *stage, size_t soff, const char *ref, size_t roff, const round_t *rs,
                  int n, double target)
{
        double v[MAX_ROUNDS], lo, hi, m;

        for (int r = 0; r < n; r++)
                v[r] = stage_of(&rs[r], roff)->secs / stage_of(&rs[r], soff)->secs;
        m = median(v, n, &lo, &hi);
        printf("  %-14s vs %-16s %.2fx (rounds %.2f-%.2f)", stage, ref, m, lo, hi);
        if (target > 0)
                printf("  target %.1fx: %s", target, verdict(lo, hi, target));
        printf("\n");
}

static void report(const round_t *all, int n)
{
        const round_t *rs = all + 1; /* round 0 is the warm-up */
        double noise = 0, s;

        printf("median of %d round(s) after the warm-up (min-max); the machine is shared and "
               "loaded by other work (load average %s)\n",
               n, opt.load);
#define LINE(name, field) summarize(name, rs, n, offsetof(round_t, field))
        LINE("extractor", ext);
        s = LINE("produce", produce);
        noise = s > noise ? s : noise;
        s = LINE("scan+produce", scanprod);
        noise = s > noise ? s : noise;
        if (have_anonymizer()) {
                LINE("anonymizer", anon);
                LINE("  taking in", take);
                LINE("  judging", judge);
                LINE("  releasing", release);
                s = LINE("produce+consume", trip);
                noise = s > noise ? s : noise;
                LINE("both stages", both);
        }
#undef LINE
        printf("noise: the references' spread (max-min)/median is up to %.0f%%\n", 100 * noise);
        printf("ratios (reference time / stage time, per round):\n");
        ratio("extractor", offsetof(round_t, ext), "produce", offsetof(round_t, produce), rs, n, 0);
        ratio("extractor", offsetof(round_t, ext), "scan+produce", offsetof(round_t, scanprod), rs,
              n, 0.8);
        if (have_anonymizer()) { /* k enforced: the target is half the reference (#13) */
                char name[32];
                snprintf(name, sizeof(name), "anonymizer k=%d", rs[0].k);
                ratio(name, offsetof(round_t, anon), "produce+consume", offsetof(round_t, trip), rs,
                      n, rs[0].k > 1 ? 0.5 : 0.8);
        }
        if (!have_anonymizer())
                printf("anonymizer: not built (or --only extractor): stage and pipeline "
                       "skipped\n");
        printf("scan: %" PRIu64 " separators (',' and line breaks) in the exports\n", scan_seps);
}

static void load_average(char *out, size_t size)
{
        double l[3];

        if (getloadavg(l, 3) == 3)
                snprintf(out, size, "%.1f %.1f %.1f", l[0], l[1], l[2]);
        else
                snprintf(out, size, "?");
}

int main(int argc, char **argv)
{
        round_t rs[MAX_ROUNDS];
        char errstr[256], city[512], cmd[700], l0[64];

        parse_args(argc, argv);
        osh_log_init("bench-onprem", NULL, OSH_LOG_ERROR, 0);
        if (osh_serde_init(errstr, sizeof(errstr)))
                die(errstr);
        snprintf(opt.tmp, sizeof(opt.tmp), "/tmp/bench-onprem.XXXXXX");
        if (!mkdtemp(opt.tmp))
                die("mkdtemp");
        snprintf(city, sizeof(city), "%s/city", opt.tmp);
        printf("bench-onprem: osh-broker --single (librdkafka mock) on loopback, %ld CPUs, "
               "warm-up + %d round(s)\n",
               sysconf(_SC_NPROCESSORS_ONLN), opt.rounds);
        gen_city(city);
        /* the exports are on disk before a run, as a dropped batch is: the
         * generator's 250 MB of writeback would otherwise land in the
         * extractor's figure */
        sync();
        load_average(l0, sizeof(l0));
        for (int r = 0; r <= opt.rounds; r++) {
                run_round(r, city, &rs[r]);
                print_round(r, &rs[r]);
        }
        load_average(opt.load, sizeof(opt.load));
        snprintf(opt.load + strlen(opt.load), sizeof(opt.load) - strlen(opt.load),
                 " at the end, %s at the start", l0);
        report(rs, opt.rounds);
        if (!opt.keep) {
                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", opt.tmp);
                if (system(cmd))
                        fprintf(stderr, "bench-onprem: could not remove %s\n", opt.tmp);
        } else {
                printf("kept %s\n", opt.tmp);
        }
        for (long i = 0; i < recs.n; i++)
                free(recs.r[i].val);
        free(recs.r);
        osh_serde_shutdown();
        return 0;
}
