/* console: accounts (argon2id, TOTP, lock-out, file safety), sessions
 * (expiry, cookies, CSRF), the JSON request parsers and the redaction of
 * small counts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "con_accounts.h"
#include "con_api.h"
#include "con_session.h"
#include "con_view.h"
#include "console_service.h"
#include "oshirase/quiet.h"

#define PW "correct-horse-battery"

static char path[256];

static int setup(void **state)
{
        snprintf(path, sizeof(path), "/tmp/osh-test-console-%d.accounts", (int)getpid());
        unlink(path);
        return 0;
}

static int teardown(void **state)
{
        char lock[300];

        snprintf(lock, sizeof(lock), "%s.lock", path);
        unlink(path);
        unlink(lock);
        return 0;
}

static void test_accounts_file(void **state)
{
        char err[256], secret[64];
        con_accounts_t *a = con_accounts_open(path, 0, err, sizeof(err));
        struct stat st;
        FILE *fp;

        assert_null(a); /* missing file without create */
        a = con_accounts_open(path, 1, err, sizeof(err));
        assert_non_null(a);
        assert_int_equal(
            con_accounts_add(a, "root", PW, CON_ROLE_ADMIN, 0, NULL, 0, err, sizeof(err)), 0);
        assert_int_equal(
            con_accounts_add(a, "root", PW, CON_ROLE_ADMIN, 0, NULL, 0, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "exists"));
        assert_int_equal(
            con_accounts_add(a, "Bad Name", PW, CON_ROLE_ADMIN, 0, NULL, 0, err, sizeof(err)), -1);
        assert_int_equal(
            con_accounts_add(a, "short", "123", CON_ROLE_ADMIN, 0, NULL, 0, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "password"));
        assert_int_equal(con_accounts_add(a, "tina", PW, CON_ROLE_AUTHOR, 1, secret, sizeof(secret),
                                          err, sizeof(err)),
                         0);
        assert_int_equal(strlen(secret), 32);
        con_accounts_destroy(a);

        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        fp = fopen(path, "r");
        char text[2048] = "";
        assert_true(fread(text, 1, sizeof(text) - 1, fp) > 0);
        fclose(fp);
        assert_null(strstr(text, PW));               /* only the hash */
        assert_non_null(strstr(text, "$argon2id$")); /* argon2id */

        a = con_accounts_open(path, 0, err, sizeof(err));
        assert_non_null(a);
        assert_int_equal(con_accounts_count(a), 2);
        con_accounts_destroy(a);

        chmod(path, 0644);
        assert_null(con_accounts_open(path, 0, err, sizeof(err)));
        assert_non_null(strstr(err, "chmod 600"));
        chmod(path, 0600);
        fp = fopen(path, "a");
        fputs("broken line\n", fp);
        fclose(fp);
        assert_null(con_accounts_open(path, 0, err, sizeof(err)));
        assert_non_null(strstr(err, "line 4"));
}

static void test_login_and_lockout(void **state)
{
        char err[256];
        con_accounts_t *a = con_accounts_open(path, 1, err, sizeof(err));
        con_role_t role = CON_ROLE_VIEWER;
        int64_t t = 1000000;

        assert_int_equal(
            con_accounts_add(a, "alice", PW, CON_ROLE_APPROVER, 0, NULL, 0, err, sizeof(err)), 0);
        assert_int_equal(con_accounts_login(a, "alice", PW, NULL, t, 3, 60000, &role),
                         CON_LOGIN_OK);
        assert_int_equal(role, CON_ROLE_APPROVER);
        assert_int_equal(con_accounts_login(a, "nobody", PW, NULL, t, 3, 60000, &role),
                         CON_LOGIN_BAD);
        assert_int_equal(con_accounts_login(a, "alice", "wrong-password", NULL, t, 3, 60000, &role),
                         CON_LOGIN_BAD);
        assert_int_equal(con_accounts_login(a, "alice", "wrong-password", NULL, t, 3, 60000, &role),
                         CON_LOGIN_BAD);
        assert_int_equal(con_accounts_login(a, "alice", "wrong-password", NULL, t, 3, 60000, &role),
                         CON_LOGIN_NOW_LOCKED);
        /* the right password does not open a locked account */
        assert_int_equal(con_accounts_login(a, "alice", PW, NULL, t + 1000, 3, 60000, &role),
                         CON_LOGIN_LOCKED);
        assert_int_equal(con_accounts_login(a, "alice", PW, NULL, t + 61000, 3, 60000, &role),
                         CON_LOGIN_OK);
        con_accounts_destroy(a);
}

/* A running console (a) sees accounts that `console user add` (b, another
 * process's view of the file) writes, keeps its failure counts across the
 * reload, and its own writes keep b's accounts. */
/* A password sign-in at a fixed time, 3 failures lock for a minute. */
static con_login_t sign_in(con_accounts_t *a, const char *name, const char *pw, con_role_t *role)
{
        return con_accounts_login(a, name, pw, NULL, 1000000, 3, 60000, role);
}

static void test_accounts_seen_while_running(void **state)
{
        char err[256];
        con_accounts_t *a = con_accounts_open(path, 1, err, sizeof(err)), *b, *c;
        con_role_t role = CON_ROLE_VIEWER;

        assert_non_null(a);
        assert_int_equal(
            con_accounts_add(a, "root", PW, CON_ROLE_ADMIN, 0, NULL, 0, err, sizeof(err)), 0);
        assert_int_equal(sign_in(a, "alice", PW, &role), CON_LOGIN_BAD);
        assert_int_equal(sign_in(a, "root", "wrong-password", &role), CON_LOGIN_BAD);
        assert_int_equal(sign_in(a, "root", "wrong-password", &role), CON_LOGIN_BAD);

        b = con_accounts_open(path, 0, err, sizeof(err));
        assert_non_null(b);
        assert_int_equal(
            con_accounts_add(b, "alice", PW, CON_ROLE_AUTHOR, 0, NULL, 0, err, sizeof(err)), 0);
        con_accounts_destroy(b);

        assert_int_equal(sign_in(a, "alice", PW, &role), CON_LOGIN_OK);
        assert_int_equal(role, CON_ROLE_AUTHOR);
        /* root's two failures survived the reload: the third locks */
        assert_int_equal(sign_in(a, "root", "wrong-password", &role), CON_LOGIN_NOW_LOCKED);
        /* a's own add keeps alice */
        assert_int_equal(
            con_accounts_add(a, "bob", PW, CON_ROLE_APPROVER, 0, NULL, 0, err, sizeof(err)), 0);
        c = con_accounts_open(path, 0, err, sizeof(err));
        assert_int_equal(con_accounts_count(c), 3);
        con_accounts_destroy(c);
        /* a version that does not load (world-readable) leaves the list as it was */
        b = con_accounts_open(path, 0, err, sizeof(err));
        assert_int_equal(
            con_accounts_add(b, "carol", PW, CON_ROLE_VIEWER, 0, NULL, 0, err, sizeof(err)), 0);
        con_accounts_destroy(b);
        assert_int_equal(chmod(path, 0644), 0);
        assert_int_equal(sign_in(a, "carol", PW, &role), CON_LOGIN_BAD);
        assert_int_equal(sign_in(a, "bob", PW, &role), CON_LOGIN_OK);
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(sign_in(a, "carol", PW, &role), CON_LOGIN_OK);
        con_accounts_destroy(a);
}

/* The dispatcher's window as its heartbeat carries it (minutes) is the
 * window its configuration text gives. */
static void test_quiet_from_heartbeat(void **state)
{
        osh_quiet_t a, b;
        char s[16];

        assert_int_equal(osh_quiet_parse("21:00-08:00", 540, &a), 0);
        assert_int_equal(osh_quiet_from_minutes(21 * 60, 8 * 60, 540, &b), 0);
        assert_memory_equal(&a, &b, sizeof(a));
        osh_quiet_format(&b, s, sizeof(s));
        assert_string_equal(s, "21:00-08:00");
        /* 2017-03-15 22:00 JST is in it, until 08:00 the next morning */
        assert_int_equal(osh_quiet_until(&b, 1489582800000LL), 1489618800000LL);
        assert_int_equal(osh_quiet_from_minutes(-1, -1, 540, &b), 0);
        assert_false(b.enabled);
        osh_quiet_format(&b, s, sizeof(s));
        assert_string_equal(s, "");
        assert_int_equal(osh_quiet_from_minutes(-1, 480, 540, &b), -1);
        assert_int_equal(osh_quiet_from_minutes(0, 1441, 540, &b), -1);
        assert_int_equal(osh_quiet_from_minutes(0, 60, 9000, &b), -1);
}

static void test_totp(void **state)
{
        char err[256], secret[64], code[7], prev[7];
        con_accounts_t *a = con_accounts_open(path, 1, err, sizeof(err));
        con_role_t role;
        int64_t t = 1700000000000LL;

        assert_int_equal(con_accounts_add(a, "tina", PW, CON_ROLE_AUTHOR, 1, secret, sizeof(secret),
                                          err, sizeof(err)),
                         0);
        assert_int_equal(con_totp_code(secret, t, code), 0);
        assert_int_equal(con_totp_code(secret, t - 30000, prev), 0);
        assert_int_equal(con_accounts_login(a, "tina", PW, NULL, t, 10, 60000, &role),
                         CON_LOGIN_BAD);
        assert_int_equal(con_accounts_login(a, "tina", PW, "000000", t, 10, 60000, &role),
                         strcmp(code, "000000") ? CON_LOGIN_BAD : CON_LOGIN_OK);
        assert_int_equal(con_accounts_login(a, "tina", "wrong-password", code, t, 10, 60000, &role),
                         CON_LOGIN_BAD);
        assert_int_equal(con_accounts_login(a, "tina", PW, code, t, 10, 60000, &role),
                         CON_LOGIN_OK);
        /* a code is good once, and an older step after a newer one never */
        assert_int_equal(con_accounts_login(a, "tina", PW, code, t, 10, 60000, &role),
                         CON_LOGIN_BAD);
        assert_int_equal(con_accounts_login(a, "tina", PW, prev, t, 10, 60000, &role),
                         CON_LOGIN_BAD);
        con_accounts_destroy(a);
}

static void test_sessions(void **state)
{
        con_sessions_t *s = con_sessions_new(1000, 5000);
        char id[CON_TOKEN_HEX + 1], got[CON_TOKEN_HEX + 1], cookie[200];
        con_session_info_t info, out;

        assert_int_equal(con_sessions_create(s, "bob", CON_ROLE_APPROVER, 0, id, &info), 0);
        assert_int_equal(strlen(id), CON_TOKEN_HEX);
        assert_int_equal(strlen(info.csrf), CON_TOKEN_HEX);
        assert_string_not_equal(id, info.csrf);
        assert_int_equal(con_sessions_get(s, id, 900, &out), 0);
        assert_string_equal(out.user, "bob");
        assert_int_equal(con_sessions_get(s, id, 1800, &out), 0);  /* touched at 900 */
        assert_int_equal(con_sessions_get(s, id, 2900, &out), -1); /* idle */
        assert_int_equal(con_sessions_create(s, "bob", CON_ROLE_APPROVER, 0, id, &info), 0);
        for (int64_t t = 900; t < 5000; t += 900)
                assert_int_equal(con_sessions_get(s, id, t, &out), 0);
        assert_int_equal(con_sessions_get(s, id, 5001, &out), -1); /* absolute */
        assert_int_equal(con_sessions_create(s, "bob", CON_ROLE_APPROVER, 0, id, &info), 0);
        con_sessions_drop(s, id);
        assert_int_equal(con_sessions_get(s, id, 1, &out), -1);

        snprintf(cookie, sizeof(cookie), "a=b; %s=%s; c=d", CON_COOKIE, id);
        assert_int_equal(con_cookie_session(cookie, got), 0);
        assert_string_equal(got, id);
        assert_int_equal(con_cookie_session("osh_console=short", got), -1);
        assert_int_equal(con_cookie_session("", got), -1);
        assert_int_equal(con_sessions_get(s, "nope", 1, &out), -1);

        assert_true(con_csrf_ok(info.csrf, info.csrf));
        assert_false(con_csrf_ok(info.csrf, NULL));
        assert_false(con_csrf_ok(info.csrf, ""));
        assert_false(con_csrf_ok(info.csrf, id));
        con_sessions_destroy(s);
}

#define P(fn, json, out) fn(json, strlen(json), out, err, sizeof(err))

static void test_api_parsers(void **state)
{
        char err[256], id[CON_MAX_SHORT + 1];
        con_campaign_t c;
        con_login_req_t l;
        con_template_t t;

        assert_int_equal(
            P(con_api_parse_campaign,
              "{\"condition\":\"nhi\",\"template\":{\"title\":\"t\",\"items\":[{\"label\":"
              "\"会場\",\"value\":\"区役所\"}],\"links\":[\"https://x.jp/\"]},"
              "\"channels\":[\"LINE\",\"EMAIL\"],\"test\":true,\"test_recipients\":[\"U1\"],"
              "\"send_at\":1489503600000}",
              &c),
            0);
        assert_string_equal(c.condition, "nhi");
        assert_int_equal(c.channels, 3);
        assert_int_equal(c.tpl.nitems, 1);
        assert_int_equal(c.send_at_ms, 1489503600000LL);
        assert_int_equal(c.ntests, 1);
        con_campaign_clear(&c);

        assert_int_equal(P(con_api_parse_campaign, "{\"condition\":\"nhi\"}", &c), -1);
        assert_string_equal(err, "template must be an object");
        assert_int_equal(P(con_api_parse_campaign, "{\"condition\":\"nhi\",\"template\":{}}", &c),
                         -1);
        assert_string_equal(err, "a template needs a title or a body");
        assert_int_equal(P(con_api_parse_campaign,
                           "{\"condition\":\"nhi\",\"test\":true,\"template\":{\"title\":\"t\"}}",
                           &c),
                         -1);
        assert_string_equal(err, "a test send needs test_recipients");
        assert_int_equal(P(con_api_parse_campaign,
                           "{\"condition\":\"x\",\"template\":{\"title\":\"t\",\"links\":["
                           "\"javascript:alert(1)\"]}}",
                           &c),
                         -1);
        assert_non_null(strstr(err, "links[0]"));
        assert_int_equal(
            P(con_api_parse_campaign,
              "{\"condition\":\"x\",\"channels\":[\"FAX\"],\"template\":{\"title\":\"t\"}}", &c),
            -1);
        assert_non_null(strstr(err, "channels[0]"));
        assert_int_equal(P(con_api_parse_preview, "{\"condition\":\"a\\r\\nb\"}", &c), -1);
        assert_string_equal(err, "condition holds control characters");
        assert_int_equal(P(con_api_parse_preview, "{\"condition\":\"a\\u0000b\"}", &c), -1);
        assert_int_equal(P(con_api_parse_preview, "{\"condition\":\"a\",\"condition\":\"b\"}", &c),
                         -1);
        assert_non_null(strstr(err, "malformed JSON"));
        assert_int_equal(P(con_api_parse_preview, "[1]", &c), -1);
        assert_string_equal(err, "the body must be a JSON object");
        assert_int_equal(P(con_api_parse_preview, "{\"condition\":\"a\",\"send_at\":-5}", &c), -1);
        assert_int_equal(P(con_api_parse_preview, "{\"condition\":\"a\",\"evil\":1}", &c), -1);
        assert_string_equal(err, "unknown field \"evil\"");
        assert_int_equal(P(con_api_parse_template,
                           "{\"name\":\"n\",\"title\":\"<script>alert(1)</script>\"}", &t),
                         0);
        assert_string_equal(t.title,
                            "<script>alert(1)</script>"); /* stored as text; the page escapes */
        con_template_clear(&t);
        assert_int_equal(P(con_api_parse_template, "{\"title\":\"a\\nb\",\"name\":\"n\"}", &t), -1);
        assert_string_equal(err, "title holds control characters");

        assert_int_equal(P(con_api_parse_login, "{\"user\":\"a\",\"password\":\"b\"}", &l), 0);
        assert_null(l.otp);
        con_login_req_clear(&l);
        assert_int_equal(P(con_api_parse_login, "{\"user\":\"a\"}", &l), -1);
        assert_string_equal(err, "password is required");
        assert_int_equal(con_api_parse_id("{\"id\":\"c-1\"}", 12, id, sizeof(id), err, sizeof(err)),
                         0);
        assert_string_equal(id, "c-1");
        assert_int_equal(con_api_parse_id(NULL, 0, id, sizeof(id), err, sizeof(err)), -1);
}

static void test_redaction(void **state)
{
        json_t *r = json_pack("{s:s,s:i,s:i,s:i,s:{s:i,s:i},s:{s:i}}", "state", "PREVIEWED",
                              "certain", 42, "possible", 3, "suppressed", 0, "suppressed_by_reason",
                              "opt_out", 2, "excluded", 12, "delivery", "SENT", 9);
        json_t *v = con_view_result(r, 10);
        char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);

        assert_non_null(strstr(s, "\"certain\":42"));
        assert_non_null(strstr(s, "\"possible\":{\"lt\":10}"));
        assert_non_null(strstr(s, "\"opt_out\":{\"lt\":10}"));
        assert_non_null(strstr(s, "\"excluded\":12"));
        assert_non_null(strstr(s, "\"SENT\":{\"lt\":10}"));
        assert_non_null(strstr(s, "\"by_channel\":[]"));
        assert_int_equal(con_view_audience(r, 0), 42);
        assert_int_equal(con_view_audience(r, 1), 45);
        free(s);
        json_decref(v);
        json_object_set_new(r, "state", json_string("REJECTED"));
        json_object_set_new(r, "message", json_string("audience 7 is below the minimum of 10"));
        v = con_view_result(r, 10);
        assert_string_equal(json_string_value(json_object_get(v, "message")),
                            "below the minimum audience");
        json_decref(v);
        json_decref(r);
}

/* Every by_channel / by_ward cell gets the fewer-than-N rule; the
 * segmenter's withheld -1 is never shown as a number. */
static void test_breakdown_redaction(void **state)
{
        json_t *r = json_pack(
            "{s:s,s:i,s:i,s:i,s:[{s:s,s:i,s:i},{s:s,s:i,s:i}],s:[{s:i,s:s,s:i,s:i},{s:i,s:s,s:i,"
            "s:i}]}",
            "state", "PREVIEWED", "certain", 60, "possible", 4, "breakdown_min", 10, "by_channel",
            "channel", "LINE", "certain", 51, "possible", -1, "channel", "NONE", "certain", 9,
            "possible", 0, "by_ward", "ward_code", 12101, "ward", "chuo", "certain", 40, "possible",
            -1, "ward_code", 12102, "ward", "hanamigawa", "certain", -1, "possible", 0);
        json_t *v = con_view_result(r, 10);
        json_t *both = json_pack("{s:O,s:O}", "c", json_object_get(v, "by_channel"), "w",
                                 json_object_get(v, "by_ward"));
        char *s = json_dumps(both, JSON_COMPACT | JSON_SORT_KEYS);

        assert_string_equal(
            s, "{\"c\":[{\"certain\":51,\"channel\":\"LINE\",\"possible\":{\"withheld\":true}},"
               "{\"certain\":{\"lt\":10},\"channel\":\"NONE\",\"possible\":{\"lt\":10}}],"
               "\"w\":[{\"certain\":40,\"possible\":{\"withheld\":true},\"ward\":\"chuo\","
               "\"ward_code\":12101},{\"certain\":{\"withheld\":true},\"possible\":{\"lt\":10},"
               "\"ward\":\"hanamigawa\",\"ward_code\":12102}]}");
        free(s);
        json_decref(both);
        json_decref(v);
        json_decref(r);
}

static void test_csv(void **state)
{
        json_t *c = json_pack("{s:{s:s,s:s,s:{s:i,s:{s:i,s:i}}}}", "con-1", "title",
                              "=HYPERLINK(\"x\")", "state", "REQUESTED", "result", "recipients",
                              120, "delivery", "SENT", 100, "FAILED_PERM", 3);
        size_t len = 0;
        char *csv = con_view_csv(c, 10, &len);

        assert_non_null(csv);
        assert_int_equal(strlen(csv), len);
        assert_non_null(strstr(
            csv, "\"con-1\",\"'=HYPERLINK(\"\"x\"\")\",\"REQUESTED\",120,100,<10,<10,<10\r\n"));
        free(csv);
        json_decref(c);
}

static void test_wards(void **state)
{
        con_conf_t c = {0};
        char err[256];

        assert_int_equal(con_wards_parse("12101:中央区,12102:花見川区", &c, err, sizeof(err)), 0);
        assert_int_equal(c.nwards, 2);
        assert_int_equal(c.wards[1].code, 12102);
        assert_string_equal(c.wards[1].label, "花見川区");
        assert_int_equal(con_wards_parse("12101", &c, err, sizeof(err)), -1);
        assert_int_equal(con_wards_parse("x:y", &c, err, sizeof(err)), -1);
        assert_int_equal(con_wards_parse("12101:", &c, err, sizeof(err)), -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_accounts_file, setup, teardown),
            cmocka_unit_test_setup_teardown(test_login_and_lockout, setup, teardown),
            cmocka_unit_test_setup_teardown(test_accounts_seen_while_running, setup, teardown),
            cmocka_unit_test_setup_teardown(test_totp, setup, teardown),
            cmocka_unit_test(test_quiet_from_heartbeat),
            cmocka_unit_test(test_sessions),
            cmocka_unit_test(test_api_parsers),
            cmocka_unit_test(test_redaction),
            cmocka_unit_test(test_breakdown_redaction),
            cmocka_unit_test(test_csv),
            cmocka_unit_test(test_wards),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
