/* The monitor's model: heartbeat freshness, group liveness, probe state,
 * transitions, and its three renderings (status JSON, Prometheus text,
 * ops.health.v1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/serde.h"

#include "mon_model.h"

#define T0    1800000000000LL
#define STALE 3000

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

static mon_model_t *model(void)
{
        mon_opts_t o = {.instance = "mon-1", .stale_ms = STALE, .window = 3};
        mon_model_t *m = mon_model_new(&o);
        assert_non_null(m);
        return m;
}

static void beat(mon_model_t *m, const char *svc, const char *inst, const char *state, int64_t ts,
                 int64_t in, int64_t lag)
{
        mon_heartbeat_t hb = {.service = svc,
                              .instance = inst,
                              .segment = "PROCESSING",
                              .state = state,
                              .ts_ms = ts,
                              .started_ms = T0 - 100000,
                              .records_in = in,
                              .lag = lag,
                              .last_batch = "B-1"};
        assert_int_equal(mon_model_heartbeat(m, &hb), 0);
}

static json_t *status(mon_model_t *m, int64_t now)
{
        char *s = mon_model_status_json(m, now);
        json_error_t err;
        json_t *j;

        assert_non_null(s);
        j = json_loads(s, 0, &err);
        free(s);
        assert_non_null(j);
        return j;
}

static json_t *find(json_t *arr, const char *key, const char *val)
{
        size_t i;
        json_t *it;

        json_array_foreach(
            arr, i, it) if (!strcmp(json_string_value(json_object_get(it, key)), val)) return it;
        fail_msg("no element with %s=%s", key, val);
        return NULL;
}

static const char *svc_health(json_t *st, const char *inst)
{
        return json_string_value(
            json_object_get(find(json_object_get(st, "services"), "instance", inst), "health"));
}

static void test_freshness(void **state)
{
        mon_model_t *m = model();
        json_t *st;

        beat(m, "anonymizer", "anon-1", "RUNNING", T0, 10, -1);
        beat(m, "extractor", "ext-1", "RUNNING", T0, 10, -1);
        beat(m, "relay-bridge", "relay-1", "STOPPED", T0, 10, -1);
        /* Within the stale window everything but the stopped one is fine. */
        assert_int_equal(mon_model_evaluate(m, T0 + STALE, NULL, 0, NULL), MON_HEALTH_ERROR);
        st = status(m, T0 + STALE);
        assert_string_equal(svc_health(st, "anon-1"), "RUNNING");
        assert_string_equal(svc_health(st, "relay-1"), "STOPPED");
        json_decref(st);
        /* One millisecond later the silent ones are stale; newer beats win. */
        beat(m, "anonymizer", "anon-1", "RUNNING", T0 + 2000, 11, -1);
        beat(m, "anonymizer", "anon-1", "RUNNING", T0 + 1000, 9, -1); /* late, ignored */
        mon_model_evaluate(m, T0 + STALE + 1, NULL, 0, NULL);
        st = status(m, T0 + STALE + 1);
        assert_string_equal(svc_health(st, "anon-1"), "RUNNING");
        assert_string_equal(svc_health(st, "ext-1"), "STALE");
        assert_int_equal(
            json_integer_value(json_object_get(
                find(json_object_get(st, "services"), "instance", "anon-1"), "records_in")),
            11);
        assert_false(json_is_true(
            json_object_get(find(json_object_get(st, "services"), "instance", "ext-1"), "fresh")));
        json_decref(st);
        mon_model_destroy(m);
}

/* Issue 15.6: records removed before they were read are an alarm, from a
 * service's heartbeat (counter records_lost) or from a watched group whose
 * committed offset fell below the low watermark. */
static void test_data_lost_is_an_alarm(void **state)
{
        mon_model_t *m = model();
        mon_heartbeat_t hb = {.service = "anonymizer",
                              .instance = "anon-1",
                              .state = "DEGRADED",
                              .ts_ms = T0,
                              .lag = -1,
                              .records_lost = 14};
        int64_t committed = 5, low = 19, hwm = 40;
        json_t *st;

        assert_int_equal(mon_model_heartbeat(m, &hb), 0);
        assert_int_equal(mon_model_evaluate(m, T0, NULL, 0, NULL), MON_HEALTH_ERROR);
        st = status(m, T0);
        assert_string_equal(svc_health(st, "anon-1"), "DATA_LOST");
        json_decref(st);
        mon_model_destroy(m);

        m = model();
        assert_int_equal(mon_model_watch(m, "anonymizer", "resident.raw.v1", NULL), 0);
        beat(m, "anonymizer", "anon-1", "RUNNING", T0, 10, 0);
        mon_model_lag_sample(m, 0, 1, &committed, &low, &hwm, T0);
        assert_int_equal(mon_model_evaluate(m, T0, NULL, 0, NULL), MON_HEALTH_ERROR);
        st = status(m, T0);
        assert_string_equal(json_string_value(json_object_get(
                                json_array_get(json_object_get(st, "consumers"), 0), "status")),
                            "DATA_LOST");
        json_decref(st);
        mon_model_destroy(m);
}

static void sample(mon_model_t *m, size_t i, int64_t c, int64_t h, int64_t now)
{
        int64_t low = 0;
        mon_model_lag_sample(m, i, 1, &c, &low, &h, now);
}

/* A watched group whose offset stands still is STALL while its service
 * heartbeats and STOP once the heartbeat goes stale. */
static void test_group_stall_then_stop(void **state)
{
        mon_model_t *m = model();
        mon_transition_t tr[8];
        size_t n, i;
        json_t *st;

        assert_int_equal(mon_model_watch(m, "anonymizer", "resident.raw.v1", NULL), 0);
        assert_int_equal(mon_model_watch_count(m), 1);
        beat(m, "anonymizer", "anon-1", "RUNNING", T0, 0, -1);
        for (i = 0; i < 3; i++)
                sample(m, 0, 5, 10 + (int64_t)i, T0 + (int64_t)i * 500);
        mon_model_evaluate(m, T0 + 1000, tr, 8, &n);
        st = status(m, T0 + 1000);
        assert_string_equal(
            json_string_value(json_object_get(
                find(json_object_get(st, "consumers"), "group", "anonymizer"), "status")),
            "STALL");
        assert_int_equal(json_integer_value(json_object_get(
                             find(json_object_get(st, "consumers"), "group", "anonymizer"), "lag")),
                         7);
        json_decref(st);
        assert_int_equal(n, 2); /* consumer UNKNOWN→STALL, overall →ERROR */
        assert_string_equal(tr[0].kind, "consumer");
        assert_string_equal(tr[0].subject, "anonymizer/resident.raw.v1");
        assert_string_equal(tr[0].to, "STALL");
        assert_string_equal(tr[1].kind, "overall");
        assert_string_equal(tr[1].to, "ERROR");

        sample(m, 0, 5, 14, T0 + STALE + 1);
        mon_model_evaluate(m, T0 + STALE + 1, tr, 8, &n);
        assert_int_equal(n, 2); /* service RUNNING→STALE, consumer STALL→STOP */
        assert_string_equal(tr[0].subject, "anonymizer/anon-1");
        assert_string_equal(tr[0].to, "STALE");
        assert_string_equal(tr[1].from, "STALL");
        assert_string_equal(tr[1].to, "STOP");
        /* Nothing changed: no transitions. */
        mon_model_evaluate(m, T0 + STALE + 2, tr, 8, &n);
        assert_int_equal(n, 0);
        mon_model_destroy(m);
}

/* Without offsets, the heartbeat's lag plus records_in still gives a
 * judgement; a restart (new started_ms) clears the window. */
static void test_heartbeat_lag(void **state)
{
        mon_model_t *m = model();
        json_t *st, *s;

        beat(m, "segmenter", "seg-1", "RUNNING", T0, 100, 50);
        beat(m, "segmenter", "seg-1", "RUNNING", T0 + 500, 100, 60);
        beat(m, "segmenter", "seg-1", "RUNNING", T0 + 1000, 100, 70);
        mon_model_evaluate(m, T0 + 1000, NULL, 0, NULL);
        st = status(m, T0 + 1000);
        s = find(json_object_get(st, "services"), "instance", "seg-1");
        assert_string_equal(json_string_value(json_object_get(s, "lag_status")), "STALL");
        assert_int_equal(json_integer_value(json_object_get(s, "lag")), 70);
        json_decref(st);
        mon_model_destroy(m);
}

static void test_probe_states(void **state)
{
        mon_model_t *m = model();
        mon_probe_result_t r = {.state = MON_PROBE_OK, .sent_ms = T0, .rtt_ms = 12};
        mon_transition_t tr[8];
        size_t n;
        json_t *st, *p;

        assert_int_equal(mon_model_evaluate(m, T0, NULL, 0, NULL), MON_HEALTH_UNKNOWN);
        r.has_snapshot = 1;
        snprintf(r.snapshot_batch, sizeof(r.snapshot_batch), "B-20260401");
        r.snapshot_extract_ms = T0 - 60000;
        r.n_channels = 1;
        snprintf(r.channels[0].channel, sizeof(r.channels[0].channel), "line");
        r.channels[0].failed_temp = 3;
        r.channels[0].failed_perm = 1;
        mon_model_probe(m, &r);
        assert_int_equal(mon_model_evaluate(m, T0, tr, 8, &n), MON_HEALTH_OK);
        assert_int_equal(n, 0);

        mon_probe_result_t bad = {.state = MON_PROBE_FAILED, .sent_ms = T0 + 1000};
        snprintf(bad.detail, sizeof(bad.detail), "connection refused");
        mon_model_probe(m, &bad);
        assert_int_equal(mon_model_evaluate(m, T0 + 1000, tr, 8, &n), MON_HEALTH_ERROR);
        assert_int_equal(n, 2);
        assert_string_equal(tr[0].kind, "probe");
        assert_string_equal(tr[0].from, "OK");
        assert_string_equal(tr[0].to, "FAILED");
        st = status(m, T0 + 1000);
        p = json_object_get(st, "probe");
        assert_string_equal(json_string_value(json_object_get(p, "state")), "FAILED");
        assert_string_equal(json_string_value(json_object_get(p, "detail")), "connection refused");
        assert_int_equal(json_integer_value(json_object_get(p, "last_ok_ms")), T0);
        assert_int_equal(json_integer_value(json_object_get(p, "failures")), 1);
        /* The last good cloud figures stay visible. */
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(p, "snapshot"), "batch_id")),
            "B-20260401");
        assert_true(json_real_value(json_object_get(json_object_get(p, "snapshot"), "age_s")) >
                    60.0);
        json_decref(st);
        mon_model_destroy(m);
}

/* Every line is a comment (# HELP / # TYPE) or a sample
 * name{label="value",...} number, names and labels from the allowed sets. */
static void check_prometheus(const char *text)
{
        static const char *const allowed[] = {"service", "instance", "segment", "group", "topic",
                                              "status",  "state",    "channel", "kind"};
        regex_t line, lab;
        regmatch_t mt[3];
        char *copy = strdup(text), *save = NULL, *l;
        size_t samples = 0;

        assert_int_equal(regcomp(&line,
                                 "^oshirase_[a-z_]+(\\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*\\})? "
                                 "-?[0-9]+(\\.[0-9]+)?(e[-+]?[0-9]+)?$",
                                 REG_EXTENDED),
                         0);
        assert_int_equal(regcomp(&lab, "([a-z_]+)=\"", REG_EXTENDED), 0);
        for (l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                if (!strncmp(l, "# HELP oshirase_", 16) || !strncmp(l, "# TYPE oshirase_", 16))
                        continue;
                if (regexec(&line, l, 0, NULL, 0))
                        fail_msg("not a Prometheus sample: [%s]", l);
                samples++;
                for (const char *p = l; !regexec(&lab, p, 2, mt, 0); p += mt[0].rm_eo) {
                        size_t k, ok = 0, len = (size_t)(mt[1].rm_eo - mt[1].rm_so);
                        for (k = 0; k < sizeof(allowed) / sizeof(allowed[0]); k++)
                                ok |= strlen(allowed[k]) == len &&
                                      !strncmp(allowed[k], p + mt[1].rm_so, len);
                        if (!ok)
                                fail_msg("label not allowed in [%s]", l);
                }
                if (strstr(l, "_total") && strstr(l, "_total") != strpbrk(l, "{ ") - 6)
                        fail_msg("_total must end the name: [%s]", l);
        }
        assert_true(samples > 10);
        regfree(&line);
        regfree(&lab);
        free(copy);
}

static void test_metrics(void **state)
{
        mon_model_t *m = model();
        mon_probe_result_t r = {
            .state = MON_PROBE_OK, .sent_ms = T0, .rtt_ms = 12, .n_channels = 1};
        char *text;

        snprintf(r.channels[0].channel, sizeof(r.channels[0].channel), "line");
        r.channels[0].failed_perm = 4;
        mon_model_probe(m, &r);
        beat(m, "anonymizer", "anon \"quoted\"\\1", "RUNNING", T0, 42, 3);
        mon_model_watch(m, "anonymizer", "resident.raw.v1", NULL);
        sample(m, 0, 5, 9, T0);
        mon_model_evaluate(m, T0 + 500, NULL, 0, NULL);
        text = mon_model_metrics(m, T0 + 500);
        assert_non_null(text);
        check_prometheus(text);
        assert_non_null(strstr(text, "oshirase_service_records_in_total{service=\"anonymizer\","
                                     "instance=\"anon \\\"quoted\\\"\\\\1\",segment=\"processing\"}"
                                     " 42\n"));
        assert_non_null(strstr(text, "oshirase_service_heartbeat_age_seconds{"));
        assert_non_null(strstr(text, "oshirase_consumer_lag_messages{group=\"anonymizer\","
                                     "topic=\"resident.raw.v1\"} 4\n"));
        assert_non_null(strstr(text,
                               "oshirase_consumer_status{group=\"anonymizer\",topic=\"resident"
                               ".raw.v1\",status=\"UNKNOWN\"} 1\n"));
        assert_non_null(
            strstr(text, "oshirase_send_failures_total{channel=\"line\",kind=\"perm\"} 4"));
        assert_non_null(strstr(text, "oshirase_probe_up 1\n"));
        assert_non_null(strstr(text, "# TYPE oshirase_probes_total counter\n"));
        free(text);
        mon_model_destroy(m);
}

static void test_health_record(void **state)
{
        const osh_schema_t *sc = osh_schema_for_topic("ops.health.v1");
        mon_model_t *m = model();
        avro_value_t v, back, arr, item;
        char errstr[256];
        void *buf = NULL;
        size_t len = 0, n = 0;
        const char *s;

        assert_non_null(sc);
        beat(m, "anonymizer", "anon-1", "RUNNING", T0, 0, 5);
        beat(m, "extractor", "ext-1", "RUNNING", T0 - 10000, 0, -1);
        mon_model_watch(m, "relay-up", "resident.abstracted.v1", "relay-bridge");
        sample(m, 0, 0, 0, T0);
        mon_model_evaluate(m, T0, NULL, 0, NULL);
        assert_int_equal(osh_value_new(sc, &v), 0);
        assert_int_equal(mon_model_health_value(m, T0, &v), 0);
        assert_int_equal(osh_serde_encode_alloc(sc, &v, &buf, &len, errstr, sizeof(errstr)), 0);
        assert_int_equal(osh_serde_decode(sc, buf, len, &back, NULL, errstr, sizeof(errstr)), 0);
        assert_int_equal(osh_value_get_enum(&back, "overall", &s), 0);
        assert_string_equal(s, "ERROR"); /* the extractor is stale */
        assert_int_equal(osh_value_field(&back, "services", &arr), 0);
        assert_int_equal(avro_value_get_size(&arr, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(avro_value_get_by_index(&arr, 1, &item, NULL), 0);
        assert_int_equal(osh_value_get_string(&item, "state", &s, NULL), 0);
        assert_string_equal(s, "STALE");
        assert_int_equal(osh_value_field(&back, "consumers", &arr), 0);
        assert_int_equal(avro_value_get_size(&arr, &n), 0);
        assert_int_equal(n, 2); /* the watched group + anonymizer's heartbeat lag */
        assert_int_equal(avro_value_get_by_index(&arr, 0, &item, NULL), 0);
        assert_int_equal(osh_value_get_enum(&item, "status", &s), 0);
        assert_string_equal(s, "OK");
        free(buf);
        avro_value_decref(&v);
        avro_value_decref(&back);
        mon_model_destroy(m);
}

static void test_rejects_bad_input(void **state)
{
        mon_model_t *m = model();
        mon_heartbeat_t hb = {.service = "", .instance = "x"};

        assert_int_equal(mon_model_heartbeat(m, &hb), -1);
        assert_int_equal(mon_model_watch(m, "g", "", NULL), -1);
        mon_model_destroy(m);
        mon_model_destroy(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_freshness),
            cmocka_unit_test(test_data_lost_is_an_alarm),
            cmocka_unit_test(test_group_stall_then_stop),
            cmocka_unit_test(test_heartbeat_lag),
            cmocka_unit_test(test_probe_states),
            cmocka_unit_test(test_metrics),
            cmocka_unit_test(test_health_record),
            cmocka_unit_test(test_rejects_bad_input),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
