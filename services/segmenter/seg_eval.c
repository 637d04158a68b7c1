/* Evaluation of compiled conditions over the columnar store, and dumps. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seg_expr.h"
#include "seg_expr_int.h"

enum { TRI_FALSE = 0, TRI_MAYBE = 1, TRI_TRUE = 2 };

#define YM_BASE_YEAR 1800
#define YM_YEARS     400

int seg_days_in_month(int y, int m)
{
        static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        if (m < 1 || m > 12)
                return 0;
        return dim[m - 1] + (m == 2 && leap);
}

/* Days since 1970-01-01 to civil date (Howard Hinnant's algorithm). */
static seg_date_t civil_from_days(int64_t z)
{
        seg_date_t d;
        int64_t era, doe, yoe, doy, mp, y;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        y = yoe + era * 400;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        d.d = (int)(doy - (153 * mp + 2) / 5 + 1);
        d.m = (int)(mp < 10 ? mp + 3 : mp - 9);
        d.y = (int)(y + (d.m <= 2));
        return d;
}

seg_date_t seg_date_from_ms(int64_t ms)
{
        int64_t jst = ms + 9 * 3600 * 1000LL;
        int64_t days = jst >= 0 ? jst / 86400000LL : -((-jst + 86399999LL) / 86400000LL);

        return civil_from_days(days);
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
        int all_days = s.d >= seg_days_in_month(y0, m0);
        int64_t lo, hi;

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

typedef struct age_table {
        uint8_t tri[YM_YEARS * 12];
        uint8_t absent; /* for 0 / invalid year-months */
} age_table_t;

static void age_table_fill(age_table_t *tb, const node_t *n, seg_date_t s)
{
        int i;

        for (i = 0; i < YM_YEARS * 12; i++)
                tb->tri[i] = (uint8_t)age_tri(n, YM_BASE_YEAR + i / 12, i % 12 + 1, s);
        tb->absent = n->child ? TRI_FALSE : TRI_MAYBE;
}

static inline uint8_t age_lookup(const age_table_t *tb, int32_t ym)
{
        int y = ym / 100, m = ym % 100;

        if (ym <= 0 || m < 1 || m > 12 || y < YM_BASE_YEAR || y >= YM_BASE_YEAR + YM_YEARS)
                return tb->absent;
        return tb->tri[(y - YM_BASE_YEAR) * 12 + m - 1];
}

/* ORs (Kleene or = bitwise or of t and of p) one column's result in. */
static void eval_age_column(const age_table_t *tb, const seg_column_t *c, size_t nres, uint64_t *t,
                            uint64_t *p)
{
        size_t i;

        for (i = 0; i < nres; i++) {
                uint8_t r = age_lookup(tb, seg_column_get(c, i));
                uint64_t bit = (uint64_t)1 << (i % 64);
                if (r == TRI_TRUE)
                        t[i / 64] |= bit;
                if (r != TRI_FALSE)
                        p[i / 64] |= bit;
        }
}

static int eval_age(const node_t *n, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p)
{
        const seg_store_t *s = ctx->store;
        age_table_t *tb = malloc(sizeof(*tb));
        int i;

        if (!tb)
                return -1;
        age_table_fill(tb, n, ctx->send);
        memset(t, 0, s->words * 8);
        memset(p, 0, s->words * 8);
        for (i = 0; i < n->ncols; i++)
                if ((size_t)n->cols[i] < s->nvalues)
                        eval_age_column(tb, &s->values[n->cols[i]], s->n, t, p);
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

static int value_matches(const node_t *n, int32_t v)
{
        switch (n->kind) {
        case N_CMP:
                switch (n->op) {
                case OP_EQ:
                        return v == n->k;
                case OP_NE:
                        return v != n->k;
                case OP_LT:
                        return v < n->k;
                case OP_LE:
                        return v <= n->k;
                case OP_GT:
                        return v > n->k;
                default:
                        return v >= n->k;
                }
        case N_RANGE:
                return v >= n->lo && v <= n->hi;
        default:
                return in_set(n, v);
        }
}

#define SCAN(T)                                                                                    \
        do {                                                                                       \
                const T *d = (const T *)c->data;                                                   \
                for (i = 0; i < s->n; i++)                                                         \
                        if (value_matches(n, d[i]))                                                \
                                t[i / 64] |= (uint64_t)1 << (i % 64);                              \
        } while (0)

static void eval_value(const node_t *n, const seg_store_t *s, uint64_t *t)
{
        const seg_column_t *c = (size_t)n->pos < s->nvalues ? &s->values[n->pos] : NULL;
        size_t i;

        memset(t, 0, s->words * 8);
        if (!c || !c->width) { /* every value is 0 */
                int hit = value_matches(n, 0);
                if (hit) {
                        memset(t, 0xff, s->words * 8);
                        seg_bits_trim(t, s->n);
                }
                return;
        }
        if (c->width == 1)
                SCAN(int8_t);
        else if (c->width == 2)
                SCAN(int16_t);
        else
                SCAN(int32_t);
}

static void eval_leaf(const node_t *n, const seg_eval_ctx_t *ctx, uint64_t *t)
{
        const seg_store_t *s = ctx->store;
        const uint64_t *src = NULL;

        switch (n->kind) {
        case N_CONST:
                memset(t, n->k ? 0xff : 0, s->words * 8);
                seg_bits_trim(t, s->n);
                return;
        case N_FLAG:
                src = (size_t)n->pos < s->nflags ? s->flags[n->pos] : NULL;
                break;
        case N_CATEGORY:
                src = ctx->category ? ctx->category(ctx->opaque, n->name) : NULL;
                break;
        default:
                eval_value(n, s, t);
                return;
        }
        if (src)
                memcpy(t, src, s->words * 8);
        else
                memset(t, 0, s->words * 8);
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
                eval_leaf(n, ctx, t);
                memcpy(p, t, w * 8);
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
