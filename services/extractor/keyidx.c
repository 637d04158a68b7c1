#include "keyidx.h"

#include <stdlib.h>
#include <string.h>

int keyidx_init(keyidx_t *x, size_t expect, size_t out_of_order)
{
        x->n = 0;
        x->cap = expect < 1024 ? 1024 : expect;
        x->k = malloc(x->cap * sizeof(*x->k));
        x->v = malloc(x->cap * sizeof(*x->v));
        if (x->k && x->v && !htab_init(&x->extra, out_of_order < 64 ? 64 : out_of_order))
                return 0;
        keyidx_free(x);
        return -1;
}

void keyidx_free(keyidx_t *x)
{
        free(x->k);
        free(x->v);
        x->k = NULL;
        x->v = NULL;
        x->n = x->cap = 0;
        htab_free(&x->extra);
}

void keyidx_prefetch(const keyidx_t *x, uint64_t key)
{
        if (x->n && key <= x->k[x->n - 1])
                htab_prefetch(&x->extra, key);
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

/* Where key is or would be, searching outward from c. */
static size_t locate(const keyidx_t *x, uint64_t key, size_t c)
{
        size_t lo = 0, hi = x->n, step = 1;

        if (c < x->n && x->k[c] <= key) {
                lo = c;
                while (c + step < x->n && x->k[c + step] <= key) {
                        lo = c + step;
                        step <<= 1;
                }
                hi = c + step < x->n ? c + step + 1 : x->n;
        } else if (c < x->n) {
                hi = c + 1;
        }
        return lower_bound(x->k, lo, hi, key);
}

uint32_t *keyidx_get(const keyidx_t *x, uint64_t key, size_t *cursor)
{
        size_t i = locate(x, key, cursor ? *cursor : 0);

        if (cursor)
                *cursor = i;
        if (i < x->n && x->k[i] == key)
                return &x->v[i];
        return x->extra.n ? htab_get(&x->extra, key) : NULL;
}

static int grow(keyidx_t *x, size_t need)
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

int keyidx_put(keyidx_t *x, uint64_t key, uint32_t val, size_t *cursor)
{
        size_t i;

        if (x->n && key <= x->k[x->n - 1]) {
                i = locate(x, key, cursor ? *cursor : 0);
                if (cursor)
                        *cursor = i;
                return i < x->n && x->k[i] == key ? 0 : htab_put(&x->extra, key, val);
        }
        if (x->n == x->cap && grow(x, x->n + 1))
                return -1;
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

int keyidx_sort_pairs(uint64_t *k, uint32_t *v, size_t n)
{
        uint64_t *tk = malloc((n ? n : 1) * sizeof(*tk));
        uint32_t *tv = malloc((n ? n : 1) * sizeof(*tv));

        if (tk && tv)
                radix_sort(k, v, tk, tv, n);
        free(tk);
        free(tv);
        return tk && tv ? 0 : -1;
}

int keyidx_seal(keyidx_t *x)
{
        size_t n = x->n + x->extra.n;
        uint64_t *tk;
        uint32_t *tv;

        if (!x->extra.n)
                return 0;
        if (n > x->cap && grow(x, n))
                return -1;
        tk = malloc(n * sizeof(*tk));
        tv = malloc(n * sizeof(*tv));
        if (!tk || !tv) {
                free(tk);
                free(tv);
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
        htab_free(&x->extra);
        return htab_init(&x->extra, 64);
}
