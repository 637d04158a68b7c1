/* Evaluation of compiled conditions over the columnar store, and dumps. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/jdate.h"
#include "seg_expr.h"
#include "seg_expr_int.h"

enum { TRI_FALSE = 0, TRI_MAYBE = 1, TRI_TRUE = 2 };

#define YM_BASE_YEAR 1800
#define YM_YEARS     400

seg_date_t seg_date_from_ms(int64_t ms)
{
        int64_t jst = ms + 9 * 3600 * 1000LL;
        int64_t days = jst >= 0 ? jst / 86400000LL : -((-jst + 86399999LL) / 86400000LL);
        osh_date_t d;

        osh_date_from_days((int32_t)days, &d);
        return (seg_date_t){d.year, d.month, d.day};
}

/* ---- three-valued age over a year-month ---- */

static int in_range(int64_t v, const node_t *n)
{
        return v >= n->lo && v <= n->hi;
}

/* The ages (years or completed months) someone born in y0-m0 can have on
 * date s: [lo, hi], hi - lo <= 1. The day of birth d0 is unknown: it is
 * reached by s.d only if d0 <= s.d, which holds for every d0 only when s.d
 * is at least the length of the birth month. */
static int age_tri(const node_t *n, int y0, int m0, seg_date_t s)
{
        int all_days = s.d >= osh_date_days_in_month(y0, m0);
        int64_t lo, hi;

        if (n->ago) /* born in the year-month `ago` months before the send month */
                return in_range((int64_t)(s.y - y0) * 12 + (s.m - m0), n) ? TRI_TRUE : TRI_FALSE;
        if (n->months) {
                hi = (int64_t)(s.y - y0) * 12 + (s.m - m0);
                lo = all_days ? hi : hi - 1;
        } else if (m0 != s.m) {
                hi = lo = s.y - y0 - (m0 > s.m);
        } else {
                hi = s.y - y0;
                lo = all_days ? hi : hi - 1;
        }
        if (in_range(lo, n) && in_range(hi, n))
                return TRI_TRUE;
        return (in_range(lo, n) || in_range(hi, n)) ? TRI_MAYBE : TRI_FALSE;
}

/* Tri-state per YYYYMM value, indexed directly (no division per resident):
 * 40,000 bytes cover 1800-01 .. 2199-12; invalid months hold `absent`. */
#define YM_MIN   (YM_BASE_YEAR * 100 + 1)
#define YM_SLOTS (YM_YEARS * 100)

typedef struct age_table {
        uint8_t tri[YM_SLOTS + 1]; /* the last slot: out of range, `absent` */
        uint8_t absent;            /* for 0 / invalid year-months */
} age_table_t;

static void age_table_fill(age_table_t *tb, const node_t *n, seg_date_t s)
{
        int i;

        tb->absent = n->child ? TRI_FALSE : TRI_MAYBE;
        for (i = 0; i < YM_SLOTS; i++) {
                int ym = YM_MIN + i, m = ym % 100;
                tb->tri[i] = m >= 1 && m <= 12 ? (uint8_t)age_tri(n, ym / 100, m, s) : tb->absent;
        }
        tb->tri[YM_SLOTS] = tb->absent;
}

static inline uint8_t age_lookup(const age_table_t *tb, int32_t ym)
{
        uint32_t i = (uint32_t)ym - (uint32_t)YM_MIN;

        /* a select, not a branch: most child columns are 0 (no child) */
        return tb->tri[i < YM_SLOTS ? i : YM_SLOTS];
}

/* ORs (Kleene or = bitwise or of t and of p) one column's result in, a
 * 64-resident word at a time. */
static void eval_age_column(const age_table_t *tb, const seg_column_t *c, size_t nres, uint64_t *t,
                            uint64_t *p)
{
        size_t w, i, words = seg_words(nres);

        for (w = 0; w < words; w++) {
                size_t end = (w + 1) * 64 < nres ? (w + 1) * 64 : nres;
                uint64_t tw = 0, pw = 0;
                for (i = w * 64; i < end; i++) {
                        uint8_t r = age_lookup(tb, seg_column_get(c, i));
                        tw |= (uint64_t)(r >> 1) << (i % 64);       /* TRUE = 2 */
                        pw |= (uint64_t)((r + 1) >> 1) << (i % 64); /* MAYBE or TRUE */
                }
                t[w] |= tw;
                p[w] |= pw;
        }
}

/* Kleene value of a test over every value in lo..hi: TRUE if it holds for
 * all, FALSE if for none. all/some are how many hold vs how many exist. */
static uint8_t tri_of(int64_t holds, int64_t total)
{
        return holds == 0 ? TRI_FALSE : holds == total ? TRI_TRUE : TRI_MAYBE;
}

/* An age test over a generalised year-month lo..hi (YYYYMM bounds): each
 * month's own answer, combined. */
static uint8_t age_range_tri(const age_table_t *tb, int32_t lo, int32_t hi)
{
        int seen_t = 0, seen_f = 0, total = 0;

        lo = lo < YM_MIN ? YM_MIN : lo;
        hi = hi >= YM_MIN + YM_SLOTS ? YM_MIN + YM_SLOTS - 1 : hi;
        for (int32_t ym = lo; ym <= hi; ym = ym % 100 >= 12 ? (ym / 100 + 1) * 100 + 1 : ym + 1) {
                uint8_t r;
                if (ym % 100 == 0)
                        continue;
                r = age_lookup(tb, ym);
                seen_t |= r == TRI_TRUE;
                seen_f |= r == TRI_FALSE;
                total++;
                if (r == TRI_MAYBE || (seen_t && seen_f))
                        return TRI_MAYBE; /* nothing later can change it */
        }
        if (!total)
                return tb->absent;
        return seen_t ? TRI_TRUE : TRI_FALSE;
}

static void set_tri(uint64_t *t, uint64_t *p, size_t i, uint8_t r)
{
        uint64_t m = (uint64_t)1 << (i % 64);

        t[i / 64] = r == TRI_TRUE ? t[i / 64] | m : t[i / 64] & ~m;
        p[i / 64] = r != TRI_FALSE ? p[i / 64] | m : p[i / 64] & ~m;
}

/* Residents with a generalised value in any of n's columns: recomputed
 * from their ranges, some-child = max over the columns. */
static void age_fix_generalised(const age_table_t *tb, const node_t *n, const seg_store_t *s,
                                uint64_t *t, uint64_t *p)
{
        for (int c = 0; c < n->ncols; c++) {
                const uint64_t *g =
                    s->ranges && (size_t)n->cols[c] < s->nvalues ? s->ranges[n->cols[c]].gen : NULL;
                for (size_t w = 0; g && w < s->words; w++) {
                        for (uint64_t bits = g[w]; bits; bits &= bits - 1) {
                                size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
                                uint8_t best = TRI_FALSE;
                                for (int k = 0; k < n->ncols; k++) {
                                        const seg_range_col_t *rc = &s->ranges[n->cols[k]];
                                        uint8_t r =
                                            rc->gen && seg_bit(rc->gen, i)
                                                ? age_range_tri(tb, rc->lo[i], rc->hi[i])
                                                : age_lookup(tb, seg_column_get(
                                                                     &s->values[n->cols[k]], i));
                                        best = r > best ? r : best;
                                }
                                set_tri(t, p, i, best);
                        }
                }
        }
}

/* ---- over a column's value index (seg_store_vindex) ---- */

static void rows_set(uint64_t *b, const seg_vindex_t *x, size_t j)
{
        for (uint32_t k = x->start[j]; k < x->start[j + 1]; k++)
                b[x->rows[k] / 64] |= (uint64_t)1 << (x->rows[k] % 64);
}

static void rows_clear(uint64_t *b, const seg_vindex_t *x, size_t j)
{
        for (uint32_t k = x->start[j]; k < x->start[j + 1]; k++)
                b[x->rows[k] / 64] &= ~((uint64_t)1 << (x->rows[k] % 64));
}

/* The age test's value for one year-month, as the table holds it. */
static uint8_t age_value_tri(const node_t *n, int32_t ym, uint8_t absent, seg_date_t s)
{
        uint32_t i = (uint32_t)ym - (uint32_t)YM_MIN;
        int m = ym % 100;

        if (i >= YM_SLOTS || m < 1 || m > 12)
                return absent;
        return (uint8_t)age_tri(n, ym / 100, m, s);
}

/* ORs one column's answer in: each distinct value is judged once, and only
 * the residents it selects are touched. */
static void age_indexed(const node_t *n, const seg_vindex_t *x, seg_date_t s, uint64_t *t,
                        uint64_t *p)
{
        uint8_t absent = n->child ? TRI_FALSE : TRI_MAYBE;

        for (size_t j = 0; j < x->nvals; j++) {
                uint8_t r = age_value_tri(n, x->vals[j], absent, s);
                if (r == TRI_TRUE)
                        rows_set(t, x, j);
                if (r != TRI_FALSE)
                        rows_set(p, x, j);
        }
}

/* The year-month table, only for a column without an index and for
 * generalised ranges: filling it judges 40,000 year-months. */
static age_table_t *age_table_new(const node_t *n, seg_date_t s)
{
        age_table_t *tb = malloc(sizeof(*tb));

        if (tb)
                age_table_fill(tb, n, s);
        return tb;
}

static int has_generalised(const node_t *n, const seg_store_t *s)
{
        for (int c = 0; c < n->ncols; c++)
                if (s->ranges && (size_t)n->cols[c] < s->nvalues && s->ranges[n->cols[c]].gen)
                        return 1;
        return 0;
}

static int eval_age(const node_t *n, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p)
{
        const seg_store_t *s = ctx->store;
        age_table_t *tb = NULL;
        const seg_vindex_t *x;
        int i;

        memset(t, 0, s->words * 8);
        memset(p, 0, s->words * 8);
        for (i = 0; i < n->ncols; i++) {
                const seg_column_t *c =
                    (size_t)n->cols[i] < s->nvalues ? &s->values[n->cols[i]] : NULL;
                if (!c)
                        continue;
                if ((x = seg_store_vindex(s, n->cols[i]))) {
                        age_indexed(n, x, ctx->send, t, p);
                        continue;
                }
                if (!tb && !(tb = age_table_new(n, ctx->send)))
                        return -1;
                eval_age_column(tb, c, s->n, t, p);
        }
        if (has_generalised(n, s)) {
                if (!tb && !(tb = age_table_new(n, ctx->send)))
                        return -1;
                age_fix_generalised(tb, n, s, t, p);
        }
        free(tb);
        return 0;
}

/* ---- certain leaves: one bitset, p = t ---- */

static int in_set(const node_t *n, int32_t v)
{
        size_t lo = 0, hi = n->nset;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (n->set[mid] == v)
                        return 1;
                if (n->set[mid] < v)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return 0;
}

/* A comparison or range as an interval [lo, hi] (empty if lo > hi),
 * negated for != so that the scan is one branch-free test. */
typedef struct interval {
        int64_t lo, hi;
        int neg;
} interval_t;

static interval_t interval_of(const node_t *n)
{
        interval_t r = {INT32_MIN, INT32_MAX, 0};

        if (n->kind == N_RANGE)
                return (interval_t){n->lo, n->hi, 0};
        switch (n->op) {
        case OP_EQ:
        case OP_NE:
                return (interval_t){n->k, n->k, n->op == OP_NE};
        case OP_LT:
                r.hi = (int64_t)n->k - 1;
                break;
        case OP_LE:
                r.hi = n->k;
                break;
        case OP_GT:
                r.lo = (int64_t)n->k + 1;
                break;
        default:
                r.lo = n->k;
        }
        return r;
}

static int value_matches(const node_t *n, int32_t v)
{
        interval_t r;

        if (n->kind == N_SET)
                return in_set(n, v);
        r = interval_of(n);
        return (v >= r.lo && v <= r.hi) != r.neg;
}

/* Builds each 64-resident word in a register; TEST(v) is 0 or 1. */
#define SCAN(T, TEST)                                                                              \
        do {                                                                                       \
                const T *d = (const T *)c->data;                                                   \
                for (w = 0; w < s->words; w++) {                                                   \
                        size_t end = (w + 1) * 64 < s->n ? (w + 1) * 64 : s->n;                    \
                        uint64_t word = 0;                                                         \
                        for (i = w * 64; i < end; i++)                                             \
                                word |= (uint64_t)(TEST(d[i])) << (i % 64);                        \
                        t[w] = word;                                                               \
                }                                                                                  \
        } while (0)
#define IN_INTERVAL(v) (((uint64_t)((int64_t)(v)-r.lo) <= span) ^ (uint64_t)r.neg)
#define IN_SET(v)      ((uint64_t)in_set(n, (v)))
#define SCAN_WIDTH(TEST)                                                                           \
        do {                                                                                       \
                if (c->width == 1)                                                                 \
                        SCAN(int8_t, TEST);                                                        \
                else if (c->width == 2)                                                            \
                        SCAN(int16_t, TEST);                                                       \
                else                                                                               \
                        SCAN(int32_t, TEST);                                                       \
        } while (0)

/* A value test over the column's index: the residents of the matching
 * values are set, or, when they are most of the city, everybody but the
 * others' residents. */
static void value_indexed(const node_t *n, const seg_vindex_t *x, const seg_store_t *s, uint64_t *t)
{
        size_t j, matched = 0;
        int set;

        for (j = 0; j < x->nvals; j++)
                if (value_matches(n, x->vals[j]))
                        matched += x->start[j + 1] - x->start[j];
        set = matched <= s->n / 2;
        memset(t, set ? 0 : 0xff, s->words * 8);
        seg_bits_trim(t, s->n);
        for (j = 0; j < x->nvals; j++)
                if (value_matches(n, x->vals[j]) == set)
                        (set ? rows_set : rows_clear)(t, x, j);
}

static void eval_value(const node_t *n, const seg_store_t *s, uint64_t *t)
{
        const seg_column_t *c = (size_t)n->pos < s->nvalues ? &s->values[n->pos] : NULL;
        const seg_vindex_t *x;
        interval_t r;
        uint64_t span;
        size_t i, w;

        if (!c || !c->width) { /* every value is 0 */
                memset(t, value_matches(n, 0) ? 0xff : 0, s->words * 8);
                seg_bits_trim(t, s->n);
                return;
        }
        if ((x = seg_store_vindex(s, n->pos))) {
                value_indexed(n, x, s, t);
                return;
        }
        if (n->kind == N_SET) {
                SCAN_WIDTH(IN_SET);
                return;
        }
        r = interval_of(n);
        if (r.lo > r.hi) { /* empty: nothing, or everything when negated */
                memset(t, r.neg ? 0xff : 0, s->words * 8);
                seg_bits_trim(t, s->n);
                return;
        }
        span = (uint64_t)(r.hi - r.lo);
        SCAN_WIDTH(IN_INTERVAL);
}

/* Members of n's set in lo..hi (the set is sorted and distinct). */
static int64_t set_count_in(const node_t *n, int32_t lo, int32_t hi)
{
        size_t a = 0, b = n->nset, from;

        while (a < b) { /* first member >= lo */
                size_t mid = a + (b - a) / 2;
                if (n->set[mid] < lo)
                        a = mid + 1;
                else
                        b = mid;
        }
        for (from = a; a < n->nset && n->set[a] <= hi; a++)
                ;
        return (int64_t)(a - from);
}

/* A value test over a generalised value lo..hi. */
static uint8_t value_range_tri(const node_t *n, int32_t lo, int32_t hi)
{
        int64_t total = (int64_t)hi - lo + 1, holds;
        interval_t r;

        if (n->kind == N_SET)
                return tri_of(set_count_in(n, lo, hi), total);
        r = interval_of(n);
        if (r.lo > r.hi)
                holds = 0;
        else
                holds = (r.hi < hi ? r.hi : hi) - (r.lo > lo ? r.lo : lo) + 1;
        holds = holds < 0 ? 0 : holds;
        return tri_of(r.neg ? total - holds : holds, total);
}

/* The p of a value test: t, then residents with a generalised value at
 * n->pos recomputed from their ranges. */
static void value_fix_generalised(const node_t *n, const seg_store_t *s, uint64_t *t, uint64_t *p)
{
        const seg_range_col_t *rc =
            s->ranges && (size_t)n->pos < s->nvalues ? &s->ranges[n->pos] : NULL;

        memcpy(p, t, s->words * 8);
        for (size_t w = 0; rc && rc->gen && w < s->words; w++)
                for (uint64_t bits = rc->gen[w]; bits; bits &= bits - 1) {
                        size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
                        set_tri(t, p, i, value_range_tri(n, rc->lo[i], rc->hi[i]));
                }
}

/* A flag: certain where set and known, possible where set or unknown. */
static void flag_tri(const uint64_t *src, const uint64_t *unk, size_t words, uint64_t *t,
                     uint64_t *p)
{
        for (size_t w = 0; w < words; w++) {
                uint64_t f = src ? src[w] : 0, u = unk ? unk[w] : 0;
                t[w] = f & ~u;
                p[w] = f | u;
        }
}

static void eval_leaf(const node_t *n, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p)
{
        const seg_store_t *s = ctx->store;
        const uint64_t *src = NULL;

        switch (n->kind) {
        case N_CONST:
                memset(t, n->k ? 0xff : 0, s->words * 8);
                seg_bits_trim(t, s->n);
                break;
        case N_FLAG:
                if ((size_t)n->pos >= s->nflags)
                        break;
                flag_tri(s->flags[n->pos], s->unknown ? s->unknown[n->pos] : NULL, s->words, t, p);
                return;
        case N_CATEGORY:
                src = ctx->category ? ctx->category(ctx->opaque, n->name) : NULL;
                if (src)
                        memcpy(t, src, s->words * 8);
                else
                        memset(t, 0, s->words * 8);
                break;
        default:
                eval_value(n, s, t);
                value_fix_generalised(n, s, t, p);
                return;
        }
        if (n->kind == N_FLAG)
                memset(t, 0, s->words * 8);
        memcpy(p, t, s->words * 8);
}

static int eval_node(const node_t *n, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p);

static int eval_binary(const node_t *n, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p)
{
        size_t w = ctx->store->words, i;
        uint64_t *t2 = malloc(w * 8 + 8), *p2 = malloc(w * 8 + 8);
        int rc = -1;

        if (!t2 || !p2 || eval_node(n->a, ctx, t, p) || eval_node(n->b, ctx, t2, p2))
                goto fail;
        for (i = 0; i < w; i++) {
                if (n->kind == N_AND) {
                        t[i] &= t2[i];
                        p[i] &= p2[i];
                } else {
                        t[i] |= t2[i];
                        p[i] |= p2[i];
                }
        }
        rc = 0;
fail:
        free(t2);
        free(p2);
        return rc;
}

static int eval_node(const node_t *n, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p)
{
        size_t w = ctx->store->words, i;

        switch (n->kind) {
        case N_AND:
        case N_OR:
                return eval_binary(n, ctx, t, p);
        case N_NOT:
                if (eval_node(n->a, ctx, t, p))
                        return -1;
                for (i = 0; i < w; i++) { /* TRUE <-> FALSE, MAYBE stays */
                        uint64_t nt = ~p[i];
                        p[i] = ~t[i];
                        t[i] = nt;
                }
                seg_bits_trim(t, ctx->store->n);
                seg_bits_trim(p, ctx->store->n);
                return 0;
        case N_AGE:
                return eval_age(n, ctx, t, p);
        default:
                eval_leaf(n, ctx, t, p);
                return 0;
        }
}

int seg_expr_eval(const seg_expr_t *e, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p)
{
        if (!ctx->store->words)
                return 0;
        return eval_node(e->root, ctx, t, p);
}

/* ---- dump ---- */

typedef struct out {
        char *buf;
        size_t size, len;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out_t *o, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(o->len < o->size ? o->buf + o->len : NULL,
                      o->len < o->size ? o->size - o->len : 0, fmt, ap);
        va_end(ap);
        if (n > 0)
                o->len += (size_t)n;
}

static void dump_node(const node_t *n, out_t *o)
{
        static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};
        size_t i;

        switch (n->kind) {
        case N_CONST:
                put(o, "%s", n->k ? "true" : "false");
                break;
        case N_FLAG:
                put(o, "%s", n->name);
                break;
        case N_CMP:
                put(o, "(%s %s %d)", ops[n->op], n->name, n->k);
                break;
        case N_SET:
                put(o, "(in %s", n->name);
                for (i = 0; i < n->nset; i++)
                        put(o, " %d", n->set[i]);
                put(o, ")");
                break;
        case N_RANGE:
                put(o, "(range %s %d %d)", n->name, n->lo, n->hi);
                break;
        case N_AGE:
                if (n->hi == INT32_MAX)
                        put(o, "(%s %d max)", n->name, n->lo);
                else
                        put(o, "(%s %d %d)", n->name, n->lo, n->hi);
                break;
        case N_CATEGORY:
                put(o, "(category %s)", n->name);
                break;
        case N_NOT:
                put(o, "(not ");
                dump_node(n->a, o);
                put(o, ")");
                break;
        default:
                put(o, "(%s ", n->kind == N_AND ? "and" : "or");
                dump_node(n->a, o);
                put(o, " ");
                dump_node(n->b, o);
                put(o, ")");
        }
}

size_t seg_expr_dump(const seg_expr_t *e, char *buf, size_t size)
{
        out_t o = {buf, size, 0};

        if (size)
                buf[0] = '\0';
        dump_node(e->root, &o);
        return o.len;
}
