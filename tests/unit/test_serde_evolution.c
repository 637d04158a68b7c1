/* Records written with an older schema revision decode into the current
 * reader schema with the reader's declared defaults filled in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/serde.h"

static int setup(void **state)
{
        char err[256];

        return osh_serde_init(err, sizeof(err)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
        osh_serde_shutdown();
        return 0;
}

static const osh_schema_t *older(const char *name)
{
        for (size_t i = 0; i < osh_schema_count(); i++) {
                const osh_schema_t *s = osh_schema_at(i);
                if (!s->current && !strcmp(s->name, name))
                        return s;
        }
        return NULL;
}

static void test_compat_ops_status(void **state)
{
        const osh_schema_t *r0 = older("jp.oshirase.OpsStatus");
        const osh_schema_t *cur = osh_schema_get("jp.oshirase.OpsStatus");
        const osh_schema_t *w = NULL;
        avro_value_t v, back, counters;
        void *buf;
        size_t len, n = 0;
        char err[256];
        const char *str;
        int64_t l;

        assert_non_null(r0);
        assert_non_null(cur);
        assert_null(r0->topic);
        assert_true(r0->fingerprint != cur->fingerprint);
        assert_int_equal(osh_value_new(r0, &v), 0);
        assert_int_equal(osh_value_set_string(&v, "service", "extractor"), 0);
        assert_int_equal(osh_value_set_string(&v, "instance", "core-1"), 0);
        assert_int_equal(osh_value_set_enum(&v, "state", "DEGRADED"), 0);
        assert_int_equal(osh_value_set_int(&v, "records_in", 1234), 0); /* int in r0 */
        assert_int_equal(osh_value_set_long(&v, "timestamp", 1700000000123LL), 0);
        assert_int_equal(osh_serde_encode_alloc(r0, &v, &buf, &len, err, sizeof(err)), 0);
        avro_value_decref(&v);

        if (osh_serde_decode(cur, buf, len, &back, &w, err, sizeof(err)) != 0)
                fail_msg("%s", err);
        assert_ptr_equal(w, r0);
        assert_ptr_equal(avro_value_get_schema(&back), cur->avro);
        /* Carried over (int promoted to long). */
        assert_int_equal(osh_value_get_long(&back, "records_in", &l), 0);
        assert_int_equal(l, 1234);
        assert_int_equal(osh_value_get_enum(&back, "state", &str), 0);
        assert_string_equal(str, "DEGRADED");
        assert_int_equal(osh_value_get_string(&back, "service", &str, NULL), 0);
        assert_string_equal(str, "extractor");
        assert_int_equal(osh_value_get_long(&back, "timestamp", &l), 0);
        assert_true(l == 1700000000123LL);
        /* Missing in r0: declared defaults. */
        assert_int_equal(osh_value_get_enum(&back, "segment", &str), 0);
        assert_string_equal(str, "UNKNOWN");
        assert_int_equal(osh_value_is_null(&back, "lag"), 1);
        assert_int_equal(osh_value_is_null(&back, "last_batch_id"), 1);
        assert_int_equal(osh_value_get_string(&back, "version", &str, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(osh_value_field(&back, "counters", &counters), 0);
        assert_int_equal(avro_value_get_size(&counters, &n), 0);
        assert_int_equal(n, 0);
        avro_value_decref(&back);

        /* reader NULL: the current version of the writer's record. */
        assert_int_equal(osh_serde_decode(NULL, buf, len, &back, NULL, err, sizeof(err)), 0);
        assert_ptr_equal(avro_value_get_schema(&back), cur->avro);
        assert_int_equal(osh_value_get_int(&back, "records_in", &(int32_t){0}), -1); /* now long */
        avro_value_decref(&back);
        free(buf);
}

static void test_compat_abstracted(void **state)
{
        const osh_schema_t *r0 = older("jp.oshirase.ResidentAbstracted");
        const osh_schema_t *cur = osh_schema_get("jp.oshirase.ResidentAbstracted");
        avro_value_t v, back;
        void *buf;
        size_t len;
        char err[256];
        int32_t layout = 0;

        assert_non_null(r0);
        assert_int_equal(osh_value_new(r0, &v), 0);
        assert_int_equal(osh_value_set_string(&v, "user_id", "U9"), 0);
        if (osh_serde_encode_alloc(r0, &v, &buf, &len, err, sizeof(err)) != 0)
                fail_msg("%s", err);
        avro_value_decref(&v);
        if (osh_serde_decode(cur, buf, len, &back, NULL, err, sizeof(err)) != 0)
                fail_msg("%s", err);
        assert_int_equal(osh_value_get_int(&back, "layout_version", &layout), 0);
        assert_int_equal(layout, 1);
        avro_value_decref(&back);
        free(buf);
}

/* Every older writer of resident.abstracted.v1 and privacy.report.v1 (before
 * generalised values and risk figures) still decodes: no ranges, no unknown
 * flags, no risk figures. */
static void test_compat_generalised(void **state)
{
        const char *names[] = {"jp.oshirase.ResidentAbstracted", "jp.oshirase.PrivacyReport"};
        int olds = 0;

        for (size_t n = 0; n < 2; n++) {
                const osh_schema_t *cur = osh_schema_get(names[n]);
                for (size_t i = 0; i < osh_schema_count(); i++) {
                        const osh_schema_t *w = osh_schema_at(i);
                        avro_value_t v, back, arr;
                        void *buf;
                        size_t len, cnt = 9;
                        char err[256];
                        if (w->current || strcmp(w->name, names[n]))
                                continue;
                        olds++;
                        assert_int_equal(osh_value_new(w, &v), 0);
                        if (osh_serde_encode_alloc(w, &v, &buf, &len, err, sizeof(err)) != 0)
                                fail_msg("%s", err);
                        avro_value_decref(&v);
                        if (osh_serde_decode(cur, buf, len, &back, NULL, err, sizeof(err)) != 0)
                                fail_msg("%s", err);
                        assert_int_equal(osh_value_field(&back, n ? "class_sizes" : "ranges", &arr),
                                         0);
                        assert_int_equal(avro_value_get_size(&arr, &cnt), 0);
                        assert_int_equal(cnt, 0);
                        avro_value_decref(&back);
                        free(buf);
                }
        }
        assert_int_equal(olds, 3); /* abstracted r0, r1; report r0 */
}

/* Reader with every kind of default; writer lacks those fields and has an
 * enum symbol the reader does not know. */
static const char reader_v2[] =
    "{\"type\":\"record\",\"name\":\"Evo\",\"namespace\":\"jp.test\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"ratio\",\"type\":\"double\"},"
    "{\"name\":\"colour\",\"type\":{\"type\":\"enum\",\"name\":\"Colour\","
    "\"symbols\":[\"RED\",\"GREEN\",\"OTHER\"],\"default\":\"OTHER\"}},"
    "{\"name\":\"tag\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"label\",\"type\":[\"string\",\"null\"],\"default\":\"none\"},"
    "{\"name\":\"blob\",\"type\":\"bytes\",\"default\":\"\\u00ff\\u0001A\"},"
    "{\"name\":\"mac\",\"type\":{\"type\":\"fixed\",\"name\":\"Mac\",\"size\":2},"
    "\"default\":\"\\u0001\\u00fe\"},"
    "{\"name\":\"scores\",\"type\":{\"type\":\"array\",\"items\":\"int\"},\"default\":[3,1,2]},"
    "{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":\"long\"},\"default\":{\"a\":7}},"
    "{\"name\":\"inner\",\"type\":{\"type\":\"record\",\"name\":\"Inner\",\"fields\":["
    "{\"name\":\"x\",\"type\":\"int\",\"default\":5},"
    "{\"name\":\"y\",\"type\":\"float\",\"default\":0.5}]},"
    "\"default\":{\"x\":9}},"
    "{\"name\":\"more\",\"type\":{\"type\":\"array\",\"items\":\"Inner\"},\"default\":[{}]}"
    "]}";
static const char writer_v1[] =
    "{\"type\":\"record\",\"name\":\"Evo\",\"namespace\":\"jp.test\",\"fields\":["
    "{\"name\":\"dropped\",\"type\":\"long\"},"
    "{\"name\":\"ratio\",\"type\":\"int\"},"
    "{\"name\":\"id\",\"type\":\"bytes\"},"
    "{\"name\":\"colour\",\"type\":{\"type\":\"enum\",\"name\":\"Colour\","
    "\"symbols\":[\"RED\",\"BLUE\"]}}"
    "]}";

static void test_registered_evolution(void **state)
{
        char err[256];
        const osh_schema_t *r = osh_serde_register(reader_v2, sizeof(reader_v2) - 1, "evo.v2.avsc",
                                                   1, err, sizeof(err));
        const osh_schema_t *w = osh_serde_register(writer_v1, sizeof(writer_v1) - 1, "evo.v1.avsc",
                                                   0, err, sizeof(err));
        avro_value_t v, back, f, item;
        void *buf;
        const void *p;
        size_t len, n = 0;
        const char *str;
        double d = 0;
        int32_t i32 = 0;
        int64_t i64 = 0;

        if (!r || !w)
                fail_msg("%s", err);
        assert_ptr_equal(osh_schema_get("jp.test.Evo"), r);
        assert_string_equal(r->topic, "evo.v2");
        /* Registering the same text twice is refused. */
        assert_null(osh_serde_register(writer_v1, sizeof(writer_v1) - 1, "x", 0, err, sizeof(err)));
        assert_non_null(strstr(err, "same fingerprint"));

        assert_int_equal(osh_value_new(w, &v), 0);
        assert_int_equal(osh_value_set_long(&v, "dropped", 99), 0);
        assert_int_equal(osh_value_set_int(&v, "ratio", 3), 0);
        assert_int_equal(osh_value_set_bytes(&v, "id", "abc", 3), 0);
        assert_int_equal(osh_value_set_enum(&v, "colour", "BLUE"), 0);
        assert_int_equal(osh_serde_encode_alloc(w, &v, &buf, &len, err, sizeof(err)), 0);
        avro_value_decref(&v);
        if (osh_serde_decode(r, buf, len, &back, NULL, err, sizeof(err)) != 0)
                fail_msg("%s", err);
        free(buf);

        assert_int_equal(osh_value_get_string(&back, "id", &str, &n), 0); /* bytes -> string */
        assert_string_equal(str, "abc");
        assert_int_equal(osh_value_get_double(&back, "ratio", &d), 0); /* int -> double */
        assert_true(d == 3.0);
        assert_int_equal(osh_value_get_enum(&back, "colour", &str), 0); /* unknown -> default */
        assert_string_equal(str, "OTHER");
        assert_int_equal(osh_value_is_null(&back, "tag"), 1);
        assert_int_equal(osh_value_get_string(&back, "label", &str, NULL), 0);
        assert_string_equal(str, "none");
        assert_int_equal(osh_value_get_bytes(&back, "blob", &p, &n), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(p,
                            "\xff\x01"
                            "A",
                            3);
        assert_int_equal(osh_value_field(&back, "mac", &f), 0);
        assert_int_equal(avro_value_get_fixed(&f, &p, &n), 0);
        assert_int_equal(n, 2);
        assert_memory_equal(p, "\x01\xfe", 2);
        assert_int_equal(osh_value_field(&back, "scores", &f), 0);
        assert_int_equal(avro_value_get_size(&f, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(avro_value_get_by_index(&f, 0, &item, NULL), 0);
        assert_int_equal(avro_value_get_int(&item, &i32), 0);
        assert_int_equal(i32, 3);
        assert_int_equal(osh_value_field(&back, "attrs", &f), 0);
        assert_int_equal(avro_value_get_by_name(&f, "a", &item, NULL), 0);
        assert_int_equal(avro_value_get_long(&item, &i64), 0);
        assert_int_equal(i64, 7);
        /* Record default given partially: missing members use their own. */
        assert_int_equal(osh_value_field(&back, "inner", &f), 0);
        assert_int_equal(osh_value_get_int(&f, "x", &i32), 0);
        assert_int_equal(i32, 9);
        assert_int_equal(osh_value_field(&back, "more", &f), 0);
        assert_int_equal(avro_value_get_by_index(&f, 0, &item, NULL), 0);
        assert_int_equal(osh_value_get_int(&item, "x", &i32), 0);
        assert_int_equal(i32, 5);
        assert_int_equal(osh_value_field(&item, "y", &f), 0);
        float fl = 0;
        assert_int_equal(avro_value_get_float(&f, &fl), 0);
        assert_true(fl == 0.5f);
        assert_int_equal(osh_value_field(&back, "dropped", &f), -1); /* writer-only: gone */
        avro_value_decref(&back);
}

static void test_missing_default_is_an_error(void **state)
{
        static const char rd[] =
            "{\"type\":\"record\",\"name\":\"NoDef\",\"fields\":["
            "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\",\"type\":\"int\"}]}";
        static const char wr[] = "{\"type\":\"record\",\"name\":\"NoDef\",\"fields\":["
                                 "{\"name\":\"a\",\"type\":\"int\"}]}";
        static const char other[] = "{\"type\":\"record\",\"name\":\"NoDef\",\"fields\":["
                                    "{\"name\":\"a\",\"type\":\"boolean\"},"
                                    "{\"name\":\"b\",\"type\":\"int\"}]}";
        char err[256];
        const osh_schema_t *r =
            osh_serde_register(rd, sizeof(rd) - 1, "nodef.v1.avsc", 1, err, sizeof(err));
        const osh_schema_t *w = osh_serde_register(wr, sizeof(wr) - 1, NULL, 0, err, sizeof(err));
        const osh_schema_t *o =
            osh_serde_register(other, sizeof(other) - 1, NULL, 0, err, sizeof(err));
        avro_value_t v, back;
        unsigned char buf[64];
        size_t len;

        assert_non_null(r);
        assert_non_null(w);
        assert_non_null(o);
        assert_int_equal(osh_value_new(w, &v), 0);
        assert_int_equal(osh_serde_encode(w, &v, buf, sizeof(buf), &len, err, sizeof(err)), 0);
        avro_value_decref(&v);
        assert_int_equal(osh_serde_decode(r, buf, len, &back, NULL, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "lacks field b"));
        /* Incompatible type (boolean -> int) is refused too. */
        assert_int_equal(osh_value_new(o, &v), 0);
        assert_int_equal(osh_serde_encode(o, &v, buf, sizeof(buf), &len, err, sizeof(err)), 0);
        avro_value_decref(&v);
        assert_int_equal(osh_serde_decode(r, buf, len, &back, NULL, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "does not resolve"));
        /* Texts PCF or avro-c reject are refused with a message. */
        assert_null(
            osh_serde_register("{\"type\":\"record\"", 16, "bad.avsc", 0, err, sizeof(err)));
        assert_non_null(strstr(err, "bad.avsc"));
        assert_null(osh_serde_register("{\"type\":\"record\",\"name\":\"Q\",\"fields\":"
                                       "[{\"name\":\"a\",\"type\":\"Undefined\"}]}",
                                       71, "undef.avsc", 0, err, sizeof(err)));
        assert_non_null(strstr(err, "undef.avsc: avro"));
        /* A second current version of the same name is refused. */
        assert_null(osh_serde_register(other, sizeof(other) - 1, "x", 1, err, sizeof(err)));
}

static void test_defaults_in_new_values(void **state)
{
        const osh_schema_t *s = osh_schema_for_topic("privacy.report.v1");
        avro_value_t v, q, item;
        size_t n = 0;
        const char *str;

        assert_int_equal(osh_value_new(s, &v), 0);
        assert_int_equal(osh_value_field(&v, "quasi_identifiers", &q), 0);
        assert_int_equal(avro_value_get_size(&q, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(avro_value_get_by_index(&q, 2, &item, NULL), 0);
        assert_int_equal(avro_value_get_string(&item, &str, &n), 0);
        assert_string_equal(str, "town_code");
        avro_value_decref(&v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_compat_ops_status),
            cmocka_unit_test(test_compat_abstracted),
            cmocka_unit_test(test_compat_generalised),
            cmocka_unit_test(test_registered_evolution),
            cmocka_unit_test(test_missing_default_is_an_error),
            cmocka_unit_test(test_defaults_in_new_values),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
