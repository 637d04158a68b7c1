#include "anon_batch.h"

#include <stdlib.h>
#include <string.h>

typedef struct rec_hdr {
        uint64_t pfx; /* uid_prefix(uid): the 利用者ID sort key */
        int64_t offset;
        int32_t partition;
        uint8_t state;
        uint8_t extreme;
        char uid[ANON_UID_MAX + 2];
} rec_hdr_t; /* then int32 values[value_count], then flags[flag_bytes] */

/* Records live in fixed chunks, never moved: growing one array by
 * realloc copied it and faulted in fresh pages at every doubling. */
#define CHUNK_RECS 4096

struct anon_batch {
        const anon_rules_t *r;
        uint8_t **chunks;
        size_t nchunks, chunks_cap;
        size_t n, stride;
        uint32_t *order;     /* after finish */
        anon_kanon_t *kanon; /* after finish: generalised values */
        int32_t ref_days;    /* the batch's reference date (the same in every record) */
};

anon_batch_t *anon_batch_new(const anon_rules_t *r)
{
        anon_batch_t *b = calloc(1, sizeof(*b));

        if (!b)
                return NULL;
        b->r = r;
        b->stride = sizeof(rec_hdr_t) + r->value_count * sizeof(int32_t) + r->flag_bytes;
        b->stride = (b->stride + 7) & ~(size_t)7;
        return b;
}

void anon_batch_destroy(anon_batch_t *b)
{
        if (!b)
                return;
        for (size_t i = 0; i < b->nchunks; i++)
                free(b->chunks[i]);
        free(b->chunks);
        free(b->order);
        anon_kanon_destroy(b->kanon);
        free(b);
}

static uint8_t *at(const anon_batch_t *b, size_t i)
{
        return b->chunks[i / CHUNK_RECS] + (i % CHUNK_RECS) * b->stride;
}

static rec_hdr_t *rec(const anon_batch_t *b, size_t i)
{
        return (rec_hdr_t *)(void *)at(b, i);
}

static int32_t *vals(const anon_batch_t *b, size_t i)
{
        return (int32_t *)(void *)(at(b, i) + sizeof(rec_hdr_t));
}

static uint8_t *flags(const anon_batch_t *b, size_t i)
{
        return at(b, i) + sizeof(rec_hdr_t) + b->r->value_count * sizeof(int32_t);
}

static uint64_t uid_prefix(const char *uid);

/* Room for record n: a new chunk when the last is full. 0 / -1. */
static int room(anon_batch_t *b)
{
        uint8_t **cs;

        if (b->n < b->nchunks * CHUNK_RECS)
                return 0;
        if (b->nchunks == b->chunks_cap) {
                size_t cap = b->chunks_cap ? b->chunks_cap * 2 : 16;
                if (!(cs = realloc(b->chunks, cap * sizeof(*cs))))
                        return -1;
                b->chunks = cs;
                b->chunks_cap = cap;
        }
        if (!(b->chunks[b->nchunks] = malloc(CHUNK_RECS * b->stride)))
                return -1;
        b->nchunks++;
        return 0;
}

int anon_batch_add(anon_batch_t *b, const anon_out_t *o, int32_t partition, int64_t offset)
{
        rec_hdr_t *h;

        if (room(b))
                return -1;
        h = rec(b, b->n);
        memset(h, 0, sizeof(*h));
        h->offset = offset;
        h->partition = partition;
        b->ref_days = o->reference_date;
        h->extreme = (uint8_t)o->extreme;
        memcpy(h->uid, o->uid, strnlen(o->uid, ANON_UID_MAX));
        h->pfx = uid_prefix(h->uid);
        memcpy(vals(b, b->n), o->values, b->r->value_count * sizeof(int32_t));
        memcpy(flags(b, b->n), o->flags, b->r->flag_bytes);
        /* The padding too: cmp_uid compares it, and which duplicate is kept
         * must not depend on leftover heap bytes. */
        memset(flags(b, b->n) + b->r->flag_bytes, 0,
               b->stride - sizeof(rec_hdr_t) - b->r->value_count * sizeof(int32_t) -
                   b->r->flag_bytes);
        b->n++;
        return 0;
}

size_t anon_batch_count(const anon_batch_t *b)
{
        return b->n;
}

/* qsort has no context argument in C11: the batch being sorted. One
 * anonymizer thread finishes one batch at a time. */
static const anon_batch_t *sort_batch;

/* 利用者ID, then the payload, so that which of two records sharing an id
 * is kept does not depend on arrival order. */
static int cmp_uid(const void *a, const void *b)
{
        uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
        const anon_batch_t *bt = sort_batch;
        int c = strcmp(rec(bt, i)->uid, rec(bt, j)->uid);

        if (c)
                return c;
        c = memcmp(vals(bt, i), vals(bt, j), bt->stride - sizeof(rec_hdr_t));
        return c ? c : (i > j) - (i < j);
}

/* Sorting scratch: keys and indexes, twice (radix passes ping-pong). */
typedef struct sort_tmp {
        uint64_t *k, *k2;
        uint32_t *i2;
} sort_tmp_t;

static int tmp_new(sort_tmp_t *t, size_t n)
{
        t->k = malloc((n + 1) * sizeof(*t->k));
        t->k2 = malloc((n + 1) * sizeof(*t->k2));
        t->i2 = malloc((n + 1) * sizeof(*t->i2));
        return t->k && t->k2 && t->i2 ? 0 : -1;
}

static void tmp_free(sort_tmp_t *t)
{
        free(t->k);
        free(t->k2);
        free(t->i2);
}

/* Stable LSD radix sort of idx[0..n) by t->k (parallel to idx), a byte per
 * pass; a byte that is the same in every key costs no pass. Stability is
 * what lets several sorts compose into a lexicographic order. */
static void radix(uint32_t *idx, size_t n, sort_tmp_t *t)
{
        uint64_t *k = t->k, *k2 = t->k2, *kt;
        uint32_t *i1 = idx, *i2 = t->i2, *it;
        size_t cnt[8][256] = {{0}};

        for (size_t j = 0; j < n; j++)
                for (int d = 0; d < 8; d++)
                        cnt[d][(k[j] >> (8 * d)) & 0xff]++;
        for (int d = 0; d < 8; d++) {
                size_t sum = 0, *c = cnt[d];
                if (c[(k[0] >> (8 * d)) & 0xff] == n)
                        continue;
                for (int v = 0; v < 256; v++) {
                        size_t x = c[v];
                        c[v] = sum;
                        sum += x;
                }
                for (size_t j = 0; j < n; j++) {
                        size_t to = c[(k[j] >> (8 * d)) & 0xff]++;
                        k2[to] = k[j];
                        i2[to] = i1[j];
                }
                kt = k, k = k2, k2 = kt;
                it = i1, i1 = i2, i2 = it;
        }
        if (i1 != idx)
                memcpy(idx, i1, n * sizeof(*idx));
}

/* Orders idx[0..n) by the quasi-identifiers, then by index: the order a
 * comparison sort on (quasi[0], .., quasi[nquasi-1], index) gives, but by
 * one radix sort per column, last column first. idx must be ascending. */
static void sort_qi(const anon_batch_t *b, uint32_t *idx, size_t n, sort_tmp_t *t)
{
        if (n < 2)
                return;
        for (int q = b->r->nquasi - 1; q >= 0; q--) {
                int pos = b->r->quasi[q];
                for (size_t j = 0; j < n; j++)
                        t->k[j] = (uint32_t)vals(b, idx[j])[pos] ^ UINT32_C(0x80000000);
                radix(idx, n, t);
        }
}

/* The first 8 bytes of a 利用者ID, big-endian, zero-padded: ordered as
 * strcmp orders the ids (ids hold no NUL and compare as unsigned bytes). */
static uint64_t uid_prefix(const char *uid)
{
        uint64_t k = 0;

        for (int i = 0; i < 8 && uid[i]; i++)
                k |= (uint64_t)(uint8_t)uid[i] << (56 - 8 * i);
        return k;
}

/* Orders b->order (ascending on entry) as cmp_uid does: radix by the
 * 8-byte prefix, then the full comparison inside runs of equal prefixes. */
static void sort_uid(anon_batch_t *b, sort_tmp_t *t)
{
        size_t n = b->n;

        for (size_t j = 0; j < n; j++)
                t->k[j] = rec(b, j)->pfx;
        if (n < 2)
                return;
        radix(b->order, n, t);
        for (size_t j = 0; j < n; j++)
                t->k[j] = rec(b, b->order[j])->pfx;
        sort_batch = b;
        for (size_t s = 0, e; s < n; s = e) {
                for (e = s + 1; e < n && t->k[e] == t->k[s]; e++)
                        ;
                if (e - s > 1)
                        qsort(b->order + s, e - s, sizeof(*b->order), cmp_uid);
        }
}

static int same_qi(const anon_batch_t *b, uint32_t i, uint32_t j)
{
        for (int q = 0; q < b->r->nquasi; q++)
                if (vals(b, i)[b->r->quasi[q]] != vals(b, j)[b->r->quasi[q]])
                        return 0;
        return 1;
}

/* Calls fn on each run of equal quasi-identifiers in idx[0..n) (ascending). */
static void for_groups(anon_batch_t *b, uint32_t *idx, size_t n, sort_tmp_t *t,
                       void (*fn)(anon_batch_t *, uint32_t *, size_t, anon_stats_t *),
                       anon_stats_t *st)
{
        sort_qi(b, idx, n, t);
        for (size_t s = 0, e; s < n; s = e) {
                for (e = s + 1; e < n && same_qi(b, idx[s], idx[e]); e++)
                        ;
                fn(b, idx + s, e - s, st);
        }
}

static void first_pass(anon_batch_t *b, uint32_t *g, size_t n, anon_stats_t *st)
{
        if (n >= (size_t)b->r->k_floor)
                return;
        st->groups_below_k++;
        for (size_t i = 0; i < n; i++) {
                rec_hdr_t *h = rec(b, g[i]);
                int32_t *v = vals(b, g[i]);
                if (b->r->k_action == ANON_K_GENERALISE && v[b->r->generalise_pos] % 100) {
                        v[b->r->generalise_pos] -= v[b->r->generalise_pos] % 100;
                        h->state = ANON_REC_GENERALISED;
                } else {
                        h->state = ANON_REC_SUPPRESSED;
                }
        }
}

static void second_pass(anon_batch_t *b, uint32_t *g, size_t n, anon_stats_t *st)
{
        if (n >= (size_t)b->r->k_floor)
                return;
        for (size_t i = 0; i < n; i++)
                rec(b, g[i])->state = ANON_REC_SUPPRESSED;
}

static void final_pass(anon_batch_t *b, uint32_t *g, size_t n, anon_stats_t *st)
{
        st->groups++;
        if (!st->min_group || n < (size_t)st->min_group)
                st->min_group = (int32_t)n;
}

/* Indexes of records in state s (or, with s < 0, of every record not
 * duplicate or suppressed). */
static size_t collect(const anon_batch_t *b, uint32_t *idx, int s)
{
        size_t n = 0;

        for (size_t i = 0; i < b->n; i++) {
                uint8_t st = rec(b, i)->state;
                if (s >= 0 ? st == s : st != ANON_REC_DUPLICATE && st != ANON_REC_SUPPRESSED)
                        idx[n++] = (uint32_t)i;
        }
        return n;
}

static void k_floor(anon_batch_t *b, uint32_t *tmp, sort_tmp_t *t, anon_stats_t *st)
{
        size_t n;

        if (b->r->k_floor <= 1)
                return;
        n = collect(b, tmp, ANON_REC_KEEP);
        for_groups(b, tmp, n, t, first_pass, st);
        /* Generalised records regroup with everything else of the same
         * year; groups still below k lose their generalised members only,
         * so records that already met k are never suppressed afterwards. */
        n = collect(b, tmp, -1);
        sort_qi(b, tmp, n, t);
        for (size_t s = 0, e; s < n; s = e) {
                int gen = 0;
                for (e = s + 1; e < n && same_qi(b, tmp[s], tmp[e]); e++)
                        ;
                for (size_t i = s; i < e; i++)
                        gen |= rec(b, tmp[i])->state == ANON_REC_GENERALISED;
                if (gen && e - s < (size_t)b->r->k_floor)
                        second_pass(b, tmp + s, e - s, st);
        }
}

static void mark_duplicates(anon_batch_t *b, sort_tmp_t *t)
{
        sort_uid(b, t);
        for (size_t i = 1; i < b->n; i++)
                if (!strcmp(rec(b, b->order[i])->uid, rec(b, b->order[i - 1])->uid))
                        rec(b, b->order[i])->state = ANON_REC_DUPLICATE;
}

/* Risk over every quasi-identifier, and with k_action = hierarchy the
 * enforced k (anon_kanon.h): suppressed and generalised records marked. */
static int judge_risk(anon_batch_t *b, anon_stats_t *st)
{
        anon_kview_t v = {
            .n = b->n, .ref_ym = anon_yearmonth(b->ref_days), .threads = b->r->threads};
        int rc = -1;

        v.values = malloc((b->n + 1) * sizeof(*v.values));
        v.flags = malloc((b->n + 1) * sizeof(*v.flags));
        v.live = malloc(b->n + 1);
        if (!v.values || !v.flags || !v.live)
                goto fail;
        for (size_t i = 0; i < b->n; i++) {
                v.values[i] = vals(b, i);
                v.flags[i] = flags(b, i);
                v.live[i] = rec(b, i)->state == ANON_REC_KEEP;
        }
        anon_kanon_destroy(b->kanon);
        if (anon_kanon_run(b->r, &v, &b->kanon, &st->risk))
                goto fail;
        for (size_t i = 0; i < b->n; i++) {
                rec_hdr_t *h = rec(b, i);
                if (h->state == ANON_REC_KEEP && !v.live[i])
                        h->state = ANON_REC_SUPPRESSED;
                else if (h->state == ANON_REC_KEEP && anon_kanon_generalised(b->kanon, i))
                        h->state = ANON_REC_GENERALISED;
        }
        rc = 0;
fail:
        free(v.values);
        free(v.flags);
        free(v.live);
        return rc;
}

int anon_batch_finish(anon_batch_t *b, anon_stats_t *st)
{
        uint32_t *tmp = malloc((b->n + 1) * sizeof(*tmp));
        sort_tmp_t t = {0};
        size_t n;

        free(b->order);
        b->order = malloc((b->n + 1) * sizeof(*b->order));
        if (!tmp || !b->order || tmp_new(&t, b->n)) {
                free(tmp);
                free(b->order);
                b->order = NULL;
                tmp_free(&t);
                return -1;
        }
        for (size_t i = 0; i < b->n; i++)
                b->order[i] = (uint32_t)i;
        mark_duplicates(b, &t);
        if (judge_risk(b, st)) {
                free(tmp);
                tmp_free(&t);
                return -1;
        }
        if (b->r->k_action != ANON_K_HIERARCHY)
                k_floor(b, tmp, &t, st);
        n = collect(b, tmp, -1);
        if (b->r->k_action != ANON_K_HIERARCHY) {
                for_groups(b, tmp, n, &t, final_pass, st);
        } else { /* measured over every quasi-identifier already */
                st->groups = st->risk.groups_after;
                st->min_group = st->risk.min_after;
                st->groups_below_k = st->risk.groups_below_k;
        }
        for (size_t i = 0; i < b->n; i++) {
                const rec_hdr_t *h = rec(b, i);
                st->extreme += h->extreme;
                st->rejected += h->state == ANON_REC_DUPLICATE;
                st->suppressed += h->state == ANON_REC_SUPPRESSED;
                st->generalised += h->state == ANON_REC_GENERALISED;
        }
        st->out = (int64_t)n;
        free(tmp);
        tmp_free(&t);
        return 0;
}

size_t anon_batch_ranges(const anon_batch_t *b, size_t i, const int32_t **triples,
                         const uint8_t **unknown)
{
        return anon_kanon_ranges(b->kanon, b->order ? b->order[i] : i, triples, unknown);
}

void anon_batch_get(const anon_batch_t *b, size_t i, const char **uid, const uint8_t **fl,
                    const int32_t **values, anon_rec_state_t *state, int32_t *partition,
                    int64_t *offset)
{
        size_t j = b->order ? b->order[i] : i;
        const rec_hdr_t *h = rec(b, j);

        *uid = h->uid;
        *fl = flags(b, j);
        *values = vals(b, j);
        *state = (anon_rec_state_t)h->state;
        if (partition)
                *partition = h->partition;
        if (offset)
                *offset = h->offset;
}
