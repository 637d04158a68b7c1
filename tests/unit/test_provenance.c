/* The osh.src provenance header: format/parse round trip, parsing from the
 * right (a cluster name may hold '/'), refusal of malformed values, and
 * which header names count as provenance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
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

/* The hand formatter agrees with snprintf at every buffer size, for edge
 * values (0, negative, INT32/INT64 limits, NULL cluster). */
static void test_format_matches_snprintf(void **state)
{
        const int32_t parts[] = {0, 7, -1, INT32_MAX, INT32_MIN};
        const int64_t offs[] = {0, 10, 1207, -5, INT64_MAX, INT64_MIN};
        char got[96], want[96];

        (void)state;
        for (size_t p = 0; p < sizeof(parts) / sizeof(parts[0]); p++)
                for (size_t o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
                        for (size_t size = 1; size <= sizeof(got); size++) {
                                const char *cl = o % 2 ? NULL : "processing";
                                int w = snprintf(want, sizeof(want), "%s/%s/%" PRId32 "/%" PRId64,
                                                 cl ? cl : "", "t.v1", parts[p], offs[o]);
                                int n = osh_src_format(got, size, cl, "t.v1", parts[p], offs[o]);
                                if ((size_t)w >= size) {
                                        assert_int_equal(n, -1);
                                        continue;
                                }
                                assert_int_equal(n, w);
                                assert_string_equal(got, want);
                        }
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
            cmocka_unit_test(test_format_matches_snprintf),
            cmocka_unit_test(test_refused),
            cmocka_unit_test(test_is_header),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
