#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/avro_bin.h"
#include "oshirase/serde.h"

/* Every kind of value the hand-written encoders use. */
static const char SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"jp.oshirase.test.AvroBin\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"s\",\"type\":\"string\"},{\"name\":\"y\",\"type\":\"bytes\"},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\",\"C\"]}},"
    "{\"name\":\"n\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}}]}";

static const osh_schema_t *schema;

static int setup(void **state)
{
        char errstr[256];

        (void)state;
        if (osh_serde_init(errstr, sizeof(errstr)))
                return -1;
        schema =
            osh_serde_register(SCHEMA, sizeof(SCHEMA) - 1, "test.avsc", 1, errstr, sizeof(errstr));
        return schema ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        osh_serde_shutdown();
        return 0;
}

typedef struct vals {
        int32_t i;
        int64_t l;
        int b;
        double d;
        const char *s, *n;
        int e, na;
        int32_t a[3];
} vals_t;

static const vals_t CASES[] = {
    {0, 0, 0, 0.0, "", NULL, 0, 0, {0}},
    {-1, -64, 1, -1.5, "宛先", "x", 2, 3, {63, 64, -65}},
    {INT32_MAX, INT64_MAX, 0, 1e300, "abc", "", 1, 1, {INT32_MIN, 0, 0}},
    {INT32_MIN, INT64_MIN, 1, -0.0, "z", NULL, 0, 2, {1, -1, 0}},
};

static void generic(const vals_t *c, void **out, size_t *len)
{
        avro_value_t v, arr, map, item, f;
        char errstr[256];

        assert_int_equal(osh_value_new(schema, &v), 0);
        assert_int_equal(osh_value_set_int(&v, "i", c->i), 0);
        assert_int_equal(osh_value_set_long(&v, "l", c->l), 0);
        assert_int_equal(osh_value_set_bool(&v, "b", c->b), 0);
        assert_int_equal(osh_value_set_double(&v, "d", c->d), 0);
        assert_int_equal(osh_value_set_string(&v, "s", c->s), 0);
        assert_int_equal(osh_value_set_bytes(&v, "y", "\0\1\2", 3), 0);
        assert_int_equal(osh_value_set_enum(&v, "e", (const char *[]){"A", "B", "C"}[c->e]), 0);
        assert_int_equal(osh_value_set_string(&v, "n", c->n), 0);
        assert_int_equal(osh_value_field(&v, "a", &arr), 0);
        for (int k = 0; k < c->na; k++) {
                assert_int_equal(avro_value_append(&arr, &item, NULL), 0);
                assert_int_equal(avro_value_set_int(&item, c->a[k]), 0);
        }
        assert_int_equal(osh_value_field(&v, "m", &map), 0);
        if (c->na) {
                assert_int_equal(avro_value_add(&map, "k", &item, NULL, NULL), 0);
                assert_int_equal(avro_value_set_string(&item, c->s), 0);
        }
        assert_int_equal(osh_value_field(&v, "f", &f), 0);
        assert_int_equal(avro_value_set_fixed(&f, "xyz", 3), 0);
        assert_int_equal(osh_serde_encode_alloc(schema, &v, out, len, errstr, sizeof(errstr)), 0);
        avro_value_decref(&v);
}

static void direct(osh_avro_buf_t *b, const vals_t *c)
{
        osh_avro_buf_reset(b);
        osh_avro_put_header(b, schema);
        osh_avro_put_long(b, c->i);
        osh_avro_put_long(b, c->l);
        osh_avro_put_bool(b, c->b);
        osh_avro_put_double(b, c->d);
        osh_avro_put_str(b, c->s);
        osh_avro_put_bytes(b, "\0\1\2", 3);
        osh_avro_put_long(b, c->e);
        osh_avro_put_long(b, c->n ? 1 : 0);
        if (c->n)
                osh_avro_put_str(b, c->n);
        if (c->na) {
                osh_avro_put_long(b, c->na);
                for (int k = 0; k < c->na; k++)
                        osh_avro_put_long(b, c->a[k]);
        }
        osh_avro_put_long(b, 0);
        if (c->na) {
                osh_avro_put_long(b, 1);
                osh_avro_put_str(b, "k");
                osh_avro_put_str(b, c->s);
        }
        osh_avro_put_long(b, 0);
        osh_avro_put_fixed(b, "xyz", 3);
}

static void test_bytes_match_the_generic_encoder(void **state)
{
        osh_avro_buf_t b = {0};

        (void)state;
        for (size_t k = 0; k < sizeof(CASES) / sizeof(CASES[0]); k++) {
                void *g;
                size_t glen;
                generic(&CASES[k], &g, &glen);
                direct(&b, &CASES[k]);
                assert_true(osh_avro_buf_ok(&b));
                assert_int_equal(b.len, glen);
                assert_memory_equal(b.p, g, glen);
                free(g);
        }
        osh_avro_buf_free(&b);
}

/* Reads what direct() wrote; 0 when everything matched and was consumed. */
static int read_back(const void *buf, size_t len, const vals_t *c)
{
        osh_avro_in_t r;
        const char *s;
        size_t n;
        int ok = 1;

        osh_avro_in_init(&r, (const char *)buf + OSH_SERDE_HEADER_LEN, len - OSH_SERDE_HEADER_LEN);
        ok &= osh_avro_get_int(&r) == c->i;
        ok &= osh_avro_get_long(&r) == c->l;
        ok &= osh_avro_get_bool(&r) == c->b;
        double d = osh_avro_get_double(&r);
        ok &= d == c->d && signbit(d) == signbit(c->d);
        s = osh_avro_get_bytes(&r, &n);
        ok &= s && n == strlen(c->s) && !memcmp(s, c->s, n);
        s = osh_avro_get_bytes(&r, &n);
        ok &= s && n == 3 && !memcmp(s, "\0\1\2", 3);
        ok &= osh_avro_get_index(&r, 3) == c->e;
        if (osh_avro_get_index(&r, 2) == 1) {
                s = osh_avro_get_bytes(&r, &n);
                ok &= c->n && s && n == strlen(c->n) && !memcmp(s, c->n, n);
        } else {
                ok &= !c->n;
        }
        for (int64_t cnt, k = 0; (cnt = osh_avro_get_block(&r, 10)) > 0;)
                while (cnt-- > 0)
                        ok &= osh_avro_get_int(&r) == c->a[k++];
        for (int64_t cnt; (cnt = osh_avro_get_block(&r, 10)) > 0;)
                while (cnt-- > 0)
                        osh_avro_get_bytes(&r, &n), osh_avro_get_bytes(&r, &n);
        s = osh_avro_get_fixed(&r, 3);
        ok &= s && !memcmp(s, "xyz", 3);
        return ok && osh_avro_in_done(&r) ? 0 : -1;
}

static void test_reader_reads_what_avro_c_wrote_and_every_prefix_fails(void **state)
{
        (void)state;
        for (size_t k = 0; k < sizeof(CASES) / sizeof(CASES[0]); k++) {
                void *g;
                size_t glen;
                generic(&CASES[k], &g, &glen);
                assert_int_equal(read_back(g, glen, &CASES[k]), 0);
                for (size_t cut = OSH_SERDE_HEADER_LEN; cut < glen; cut++)
                        assert_int_equal(read_back(g, cut, &CASES[k]), -1);
                free(g);
        }
}

static void test_reader_refuses_malformed_scalars(void **state)
{
        static const uint8_t overlong[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0x01};
        static const uint8_t max10[10] = {0xfe, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x01};
        osh_avro_in_t r;
        size_t n;

        (void)state;
        osh_avro_in_init(&r, overlong, sizeof(overlong));
        osh_avro_get_long(&r);
        assert_false(osh_avro_in_ok(&r));
        osh_avro_in_init(&r, max10, sizeof(max10));
        assert_true(osh_avro_get_long(&r) == INT64_MAX);
        assert_true(osh_avro_in_done(&r));
        osh_avro_in_init(&r, "\x02", 1); /* boolean 2 */
        osh_avro_get_bool(&r);
        assert_false(osh_avro_in_ok(&r));
        osh_avro_in_init(&r, "\x01", 1); /* length -1 */
        assert_null(osh_avro_get_bytes(&r, &n));
        assert_false(osh_avro_in_ok(&r));
        osh_avro_in_init(&r, "\x80\x80\x80\x80\x10", 5); /* int: 2^31 */
        osh_avro_get_int(&r);
        assert_false(osh_avro_in_ok(&r));
        osh_avro_in_init(&r, "\x06", 1); /* index 3 of 3 */
        assert_int_equal(osh_avro_get_index(&r, 3), -1);
        osh_avro_in_init(&r, "\x03\x04", 2); /* block of -2 items, 2 bytes */
        assert_int_equal(osh_avro_get_block(&r, 5), 2);
        assert_true(osh_avro_in_done(&r));
        osh_avro_in_init(&r, "\x0c", 1); /* 6 items > max 5 */
        osh_avro_get_block(&r, 5);
        assert_false(osh_avro_in_ok(&r));
}

static void test_take_hands_over_the_bytes(void **state)
{
        osh_avro_buf_t b = {0};
        size_t len;
        void *p;

        (void)state;
        for (int k = 0; k < 1000; k++) /* grows past the first allocation */
                osh_avro_put_str(&b, "0123456789");
        p = osh_avro_buf_take(&b, &len);
        assert_non_null(p);
        assert_int_equal(len, 11000);
        assert_null(b.p);
        assert_int_equal(b.len, 0);
        free(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_bytes_match_the_generic_encoder),
            cmocka_unit_test(test_reader_reads_what_avro_c_wrote_and_every_prefix_fails),
            cmocka_unit_test(test_reader_refuses_malformed_scalars),
            cmocka_unit_test(test_take_hands_over_the_bytes),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
