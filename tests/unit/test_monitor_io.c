/* The monitor's network edges against a real local server (lib
 * http_server): the probe (signed ProbeRequest, ProbeResponse read into
 * the model, failure classification) and the alert webhook (signature,
 * retry on 503, no retry on 400). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oshirase/auth.h"
#include "oshirase/http_server.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"

#include "mon_alert.h"
#include "mon_kafka.h"
#include "mon_probe.h"

#define SECRET "s3cret-for-tests"

typedef struct fake {
        pthread_mutex_t lock;
        int hits;
        int fail_first; /* answer this many requests with `fail_status` */
        int fail_status;
        osh_auth_verdict_t verdict;
        char last_body[1024];
        char last_sig[128];
        char last_ts[32];
} fake_t;

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lookup(void *opaque, const char *key_id, const void **secret)
{
        if (strcmp(key_id, "k1"))
                return -1;
        *secret = SECRET;
        return (int)strlen(SECRET);
}

static void on_probe(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_t *f = opaque;
        char errstr[128];
        Osh__ProbeRequest *pr;
        Osh__ProbeResponse resp = OSH__PROBE_RESPONSE__INIT;
        Osh__ServiceHeartbeat hb = OSH__SERVICE_HEARTBEAT__INIT, *hbs[] = {&hb};
        Osh__SnapshotStatus snap = OSH__SNAPSHOT_STATUS__INIT;
        Osh__SendErrorCount se = OSH__SEND_ERROR_COUNT__INIT, *ses[] = {&se};
        uint8_t *out = NULL;
        size_t len = 0;

        pthread_mutex_lock(&f->lock);
        f->hits++;
        f->verdict =
            osh_auth_verify(osh_http_request_header(req, "Authorization"), lookup, NULL, "POST",
                            "/v1/probe", now_ms(), 60000, req->body, req->body_len);
        pthread_mutex_unlock(&f->lock);
        if (f->verdict != OSH_AUTH_OK) {
                osh_http_reply_error(rep, 401, "auth");
                return;
        }
        pr = osh_transfer_probe_request_unpack(req->body, req->body_len, errstr, sizeof(errstr));
        if (!pr) {
                osh_http_reply_error(rep, 400, errstr);
                return;
        }
        resp.probe_id = pr->probe_id;
        resp.received_ms = now_ms();
        hb.service = "segmenter";
        hb.instance = "seg-1";
        hb.state = "RUNNING";
        hb.last_seen_ms = now_ms();
        hb.records_in = 4321;
        hb.records_out = 4300;
        hb.records_rejected = 21;
        resp.n_services = 1;
        resp.services = hbs;
        snap.batch_id = "B-20260401";
        snap.extract_ms = now_ms() - 3600 * 1000;
        snap.record_count = 1234;
        resp.snapshot = &snap;
        se.channel = "line";
        se.failed_temp = 2;
        se.failed_perm = 5;
        resp.n_send_errors = 1;
        resp.send_errors = ses;
        assert_int_equal(osh_transfer_pack_message(&resp.base, &out, &len, errstr, sizeof(errstr)),
                         0);
        osh_http_reply_take(rep, 200, "application/x-protobuf", out, len);
        osh__probe_request__free_unpacked(pr, NULL);
}

static void on_alert(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_t *f = opaque;
        const char *sig = osh_http_request_header(req, "X-Osh-Signature");
        const char *ts = osh_http_request_header(req, "X-Osh-Timestamp");
        int status;

        pthread_mutex_lock(&f->lock);
        f->hits++;
        snprintf(f->last_body, sizeof(f->last_body), "%.*s", (int)req->body_len,
                 (const char *)req->body);
        snprintf(f->last_sig, sizeof(f->last_sig), "%s", sig ? sig : "");
        snprintf(f->last_ts, sizeof(f->last_ts), "%s", ts ? ts : "");
        status = f->hits <= f->fail_first ? f->fail_status : 204;
        pthread_mutex_unlock(&f->lock);
        osh_http_reply_set(rep, status, "text/plain", "", 0);
}

static osh_http_server_t *serve(fake_t *f)
{
        static const osh_http_route_t routes[] = {
            {"POST", "/v1/probe", on_probe, NULL, 0},
            {"POST", "/alert", on_alert, NULL, 0},
        };
        osh_http_server_opts_t o = {.host = "127.0.0.1", .opaque = f};
        char errstr[256];
        osh_http_server_t *s;

        memset(f, 0, sizeof(*f));
        pthread_mutex_init(&f->lock, NULL);
        s = osh_http_server_start(&o, routes, 2, errstr, sizeof(errstr));
        assert_non_null(s);
        return s;
}

static mon_model_t *model(void)
{
        mon_opts_t o = {.instance = "mon-1", .stale_ms = 10000, .window = 3};
        return mon_model_new(&o);
}

static void test_probe_ok_and_auth(void **state)
{
        fake_t f;
        osh_http_server_t *srv = serve(&f);
        char url[64], errstr[256];
        mon_probe_result_t r;
        mon_model_t *m = model();
        mon_probe_opts_t o = {.url = url,
                              .key_id = "k1",
                              .secret = SECRET,
                              .secret_len = strlen(SECRET),
                              .timeout_ms = 3000,
                              .source = "exchange/mon-1"};
        mon_prober_t *p;
        char *st;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/", osh_http_server_port(srv));
        p = mon_prober_new(&o, errstr, sizeof(errstr));
        assert_non_null(p);
        mon_prober_run(p, now_ms(), &r, m);
        assert_int_equal(f.verdict, OSH_AUTH_OK);
        assert_int_equal(r.state, MON_PROBE_OK);
        assert_true(r.has_snapshot);
        assert_string_equal(r.snapshot_batch, "B-20260401");
        assert_int_equal(r.snapshot_records, 1234);
        assert_int_equal(r.n_channels, 1);
        assert_int_equal(r.channels[0].failed_perm, 5);
        mon_model_probe(m, &r);
        assert_int_equal(mon_model_evaluate(m, now_ms(), NULL, 0, NULL), MON_HEALTH_OK);
        st = mon_model_status_json(m, now_ms());
        assert_non_null(strstr(st, "\"instance\":\"seg-1\""));
        assert_non_null(strstr(st, "\"segment\":\"cloud\""));
        assert_non_null(strstr(st, "\"source\":\"probe\""));
        assert_non_null(strstr(st, "\"records_in\":4321"));
        assert_non_null(strstr(st, "\"records_out\":4300"));
        assert_non_null(strstr(st, "\"records_rejected\":21"));
        free(st);
        mon_prober_destroy(p);

        /* A wrong secret is an AUTH_ERROR, not a generic failure. */
        o.secret = "wrong";
        o.secret_len = 5;
        p = mon_prober_new(&o, errstr, sizeof(errstr));
        mon_prober_run(p, now_ms(), &r, m);
        assert_int_equal(f.verdict, OSH_AUTH_BAD_SIGNATURE);
        assert_int_equal(r.state, MON_PROBE_AUTH_ERROR);
        assert_string_equal(r.detail, "HTTP 401");
        mon_prober_destroy(p);
        osh_http_server_stop(srv);

        /* Nobody listening any more: FAILED with curl's reason. */
        p = mon_prober_new(&o, errstr, sizeof(errstr));
        mon_prober_run(p, now_ms(), &r, m);
        assert_int_equal(r.state, MON_PROBE_FAILED);
        assert_true(r.detail[0] != '\0');
        mon_prober_destroy(p);
        mon_model_destroy(m);
}

static void test_probe_classify(void **state)
{
        assert_int_equal(mon_probe_classify(0, "Timeout was reached"), MON_PROBE_TIMEOUT);
        assert_int_equal(mon_probe_classify(0, "Couldn't connect to server"), MON_PROBE_FAILED);
        assert_int_equal(mon_probe_classify(403, NULL), MON_PROBE_AUTH_ERROR);
        assert_int_equal(mon_probe_classify(504, NULL), MON_PROBE_TIMEOUT);
        assert_int_equal(mon_probe_classify(503, NULL), MON_PROBE_FAILED);
        assert_int_equal(mon_probe_classify(200, NULL), MON_PROBE_OK);
}

static void wait_hits(fake_t *f, mon_alerter_t *a, uint64_t want_sent, uint64_t want_failed)
{
        uint64_t sent = 0, failed = 0;
        int i;

        for (i = 0; i < 500; i++) {
                mon_alerter_stats(a, &sent, &failed);
                if (sent == want_sent && failed == want_failed)
                        return;
                usleep(10000);
        }
        fail_msg("alerts: sent %llu failed %llu", (unsigned long long)sent,
                 (unsigned long long)failed);
}

static void test_alert_retry_and_signature(void **state)
{
        fake_t f;
        osh_http_server_t *srv = serve(&f);
        char url[64], errstr[256], hex[65], want[80];
        mon_transition_t t = {"consumer", "anonymizer/resident.raw.v1", "OK", "STALL"};
        mon_alert_opts_t o = {.url = url,
                              .secret = SECRET,
                              .secret_len = strlen(SECRET),
                              .timeout_ms = 2000,
                              .max_attempts = 3,
                              .backoff_base_ms = 10,
                              .backoff_max_ms = 50};
        mon_alerter_t *a;
        json_t *j;

        snprintf(url, sizeof(url), "http://127.0.0.1:%u/alert", osh_http_server_port(srv));
        f.fail_first = 1;
        f.fail_status = 503;
        a = mon_alerter_new(&o, errstr, sizeof(errstr));
        assert_non_null(a);
        mon_alerter_post(a, "mon-1", &t, 1800000000123LL);
        wait_hits(&f, a, 1, 0);
        assert_int_equal(f.hits, 2); /* 503, then delivered */
        j = json_loads(f.last_body, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "to")), "STALL");
        assert_string_equal(json_string_value(json_object_get(j, "subject")),
                            "anonymizer/resident.raw.v1");
        json_decref(j);
        assert_string_equal(f.last_ts, "1800000000");
        assert_int_equal(mon_alert_sign(SECRET, strlen(SECRET), 1800000000, f.last_body, hex), 0);
        snprintf(want, sizeof(want), "sha256=%s", hex);
        assert_string_equal(f.last_sig, want);

        /* A permanent refusal is not retried. */
        f.hits = 0;
        f.fail_first = 5;
        f.fail_status = 400;
        mon_alerter_post(a, "mon-1", &t, 1800000001000LL);
        wait_hits(&f, a, 1, 1);
        assert_int_equal(f.hits, 1);
        /* A receiver that keeps failing gets max_attempts tries. */
        f.hits = 0;
        f.fail_status = 500;
        mon_alerter_post(a, "mon-1", &t, 1800000002000LL);
        wait_hits(&f, a, 1, 2);
        assert_int_equal(f.hits, 3);
        mon_alerter_destroy(a);
        osh_http_server_stop(srv);
}

static void test_heartbeat_decode_and_watch(void **state)
{
        const osh_schema_t *sc = osh_schema_for_topic("ops.status.v1");
        mon_model_t *m = model();
        char errstr[256], *st;
        avro_value_t v;
        void *buf;
        size_t len;

        assert_int_equal(osh_value_new(sc, &v), 0);
        osh_value_set_string(&v, "service", "anonymizer");
        osh_value_set_string(&v, "instance", "anon-1");
        osh_value_set_enum(&v, "segment", "PROCESSING");
        osh_value_set_enum(&v, "state", "DEGRADED");
        osh_value_set_long(&v, "timestamp", now_ms());
        osh_value_set_long(&v, "records_in", 77);
        osh_value_set_long(&v, "lag", 9);
        osh_value_set_string(&v, "last_batch_id", "B-7");
        assert_int_equal(osh_serde_encode_alloc(sc, &v, &buf, &len, errstr, sizeof(errstr)), 0);
        assert_int_equal(mon_heartbeat_decode(buf, len, m, errstr, sizeof(errstr)), 0);
        assert_int_equal(mon_heartbeat_decode("junk", 4, m, errstr, sizeof(errstr)), -1);
        assert_int_equal(mon_model_evaluate(m, now_ms(), NULL, 0, NULL), MON_HEALTH_WARN);
        st = mon_model_status_json(m, now_ms());
        assert_non_null(strstr(st, "\"health\":\"DEGRADED\""));
        assert_non_null(strstr(st, "\"segment\":\"processing\""));
        assert_non_null(strstr(st, "\"last_batch\":\"B-7\""));
        assert_non_null(strstr(st, "\"lag\":9"));
        free(st);
        free(buf);
        avro_value_decref(&v);

        assert_int_equal(mon_watch_parse("a:t1, b:t2@svc-b,,", m, errstr, sizeof(errstr)), 0);
        assert_int_equal(mon_model_watch_count(m), 2);
        assert_int_equal(mon_watch_parse("nocolon", m, errstr, sizeof(errstr)), -1);
        assert_non_null(strstr(errstr, "nocolon"));
        assert_int_equal(mon_watch_parse(":t", m, errstr, sizeof(errstr)), -1);
        mon_model_destroy(m);
}

static int setup(void **state)
{
        char errstr[256];
        return osh_serde_init(errstr, sizeof(errstr));
}

static int teardown(void **state)
{
        osh_serde_shutdown();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_probe_ok_and_auth),
            cmocka_unit_test(test_probe_classify),
            cmocka_unit_test(test_alert_retry_and_signature),
            cmocka_unit_test(test_heartbeat_decode_and_watch),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
