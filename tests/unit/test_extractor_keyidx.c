/* keyidx: the extractor's key -> row index, against a sorted reference,
 * for the orders exports come in (sorted, per ward, shuffled, mixed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "keyidx.h"

typedef struct ref {
        uint64_t key;
        uint32_t first; /* the value its first put gave */
} ref_t;

static uint64_t rng = 88172645463325252ULL;

static uint64_t next_rand(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
}

static int cmp_ref(const void *a, const void *b)
{
        const ref_t *x = a, *y = b;

        return x->key < y->key ? -1 : x->key > y->key;
}

static const ref_t *ref_find(const ref_t *r, size_t n, uint64_t key)
{
        ref_t k = {key, 0};

        return bsearch(&k, r, n, sizeof(*r), cmp_ref);
}

static int cmp_ref_then_first(const void *a, const void *b)
{
        const ref_t *x = a, *y = b;
        int c = cmp_ref(a, b);

        return c ? c : (x->first > y->first) - (x->first < y->first);
}

/* The distinct keys, each with the index of its first occurrence. */
static ref_t *reference(const uint64_t *keys, size_t n, size_t *nr)
{
        ref_t *r = malloc((n + 1) * sizeof(*r));

        assert_non_null(r);
        for (size_t i = 0; i < n; i++)
                r[i] = (ref_t){keys[i], (uint32_t)i};
        qsort(r, n, sizeof(*r), cmp_ref_then_first);
        *nr = 0;
        for (size_t i = 0; i < n; i++)
                if (!*nr || r[*nr - 1].key != r[i].key)
                        r[(*nr)++] = r[i];
        return r;
}

/* Puts keys[i] -> i and checks each answer and every lookup (before and
 * after the seal) against the reference. */
static void check_keys(const uint64_t *keys, size_t n, size_t expect_runs_at_least)
{
        size_t nr, cursor = 0;
        ref_t *r = reference(keys, n, &nr);
        ext_keyidx_t x;

        assert_int_equal(ext_keyidx_init(&x, n / 2 + 1, 16), 0);
        for (size_t i = 0; i < n; i++) {
                int fresh = ref_find(r, nr, keys[i])->first == i;
                int got = ext_keyidx_put(&x, keys[i], (uint32_t)i);
                if (got != fresh)
                        fail_msg("put %zu (key %llu) gave %d", i, (unsigned long long)keys[i], got);
        }
        assert_true(x.nruns >= expect_runs_at_least);
        for (int sealed = 0; sealed < 2; sealed++) {
                for (size_t i = 0; i < n; i++) {
                        uint32_t *v = ext_keyidx_get(&x, keys[i], &cursor);
                        assert_non_null(v);
                        assert_int_equal(*v, ref_find(r, nr, keys[i])->first);
                        /* a neighbour that was never put */
                        if (!ref_find(r, nr, keys[i] + 1))
                                assert_null(ext_keyidx_get(&x, keys[i] + 1, &cursor));
                }
                assert_int_equal(ext_keyidx_seal(&x), 0);
                assert_int_equal(x.nruns, 1);
                assert_int_equal(x.n, nr);
                for (size_t i = 1; i < x.n; i++)
                        assert_true(x.k[i - 1] < x.k[i]);
        }
        ext_keyidx_free(&x);
        free(r);
}

/* n keys in blocks of `block` ascending keys; block b covers a key range
 * below block b-1's when descending (wards exported one after another). */
static uint64_t *blocks(size_t n, size_t block, int descending)
{
        uint64_t *k = malloc(n * sizeof(*k));
        size_t nb = (n + block - 1) / block;

        assert_non_null(k);
        for (size_t i = 0; i < n; i++) {
                size_t b = i / block, in = i % block;
                size_t rank = descending ? nb - 1 - b : b;
                k[i] = 1000000000ULL + rank * 1000000ULL + in * 7 + 1;
        }
        return k;
}

static void test_sorted_is_one_run(void **state)
{
        uint64_t *k = blocks(3000, 3000, 0);

        (void)state;
        check_keys(k, 3000, 1);
        free(k);
}

static void test_ward_blocks_are_runs(void **state)
{
        size_t n = 7 * KEYIDX_MIN_RUN;
        uint64_t *k = blocks(n, KEYIDX_MIN_RUN, 1);

        (void)state;
        check_keys(k, n, 7);
        free(k);
}

static void test_more_blocks_than_runs(void **state)
{
        size_t n = (KEYIDX_MAX_RUNS + 5) * KEYIDX_MIN_RUN;
        uint64_t *k = blocks(n, KEYIDX_MIN_RUN, 1);

        (void)state;
        check_keys(k, n, KEYIDX_MAX_RUNS);
        free(k);
}

static void test_short_blocks_go_to_the_hash(void **state)
{
        uint64_t *k = blocks(5000, 100, 1);

        (void)state;
        check_keys(k, 5000, 1);
        free(k);
}

static void test_shuffled(void **state)
{
        uint64_t *k = malloc(6000 * sizeof(*k));

        (void)state;
        for (size_t i = 0; i < 6000; i++)
                k[i] = 1 + next_rand() % 100000;
        check_keys(k, 6000, 1);
        free(k);
}

/* Duplicates of keys in earlier runs, in the current run and in the hash
 * table, after long runs and short ones. */
static void test_duplicates_everywhere(void **state)
{
        size_t n = 10 * KEYIDX_MIN_RUN, m = n + n / 4;
        uint64_t *k = blocks(m, 2 * KEYIDX_MIN_RUN, 1); /* long enough with repeats */

        (void)state;
        for (size_t i = n; i < m; i++)
                k[i] = k[next_rand() % i];
        for (size_t i = 0; i < 200; i++) { /* repeats inside the runs */
                size_t to = 1 + next_rand() % (n - 1);
                k[to] = k[next_rand() % to];
        }
        check_keys(k, m, 2);
        free(k);
}

static void test_sort_pairs_is_stable(void **state)
{
        uint64_t k[] = {5, 3, 5, 1, 3, 5, 0x7fffffffffffULL, 1};
        uint32_t v[] = {0, 1, 2, 3, 4, 5, 6, 7};
        const uint64_t ek[] = {1, 1, 3, 3, 5, 5, 5, 0x7fffffffffffULL};
        const uint32_t ev[] = {3, 7, 1, 4, 0, 2, 5, 6};

        (void)state;
        assert_int_equal(ext_keyidx_sort_pairs(k, v, 8), 0);
        assert_memory_equal(k, ek, sizeof(ek));
        assert_memory_equal(v, ev, sizeof(ev));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sorted_is_one_run),
            cmocka_unit_test(test_ward_blocks_are_runs),
            cmocka_unit_test(test_more_blocks_than_runs),
            cmocka_unit_test(test_short_blocks_go_to_the_hash),
            cmocka_unit_test(test_shuffled),
            cmocka_unit_test(test_duplicates_everywhere),
            cmocka_unit_test(test_sort_pairs_is_stable),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
