#include "keyidx.h"

#include <stdlib.h>
#include <string.h>

int ext_keyidx_init(ext_keyidx_t *x, size_t expect, size_t out_of_order)
{
        memset(x, 0, sizeof(*x));
        x->cap = expect < 1024 ? 1024 : expect;
        x->k = malloc(x->cap * sizeof(*x->k));
        x->v = malloc(x->cap * sizeof(*x->v));
        if (x->k && x->v && !ext_htab_init(&x->extra, out_of_order < 64 ? 64 : out_of_order))
                return 0;
        ext_keyidx_free(x);
        return -1;
}

void ext_keyidx_free(ext_keyidx_t *x)
{
        free(x->k);
        free(x->v);
        ext_htab_free(&x->extra);
        memset(x, 0, sizeof(*x));
}

void ext_keyidx_prefetch(const ext_keyidx_t *x, uint64_t key)
{
        if (x->n && key <= x->k[x->n - 1])
                ext_htab_prefetch(&x->extra, key);
}

/* First i in [lo, hi) with k[i] >= key, else hi. */
static size_t lower_bound(const uint64_t *k, size_t lo, size_t hi, uint64_t key)
{
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (k[mid] < key)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* Where key is or would be in the ascending k[lo, hi), searching outward
 * from c (a previous hit: lookups in ascending order take a probe or two). */
static size_t locate(const uint64_t *k, size_t lo, size_t hi, uint64_t key, size_t c)
{
        size_t step = 1;

        if (c < lo || c >= hi)
                return lower_bound(k, lo, hi, key);
        if (k[c] > key)
                return lower_bound(k, lo, c + 1, key);
        lo = c;
        while (c + step < hi && k[c + step] <= key) {
                lo = c + step;
                step <<= 1;
        }
        return lower_bound(k, lo, c + step < hi ? c + step + 1 : hi, key);
}

static size_t run_end(const ext_keyidx_t *x, size_t r)
{
        return r + 1 < x->nruns ? x->run[r + 1] : x->n;
}

uint32_t *ext_keyidx_get(const ext_keyidx_t *x, uint64_t key, size_t *cursor)
{
        size_t c = cursor ? *cursor : 0;

        for (size_t r = 0; r < x->nruns; r++) {
                size_t i = locate(x->k, x->run[r], run_end(x, r), key, c);
                if (cursor && x->nruns == 1)
                        *cursor = i;
                if (i < run_end(x, r) && x->k[i] == key)
                        return &x->v[i];
        }
        return x->extra.n ? ext_htab_get(&x->extra, key) : NULL;
}

/* Is key in one of the first nr runs? Puts remember where each run's
 * search ended: a run's keys ascend, so those of a later run mostly do too. */
static int in_runs(ext_keyidx_t *x, size_t nr, uint64_t key)
{
        for (size_t r = 0; r < nr; r++) {
                size_t end = run_end(x, r), i = locate(x->k, x->run[r], end, key, x->hint[r]);
                x->hint[r] = i;
                if (i < end && x->k[i] == key)
                        return 1;
        }
        return 0;
}

static int grow(ext_keyidx_t *x, size_t need)
{
        size_t cap = x->cap * 2;
        uint64_t *k;
        uint32_t *v;

        while (cap < need)
                cap *= 2;
        k = realloc(x->k, cap * sizeof(*k));
        if (!k)
                return -1;
        x->k = k;
        if (!(v = realloc(x->v, cap * sizeof(*v))))
                return -1;
        x->v = v;
        x->cap = cap;
        return 0;
}

/* A key below the last one starts a run only after a long one: short runs
 * (shuffled keys) would make every later put search them all. */
static int new_run_ok(const ext_keyidx_t *x)
{
        return x->nruns < KEYIDX_MAX_RUNS && x->n - x->run[x->nruns - 1] >= KEYIDX_MIN_RUN;
}

int ext_keyidx_put(ext_keyidx_t *x, uint64_t key, uint32_t val)
{
        int below = x->n && key <= x->k[x->n - 1];

        /* above the last key, neither the last run nor the hash table has it */
        if (in_runs(x, below ? x->nruns : x->nruns - (x->nruns > 0), key))
                return 0;
        if (below && !new_run_ok(x))
                return ext_htab_put(&x->extra, key, val);
        if (below && x->extra.n && ext_htab_get(&x->extra, key))
                return 0;
        if (x->n == x->cap && grow(x, x->n + 1))
                return -1;
        if (below || !x->nruns) {
                x->run[x->nruns] = x->n;
                x->hint[x->nruns++] = x->n;
        }
        x->k[x->n] = key;
        x->v[x->n++] = val;
        return 1;
}

/* LSD radix sort of (k, v) by k, 11 bits a pass, as many passes as the
 * largest key needs (3 for 10-digit numbers). */
static void radix_sort(uint64_t *k, uint32_t *v, uint64_t *tk, uint32_t *tv, size_t n)
{
        uint64_t max = 0;

        for (size_t i = 0; i < n; i++)
                max = k[i] > max ? k[i] : max;
        for (unsigned shift = 0; shift < 64 && (max >> shift); shift += 11) {
                size_t count[2048] = {0}, pos = 0;
                for (size_t i = 0; i < n; i++)
                        count[(k[i] >> shift) & 2047]++;
                for (size_t d = 0; d < 2048; d++) {
                        size_t c = count[d];
                        count[d] = pos;
                        pos += c;
                }
                for (size_t i = 0; i < n; i++) {
                        size_t d = count[(k[i] >> shift) & 2047]++;
                        tk[d] = k[i];
                        tv[d] = v[i];
                }
                memcpy(k, tk, n * sizeof(*k));
                memcpy(v, tv, n * sizeof(*v));
        }
}

int ext_keyidx_sort_pairs(uint64_t *k, uint32_t *v, size_t n)
{
        uint64_t *tk = malloc((n ? n : 1) * sizeof(*tk));
        uint32_t *tv = malloc((n ? n : 1) * sizeof(*tv));

        if (tk && tv)
                radix_sort(k, v, tk, tv, n);
        free(tk);
        free(tv);
        return tk && tv ? 0 : -1;
}

int ext_keyidx_seal(ext_keyidx_t *x)
{
        size_t n = x->n + x->extra.n;
        uint64_t *tk;
        uint32_t *tv;
        ext_htab_t empty;

        if (x->nruns <= 1 && !x->extra.n)
                return 0;
        if ((n > x->cap && grow(x, n)) || ext_htab_init(&empty, 64))
                return -1;
        tk = malloc(n * sizeof(*tk));
        tv = malloc(n * sizeof(*tv));
        if (!tk || !tv) {
                free(tk);
                free(tv);
                ext_htab_free(&empty);
                return -1;
        }
        for (size_t i = 0; i < x->extra.cap; i++) {
                if (x->extra.s[i].key) {
                        x->k[x->n] = x->extra.s[i].key;
                        x->v[x->n++] = x->extra.s[i].val;
                }
        }
        radix_sort(x->k, x->v, tk, tv, x->n);
        free(tk);
        free(tv);
        ext_htab_free(&x->extra);
        x->extra = empty;
        x->nruns = 1;
        x->run[0] = x->hint[0] = 0;
        return 0;
}
