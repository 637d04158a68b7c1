/* Risk measurement and the enforced k (anon_kanon.c) through the batch
 * buffer, with the shipped rules-v1.conf (k = 1, measures only) and
 * rules-v2.conf (k = 5, hierarchies). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_batch.h"
#include "anon_kanon.h"
#include "anon_rules.h"
#include "oshirase/dictionary.h"
#include "oshirase/serde.h"

#define RULES_V1 OSH_SOURCE_DIR "/services/anonymizer/rules/rules-v1.conf"
#define RULES_V2 OSH_SOURCE_DIR "/services/anonymizer/rules/rules-v2.conf"

static osh_dict_t *dict;
static anon_rules_t *v1, *v2;

static int setup(void **state)
{
        char errstr[256];

        if (osh_serde_init(errstr, sizeof(errstr)) ||
            !(dict = osh_dict_load_default(errstr, sizeof(errstr))) ||
            !(v1 = anon_rules_load(RULES_V1, dict, errstr, sizeof(errstr))) ||
            !(v2 = anon_rules_load(RULES_V2, dict, errstr, sizeof(errstr)))) {
                fprintf(stderr, "setup: %s\n", errstr);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        anon_rules_destroy(v1);
        anon_rules_destroy(v2);
        osh_dict_destroy(dict);
        osh_serde_shutdown();
        return 0;
}

static int pos(const char *name)
{
        return osh_dict_find(dict, name)->position;
}

typedef struct rec {
        char uid[16];
        int32_t birth, sex, ward, town, child[3];
        int hh_ages[4], nhh;
} rec_t;

static void add(anon_batch_t *b, const rec_t *r)
{
        uint8_t fl[64] = {0};
        int32_t val[64] = {0};
        anon_out_t o = {.flags = fl, .values = val};

        snprintf(o.uid, sizeof(o.uid), "%s", r->uid);
        val[pos("birth_ym")] = r->birth;
        val[pos("sex")] = r->sex;
        val[pos("municipality_code")] = r->ward;
        val[pos("town_code")] = r->town;
        for (int c = 0; c < 3; c++) {
                char n[16];
                snprintf(n, sizeof(n), "spare_%02d", c + 1);
                val[pos(n)] = r->child[c];
        }
        for (int i = 0; i < r->nhh; i++) {
                char n[16];
                int bit;
                snprintf(n, sizeof(n), "hh_age_%03d", r->hh_ages[i]);
                bit = pos(n);
                fl[bit / 8] |= (uint8_t)(1u << (bit % 8));
        }
        assert_int_equal(anon_batch_add(b, &o, 0, 0), 0);
}

/* A (3: 198001 M t101), B (2: 198002 M t101), c1 (198003 M t101), d1
 * (199005 F t202), e1 (no birth year-month, F t202). */
static anon_batch_t *sample(const anon_rules_t *r)
{
        static const rec_t rs[] = {
            {"a1", 198001, 1, 12101, 101, {0}, {0}, 0}, {"a2", 198001, 1, 12101, 101, {0}, {0}, 0},
            {"a3", 198001, 1, 12101, 101, {0}, {0}, 0}, {"b1", 198002, 1, 12101, 101, {0}, {0}, 0},
            {"b2", 198002, 1, 12101, 101, {0}, {0}, 0}, {"c1", 198003, 1, 12101, 101, {0}, {0}, 0},
            {"d1", 199005, 2, 12101, 202, {0}, {0}, 0}, {"e1", 0, 2, 12101, 202, {0}, {0}, 0},
        };
        anon_batch_t *b = anon_batch_new(r);

        for (size_t i = 0; i < sizeof(rs) / sizeof(rs[0]); i++)
                add(b, &rs[i]);
        return b;
}

static void test_risk_measured_at_k1(void **state)
{
        anon_batch_t *b = sample(v1);
        anon_stats_t st = {0};

        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_int_equal(st.out, 8);
        assert_int_equal(st.risk.records_before, 8);
        assert_int_equal(st.risk.bucket_before[0], 3); /* c1, d1, e1 */
        assert_int_equal(st.risk.bucket_before[1], 5); /* A, B */
        assert_int_equal(st.risk.min_before, 1);
        assert_float_equal(st.risk.unique_before, 3.0 / 8, 1e-9);
        /* without the birth year-month nobody is unique: it contributes most */
        assert_string_equal(v1->dims[st.risk.top_dim].name, "birth_ym");
        assert_int_equal(st.risk.top_drop, 3);
        /* nothing enforced at k = 1: after = before */
        assert_int_equal(st.risk.min_after, 1);
        assert_float_equal(st.risk.risk_max, 1.0, 1e-9);
        assert_float_equal(st.risk.risk_avg, 5.0 / 8, 1e-9); /* 5 classes over 8 records */
        assert_int_equal(st.risk.generalised, 0);
        anon_batch_destroy(b);
}

/* Three men and two women otherwise alike: dropping sex (no campaign
 * reads it) reaches k = 5; nothing else is touched. */
static void test_cheapest_step_reaching_k(void **state)
{
        anon_batch_t *b = anon_batch_new(v2);
        anon_stats_t st = {0};
        rec_t r = {"m0", 198001, 1, 12101, 101, {201509, 0, 0}, {40}, 1};

        for (int i = 0; i < 5; i++) {
                snprintf(r.uid, sizeof(r.uid), "u%d", i);
                r.sex = i < 3 ? 1 : 2;
                add(b, &r);
        }
        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_int_equal(st.out, 5);
        assert_int_equal(st.suppressed, 0);
        assert_int_equal(st.risk.generalised, 5);
        assert_int_equal(st.risk.generalised_cells, 5);
        assert_int_equal(st.min_group, 5);
        for (size_t i = 0; i < anon_batch_count(b); i++) {
                const int32_t *tr, *v;
                const uint8_t *unk, *f;
                const char *u;
                anon_rec_state_t s;
                assert_int_equal(anon_batch_ranges(b, i, &tr, &unk), 1);
                assert_int_equal(tr[0], pos("sex"));
                assert_true(tr[1] <= 1 && tr[2] >= 2);
                assert_null(unk);
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                assert_int_equal(s, ANON_REC_GENERALISED);
                assert_int_equal(v[pos("sex")], 0);           /* the stand-in */
                assert_int_equal(v[pos("spare_01")], 201509); /* the child stays exact */
                assert_int_equal(v[pos("birth_ym")], 198001);
        }
        anon_batch_destroy(b);
}

/* splitmix64, fixed seed */
static uint64_t rng = 42;
static uint64_t rnd(void)
{
        uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* One generalised value of a record, as text: "lo-hi" or the value. */
static void cell(const anon_batch_t *b, size_t i, int p, char *out, size_t size)
{
        const int32_t *tr, *v;
        const uint8_t *unk, *f;
        const char *u;
        anon_rec_state_t s;
        size_t n = anon_batch_ranges(b, i, &tr, &unk);

        anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
        for (size_t j = 0; j < n; j++)
                if (tr[3 * j] == p) {
                        snprintf(out, size, "%d-%d", tr[3 * j + 1], tr[3 * j + 2]);
                        return;
                }
        snprintf(out, size, "%d", v[p]);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A random city of 3,000: every released record shares what the cloud
 * shows of its quasi-identifiers with at least 4 others, each range holds
 * the true value, and counts reconcile. */
static void test_enforced_k_random_city(void **state)
{
        enum { N = 3000 };
        static rec_t rs[N];
        static char *keys[N];
        const char *qs[] = {"birth_ym", "sex",      "municipality_code", "town_code",
                            "spare_01", "spare_02", "spare_03"};
        anon_batch_t *b = anon_batch_new(v2);
        anon_stats_t st = {0};
        size_t nk = 0;

        for (int i = 0; i < N; i++) {
                rec_t *r = &rs[i];
                snprintf(r->uid, sizeof(r->uid), "u%05d", i);
                r->birth = (int32_t)(1930 + rnd() % 80) * 100 + (int32_t)(1 + rnd() % 12);
                r->sex = (int32_t)(1 + rnd() % 2);
                r->ward = 12101 + (int32_t)(rnd() % 6);
                r->town = (int32_t)(1 + rnd() % 40) * 100 + (int32_t)(1 + rnd() % 5);
                r->child[0] = rnd() % 3 ? 0 : (int32_t)(2000 + rnd() % 17) * 100 + 1 + rnd() % 12;
                r->nhh = (int)(rnd() % 4);
                for (int h = 0; h < r->nhh; h++)
                        r->hh_ages[h] = (int)(rnd() % 90);
                add(b, r);
        }
        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_true(st.risk.unique_before > 0.9);
        assert_int_equal(st.out + st.suppressed, N);
        assert_true(st.min_group >= 5);
        assert_true(st.risk.risk_max <= 0.2 + 1e-9);
        assert_float_equal(st.risk.unique_after, 0, 1e-9);
        assert_true(st.suppressed < N / 20); /* suppression is the last resort */
        for (size_t i = 0; i < anon_batch_count(b); i++) {
                char k[512] = "", c[64];
                const int32_t *v, *tr;
                const uint8_t *f, *unk;
                const char *u;
                anon_rec_state_t s;
                const rec_t *r;
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                if (s == ANON_REC_SUPPRESSED)
                        continue;
                r = &rs[atoi(u + 1)];
                /* the true value lies in every released range */
                size_t n = anon_batch_ranges(b, i, &tr, &unk);
                for (size_t j = 0; j < n; j++) {
                        int32_t truth = tr[3 * j] == pos("birth_ym")            ? r->birth
                                        : tr[3 * j] == pos("sex")               ? r->sex
                                        : tr[3 * j] == pos("municipality_code") ? r->ward
                                        : tr[3 * j] == pos("town_code")         ? r->town
                                                                                : r->child[0];
                        assert_true(truth >= tr[3 * j + 1] && truth <= tr[3 * j + 2]);
                }
                for (size_t q = 0; q < sizeof(qs) / sizeof(qs[0]); q++) {
                        cell(b, i, pos(qs[q]), c, sizeof(c));
                        strcat(k, c);
                        strcat(k, "|");
                }
                for (int a = 0; a <= 100; a++) { /* household ages: 0, 1 or ? */
                        char n2[16];
                        int bit;
                        snprintf(n2, sizeof(n2), "hh_age_%03d", a);
                        bit = pos(n2);
                        strcat(k, unk && (unk[bit / 8] >> (bit % 8) & 1) ? "?"
                                  : (f[bit / 8] >> (bit % 8) & 1)        ? "1"
                                                                         : "0");
                }
                keys[nk++] = strdup(k);
        }
        qsort(keys, nk, sizeof(*keys), cmp_str);
        for (size_t s0 = 0, e; s0 < nk; s0 = e) {
                for (e = s0 + 1; e < nk && !strcmp(keys[e], keys[s0]); e++)
                        ;
                if (e - s0 < 5)
                        fail_msg("class of %zu: %s", e - s0, keys[s0]);
        }
        for (size_t i = 0; i < nk; i++)
                free(keys[i]);
        anon_batch_destroy(b);
}

/* FNV-1a over v, for pinning a whole result in one number. */
#define PINNED 0x14cc99251a91d665ULL
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ULL;
        return h;
}

enum { CITY_N = 8000, CITY_W = 64 };

/* A random city of CITY_N with wide households and children (value rows and
 * flag rows CITY_W wide), the same for the same seed. */
static void gen_city(int32_t vals[][CITY_W], uint8_t fls[][CITY_W], uint64_t seed)
{
        int pb = pos("birth_ym"), pt = pos("town_code"),
            psp[3] = {pos("spare_01"), pos("spare_02"), pos("spare_03")};

        rng = seed;
        memset(vals, 0, sizeof(vals[0]) * CITY_N);
        memset(fls, 0, sizeof(fls[0]) * CITY_N);
        for (int i = 0; i < CITY_N; i++) {
                vals[i][pb] = (int32_t)(1920 + rnd() % 104) * 100 + (int32_t)(1 + rnd() % 12);
                vals[i][pos("sex")] = (int32_t)(1 + rnd() % 2);
                vals[i][pos("municipality_code")] = 12101 + (int32_t)(rnd() % 6);
                vals[i][pt] = (int32_t)(rnd() % 120) * 100 + (int32_t)(1 + rnd() % 5);
                for (int c = 0, nk = rnd() % 4 ? 0 : (int)(rnd() % 4); c < nk; c++)
                        vals[i][psp[c]] =
                            (int32_t)(2005 + rnd() % 19) * 100 + (int32_t)(1 + rnd() % 12);
                for (int m = 0, nh = (int)(rnd() % 4); m < nh; m++) {
                        char n[16];
                        int bit;
                        snprintf(n, sizeof(n), "hh_age_%03d", (int)(rnd() % 101));
                        bit = pos(n);
                        fls[i][bit / 8] |= (uint8_t)(1u << (bit % 8));
                }
        }
}

/* Every generalisation decision of a random city of 8,000 with wide
 * households and children, pinned: a speed-up must not change one of
 * them, or docs/privacy.md's Table 52 figures would no longer hold. A
 * deliberate change of decisions updates the number (saying why in the
 * commit) and re-runs privacy-table. The judging's threads split the work,
 * never the decisions: one, two and three give the same digest. */
static void test_enforced_k_decisions_pinned(void **state)
{
        static int32_t vals[CITY_N][CITY_W], *vp[CITY_N];
        static uint8_t fls[CITY_N][CITY_W], *fp[CITY_N], live[CITY_N];

        for (int threads = 1; threads <= 3; threads++) {
                anon_kview_t v = {CITY_N, 202404, vp, fp, live, threads};
                anon_kanon_t *k = NULL;
                anon_risk_t rk;
                uint64_t h = 0xcbf29ce484222325ULL;

                gen_city(vals, fls, 7);
                for (int i = 0; i < CITY_N; i++)
                        vp[i] = vals[i], fp[i] = fls[i], live[i] = 1;
                assert_int_equal(anon_kanon_run(v2, &v, &k, &rk), 0);
                for (int i = 0; i < CITY_N; i++) {
                        const int32_t *tr;
                        const uint8_t *unk;
                        size_t n = anon_kanon_ranges(k, (size_t)i, &tr, &unk);
                        h = fnv(h, &live[i], 1);
                        h = fnv(h, vals[i], sizeof(vals[i]));
                        h = fnv(h, fls[i], sizeof(fls[i]));
                        h = fnv(h, tr, n * 3 * sizeof(*tr));
                        if (unk)
                                h = fnv(h, unk, v2->flag_bytes);
                }
                assert_int_equal(rk.records_after + rk.suppressed, CITY_N);
                assert_true(rk.min_after >= 5);
                if (h != PINNED)
                        fail_msg("decisions changed with %d thread(s): %016llx", threads,
                                 (unsigned long long)h);
                anon_kanon_destroy(k);
        }
}

/* Thousands of singletons that one step brings to one key: each holds
 * its own household ages, all in the same four 5-year bands. The round's
 * candidates that lead to that key all fall in one partition, many times
 * the usual size; the partition's table must grow for it (ASan and
 * valgrind watch the bounds). All of them meet at the key. */
static void test_enforced_k_one_key_partition(void **state)
{
        enum { N = 6000 };
        static int32_t vals[N][CITY_W], *vp[N];
        static uint8_t fls[N][CITY_W], *fp[N], live[N];
        anon_kview_t v = {N, 202404, vp, fp, live, 2};
        anon_kanon_t *k = NULL;
        anon_risk_t rk;

        memset(vals, 0, sizeof(vals));
        memset(fls, 0, sizeof(fls));
        rng = 11;
        for (int i = 0; i < N; i++) {
                vals[i][pos("birth_ym")] = 198001;
                vals[i][pos("sex")] = 1;
                vals[i][pos("municipality_code")] = 12101;
                vals[i][pos("town_code")] = 101;
                for (int band = 0; band < 4; band++) /* a non-empty set of ages per band */
                        for (int a = 0, set = 1 + (int)(rnd() % 31); a < 5; a++) {
                                char n[16];
                                int bit;
                                if (!(set >> a & 1))
                                        continue;
                                snprintf(n, sizeof(n), "hh_age_%03d", band * 5 + a);
                                bit = pos(n);
                                fls[i][bit / 8] |= (uint8_t)(1u << (bit % 8));
                        }
                vp[i] = vals[i], fp[i] = fls[i], live[i] = 1;
        }
        assert_int_equal(anon_kanon_run(v2, &v, &k, &rk), 0);
        assert_true(rk.bucket_before[0] > N / 2); /* mostly unique before */
        assert_int_equal(rk.suppressed, 0);
        assert_int_equal(rk.records_after, N);
        assert_true(rk.min_after >= 5);
        anon_kanon_destroy(k);
}

/* The city of gen_city(seed) through a batch, records added in the order
 * perm gives (partition = position % 4, as if partitions interleaved):
 * a digest of what the batch releases, in its release order, and of its
 * report. */
static uint64_t batch_digest(int32_t vals[][CITY_W], uint8_t fls[][CITY_W], const int *perm)
{
        anon_batch_t *b = anon_batch_new(v2);
        anon_stats_t st = {0};
        uint64_t h = 0xcbf29ce484222325ULL;
        const anon_risk_t *rk = &st.risk;
        int64_t figures[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

        for (int j = 0; j < CITY_N; j++) {
                anon_out_t o = {
                    .flags = fls[perm[j]], .values = vals[perm[j]], .reference_date = 19814};
                snprintf(o.uid, sizeof(o.uid), "u%05d", perm[j]);
                assert_int_equal(anon_batch_add(b, &o, j % 4, j / 4), 0);
        }
        assert_int_equal(anon_batch_finish(b, &st), 0);
        for (size_t i = 0; i < anon_batch_count(b); i++) {
                const int32_t *tr, *v;
                const uint8_t *unk, *f;
                const char *u;
                anon_rec_state_t s;
                size_t n = anon_batch_ranges(b, i, &tr, &unk);
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                h = fnv(h, u, strlen(u) + 1);
                h = fnv(h, &s, sizeof(s));
                h = fnv(h, v, v2->value_count * sizeof(*v));
                h = fnv(h, f, v2->flag_bytes);
                h = fnv(h, tr, n * 3 * sizeof(*tr));
                if (unk)
                        h = fnv(h, unk, v2->flag_bytes);
        }
        figures[0] = st.out, figures[1] = st.suppressed, figures[2] = st.generalised;
        figures[3] = st.groups, figures[4] = st.min_group, figures[5] = rk->groups_after;
        figures[6] = rk->generalised_cells, figures[7] = rk->bucket_after[2];
        figures[8] = rk->bucket_after[3], figures[9] = rk->top_dim, figures[10] = rk->top_drop;
        h = fnv(h, figures, sizeof(figures));
        h = fnv(h, &rk->risk_avg, sizeof(rk->risk_avg));
        assert_true(st.min_group >= 5);
        anon_batch_destroy(b);
        return h;
}

/* Reprocessing the same input must give the same bytes (a topic replay
 * reads the partitions in another interleaving): the same city added in
 * file order, shuffled, and reversed is released identically. */
static void test_enforced_k_order_free(void **state)
{
        static int32_t vals[CITY_N][CITY_W];
        static uint8_t fls[CITY_N][CITY_W];
        static int perm[CITY_N];

        /* the greedy rounds of commit a459b4b gave other bytes for seeds 3
         * and 7 (and 28): classes judged one after another saw the steps
         * of those judged before them */
        for (uint64_t seed = 1; seed <= 8; seed++) {
                uint64_t h0, h;
                gen_city(vals, fls, seed);
                for (int i = 0; i < CITY_N; i++)
                        perm[i] = i;
                h0 = batch_digest(vals, fls, perm);
                for (int i = CITY_N - 1; i > 0; i--) { /* Fisher-Yates */
                        int j = (int)(rnd() % (uint64_t)(i + 1)), t = perm[i];
                        perm[i] = perm[j], perm[j] = t;
                }
                h = batch_digest(vals, fls, perm);
                if (h != h0)
                        fail_msg("seed %d: shuffled input released differently", (int)seed);
                for (int i = 0; i < CITY_N; i++)
                        perm[i] = CITY_N - 1 - i;
                h = batch_digest(vals, fls, perm);
                if (h != h0)
                        fail_msg("seed %d: reversed input released differently", (int)seed);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_risk_measured_at_k1),
            cmocka_unit_test(test_cheapest_step_reaching_k),
            cmocka_unit_test(test_enforced_k_random_city),
            cmocka_unit_test(test_enforced_k_decisions_pinned),
            cmocka_unit_test(test_enforced_k_order_free),
            cmocka_unit_test(test_enforced_k_one_key_partition),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
