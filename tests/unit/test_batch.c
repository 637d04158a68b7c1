#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/batch.h"
#include "oshirase/serde.h"

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

static void add(osh_batch_tracker_t *t, osh_batch_sum_t *s, const char *batch, int i, int expect)
{
        char key[16], val[16];

        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d", i);
        if (s)
                osh_batch_sum_add(s, key, strlen(key), val, strlen(val));
        assert_int_equal(osh_batch_tracker_add(t, batch, key, strlen(key), val, strlen(val)),
                         expect);
}

static osh_batch_marker_t end_marker(const char *id, const osh_batch_sum_t *s)
{
        osh_batch_marker_t m;

        memset(&m, 0, sizeof(m));
        snprintf(m.batch_id, sizeof(m.batch_id), "%s", id);
        m.is_end = 1;
        m.record_count = s->count;
        osh_batch_sum_hex(s, m.checksum);
        return m;
}

static void test_checksum_is_order_independent(void **state)
{
        osh_batch_sum_t a = {0}, b = {0};
        char ha[17], hb[17];

        osh_batch_sum_add(&a, "k1", 2, "v1", 2);
        osh_batch_sum_add(&a, "k2", 2, "v2", 2);
        osh_batch_sum_add(&b, "k2", 2, "v2", 2);
        osh_batch_sum_add(&b, "k1", 2, "v1", 2);
        osh_batch_sum_hex(&a, ha);
        osh_batch_sum_hex(&b, hb);
        assert_string_equal(ha, hb);
        osh_batch_sum_add(&b, "k1", 2, "v1x", 3);
        osh_batch_sum_hex(&b, hb);
        assert_string_not_equal(ha, hb);
        /* key/value boundary matters: ("k1v","1") != ("k1","v1") */
        osh_batch_sum_t c = {0}, d = {0};
        osh_batch_sum_add(&c, "k1v", 3, "1", 1);
        osh_batch_sum_add(&d, "k1", 2, "v1", 2);
        assert_true(c.sum != d.sum);
}

static void test_tracker_completes_only_when_all_arrived(void **state)
{
        osh_batch_tracker_t *t = osh_batch_tracker_new();
        osh_batch_sum_t s = {0};

        for (int i = 0; i < 2000; i++) {
                char key[16], val[16];
                snprintf(key, sizeof(key), "k%d", i);
                snprintf(val, sizeof(val), "v%d", i);
                osh_batch_sum_add(&s, key, strlen(key), val, strlen(val));
        }
        /* END arrives first (another partition), then the data. */
        osh_batch_marker_t m = end_marker("B1", &s);
        assert_int_equal(osh_batch_tracker_marker(t, &m), 0);
        for (int i = 0; i < 1999; i++)
                add(t, NULL, "B1", i, 1);
        assert_int_equal(osh_batch_tracker_state(t, "B1"), OSH_BATCH_OPEN);
        add(t, NULL, "B1", 5, 0); /* redelivery does not count */
        assert_int_equal(osh_batch_tracker_count(t, "B1"), 1999);
        add(t, NULL, "B1", 1999, 1);
        assert_int_equal(osh_batch_tracker_state(t, "B1"), OSH_BATCH_COMPLETE);
        assert_non_null(osh_batch_tracker_end(t, "B1"));
        osh_batch_tracker_forget(t, "B1");
        assert_int_equal(osh_batch_tracker_count(t, "B1"), 0);
        assert_null(osh_batch_tracker_end(t, "B1"));
        osh_batch_tracker_destroy(t);
}

static void test_tracker_detects_mismatch(void **state)
{
        osh_batch_tracker_t *t = osh_batch_tracker_new();
        osh_batch_sum_t s = {0};

        add(t, &s, "B2", 1, 1);
        add(t, &s, "B2", 2, 1);
        osh_batch_marker_t m = end_marker("B2", &s);
        m.checksum[0] = m.checksum[0] == '0' ? '1' : '0';
        osh_batch_tracker_marker(t, &m);
        assert_int_equal(osh_batch_tracker_state(t, "B2"), OSH_BATCH_MISMATCH);
        m = end_marker("B2", &s);
        m.record_count = 1;
        osh_batch_tracker_marker(t, &m);
        assert_int_equal(osh_batch_tracker_state(t, "B2"), OSH_BATCH_MISMATCH);
        assert_int_equal(osh_batch_tracker_state(t, "unknown"), OSH_BATCH_OPEN);
        osh_batch_tracker_destroy(t);
}

static void test_marker_round_trip(void **state)
{
        osh_batch_marker_t m, out;
        const osh_schema_t *s = osh_schema_get("jp.oshirase.BatchControl");
        char errstr[256];
        avro_value_t v;
        void *buf;
        size_t len;

        assert_non_null(s);
        memset(&m, 0, sizeof(m));
        snprintf(m.batch_id, sizeof(m.batch_id), "20261123-abcdef");
        snprintf(m.topic, sizeof(m.topic), "resident.raw.v1");
        snprintf(m.checksum, sizeof(m.checksum), "0123456789abcdef");
        m.is_end = 1;
        m.record_count = 42;
        m.reference_date = 20415;
        m.extract_time_ms = 1795000000000;
        m.full_snapshot = 1;
        /* Encode the way osh_batch_marker_send does, without a broker. */
        assert_int_equal(osh_value_new(s, &v), 0);
        assert_int_equal(osh_value_set_string(&v, "batch_id", m.batch_id), 0);
        assert_int_equal(osh_value_set_enum(&v, "kind", "END"), 0);
        assert_int_equal(osh_value_set_string(&v, "topic", m.topic), 0);
        assert_int_equal(osh_value_set_long(&v, "record_count", 42), 0);
        assert_int_equal(osh_value_set_string(&v, "checksum", m.checksum), 0);
        assert_int_equal(osh_value_set_int(&v, "reference_date", 20415), 0);
        assert_int_equal(osh_value_set_long(&v, "extract_time", m.extract_time_ms), 0);
        assert_int_equal(osh_serde_encode_alloc(s, &v, &buf, &len, errstr, sizeof(errstr)), 0);
        assert_int_equal(osh_batch_marker_decode(buf, len, &out, errstr, sizeof(errstr)), 0);
        assert_string_equal(out.batch_id, m.batch_id);
        assert_string_equal(out.checksum, m.checksum);
        assert_int_equal(out.is_end, 1);
        assert_int_equal(out.record_count, 42);
        assert_int_equal(out.reference_date, 20415);
        assert_int_equal(osh_batch_marker_decode(buf, len - 1, &out, errstr, sizeof(errstr)), -1);
        free(buf);
        avro_value_decref(&v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_checksum_is_order_independent),
            cmocka_unit_test(test_tracker_completes_only_when_all_arrived),
            cmocka_unit_test(test_tracker_detects_mismatch),
            cmocka_unit_test(test_marker_round_trip),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
