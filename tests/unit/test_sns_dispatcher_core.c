/* sns-dispatcher core with a scripted channel and a manual clock: ledger
 * dedup (replay, resend, restart), permanent errors not retried, retries
 * honouring Retry-After until a give-up, quiet hours with the critical
 * override, scheduled sends, refusal of over-long text, statuses; batches
 * (requests in parallel, a repeat inside a batch, a 429 stopping the rest)
 * and the ledger's background group commit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oshirase/serde.h"
#include "oshirase/topics.h"

#include "disp_core.h"

#define T0 (20000LL * 86400000 + 3 * 3600000) /* 12:00 JST */

typedef struct world {
        int64_t now;
        int sends;                /* calls to the channel's send */
        int64_t send_at[8];       /* the clock at each of the first sends */
        uint64_t synced_at[8];    /* ledger fdatasyncs done before each of them */
        disp_ledger_sync_t sync;  /* of the ledger open_core opens (0: none) */
        osh_delivery_t script[8]; /* outcomes, then OK */
        int64_t retry_after;
        char last_status[32], last_detail[256], last_text[256];
        int statuses;
        int last_rcpt;       /* recipients in the last request */
        int last_recipients; /* of the last status */
        int sent_recipients; /* summed over SENT statuses */
        char sent_to[512];   /* first account of each request, comma-separated */
        char path[64];
        disp_ledger_t *ledger;
        disp_core_t *core;
        disp_core_conf_t conf;
} world_t;

static world_t *W;

static int64_t w_now(void *o)
{
        return ((world_t *)o)->now;
}

static void w_sleep(void *o, int64_t ms)
{
        ((world_t *)o)->now += ms;
}

static osh_delivery_t stub_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                const disp_send_req_t *req, const disp_parts_t *parts,
                                disp_send_res_t *res)
{
        osh_delivery_t d = W->sends < 8 ? W->script[W->sends] : OSH_DELIVERY_OK;

        if (W->sends < 8) {
                disp_ledger_stats_t ls;
                disp_ledger_stats(W->ledger, &ls);
                W->send_at[W->sends] = W->now;
                W->synced_at[W->sends] = ls.syncs;
        }
        W->sends++;
        W->last_rcpt = (int)req->n_rcpt;
        snprintf(W->sent_to + strlen(W->sent_to), sizeof(W->sent_to) - strlen(W->sent_to), "%s%s",
                 W->sent_to[0] ? "," : "", req->rcpt[0].account_id);
        snprintf(W->last_text, sizeof(W->last_text), "%s", parts->n ? parts->part[0] : "");
        snprintf(res->code, sizeof(res->code), "%s",
                 d == OSH_DELIVERY_OK      ? "200"
                 : d == OSH_DELIVERY_RETRY ? "429"
                                           : "400");
        res->retry_after_ms = d == OSH_DELIVERY_RETRY ? W->retry_after : 0;
        if (d == OSH_DELIVERY_OK)
                res->n_ok = req->n_rcpt;
        return d;
}

static const disp_channel_t stub = {
    .name = "stub",
    .titled = 1,
    .check_account = osh_account_check_line,
    .max_rcpt = 500,
    .send = stub_send,
};

/* The same script, one recipient per request (as e-mail, webhook, X). */
static const disp_channel_t stub_each = {
    .name = "stub-each",
    .check_account = osh_account_check_email,
    .max_rcpt = 1,
    .send = stub_send,
};

static void on_status(void *o, const disp_status_t *st)
{
        world_t *w = o;

        w->statuses++;
        w->last_recipients = st->recipients;
        if (!strcmp(st->status, "SENT"))
                w->sent_recipients += st->recipients;
        snprintf(w->last_status, sizeof(w->last_status), "%s", st->status);
        snprintf(w->last_detail, sizeof(w->last_detail), "%s", st->detail);
}

static void open_core(world_t *w)
{
        disp_clock_t clk = {w_now, w_sleep, w};
        char err[256];

        w->ledger = disp_ledger_open(w->path, w->sync, err, sizeof(err));
        assert_non_null(w->ledger);
        w->core = disp_core_new(&w->conf, w->ledger, &clk, on_status, w, err, sizeof(err));
        assert_non_null(w->core);
        disp_core_set_channel(w->core, DISP_CH_LINE, &stub);
        disp_core_set_channel(w->core, DISP_CH_EMAIL, &stub_each);
}

static void close_core(world_t *w)
{
        disp_core_destroy(w->core);
        disp_ledger_close(w->ledger);
}

static int setup(void **state)
{
        char err[256];
        world_t *w = calloc(1, sizeof(*w));

        if (osh_serde_init(err, sizeof(err)) < 0)
                return -1;
        w->now = T0;
        snprintf(w->path, sizeof(w->path), "/tmp/disp-ut-ledger.XXXXXX");
        close(mkstemp(w->path));
        w->conf.chan[DISP_CH_LINE] = (disp_chan_conf_t){
            .url = "http://stub", .max_chars = 20, .max_parts = 2, .timeout_ms = 1000};
        w->conf.rate[DISP_CH_LINE] = "0";
        w->conf.chan[DISP_CH_EMAIL] = w->conf.chan[DISP_CH_LINE];
        w->conf.rate[DISP_CH_EMAIL] = "0";
        w->conf.retry_base_ms = 1000;
        w->conf.retry_max_ms = 8000;
        w->conf.give_up_ms = 60000;
        osh_quiet_parse("21:00-08:00", 540, &w->conf.quiet);
        W = w;
        open_core(w);
        *state = w;
        return 0;
}

static int teardown(void **state)
{
        world_t *w = *state;

        close_core(w);
        unlink(w->path);
        free(w);
        osh_serde_shutdown();
        return 0;
}

/* A notify.dispatch.v1 record as the segmenter writes it. */
static const char *record_title = "";
static const char *record_channel = "LINE";
static int record_test = 0;
static const char *const default_accounts[] = {"U00000000000000000000000000000001", NULL};
static const char *const *record_accounts = default_accounts;

static void *record(const char *id, const char *text, int critical, int resend, int64_t created,
                    size_t *len)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_DISPATCH);
        avro_value_t v, arr, item;
        void *buf = NULL;
        char err[256];

        assert_int_equal(osh_value_new(s, &v), 0);
        osh_value_set_string(&v, "dispatch_id", id);
        osh_value_set_string(&v, "campaign_id", "C-1");
        osh_value_set_enum(&v, "channel", record_channel);
        osh_value_set_string(&v, "text", text);
        osh_value_set_string(&v, "title", record_title);
        osh_value_set_bool(&v, "test", record_test || !strcmp(id, "D-test"));
        osh_value_set_bool(&v, "critical", critical);
        osh_value_set_bool(&v, "resend", resend);
        osh_value_set_long(&v, "created_at", created);
        osh_value_field(&v, "recipients", &arr);
        for (size_t i = 0; record_accounts[i]; i++) {
                osh_value_append(s, &arr, &item);
                osh_value_set_string(&item, "user_id", "u1");
                osh_value_set_string(&item, "account_id", record_accounts[i]);
        }
        assert_int_equal(osh_serde_encode_alloc(s, &v, &buf, len, err, sizeof(err)), 0);
        avro_value_decref(&v);
        return buf;
}

static void handle(world_t *w, const char *id, const char *text, int critical, int resend,
                   int64_t created)
{
        size_t len;
        void *rec = record(id, text, critical, resend, created, &len);

        assert_int_equal(disp_core_handle(w->core, rec, len, id), 0);
        free(rec);
}

static void test_replay_and_restart_send_once(void **state)
{
        world_t *w = *state;

        handle(w, "D-1", "hello", 0, 0, 1);
        assert_int_equal(w->sends, 1);
        assert_string_equal(w->last_status, "SENT");
        handle(w, "D-1", "hello", 0, 0, 1); /* replay */
        assert_int_equal(w->sends, 1);
        close_core(w); /* restart: the ledger file remembers */
        open_core(w);
        handle(w, "D-1", "hello", 0, 0, 1);
        assert_int_equal(w->sends, 1);
        handle(w, "D-1", "hello", 0, 1, 5); /* an operator's resend goes out once */
        handle(w, "D-1", "hello", 0, 1, 5);
        assert_int_equal(w->sends, 2);
        record_test = 1; /* a test send does not settle the real one, nor vice versa */
        handle(w, "D-9", "hello", 0, 0, 1);
        handle(w, "D-9", "hello", 0, 0, 1);
        record_test = 0;
        handle(w, "D-9", "hello", 0, 0, 1);
        handle(w, "D-9", "hello", 0, 0, 1);
        assert_int_equal(w->sends, 4);
        assert_string_equal(disp_ledger_final(w->ledger, "D-9#t"), "SENT");
        assert_string_equal(disp_ledger_final(w->ledger, "D-9"), "SENT");
}

static void test_permanent_error_not_retried(void **state)
{
        world_t *w = *state;

        w->script[0] = OSH_DELIVERY_FAIL;
        handle(w, "D-2", "hello", 0, 0, 1);
        assert_string_equal(w->last_status, "FAILED_PERM");
        w->now += 3600000;
        assert_int_equal(disp_core_tick(w->core, 10), -1); /* nothing pending */
        assert_int_equal(w->sends, 1);
        assert_string_equal(disp_ledger_final(w->ledger, "D-2"), "FAILED_PERM");
}

static void test_retry_honours_retry_after_then_sends(void **state)
{
        world_t *w = *state;

        w->script[0] = w->script[1] = OSH_DELIVERY_RETRY;
        w->retry_after = 7000;
        handle(w, "D-3", "hello", 0, 0, 1);
        assert_string_equal(w->last_status, "FAILED_TEMP");
        assert_int_equal(disp_core_tick(w->core, 10), 7000); /* Retry-After wins over 1 s */
        w->now += 6999;
        assert_int_equal(disp_core_tick(w->core, 10), 1);
        assert_int_equal(w->sends, 1);
        w->now += 1;
        disp_core_tick(w->core, 10);
        assert_int_equal(w->sends, 2);
        close_core(w); /* the pending retry survives a restart */
        open_core(w);
        w->now += 7000;
        assert_int_equal(disp_core_tick(w->core, 10), -1);
        assert_int_equal(w->sends, 3);
        assert_string_equal(w->last_status, "SENT");
}

static void test_retry_gives_up_as_failed_perm(void **state)
{
        world_t *w = *state;

        for (int i = 0; i < 8; i++)
                w->script[i] = OSH_DELIVERY_RETRY;
        w->retry_after = 20000;
        handle(w, "D-4", "hello", 0, 0, 1);
        for (int i = 0; i < 6 && disp_core_tick(w->core, 10) != -1; i++)
                w->now += 20000;
        assert_string_equal(w->last_status, "FAILED_PERM");
        assert_string_equal(w->last_detail, "gave up: provider unavailable");
        assert_int_equal(disp_ledger_pending_count(w->ledger), 0);
}

static void test_quiet_hours_hold_and_critical_override(void **state)
{
        world_t *w = *state;

        w->now = T0 + 10 * 3600000; /* 22:00 JST */
        handle(w, "D-5", "hello", 0, 0, 1);
        assert_int_equal(w->sends, 0);
        assert_string_equal(w->last_status, "QUEUED");
        assert_non_null(strstr(w->last_detail, "quiet hours"));
        handle(w, "D-6", "避難指示", 1, 0, 1); /* disaster notice: now */
        assert_int_equal(w->sends, 1);
        assert_int_equal(disp_core_tick(w->core, 10), 10 * 3600000); /* until 08:00 */
        w->now += 10 * 3600000;
        assert_int_equal(disp_core_tick(w->core, 10), -1);
        assert_int_equal(w->sends, 2);
        assert_string_equal(disp_ledger_final(w->ledger, "D-5"), "SENT");
}

static void test_too_long_is_refused(void **state)
{
        world_t *w = *state;
        char text[128];

        memset(text, 'x', 45);
        text[45] = '\0'; /* 3 parts of 20 needed, 2 allowed */
        handle(w, "D-7", text, 0, 0, 1);
        assert_int_equal(w->sends, 0);
        assert_string_equal(w->last_status, "FAILED_PERM");
        assert_non_null(strstr(w->last_detail, "channel allows 2"));
}

static void test_rate_limit_holds_in_slots(void **state)
{
        world_t *w = *state;
        int64_t wait;

        close_core(w);
        w->conf.rate[DISP_CH_LINE] = "1/s:1";
        open_core(w);
        handle(w, "D-a", "a", 0, 0, 1);
        handle(w, "D-b", "b", 0, 0, 1); /* no token: held, not slept on */
        handle(w, "D-c", "c", 0, 0, 1);
        assert_int_equal(w->sends, 1);
        assert_int_equal(w->now, T0);
        assert_non_null(strstr(w->last_detail, "rate limit"));
        assert_int_equal(disp_ledger_pending_count(w->ledger), 2);
        wait = disp_core_tick(w->core, 10);
        assert_in_range(wait, 999, 1001);
        w->now += wait;
        wait = disp_core_tick(w->core, 10); /* one per slot */
        assert_in_range(wait, 999, 1001);
        assert_int_equal(w->sends, 2);
        w->now += wait;
        assert_int_equal(disp_core_tick(w->core, 10), -1);
        assert_int_equal(w->sends, 3);
}

static void test_title_and_test_marker(void **state)
{
        world_t *w = *state;

        w->conf.chan[DISP_CH_LINE].max_chars = 100;
        record_title = "健診";
        handle(w, "D-test", "受診は１２月まで", 0, 0, 1);
        assert_string_equal(w->last_text, "■テスト送信■\n【健診】\n受診は12月まで");
        handle(w, "D-t2", "【健診】\n本文", 0, 0, 1); /* already titled */
        assert_string_equal(w->last_text, "【健診】\n本文");
        record_title = "【土砂災害への備え】"; /* already bracketed: not wrapped again */
        handle(w, "D-t3", "本文", 0, 0, 1);
        assert_string_equal(w->last_text, "【土砂災害への備え】\n本文");
        handle(w, "D-t4", "【土砂災害への備え】\n本文", 0, 0, 1);
        assert_string_equal(w->last_text, "【土砂災害への備え】\n本文");
        record_title = "";
}

/* An id the channel's validator refuses never reaches send (FAILED_PERM,
 * not retried); a repeated id is sent and counted once. */
static void test_invalid_and_repeated_ids(void **state)
{
        world_t *w = *state;
        static const char *const mixed[] = {
            "U00000000000000000000000000000001",           "U00000000000000000000000000000001",
            "a@example.jp>\r\nRCPT TO:<victim@example.jp", "U00000000000000000000000000000002",
            "U00000000000000000000000000000001",           NULL};
        static const char *const bad[] = {"U0000000000000000000000000000000\n", NULL};

        record_accounts = mixed;
        handle(w, "D-mix", "hello", 0, 0, 1);
        assert_int_equal(w->sends, 1);
        assert_int_equal(w->last_rcpt, 2); /* two unique valid ids in the request */
        /* one final status for the dispatch: SENT, the refused id told in it */
        assert_string_equal(w->last_status, "SENT");
        assert_non_null(strstr(w->last_detail, "1 refused"));
        assert_non_null(strstr(w->last_detail, "not a LINE user id"));
        assert_int_equal(w->last_recipients, 2);
        assert_int_equal(w->sent_recipients, 2);
        record_accounts = bad;
        handle(w, "D-bad", "hello", 0, 0, 1);
        assert_int_equal(w->sends, 1);
        assert_string_equal(disp_ledger_final(w->ledger, "D-bad"), "FAILED_PERM");
        w->now += 3600000;
        assert_int_equal(disp_core_tick(w->core, 10), -1); /* never retried */
        assert_int_equal(w->sends, 1);
        record_accounts = default_accounts;
}

/* A retried multi-recipient e-mail dispatch does not send again to the
 * recipients already done, across a restart too; the report counts each
 * recipient once. */
static void test_retry_skips_recipients_done(void **state)
{
        world_t *w = *state;
        static const char *const three[] = {"a@example.jp", "b@example.jp", "c@example.jp",
                                            "a@example.jp", NULL};

        record_channel = "EMAIL";
        record_accounts = three;
        w->script[1] = OSH_DELIVERY_RETRY; /* b: 451 the first time */
        handle(w, "D-each", "hello", 0, 0, 1);
        assert_string_equal(w->sent_to, "a@example.jp,b@example.jp");
        assert_string_equal(w->last_status, "FAILED_TEMP");
        close_core(w); /* the per-recipient outcomes survive a restart */
        open_core(w);
        w->now += 2000;
        assert_int_equal(disp_core_tick(w->core, 10), -1);
        assert_string_equal(w->sent_to, "a@example.jp,b@example.jp,b@example.jp,c@example.jp");
        assert_string_equal(w->last_status, "SENT");
        assert_int_equal(w->last_recipients, 3);
        handle(w, "D-each", "hello", 0, 0, 1); /* replay: nothing */
        assert_int_equal(w->sends, 4);
        record_channel = "LINE";
        record_accounts = default_accounts;
}

/* A 429 with Retry-After backs off the whole channel: another dispatch on
 * it is held for the window, not sent into it. */
static void test_429_backs_off_the_channel(void **state)
{
        world_t *w = *state;

        w->script[0] = OSH_DELIVERY_RETRY; /* stub: 429 */
        w->retry_after = 5000;
        handle(w, "D-r1", "hello", 0, 0, 1);
        handle(w, "D-r2", "hello", 0, 0, 1);
        assert_int_equal(w->sends, 1);
        assert_non_null(strstr(w->last_detail, "rate limit"));
        w->now += 4999;
        assert_int_equal(disp_core_tick(w->core, 10), 1);
        assert_int_equal(w->sends, 1);
        w->now += 1;
        assert_int_equal(disp_core_tick(w->core, 10), -1);
        assert_int_equal(w->sends, 3);
        assert_string_equal(disp_ledger_final(w->ledger, "D-r1"), "SENT");
        assert_string_equal(disp_ledger_final(w->ledger, "D-r2"), "SENT");
}

/* A batch of records. ids[i] NULL ends it; all with the default account. */
static void handle_batch(world_t *w, const char *const *ids)
{
        disp_record_t r[16] = {{0}};
        size_t n = 0;

        for (; ids[n]; n++) {
                r[n].key = ids[n];
                r[n].rec = record(ids[n], "hello", 0, 0, 1, &r[n].len);
        }
        assert_int_equal(disp_core_handle_batch(w->core, r, n), 0);
        for (size_t i = 0; i < n; i++)
                free((void *)r[i].rec);
}

/* A channel that takes 20 ms per request and counts how many requests are
 * in flight at once (called from the send pool's threads). */
static int in_flight, max_in_flight, slow_sends;

static osh_delivery_t slow_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                const disp_send_req_t *req, const disp_parts_t *parts,
                                disp_send_res_t *res)
{
        struct timespec ts = {0, 20 * 1000000L};
        int now = __atomic_add_fetch(&in_flight, 1, __ATOMIC_SEQ_CST), max;

        while ((max = __atomic_load_n(&max_in_flight, __ATOMIC_SEQ_CST)) < now &&
               !__atomic_compare_exchange_n(&max_in_flight, &max, now, 0, __ATOMIC_SEQ_CST,
                                            __ATOMIC_SEQ_CST))
                ;
        nanosleep(&ts, NULL);
        __atomic_sub_fetch(&in_flight, 1, __ATOMIC_SEQ_CST);
        __atomic_add_fetch(&slow_sends, 1, __ATOMIC_SEQ_CST);
        snprintf(res->code, sizeof(res->code), "200");
        res->n_ok = req->n_rcpt;
        return OSH_DELIVERY_OK;
}

static const disp_channel_t slow = {
    .name = "slow",
    .check_account = osh_account_check_line,
    .max_rcpt = 500,
    .send = slow_send,
};

/* With http.concurrency 4 the requests of one batch are in flight together,
 * and every dispatch still gets exactly one final status and ledger entry. */
static void test_batch_sends_in_parallel(void **state)
{
        const char *const ids[] = {"P-1", "P-2", "P-3", "P-4", "P-5", "P-6", "P-7", "P-8", NULL};
        world_t *w = *state;

        close_core(w);
        w->conf.concurrency = 4;
        open_core(w);
        disp_core_set_channel(w->core, DISP_CH_LINE, &slow);
        in_flight = max_in_flight = slow_sends = 0;
        handle_batch(w, ids);
        assert_int_equal(slow_sends, 8);
        assert_true(max_in_flight >= 2);
        assert_true(max_in_flight <= 4);
        assert_int_equal(w->statuses, 8);
        assert_int_equal(w->sent_recipients, 8);
        for (int i = 0; ids[i]; i++)
                assert_string_equal(disp_ledger_final(w->ledger, ids[i]), "SENT");
        handle_batch(w, ids); /* a replay of the whole batch: nothing */
        assert_int_equal(slow_sends, 8);
        assert_int_equal(w->statuses, 8);
}

/* A record repeated inside one batch (a producer's retry) is sent once. */
static void test_batch_repeat_sent_once(void **state)
{
        const char *const ids[] = {"B-1", "B-2", "B-1", NULL};
        world_t *w = *state;
        disp_core_stats_t st;

        handle_batch(w, ids);
        assert_int_equal(w->sends, 2);
        assert_int_equal(w->statuses, 2);
        disp_core_stats(w->core, &st);
        assert_int_equal(st.duplicates, 1);
}

/* A batch on a rate-limited channel: no request leaves before its token
 * (the prepared ones are sent before waiting for the next token, not all
 * together after the last). */
static void test_batch_keeps_the_rate(void **state)
{
        const char *const ids[] = {"Q-1", "Q-2", "Q-3", NULL};
        world_t *w = *state;

        close_core(w);
        w->conf.rate[DISP_CH_LINE] = "10/s:1"; /* a token every 100 ms */
        open_core(w);
        handle_batch(w, ids);
        assert_int_equal(w->sends, 3);
        assert_int_equal(w->send_at[0], T0);
        assert_true(w->send_at[1] >= T0 + 100 && w->send_at[1] <= T0 + 110);
        assert_true(w->send_at[2] >= w->send_at[1] + 100 && w->send_at[2] <= T0 + 220);
        for (int i = 0; ids[i]; i++)
                assert_string_equal(disp_ledger_final(w->ledger, ids[i]), "SENT");
}

/* A channel without idempotency keys (the stubs, like e-mail) is sent to
 * only once every earlier ledger entry is on disk, so a crash re-sends at
 * most the batch in hand. */
static void test_non_idempotent_waits_for_the_ledger(void **state)
{
        world_t *w = *state;

        close_core(w);
        w->sync = DISP_LEDGER_SYNC_GROUP;
        open_core(w);
        handle(w, "S-1", "hello", 0, 0, 1);
        handle(w, "S-2", "hello", 0, 0, 1); /* S-1's entry is synced before this request */
        assert_int_equal(w->sends, 2);
        assert_int_equal(w->synced_at[0], 0);
        assert_int_equal(w->synced_at[1], 1);
}

/* A 429 in a batch stops the batch's other requests to the channel: they
 * wait for the provider's window without counting as failed attempts. */
static void test_batch_429_holds_the_rest(void **state)
{
        const char *const ids[] = {"T-1", "T-2", "T-3", NULL};
        world_t *w = *state;

        w->script[0] = OSH_DELIVERY_RETRY; /* stub: 429 */
        w->retry_after = 5000;
        handle_batch(w, ids);
        assert_int_equal(w->sends, 1);
        assert_int_equal(disp_ledger_pending_count(w->ledger), 3);
        assert_non_null(strstr(w->last_detail, "rate-limited"));
        assert_string_equal(w->last_status, "QUEUED"); /* not a failed attempt */
        w->now += 4999;
        assert_int_equal(disp_core_tick(w->core, 10), 1);
        assert_int_equal(w->sends, 1);
        w->now += 1;
        assert_int_equal(disp_core_tick(w->core, 10), -1);
        assert_int_equal(w->sends, 4);
        for (int i = 0; ids[i]; i++)
                assert_string_equal(disp_ledger_final(w->ledger, ids[i]), "SENT");
}

/* The group commit without waiting: a ticket becomes durable once the
 * background fdatasync ran, and the entries are in the file. */
static void test_ledger_commit_in_background(void **state)
{
        world_t *w = *state;
        disp_final_meta_t m = {"C-1", 0, 1, 0};
        char err[256];
        uint64_t t1, t2;
        disp_ledger_t *l;

        close_core(w);
        l = disp_ledger_open(w->path, DISP_LEDGER_SYNC_GROUP, err, sizeof(err));
        assert_non_null(l);
        assert_int_equal(disp_ledger_put_final(l, "G-1", "SENT", &m), 0);
        t1 = disp_ledger_commit(l);
        assert_int_equal(disp_ledger_put_final(l, "G-2", "SENT", &m), 0);
        t2 = disp_ledger_commit(l);
        assert_true(t2 > t1);
        assert_int_equal(disp_ledger_durable(l, t2, 1), 1);
        assert_int_equal(disp_ledger_durable(l, t1, 0), 1);
        assert_int_equal(disp_ledger_commit(l), t2); /* nothing new: nothing to wait for */
        disp_ledger_close(l);
        l = disp_ledger_open(w->path, DISP_LEDGER_SYNC_GROUP, err, sizeof(err));
        assert_non_null(l);
        assert_string_equal(disp_ledger_final(l, "G-1"), "SENT");
        assert_string_equal(disp_ledger_final(l, "G-2"), "SENT");
        disp_ledger_close(l);
        open_core(w);
}

static void test_garbage_record(void **state)
{
        world_t *w = *state;

        assert_int_equal(disp_core_handle(w->core, "\xC3\x01garbage", 9, "K"), 0);
        assert_string_equal(w->last_status, "FAILED_PERM");
        assert_int_equal(w->sends, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_replay_and_restart_send_once, setup, teardown),
            cmocka_unit_test_setup_teardown(test_permanent_error_not_retried, setup, teardown),
            cmocka_unit_test_setup_teardown(test_retry_honours_retry_after_then_sends, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_retry_gives_up_as_failed_perm, setup, teardown),
            cmocka_unit_test_setup_teardown(test_quiet_hours_hold_and_critical_override, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_too_long_is_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_rate_limit_holds_in_slots, setup, teardown),
            cmocka_unit_test_setup_teardown(test_title_and_test_marker, setup, teardown),
            cmocka_unit_test_setup_teardown(test_invalid_and_repeated_ids, setup, teardown),
            cmocka_unit_test_setup_teardown(test_retry_skips_recipients_done, setup, teardown),
            cmocka_unit_test_setup_teardown(test_429_backs_off_the_channel, setup, teardown),
            cmocka_unit_test_setup_teardown(test_garbage_record, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_sends_in_parallel, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_repeat_sent_once, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_429_holds_the_rest, setup, teardown),
            cmocka_unit_test_setup_teardown(test_batch_keeps_the_rate, setup, teardown),
            cmocka_unit_test_setup_teardown(test_non_idempotent_waits_for_the_ledger, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_ledger_commit_in_background, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
