/* bench-dispatch: sns-dispatcher's delivery rate against its peers on the
 * same fake, in interleaved rounds (figures, not a test).
 *
 *   bench-dispatch [N [N_APPRISE_CLI [nosync]]] [--rounds R] [--apprise-lib M]
 *                  [--concurrency C (the dispatcher's http.concurrency, default 8)]
 *
 * It starts osh-fake-providers (LINE fake and a webhook sink that verifies
 * the HMAC signature and de-duplicates Idempotency-Key) and, every round,
 * runs each mode once, back to back:
 *   disp push    N single-recipient LINE dispatches through the dispatcher
 *                core (the code the service runs per record: decode, ledger,
 *                render, format, pace, send, settle), ledger fsync on,
 *                in poll batches of 64 as the service runs it (requests of
 *                a batch in flight C at a time, each batch's ledger entries
 *                synced in the background while the next is sent)
 *   raw push     a bare libcurl loop over one kept-alive connection posting
 *                N push bodies (bearer token, fresh X-Line-Retry-Key) to the
 *                same fake: the floor
 *   disp webhook N signed webhook dispatches
 *   raw webhook  the same bodies and headers the sink requires (HMAC
 *                signature, Idempotency-Key) from a bare libcurl loop
 *   multicast    N/100 LINE dispatches of 500 recipients (no peer)
 *   apprise lib  Apprise as a library in one Python process: M notify()
 *                calls to the same sink (no start-up per message)
 * and, once after the rounds, Apprise's CLI N_APPRISE_CLI times (one process
 * per message, as an operator would run it; 0 skips both Apprise peers).
 * Kafka is left out on purpose: every side is timed from "message in hand"
 * to "provider answered" (and, for the dispatcher, its ledger durable).
 *
 * Round 0 is a warm-up. The order of a dispatcher mode and its raw peer
 * alternates between rounds. Ratios are per round (dispatcher / raw of the
 * same round) and given as median and min-max; a goal is "met" only when
 * the whole range is at or above it ("range crosses the goal" otherwise).
 * "nosync" turns the ledger's fdatasync off (what it costs). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"

#include "disp_core.h"

#define ROUNDS_MAX 32
#define GOAL       0.8
#define SECRET     "bench-secret"
#define TEXT_IN    "【特定健康診査のご案内】\n受診期限：１２月２５日\n・お問合せ：043-245-5146"
/* TEXT_IN as the dispatcher sends it (full-width digits made half-width). */
#define TEXT_OUT "【特定健康診査のご案内】\\n受診期限：12月25日\\n・お問合せ：043-245-5146"

enum { M_PUSH, M_RAW_PUSH, M_HOOK, M_RAW_HOOK, M_MULTI, M_APPRISE, M__CNT };
static const char *const mode_name[M__CNT] = {"disp push",   "raw push",  "disp webhook",
                                              "raw webhook", "multicast", "apprise lib"};

static struct {
        size_t n;
        int cli, lib, rounds, sync, concurrency;
        int port, apprise_port; /* the fake, and a second one whose sink takes unsigned posts */
        char url[128], hook[160];
} opt = {2000, 3, 200, 5, 1, 8, 0, 0, "", ""};

static double rate[M__CNT][ROUNDS_MAX + 1]; /* per second; 0: did not run */
/* CPU microseconds per message of this process (all its threads) and of
 * the fake, per mode and round. */
static double cpu_self[M__CNT][ROUNDS_MAX + 1], cpu_fake[M__CNT][ROUNDS_MAX + 1];
static pid_t fake_pid;

static double self_cpu_s(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of the fake from /proc (clock ticks). */
static double fake_cpu_s(void)
{
        char path[64], buf[1024], *p;
        unsigned long ut = 0, st = 0;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)fake_pid);
        fp = fopen(path, "r");
        if (!fp)
                return 0;
        p = fgets(buf, sizeof(buf), fp) ? strrchr(buf, ')') : NULL;
        fclose(fp);
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
                return 0;
        return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct snap {
        double self, fake;
} snap_t;

static snap_t snap(void)
{
        return (snap_t){self_cpu_s(), fake_cpu_s()};
}

/* CPU used since a by mode's n messages in round r. */
static void account(int mode, int r, snap_t a, size_t n)
{
        snap_t b = snap();

        cpu_self[mode][r] = (b.self - a.self) * 1e6 / (double)n;
        cpu_fake[mode][r] = (b.fake - a.fake) * 1e6 / (double)n;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *record(const char *id, const char *channel, size_t n_rcpt, size_t first, size_t *len)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_DISPATCH);
        avro_value_t v, arr, item;
        char acc[64], err[256];
        void *buf = NULL;

        osh_value_new(s, &v);
        osh_value_set_string(&v, "dispatch_id", id);
        osh_value_set_string(&v, "campaign_id", "BENCH");
        osh_value_set_enum(&v, "channel", channel);
        osh_value_set_string(&v, "text", TEXT_IN);
        osh_value_field(&v, "recipients", &arr);
        for (size_t i = 0; i < n_rcpt; i++) {
                osh_value_append(s, &arr, &item);
                snprintf(acc, sizeof(acc), "U%032zx", first + i);
                osh_value_set_string(&item, "user_id", acc + 1);
                if (!strcmp(channel, "WEBHOOK")) /* webhook account ids are https URLs */
                        snprintf(acc, sizeof(acc), "https://example.jp/hook/%zu", first + i);
                osh_value_set_string(&item, "account_id", acc);
        }
        if (osh_serde_encode_alloc(s, &v, &buf, len, err, sizeof(err)) < 0)
                fprintf(stderr, "encode: %s\n", err);
        avro_value_decref(&v);
        return buf;
}

static int sent;
static char ledger_note[160]; /* the last dispatcher run's group commits */

static void on_status(void *o, const disp_status_t *st)
{
        (void)o;
        if (!strcmp(st->status, "SENT"))
                sent += st->recipients;
}

#define BATCH    64 /* the service's poll batch (GROUP_MAX) */
#define HELD_MAX 8  /* batches whose ledger entries may still be syncing */

/* n dispatches of r recipients through the core as the service feeds it:
 * batches of 64 records, each batch's ledger entries committed in the
 * background while the next batch is sent (at most HELD_MAX batches
 * behind), all durable at the end; recipients/s. The records are encoded
 * before the clock starts (the service gets them from Kafka encoded). */
static double run_disp(disp_core_t *core, disp_ledger_t *l, const char *tag, const char *channel,
                       size_t n, size_t r, int mode, int round)
{
        disp_record_t *recs = calloc(n, sizeof(*recs));
        char(*id)[64] = calloc(n, sizeof(*id));
        uint64_t ticket[HELD_MAX] = {0};
        size_t nb = 0;
        double t0;

        for (size_t i = 0; recs && id && i < n; i++) {
                snprintf(id[i], sizeof(id[i]), "%s-%zu", tag, i);
                recs[i].key = id[i];
                recs[i].rec = record(id[i], channel, r, i * r, &recs[i].len);
        }
        disp_ledger_stats_t l0, l1;

        disp_ledger_stats(l, &l0);
        sent = 0;
        snap_t a = snap();
        t0 = now_s();
        for (size_t i = 0; recs && id && i < n; i += BATCH) {
                disp_ledger_durable(l, ticket[nb % HELD_MAX], 1); /* the oldest batch */
                disp_core_handle_batch(core, recs + i, n - i < BATCH ? n - i : BATCH);
                ticket[nb++ % HELD_MAX] = disp_ledger_commit(l);
        }
        disp_ledger_sync(l);
        t0 = now_s() - t0;
        account(mode, round, a, n * r);
        disp_ledger_stats(l, &l1);
        snprintf(ledger_note, sizeof(ledger_note),
                 "; %" PRIu64 " fdatasync, mean %.1f ms (max so far %.1f), sender waited %.0f ms",
                 l1.syncs - l0.syncs,
                 l1.syncs > l0.syncs ? (l1.sync_ms - l0.sync_ms) / (double)(l1.syncs - l0.syncs)
                                     : 0,
                 l1.sync_ms_max, l1.waited_ms - l0.waited_ms);
        for (size_t i = 0; recs && i < n; i++)
                free((void *)recs[i].rec);
        free(recs);
        free(id);
        return sent == (int)(n * r) ? sent / t0 : 0;
}

static size_t sink(char *p, size_t size, size_t n, void *o)
{
        (void)p;
        (void)o;
        return size * n;
}

/* One request of the raw loop: headers h (consumed), body; 1 when 2xx. */
static int raw_post(CURL *c, const char *url, struct curl_slist *h, const char *body)
{
        long code = 0;
        int ok;

        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        ok = curl_easy_perform(c) == CURLE_OK &&
             curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code < 300;
        curl_slist_free_all(h);
        return ok;
}

/* The floor: one libcurl handle (one kept-alive connection) posting the
 * push body of each message with a bearer token and a fresh retry key. */
static double run_raw_push(int round)
{
        CURL *c = curl_easy_init();
        char url[192], body[512], rk[80];
        double t0 = now_s();
        size_t ok = 0;

        snprintf(url, sizeof(url), "%s/v2/bot/message/push", opt.url);
        for (size_t i = 0; c && i < opt.n; i++) {
                struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
                h = curl_slist_append(h, "Authorization: Bearer line-test-token");
                snprintf(rk, sizeof(rk), "X-Line-Retry-Key: %08x-%04x-4000-8000-%012zx",
                         (unsigned)getpid(), (unsigned)round, i);
                h = curl_slist_append(h, rk);
                snprintf(body, sizeof(body),
                         "{\"to\":\"U%032zx\",\"messages\":[{\"type\":\"text\",\"text\":\"" TEXT_OUT
                         "\"}],\"notificationDisabled\":false}",
                         900000 + i);
                ok += (size_t)raw_post(c, url, h, body);
        }
        t0 = now_s() - t0;
        if (c)
                curl_easy_cleanup(c);
        return ok == opt.n ? ok / t0 : 0;
}

/* The same webhook request as the dispatcher's (body, HMAC signature over
 * "<ts>.<body>", Idempotency-Key), which the sink requires. */
static double run_raw_hook(int round)
{
        CURL *c = curl_easy_init();
        char body[768], msg[800], ts[64], sig[96], idem[96], hex[OSH_SHA256_HEX_LEN + 1];
        uint8_t mac[OSH_SHA256_LEN];
        double t0 = now_s();
        size_t ok = 0;

        for (size_t i = 0; c && i < opt.n; i++) {
                struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
                long long now = (long long)time(NULL);
                int bl = snprintf(body, sizeof(body),
                                  "{\"dispatch_id\":\"raw-%d-%zu\",\"campaign_id\":\"BENCH\","
                                  "\"recipient\":{\"user_id\":\"%032zx\",\"account_id\":"
                                  "\"https://example.jp/hook/%zu\"},\"title\":\"\",\"text\":"
                                  "\"" TEXT_OUT "\",\"test\":false,\"critical\":false}",
                                  round, i, i, i);
                int ml = snprintf(msg, sizeof(msg), "%lld.%s", now, body);
                osh_hmac_sha256(SECRET, strlen(SECRET), msg, (size_t)ml, mac);
                osh_hex_encode(mac, sizeof(mac), hex);
                snprintf(ts, sizeof(ts), "X-Osh-Timestamp: %lld", now);
                snprintf(sig, sizeof(sig), "X-Osh-Signature: sha256=%s", hex);
                snprintf(idem, sizeof(idem), "Idempotency-Key: %08x-%04x-5000-8000-%012zx",
                         (unsigned)getpid(), (unsigned)round, i);
                h = curl_slist_append(h, ts);
                h = curl_slist_append(h, sig);
                h = curl_slist_append(h, idem);
                (void)bl;
                ok += (size_t)raw_post(c, opt.hook, h, body);
        }
        t0 = now_s() - t0;
        if (c)
                curl_easy_cleanup(c);
        return ok == opt.n ? ok / t0 : 0;
}

/* Apprise as a library: one Python process, one Apprise object, opt.lib
 * notify() calls to the sink (timed inside Python, import excluded). */
static double run_apprise_lib(int round)
{
        char cmd[1024];
        double secs = 0;
        int ok = 0;
        FILE *fp;

        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/python3 -c 'import apprise, time\n"
                 "a = apprise.Apprise(); a.add(\"json://127.0.0.1:%d/hook/apprise-lib\")\n"
                 "t = time.monotonic(); ok = 0\n"
                 "for i in range(%d): ok += "
                 "bool(a.notify(body=\"【特定健康診査のご案内】受診期限：12月25日 %d-%%d\" %% i))\n"
                 "print(ok, time.monotonic() - t)' 2>/dev/null",
                 opt.apprise_port, opt.lib, round);
        fp = popen(cmd, "r");
        if (!fp)
                return 0;
        if (fscanf(fp, "%d %lf", &ok, &secs) != 2 || secs <= 0)
                ok = 0;
        pclose(fp);
        return ok == opt.lib ? ok / secs : 0;
}

/* Apprise's CLI, one process per message. */
static double run_apprise_cli(void)
{
        char cmd[512];
        double t0 = now_s();
        int ok = 0;

        for (int i = 0; i < opt.cli; i++) {
                snprintf(cmd, sizeof(cmd),
                         "apprise -b '【特定健康診査のご案内】受診期限：12月25日 %d' "
                         "'json://127.0.0.1:%d/hook/apprise' >/dev/null 2>&1",
                         i, opt.apprise_port);
                ok += system(cmd) == 0;
        }
        t0 = now_s() - t0;
        return ok == opt.cli ? ok / t0 : 0;
}

/* osh-fake-providers in dir/name; its webhook sink verifies signatures
 * when secret is given. The port goes to *port. */
static pid_t start_fakes(const char *dir, const char *name, const char *secret, int *port)
{
        char pf[256], log[256], ready[256];
        pid_t pid;
        FILE *fp;

        snprintf(pf, sizeof(pf), "%s/%s.port", dir, name);
        snprintf(log, sizeof(log), "%s/%s.jsonl", dir, name);
        snprintf(ready, sizeof(ready), "--ready.file=%s/%s.ready", dir, name);
        pid = fork();
        if (pid == 0) {
                char *av[] = {"osh-fake-providers",
                              "--port.file",
                              pf,
                              "--log",
                              log,
                              "--rate.push",
                              "0",
                              "--rate.multicast",
                              "0",
                              "--log.level",
                              "warn",
                              "--threads",
                              "4",
                              ready,
                              "--webhook.secret",
                              (char *)secret,
                              NULL};
                if (!secret)
                        av[14] = NULL;
                execv(OSH_BIN_DIR "/osh-fake-providers", av);
                _exit(127);
        }
        for (int i = 0; i < 100; i++) {
                usleep(50000);
                fp = fopen(pf, "r");
                if (fp && fscanf(fp, "%d", port) == 1) {
                        fclose(fp);
                        return pid;
                }
                if (fp)
                        fclose(fp);
        }
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return -1;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* Median and min-max of the k values of v (k > 0; v is sorted in place). */
static double median(double *v, int k, double *lo, double *hi)
{
        qsort(v, (size_t)k, sizeof(*v), cmp_double);
        *lo = v[0];
        *hi = v[k - 1];
        return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/* Rates of mode over the timed rounds (1..rounds) that ran; count. */
static int timed(int mode, double *v)
{
        int k = 0;

        for (int r = 1; r <= opt.rounds; r++)
                if (rate[mode][r] > 0)
                        v[k++] = rate[mode][r];
        return k;
}

static double cpu_median(const double *per_round)
{
        double v[ROUNDS_MAX], lo, hi;
        int k = 0;

        for (int r = 1; r <= opt.rounds; r++)
                v[k++] = per_round[r];
        return median(v, k, &lo, &hi);
}

static void print_rates(void)
{
        double v[ROUNDS_MAX], lo, hi, med;
        int k;

        for (int m = 0; m < M__CNT; m++) {
                if (!(k = timed(m, v)))
                        continue;
                med = median(v, k, &lo, &hi);
                printf("  %-13s %9.0f /s (%.0f-%.0f)%s", mode_name[m], med, lo, hi,
                       m == M_MULTI ? " recipients" : " messages");
                if (m != M_APPRISE)
                        printf(", CPU per message %.1f us here + %.1f us fake (medians)",
                               cpu_median(cpu_self[m]), cpu_median(cpu_fake[m]));
                printf("\n");
                if (m == M_RAW_PUSH || m == M_RAW_HOOK)
                        printf("  %-13s noise: (max-min)/median %.0f%%\n", "",
                               100 * (hi - lo) / med);
        }
}

/* Per-round ratio mode/ref: median, min-max, and against goal (0: none). */
static void print_ratio(const char *what, int mode, int ref, double goal)
{
        double v[ROUNDS_MAX], lo, hi, med;
        int k = 0;

        for (int r = 1; r <= opt.rounds; r++)
                if (rate[mode][r] > 0 && rate[ref][r] > 0)
                        v[k++] = rate[mode][r] / rate[ref][r];
        if (!k)
                return;
        med = median(v, k, &lo, &hi);
        printf("  ratio %-34s %6.2fx (rounds %.2f-%.2f)", what, med, lo, hi);
        if (goal > 0)
                printf("  goal >= %.1fx: %s", goal,
                       lo >= goal  ? "met"
                       : hi < goal ? "NOT met"
                                   : "range crosses the goal");
        printf("\n");
}

static void round_line(int round, int mode)
{
        int disp = mode == M_PUSH || mode == M_HOOK || mode == M_MULTI;

        printf("  %sround %d %-13s %9.0f /s   CPU per message: %5.1f us here, %5.1f us fake%s\n",
               round ? "" : "(warm-up) ", round, mode_name[mode], rate[mode][round],
               cpu_self[mode][round], cpu_fake[mode][round], disp ? ledger_note : "");
        fflush(stdout);
}

/* One round: every mode once, a dispatcher mode and its raw peer in an
 * order that alternates between rounds. */
static void one_round(disp_core_t *core, disp_ledger_t *l, int r)
{
        char tag[32];
        int flip = r % 2;

        for (int pair = 0; pair < 2; pair++) {
                int dm = pair ? M_HOOK : M_PUSH, rm = pair ? M_RAW_HOOK : M_RAW_PUSH;
                for (int j = 0; j < 2; j++) {
                        snap_t a = snap();
                        if ((j == 0) != flip) {
                                snprintf(tag, sizeof(tag), "%s-%d", pair ? "hook" : "push", r);
                                rate[dm][r] = run_disp(core, l, tag, pair ? "WEBHOOK" : "LINE",
                                                       opt.n, 1, dm, r);
                                round_line(r, dm);
                        } else {
                                rate[rm][r] = pair ? run_raw_hook(r) : run_raw_push(r);
                                account(rm, r, a, opt.n);
                                round_line(r, rm);
                        }
                }
        }
        snprintf(tag, sizeof(tag), "multi-%d", r);
        rate[M_MULTI][r] =
            run_disp(core, l, tag, "LINE", opt.n / 100 ? opt.n / 100 : 1, 500, M_MULTI, r);
        round_line(r, M_MULTI);
        if (opt.cli > 0 && opt.lib > 0) {
                rate[M_APPRISE][r] = run_apprise_lib(r);
                round_line(r, M_APPRISE);
        }
}

static void parse_args(int argc, char **argv)
{
        int pos = 0;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
                        opt.rounds = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--concurrency") && i + 1 < argc)
                        opt.concurrency = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--apprise-lib") && i + 1 < argc)
                        opt.lib = atoi(argv[++i]);
                else if (!strcmp(argv[i], "nosync"))
                        opt.sync = 0;
                else if (pos++ == 0)
                        opt.n = strtoul(argv[i], NULL, 10);
                else
                        opt.cli = atoi(argv[i]);
        }
        if (opt.rounds < 1)
                opt.rounds = 1;
        if (opt.rounds > ROUNDS_MAX)
                opt.rounds = ROUNDS_MAX;
        if (!opt.n)
                opt.n = 1;
}

static double loadavg(void)
{
        double l = -1;
        FILE *fp = fopen("/proc/loadavg", "r");

        if (fp) {
                if (fscanf(fp, "%lf", &l) != 1)
                        l = -1;
                fclose(fp);
        }
        return l;
}

int main(int argc, char **argv)
{
        char dir[] = "/tmp/bench-dispatch.XXXXXX", ledger[256], err[256];
        disp_core_conf_t conf = {0};
        disp_ledger_t *l = NULL;
        disp_core_t *core = NULL;
        double load0 = loadavg(), cli = 0;
        pid_t fakes, fakes2 = -1;

        parse_args(argc, argv);
        if (!mkdtemp(dir) || osh_serde_init(err, sizeof(err)) < 0)
                return 1;
        fakes = start_fakes(dir, "fake", SECRET, &opt.port);
        fake_pid = fakes;
        if (fakes > 0 && opt.cli > 0)
                fakes2 = start_fakes(dir, "fake-apprise", NULL, &opt.apprise_port);
        if (fakes < 0 || (opt.cli > 0 && fakes2 < 0)) {
                fprintf(stderr, "osh-fake-providers did not start\n");
                return 1;
        }
        snprintf(opt.url, sizeof(opt.url), "http://127.0.0.1:%d", opt.port);
        snprintf(opt.hook, sizeof(opt.hook), "%s/hook", opt.url);
        snprintf(ledger, sizeof(ledger), "%s/ledger", dir);
        conf.chan[DISP_CH_LINE] =
            (disp_chan_conf_t){opt.url, "line-test-token", NULL, NULL, 5000, 5, 10000};
        conf.chan[DISP_CH_WEBHOOK] =
            (disp_chan_conf_t){opt.hook, NULL, SECRET, NULL, 10000, 1, 10000};
        conf.retry_base_ms = 100;
        conf.retry_max_ms = 1000;
        conf.give_up_ms = 60000;
        conf.concurrency = opt.concurrency;
        l = disp_ledger_open(ledger, opt.sync ? DISP_LEDGER_SYNC_GROUP : DISP_LEDGER_NOSYNC, err,
                             sizeof(err));
        core = l ? disp_core_new(&conf, l, NULL, on_status, NULL, err, sizeof(err)) : NULL;
        if (!core) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        printf("bench-dispatch: %zu messages per mode, warm-up + %d interleaved rounds; "
               "sns-dispatcher core (ledger fsync %s, %d requests in flight) and a raw libcurl "
               "loop (one) -> osh-fake-providers on loopback; %ld CPUs, load %.1f at start\n",
               opt.n, opt.rounds, opt.sync ? "on" : "off", opt.concurrency,
               sysconf(_SC_NPROCESSORS_ONLN), load0);
        for (int r = 0; r <= opt.rounds; r++)
                one_round(core, l, r);
        if (opt.cli > 0)
                cli = run_apprise_cli();
        printf("\nmedians of %d timed round(s) (min-max), load %.1f at start, %.1f at end "
               "(the machine is shared)\n",
               opt.rounds, load0, loadavg());
        print_rates();
        if (cli > 0)
                printf("  %-13s %9.1f /s (%d messages, one process each)\n", "apprise CLI", cli,
                       opt.cli);
        print_ratio("LINE push: sns-dispatcher / raw libcurl", M_PUSH, M_RAW_PUSH, GOAL);
        print_ratio("webhook: sns-dispatcher / raw libcurl", M_HOOK, M_RAW_HOOK, GOAL);
        print_ratio("webhook: sns-dispatcher / apprise lib", M_HOOK, M_APPRISE, 0);
        if (cli > 0) {
                double v[ROUNDS_MAX], lo, hi;
                int k = timed(M_HOOK, v);
                if (k)
                        printf("  ratio %-34s %6.0fx\n", "webhook: sns-dispatcher / apprise CLI",
                               median(v, k, &lo, &hi) / cli);
        }
        disp_core_destroy(core);
        disp_ledger_close(l);
        kill(fakes, SIGTERM);
        waitpid(fakes, NULL, 0);
        if (fakes2 > 0) {
                kill(fakes2, SIGTERM);
                waitpid(fakes2, NULL, 0);
        }
        osh_serde_shutdown();
        snprintf(err, sizeof(err), "rm -rf '%s'", dir);
        return system(err) == 0 ? 0 : 1;
}
