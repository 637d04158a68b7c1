/* The key set recovery scans fill (oshirase/scan.h): membership after
 * adds in any order, keys cut at their length, long keys, clearing. The
 * Kafka reads themselves are covered by the crash tests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/scan.h"

static void test_keyset(void **state)
{
        osh_keyset_t s = {0};
        char k[32], big[1200];

        (void)state;
        assert_int_equal(osh_keyset_has(&s, "a", 1), 0);
        for (int i = 999; i >= 0; i -= 2) {
                int n = snprintf(k, sizeof(k), "resident.abstracted.v1\tU%06d", i);
                assert_int_equal(osh_keyset_add(&s, k, (size_t)n), 0);
        }
        for (int i = 0; i < 1000; i++) {
                int n = snprintf(k, sizeof(k), "resident.abstracted.v1\tU%06d", i);
                assert_int_equal(osh_keyset_has(&s, k, (size_t)n), i % 2);
        }
        assert_int_equal(osh_keyset_has(&s, "resident.abstracted.v1\tU000001x", 30), 1);
        assert_int_equal(osh_keyset_has(&s, "resident.abstracted.v1\tU00000", 29), 0);
        memset(big, 'x', sizeof(big));
        assert_int_equal(osh_keyset_add(&s, big, sizeof(big)), 0); /* added after a lookup */
        assert_int_equal(osh_keyset_has(&s, big, sizeof(big)), 1);
        assert_int_equal(osh_keyset_has(&s, big, sizeof(big) - 1), 0);
        osh_keyset_clear(&s);
        assert_int_equal(osh_keyset_has(&s, "resident.abstracted.v1\tU000001", 30), 0);
        osh_keyset_clear(&s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_keyset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
