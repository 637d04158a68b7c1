/* cloud-ingest units without a broker: de-dup watermarks and sequence
 * verdicts, checkpoint codec, authentication over real sockets (HMAC and
 * mutual TLS, 401 vs 403), CSV row validation and the upload report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dest.h"
#include "ingest_auth.h"
#include "ingest_state.h"
#include "ingest_store.h"
#include "oshirase/auth.h"
#include "oshirase/http_client.h"
#include "oshirase/serde.h"

#define TLS_DIR OSH_SOURCE_DIR "/tests/unit/data/tls/"

static int setup(void **state)
{
        char err[256];

        return osh_serde_init(err, sizeof(err));
}

static int teardown(void **state)
{
        osh_serde_shutdown();
        return 0;
}

static void test_watermarks(void **state)
{
        ci_state_t *s = ci_state_new();
        const char *t;
        int32_t p;
        int64_t o;

        assert_int_equal(-1, ci_state_offset(s, "a", 0));
        assert_int_equal(0, ci_state_offset_raise(s, "a", 0, 5));
        assert_int_equal(0, ci_state_offset_raise(s, "a", 0, 3)); /* never lowers */
        assert_int_equal(5, ci_state_offset(s, "a", 0));
        assert_int_equal(-1, ci_state_offset(s, "a", 1));
        for (int i = 0; i < 40; i++) /* grows */
                assert_int_equal(0, ci_state_offset_raise(s, "b", i, i * 10));
        assert_int_equal(390, ci_state_offset(s, "b", 39));
        assert_int_equal(41, ci_state_offset_count(s));
        ci_state_offset_at(s, 0, &t, &p, &o);
        assert_string_equal("a", t);
        assert_int_equal(5, o);
        ci_state_destroy(s);
        ci_state_destroy(NULL);
}

static void test_sequences(void **state)
{
        ci_state_t *s = ci_state_new();
        uint8_t d1[32] = {1}, d2[32] = {2};

        assert_int_equal(CI_SEQ_NEW, ci_state_seq_check(s, "x/r1", 7, d1));
        assert_int_equal(0, ci_state_seq_record(s, "x/r1", 7, d1));
        assert_int_equal(CI_SEQ_RESEND, ci_state_seq_check(s, "x/r1", 7, d1));
        assert_int_equal(CI_SEQ_CONFLICT, ci_state_seq_check(s, "x/r1", 7, d2));
        assert_int_equal(CI_SEQ_NEW, ci_state_seq_check(s, "x/r2", 7, d2)); /* other sender */
        assert_int_equal(CI_SEQ_NEW, ci_state_seq_check(s, "x/r1", 8, d2));
        /* the ring forgets old sequences instead of misjudging them */
        ci_state_seq_record(s, "x/r1", 7 + CI_SEQ_RING, d2);
        assert_int_equal(CI_SEQ_NEW, ci_state_seq_check(s, "x/r1", 7, d2));
        ci_state_destroy(s);
}

static void test_checkpoint_codec(void **state)
{
        ci_checkpoint_t c = {.kind = 'q', .name = "exchange/relay-1", .value = 42}, back;
        char key[320];
        void *buf;
        size_t len;

        memset(c.digest, 0xab, 32);
        assert_int_equal(0, ci_checkpoint_encode(&c, &buf, &len, key, sizeof(key)));
        assert_string_equal("seq/exchange/relay-1", key);
        assert_int_equal(0, ci_checkpoint_decode(buf, len, &back));
        assert_int_equal('q', back.kind);
        assert_int_equal(42, back.value);
        assert_memory_equal(c.digest, back.digest, 32);
        assert_int_equal(-1, ci_checkpoint_decode(buf, len - 1, &back));
        free(buf);
        c = (ci_checkpoint_t){
            .kind = 's', .name = "resident.abstracted.v1", .partition = 3, .value = 99};
        assert_int_equal(0, ci_checkpoint_encode(&c, &buf, &len, key, sizeof(key)));
        assert_string_equal("src/resident.abstracted.v1/3", key);
        assert_int_equal(0, ci_checkpoint_decode(buf, len, &back));
        assert_int_equal('s', back.kind);
        assert_int_equal(3, back.partition);
        assert_int_equal(99, back.value);
        free(buf);
}

/* ---- auth over a real server ------------------------------------------- */

static void on_auth(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        if (!ci_auth_check(opaque, req, (int64_t)ts.tv_sec * 1000, rep))
                osh_http_reply_text(rep, 200, "ok");
}

static void pre_auth(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        ci_auth_precheck(opaque, req, rep);
}

static long call(ci_auth_t *a, const osh_http_tls_t *tls, const char *hdr, const char *body,
                 char *out, size_t out_size)
{
        osh_http_route_t r = {"POST", "/v1/batches", on_auth, pre_auth, 0};
        int use_tls = tls != NULL;
        osh_http_server_opts_t o = {.host = "127.0.0.1", .opaque = a};
        osh_http_server_t *s;
        osh_http_client_t *c;
        osh_http_response_t resp;
        const char *h[] = {hdr, NULL};
        char url[128], err[256];
        long status;

        if (use_tls) {
                o.cert_file = TLS_DIR "server.pem";
                o.key_file = TLS_DIR "server.key";
                o.client_ca_file = TLS_DIR "ca.pem";
        }
        s = osh_http_server_start(&o, &r, 1, err, sizeof(err));
        assert_non_null(s);
        c = osh_http_client_new(tls);
        snprintf(url, sizeof(url), "%s://%s:%u/v1/batches", use_tls ? "https" : "http",
                 use_tls ? "localhost" : "127.0.0.1", osh_http_server_port(s));
        osh_http_request(c, "POST", url, hdr ? h : NULL, body, strlen(body), 5000, 4096, &resp);
        status = resp.status;
        snprintf(out, out_size, "%s", resp.body ? resp.body : "");
        osh_http_response_free(&resp);
        osh_http_client_destroy(c);
        osh_http_server_stop(s);
        return status;
}

static void signed_hdr(const char *id, const char *secret, int64_t ts, const char *body, char *out,
                       size_t size)
{
        int n = snprintf(out, size, "Authorization: ");
        assert_int_equal(0, osh_auth_sign(id, secret, strlen(secret), "POST", "/v1/batches", ts,
                                          body, strlen(body), out + n, size - (size_t)n));
}

static void test_auth_hmac(void **state)
{
        char err[256], hdr[400], out[256];
        ci_auth_t *a =
            ci_auth_new("hmac", "r1:secret-one, r2:secret-two", NULL, 60000, err, sizeof(err));
        int64_t now = (int64_t)time(NULL) * 1000;

        assert_non_null(a);
        assert_int_equal(2, ci_auth_key_count(a));
        signed_hdr("r2", "secret-two", now, "body", hdr, sizeof(hdr));
        assert_int_equal(200, call(a, NULL, hdr, "body", out, sizeof(out)));
        assert_int_equal(401, call(a, NULL, NULL, "body", out, sizeof(out)));
        assert_non_null(strstr(out, "missing"));
        assert_int_equal(
            401, call(a, NULL, "Authorization: OSH-HMAC-SHA256 key=r1", "body", out, sizeof(out)));
        assert_int_equal(401, call(a, NULL, "Authorization: Bearer abc", "body", out, sizeof(out)));
        signed_hdr("r3", "secret-two", now, "body", hdr, sizeof(hdr));
        assert_int_equal(403, call(a, NULL, hdr, "body", out, sizeof(out)));
        signed_hdr("r1", "secret-two", now, "body", hdr, sizeof(hdr));
        assert_int_equal(403, call(a, NULL, hdr, "body", out, sizeof(out)));
        signed_hdr("r1", "secret-one", now, "body", hdr, sizeof(hdr));
        assert_int_equal(403, call(a, NULL, hdr, "other body", out, sizeof(out)));
        signed_hdr("r1", "secret-one", now - 120000, "body", hdr, sizeof(hdr));
        assert_int_equal(403, call(a, NULL, hdr, "body", out, sizeof(out)));
        assert_non_null(strstr(out, "stale"));
        ci_auth_destroy(a);
}

static void test_auth_mtls(void **state)
{
        char err[256], out[256], hdr[400];
        ci_auth_t *m = ci_auth_new("mtls", NULL, NULL, 0, err, sizeof(err));
        ci_auth_t *any = ci_auth_new("any", "r1:s1", NULL, 0, err, sizeof(err));
        osh_http_tls_t good = {TLS_DIR "ca.pem", TLS_DIR "client.pem", TLS_DIR "client.key"};
        osh_http_tls_t none = {TLS_DIR "ca.pem", NULL, NULL};
        osh_http_tls_t rogue = {TLS_DIR "ca.pem", TLS_DIR "rogue-client.pem",
                                TLS_DIR "rogue-client.key"};

        assert_non_null(m);
        assert_non_null(any);
        assert_int_equal(200, call(m, &good, NULL, "b", out, sizeof(out)));
        assert_int_equal(401, call(m, &none, NULL, "b", out, sizeof(out)));
        assert_int_equal(403, call(m, &rogue, NULL, "b", out, sizeof(out)));
        assert_int_equal(200, call(any, &good, NULL, "b", out, sizeof(out)));
        assert_int_equal(401, call(any, &none, NULL, "b", out, sizeof(out)));
        signed_hdr("r1", "s1", (int64_t)time(NULL) * 1000, "b", hdr, sizeof(hdr));
        assert_int_equal(200, call(any, &none, hdr, "b", out, sizeof(out)));
        ci_auth_destroy(m);
        ci_auth_destroy(any);
}

static void test_auth_config(void **state)
{
        char err[256];
        FILE *fp;
        const char *path = "/tmp/test_cloud_ingest.keys";
        ci_auth_t *a;

        assert_null(ci_auth_new("hmac", NULL, NULL, 0, err, sizeof(err)));
        assert_non_null(strstr(err, "needs keys"));
        assert_null(ci_auth_new("basic", NULL, NULL, 0, err, sizeof(err)));
        assert_null(ci_auth_new("hmac", "nosecret", NULL, 0, err, sizeof(err)));
        assert_null(ci_auth_new("hmac", NULL, "/nonexistent/keys", 0, err, sizeof(err)));
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("# comment\nrelay-1 abc\n\nstaff:def\n", fp);
        fclose(fp);
        a = ci_auth_new("hmac", "x:y", path, 0, err, sizeof(err));
        assert_non_null(a);
        assert_int_equal(3, ci_auth_key_count(a));
        ci_auth_destroy(a);
        remove(path);
}

/* ---- destinations -------------------------------------------------------- */

static const char *row(ci_dest_t *d, const char *a, const char *b, const char *c, const char *e,
                       const char *f)
{
        const char *fs[5] = {a, b, c, e, f};
        size_t ls[5];

        for (int i = 0; i < 5; i++)
                ls[i] = fs[i] ? strlen(fs[i]) : 0;
        return ci_dest_check_row(d, fs, ls, f ? 5 : 4);
}

static void test_dest_rows(void **state)
{
        char err[128];
        ci_dest_t *d = ci_dest_new(NULL, NULL, err, sizeof(err));
        const char *line = "U0123456789abcdef0123456789abcdef";

        assert_non_null(d);
        assert_null(row(d, "A1", "line", line, "childcare", NULL));
        assert_null(row(d, "A1", "LINE", line, "childcare;health_welfare|benefits", "withdrawn"));
        assert_null(row(d, "abc123", "email", "a.b+c@mail.example.jp", "checkups", "1"));
        assert_null(row(d, "A1", "webhook", "https://hooks.example.jp/a?b=1", "vaccination", NULL));
        assert_null(row(d, "A1", "x", "1234567890", "safety_disaster", NULL));
        assert_null(row(d, "A1", "facebook", "12345678", "childcare", "yes"));
        assert_non_null(row(d, "A-1", "line", line, "childcare", NULL));
        assert_non_null(row(d, "", "line", line, "childcare", NULL));
        assert_non_null(row(d, "山田", "line", line, "childcare", NULL));
        assert_non_null(row(d, "A1", "sms", "0901234", "childcare", NULL));
        assert_null(row(d, "A1", "sms", "+819012345678", "childcare", NULL));
        assert_non_null(row(d, "A1", "fax", "+819012345678", "childcare", NULL));
        assert_non_null(row(d, "A1", "email", "a@example.jp>\r\nRCPT TO:<victim@example.jp",
                            "childcare", NULL));
        assert_non_null(
            row(d, "A1", "line", "U0123456789ABCDEF0123456789abcdef", "childcare", NULL));
        assert_non_null(row(d, "A1", "line", "U123", "childcare", NULL));
        assert_non_null(row(d, "A1", "email", "no-at.example.jp", "childcare", NULL));
        assert_non_null(row(d, "A1", "email", "a@nodot", "childcare", NULL));
        assert_non_null(row(d, "A1", "email", "a b@example.jp", "childcare", NULL));
        assert_non_null(row(d, "A1", "webhook", "http://insecure.example.jp", "childcare", NULL));
        assert_non_null(row(d, "A1", "x", "@handle", "childcare", NULL));
        assert_non_null(row(d, "A1", "facebook", "123", "childcare", NULL));
        assert_string_equal("unknown category", row(d, "A1", "line", line, "gardening", NULL));
        assert_string_equal("no category", row(d, "A1", "line", line, " ; ", NULL));
        assert_non_null(row(d, "A1", "line", line, "childcare", "maybe"));
        const char *three[3] = {"A1", "line", line};
        size_t l3[3] = {2, 4, strlen(line)};
        assert_non_null(ci_dest_check_row(d, three, l3, 3));
        ci_dest_destroy(d);
        assert_null(ci_dest_new(NULL, " , ", err, sizeof(err)));
}

static void test_dest_report(void **state)
{
        char err[128];
        ci_dest_t *d = ci_dest_new(NULL, "a,b", err, sizeof(err));
        osh_http_reply_t rep = {0};
        const char *csv = "\xEF\xBB\xBFuser_id,channel,account,categories\r\n"
                          "A1,email,x@example.jp,a;b\r\n"
                          "\r\n"
                          "A2,email,\"bad\"quote\",a\r\n"
                          "A3,email,x@example.jp,c\r\n"
                          "A4,email,\"y@example.jp\",\"a,b\"\r\n"
                          "A5,email,\"a@example.jp>\r\nRCPT TO:<victim@example.jp\",a\r\n";

        ci_dest_upload(d, (const uint8_t *)csv, strlen(csv), &rep);
        assert_int_equal(200, rep.status);
        rep.body = realloc(rep.body, rep.body_len + 1);
        rep.body[rep.body_len] = '\0';
        assert_non_null(strstr((char *)rep.body, "\"accepted\":2,\"rejected\":3"));
        assert_non_null(strstr((char *)rep.body, "{\"line\":4,\"reason\":\"bad quote\"}"));
        assert_non_null(strstr((char *)rep.body, "{\"line\":5,\"reason\":\"unknown category\"}"));
        assert_non_null(strstr((char *)rep.body, "{\"line\":7,\"reason\":\"e-mail domain"));
        assert_null(strstr((char *)rep.body, "example.jp"));
        free(rep.body);
        rep = (osh_http_reply_t){0};
        ci_dest_upload(d, (const uint8_t *)"just text\n", 10, &rep);
        assert_int_equal(400, rep.status);
        free(rep.body);
        rep = (osh_http_reply_t){0};
        ci_dest_upload(d, (const uint8_t *)"", 0, &rep);
        assert_int_equal(400, rep.status);
        free(rep.body);
        ci_dest_destroy(d);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_watermarks),       cmocka_unit_test(test_sequences),
            cmocka_unit_test(test_checkpoint_codec), cmocka_unit_test(test_auth_hmac),
            cmocka_unit_test(test_auth_mtls),        cmocka_unit_test(test_auth_config),
            cmocka_unit_test(test_dest_rows),        cmocka_unit_test(test_dest_report),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
