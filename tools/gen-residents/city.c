/* City model (see city.h). One xoshiro256** stream seeded from the seed
 * alone, consumed in a fixed order, so a seed always yields the same city. */
#include "city.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const WARD_NAME[6] = {"中央区", "花見川区", "稲毛区", "若葉区", "緑区", "美浜区"};
const int WARD_CODE[6] = {12101, 12102, 12103, 12104, 12105, 12106};
/* population shares of Chiba's wards (roughly, 2016) */
static const double WARD_SHARE[6] = {0.21, 0.18, 0.16, 0.15, 0.13, 0.17};

static const char *const TOWNS[6][8] = {
    {"中央", "本町", "富士見", "新町", "登戸", "院内", "道場南", "千葉港"},
    {"幕張町", "検見川町", "花園", "作新台", "柏井町", "三角町", "朝日ケ丘", "長作町"},
    {"稲毛", "小仲台", "轟町", "穴川", "園生町", "天台", "作草部", "長沼町"},
    {"若松町", "桜木", "都賀", "貝塚町", "大宮町", "小倉台", "千城台北", "加曽利町"},
    {"鎌取町", "誉田町", "おゆみ野", "土気町", "あすみが丘", "平川町", "大野台", "高田町"},
    {"真砂", "幸町", "高浜", "稲毛海岸", "打瀬", "磯辺", "若葉", "中瀬"},
};
static const char *const TOWN_SUFFIX[5] = {"", "東", "西", "南", "北"};

static const char *const SURNAME[][2] = {
    {"佐藤", "サトウ"},   {"鈴木", "スズキ"},   {"高橋", "タカハシ"},   {"田中", "タナカ"},
    {"伊藤", "イトウ"},   {"渡辺", "ワタナベ"}, {"山本", "ヤマモト"},   {"中村", "ナカムラ"},
    {"小林", "コバヤシ"}, {"加藤", "カトウ"},   {"吉田", "ヨシダ"},     {"山田", "ヤマダ"},
    {"佐々木", "ササキ"}, {"山口", "ヤマグチ"}, {"松本", "マツモト"},   {"井上", "イノウエ"},
    {"木村", "キムラ"},   {"林", "ハヤシ"},     {"斎藤", "サイトウ"},   {"清水", "シミズ"},
    {"山崎", "ヤマザキ"}, {"森", "モリ"},       {"池田", "イケダ"},     {"橋本", "ハシモト"},
    {"阿部", "アベ"},     {"石川", "イシカワ"}, {"石井", "イシイ"},     {"小川", "オガワ"},
    {"前田", "マエダ"},   {"岡田", "オカダ"},   {"長谷川", "ハセガワ"}, {"藤田", "フジタ"},
    {"後藤", "ゴトウ"},   {"近藤", "コンドウ"}, {"村上", "ムラカミ"},   {"遠藤", "エンドウ"},
    {"青木", "アオキ"},   {"坂本", "サカモト"}, {"齋藤", "サイトウ"},   {"髙橋", "タカハシ"},
};
#define N_SURNAME (sizeof(SURNAME) / sizeof(SURNAME[0]))
static const char *const GIVEN_M[][2] = {
    {"太郎", "タロウ"},   {"一郎", "イチロウ"}, {"健", "ケン"},     {"誠", "マコト"},
    {"大輔", "ダイスケ"}, {"翔太", "ショウタ"}, {"蓮", "レン"},     {"悠真", "ユウマ"},
    {"浩", "ヒロシ"},     {"茂", "シゲル"},     {"清", "キヨシ"},   {"陽翔", "ハルト"},
    {"拓也", "タクヤ"},   {"和也", "カズヤ"},   {"直樹", "ナオキ"}, {"勇", "イサム"},
};
static const char *const GIVEN_F[][2] = {
    {"花子", "ハナコ"},   {"幸子", "サチコ"}, {"恵子", "ケイコ"}, {"陽子", "ヨウコ"},
    {"美咲", "ミサキ"},   {"愛", "アイ"},     {"結衣", "ユイ"},   {"陽菜", "ヒナ"},
    {"和子", "カズコ"},   {"節子", "セツコ"}, {"由美", "ユミ"},   {"真由美", "マユミ"},
    {"さくら", "サクラ"}, {"凛", "リン"},     {"芽依", "メイ"},   {"智子", "トモコ"},
};
#define N_GIVEN 16

/* ---- random numbers ---- */

static uint64_t rng_s[4];

static uint64_t splitmix(uint64_t *x)
{
        uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
        return (x << k) | (x >> (64 - k));
}

static uint64_t rnd(void)
{
        uint64_t r = rotl(rng_s[1] * 5, 7) * 9, t = rng_s[1] << 17;
        rng_s[2] ^= rng_s[0];
        rng_s[3] ^= rng_s[1];
        rng_s[1] ^= rng_s[2];
        rng_s[0] ^= rng_s[3];
        rng_s[2] ^= t;
        rng_s[3] = rotl(rng_s[3], 45);
        return r;
}

static double unif(void)
{
        return (double)(rnd() >> 11) * 0x1.0p-53;
}

static int chance(double p)
{
        return unif() < p;
}

/* integer in [lo, hi] */
static int irange(int lo, int hi)
{
        return hi <= lo ? lo : lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* ---- tables ---- */

int city_landslide_risk(const household_t *h)
{
        /* (ward index, town index): 緑区 towns 4, 6, 7 and 若葉区 towns 6, 8 of
         * campaigns/04-landslide-preparedness.json (town code = index + 1) */
        static const uint8_t area[][2] = {{4, 3}, {4, 5}, {4, 6}, {3, 5}, {3, 7}};

        for (size_t i = 0; i < sizeof(area) / sizeof(area[0]); i++)
                if (h->ward == area[i][0] && h->town == area[i][1])
                        return h->chome == 5 && h->banchi <= 4;
        return 0;
}

int town_count(int ward)
{
        (void)ward;
        return 40; /* 8 names x 5 suffixes */
}

const char *town_name(int ward, int town, char *buf, size_t size)
{
        snprintf(buf, size, "%s%s", TOWNS[ward][town % 8], TOWN_SUFFIX[(town / 8) % 5]);
        return buf;
}

const char *surname(int i, int kana)
{
        return SURNAME[(size_t)i % N_SURNAME][kana];
}

const char *given_name(uint32_t i, int sex, int kana)
{
        return sex == 1 ? GIVEN_M[i % N_GIVEN][kana] : GIVEN_F[i % N_GIVEN][kana];
}

/* x -> (a*x + b) mod 1e9 is a bijection for a coprime to 10. */
static void scramble10(size_t i, uint64_t a, uint64_t b, char lead, char out[11])
{
        uint64_t v = (a * (uint64_t)i + b) % 1000000000ULL;
        snprintf(out, 11, "%c%09llu", lead, (unsigned long long)v);
}

void atena_no(size_t person, char out[11])
{
        scramble10(person, 7919, 1234567, '1', out);
}

void setai_no(size_t hh, char out[11])
{
        scramble10(hh, 104729, 7654321, '2', out);
}

int city_age(const city_t *c, const person_t *p)
{
        osh_date_t b, r;

        osh_date_from_days(p->birth, &b);
        osh_date_from_days(c->ref, &r);
        return osh_date_age(&b, &r);
}

int period_active(const period_t *pr, int32_t ref)
{
        return pr->has && pr->start <= ref && ref < pr->end;
}

/* ---- households ---- */

enum { H_SINGLE, H_COUPLE, H_KIDS, H_SINGLE_PARENT, H_THREEGEN, H_PARENT_CHILD, H_SIBLINGS };
static const double TYPE_P[] = {0.35, 0.20, 0.27, 0.015, 0.05, 0.065, 0.05};

typedef struct plan {
        uint8_t type, kids, parents;
} plan_t;

static int plan_size(const plan_t *p)
{
        switch (p->type) {
        case H_SINGLE:
                return 1;
        case H_SINGLE_PARENT:
                return 1 + p->kids;
        case H_KIDS:
                return 2 + p->kids;
        case H_THREEGEN:
                return 2 + p->kids + p->parents;
        default:
                return 2;
        }
}

static void plan_one(plan_t *p)
{
        double u = unif(), acc = 0;

        p->type = H_SIBLINGS;
        for (int t = 0; t < 7; t++) {
                acc += TYPE_P[t];
                if (u < acc) {
                        p->type = (uint8_t)t;
                        break;
                }
        }
        p->kids = (uint8_t)(p->type == H_KIDS || p->type == H_SINGLE_PARENT || p->type == H_THREEGEN
                                ? (chance(0.4)    ? 1
                                   : chance(0.75) ? 2
                                                  : 3)
                                : 0);
        p->parents = (uint8_t)(p->type == H_THREEGEN ? irange(1, 2) : 0);
}

/* Adds or removes children until the sizes sum to exactly n. */
static void plan_adjust(plan_t *pl, size_t nh, uint64_t n)
{
        uint64_t s = 0;

        for (size_t i = 0; i < nh; i++)
                s += (uint64_t)plan_size(&pl[i]);
        while (s != n) {
                plan_t *p = &pl[rnd() % nh];
                if (s < n && (p->type == H_KIDS || p->type == H_COUPLE) && p->kids < 5) {
                        p->type = H_KIDS;
                        p->kids++;
                        s++;
                } else if (s > n && p->kids > 0 && p->type != H_SINGLE_PARENT) {
                        if (--p->kids == 0 && p->type == H_KIDS)
                                p->type = H_COUPLE;
                        s--;
                } else if (s > n && p->type != H_SINGLE && p->kids == 0) {
                        p->type = H_SINGLE;
                        p->parents = 0;
                        s--;
                }
        }
}

static int age_single(void)
{
        static const int lo[] = {18, 25, 30, 40, 50, 60, 70, 80, 90};
        static const double w[] = {0.08, 0.13, 0.14, 0.12, 0.10, 0.13, 0.16, 0.11, 0.03};
        double u = unif(), acc = 0;

        for (int i = 0; i < 9; i++) {
                acc += w[i];
                if (u < acc)
                        return irange(lo[i], i < 8 ? lo[i + 1] - 1 : 104);
        }
        return 40;
}

static int32_t birth_for_age(const city_t *c, int age)
{
        /* a day in the year before the age-th birthday anniversary */
        return c->ref - (int32_t)(age * 365.2425) - irange(1, 364);
}

static person_t *add_person(city_t *c, size_t hh, int rel, int sex, int age)
{
        person_t *p = &c->p[c->np++];

        memset(p, 0, sizeof(*p));
        p->hh = (uint32_t)hh;
        p->rel = (uint8_t)rel;
        p->sex = (uint8_t)sex;
        if (age < 0)
                age = 0;
        if (age > 104)
                age = 104;
        p->birth = birth_for_age(c, age);
        p->given = (uint32_t)rnd();
        return p;
}

static int clampi(int v, int lo, int hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

static void add_kids(city_t *c, size_t hh, int n, int parent_age, int max_age)
{
        /* born while the parent was 21..44 */
        int top = clampi(parent_age - 21, 0, max_age), bottom = clampi(parent_age - 44, 0, top);

        for (int k = 0; k < n; k++)
                add_person(c, hh, REL_CHILD, irange(1, 2), irange(bottom, top));
}

static void materialize(city_t *c, size_t hh, const plan_t *pl)
{
        household_t *h = &c->h[hh];
        double u = unif(), acc = 0;
        int a, hs = chance(0.8) ? 1 : 2;

        h->first = (uint32_t)c->np;
        h->ward = 5;
        for (int w = 0; w < 6; w++) {
                acc += WARD_SHARE[w];
                if (u < acc) {
                        h->ward = (uint8_t)w;
                        break;
                }
        }
        h->town = (uint16_t)irange(0, town_count(h->ward) - 1);
        h->chome = (uint8_t)irange(1, 5);
        h->banchi = (uint16_t)irange(1, 40);
        h->go = (uint16_t)irange(1, 30);
        h->surname = (uint16_t)irange(0, (int)N_SURNAME - 1);
        switch (pl->type) {
        case H_SINGLE:
                add_person(c, hh, REL_HEAD, irange(1, 2), age_single());
                break;
        case H_COUPLE:
                a = 25 + (int)(pow(unif(), 0.6) * 67);
                add_person(c, hh, REL_HEAD, hs, a);
                add_person(c, hh, REL_SPOUSE, 3 - hs, clampi(a + irange(-6, 3), 20, 104));
                break;
        case H_KIDS:
                /* grown children often still live with their parents */
                a = irange(29, 72);
                add_person(c, hh, REL_HEAD, hs, a);
                add_person(c, hh, REL_SPOUSE, 3 - hs, clampi(a + irange(-5, 3), 20, 104));
                add_kids(c, hh, pl->kids, a, 38);
                break;
        case H_SINGLE_PARENT:
                a = irange(24, 55);
                add_person(c, hh, REL_HEAD, chance(0.85) ? 2 : 1, a);
                add_kids(c, hh, pl->kids, a, 17);
                break;
        case H_THREEGEN:
                a = irange(32, 55);
                add_person(c, hh, REL_HEAD, hs, a);
                add_person(c, hh, REL_SPOUSE, 3 - hs, clampi(a + irange(-5, 3), 20, 104));
                add_kids(c, hh, pl->kids, a, 20);
                for (int k = 0; k < pl->parents; k++)
                        add_person(c, hh, REL_PARENT, k ? 2 : 1,
                                   clampi(a + irange(24, 36), 0, 104));
                break;
        case H_PARENT_CHILD:
                a = irange(35, 65);
                add_person(c, hh, REL_HEAD, irange(1, 2), a);
                add_person(c, hh, REL_PARENT, chance(0.7) ? 2 : 1,
                           clampi(a + irange(24, 34), 0, 104));
                break;
        default:
                a = irange(20, 80);
                add_person(c, hh, REL_HEAD, irange(1, 2), a);
                add_person(c, hh, 7 /* sibling */, irange(1, 2),
                           clampi(a + irange(-8, 8), 18, 104));
                break;
        }
        h->n = (uint32_t)(c->np - h->first);
}

static int32_t max32(int32_t a, int32_t b)
{
        return a > b ? a : b;
}

static void period_set(period_t *pr, int32_t start, int32_t end)
{
        pr->has = 1;
        pr->start = start;
        pr->end = end;
}

/* Statuses that belong to a whole household: NHI, public assistance,
 * child allowance, child-rearing allowance. */
static void household_status(city_t *c, size_t hh, int type)
{
        household_t *h = &c->h[hh];
        person_t *head = &c->p[h->first];
        int head_age = city_age(c, head), kids15 = 0, kids18 = 0, months_min = 9999;
        /* about 2% of residents (Chiba: 被保護人員 ~2.2%), elderly singles most */
        int pa = chance(type == H_SINGLE_PARENT                ? 0.15
                        : (type == H_SINGLE && head_age >= 65) ? 0.11
                        : type == H_SINGLE                     ? 0.03
                                                               : 0.011);
        int nhi = !pa && chance(head_age >= 65 ? 0.85 : type == H_SINGLE ? 0.30 : 0.20);
        int32_t oldest15 = c->ref;

        for (uint32_t i = 0; i < h->n; i++) {
                person_t *p = &c->p[h->first + i];
                int age = city_age(c, p);
                if (pa)
                        period_set(&p->pa, c->ref - irange(30, 3000), INT32_MAX);
                if (age >= 75)
                        period_set(&p->koki, p->birth + (int32_t)(75 * 365.2425) + 1, INT32_MAX);
                else if (nhi)
                        period_set(&p->nhi, max32(c->ref - irange(1, 7000), p->birth), INT32_MAX);
                else if (age >= 20 && chance(0.02))
                        period_set(&p->nhi, c->ref - irange(800, 3000), c->ref - irange(1, 700));
                if (p->rel == REL_CHILD && age < 15) {
                        int months = (c->ref - p->birth) / 30;
                        kids15++;
                        if (p->birth < oldest15)
                                oldest15 = p->birth;
                        if (months < months_min)
                                months_min = months;
                }
                if (p->rel == REL_CHILD && age < 18)
                        kids18++;
        }
        if (kids15 && chance(0.97)) {
                head->kids = (uint8_t)kids15;
                period_set(&head->ca,
                           max32(oldest15 + 30 < c->ref ? oldest15 + 30 : c->ref, c->ref - 5400),
                           INT32_MAX);
                head->ext[0] = chance(0.55) ? 2 : 1;
        }
        /* the 18-month check-up: a child 18..35 months old (counted as 30-day months) */
        if (head->ca.has && months_min >= 18 && months_min <= 35)
                head->ext[1] = chance(0.85) ? 2 : 1;
        if (type == H_SINGLE_PARENT && kids18 && chance(0.88)) {
                double u = unif();
                head->kubun = u < 0.45 ? 1 : u < 0.93 ? 2 : 3;
                period_set(&head->cr, c->ref - irange(30, 3000), INT32_MAX);
        }
}

static void person_status(city_t *c, person_t *p, double q)
{
        static const char B32[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        int age = city_age(c, p);
        double base = age < 20 ? 0.15 : age < 65 ? 0.8 : 0.45;
        int taxed = chance(base);

        if (age >= 18) {
                for (int y = 0; y < 3; y++) {
                        int t = chance(0.08) ? !taxed : taxed;
                        p->tax[y] = period_active(&p->pa, c->ref) ? 2 : t ? 1 : 2;
                }
        }
        if (period_active(&p->nhi, c->ref) && age >= 40 && age <= 74)
                p->ext[2] = chance(0.35) ? 2 : 1;
        p->gaiji_name = (uint8_t)chance(c->o.gaiji_rate);
        p->gaiji_addr = (uint8_t)chance(c->o.gaiji_rate);
        if (age >= 18 && chance(q)) {
                p->applicant = chance(0.96) ? 2 : 1;
                if (chance(0.7)) {
                        p->user_id[0] = 'U';
                        for (int i = 1; i < 12; i++)
                                p->user_id[i] = B32[rnd() % 32];
                }
                do
                        p->cats = (uint8_t)(rnd() & 15);
                while (!p->cats);
                p->applied =
                    (int64_t)(c->ref - irange(1, 300)) * 86400 + irange(8 * 3600, 20 * 3600);
        }
}

int city_build(city_t *c, const city_opts_t *o)
{
        uint64_t x = o->seed;
        plan_t *pl = NULL;
        size_t adults = 0;
        double q;

        memset(c, 0, sizeof(*c));
        c->o = *o;
        for (int i = 0; i < 4; i++)
                rng_s[i] = splitmix(&x);
        c->ref = osh_date_to_days(o->ref.year, o->ref.month, o->ref.day);
        c->fy = o->ref.month >= 4 ? o->ref.year : o->ref.year - 1;
        c->nh = (size_t)llround((double)o->residents * 423718.0 / 973183.0);
        if (c->nh < 1)
                c->nh = 1;
        if (c->nh > o->residents)
                c->nh = (size_t)o->residents;
        pl = calloc(c->nh, sizeof(*pl));
        c->h = calloc(c->nh, sizeof(*c->h));
        c->p = calloc((size_t)o->residents, sizeof(*c->p));
        if (!pl || !c->h || !c->p)
                goto fail;
        for (size_t i = 0; i < c->nh; i++)
                plan_one(&pl[i]);
        plan_adjust(pl, c->nh, o->residents);
        for (size_t i = 0; i < c->nh; i++) {
                materialize(c, i, &pl[i]);
                household_status(c, i, pl[i].type);
        }
        for (size_t i = 0; i < c->np; i++)
                adults += city_age(c, &c->p[i]) >= 18;
        q = adults ? o->applicant_share * (double)c->np / (double)adults : 0;
        for (size_t i = 0; i < c->np; i++)
                person_status(c, &c->p[i], q > 1 ? 1 : q);
        free(pl);
        return 0;
fail:
        free(pl);
        city_free(c);
        return -1;
}

void city_free(city_t *c)
{
        free(c->p);
        free(c->h);
        c->p = NULL;
        c->h = NULL;
}
