#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "oshirase/avro_json.h"

static const char schema_json[] =
    "{\"type\":\"record\",\"name\":\"T\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"string\"},"
    "{\"name\":\"n\",\"type\":\"int\",\"default\":7},"
    "{\"name\":\"big\",\"type\":\"long\",\"default\":0},"
    "{\"name\":\"ok\",\"type\":\"boolean\",\"default\":false},"
    "{\"name\":\"kind\",\"type\":{\"type\":\"enum\",\"name\":\"K\",\"symbols\":[\"A\",\"B\"]},"
    "\"default\":\"A\"},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"raw\",\"type\":\"bytes\",\"default\":\"\"},"
    "{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":\"int\"},\"default\":[]},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"long\"},\"default\":{}}]}";

static avro_schema_t schema;
static avro_value_iface_t *iface;

static int setup(void **state)
{
        if (avro_schema_from_json_length(schema_json, strlen(schema_json), &schema))
                return -1;
        iface = avro_generic_class_from_schema(schema);
        return iface ? 0 : -1;
}

static int teardown(void **state)
{
        avro_value_iface_decref(iface);
        avro_schema_decref(schema);
        return 0;
}

static int load(const char *json, avro_value_t *v, char *errstr)
{
        avro_generic_value_new(iface, v);
        return osh_avro_from_json(json, strlen(json), schema_json, v, errstr, 256);
}

static void test_full_record_and_defaults(void **state)
{
        char errstr[256], *out = NULL;
        avro_value_t v;

        assert_int_equal(load("{\"id\":\"x\",\"opt\":{\"string\":\"s\"},\"raw\":\"\\u00ff\\u0001\","
                              "\"xs\":[1,2],\"m\":{\"a\":5}}",
                              &v, errstr),
                         0);
        avro_value_to_json(&v, 1, &out);
        assert_non_null(out);
        assert_non_null(strstr(out, "\"n\": 7")); /* default applied */
        assert_non_null(strstr(out, "\"kind\": \"A\""));
        assert_non_null(strstr(out, "{\"string\": \"s\"}")); /* tagged union */
        assert_non_null(strstr(out, "[1, 2]"));
        free(out);
        avro_value_decref(&v);
}

static void test_bare_union_value(void **state)
{
        char errstr[256];
        avro_value_t v, f, b;
        int disc = -1;
        const char *s = NULL;
        size_t len = 0;

        assert_int_equal(load("{\"id\":\"x\",\"opt\":\"bare\"}", &v, errstr), 0);
        avro_value_get_by_name(&v, "opt", &f, NULL);
        avro_value_get_discriminant(&f, &disc);
        assert_int_equal(disc, 1);
        avro_value_get_current_branch(&f, &b);
        avro_value_get_string(&b, &s, &len);
        assert_string_equal(s, "bare");
        avro_value_decref(&v);
}

static void test_bytes_with_nul(void **state)
{
        char errstr[256];
        avro_value_t v, f;
        const void *p = NULL;
        size_t len = 0;

        assert_int_equal(load("{\"id\":\"x\",\"raw\":\"\\u0000\\u0080\\u0000\"}", &v, errstr), 0);
        avro_value_get_by_name(&v, "raw", &f, NULL);
        avro_value_get_bytes(&f, &p, &len);
        assert_int_equal(len, 3);
        assert_memory_equal(p, "\0\x80\0", 3);
        avro_value_decref(&v);
}

static void test_errors_name_the_path(void **state)
{
        char errstr[256];
        avro_value_t v;

        assert_int_equal(load("{\"n\":1}", &v, errstr), -1);
        assert_non_null(strstr(errstr, "$.id"));
        avro_value_decref(&v);
        assert_int_equal(load("{\"id\":\"x\",\"n\":\"seven\"}", &v, errstr), -1);
        assert_non_null(strstr(errstr, "$.n"));
        avro_value_decref(&v);
        assert_int_equal(load("{\"id\":\"x\",\"n\":4294967296}", &v, errstr), -1);
        assert_non_null(strstr(errstr, "int range"));
        avro_value_decref(&v);
        assert_int_equal(load("{\"id\":\"x\",\"kind\":\"C\"}", &v, errstr), -1);
        assert_non_null(strstr(errstr, "$.kind"));
        avro_value_decref(&v);
        assert_int_equal(load("{\"id\":\"x\",\"xs\":[1,\"a\"]}", &v, errstr), -1);
        assert_non_null(strstr(errstr, "$.xs[1]"));
        avro_value_decref(&v);
        assert_int_equal(load("{\"id\":\"x\",\"raw\":\"\\u0100\"}", &v, errstr), -1);
        avro_value_decref(&v);
        assert_int_equal(load("{\"id\":", &v, errstr), -1);
        assert_non_null(strstr(errstr, "JSON"));
        avro_value_decref(&v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_full_record_and_defaults),
            cmocka_unit_test(test_bare_union_value),
            cmocka_unit_test(test_bytes_with_nul),
            cmocka_unit_test(test_errors_name_the_path),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
