#include "seg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seg_map.h"

SEG_POPCNT_CLONES size_t seg_popcount(const uint64_t *b, size_t words)
{
        size_t i, c = 0;

        for (i = 0; i < words; i++)
                c += (size_t)__builtin_popcountll(b[i]);
        return c;
}

void seg_bits_trim(uint64_t *b, size_t n)
{
        if (n % 64)
                b[n / 64] &= ((uint64_t)1 << (n % 64)) - 1;
}

long seg_store_find(const seg_store_t *s, const char *user_id)
{
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(s->user_ids[mid], user_id);
                if (c == 0)
                        return (long)mid;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

static void vindex_free(seg_vindex_t *x)
{
        if (!x)
                return;
        free(x->vals);
        free(x->start);
        free(x->rows);
        free(x);
}

/* A counting sort over the values' span. */
static int vindex_fill(seg_vindex_t *x, const seg_column_t *c, size_t n, int32_t lo, size_t span)
{
        uint32_t *cnt = calloc(span, sizeof(*cnt));
        size_t i, j = 0, k, off = 0;

        if (!cnt)
                return -1;
        for (i = 0; i < n; i++)
                cnt[seg_column_get(c, i) - lo]++;
        for (k = 0; k < span; k++)
                x->nvals += cnt[k] != 0;
        x->vals = malloc(x->nvals * sizeof(*x->vals));
        x->start = malloc((x->nvals + 1) * sizeof(*x->start));
        x->rows = malloc((n + 1) * sizeof(*x->rows));
        if (!x->vals || !x->start || !x->rows) {
                free(cnt);
                return -1;
        }
        for (k = 0; k < span; k++) { /* cnt becomes each value's next slot */
                uint32_t m = cnt[k];
                if (!m)
                        continue;
                x->vals[j] = lo + (int32_t)k;
                x->start[j++] = (uint32_t)off;
                cnt[k] = (uint32_t)off;
                off += m;
        }
        x->start[j] = (uint32_t)n;
        for (i = 0; i < n; i++)
                x->rows[cnt[seg_column_get(c, i) - lo]++] = (uint32_t)i;
        free(cnt);
        return 0;
}

static seg_vindex_t *vindex_build(const seg_column_t *c, size_t n)
{
        seg_vindex_t *x = calloc(1, sizeof(*x));
        int32_t lo = 0, hi = 0, v;
        size_t i;

        if (!x)
                return NULL;
        for (i = 0; i < n; i++) {
                v = seg_column_get(c, i);
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
        }
        if ((int64_t)hi - lo + 1 > SEG_VINDEX_SPAN || n > UINT32_MAX)
                return x; /* nvals 0: scan this column */
        if (vindex_fill(x, c, n, lo, (size_t)((int64_t)hi - lo + 1))) {
                vindex_free(x);
                return NULL;
        }
        return x;
}

const seg_vindex_t *seg_store_vindex(const seg_store_t *s, int col)
{
        if (!s->vindex || col < 0 || (size_t)col >= s->nvalues || !s->values[col].width)
                return NULL;
        if (!s->vindex[col])
                s->vindex[col] = vindex_build(&s->values[col], s->n);
        return s->vindex[col] && s->vindex[col]->nvals ? s->vindex[col] : NULL;
}

void seg_store_destroy(seg_store_t *s)
{
        size_t i;

        if (!s)
                return;
        for (i = 0; s->vindex && i < s->nvalues; i++)
                vindex_free(s->vindex[i]);
        free(s->vindex);
        for (i = 0; s->user_ids && i < s->n; i++)
                free(s->user_ids[i]);
        free(s->user_ids);
        for (i = 0; s->flags && i < s->nflags; i++)
                free(s->flags[i]);
        free(s->flags);
        for (i = 0; s->values && i < s->nvalues; i++)
                free(s->values[i].data);
        free(s->values);
        for (i = 0; s->ranges && i < s->nvalues; i++) {
                free(s->ranges[i].gen);
                free(s->ranges[i].lo);
                free(s->ranges[i].hi);
        }
        free(s->ranges);
        for (i = 0; s->unknown && i < s->nflags; i++)
                free(s->unknown[i]);
        free(s->unknown);
        free(s);
}

/* ---- builder ---- */

struct seg_builder {
        size_t nflags, nvalues, flag_bytes;
        int layout;
        char batch_id[128];
        int32_t reference_date;
        size_t n, cap;
        char **ids;
        uint8_t *flags;  /* n * flag_bytes, row-major (as the records hold them) */
        int32_t **vcols; /* nvalues columns, allocated on the first non-zero value */
        /* generalised values and flags, allocated on first use */
        uint8_t *unk;         /* n * flag_bytes, like flags */
        uint8_t **gis;        /* nvalues columns of 0/1: row generalised */
        int32_t **glo, **ghi; /* nvalues columns */
        size_t last;          /* row of the last add */
        seg_map_t index;
};

seg_builder_t *seg_builder_new(size_t nflags, size_t nvalues, int layout, const char *batch_id)
{
        seg_builder_t *b = calloc(1, sizeof(*b));

        if (!b)
                goto fail;
        b->nflags = nflags;
        b->nvalues = nvalues;
        b->flag_bytes = (nflags + 7) / 8;
        b->layout = layout;
        snprintf(b->batch_id, sizeof(b->batch_id), "%s", batch_id ? batch_id : "");
        b->vcols = calloc(nvalues ? nvalues : 1, sizeof(*b->vcols));
        b->gis = calloc(nvalues ? nvalues : 1, sizeof(*b->gis));
        b->glo = calloc(nvalues ? nvalues : 1, sizeof(*b->glo));
        b->ghi = calloc(nvalues ? nvalues : 1, sizeof(*b->ghi));
        if (!b->vcols || !b->gis || !b->glo || !b->ghi)
                goto fail;
        return b;
fail:
        seg_builder_destroy(b);
        return NULL;
}

void seg_builder_destroy(seg_builder_t *b)
{
        size_t i;

        if (!b)
                return;
        for (i = 0; b->ids && i < b->n; i++)
                free(b->ids[i]);
        free(b->ids);
        free(b->flags);
        for (i = 0; b->vcols && i < b->nvalues; i++)
                free(b->vcols[i]);
        free(b->vcols);
        for (i = 0; b->gis && i < b->nvalues; i++) {
                free(b->gis[i]);
                free(b->glo[i]);
                free(b->ghi[i]);
        }
        free(b->gis);
        free(b->glo);
        free(b->ghi);
        free(b->unk);
        seg_map_clear(&b->index);
        free(b);
}

size_t seg_builder_count(const seg_builder_t *b)
{
        return b->n;
}

static int grow_gen(seg_builder_t *b, size_t col, size_t cap)
{
        void *p;

        if (!(p = realloc(b->gis[col], cap)))
                return -1;
        b->gis[col] = p;
        if (!(p = realloc(b->glo[col], cap * sizeof(int32_t))))
                return -1;
        b->glo[col] = p;
        if (!(p = realloc(b->ghi[col], cap * sizeof(int32_t))))
                return -1;
        b->ghi[col] = p;
        return 0;
}

static int builder_grow(seg_builder_t *b)
{
        size_t cap = b->cap ? b->cap * 2 : 1024, i;
        void *p;

        if (!(p = realloc(b->ids, cap * sizeof(*b->ids))))
                return -1;
        b->ids = p;
        if (!(p = realloc(b->flags, cap * b->flag_bytes + 1)))
                return -1;
        b->flags = p;
        if (b->unk) {
                if (!(p = realloc(b->unk, cap * b->flag_bytes + 1)))
                        return -1;
                b->unk = p;
        }
        for (i = 0; i < b->nvalues; i++) {
                if (b->vcols[i]) {
                        if (!(p = realloc(b->vcols[i], cap * sizeof(int32_t))))
                                return -1;
                        b->vcols[i] = p;
                }
                if (b->gis[i] && grow_gen(b, i, cap))
                        return -1;
        }
        b->cap = cap;
        return 0;
}

static int builder_set_value(seg_builder_t *b, size_t row, size_t col, int32_t v)
{
        if (!b->vcols[col]) {
                if (v == 0)
                        return 0;
                b->vcols[col] = calloc(b->cap, sizeof(int32_t));
                if (!b->vcols[col])
                        return -1;
        }
        b->vcols[col][row] = v;
        return 0;
}

int seg_builder_add(seg_builder_t *b, const char *user_id, int32_t reference_date, int layout,
                    const uint8_t *flags, size_t flags_len, const int32_t *values,
                    size_t values_len, char *errstr, size_t errstr_size)
{
        size_t row, i, n;

        if (layout != b->layout) {
                snprintf(errstr, errstr_size, "layout %d, dictionary has %d", layout, b->layout);
                return -1;
        }
        if (!user_id || !*user_id) {
                snprintf(errstr, errstr_size, "empty user id");
                return -1;
        }
        if (!seg_map_get(&b->index, user_id, &row)) {
                if (b->n == b->cap && builder_grow(b))
                        goto oom;
                row = b->n;
                if (!(b->ids[row] = strdup(user_id)))
                        goto oom;
                b->n++;
                if (seg_map_put(&b->index, b->ids[row], row))
                        goto oom;
        }
        b->reference_date = reference_date;
        n = flags_len < b->flag_bytes ? flags_len : b->flag_bytes;
        memset(b->flags + row * b->flag_bytes, 0, b->flag_bytes);
        if (n)
                memcpy(b->flags + row * b->flag_bytes, flags, n);
        for (i = 0; i < b->nvalues; i++) {
                if (builder_set_value(b, row, i, i < values_len ? values[i] : 0))
                        goto oom;
                if (b->gis[i]) /* a replaced record loses its ranges */
                        b->gis[i][row] = 0;
        }
        if (b->unk)
                memset(b->unk + row * b->flag_bytes, 0, b->flag_bytes);
        b->last = row;
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

int seg_builder_generalise(seg_builder_t *b, const int32_t *triples, size_t ntriples,
                           const uint8_t *unknown, size_t unknown_len, char *errstr,
                           size_t errstr_size)
{
        size_t i, row = b->last, n = unknown_len < b->flag_bytes ? unknown_len : b->flag_bytes;

        if (!b->n) {
                snprintf(errstr, errstr_size, "no record to generalise");
                return -1;
        }
        for (i = 0; i < ntriples; i++) {
                int32_t pos = triples[3 * i], lo = triples[3 * i + 1], hi = triples[3 * i + 2];
                if (pos < 0 || (size_t)pos >= b->nvalues || lo > hi) {
                        snprintf(errstr, errstr_size, "bad range (%d, %d, %d)", pos, lo, hi);
                        return -1;
                }
                if (!b->gis[pos]) {
                        if (grow_gen(b, (size_t)pos, b->cap))
                                goto oom;
                        memset(b->gis[pos], 0, b->cap);
                }
                b->gis[pos][row] = 1;
                b->glo[pos][row] = lo;
                b->ghi[pos][row] = hi;
        }
        for (i = 0; i < n && !b->unk; i++)
                if (unknown[i] && !(b->unk = calloc(b->cap * b->flag_bytes + 1, 1)))
                        goto oom;
        if (b->unk && n)
                memcpy(b->unk + row * b->flag_bytes, unknown, n);
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

static const seg_builder_t *sort_ctx;

static int cmp_rows(const void *a, const void *b)
{
        return strcmp(sort_ctx->ids[*(const size_t *)a], sort_ctx->ids[*(const size_t *)b]);
}

/* Flag bits set in a row beyond nflags are ignored: the dictionary decides
 * what exists. */
static int transpose_bits(const uint8_t *rows, size_t flag_bytes, size_t nflags, size_t n,
                          size_t words, const size_t *perm, uint64_t **out)
{
        size_t i, f;

        for (i = 0; i < n; i++) {
                const uint8_t *row = rows + perm[i] * flag_bytes;
                for (f = 0; f < nflags; f++) {
                        if (!(row[f / 8] & (1u << (f % 8))))
                                continue;
                        if (!out[f] && !(out[f] = calloc(words, 8)))
                                return -1;
                        seg_bit_set(out[f], i);
                }
        }
        return 0;
}

static int transpose_flags(const seg_builder_t *b, seg_store_t *s, const size_t *perm)
{
        if (transpose_bits(b->flags, b->flag_bytes, s->nflags, s->n, s->words, perm, s->flags))
                return -1;
        return b->unk ? transpose_bits(b->unk, b->flag_bytes, s->nflags, s->n, s->words, perm,
                                       s->unknown)
                      : 0;
}

/* Moves column col's generalised values into the store's order. */
static int transpose_ranges(const seg_builder_t *b, seg_store_t *s, size_t col, const size_t *perm)
{
        seg_range_col_t *r = &s->ranges[col];
        size_t i;

        r->gen = calloc(s->words + 1, 8);
        r->lo = malloc((s->n + 1) * sizeof(int32_t));
        r->hi = malloc((s->n + 1) * sizeof(int32_t));
        if (!r->gen || !r->lo || !r->hi)
                return -1;
        for (i = 0; i < s->n; i++) {
                if (!b->gis[col][perm[i]])
                        continue;
                seg_bit_set(r->gen, i);
                r->lo[i] = b->glo[col][perm[i]];
                r->hi[i] = b->ghi[col][perm[i]];
        }
        return 0;
}

static int narrow_column(const int32_t *src, const size_t *perm, size_t n, seg_column_t *out)
{
        int32_t lo = 0, hi = 0;
        size_t i;

        for (i = 0; i < n; i++) {
                lo = src[i] < lo ? src[i] : lo;
                hi = src[i] > hi ? src[i] : hi;
        }
        out->width = (lo >= INT8_MIN && hi <= INT8_MAX)     ? 1
                     : (lo >= INT16_MIN && hi <= INT16_MAX) ? 2
                                                            : 4;
        if (lo == 0 && hi == 0)
                out->width = 0;
        if (!out->width)
                return 0;
        if (!(out->data = malloc(n * out->width + 1)))
                return -1;
        for (i = 0; i < n; i++) {
                int32_t v = src[perm[i]];
                if (out->width == 1)
                        ((int8_t *)out->data)[i] = (int8_t)v;
                else if (out->width == 2)
                        ((int16_t *)out->data)[i] = (int16_t)v;
                else
                        ((int32_t *)out->data)[i] = v;
        }
        return 0;
}

seg_store_t *seg_builder_finish(seg_builder_t *b)
{
        seg_store_t *s = calloc(1, sizeof(*s));
        size_t *perm = malloc((b->n ? b->n : 1) * sizeof(*perm));
        size_t i;

        if (!s || !perm)
                goto fail;
        s->n = b->n;
        s->words = seg_words(b->n);
        s->nflags = b->nflags;
        s->nvalues = b->nvalues;
        s->layout = b->layout;
        s->reference_date = b->reference_date;
        memcpy(s->batch_id, b->batch_id, sizeof(s->batch_id));
        for (i = 0; i < b->n; i++)
                perm[i] = i;
        sort_ctx = b; /* qsort has no context argument in C11 */
        qsort(perm, b->n, sizeof(*perm), cmp_rows);
        s->user_ids = calloc(b->n ? b->n : 1, sizeof(char *));
        s->flags = calloc(b->nflags ? b->nflags : 1, sizeof(uint64_t *));
        s->values = calloc(b->nvalues ? b->nvalues : 1, sizeof(seg_column_t));
        s->ranges = calloc(b->nvalues ? b->nvalues : 1, sizeof(seg_range_col_t));
        s->unknown = calloc(b->nflags ? b->nflags : 1, sizeof(uint64_t *));
        s->vindex = calloc(b->nvalues ? b->nvalues : 1, sizeof(seg_vindex_t *));
        if (!s->user_ids || !s->flags || !s->values || !s->ranges || !s->unknown || !s->vindex ||
            transpose_flags(b, s, perm))
                goto fail;
        for (i = 0; i < b->nvalues; i++)
                if ((b->vcols[i] && narrow_column(b->vcols[i], perm, b->n, &s->values[i])) ||
                    (b->gis[i] && transpose_ranges(b, s, i, perm)))
                        goto fail;
        for (i = 0; i < b->n; i++) {
                s->user_ids[i] = b->ids[perm[i]];
                b->ids[perm[i]] = NULL;
        }
        free(perm);
        seg_builder_destroy(b);
        return s;
fail:
        free(perm);
        seg_builder_destroy(b);
        if (s)
                s->n = 0; /* user_ids not yet moved */
        seg_store_destroy(s);
        return NULL;
}
