/* bench-targeting: preview and send (list freeze) latency of the nine seed
 * campaigns at Chiba scale (figures, not a test).
 *
 *   bench-targeting [residents] [runs] [campaign dir] [rounds]
 *   (defaults: 973183, 21, the source tree's campaigns/, 5)
 *
 * Builds a synthetic abstracted population in memory with the segmenter's
 * own store builder (ages 0-99, children's birth year-months, the Table 21
 * flags at plausible rates, Chiba's six wards and gen-residents-style town
 * codes), a destination for about a third of residents (opted in to the seed
 * campaigns' own categories, so sends freeze real lists), then times seg_campaign_evaluate() for
 * each campaign as a preview (counts and the channel/ward breakdown) and as a send (counts + the
 * sorted recipient list and its checksum, what the segmenter freezes).
 *
 * Holding still on a shared machine: one warm-up round first (it also pays
 * the once-per-snapshot index builds, printed apart), then `rounds` rounds;
 * inside a round the campaigns and the preview/send pairs are interleaved
 * (run 1 of every campaign, then run 2, ...), so a burst of load lands on
 * all of them alike. Per campaign: median and p99 over all samples, and the
 * min-max of the per-round medians (the noise). A send the minimum audience
 * rejects measures no freeze: it is flagged and counted. Send dates are
 * 2017-03-15 as in the integration test. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <dirent.h>

#include "oshirase/avro_json.h"
#include "oshirase/dictionary.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"
#include "seg_campaign.h"
#include "seg_dest.h"
#include "seg_store.h"

#ifndef OSH_CAMPAIGN_DIR
#define OSH_CAMPAIGN_DIR "campaigns"
#endif
#define SEND_MS       1489503600000LL /* 2017-03-15 00:00 JST */
#define MAX_CAMPAIGNS 32
#define MAX_ROUNDS    50
#define TARGET_MED_MS 5.0 /* issue 14 item 6 */
#define TARGET_P99_MS 10.0

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err) __attribute__((noreturn));
static void die(const char *what, const char *err)
{
        fprintf(stderr, "bench-targeting: %s: %s\n", what, err);
        exit(1);
}

/* splitmix64: a fixed seed gives the same population on every run */
static uint64_t rng_state = 0x5eed2017;
static uint64_t rnd(void)
{
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}
static int chance(double p)
{
        return (double)(rnd() >> 11) / 9007199254740992.0 < p;
}
static int irange(int lo, int hi)
{
        return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

typedef struct pos {
        int nhi, ca, tax_prev, pa, cra, ext1, ext2, ext3, birth, muni, town, kid[3];
} pos_t;

static int at(const osh_dict_t *d, const char *name)
{
        const osh_dict_entry_t *e = osh_dict_find(d, name);

        if (!e)
                die("dictionary", name);
        return e->position;
}

static pos_t positions(const osh_dict_t *d)
{
        return (pos_t){at(d, "nhi"),
                       at(d, "child_allowance"),
                       at(d, "tax_previous"),
                       at(d, "public_assistance"),
                       at(d, "child_rearing_allowance"),
                       at(d, "ext_01"),
                       at(d, "ext_02"),
                       at(d, "ext_03"),
                       at(d, "birth_ym"),
                       at(d, "municipality_code"),
                       at(d, "town_code"),
                       {at(d, "spare_01"), at(d, "spare_02"), at(d, "spare_03")}};
}

/* One resident: returns the number of children written to values. */
static int resident(const pos_t *p, uint8_t *flags, size_t nbytes, int32_t *values)
{
        int age = irange(0, 99), by = 2017 - age, kids = 0;

        memset(flags, 0, nbytes);
        values[p->birth] = chance(0.002) ? 0 : by * 100 + irange(1, 12);
        values[p->muni] = 12101 + irange(0, 5);
        values[p->town] = irange(1, 40) * 100 + irange(1, 5);
        if (age >= 22 && age <= 55 && chance(0.35))
                for (kids = 0; kids < irange(1, 3); kids++)
                        values[p->kid[kids]] =
                            (2017 - irange(0, age - 20 < 17 ? age - 20 : 17)) * 100 + irange(1, 12);
        osh_flags_set(flags, nbytes, p->nhi, chance(0.25));
        osh_flags_set(flags, nbytes, p->ca, kids > 0 && chance(0.8));
        osh_flags_set(flags, nbytes, p->tax_prev, age >= 18 && chance(0.65));
        osh_flags_set(flags, nbytes, p->pa, chance(0.03));
        osh_flags_set(flags, nbytes, p->cra, kids > 0 && chance(0.08));
        osh_flags_set(flags, nbytes, p->ext1, chance(0.3));
        osh_flags_set(flags, nbytes, p->ext2, chance(0.5));
        osh_flags_set(flags, nbytes, p->ext3, chance(0.4));
        return kids;
}

static seg_store_t *population(const osh_dict_t *d, size_t n, seg_dests_t *dests)
{
        /* the seed campaigns' categories */
        static const char *const cats[] = {"childcare", "single_parent", "health_welfare",
                                           "safety_disaster"};
        const char *mine[4];
        pos_t p = positions(d);
        size_t nbytes = osh_dict_flag_bytes(d), nv = osh_dict_value_count(d);
        uint8_t *flags = malloc(nbytes);
        int32_t *values = calloc(nv, sizeof(*values));
        seg_builder_t *b =
            seg_builder_new(osh_dict_flag_count(d), nv, osh_dict_layout(d), "bench-batch");
        char uid[32], acc[40], err[256];

        if (!flags || !values || !b)
                die("population", "out of memory");
        for (size_t i = 0; i < n; i++) {
                size_t nc = 0;
                memset(values, 0, nv * sizeof(*values));
                resident(&p, flags, nbytes, values);
                snprintf(uid, sizeof(uid), "U%010zu", (i * 2654435761u) % 10000000000u);
                if (seg_builder_add(b, uid, 17240, osh_dict_layout(d), flags, nbytes, values, nv,
                                    err, sizeof(err)))
                        die("builder", err);
                if (!chance(0.35))
                        continue;
                for (size_t c = 0; c < 4; c++)
                        if (chance(0.6))
                                mine[nc++] = cats[c];
                snprintf(acc, sizeof(acc), "acct-%s", uid);
                if (seg_dests_put(dests, uid, chance(0.8) ? 0 : 1, acc, mine, nc, !chance(0.05)))
                        die("destinations", "out of memory");
        }
        free(flags);
        free(values);
        return seg_builder_finish(b);
}

static char *slurp(const char *path, size_t *len)
{
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        long n;

        if (!fp)
                return NULL;
        if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
            (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, fp) == (size_t)n) {
                buf[n] = '\0';
                *len = (size_t)n;
        } else {
                free(buf);
                buf = NULL;
        }
        fclose(fp);
        return buf;
}

static int by_name(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The campaign files of dir, sorted, as requests. Returns the count. */
static size_t load_campaigns(const char *dir, seg_request_t *out, size_t max)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_CAMPAIGNS);
        char *names[MAX_CAMPAIGNS], path[4096], err[256];
        struct dirent *de;
        size_t n = 0, len;
        DIR *dp = opendir(dir);

        if (!dp || !s)
                die(dir, dp ? "no campaign schema" : strerror(errno));
        while ((de = readdir(dp)) && n < max)
                if (strlen(de->d_name) > 5 && !strcmp(de->d_name + strlen(de->d_name) - 5, ".json"))
                        names[n++] = strdup(de->d_name);
        closedir(dp);
        qsort(names, n, sizeof(names[0]), by_name);
        for (size_t i = 0; i < n; i++) {
                avro_value_t v;
                char *json;
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                if (!(json = slurp(path, &len)) || osh_value_new(s, &v))
                        die(path, "unreadable");
                if (osh_avro_from_json(json, len, s->json, &v, err, sizeof(err)) ||
                    seg_request_from_avro(&v, &out[i], err, sizeof(err)))
                        die(path, err);
                avro_value_decref(&v);
                free(json);
                free(names[i]);
        }
        return n;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static double median_of(double *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        return v[n / 2];
}

static double p99_of(double *v, size_t n)
{
        qsort(v, n, sizeof(*v), cmp_double);
        return v[(size_t)((double)(n - 1) * 0.99 + 0.5)];
}

/* One evaluation, in ms; the outcome of the last one is kept in *last. */
static double timed(const seg_env_t *env, const seg_request_t *r, int want_list,
                    seg_outcome_t *last)
{
        double t0 = now_s(), ms;

        seg_outcome_clear(last);
        if (seg_campaign_evaluate(env, r, want_list, last))
                die(r->campaign_id, "out of memory");
        ms = (now_s() - t0) * 1e3;
        return ms;
}

typedef struct camp {
        double *prev, *send; /* rounds * runs samples each */
        double prev_rmed[MAX_ROUNDS], send_rmed[MAX_ROUNDS];
        double first_prev, first_send; /* the warm-up round */
        seg_outcome_t p, s;
} camp_t;

static void range_of(const double *v, int n, double *lo, double *hi)
{
        *lo = *hi = v[0];
        for (int i = 1; i < n; i++) {
                *lo = v[i] < *lo ? v[i] : *lo;
                *hi = v[i] > *hi ? v[i] : *hi;
        }
}

static void run_rounds(const seg_env_t *env, seg_request_t *rq, size_t nc, camp_t *c, int runs,
                       int rounds)
{
        double *tmp = calloc((size_t)runs, sizeof(double));

        if (!tmp)
                die("rounds", "out of memory");
        for (size_t i = 0; i < nc; i++) { /* warm-up: first calls build the indexes */
                c[i].first_prev = timed(env, &rq[i], 0, &c[i].p);
                c[i].first_send = timed(env, &rq[i], 1, &c[i].s);
        }
        for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < runs; k++)
                        for (size_t i = 0; i < nc; i++) {
                                c[i].prev[r * runs + k] = timed(env, &rq[i], 0, &c[i].p);
                                c[i].send[r * runs + k] = timed(env, &rq[i], 1, &c[i].s);
                        }
                for (size_t i = 0; i < nc; i++) {
                        memcpy(tmp, c[i].prev + r * runs, (size_t)runs * sizeof(double));
                        c[i].prev_rmed[r] = median_of(tmp, (size_t)runs);
                        memcpy(tmp, c[i].send + r * runs, (size_t)runs * sizeof(double));
                        c[i].send_rmed[r] = median_of(tmp, (size_t)runs);
                }
        }
        free(tmp);
}

/* Prints one campaign's row; returns 1 if it meets both targets. */
static int report(const seg_request_t *r, camp_t *c, int runs, int rounds)
{
        size_t n = (size_t)runs * (size_t)rounds;
        double pm = median_of(c->prev, n), pp = p99_of(c->prev, n), sm = median_of(c->send, n),
               sp = p99_of(c->send, n), plo, phi, slo, shi;
        int ok = pm <= TARGET_MED_MS && pp <= TARGET_P99_MS && sm <= TARGET_MED_MS &&
                 sp <= TARGET_P99_MS;

        range_of(c->prev_rmed, rounds, &plo, &phi);
        range_of(c->send_rmed, rounds, &slo, &shi);
        printf("%-38s %7lld %6lld %7zu %5.2f (%5.2f-%5.2f) %6.2f %5.2f (%5.2f-%5.2f) %6.2f %7.1f "
               "%7.1f%s\n",
               r->campaign_id, (long long)c->p.certain, (long long)c->p.possible, c->s.nlist, pm,
               plo, phi, pp, sm, slo, shi, sp, c->first_prev, c->first_send, ok ? "" : "  OVER");
        if (c->s.state == SEG_ST_REJECTED)
                printf("  send REJECTED, no list frozen: %s\n", c->s.message);
        return ok;
}

int main(int argc, char **argv)
{
        size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 973183;
        int runs = argc > 2 ? atoi(argv[2]) : 21;
        const char *dir = argc > 3 ? argv[3] : OSH_CAMPAIGN_DIR;
        int rounds = argc > 4 ? atoi(argv[4]) : 5;
        seg_request_t rq[MAX_CAMPAIGNS] = {0};
        camp_t c[MAX_CAMPAIGNS] = {0};
        seg_dests_t dests = {0};
        seg_exclusions_t excl = {0};
        seg_view_t view = {0};
        char err[256];
        osh_dict_t *d;
        seg_store_t *store;
        double t0;
        size_t nc, ok = 0, frozen = 0;

        if (n == 0 || runs < 1 || rounds < 1 || rounds > MAX_ROUNDS)
                die("usage", "bench-targeting [residents>0] [runs>0] [campaign dir] [rounds 1-50]");
        if (osh_serde_init(err, sizeof(err)) || !(d = osh_dict_load_default(err, sizeof(err))))
                die("init", err);
        nc = load_campaigns(dir, rq, MAX_CAMPAIGNS);
        for (size_t i = 0; i < nc; i++)
                if (!(c[i].prev = calloc((size_t)(runs * rounds), sizeof(double))) ||
                    !(c[i].send = calloc((size_t)(runs * rounds), sizeof(double))))
                        die("samples", "out of memory");
        t0 = now_s();
        if (!(store = population(d, n, &dests)))
                die("population", "out of memory");
        printf("bench-targeting: %zu residents, %zu destinations, built in %.2f s; "
               "warm-up + %d interleaved rounds x %d runs per campaign\n",
               store->n, dests.n, now_s() - t0, rounds, runs);
        t0 = now_s();
        if (seg_view_sync(&view, store, &dests, &excl, 1))
                die("view", "out of memory");
        printf("destinations view: %.1f ms (once per snapshot or destinations change)\n\n",
               (now_s() - t0) * 1e3);
        seg_env_t env = {.view = &view, .dict = d, .min_audience_floor = 1, .now_ms = SEND_MS};
        for (size_t i = 0; i < nc; i++)
                rq[i].send_at_ms = 0;
        run_rounds(&env, rq, nc, c, runs, rounds);
        printf("%-38s %7s %6s %7s %-19s %6s %-19s %6s %7s %7s\n", "campaign (ms)", "certain",
               "possbl", "frozen", "prev.med (rounds)", "p99", "send.med (rounds)", "p99",
               "1st.prv", "1st.snd");
        for (size_t i = 0; i < nc; i++) {
                ok += (size_t)report(&rq[i], &c[i], runs, rounds);
                frozen += c[i].s.state != SEG_ST_REJECTED;
        }
        printf("\n%zu of %zu campaigns within %.0f ms median and %.0f ms p99 for preview and send; "
               "%zu of %zu sends froze a list\n",
               ok, nc, TARGET_MED_MS, TARGET_P99_MS, frozen, nc);
        for (size_t i = 0; i < nc; i++) {
                seg_outcome_clear(&c[i].p);
                seg_outcome_clear(&c[i].s);
                free(c[i].prev);
                free(c[i].send);
                seg_request_clear(&rq[i]);
        }
        seg_view_clear(&view);
        seg_store_destroy(store);
        seg_dests_clear(&dests);
        osh_dict_destroy(d);
        osh_serde_shutdown();
        return 0;
}
