/* The osh.src provenance header: format/parse round trip, parsing from the
 * right (a cluster name may hold '/'), refusal of malformed values, and
 * which header names count as provenance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/provenance.h"

static void test_round_trip(void **state)
{
        char v[512];
        osh_src_t s;
        int n;

        (void)state;
        n = osh_src_format(v, sizeof(v), "processing", "resident.abstracted.v1", 3, 1207);
        assert_int_equal(n, (int)strlen("processing/resident.abstracted.v1/3/1207"));
        assert_string_equal(v, "processing/resident.abstracted.v1/3/1207");
        assert_int_equal(osh_src_parse(v, (size_t)n, &s), 0);
        assert_string_equal(s.topic, "resident.abstracted.v1");
        assert_int_equal(s.partition, 3);
        assert_int_equal(s.offset, 1207);
        /* Not NUL-terminated input, large offset, odd cluster. */
        n = osh_src_format(v, sizeof(v), "dc/1", "t", 2147483647, 999999999999LL);
        assert_true(n > 0);
        v[n] = 'X'; /* parse must honour the length */
        assert_int_equal(osh_src_parse(v, (size_t)n, &s), 0);
        assert_string_equal(s.topic, "t");
        assert_int_equal(s.partition, 2147483647);
        assert_int_equal(s.offset, 999999999999LL);
        assert_int_equal(osh_src_format(v, 8, "processing", "t", 0, 0), -1);
}

static void test_refused(void **state)
{
        static const char *const bad[] = {
            "",
            "a/b/c",
            "c//1/2",
            "c/t/1/",
            "c/t//2",
            "c/t/-1/2",
            "c/t/1/x",
            "c/t/1/2 ",
            "c/t/99999999999/2",
            "c/t/1/9999999999999999999",
        };
        osh_src_t s;

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(osh_src_parse(bad[i], strlen(bad[i]), &s), -1);
        assert_int_equal(osh_src_parse(NULL, 0, &s), -1);
        assert_int_equal(osh_src_parse("/t/0/0", 6, &s), 0); /* empty cluster is fine */
}

static void test_is_header(void **state)
{
        (void)state;
        assert_true(osh_src_is_header("osh.src"));
        assert_true(osh_src_is_header("osh.src.offset"));
        assert_true(osh_src_is_header("osh.src.cluster"));
        assert_false(osh_src_is_header("osh.srcx"));
        assert_false(osh_src_is_header("osh.batch.id"));
        assert_false(osh_src_is_header("osh.sr"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_refused),
            cmocka_unit_test(test_is_header),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
