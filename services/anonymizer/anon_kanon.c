#include "anon_kanon.h"

#include <stdlib.h>
#include <string.h>
#include "oshirase/grow.h"

#define YM_ANY_LO  180001 /* the range a year-month generalised to "any" spans */
#define YM_ANY_HI  219912
#define NONE       UINT32_MAX
#define DROPPED    0xff /* a level that stands for "left out" when measuring */
#define MAX_ROUNDS (ANON_MAX_QUASI * ANON_MAX_STEPS + 1)
/* score = cost * 4, + 5 if the step does not bring the class to k: a step
 * that reaches k wins over one that does not at up to one cost more */
#define COST_SCALE 4
#define NO_REACH   5

/* A record's generalised quasi-identifiers: what equality of classes means. */
typedef struct kkey {
        int32_t g[ANON_MAX_QUASI];
        uint8_t lvl[ANON_MAX_QUASI];
        uint64_t f[2]; /* the household-age group's bits (or band presence) */
} kkey_t;

typedef struct kcls {
        kkey_t key;
        int32_t count;
} kcls_t;

/* Open-addressing table of classes (linear probing, load <= 1/2). A slot
 * holds the key hash's low 32 bits above the class index + 1 (0 = empty):
 * probing compares those bits before touching the class, and growing or
 * deleting never reads a class at all. Enforcement deletes a class as it
 * empties and reuses its index, so the table holds the live classes only
 * (otherwise every step leaves one behind: 2 M classes, 200 MB at Chiba). */
typedef struct ktab {
        uint64_t *slot;
        size_t cap;
        kcls_t *cls;
        size_t ncls, cls_cap;
        uint32_t *freed; /* indexes of deleted classes (count 0), to reuse */
        size_t nfreed, freed_cap;
} ktab_t;

struct anon_kanon {
        size_t n;
        uint8_t *lvl; /* n * ndims: each record's level per quasi-identifier */
        int32_t *q;   /* n * ndims: the values, compact (the batch's rows are wide) */
        uint64_t *hb; /* n * 2: the household-age group's bits */
        uint32_t *roff, *uoff;
        int32_t *rbuf; /* per generalised record: count, then triples */
        size_t rlen, rcap;
        uint8_t *ubuf;
        size_t ulen, ucap;
        size_t flag_bytes;
};

/* ---- keys ---- */

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

/* The household-age group's exact bits (bit a: someone aged FROM + a). */
static void group_bits(const anon_dim_t *d, const uint8_t *fl, uint64_t h[2])
{
        h[0] = h[1] = 0;
        for (int a = 0; a < d->nbits; a++) {
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

/* q: the record's quasi-identifier values (row of the compact matrix), h
 * its household-age bits. */
static void make_key(const anon_rules_t *r, const int32_t *q, const uint64_t *h, const uint8_t *lvl,
                     kkey_t *k)
{
        memset(k, 0, sizeof(*k));
        for (int d = 0; d < r->ndims; d++) {
                const anon_dim_t *dm = &r->dims[d];
                int L = lvl[d], span;
                int32_t v = q[d];
                k->lvl[d] = (uint8_t)L;
                if (dm->kind == ANON_D_FLAGS) {
                        flags_key(dm, h, L, k->f);
                        continue;
                }
                span = L == DROPPED ? 0 : span_of(dm, L);
                if (L == DROPPED)
                        k->g[d] = 0;
                else if (!span || (dm->kind == ANON_D_YM && !v))
                        k->g[d] = span ? 0 : (v != 0); /* "any": present or not */
                else if (dm->kind == ANON_D_YM)
                        k->g[d] = L ? floordiv(ym_index(v), span) : v;
                else
                        k->g[d] = floordiv(v, span);
        }
}

static uint64_t key_hash(const kkey_t *k)
{
        const uint64_t *w = (const uint64_t *)(const void *)k;
        uint64_t h = 0x9e3779b97f4a7c15ULL;

        for (size_t i = 0; i < sizeof(*k) / 8; i++) {
                h = (h ^ w[i]) * 0x100000001b3ULL;
                h = (h << 31) | (h >> 33);
        }
        /* murmur3's finaliser: the table takes the low bits */
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53ULL;
        return h ^ (h >> 33);
}

/* ---- class table ---- */

static int tab_init(ktab_t *t, size_t n)
{
        memset(t, 0, sizeof(*t));
        for (t->cap = 1024; t->cap < 2 * n + 2; t->cap *= 2)
                ;
        t->slot = calloc(t->cap, sizeof(*t->slot));
        return t->slot ? 0 : -1;
}

/* Empties t for another classification of the same records: the slots and
 * classes stay allocated (ten passes at Chiba, 20 MB each otherwise). */
static void tab_reset(ktab_t *t)
{
        memset(t->slot, 0, t->cap * sizeof(*t->slot));
        t->ncls = t->nfreed = 0;
}

static void tab_free(ktab_t *t)
{
        free(t->slot);
        free(t->cls);
        free(t->freed);
        memset(t, 0, sizeof(*t));
}

#define SLOT_TAG(s) ((uint32_t)((s) >> 32))
#define SLOT_CLS(s) ((uint32_t)(s)-1)

/* The slot holding k, or the empty slot where it would go. */
static size_t tab_probe(const ktab_t *t, const kkey_t *k, uint64_t h)
{
        size_t i = (size_t)h & (t->cap - 1);

        for (uint64_t s; (s = t->slot[i]); i = (i + 1) & (t->cap - 1))
                if (SLOT_TAG(s) == (uint32_t)h && !memcmp(&t->cls[SLOT_CLS(s)].key, k, sizeof(*k)))
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

/* Class of k (hash h), or -1. */
static long tab_find(const ktab_t *t, const kkey_t *k, uint64_t h)
{
        uint64_t s = t->slot[tab_probe(t, k, h)];

        return s ? (long)SLOT_CLS(s) : -1;
}

/* A class index for a new class: a deleted one's, else the next. -1: OOM. */
static long tab_new_class(ktab_t *t)
{
        if (t->nfreed)
                return (long)t->freed[--t->nfreed];
        if (osh_grow(&t->cls, &t->cls_cap, t->ncls, sizeof(*t->cls), 1024))
                return -1;
        return (long)t->ncls++;
}

/* Class of k (hash h), added with count 0 if new; -1 on OOM. */
static long tab_add(ktab_t *t, const kkey_t *k, uint64_t h)
{
        size_t i;
        long c;

        if (2 * (t->ncls - t->nfreed + 1) > t->cap && tab_grow(t))
                return -1;
        i = tab_probe(t, k, h);
        if (t->slot[i])
                return (long)SLOT_CLS(t->slot[i]);
        if ((c = tab_new_class(t)) < 0)
                return -1;
        t->cls[c] = (kcls_t){*k, 0};
        t->slot[i] = (uint64_t)(uint32_t)h << 32 | ((uint64_t)c + 1);
        return c;
}

/* Deletes empty class c (backward shift: no tombstones, probes stay short)
 * and keeps its index for reuse. On OOM it just stays, empty: harmless. */
static void tab_del(ktab_t *t, uint32_t c)
{
        size_t m = t->cap - 1, i = key_hash(&t->cls[c].key) & m, j;

        if (osh_grow(&t->freed, &t->freed_cap, t->nfreed, sizeof(*t->freed), 1024))
                return;
        while (SLOT_CLS(t->slot[i]) != c)
                i = (i + 1) & m;
        for (j = (i + 1) & m; t->slot[j]; j = (j + 1) & m) {
                size_t home = SLOT_TAG(t->slot[j]) & m;
                if (((j - home) & m) >= ((j - i) & m)) { /* home at or before the hole */
                        t->slot[i] = t->slot[j];
                        i = j;
                }
        }
        t->slot[i] = 0;
        t->freed[t->nfreed++] = c;
}

/* ---- measuring ---- */

static int bucket_of(int32_t size)
{
        return size <= 1 ? 0 : size <= 4 ? 1 : size <= 9 ? 2 : 3;
}

/* Row i of the compact matrix and household bits. */
#define QROW(K, r, i) ((K)->q + (i) * (size_t)(r)->ndims)
#define HROW(K, i)    ((K)->hb + 2 * (i))
#define LROW(K, r, i) ((K)->lvl + (i) * (size_t)(r)->ndims)

/* Classes of the live records at their levels (drop: a dims index measured
 * as left out, or -1), into t (initialised here, or reset when it already
 * was). cid gets each live record's class. 0 / -1. */
static int classify(const anon_rules_t *r, const anon_kview_t *v, const anon_kanon_t *K, int drop,
                    ktab_t *t, uint32_t *cid)
{
        uint8_t l[ANON_MAX_QUASI];
        kkey_t k;

        if (t->slot)
                tab_reset(t);
        else if (tab_init(t, v->n))
                return -1;
        for (size_t i = 0; i < v->n; i++) {
                long c;
                if (!v->live[i])
                        continue;
                memcpy(l, LROW(K, r, i), (size_t)r->ndims);
                if (drop >= 0)
                        l[drop] = DROPPED;
                make_key(r, QROW(K, r, i), HROW(K, i), l, &k);
                if ((c = tab_add(t, &k, key_hash(&k))) < 0)
                        return -1;
                t->cls[c].count++;
                cid[i] = (uint32_t)c;
        }
        return 0;
}

static int64_t uniques(const anon_kview_t *v, const ktab_t *t, const uint32_t *cid)
{
        int64_t u = 0;

        for (size_t i = 0; i < v->n; i++)
                u += v->live[i] && t->cls[cid[i]].count == 1;
        return u;
}

/* Fills the before or after half of risk from a classification. */
static void tally(const ktab_t *t, int k, anon_risk_t *rk, int after)
{
        int64_t *bucket = after ? rk->bucket_after : rk->bucket_before, n = 0, u = 0, groups = 0;
        int32_t min = 0;

        for (size_t c = 0; c < t->ncls; c++) {
                int32_t s = t->cls[c].count;
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

/* The quasi-identifier whose removal leaves the fewest unique records. t is
 * reused for each measure. */
static int top_contributor(const anon_rules_t *r, const anon_kview_t *v, const anon_kanon_t *K,
                           ktab_t *t, uint32_t *cid, int64_t base, anon_risk_t *rk)
{
        rk->top_dim = -1;
        rk->top_drop = 0;
        for (int d = 0; d < r->ndims && base; d++) {
                int64_t drop;
                if (classify(r, v, K, d, t, cid))
                        return -1;
                drop = base - uniques(v, t, cid);
                if (drop > rk->top_drop)
                        rk->top_dim = d, rk->top_drop = drop;
        }
        return 0;
}

/* ---- enforcing ---- */

typedef struct enf {
        const anon_rules_t *r;
        const anon_kview_t *v;
        anon_kanon_t *K;
        uint32_t *cid;
        ktab_t *t;
        ktab_t moves; /* this round: records of small classes one step could bring to a key */
        uint32_t *mv; /* this round: class c's step d's moves class at [c * ndims + d] */
        size_t mv_cap;
        uint16_t *pm; /* per record: the dims whose value is a protected age */
        uint16_t *cm; /* this round, per class: its members' pm, or-ed */
        int8_t *sel;  /* this round, per class: the step chosen (-1: suppress) */
        int k;
        anon_risk_t *rk;
} enf_t;

/* The dims on which record i's value is a protected age (a campaign is
 * about to target it). */
static uint16_t protected_dims(const anon_rules_t *r, const anon_kview_t *v, const int32_t *q)
{
        uint16_t m = 0;

        for (int d = 0; d < r->ndims; d++) {
                const anon_dim_t *dm = &r->dims[d];
                int32_t age = ym_index(v->ref_ym) - ym_index(q[d]);
                for (int i = 0; q[d] && i < dm->nprot; i++)
                        if (age >= dm->prot[i][0] && age <= dm->prot[i][1])
                                m |= (uint16_t)(1u << d);
        }
        return m;
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

/* The steps worth a look for record rep's class: cost[d] gets each step's
 * cost, or -1 when d is not worth it. Only a step within one cost of the
 * cheapest can win (COST_SCALE, NO_REACH), and looking costs two table
 * probes per class. Returns how many are worth it. */
static int candidates(const enf_t *e, uint16_t prot, const uint8_t *l, int64_t *cost)
{
        int64_t min = -1;
        int n = 0;

        for (int d = 0; d < e->r->ndims; d++) {
                cost[d] = step_cost(e, prot, l, d);
                if (cost[d] >= 0 && (min < 0 || cost[d] < min))
                        min = cost[d];
        }
        for (int d = 0; d < e->r->ndims; d++) {
                if (cost[d] >= 0 && cost[d] * COST_SCALE >= min * COST_SCALE + NO_REACH)
                        cost[d] = -1;
                n += cost[d] >= 0;
        }
        return n;
}

/* The keys (and hashes) of record rep's candidate steps (cost[d] >= 0),
 * their home slots in t fetched ahead: the probes that follow then miss
 * the cache together rather than one after another. */
static void step_keys(const enf_t *e, const ktab_t *t, size_t rep, const int64_t *cost,
                      kkey_t *keys, uint64_t *hs)
{
        const anon_rules_t *r = e->r;
        uint8_t *l = LROW(e->K, r, rep);

        for (int d = 0; d < r->ndims; d++) {
                if (cost[d] < 0)
                        continue;
                l[d]++;
                make_key(r, QROW(e->K, r, rep), HROW(e->K, rep), l, &keys[d]);
                l[d]--;
                hs[d] = key_hash(&keys[d]);
                __builtin_prefetch(&t->slot[hs[d] & (t->cap - 1)]);
        }
}

/* Fills e->moves: every step every small class (first[c], size[c]) could
 * take, with the records it would bring, so that classes that can only
 * reach k together do; e->mv remembers where each went, so choosing needs
 * no second look. The table starts at one slot pair per class and grows:
 * most classes have one or two candidates, and a table sized for all
 * ndims of them (32 MB at Chiba) costs a cache miss per probe. 0 / -1. */
static int plan_moves(enf_t *e, const uint32_t *first, const uint32_t *size, size_t nc)
{
        const anon_rules_t *r = e->r;
        kkey_t keys[ANON_MAX_QUASI];

        if (e->moves.slot && e->moves.cap >= 2 * nc + 2)
                tab_reset(&e->moves); /* no page faults for a fresh table each round */
        else if (tab_free(&e->moves), tab_init(&e->moves, nc))
                return -1;
        if (osh_grow(&e->mv, &e->mv_cap, nc * (size_t)r->ndims, sizeof(*e->mv), 1024))
                return -1;
        for (size_t c = 0; c < nc; c++) {
                size_t rep = first[c];
                int64_t cost[ANON_MAX_QUASI];
                uint64_t hs[ANON_MAX_QUASI];
                candidates(e, e->cm[c], LROW(e->K, r, rep), cost);
                step_keys(e, &e->moves, rep, cost, keys, hs);
                for (int d = 0; d < r->ndims; d++) {
                        long m;
                        if (cost[d] < 0)
                                continue;
                        if ((m = tab_add(&e->moves, &keys[d], hs[d])) < 0)
                                return -1;
                        e->moves.cls[m].count += (int32_t)size[c];
                        e->mv[c * (size_t)r->ndims + (size_t)d] = (uint32_t)m;
                }
        }
        return 0;
}

/* The step for small class c of this round (record rep): dims index, or
 * -1. Judged on the round's starting state only (classes of at least k,
 * e->moves), never on what other small classes did before it in the
 * round: the choice must not depend on the order records arrived in. */
static int choose_step(enf_t *e, size_t c, size_t rep)
{
        const anon_rules_t *r = e->r;
        const uint32_t *mv = e->mv + c * (size_t)r->ndims;
        int best = -1;
        int64_t best_score = 0, cost[ANON_MAX_QUASI];
        uint64_t hs[ANON_MAX_QUASI];
        kkey_t keys[ANON_MAX_QUASI];

        candidates(e, e->cm[c], LROW(e->K, r, rep), cost);
        step_keys(e, e->t, rep, cost, keys, hs);
        for (int d = 0; d < r->ndims; d++) {
                long t;
                int32_t there;
                int64_t score;
                if (cost[d] < 0)
                        continue;
                t = tab_find(e->t, &keys[d], hs[d]);
                there = t >= 0 && e->t->cls[t].count >= e->k ? e->t->cls[t].count : 0;
                score = cost[d] * COST_SCALE;
                if (there + e->moves.cls[mv[d]].count < e->k)
                        score += NO_REACH;
                if (best < 0 || score < best_score)
                        best = d, best_score = score;
        }
        return best;
}

/* Moves the members of small class c (a list through next[], from first)
 * one step on dims index d, or suppresses them (d < 0). Members whose key
 * is the previous one's (nearly all) skip the table. 0 / -1. */
static int step_class(enf_t *e, int d, uint32_t first, const uint32_t *next)
{
        const anon_rules_t *r = e->r;
        kkey_t last, k;
        long into = -1;

        for (uint32_t i = first; i != NONE; i = next[i]) {
                uint8_t *l = LROW(e->K, r, i);
                if (!--e->t->cls[e->cid[i]].count)
                        tab_del(e->t, e->cid[i]);
                if (d < 0) {
                        e->v->live[i] = 0;
                        e->rk->suppressed++;
                        continue;
                }
                l[d]++;
                make_key(r, QROW(e->K, r, i), HROW(e->K, i), l, &k);
                if (into < 0 || memcmp(&k, &last, sizeof(k))) {
                        if ((into = tab_add(e->t, &k, key_hash(&k))) < 0)
                                return -1;
                        last = k;
                }
                e->t->cls[into].count++;
                e->cid[i] = (uint32_t)into;
        }
        return 0;
}

/* One round: the records of classes below k, grouped by class (a list per
 * class, no sort); every class chooses its step, then every class takes
 * it. *ns: records still to look at. */
static int round_once(enf_t *e, uint32_t *small, size_t *ns, uint32_t *next, uint32_t *head,
                      uint32_t *first, uint32_t *size)
{
        const anon_kview_t *v = e->v;
        size_t m = 0, nc = 0;

        for (size_t j = 0; j < *ns; j++) { /* only records of small classes can move */
                uint32_t i = small[j], c = e->cid[i];
                if (!v->live[i] || e->t->cls[c].count >= e->k)
                        continue;
                small[m++] = i;
                if (head[c] == NONE) {
                        first[nc] = c; /* the class for now; its head below */
                        size[nc++] = 0;
                }
                next[i] = head[c];
                head[c] = i;
        }
        *ns = m;
        for (size_t c = 0; c < nc; c++) {
                uint32_t cls = first[c];
                first[c] = head[cls];
                size[c] = (uint32_t)e->t->cls[cls].count;
                head[cls] = NONE;
                e->cm[c] = 0;
                for (uint32_t i = first[c]; i != NONE; i = next[i])
                        e->cm[c] |= e->pm[i];
        }
        if (plan_moves(e, first, size, nc))
                return -1;
        for (size_t c = 0; c < nc; c++)
                e->sel[c] = (int8_t)choose_step(e, c, first[c]);
        for (size_t c = 0; c < nc; c++)
                if (step_class(e, e->sel[c], first[c], next))
                        return -1;
        return 0;
}

static int enforce(enf_t *e)
{
        const anon_kview_t *v = e->v;
        size_t n = v->n + 1, ns = v->n;
        uint32_t *small = malloc(n * sizeof(*small)), *next = malloc(n * sizeof(*next)),
                 *first = malloc(n * sizeof(*first)), *size = malloc(n * sizeof(*size)),
                 *head = NULL;
        size_t head_cap = 0;
        int rc = -1;

        e->pm = malloc(n * sizeof(*e->pm));
        e->cm = malloc(n * sizeof(*e->cm));
        e->sel = malloc(n);
        if (!small || !next || !first || !size || !e->pm || !e->cm || !e->sel)
                goto fail;
        for (size_t i = 0; i < v->n; i++) {
                small[i] = (uint32_t)i;
                e->pm[i] = protected_dims(e->r, v, QROW(e->K, e->r, i));
        }
        for (int round = 0; round < MAX_ROUNDS && ns; round++) {
                if (head_cap < e->t->ncls + 1) { /* one list head per class */
                        uint32_t *h = realloc(head, (e->t->cls_cap + 1) * sizeof(*h));
                        if (!h)
                                goto fail;
                        head = h;
                        memset(head + head_cap, 0xff, (e->t->cls_cap + 1 - head_cap) * sizeof(*h));
                        head_cap = e->t->cls_cap + 1;
                }
                if (round_once(e, small, &ns, next, head, first, size))
                        goto fail;
        }
        for (size_t i = 0; i < v->n; i++) { /* never reached so far: suppressed, never released */
                if (v->live[i] && e->t->cls[e->cid[i]].count < e->k) {
                        v->live[i] = 0;
                        e->t->cls[e->cid[i]].count--;
                        e->rk->suppressed++;
                }
        }
        rc = 0;
fail:
        tab_free(&e->moves);
        free(e->mv);
        free(e->pm);
        free(e->cm);
        free(e->sel);
        free(small);
        free(next);
        free(first);
        free(size);
        free(head);
        return rc;
}

/* ---- rendering ---- */

static int push_ranges(anon_kanon_t *k, const int32_t *tr, int nr)
{
        if (k->rlen + 1 + (size_t)nr * 3 > k->rcap) {
                size_t cap = k->rcap ? k->rcap * 2 : 4096;
                int32_t *p;
                while (cap < k->rlen + 1 + (size_t)nr * 3)
                        cap *= 2;
                if (!(p = realloc(k->rbuf, cap * sizeof(*p))))
                        return -1;
                k->rbuf = p;
                k->rcap = cap;
        }
        k->rbuf[k->rlen++] = nr;
        memcpy(k->rbuf + k->rlen, tr, (size_t)nr * 3 * sizeof(*tr));
        k->rlen += (size_t)nr * 3;
        return 0;
}

static int push_unknown(anon_kanon_t *k, const uint8_t *u)
{
        if (k->ulen + k->flag_bytes > k->ucap) {
                size_t cap = k->ucap ? k->ucap * 2 : 4096;
                uint8_t *p;
                while (cap < k->ulen + k->flag_bytes)
                        cap *= 2;
                if (!(p = realloc(k->ubuf, cap)))
                        return -1;
                k->ubuf = p;
                k->ucap = cap;
        }
        memcpy(k->ubuf + k->ulen, u, k->flag_bytes);
        k->ulen += k->flag_bytes;
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

/* Rewrites record i and keeps its ranges. 0 / -1. */
static int render(anon_kanon_t *k, const anon_rules_t *r, const anon_kview_t *v, size_t i,
                  anon_risk_t *rk)
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
        rk->generalised++;
        rk->generalised_cells += cells;
        k->roff[i] = (uint32_t)k->rlen;
        if (push_ranges(k, tr, nr))
                return -1;
        if (anyu) {
                k->uoff[i] = (uint32_t)k->ulen;
                return push_unknown(k, unk);
        }
        return 0;
}

/* ---- public ---- */

static anon_kanon_t *kanon_new(const anon_rules_t *r, size_t n)
{
        anon_kanon_t *k = calloc(1, sizeof(*k));

        if (!k)
                return NULL;
        k->n = n;
        k->flag_bytes = r->flag_bytes;
        k->lvl = calloc(n * (size_t)r->ndims + 1, 1);
        k->q = malloc((n * (size_t)r->ndims + 1) * sizeof(*k->q));
        k->hb = calloc(2 * n + 2, sizeof(*k->hb));
        k->roff = malloc((n + 1) * sizeof(*k->roff));
        k->uoff = malloc((n + 1) * sizeof(*k->uoff));
        if (!k->lvl || !k->q || !k->hb || !k->roff || !k->uoff || r->flag_bytes > 256) {
                anon_kanon_destroy(k);
                return NULL;
        }
        memset(k->roff, 0xff, (n + 1) * sizeof(*k->roff));
        memset(k->uoff, 0xff, (n + 1) * sizeof(*k->uoff));
        return k;
}

/* The compact matrix the judging reads. */
static void load_rows(anon_kanon_t *K, const anon_rules_t *r, const anon_kview_t *v)
{
        for (size_t i = 0; i < v->n; i++) {
                int32_t *q = QROW(K, r, i);
                for (int d = 0; d < r->ndims; d++) {
                        const anon_dim_t *dm = &r->dims[d];
                        q[d] = dm->kind == ANON_D_FLAGS ? 0 : v->values[i][dm->pos];
                        if (dm->kind == ANON_D_FLAGS)
                                group_bits(dm, v->flags[i], HROW(K, i));
                }
        }
}

int anon_kanon_run(const anon_rules_t *r, const anon_kview_t *v, anon_kanon_t **out,
                   anon_risk_t *rk)
{
        anon_kanon_t *k = kanon_new(r, v->n);
        uint32_t *cid = malloc((v->n + 1) * sizeof(*cid));
        ktab_t t = {0};
        int rc = -1;

        memset(rk, 0, sizeof(*rk));
        if (!k || !cid)
                goto fail;
        load_rows(k, r, v);
        if (classify(r, v, k, -1, &t, cid))
                goto fail;
        tally(&t, r->k_floor, rk, 0);
        if (top_contributor(r, v, k, &t, cid, (int64_t)rk->bucket_before[0], rk))
                goto fail;
        if (classify(r, v, k, -1, &t, cid)) /* cid was reused by top_contributor */
                goto fail;
        if (r->k_action == ANON_K_HIERARCHY && r->k_floor > 1) {
                enf_t e = {.r = r, .v = v, .K = k, .cid = cid, .t = &t, .k = r->k_floor, .rk = rk};
                if (enforce(&e))
                        goto fail;
        }
        tally(&t, r->k_floor, rk, 1);
        for (size_t i = 0; i < v->n; i++)
                if (v->live[i] && render(k, r, v, i, rk))
                        goto fail;
        rc = 0;
fail:
        tab_free(&t);
        free(cid);
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
        free(k->q);
        free(k->hb);
        free(k->roff);
        free(k->uoff);
        free(k->rbuf);
        free(k->ubuf);
        free(k);
}
