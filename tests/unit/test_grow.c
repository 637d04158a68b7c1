#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "oshirase/grow.h"

typedef struct wide {
        uint64_t a, b, c;
} wide_t;

static void test_grows_by_doubling_and_keeps_contents(void **state)
{
        wide_t *arr = NULL;
        size_t cap = 0, n = 0, caps = 0;

        (void)state;
        for (; n < 1000; n++) {
                size_t before = cap;
                assert_int_equal(osh_grow(&arr, &cap, n, sizeof(*arr), 3), 0);
                assert_true(cap > n);
                caps += cap != before;
                arr[n] = (wide_t){n, n * 2, n * 3};
        }
        assert_int_equal(cap, 1536); /* 3, 6, ... 1536 */
        assert_int_equal(caps, 10);
        for (size_t i = 0; i < n; i++)
                assert_true(arr[i].a == i && arr[i].b == 2 * i && arr[i].c == 3 * i);
        free(arr);
}

static void test_refuses_an_impossible_size(void **state)
{
        char *arr = NULL;
        size_t cap = 0;

        (void)state;
        assert_int_equal(osh_grow(&arr, &cap, SIZE_MAX / 2, 4, 1), -1);
        assert_null(arr);
        assert_int_equal(cap, 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_grows_by_doubling_and_keeps_contents),
            cmocka_unit_test(test_refuses_an_impossible_size),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
