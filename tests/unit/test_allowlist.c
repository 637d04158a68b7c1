/* Allow-list of (topic, schema fingerprint) and the segment rule: parsing,
 * matching real single-object records, and refusing personal data beyond
 * the processing segment. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/allowlist.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

static char err[512];

static int setup(void **state)
{
        (void)state;
        return osh_serde_init(err, sizeof(err));
}

static int teardown(void **state)
{
        (void)state;
        osh_serde_shutdown();
        return 0;
}

/* A default-valued record of the topic's current schema, encoded. */
static void *encode_default(const char *topic, size_t *len)
{
        const osh_schema_t *s = osh_schema_for_topic(topic);
        avro_value_t v;
        void *buf = NULL;

        assert_non_null(s);
        assert_int_equal(osh_value_new(s, &v), 0);
        assert_int_equal(osh_serde_encode_alloc(s, &v, &buf, len, err, sizeof(err)), 0);
        avro_value_decref(&v);
        return buf;
}

static void test_segment_names(void **state)
{
        osh_segment_t s;

        (void)state;
        assert_int_equal(osh_segment_parse("exchange", &s), 0);
        assert_int_equal(s, OSH_SEG_EXCHANGE);
        assert_string_equal(osh_segment_name(OSH_SEG_CORE), "core");
        assert_int_equal(osh_segment_parse("Exchange", &s), -1);
        assert_int_equal(osh_segment_parse(NULL, &s), -1);
}

static void test_parse_forms(void **state)
{
        const osh_schema_t *bc = osh_schema_for_topic(OSH_TOPIC_BATCH);
        char spec[256];
        osh_allowlist_t *al;

        (void)state;
        snprintf(spec, sizeof(spec), " %s@%016" PRIx64 " , %s@%s,ops.status.v1,", OSH_TOPIC_BATCH,
                 bc->fingerprint, OSH_TOPIC_ABSTRACTED,
                 osh_schema_for_topic(OSH_TOPIC_ABSTRACTED)->name);
        al = osh_allowlist_parse(spec, err, sizeof(err));
        assert_non_null(al);
        assert_int_equal(osh_allowlist_topic_count(al), 3);
        assert_string_equal(osh_allowlist_topic(al, 0), OSH_TOPIC_BATCH);
        assert_string_equal(osh_allowlist_topic(al, 2), OSH_TOPIC_OPS);
        assert_null(osh_allowlist_topic(al, 3));
        assert_true(osh_allowlist_has_topic(al, OSH_TOPIC_ABSTRACTED));
        assert_false(osh_allowlist_has_topic(al, OSH_TOPIC_RAW));
        osh_allowlist_destroy(al);
}

static void test_parse_errors(void **state)
{
        static const char *const bad[] = {
            "",
            " , ",
            "bad topic!@jp.oshirase.BatchControl",
            "batch.control.v1@no.such.Schema",
            "no.schema.topic",
            "batch.control.v1@0123",
            "batch.control.v1@zzzzzzzzzzzzzzzz",
        };

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                assert_null(osh_allowlist_parse(bad[i], err, sizeof(err)));
                assert_true(strlen(err) > 0);
        }
        assert_null(osh_allowlist_parse(NULL, err, sizeof(err)));
        osh_allowlist_destroy(NULL);
}

static void test_check_records(void **state)
{
        osh_allowlist_t *al = osh_allowlist_parse("batch.control.v1", err, sizeof(err));
        size_t bl, ol;
        unsigned char *b = encode_default(OSH_TOPIC_BATCH, &bl);
        unsigned char *o = encode_default(OSH_TOPIC_OPS, &ol);

        (void)state;
        assert_non_null(al);
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_BATCH, b, bl, 1), OSH_ALLOW_OK);
        /* Unknown topic, even with a good value. */
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_OPS, o, ol, 1), OSH_ALLOW_TOPIC);
        /* Another schema's record on an allowed topic. */
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_BATCH, o, ol, 1), OSH_ALLOW_FINGERPRINT);
        /* Not Avro at all, tombstones, short values. */
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_BATCH, "{\"json\":1}", 10, 1),
                         OSH_ALLOW_NOT_AVRO);
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_BATCH, NULL, 0, 1), OSH_ALLOW_NOT_AVRO);
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_BATCH, b, 5, 1), OSH_ALLOW_NOT_AVRO);
        /* A valid header with a truncated datum: caught only when validating. */
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_BATCH, b, bl - 1, 1),
                         OSH_ALLOW_MALFORMED);
        assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_BATCH, b, bl - 1, 0), OSH_ALLOW_OK);
        assert_string_equal(osh_allow_verdict_name(OSH_ALLOW_FINGERPRINT), "fingerprint");
        free(b);
        free(o);
        osh_allowlist_destroy(al);
}

static void test_name_covers_old_revisions(void **state)
{
        const osh_schema_t *cur = osh_schema_for_topic(OSH_TOPIC_ABSTRACTED);
        osh_allowlist_t *al = osh_allowlist_parse(OSH_TOPIC_ABSTRACTED, err, sizeof(err));
        unsigned char hdr[16] = {OSH_SERDE_MAGIC0, OSH_SERDE_MAGIC1};
        int old_seen = 0;

        (void)state;
        assert_non_null(al);
        for (size_t i = 0; i < osh_schema_count(); i++) {
                const osh_schema_t *s = osh_schema_at(i);
                if (strcmp(s->name, cur->name) != 0)
                        continue;
                for (int k = 0; k < 8; k++)
                        hdr[2 + k] = (unsigned char)(s->fingerprint >> (8 * k));
                old_seen += !s->current;
                assert_int_equal(osh_allowlist_check(al, OSH_TOPIC_ABSTRACTED, hdr, 10, 0),
                                 OSH_ALLOW_OK);
        }
        assert_true(old_seen >= 1); /* schemas/compat has an r0 revision */
        osh_allowlist_destroy(al);
}

static void expect_segments(const char *spec, osh_segment_t from, osh_segment_t to, int want)
{
        osh_allowlist_t *al = osh_allowlist_parse(spec, err, sizeof(err));

        assert_non_null(al);
        err[0] = '\0';
        assert_int_equal(osh_allowlist_check_segments(al, from, to, err, sizeof(err)), want);
        if (want)
                assert_true(strlen(err) > 0);
        osh_allowlist_destroy(al);
}

static void test_segment_rule(void **state)
{
        char spec[256];

        (void)state;
        /* Raw and rejects may go core -> processing only. */
        expect_segments("resident.raw.v1,resident.rejects.v1", OSH_SEG_CORE, OSH_SEG_PROCESSING, 0);
        expect_segments("resident.raw.v1", OSH_SEG_PROCESSING, OSH_SEG_EXCHANGE, -1);
        expect_segments("batch.control.v1,resident.rejects.v1", OSH_SEG_PROCESSING,
                        OSH_SEG_EXCHANGE, -1);
        expect_segments("resident.raw.v1", OSH_SEG_EXCHANGE, OSH_SEG_CLOUD, -1);
        /* The raw schema smuggled under another topic name. */
        snprintf(spec, sizeof(spec), "%s@%s", OSH_TOPIC_ABSTRACTED,
                 osh_schema_for_topic(OSH_TOPIC_RAW)->name);
        expect_segments(spec, OSH_SEG_PROCESSING, OSH_SEG_EXCHANGE, -1);
        snprintf(spec, sizeof(spec), "%s@%016" PRIx64, OSH_TOPIC_BATCH,
                 osh_schema_for_topic(OSH_TOPIC_RAW)->fingerprint);
        expect_segments(spec, OSH_SEG_EXCHANGE, OSH_SEG_CLOUD, -1);
        /* Abstracted data may go all the way. */
        expect_segments("resident.abstracted.v1,batch.control.v1", OSH_SEG_PROCESSING,
                        OSH_SEG_EXCHANGE, 0);
        expect_segments("resident.abstracted.v1", OSH_SEG_EXCHANGE, OSH_SEG_CLOUD, 0);
        /* Only adjacent, downstream crossings exist. */
        expect_segments("batch.control.v1", OSH_SEG_CORE, OSH_SEG_EXCHANGE, -1);
        expect_segments("batch.control.v1", OSH_SEG_EXCHANGE, OSH_SEG_PROCESSING, -1);
        expect_segments("batch.control.v1", OSH_SEG_CLOUD, OSH_SEG_CLOUD, -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_segment_names),
            cmocka_unit_test(test_parse_forms),
            cmocka_unit_test(test_parse_errors),
            cmocka_unit_test(test_check_records),
            cmocka_unit_test(test_name_covers_old_revisions),
            cmocka_unit_test(test_segment_rule),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
