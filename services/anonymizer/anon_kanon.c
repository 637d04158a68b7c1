#include "anon_kanon.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "oshirase/grow.h"
#include "oshirase/par.h"

#define YM_ANY_LO  180001 /* the range a year-month generalised to "any" spans */
#define YM_ANY_HI  219912
#define NONE       UINT32_MAX
#define DROPPED    0xff /* a level that stands for "left out" when measuring */
#define MAX_ROUNDS (ANON_MAX_QUASI * ANON_MAX_STEPS + 1)
/* score = cost * 4, + 5 if the step does not bring the class to k: a step
 * that reaches k wins over one that does not at up to one cost more */
#define COST_SCALE 4
#define NO_REACH   5
/* Key words: a field per quasi-identifier, at most 32 bits, none straddling
 * two words, so ANON_MAX_QUASI fields always fit in ANON_MAX_QUASI / 2. */
#define KW        (ANON_MAX_QUASI / 2)
#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Where a quasi-identifier's field sits in a packed key. */
typedef struct kfield {
        uint8_t word, shift;
        uint64_t mask; /* in its word */
} kfield_t;

/* Open-addressing table of packed keys (linear probing, load <= 1/2). A
 * slot holds the key hash's low 32 bits above the entry index + 1 (0 =
 * empty): probing compares those bits before touching the key, and growing
 * or deleting (backward shift) never reads a key. Entries (key, count) are
 * indexed densely; the enforcement's classes are its entries. */
typedef struct ktab {
        uint64_t *slot;
        size_t cap;
        uint64_t *key; /* nw words per entry */
        int32_t *count;
        size_t n, key_cap, count_cap;
        int nw;
} ktab_t;

struct anon_kanon {
        size_t n;
        int nw;                       /* words of a packed key */
        kfield_t fld[ANON_MAX_QUASI]; /* per dims index */
        int soff[ANON_MAX_QUASI];     /* dim d level L's code at code[i * S + soff[d] + L] */
        size_t S;
        uint32_t *code; /* n * S: each record's field at every level */
        uint8_t *lvl;   /* n * ndims: each record's level per quasi-identifier (after judging) */
        uint64_t *hb;   /* n * 2: the household-age group's bits */
        uint32_t *roff, *uoff;
        int32_t *rbuf; /* per generalised record: count, then triples */
        size_t rlen, rcap;
        uint8_t *ubuf;
        size_t ulen, ucap;
        size_t flag_bytes;
};

static int32_t floordiv(int64_t a, int64_t b)
{
        return (int32_t)(a >= 0 ? a / b : -((-a + b - 1) / b));
}

static int32_t ym_index(int32_t v)
{
        int m = v % 100;

        return (v / 100) * 12 + (m >= 1 && m <= 12 ? m - 1 : 0);
}

static int span_of(const anon_dim_t *d, int lvl)
{
        return lvl ? d->steps[lvl - 1].span : 1;
}

/* count (<= 32) flag bits from bit `from` on, bit 0 first. */
static uint64_t bit_run(const uint8_t *fl, int from, int count)
{
        uint64_t x = 0;
        int sh = from % 8;

        for (int i = 0; i < (sh + count + 7) / 8; i++)
                x |= (uint64_t)fl[from / 8 + i] << (8 * i);
        return (x >> sh) & (((uint64_t)1 << count) - 1);
}

/* Whether the group's ages sit in consecutive flag bits (the rule file's
 * hh_age_### attributes do): then they are read a word at a time. */
static int bits_consecutive(const anon_dim_t *d)
{
        for (int a = 1; a < d->nbits; a++)
                if (d->bits[a] != d->bits[0] + a)
                        return 0;
        return 1;
}

/* The household-age group's exact bits (bit a: someone aged FROM + a). */
static void group_bits(const anon_dim_t *d, int run, const uint8_t *fl, uint64_t h[2])
{
        h[0] = h[1] = 0;
        for (int a = 0; run && a < d->nbits; a += 32)
                h[a / 64] |= bit_run(fl, d->bits[0] + a, MIN(32, d->nbits - a)) << (a % 64);
        for (int a = 0; !run && a < d->nbits; a++) {
                int b = d->bits[a];
                if (fl[b / 8] & (1u << (b % 8)))
                        h[a / 64] |= (uint64_t)1 << (a % 64);
        }
}

/* The group at a level: exact bits, band presence, or nothing ("any"). */
static void flags_key(const anon_dim_t *d, const uint64_t h[2], int lvl, uint64_t f[2])
{
        int span = lvl == DROPPED ? 0 : span_of(d, lvl);

        f[0] = f[1] = 0;
        if (lvl && !span)
                return;
        if (span == 1) {
                f[0] = h[0], f[1] = h[1];
                return;
        }
        for (int w = 0; w < 2; w++)
                for (uint64_t bits = h[w]; bits; bits &= bits - 1) {
                        int band = (w * 64 + __builtin_ctzll(bits)) / span;
                        f[band / 64] |= (uint64_t)1 << (band % 64);
                }
}

/* What dims index d shows at level L of a record with value v (YM/CODE)
 * or household-age bits h (FLAGS), as two words: equal words, same cell. */
static void cell_value(const anon_dim_t *dm, int L, int32_t v, const uint64_t h[2], uint64_t g[2])
{
        int span = span_of(dm, L);
        int32_t x;

        if (dm->kind == ANON_D_FLAGS) {
                flags_key(dm, h, L, g);
                return;
        }
        if (!span || (dm->kind == ANON_D_YM && !v))
                x = span ? 0 : (v != 0); /* "any": present or not */
        else if (dm->kind == ANON_D_YM)
                x = L ? floordiv(ym_index(v), span) : v;
        else
                x = floordiv(v, span);
        g[0] = (uint32_t)x;
        g[1] = 0;
}

static uint64_t key_hash(const uint64_t *k, int nw)
{
        uint64_t h = 0x9e3779b97f4a7c15ULL;

        for (int i = 0; i < nw; i++) {
                h = (h ^ k[i]) * 0x100000001b3ULL;
                h = (h << 31) | (h >> 33);
        }
        /* murmur3's finaliser: the table takes the low bits */
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        return h ^ (h >> 33);
}

/* A key's few words: a call to memcpy for 16 or 24 bytes cost more than
 * the copy (12% of the rounds in perf). */
static void key_copy(uint64_t *to, const uint64_t *from, int nw)
{
        for (int i = 0; i < nw; i++)
                to[i] = from[i];
}

static int key_eq(const uint64_t *a, const uint64_t *b, int nw)
{
        for (int i = 0; i < nw; i++)
                if (a[i] != b[i])
                        return 0;
        return 1;
}

/* ---- key table ---- */

static int tab_init(ktab_t *t, int nw, size_t n)
{
        memset(t, 0, sizeof(*t));
        t->nw = nw;
        for (t->cap = 1024; t->cap < 2 * n + 2; t->cap *= 2)
                ;
        t->slot = calloc(t->cap, sizeof(*t->slot));
        return t->slot ? 0 : -1;
}

/* Empties t for n more keys (the arrays stay: no page faults for a fresh
 * table every round). 0 / -1. */
static int tab_reset(ktab_t *t, int nw, size_t n)
{
        if (!t->slot || t->cap < 2 * n + 2 || t->cap > 8 * n + 1024) { /* too big: memset */
                uint64_t *key = t->key;
                int32_t *count = t->count;
                size_t kc = t->key_cap, cc = t->count_cap;
                free(t->slot);
                if (tab_init(t, nw, n))
                        return -1;
                t->key = key, t->count = count, t->key_cap = kc, t->count_cap = cc;
                return 0;
        }
        memset(t->slot, 0, t->cap * sizeof(*t->slot));
        t->n = 0;
        t->nw = nw;
        return 0;
}

static void tab_free(ktab_t *t)
{
        free(t->slot);
        free(t->key);
        free(t->count);
        memset(t, 0, sizeof(*t));
}

#define SLOT_TAG(s) ((uint32_t)((s) >> 32))
#define SLOT_IDX(s) ((uint32_t)(s)-1)
#define KEY(t, e)   ((t)->key + (size_t)(e) * (size_t)(t)->nw)

/* The slot holding k, or the empty slot where it would go. */
static size_t tab_probe(const ktab_t *t, const uint64_t *k, uint64_t h)
{
        size_t i = (size_t)h & (t->cap - 1);

        for (uint64_t s; (s = t->slot[i]); i = (i + 1) & (t->cap - 1))
                if (SLOT_TAG(s) == (uint32_t)h && key_eq(KEY(t, SLOT_IDX(s)), k, t->nw))
                        break;
        return i;
}

/* Puts a slot known to be absent at the first empty place from its home. */
static void tab_place(ktab_t *t, uint64_t s)
{
        size_t i = SLOT_TAG(s) & (t->cap - 1);

        while (t->slot[i])
                i = (i + 1) & (t->cap - 1);
        t->slot[i] = s;
}

static int tab_grow(ktab_t *t)
{
        uint64_t *old = t->slot;
        size_t oldcap = t->cap;

        if (!(t->slot = calloc(2 * oldcap, sizeof(*t->slot)))) {
                t->slot = old;
                return -1;
        }
        t->cap = 2 * oldcap;
        for (size_t i = 0; i < oldcap; i++)
                if (old[i])
                        tab_place(t, old[i]);
        free(old);
        return 0;
}

/* Entry of k (hash h), added with count 0 if new (*added set); -1 on OOM. */
static long tab_add(ktab_t *t, const uint64_t *k, uint64_t h, int *added)
{
        size_t i;

        *added = 0;
        if (2 * (t->n + 1) > t->cap && tab_grow(t))
                return -1;
        i = tab_probe(t, k, h);
        if (t->slot[i])
                return (long)SLOT_IDX(t->slot[i]);
        if (osh_grow(&t->key, &t->key_cap, (t->n + 1) * (size_t)t->nw - 1, sizeof(*t->key), 4096) ||
            osh_grow(&t->count, &t->count_cap, t->n, sizeof(*t->count), 1024))
                return -1;
        key_copy(KEY(t, t->n), k, t->nw);
        t->count[t->n] = 0;
        t->slot[i] = (uint64_t)(uint32_t)h << 32 | ((uint64_t)t->n + 1);
        *added = 1;
        return (long)t->n++;
}

/* ---- codes: every cell a record can show, numbered per quasi-identifier ---- */

#define CODE(K, i, d, L) ((K)->code[(size_t)(i) * (K)->S + (size_t)(K)->soff[d] + (size_t)(L)])

/* Numbers dims index d's cells: level 0 by the records' values, each
 * further level from one record per cell of the level below (hierarchies
 * nest, anon_rules.c: a cell's parent does not depend on which member
 * stands for it). Codes of all levels differ; 0 is left for "dropped".
 * rep, map: scratch of n. *ncode gets the last code. 0 / -1. */
static int code_dim(anon_kanon_t *K, const anon_rules_t *r, const anon_kview_t *v, int d, ktab_t *t,
                    uint32_t *rep, uint32_t *map, uint32_t *ncode)
{
        const anon_dim_t *dm = &r->dims[d];
        uint32_t base = 0, nprev = 0;
        uint64_t g[2], h0[2] = {0, 0};
        int added;

        for (int L = 0; L <= dm->nsteps; L++) {
                if (tab_reset(t, 2, L ? nprev : v->n))
                        return -1;
                if (!L) {
                        for (size_t i = 0; i < v->n; i++) {
                                const uint64_t *h = dm->kind == ANON_D_FLAGS ? K->hb + 2 * i : h0;
                                long e;
                                cell_value(dm, 0,
                                           dm->kind == ANON_D_FLAGS ? 0 : v->values[i][dm->pos], h,
                                           g);
                                if ((e = tab_add(t, g, key_hash(g, 2), &added)) < 0)
                                        return -1;
                                if (added)
                                        rep[e] = (uint32_t)i;
                                CODE(K, i, d, 0) = base + (uint32_t)e + 1;
                        }
                } else {
                        for (uint32_t c = 0; c < nprev; c++) { /* map: cell below -> cell */
                                uint32_t i = rep[c];
                                const uint64_t *h = dm->kind == ANON_D_FLAGS ? K->hb + 2 * i : h0;
                                long e;
                                cell_value(dm, L,
                                           dm->kind == ANON_D_FLAGS ? 0 : v->values[i][dm->pos], h,
                                           g);
                                if ((e = tab_add(t, g, key_hash(g, 2), &added)) < 0)
                                        return -1;
                                map[c] = (uint32_t)e;
                        }
                        for (uint32_t c = 0; c < nprev; c++) /* rep: one per new cell */
                                rep[map[c]] = rep[c]; /* map[c] <= c: nothing unread is lost */
                        for (size_t i = 0; i < v->n; i++)
                                CODE(K, i, d, L) =
                                    base + map[CODE(K, i, d, L - 1) - (base - nprev) - 1] + 1;
                }
                nprev = (uint32_t)t->n;
                base += nprev;
        }
        *ncode = base;
        return 0;
}

/* Field widths and places, from each quasi-identifier's last code. */
static void layout(anon_kanon_t *K, const anon_rules_t *r, const uint32_t *ncode)
{
        int word = 0, used = 0;

        for (int d = 0; d < r->ndims; d++) {
                int w = 64 - __builtin_clzll((uint64_t)ncode[d] | 1); /* <= 32 */
                if (used + w > 64)
                        word++, used = 0;
                K->fld[d].word = (uint8_t)word;
                K->fld[d].shift = (uint8_t)used;
                K->fld[d].mask = (((uint64_t)1 << w) - 1) << used;
                used += w;
        }
        K->nw = word + 1;
}

/* Work per quasi-identifier, shared by the parts of a job: each part
 * takes the next dims index until none is left, with scratch of its own.
 * A dims index's result does not depend on which part computed it. */
typedef struct dims_job {
        anon_kanon_t *K;
        const anon_rules_t *r;
        const anon_kview_t *v;
        const ktab_t *t;                /* top: the classes */
        uint32_t ncode[ANON_MAX_QUASI]; /* codes: each one's last code */
        int64_t unique[ANON_MAX_QUASI]; /* top: records unique without it */
        int next, failed;
} dims_job_t;

static int next_dim(dims_job_t *j)
{
        return __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
}

static void codes_part(void *arg, int p, int np)
{
        dims_job_t *j = arg;
        uint32_t *rep = malloc((j->v->n + 1) * sizeof(*rep)),
                 *map = malloc((j->v->n + 1) * sizeof(*map));
        ktab_t t = {0};
        int ok = rep && map;

        for (int d; ok && (d = next_dim(j)) < j->r->ndims;)
                ok = !code_dim(j->K, j->r, j->v, d, &t, rep, map, &j->ncode[d]);
        if (!ok)
                __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        tab_free(&t);
        free(rep);
        free(map);
}

/* Codes every record's cells and lays the key out. 0 / -1. */
static int make_codes(anon_kanon_t *K, const anon_rules_t *r, const anon_kview_t *v, int nparts)
{
        dims_job_t j = {.K = K, .r = r, .v = v};

        if (!(K->code = malloc((v->n * K->S + 1) * sizeof(*K->code))))
                return -1;
        osh_par_run(codes_part, &j, nparts);
        if (j.failed)
                return -1;
        layout(K, r, j.ncode);
        return 0;
}

/* Record i's key with every quasi-identifier at level 0, d left out (-1:
 * none). */
static void rec_key(const anon_kanon_t *K, const anon_rules_t *r, size_t i, int drop, uint64_t *k)
{
        memset(k, 0, (size_t)K->nw * sizeof(*k));
        for (int d = 0; d < r->ndims; d++)
                if (d != drop)
                        k[K->fld[d].word] |= (uint64_t)CODE(K, i, d, 0) << K->fld[d].shift;
}

/* ---- measuring ---- */

static int bucket_of(int32_t size)
{
        return size <= 1 ? 0 : size <= 4 ? 1 : size <= 9 ? 2 : 3;
}

#define HROW(K, i) ((K)->hb + 2 * (i))

/* Fills the before or after half of risk from the classes' sizes. */
static void tally(const ktab_t *t, int k, anon_risk_t *rk, int after)
{
        int64_t *bucket = after ? rk->bucket_after : rk->bucket_before, n = 0, u = 0, groups = 0;
        int32_t min = 0;

        for (size_t c = 0; c < t->n; c++) {
                int32_t s = t->count[c];
                if (!s)
                        continue;
                groups++;
                min = !min || s < min ? s : min;
                bucket[bucket_of(s)] += s;
                n += s;
                u += s == 1;
                rk->groups_below_k += !after && s < k;
        }
        if (after) {
                rk->records_after = n, rk->groups_after = groups, rk->min_after = min;
                rk->unique_after = n ? (double)u / (double)n : 0;
                rk->risk_max = min ? 1.0 / min : 0;
                rk->risk_avg = n ? (double)groups / (double)n : 0; /* sum of 1/|C| over records */
        } else {
                rk->records_before = n, rk->groups_before = groups, rk->min_before = min;
                rk->unique_before = n ? (double)u / (double)n : 0;
        }
}

/* The records unique in the classes t without dims index d: each class
 * projected without d into m, unique when its projection holds one record.
 * proj: scratch of t->n. 0 / -1. */
static int unique_without(const anon_kanon_t *K, const ktab_t *t, int d, ktab_t *m, uint32_t *proj,
                          int64_t *unique)
{
        const kfield_t *f = &K->fld[d];
        uint64_t k[KW];
        int added;

        if (tab_reset(m, K->nw, t->n))
                return -1;
        for (size_t c = 0; c < t->n; c++) {
                long e;
                if (!t->count[c])
                        continue;
                key_copy(k, KEY(t, c), K->nw);
                k[f->word] &= ~f->mask;
                if ((e = tab_add(m, k, key_hash(k, K->nw), &added)) < 0)
                        return -1;
                m->count[e] += t->count[c];
                proj[c] = (uint32_t)e;
        }
        *unique = 0;
        for (size_t c = 0; c < t->n; c++)
                *unique += t->count[c] == 1 && m->count[proj[c]] == 1;
        return 0;
}

static void top_part(void *arg, int p, int np)
{
        dims_job_t *j = arg;
        uint32_t *proj = malloc((j->t->n + 1) * sizeof(*proj));
        ktab_t m = {0};
        int ok = proj != NULL;

        for (int d; ok && (d = next_dim(j)) < j->r->ndims;)
                ok = !unique_without(j->K, j->t, d, &m, proj, &j->unique[d]);
        if (!ok)
                __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        tab_free(&m);
        free(proj);
}

/* The quasi-identifier whose removal leaves the fewest unique records
 * (base: unique with all of them) from the classes t. 0 / -1. */
static int top_contributor(anon_kanon_t *K, const anon_rules_t *r, const ktab_t *t, int64_t base,
                           int nparts, anon_risk_t *rk)
{
        dims_job_t j = {.K = K, .r = r, .t = t};

        rk->top_dim = -1;
        rk->top_drop = 0;
        if (!base)
                return 0;
        osh_par_run(top_part, &j, nparts);
        if (j.failed)
                return -1;
        for (int d = 0; d < r->ndims; d++)
                if (base - j.unique[d] > rk->top_drop)
                        rk->top_dim = d, rk->top_drop = base - j.unique[d];
        return 0;
}

/* ---- enforcing ---- */

/* The classes of at least k, by key: never touched again, only looked up.
 * A key's home is its hash's top bits, as the candidates' partitions are,
 * and the keys sit beside their slots: a partition's lookups stay in one
 * stretch of the table. */
typedef struct bigtab {
        uint64_t *slot; /* hash's low 32 bits above class + 1 (0: empty) */
        uint64_t *key;  /* nw words per slot */
        size_t cap;
        int bits, nw;
} bigtab_t;

static int big_init(bigtab_t *b, int nw, size_t n)
{
        b->nw = nw;
        for (b->bits = 4; ((size_t)1 << b->bits) < 2 * n + 2; b->bits++)
                ;
        b->cap = (size_t)1 << b->bits;
        b->slot = calloc(b->cap, sizeof(*b->slot));
        b->key = malloc(b->cap * (size_t)nw * sizeof(*b->key));
        return b->slot && b->key ? 0 : -1;
}

static void big_put(bigtab_t *b, uint32_t c, const uint64_t *k, uint64_t h)
{
        size_t i = h >> (64 - b->bits);

        while (b->slot[i])
                i = (i + 1) & (b->cap - 1);
        b->slot[i] = (uint64_t)(uint32_t)h << 32 | ((uint64_t)c + 1);
        key_copy(b->key + i * (size_t)b->nw, k, b->nw);
}

/* The class at key k (hash h), or NONE. */
static uint32_t big_find(const bigtab_t *b, const uint64_t *k, uint64_t h)
{
        for (size_t i = h >> (64 - b->bits);; i = (i + 1) & (b->cap - 1)) {
                uint64_t s = b->slot[i];
                if (!s)
                        return NONE;
                if (SLOT_TAG(s) == (uint32_t)h && key_eq(b->key + i * (size_t)b->nw, k, b->nw))
                        return SLOT_IDX(s);
        }
}

/* Candidate steps: key (nw words each), hash, small class j * ndims + d,
 * and the records the class holds. */
typedef struct cbuf {
        uint64_t *key, *h;
        uint32_t *jd;
        int32_t *cnt;
        size_t cap;
} cbuf_t;

/* The keys the round's candidate steps lead to: entry g's key, the records
 * every small class that could step there holds, the class of at least k
 * already there (NONE: none), and the class that landed there first. A
 * partition's entries sit at its candidates' offset. */
typedef struct moves {
        uint64_t *key;
        int32_t *count;
        uint32_t *there, *first;
        size_t cap, n;
} moves_t;

typedef struct enf {
        const anon_rules_t *r;
        const anon_kview_t *v;
        anon_kanon_t *K;
        ktab_t *t;             /* the classes: key and size */
        uint32_t *next;        /* per record: the next member of its class */
        uint32_t *head, *tail; /* per class: its members */
        uint16_t *pm;          /* per record: the dims whose value is a protected age */
        uint16_t *cm;          /* per class: its members' pm, or-ed */
        uint8_t *clvl;         /* per class: its level per quasi-identifier */
        uint32_t *small;       /* classes below k this round, in class order */
        uint32_t *stamp;       /* per class: the last round it was listed for */
        bigtab_t big;          /* the classes of at least k */
        cbuf_t cand[2];        /* this round: every candidate step, as made and by partition */
        moves_t mo;            /* this round: where the candidate steps lead */
        uint32_t *mv;          /* small class j's step d's moves entry at [j * ndims + d] */
        size_t mv_cap;
        int8_t *sel;     /* this round, per small class: the step chosen (-1: suppress) */
        uint16_t *cmask; /* this round, per small class: the dims worth a step */
        size_t ns;       /* this round: small classes */
        int bits;        /* this round: 2^bits partitions of the candidates */
        size_t *off;     /* this round: each partition's start, then the end */
        size_t pstart[OSH_PAR_MAX + 1]; /* this round: part p's first candidate */
        size_t *cur[OSH_PAR_MAX];       /* this round, per part: its next place per partition */
        uint64_t *lslot[OSH_PAR_MAX];   /* per part: a partition's table */
        size_t lcap;
        int nparts;
        uint32_t round;
        int k;
        anon_risk_t *rk;
} enf_t;

/* The dims on which record i's value is a protected age (a campaign is
 * about to target it). */
static uint16_t protected_dims(const anon_rules_t *r, const anon_kview_t *v, size_t i)
{
        uint16_t m = 0;

        for (int d = 0; d < r->ndims; d++) {
                const anon_dim_t *dm = &r->dims[d];
                int32_t q = dm->nprot ? v->values[i][dm->pos] : 0,
                        age = ym_index(v->ref_ym) - ym_index(q);
                for (int p = 0; q && p < dm->nprot; p++)
                        if (age >= dm->prot[p][0] && age <= dm->prot[p][1])
                                m |= (uint16_t)(1u << d);
        }
        return m;
}

typedef struct cls_job {
        enf_t *e;
        uint64_t *key, *h; /* per live record: its level-0 key and hash */
} cls_job_t;

static void cls_part(void *arg, int p, int np)
{
        const cls_job_t *j = arg;
        const enf_t *e = j->e;
        const int nw = e->K->nw;

        for (size_t i = osh_par_cut(e->v->n, p, np); i < osh_par_cut(e->v->n, p + 1, np); i++) {
                if (!e->v->live[i])
                        continue;
                rec_key(e->K, e->r, i, -1, j->key + i * (size_t)nw);
                j->h[i] = key_hash(j->key + i * (size_t)nw, nw);
                e->pm[i] = protected_dims(e->r, e->v, i);
        }
}

/* Record i joins its class (hash h, key k). */
static int class_add(enf_t *e, size_t i, const uint64_t *k, uint64_t h)
{
        int added;
        long c = tab_add(e->t, k, h, &added);

        if (c < 0)
                return -1;
        e->next[i] = NONE;
        if (added) {
                e->head[c] = e->tail[c] = (uint32_t)i;
                e->cm[c] = 0;
        } else {
                e->next[e->tail[c]] = (uint32_t)i;
                e->tail[c] = (uint32_t)i;
        }
        e->cm[c] |= e->pm[i];
        e->t->count[c]++;
        return 0;
}

/* The classes of the live records at level 0, into t, each a list of
 * members (e->next, head, tail) with its protected dims. Keys and hashes
 * are made on every part; the classes are numbered in record order on
 * one, with the table's slots fetched ahead (each was a cache miss). */
static int build_classes(enf_t *e)
{
        const anon_kview_t *v = e->v;
        const int nw = e->K->nw;
        cls_job_t j = {e, malloc((v->n * (size_t)nw + 1) * sizeof(*j.key)),
                       malloc((v->n + 1) * sizeof(*j.h))};
        int rc = -1;

        if (!j.key || !j.h || tab_init(e->t, nw, v->n)) /* sized: tab_add never grows */
                goto done;
        osh_par_run(cls_part, &j, e->nparts);
        for (size_t i = 0; i < v->n; i++) {
                if (i + 16 < v->n && v->live[i + 16])
                        __builtin_prefetch(&e->t->slot[j.h[i + 16] & (e->t->cap - 1)]);
                if (v->live[i] && class_add(e, i, j.key + i * (size_t)nw, j.h[i]))
                        goto done;
        }
        rc = 0;
done:
        free(j.key);
        free(j.h);
        return rc;
}

/* The cost of a class's next step on dims index d (-1: none left): the
 * rule file's, times the weight when a member's value is a protected age
 * (prot: the members' protected_dims or-ed, so that which member stands
 * for the class does not matter). */
static int64_t step_cost(const enf_t *e, uint16_t prot, const uint8_t *l, int d)
{
        const anon_dim_t *dm = &e->r->dims[d];

        if (l[d] >= dm->nsteps)
                return -1;
        return dm->steps[l[d]].cost * (prot >> d & 1 ? dm->weight : 1);
}

/* The steps worth a look for class c, as a mask of dims indexes: only a
 * step within one cost of the cheapest can win (COST_SCALE, NO_REACH). */
static uint16_t cand_mask(const enf_t *e, uint32_t c)
{
        const uint8_t *l = e->clvl + (size_t)c * (size_t)e->r->ndims;
        int64_t cost[ANON_MAX_QUASI], min = -1;
        uint16_t m = 0;

        for (int d = 0; d < e->r->ndims; d++) {
                cost[d] = step_cost(e, e->cm[c], l, d);
                if (cost[d] >= 0 && (min < 0 || cost[d] < min))
                        min = cost[d];
        }
        for (int d = 0; d < e->r->ndims; d++)
                if (cost[d] >= 0 && cost[d] * COST_SCALE < min * COST_SCALE + NO_REACH)
                        m |= (uint16_t)(1u << d);
        return m;
}

/* Class c's key after one step on d. Hierarchies nest, so every member
 * lands on it: its first member stands for all. */
static void step_key(const enf_t *e, uint32_t c, int d, uint64_t *k)
{
        const anon_kanon_t *K = e->K;
        const kfield_t *f = &K->fld[d];
        uint32_t code = CODE(K, e->head[c], d, e->clvl[(size_t)c * (size_t)e->r->ndims + d] + 1);

        key_copy(k, KEY(e->t, c), K->nw);
        k[f->word] = (k[f->word] & ~f->mask) | (uint64_t)code << f->shift;
}

/* Candidates are made in class order, then partitioned by their hash's
 * top bits so that each partition's table stays in the cache: probing one
 * table of every step of the round was a cache miss each. */
#define PART_CANDS 2048

/* *p for n items of size sz, contents not kept. realloc, not free and
 * malloc: a big block is remapped in place, so only the pages beyond the
 * last round's fault in (a fresh block faulted in 50 MB again when a
 * round had more candidates than the first). 0 / -1 (*p stays). */
static int regrow(void *p, size_t n, size_t sz)
{
        void *q = realloc(*(void **)p, n * sz);

        if (!q)
                return -1;
        *(void **)p = q;
        return 0;
}

static int cbuf_grow(cbuf_t *c, size_t n, int nw)
{
        if (n <= c->cap)
                return 0;
        if (regrow(&c->key, n, (size_t)nw * sizeof(*c->key)) || regrow(&c->h, n, sizeof(*c->h)) ||
            regrow(&c->jd, n, sizeof(*c->jd)) || regrow(&c->cnt, n, sizeof(*c->cnt)))
                return -1;
        c->cap = n;
        return 0;
}

static void cbuf_free(cbuf_t *c)
{
        free(c->key), free(c->h), free(c->jd), free(c->cnt);
}

static int moves_grow(moves_t *m, size_t n, int nw)
{
        if (n <= m->cap)
                return 0;
        if (regrow(&m->key, n, (size_t)nw * sizeof(*m->key)) ||
            regrow(&m->count, n, sizeof(*m->count)) || regrow(&m->there, n, sizeof(*m->there)) ||
            regrow(&m->first, n, sizeof(*m->first)))
                return -1;
        m->cap = n;
        return 0;
}

static void moves_free(moves_t *m)
{
        free(m->key), free(m->count), free(m->there), free(m->first);
}

/* A round's parts. Each part of a job takes a share of the small classes
 * (or of the partitions) and writes only its own places, so the round's
 * result does not depend on how many parts there are. */
#define PART_LO(n, p, np) osh_par_cut(n, p, np)
#define PART_HI(n, p, np) osh_par_cut(n, (p) + 1, np)
#define TOP(h, bits)      ((bits) ? (size_t)((h) >> (64 - (bits))) : 0)

/* Each small class's candidate dims; pstart[p + 1] gets how many part p
 * makes. */
static void count_part(void *arg, int p, int np)
{
        enf_t *e = arg;
        size_t n = 0;

        for (size_t j = PART_LO(e->ns, p, np); j < PART_HI(e->ns, p, np); j++) {
                e->cmask[j] = cand_mask(e, e->small[j]);
                n += (size_t)__builtin_popcount(e->cmask[j]);
        }
        e->pstart[p + 1] = n;
}

/* Part p's candidate steps into cand[0] from pstart[p], in class order,
 * and how many fall in each partition (cur[p]). */
static void make_part(void *arg, int p, int np)
{
        enf_t *e = arg;
        const int nd = e->r->ndims, nw = e->K->nw;
        const cbuf_t *c = &e->cand[0];
        size_t x = e->pstart[p], hi = PART_HI(e->ns, p, np), *hist = e->cur[p];

        memset(hist, 0, ((size_t)1 << e->bits) * sizeof(*hist));
        for (size_t j = PART_LO(e->ns, p, np); j < hi; j++) {
                uint32_t cl = e->small[j];
                if (j + 8 < hi) /* the member codes a step reads are far apart */
                        __builtin_prefetch(&CODE(e->K, e->head[e->small[j + 8]], 0, 0));
                for (unsigned m = e->cmask[j]; m; m &= m - 1) {
                        int d = __builtin_ctz(m);
                        step_key(e, cl, d, c->key + x * (size_t)nw);
                        c->h[x] = key_hash(c->key + x * (size_t)nw, nw);
                        c->jd[x] = (uint32_t)(j * (size_t)nd + (size_t)d);
                        c->cnt[x] = e->t->count[cl];
                        hist[TOP(c->h[x], e->bits)]++;
                        x++;
                }
        }
}

/* Each partition's start (off), and where each part's share of it starts
 * (cur): after the parts before it, so that the scatter is stable. */
static size_t place(enf_t *e)
{
        size_t np = (size_t)1 << e->bits, at = 0, most = 0;

        for (size_t q = 0; q < np; q++) {
                e->off[q] = at;
                for (int p = 0; p < e->nparts; p++) {
                        size_t h = e->cur[p][q];
                        e->cur[p][q] = at;
                        at += h;
                }
                most = at - e->off[q] > most ? at - e->off[q] : most;
        }
        e->off[np] = at;
        return most;
}

/* Part p's candidates from cand[0] into their partitions in cand[1]. */
static void scatter_part(void *arg, int p, int np)
{
        enf_t *e = arg;
        const int nw = e->K->nw;
        const cbuf_t *a = &e->cand[0], *b = &e->cand[1];
        size_t *cur = e->cur[p];

        for (size_t x = e->pstart[p]; x < e->pstart[p + 1]; x++) {
                size_t to = cur[TOP(a->h[x], e->bits)]++;
                key_copy(b->key + to * (size_t)nw, a->key + x * (size_t)nw, nw);
                b->h[to] = a->h[x], b->jd[to] = a->jd[x], b->cnt[to] = a->cnt[x];
        }
}

/* Partition [lo, hi) of cand[1], with slot as its table: each distinct
 * key gets an entry (from lo on), with the records of every class that
 * could step there and the class of at least k already there; e->mv
 * points each step at its entry. */
static void aggregate(enf_t *e, uint64_t *slot, size_t lo, size_t hi)
{
        moves_t *m = &e->mo;
        const cbuf_t *c = &e->cand[1];
        const int nw = e->K->nw;
        size_t cap = 16, n = lo;

        while (cap < 2 * (hi - lo))
                cap *= 2;
        memset(slot, 0, cap * sizeof(*slot));
        for (size_t x = lo; x < hi; x++) {
                const uint64_t *k = c->key + x * (size_t)nw, h = c->h[x];
                size_t i = h & (cap - 1);
                uint64_t sl;
                for (; (sl = slot[i]); i = (i + 1) & (cap - 1))
                        if (SLOT_TAG(sl) == (uint32_t)h &&
                            key_eq(m->key + (size_t)SLOT_IDX(sl) * (size_t)nw, k, nw))
                                break;
                if (!sl) {
                        key_copy(m->key + n * (size_t)nw, k, nw);
                        m->count[n] = 0;
                        m->there[n] = big_find(&e->big, k, h);
                        m->first[n] = NONE;
                        sl = slot[i] = (uint64_t)(uint32_t)h << 32 | ((uint64_t)n++ + 1);
                }
                m->count[SLOT_IDX(sl)] += c->cnt[x];
                e->mv[c->jd[x]] = SLOT_IDX(sl);
        }
}

/* The partitions that start in part p's share of the candidates. */
static void aggregate_part(void *arg, int p, int np)
{
        enf_t *e = arg;
        size_t lo = PART_LO(e->mo.n, p, np), hi = PART_HI(e->mo.n, p, np);

        for (size_t q = 0; q < (size_t)1 << e->bits; q++)
                if (e->off[q] >= lo && e->off[q] < hi)
                        aggregate(e, e->lslot[p], e->off[q], e->off[q + 1]);
}

/* Room for the round's candidates (nm), and a partition table per part
 * for `most` candidates. 0 / -1. */
static int round_room(enf_t *e, size_t nm, size_t most)
{
        const int nw = e->K->nw;
        size_t cap = 16;

        while (cap < 2 * most)
                cap *= 2;
        if (cbuf_grow(&e->cand[0], nm, nw) || cbuf_grow(&e->cand[1], nm, nw) ||
            moves_grow(&e->mo, nm, nw) ||
            osh_grow(&e->mv, &e->mv_cap, e->ns * (size_t)e->r->ndims, sizeof(*e->mv), 1024))
                return -1;
        for (int p = 0; p < e->nparts && cap > e->lcap; p++) {
                free(e->lslot[p]);
                if (!(e->lslot[p] = malloc(cap * sizeof(*e->lslot[p]))))
                        return -1;
        }
        e->lcap = cap > e->lcap ? cap : e->lcap;
        return 0;
}

/* Fills e->mo: every step every small class could take, with the records
 * it would bring, so that classes that can only reach k together do; e->mv
 * remembers where each step went. 0 / -1. */
static int plan_moves(enf_t *e)
{
        size_t nm = 0;
        int rc = -1;

        osh_par_run(count_part, e, e->nparts);
        for (int p = 0; p < e->nparts; p++)
                e->pstart[p + 1] = nm += e->pstart[p + 1];
        for (e->bits = 0; (nm >> e->bits) > PART_CANDS; e->bits++)
                ;
        e->mo.n = nm;
        if (!(e->off = malloc((((size_t)1 << e->bits) + 1) * sizeof(*e->off))))
                return -1;
        for (int p = 0; p < e->nparts; p++)
                if (!(e->cur[p] = malloc(((size_t)1 << e->bits) * sizeof(*e->cur[p]))))
                        goto done;
        if (round_room(e, nm, 2 * PART_CANDS))
                goto done;
        osh_par_run(make_part, e, e->nparts);
        /* many classes can step to one key: its partition may be large */
        if (round_room(e, nm, place(e)))
                goto done;
        osh_par_run(scatter_part, e, e->nparts);
        osh_par_run(aggregate_part, e, e->nparts);
        rc = 0;
done:
        for (int p = 0; p < e->nparts; p++) {
                free(e->cur[p]);
                e->cur[p] = NULL;
        }
        free(e->off);
        e->off = NULL;
        return rc;
}

/* Part p's small classes' steps (e->sel): dims index, or -1. Judged on
 * the round's starting state only (classes of at least k, e->mo), never on
 * what other small classes do in the round: the choice must not depend on
 * the order records arrived in. */
static void choose_part(void *arg, int p, int np)
{
        enf_t *e = arg;
        const int nd = e->r->ndims;

        for (size_t j = PART_LO(e->ns, p, np); j < PART_HI(e->ns, p, np); j++) {
                const uint32_t c = e->small[j];
                const uint8_t *l = e->clvl + (size_t)c * (size_t)nd;
                int64_t best = 0;
                e->sel[j] = -1;
                for (unsigned mk = e->cmask[j]; mk; mk &= mk - 1) {
                        int d = __builtin_ctz(mk);
                        int64_t score = step_cost(e, e->cm[c], l, d) * COST_SCALE;
                        uint32_t m = e->mv[j * (size_t)nd + (size_t)d], b = e->mo.there[m];
                        if ((b == NONE ? 0 : e->t->count[b]) + e->mo.count[m] < e->k)
                                score += NO_REACH;
                        if (e->sel[j] < 0 || score < best) /* ties: the first d */
                                e->sel[j] = (int8_t)d, best = score;
                }
        }
}

static void suppress(enf_t *e, uint32_t c)
{
        for (uint32_t i = e->head[c]; i != NONE; i = e->next[i])
                e->v->live[i] = 0;
        e->rk->suppressed += e->t->count[c];
        e->t->count[c] = 0;
}

/* Class c's members join class to. */
static void join(enf_t *e, uint32_t to, uint32_t c)
{
        e->next[e->tail[to]] = e->head[c];
        e->tail[to] = e->tail[c];
        e->t->count[to] += e->t->count[c];
        e->cm[to] |= e->cm[c];
        e->t->count[c] = 0;
}

/* Every small class takes its step (e->sel): it joins the class of at
 * least k already at its new key, else the first class of the round that
 * landed there, else it holds the key itself (stamped with the round).
 * Every small class moves, so no other class can be at the key. Part p
 * moves the classes whose key is an entry in its share, in class order:
 * an entry's classes and the class it joins are touched by one part only,
 * and which lands first does not depend on the split. Part 0 suppresses. */
static void move_part(void *arg, int p, int np)
{
        enf_t *e = arg;
        const int nd = e->r->ndims;
        moves_t *mo = &e->mo;
        const size_t lo = PART_LO(mo->n, p, np), hi = PART_HI(mo->n, p, np);

        for (size_t j = 0; j < e->ns; j++) {
                uint32_t c = e->small[j], m;
                if (e->sel[j] < 0) {
                        if (!p)
                                suppress(e, c);
                        continue;
                }
                m = e->mv[j * (size_t)nd + (size_t)e->sel[j]];
                if (m < lo || m >= hi)
                        continue;
                e->clvl[(size_t)c * (size_t)nd + (size_t)e->sel[j]]++;
                if (mo->there[m] != NONE) {
                        join(e, mo->there[m], c);
                } else if (mo->first[m] != NONE) {
                        join(e, mo->first[m], c);
                } else {
                        mo->first[m] = c;
                        e->stamp[c] = e->round;
                        key_copy(KEY(e->t, c), mo->key + (size_t)m * (size_t)e->K->nw, e->K->nw);
                }
        }
}

/* One round over the small classes (e->small, *ns of them): every class
 * chooses its step, then all take it. The classes that landed and reached
 * k join the big table; the rest make the next round's list. 0 / -1. */
static int round_once(enf_t *e, size_t *ns, uint32_t round)
{
        e->ns = *ns;
        if (plan_moves(e))
                return -1;
        osh_par_run(choose_part, e, e->nparts);
        e->round = round;
        osh_par_run(move_part, e, e->nparts);
        *ns = 0;
        /* in class order: the class arrays and the members' codes are then
         * read front to back, not at random */
        for (size_t c = 0; c < e->t->n; c++) {
                if (e->stamp[c] != round || !e->t->count[c])
                        continue;
                if (e->t->count[c] < e->k)
                        e->small[(*ns)++] = (uint32_t)c;
                else
                        big_put(&e->big, (uint32_t)c, KEY(e->t, c),
                                key_hash(KEY(e->t, c), e->K->nw));
        }
        return 0;
}

static int enforce(enf_t *e)
{
        const int nd = e->r->ndims;
        size_t nc = e->t->n, ns = 0;
        int rc = -1;

        e->small = malloc((nc + 1) * sizeof(*e->small));
        e->stamp = calloc(nc + 1, sizeof(*e->stamp));
        e->sel = malloc(nc + 1);
        e->cmask = malloc((nc + 1) * sizeof(*e->cmask));
        e->clvl = calloc(nc * (size_t)nd + 1, 1);
        if (!e->small || !e->stamp || !e->sel || !e->cmask || !e->clvl)
                goto fail;
        /* at most one class of at least k per k records, and per class */
        if (big_init(&e->big, e->K->nw, MIN(nc, (size_t)e->rk->records_before / (size_t)e->k)))
                goto fail;
        for (size_t c = 0; c < nc; c++)
                if (e->t->count[c] < e->k)
                        e->small[ns++] = (uint32_t)c;
                else
                        big_put(&e->big, (uint32_t)c, KEY(e->t, c),
                                key_hash(KEY(e->t, c), e->K->nw));
        for (uint32_t round = 1; round <= MAX_ROUNDS && ns; round++)
                if (round_once(e, &ns, round))
                        goto fail;
        for (size_t c = 0; c < nc; c++) /* never reached k: suppressed, never released */
                if (e->t->count[c] && e->t->count[c] < e->k)
                        suppress(e, (uint32_t)c);
        for (size_t c = 0; c < nc; c++) /* each record's levels, for rendering */
                for (uint32_t i = e->t->count[c] ? e->head[c] : NONE; i != NONE; i = e->next[i])
                        memcpy(e->K->lvl + i * (size_t)nd, e->clvl + c * (size_t)nd, (size_t)nd);
        rc = 0;
fail:
        cbuf_free(&e->cand[0]);
        cbuf_free(&e->cand[1]);
        moves_free(&e->mo);
        free(e->big.slot);
        free(e->big.key);
        free(e->mv);
        free(e->small);
        free(e->stamp);
        free(e->sel);
        free(e->cmask);
        free(e->clvl);
        for (int p = 0; p < OSH_PAR_MAX; p++)
                free(e->lslot[p]);
        return rc;
}

/* ---- rendering ---- */

/* A part's rendering: the ranges and unknown flags of its records, in
 * record order, joined after the parts before it. */
typedef struct rbuf {
        int32_t *r; /* per generalised record: count, then triples */
        size_t rlen, rcap;
        uint8_t *u;
        size_t ulen, ucap;
        int64_t generalised, cells;
        int failed;
} rbuf_t;

static int push_ranges(rbuf_t *b, const int32_t *tr, int nr)
{
        if (osh_grow(&b->r, &b->rcap, b->rlen + (size_t)nr * 3, sizeof(*b->r), 4096))
                return -1;
        b->r[b->rlen++] = nr;
        memcpy(b->r + b->rlen, tr, (size_t)nr * 3 * sizeof(*tr));
        b->rlen += (size_t)nr * 3;
        return 0;
}

static int push_unknown(rbuf_t *b, const uint8_t *u, size_t flag_bytes)
{
        if (osh_grow(&b->u, &b->ucap, b->ulen + flag_bytes - 1, 1, 4096))
                return -1;
        memcpy(b->u + b->ulen, u, flag_bytes);
        b->ulen += flag_bytes;
        return 0;
}

/* One generalised value: its range, and the stand-in older readers see. */
static int value_range(const anon_dim_t *d, int L, int32_t *val, int32_t *tr)
{
        int span = span_of(d, L);
        int32_t v = *val;

        if (d->kind == ANON_D_YM) {
                int32_t lo, hi;
                if (!v)
                        return 0; /* absent stays absent */
                if (!span) {
                        lo = YM_ANY_LO, hi = YM_ANY_HI;
                } else {
                        int32_t a = floordiv(ym_index(v), span) * span, b = a + span - 1;
                        lo = (a / 12) * 100 + a % 12 + 1;
                        hi = (b / 12) * 100 + b % 12 + 1;
                }
                *val = lo / 100 == hi / 100 ? lo / 100 * 100 : 0;
                tr[0] = d->pos, tr[1] = lo, tr[2] = hi;
                return 1;
        }
        tr[0] = d->pos;
        tr[1] = span ? floordiv(v, span) * span : 0;
        tr[2] = span ? tr[1] + span - 1 : INT32_MAX;
        *val = 0;
        return 1;
}

/* Rewrites record i and keeps its ranges in out (roff, uoff: offsets in it).
 * 0 / -1. */
static int render(anon_kanon_t *k, const anon_rules_t *r, const anon_kview_t *v, size_t i,
                  rbuf_t *out)
{
        const uint8_t *l = k->lvl + i * (size_t)r->ndims;
        int32_t tr[ANON_MAX_QUASI * 3];
        uint8_t unk[256] = {0};
        int nr = 0, cells = 0, anyu = 0;

        for (int d = 0; d < r->ndims; d++) {
                const anon_dim_t *dm = &r->dims[d];
                if (!l[d])
                        continue;
                cells++;
                if (dm->kind != ANON_D_FLAGS) {
                        nr += value_range(dm, l[d], &v->values[i][dm->pos], tr + nr * 3);
                        continue;
                }
                uint64_t f[2];
                int span = span_of(dm, l[d]);
                flags_key(dm, HROW(k, i), span ? l[d] : 0, f);
                for (int a = 0; a < dm->nbits; a++) {
                        int bit = span ? a / span : 0, b = dm->bits[a];
                        if (span && !(f[bit / 64] >> (bit % 64) & 1))
                                continue; /* a band with nobody stays a known 0 */
                        unk[b / 8] |= (uint8_t)(1u << (b % 8));
                        v->flags[i][b / 8] &= (uint8_t) ~(1u << (b % 8));
                        anyu = 1;
                }
        }
        if (!cells)
                return 0;
        out->generalised++;
        out->cells += cells;
        k->roff[i] = (uint32_t)out->rlen;
        if (push_ranges(out, tr, nr))
                return -1;
        if (anyu) {
                k->uoff[i] = (uint32_t)out->ulen;
                return push_unknown(out, unk, k->flag_bytes);
        }
        return 0;
}

typedef struct render_job {
        anon_kanon_t *K;
        const anon_rules_t *r;
        const anon_kview_t *v;
        rbuf_t part[OSH_PAR_MAX];
} render_job_t;

static void render_part(void *arg, int p, int np)
{
        render_job_t *j = arg;
        rbuf_t *b = &j->part[p];

        for (size_t i = PART_LO(j->v->n, p, np); !b->failed && i < PART_HI(j->v->n, p, np); i++)
                b->failed = j->v->live[i] && render(j->K, j->r, j->v, i, b);
}

/* The parts' buffers end to end in K, each record's offsets moved by what
 * the parts before it hold. 0 / -1. */
static int join_renders(render_job_t *j, int np, anon_risk_t *rk)
{
        anon_kanon_t *K = j->K;
        size_t rl = 0, ul = 0;

        for (int p = 0; p < np; p++) {
                rbuf_t *b = &j->part[p];
                if (b->failed ||
                    osh_grow(&K->rbuf, &K->rcap, rl + b->rlen, sizeof(*K->rbuf), 4096) ||
                    osh_grow(&K->ubuf, &K->ucap, ul + b->ulen, 1, 4096))
                        return -1;
                if (b->rlen) /* an empty part has no buffer (memcpy from NULL) */
                        memcpy(K->rbuf + rl, b->r, b->rlen * sizeof(*b->r));
                if (b->ulen)
                        memcpy(K->ubuf + ul, b->u, b->ulen);
                for (size_t i = PART_LO(K->n, p, np); p && i < PART_HI(K->n, p, np); i++) {
                        K->roff[i] += K->roff[i] == NONE ? 0 : (uint32_t)rl;
                        K->uoff[i] += K->uoff[i] == NONE ? 0 : (uint32_t)ul;
                }
                rl += b->rlen, ul += b->ulen;
                rk->generalised += b->generalised;
                rk->generalised_cells += b->cells;
        }
        K->rlen = rl, K->ulen = ul;
        return 0;
}

/* Rewrites every live record generalised, keeping its ranges. 0 / -1. */
static int render_all(anon_kanon_t *K, const anon_rules_t *r, const anon_kview_t *v, int np,
                      anon_risk_t *rk)
{
        render_job_t j = {.K = K, .r = r, .v = v};
        int rc;

        osh_par_run(render_part, &j, np);
        rc = join_renders(&j, np, rk);
        for (int p = 0; p < np; p++)
                free(j.part[p].r), free(j.part[p].u);
        return rc;
}

/* ---- public ---- */

static anon_kanon_t *kanon_new(const anon_rules_t *r, const anon_kview_t *v)
{
        anon_kanon_t *k = calloc(1, sizeof(*k));
        size_t n = v->n;

        if (!k)
                return NULL;
        k->n = n;
        k->flag_bytes = r->flag_bytes;
        for (int d = 0; d < r->ndims; d++) {
                k->soff[d] = (int)k->S;
                k->S += (size_t)r->dims[d].nsteps + 1;
        }
        k->lvl = calloc(n * (size_t)r->ndims + 1, 1);
        k->hb = calloc(2 * n + 2, sizeof(*k->hb));
        k->roff = malloc((n + 1) * sizeof(*k->roff));
        k->uoff = malloc((n + 1) * sizeof(*k->uoff));
        if (!k->lvl || !k->hb || !k->roff || !k->uoff || r->flag_bytes > 256) {
                anon_kanon_destroy(k);
                return NULL;
        }
        memset(k->roff, 0xff, (n + 1) * sizeof(*k->roff));
        memset(k->uoff, 0xff, (n + 1) * sizeof(*k->uoff));
        return k;
}

/* Every record's household-age bits, by record range. */
typedef struct hb_job {
        anon_kanon_t *K;
        const anon_rules_t *r;
        const anon_kview_t *v;
} hb_job_t;

static void hb_part(void *arg, int p, int np)
{
        const hb_job_t *j = arg;

        for (int d = 0; d < j->r->ndims; d++) {
                const anon_dim_t *dm = &j->r->dims[d];
                size_t hi = osh_par_cut(j->v->n, p + 1, np);
                int run;
                if (dm->kind != ANON_D_FLAGS)
                        continue;
                run = bits_consecutive(dm);
                for (size_t i = osh_par_cut(j->v->n, p, np); i < hi; i++)
                        group_bits(dm, run, j->v->flags[i], HROW(j->K, i));
        }
}

/* What each quasi-identifier contributes to uniqueness before: a figure
 * for the report that no decision reads, so while k is enforced it is
 * measured on a copy of the classes on a thread of its own, filling the
 * gaps between the rounds' parts. */
typedef struct top_bg {
        anon_kanon_t *K;
        const anon_rules_t *r;
        ktab_t snap; /* the classes before: keys and sizes only */
        int64_t base;
        anon_risk_t res;
        pthread_t th;
        int running, rc;
} top_bg_t;

static void *top_main(void *arg)
{
        top_bg_t *b = arg;

        b->rc = top_contributor(b->K, b->r, &b->snap, b->base, 1, &b->res);
        return NULL;
}

/* Starts the measure on a copy of e->t. 0 / -1. */
static int top_start(top_bg_t *b, const enf_t *e)
{
        const ktab_t *t = e->t;

        *b = (top_bg_t){.K = e->K, .r = e->r, .base = e->rk->bucket_before[0]};
        b->snap.n = t->n;
        b->snap.nw = t->nw;
        b->snap.key = malloc((t->n * (size_t)t->nw + 1) * sizeof(*t->key));
        b->snap.count = malloc((t->n + 1) * sizeof(*t->count));
        if (!b->snap.key || !b->snap.count)
                return -1;
        memcpy(b->snap.key, t->key, t->n * (size_t)t->nw * sizeof(*t->key));
        memcpy(b->snap.count, t->count, t->n * sizeof(*t->count));
        if (!(b->running = !pthread_create(&b->th, NULL, top_main, b)))
                top_main(b); /* no thread: measured here */
        return 0;
}

/* Waits for the measure and puts it in rk. 0 / -1. */
static int top_finish(top_bg_t *b, anon_risk_t *rk)
{
        if (b->running)
                pthread_join(b->th, NULL);
        b->running = 0;
        tab_free(&b->snap);
        rk->top_dim = b->res.top_dim;
        rk->top_drop = b->res.top_drop;
        return b->rc;
}

/* Measures before: the classes at level 0, and with enforce the top
 * contributor started on *bg (else measured here). 0 / -1. */
static int measure_before(enf_t *e, int enforce, top_bg_t *bg)
{
        hb_job_t hj = {e->K, e->r, e->v};

        osh_par_run(hb_part, &hj, e->nparts);
        if (make_codes(e->K, e->r, e->v, e->nparts) || build_classes(e))
                return -1;
        tally(e->t, e->r->k_floor, e->rk, 0);
        if (enforce)
                return top_start(bg, e);
        return top_contributor(e->K, e->r, e->t, e->rk->bucket_before[0], e->nparts, e->rk);
}

int anon_kanon_run(const anon_rules_t *r, const anon_kview_t *v, anon_kanon_t **out,
                   anon_risk_t *rk)
{
        anon_kanon_t *k = kanon_new(r, v);
        size_t n1 = v->n + 1;
        ktab_t t = {0};
        enf_t e = {.r = r,
                   .v = v,
                   .K = k,
                   .t = &t,
                   .k = r->k_floor,
                   .rk = rk,
                   .nparts = osh_par_parts(v->threads)};
        const int enforcing = r->k_action == ANON_K_HIERARCHY && r->k_floor > 1;
        top_bg_t bg = {0};
        int rc = -1;

        memset(rk, 0, sizeof(*rk));
        e.next = malloc(n1 * sizeof(*e.next));
        e.head = malloc(n1 * sizeof(*e.head));
        e.tail = malloc(n1 * sizeof(*e.tail));
        e.pm = malloc(n1 * sizeof(*e.pm));
        e.cm = malloc(n1 * sizeof(*e.cm));
        if (!k || !e.next || !e.head || !e.tail || !e.pm || !e.cm ||
            measure_before(&e, enforcing, &bg))
                goto fail;
        if (enforcing && (enforce(&e) | top_finish(&bg, rk)))
                goto fail;
        tally(&t, r->k_floor, rk, 1);
        if (render_all(k, r, v, e.nparts, rk))
                goto fail;
        rc = 0;
fail:
        if (bg.running)
                top_finish(&bg, rk);
        tab_free(&bg.snap);
        tab_free(&t);
        free(e.next);
        free(e.head);
        free(e.tail);
        free(e.pm);
        free(e.cm);
        if (k) {
                free(k->code); /* judging only */
                k->code = NULL;
        }
        if (rc) {
                anon_kanon_destroy(k);
                k = NULL;
        }
        *out = k;
        return rc;
}

size_t anon_kanon_ranges(const anon_kanon_t *k, size_t i, const int32_t **triples,
                         const uint8_t **unknown)
{
        *triples = NULL;
        *unknown = NULL;
        if (!k || i >= k->n || k->roff[i] == NONE)
                return 0;
        if (k->uoff[i] != NONE)
                *unknown = k->ubuf + k->uoff[i];
        *triples = k->rbuf + k->roff[i] + 1;
        return (size_t)k->rbuf[k->roff[i]];
}

int anon_kanon_generalised(const anon_kanon_t *k, size_t i)
{
        return k && i < k->n && k->roff[i] != NONE;
}

void anon_kanon_destroy(anon_kanon_t *k)
{
        if (!k)
                return;
        free(k->lvl);
        free(k->code);
        free(k->hb);
        free(k->roff);
        free(k->uoff);
        free(k->rbuf);
        free(k->ubuf);
        free(k);
}
