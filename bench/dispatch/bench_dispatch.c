/* bench-dispatch [N_PUSH [N_APPRISE [nosync]]]: starts osh-fake-providers, then drives
 * the dispatcher core (the code the service runs per record: decode, ledger,
 * render, format, pace, send, settle) with real channels over loopback:
 *   - LINE push: N_PUSH single-recipient dispatches,
 *   - LINE multicast: N_PUSH * 5 recipients in dispatches of 500,
 *   - webhook (HMAC-signed): N_PUSH dispatches,
 * then the peers, against the same fake: a raw libcurl loop over one kept-
 * alive connection posting the same kind of bodies (LINE push and webhook:
 * the floor), Apprise as a library in one Python process (min(N_PUSH, 500)
 * notify() calls), and Apprise's CLI (`apprise -b TEXT json://...`)
 * N_APPRISE times, one invocation per message as an operator would; prints
 * rates and the ratios. Kafka is left out on purpose: both
 * sides are measured from "message in hand" to "provider answered".
 * "nosync" turns the ledger's per-entry fdatasync off (what it costs). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "oshirase/serde.h"
#include "oshirase/topics.h"

#include "disp_core.h"

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
        osh_value_set_string(&v, "text",
                             "【特定健康診査のご案内】\n受診期限：１２月２５日\n・お問合せ：043-"
                             "245-5146\nhttps://www.city.chiba.jp/");
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
static disp_ledger_t *ledger_;

static void on_status(void *o, const disp_status_t *st)
{
        if (!strcmp(st->status, "SENT"))
                sent += st->recipients;
}

/* Runs n dispatches of r recipients; returns recipients per second. */
static double run(disp_core_t *core, const char *tag, const char *channel, size_t n, size_t r)
{
        double t0, dt;
        char id[64];

        sent = 0;
        t0 = now_s();
        for (size_t i = 0; i < n; i++) {
                size_t len;
                void *rec;
                snprintf(id, sizeof(id), "%s-%zu", tag, i);
                rec = record(id, channel, r, i * r, &len);
                disp_core_handle(core, rec, len, id);
                free(rec);
                if (i % 64 == 63) /* the service's group commit */
                        disp_ledger_sync(ledger_);
        }
        disp_ledger_sync(ledger_);
        dt = now_s() - t0;
        printf("  %-22s %7zu dispatches %8d recipients SENT in %6.2f s = %9.0f recipients/s\n", tag,
               n, sent, dt, sent / dt);
        return sent / dt;
}

static pid_t start_fakes(const char *dir, int *port)
{
        char pf[256], log[256], ready[256];
        pid_t pid;
        FILE *fp;

        snprintf(pf, sizeof(pf), "%s/port", dir);
        snprintf(log, sizeof(log), "%s/accepted.jsonl", dir);
        snprintf(ready, sizeof(ready), "--ready.file=%s/ready", dir);
        pid = fork();
        if (pid == 0) {
                execl(OSH_BIN_DIR "/osh-fake-providers", "osh-fake-providers", "--port.file", pf,
                      "--log", log, "--rate.push", "0", "--rate.multicast", "0", "--log.level",
                      "warn", "--threads", "4", ready, (char *)NULL);
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
        return -1;
}

static double apprise_rate(int port, int n)
{
        char cmd[512];
        double t0 = now_s();
        int ok = 0;

        for (int i = 0; i < n; i++) {
                snprintf(cmd, sizeof(cmd),
                         "apprise -b '【特定健康診査のご案内】受診期限：12月25日 %d' "
                         "'json://127.0.0.1:%d/hook/apprise' >/dev/null 2>&1",
                         i, port);
                ok += system(cmd) == 0;
        }
        t0 = now_s() - t0;
        printf("  %-22s %7d messages   %8d delivered      in %6.2f s = %9.1f messages/s\n",
               "apprise json://", n, ok, t0, ok / t0);
        return ok / t0;
}

/* Apprise as a library: one Python process, one Apprise object, n notify()
 * calls to the same webhook sink (no start-up per message). */
static double apprise_lib_rate(int port, int n)
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
                 "bool(a.notify(body=\"【特定健康診査のご案内】受診期限：12月25日 %%d\" %% i))\n"
                 "print(ok, time.monotonic() - t)' 2>/dev/null",
                 port, n);
        fp = popen(cmd, "r");
        if (!fp || fscanf(fp, "%d %lf", &ok, &secs) != 2 || secs <= 0) {
                if (fp)
                        pclose(fp);
                printf("  %-22s (python3-apprise not importable)\n", "apprise library");
                return 0;
        }
        pclose(fp);
        printf("  %-22s %7d messages   %8d delivered      in %6.2f s = %9.1f messages/s\n",
               "apprise library", n, ok, secs, ok / secs);
        return ok / secs;
}

static size_t sink(char *p, size_t size, size_t n, void *o)
{
        (void)p;
        (void)o;
        return size * n;
}

/* The floor: one libcurl handle (one kept-alive connection) posting the
 * same kind of body to the same fake, nothing else. line != 0: LINE push
 * with a bearer token and a fresh X-Line-Retry-Key each. */
static double raw_curl_rate(const char *url, int n, int line)
{
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        char body[512], rk[80];
        double t0 = now_s(), dt;
        int ok = 0;

        for (int i = 0; c && i < n; i++) {
                long code = 0;
                curl_slist_free_all(h);
                h = curl_slist_append(NULL, "Content-Type: application/json");
                if (line) {
                        h = curl_slist_append(h, "Authorization: Bearer line-test-token");
                        snprintf(rk, sizeof(rk), "X-Line-Retry-Key: %08x-0000-4000-8000-%012x",
                                 (unsigned)getpid(), (unsigned)i);
                        h = curl_slist_append(h, rk);
                        snprintf(body, sizeof(body),
                                 "{\"to\":\"U%032x\",\"messages\":[{\"type\":\"text\",\"text\":"
                                 "\"【特定健康診査のご案内】受診期限：12月25日\"}]}",
                                 (unsigned)(900000 + i));
                } else {
                        snprintf(body, sizeof(body),
                                 "{\"dispatch_id\":\"raw-%d\",\"recipient\":{\"user_id\":\"u%d\","
                                 "\"account_id\":\"https://example.jp/hook/%d\"},\"text\":"
                                 "\"【特定健康診査のご案内】受診期限：12月25日\"}",
                                 i, i, i);
                }
                curl_easy_setopt(c, CURLOPT_URL, url);
                curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
                curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
                if (curl_easy_perform(c) == CURLE_OK &&
                    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code < 300)
                        ok++;
        }
        dt = now_s() - t0;
        curl_slist_free_all(h);
        if (c)
                curl_easy_cleanup(c);
        printf("  %-22s %7d messages   %8d delivered      in %6.2f s = %9.1f messages/s\n",
               line ? "raw libcurl LINE push" : "raw libcurl webhook", n, ok, dt, ok / dt);
        return ok / dt;
}

int main(int argc, char **argv)
{
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 2000;
        int na = argc > 2 ? atoi(argv[2]) : 20, port = 0;
        char dir[] = "/tmp/bench-dispatch.XXXXXX", ledger[256], url[128], hook[160], err[256];
        disp_core_conf_t conf = {0};
        disp_ledger_t *l;
        disp_core_t *core;
        double hook_rate, ap;
        pid_t fakes;

        if (!mkdtemp(dir) || osh_serde_init(err, sizeof(err)) < 0)
                return 1;
        fakes = start_fakes(dir, &port);
        if (fakes < 0) {
                fprintf(stderr, "osh-fake-providers did not start\n");
                return 1;
        }
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
        snprintf(hook, sizeof(hook), "%s/hook", url);
        snprintf(ledger, sizeof(ledger), "%s/ledger", dir);
        conf.chan[DISP_CH_LINE] =
            (disp_chan_conf_t){url, "line-test-token", NULL, NULL, 5000, 5, 10000};
        conf.chan[DISP_CH_WEBHOOK] =
            (disp_chan_conf_t){hook, NULL, "bench-secret", NULL, 10000, 1, 10000};
        conf.retry_base_ms = 100;
        conf.retry_max_ms = 1000;
        conf.give_up_ms = 60000;
        int sync = !(argc > 3 && !strcmp(argv[3], "nosync"));

        l = disp_ledger_open(ledger, sync ? DISP_LEDGER_SYNC_GROUP : DISP_LEDGER_NOSYNC, err,
                             sizeof(err));
        ledger_ = l;
        core = l ? disp_core_new(&conf, l, NULL, on_status, NULL, err, sizeof(err)) : NULL;
        if (!core) {
                fprintf(stderr, "%s\n", err);
                return 1;
        }
        printf("bench-dispatch: sns-dispatcher core -> osh-fake-providers on loopback "
               "(ledger fsync %s, group commit of 64 as in the service, one connection)\n",
               sync ? "on" : "off");
        double push_rate = run(core, "line-push", "LINE", n, 1), raw_push, raw_hook, aplib;
        char push_url[160];
        run(core, "line-multicast", "LINE", n / 100 ? n / 100 : 1, 500);
        hook_rate = run(core, "webhook", "WEBHOOK", n, 1);
        snprintf(push_url, sizeof(push_url), "%s/v2/bot/message/push", url);
        raw_push = raw_curl_rate(push_url, (int)n, 1);
        raw_hook = raw_curl_rate(hook, (int)n, 0);
        aplib = apprise_lib_rate(port, (int)(n < 500 ? n : 500));
        ap = apprise_rate(port, na);
        if (ap > 0)
                printf("  ratio webhook: sns-dispatcher / apprise CLI = %.0fx (target >= 20x)\n",
                       hook_rate / ap);
        if (aplib > 0)
                printf("  ratio webhook: sns-dispatcher / apprise library = %.2fx\n",
                       hook_rate / aplib);
        printf("  ratio webhook: sns-dispatcher / raw libcurl = %.2f (goal >= 0.8)\n",
               hook_rate / raw_hook);
        printf("  ratio LINE push: sns-dispatcher / raw libcurl = %.2f (goal >= 0.8)\n",
               push_rate / raw_push);
        disp_core_destroy(core);
        disp_ledger_close(l);
        kill(fakes, SIGTERM);
        waitpid(fakes, NULL, 0);
        osh_serde_shutdown();
        snprintf(err, sizeof(err), "rm -rf '%s'", dir);
        return system(err) == 0 ? 0 : 1;
}
