/* Unit tests for the logger: formats, escaping, filtering, rdkafka mapping. */
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

#include "oshirase/log.h"

static FILE *cap;

#define assert_contains(hay, needle)                                                               \
        do {                                                                                       \
                if (!strstr((hay), (needle)))                                                      \
                        fail_msg("\"%s\" not found in \"%s\"", (needle), (hay));                   \
        } while (0)

static void cap_begin(void)
{
        cap = tmpfile();
        assert_non_null(cap);
        osh_log_set_stream(cap);
}

/* Returns everything logged since cap_begin(); caller frees. */
static char *cap_end(void)
{
        long len;
        char *buf;

        osh_log_set_stream(NULL);
        len = ftell(cap);
        assert_true(len >= 0);
        buf = calloc(1, (size_t)len + 1);
        assert_non_null(buf);
        rewind(cap);
        assert_int_equal(fread(buf, 1, (size_t)len, cap), (size_t)len);
        fclose(cap);
        cap = NULL;
        return buf;
}

static size_t count_lines(const char *s)
{
        size_t n = 0;

        for (; *s; s++)
                n += *s == '\n';
        return n;
}

/* Must run first: nothing has called osh_log_init() yet. */
static void test_default_before_init(void **state)
{
        char *out;

        assert_int_equal(osh_log_level(), OSH_LOG_INFO);
        cap_begin();
        osh_debug("hidden %d", 1);
        osh_info("shown %d", 2);
        out = cap_end();
        assert_int_equal(count_lines(out), 1);
        assert_contains(out, " INFO oshirase: shown 2\n");
        assert_null(strstr(out, "hidden"));
        assert_null(strchr(out, '{'));
        free(out);
}

static void test_text_format(void **state)
{
        struct tm tm = {0};
        int ms = -1, consumed = 0;
        char rest[128] = "";
        time_t now, logged;
        char *out;

        osh_log_init("extractor", "ex-1", OSH_LOG_DEBUG, 0);
        cap_begin();
        now = time(NULL);
        osh_warn("read %d lines from %s", 42, "a.csv");
        out = cap_end();
        assert_int_equal(sscanf(out, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ %n", &tm.tm_year, &tm.tm_mon,
                                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &consumed),
                         7);
        assert_int_equal(consumed, 25); /* fixed-width timestamp + space */
        assert_true(ms >= 0 && ms <= 999);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        logged = timegm(&tm); /* must be UTC: compare with the wall clock */
        assert_true(logged >= now - 2 && logged <= now + 2);
        snprintf(rest, sizeof(rest), "%s", out + consumed);
        assert_string_equal(rest, "WARN extractor[ex-1]: read 42 lines from a.csv\n");
        free(out);
}

static void test_text_escapes_control_chars(void **state)
{
        char *out;

        osh_log_init("svc", NULL, OSH_LOG_INFO, 0);
        cap_begin();
        osh_error("a\nb\tc\x01"
                  "d お知らせ");
        out = cap_end();
        assert_int_equal(count_lines(out), 1);
        assert_contains(out, " ERROR svc: a\\nb\\tc\\x01d お知らせ\n");
        free(out);
}

/* Parses one line of output (up to its '\n', which must be there). */
static json_t *parse_line(const char *line)
{
        const char *nl = strchr(line, '\n');
        json_error_t jerr;
        json_t *j;

        assert_non_null(nl);
        j = json_loadb(line, (size_t)(nl - line), 0, &jerr);

        if (!j)
                fail_msg("not JSON (%s): %s", jerr.text, line);
        return j;
}

static void test_json_format(void **state)
{
        json_t *j;
        char *out;

        osh_log_init("cloud-ingest", "ci-2", OSH_LOG_INFO, 1);
        cap_begin();
        osh_info("acked %d records", 17);
        out = cap_end();
        assert_int_equal(count_lines(out), 1);
        assert_int_equal(strncmp(out, "{\"ts\":\"", 7), 0);
        j = parse_line(out);
        assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
        assert_string_equal(json_string_value(json_object_get(j, "service")), "cloud-ingest");
        assert_string_equal(json_string_value(json_object_get(j, "instance")), "ci-2");
        assert_string_equal(json_string_value(json_object_get(j, "msg")), "acked 17 records");
        assert_int_equal(strlen(json_string_value(json_object_get(j, "ts"))), 24);
        assert_int_equal(json_object_size(j), 5);
        json_decref(j);
        free(out);
}

static void test_json_escaping(void **state)
{
        const char *msg = "q\"uote back\\slash nl\n cr\r tab\t bs\b ff\f ctl\x01\x1f 住民 ✓";
        json_t *j;
        char *out;

        osh_log_init("svc\"x", "in\\st", OSH_LOG_INFO, 1);
        cap_begin();
        osh_info("%s", msg);
        osh_info("bad utf8 \xff\xc3 overlong \xc0\xaf surrogate \xed\xa0\x80 end");
        out = cap_end();
        assert_int_equal(count_lines(out), 2);
        assert_contains(out, "\\u0001\\u001f");
        assert_contains(out, "住民 ✓"); /* UTF-8 passed through, not \u-escaped */
        j = parse_line(out);
        assert_string_equal(json_string_value(json_object_get(j, "msg")), msg);
        assert_string_equal(json_string_value(json_object_get(j, "service")), "svc\"x");
        assert_string_equal(json_string_value(json_object_get(j, "instance")), "in\\st");
        json_decref(j);
        j = parse_line(strchr(out, '\n') + 1);
        assert_string_equal(json_string_value(json_object_get(j, "msg")),
                            "bad utf8 \xef\xbf\xbd\xef\xbf\xbd overlong \xef\xbf\xbd\xef\xbf\xbd "
                            "surrogate \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end");
        json_decref(j);
        free(out);
}

static void test_long_message(void **state)
{
        size_t n = 5000;
        char *big = malloc(n + 1), *out;
        json_t *j;

        assert_non_null(big);
        memset(big, 'x', n);
        big[n] = '\0';
        big[n - 1] = '"'; /* forces escaping past the stack buffer */
        osh_log_init("svc", "i", OSH_LOG_INFO, 1);
        cap_begin();
        osh_info("%s", big);
        out = cap_end();
        j = parse_line(out);
        assert_string_equal(json_string_value(json_object_get(j, "msg")), big);
        json_decref(j);
        free(out);
        free(big);
}

static void test_level_filtering(void **state)
{
        osh_log_level_t lv;
        char *out;

        osh_log_init("svc", "i", OSH_LOG_WARN, 0);
        assert_int_equal(osh_log_level(), OSH_LOG_WARN);
        cap_begin();
        osh_debug("d");
        osh_info("i");
        osh_warn("w");
        osh_error("e");
        out = cap_end();
        assert_int_equal(count_lines(out), 2);
        assert_contains(out, "WARN svc[i]: w\n");
        assert_contains(out, "ERROR svc[i]: e\n");
        free(out);

        assert_int_equal(osh_log_level_parse("debug", &lv), 0);
        assert_int_equal(lv, OSH_LOG_DEBUG);
        assert_int_equal(osh_log_level_parse("INFO", &lv), 0);
        assert_int_equal(lv, OSH_LOG_INFO);
        assert_int_equal(osh_log_level_parse("warning", &lv), 0);
        assert_int_equal(lv, OSH_LOG_WARN);
        assert_int_equal(osh_log_level_parse("Error", &lv), 0);
        assert_int_equal(lv, OSH_LOG_ERROR);
        lv = OSH_LOG_INFO;
        assert_int_equal(osh_log_level_parse("loud", &lv), -1);
        assert_int_equal(osh_log_level_parse("", &lv), -1);
        assert_int_equal(osh_log_level_parse(NULL, &lv), -1);
        assert_int_equal(lv, OSH_LOG_INFO);
        assert_string_equal(osh_log_level_name(OSH_LOG_WARN), "warn");
}

static void test_rdkafka_mapping(void **state)
{
        static const osh_log_level_t want[8] = {
            OSH_LOG_ERROR, OSH_LOG_ERROR, OSH_LOG_ERROR, OSH_LOG_ERROR,
            OSH_LOG_WARN,  OSH_LOG_INFO,  OSH_LOG_INFO,  OSH_LOG_DEBUG,
        };
        json_t *j;
        char *out, *line;
        int i;

        for (i = 0; i < 8; i++)
                assert_int_equal(osh_log_level_from_syslog(i), want[i]);
        osh_log_init("svc", "i", OSH_LOG_DEBUG, 1);
        cap_begin();
        for (i = 0; i < 8; i++)
                osh_log_rdkafka(NULL, i, "BRKMAIN", "broker down");
        out = cap_end();
        assert_int_equal(count_lines(out), 8);
        for (i = 0, line = out; i < 8; i++, line = strchr(line, '\n') + 1) {
                j = parse_line(line);
                assert_string_equal(json_string_value(json_object_get(j, "level")),
                                    osh_log_level_name(want[i]));
                assert_string_equal(json_string_value(json_object_get(j, "msg")),
                                    "rdkafka BRKMAIN: broker down");
                json_decref(j);
        }
        free(out);

        osh_log_init("svc", "i", OSH_LOG_WARN, 0);
        cap_begin();
        osh_log_rdkafka(NULL, 7, "FETCH", "debug noise");
        osh_log_rdkafka(NULL, 6, "CONF", "info noise");
        osh_log_rdkafka(NULL, 4, "REQTMOUT", "timed out");
        out = cap_end();
        assert_int_equal(count_lines(out), 1);
        assert_contains(out, "WARN svc[i]: rdkafka REQTMOUT: timed out\n");
        free(out);
}

#define N_THREADS 4
#define N_LINES   200

static void *log_worker(void *arg)
{
        int id = (int)(intptr_t)arg, i;

        for (i = 0; i < N_LINES; i++)
                osh_info("worker %d line %d %s", id, i, "padding-padding-padding-padding");
        return NULL;
}

static void test_threads_do_not_interleave(void **state)
{
        pthread_t th[N_THREADS];
        int seen[N_THREADS] = {0}, i, id, n;
        char *out, *line, *nl;

        osh_log_init("svc", "i", OSH_LOG_INFO, 0);
        cap_begin();
        for (i = 0; i < N_THREADS; i++)
                assert_int_equal(pthread_create(&th[i], NULL, log_worker, (void *)(intptr_t)i), 0);
        for (i = 0; i < N_THREADS; i++)
                pthread_join(th[i], NULL);
        out = cap_end();
        assert_int_equal(count_lines(out), N_THREADS * N_LINES);
        for (line = out; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                *nl = '\0';
                line = strstr(line, " INFO svc[i]: worker ");
                assert_non_null(line);
                assert_int_equal(sscanf(line, " INFO svc[i]: worker %d line %d", &id, &n), 2);
                assert_true(id >= 0 && id < N_THREADS);
                assert_int_equal(n, seen[id]); /* per-thread order kept, nothing lost */
                assert_string_equal(strstr(line, " padding"), " padding-padding-padding-padding");
                seen[id]++;
        }
        for (i = 0; i < N_THREADS; i++)
                assert_int_equal(seen[i], N_LINES);
        free(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_default_before_init),
            cmocka_unit_test(test_text_format),
            cmocka_unit_test(test_text_escapes_control_chars),
            cmocka_unit_test(test_json_format),
            cmocka_unit_test(test_json_escaping),
            cmocka_unit_test(test_long_message),
            cmocka_unit_test(test_level_filtering),
            cmocka_unit_test(test_rdkafka_mapping),
            cmocka_unit_test(test_threads_do_not_interleave),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
