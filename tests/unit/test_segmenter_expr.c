/* Segmenter condition language: parsing, precedence, error positions,
 * three-valued logic and age boundaries at month edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/dictionary.h"
#include "seg_expr.h"
#include "seg_store.h"

static osh_dict_t *dict;

static int setup(void **state)
{
        char err[256];

        dict = osh_dict_load_default(err, sizeof(err));
        return dict ? 0 : -1;
}

static int teardown(void **state)
{
        osh_dict_destroy(dict);
        return 0;
}

static char dumped[1024];

static const char *compile_dump(const char *text)
{
        seg_expr_opts_t o = {.dict = dict};
        char err[256];
        seg_expr_t *e = seg_expr_compile(text, &o, NULL, err, sizeof(err));

        if (!e) {
                snprintf(dumped, sizeof(dumped), "ERROR %s", err);
                return dumped;
        }
        seg_expr_dump(e, dumped, sizeof(dumped));
        seg_expr_destroy(e);
        return dumped;
}

static void test_precedence(void **state)
{
        assert_string_equal(compile_dump("nhi or late_elderly and not spouse"),
                            "(or nhi (and late_elderly (not spouse)))");
        assert_string_equal(compile_dump("(nhi or late_elderly) and spouse"),
                            "(and (or nhi late_elderly) spouse)");
        assert_string_equal(compile_dump("not nhi and spouse"), "(and (not nhi) spouse)");
        assert_string_equal(compile_dump("nhi AND NOT ext_01"), "(and nhi (not ext_01))");
        assert_string_equal(compile_dump("nhi or spouse or ext_01"), "(or (or nhi spouse) ext_01)");
}

static void test_forms(void **state)
{
        assert_string_equal(compile_dump("nhi = 1 and ext_03 = 0"), "(and nhi (not ext_03))");
        assert_string_equal(compile_dump("nhi != 1"), "(not nhi)");
        assert_string_equal(compile_dump("town in [3, 1, 2]"), "(in town_code 1 2 3)");
        assert_string_equal(compile_dump("town not in [5]"), "(not (in town_code 5))");
        assert_string_equal(compile_dump("sex in 1..2"), "(range sex 1 2)");
        assert_string_equal(compile_dump("ward = chuo"), "(= municipality_code 12101)");
        assert_string_equal(compile_dump("ward = 12106"), "(= municipality_code 12106)");
        assert_string_equal(compile_dump("sex = female"), "(= sex 2)");
        assert_string_equal(compile_dump("birth_ym >= 195001"), "(>= birth_ym 195001)");
        assert_string_equal(compile_dump("age(40..74)"), "(age 40 74)");
        assert_string_equal(compile_dump("age(65..)"), "(age 65 max)");
        assert_string_equal(compile_dump("child_age(9)"), "(child_age 9 9)");
        assert_string_equal(compile_dump("child_age_months(18)"), "(child_age_months 18 18)");
        assert_string_equal(compile_dump("category(child)"), "(category child)");
        assert_string_equal(compile_dump("category(\"子育て\")"), "(category 子育て)");
        assert_string_equal(compile_dump("true and not false"), "(and true (not false))");
}

static void expect_error(const char *text, int column, const char *needle)
{
        seg_expr_opts_t o = {.dict = dict};
        char err[256] = "";
        int col = -1;
        seg_expr_t *e = seg_expr_compile(text, &o, &col, err, sizeof(err));

        if (e || col != column || !strstr(err, needle)) {
                print_error("for [%s]: column %d, message [%s]; wanted column %d with [%s]\n", text,
                            col, err, column, needle);
                seg_expr_destroy(e);
                fail();
        }
}

static void test_errors(void **state)
{
        expect_error("", 1, "expected a condition, found end of input");
        expect_error("nhi and", 8, "expected a condition, found end of input");
        expect_error("nhi = 1 and (spouse", 20, "expected ')'");
        expect_error("nhi = 2", 5, "flag nhi compares only with");
        expect_error("bogus = 1", 1, "unknown attribute 'bogus'");
        expect_error("age(40..", 9, "expected an upper age or ')'");
        expect_error("age(74..40)", 11, "0 <= lo <= hi");
        expect_error("town in [1, 2", 14, "expected ',' or ']'");
        expect_error("town in", 8, "expected '[' or a range");
        expect_error("ward = shinjuku", 8,
                     "expected a number or a known name for municipality_code");
        expect_error("town = 1 town = 2", 10, "expected 'and', 'or' or end of input, found 'town'");
        expect_error("nhi & spouse", 5, "unexpected character '&'");
        expect_error("user_id = 1", 1, "cannot be used in a condition");
        expect_error("sex", 4, "expected a comparison or 'in' after sex");
        /* columns count characters, not bytes */
        expect_error("category(\"子育て\") and ＃", 21, "non-ASCII");
        expect_error("category(and)", 10, "expected a category name");
        expect_error("town = 99999999999", 8, "number out of range");
}

static void test_depth_limit(void **state)
{
        char buf[512];
        size_t i;

        for (i = 0; i < 200; i++)
                buf[i] = '(';
        strcpy(buf + 200, "nhi");
        assert_non_null(strstr(compile_dump(buf), "nested deeper"));
        memset(buf, 0, sizeof(buf));
        for (i = 0; i < 100; i++)
                memcpy(buf + i * 4, "not ", 4);
        strcat(buf, "nhi");
        assert_non_null(strstr(compile_dump(buf), "nested deeper"));
}

/* ---- evaluation ---- */

typedef struct person {
        const char *id;
        int32_t birth_ym;
        int32_t child1_ym;
        int nhi;
        int32_t ward, town;
} person_t;

static seg_store_t *make_store(const person_t *ps, size_t n)
{
        const osh_dict_entry_t *nhi = osh_dict_find(dict, "nhi");
        const osh_dict_entry_t *birth = osh_dict_find(dict, "birth_ym");
        const osh_dict_entry_t *child = osh_dict_find(dict, "spare_01");
        const osh_dict_entry_t *muni = osh_dict_find(dict, "municipality_code");
        const osh_dict_entry_t *town = osh_dict_find(dict, "town_code");
        size_t nv = osh_dict_value_count(dict), i;
        seg_builder_t *b =
            seg_builder_new(osh_dict_flag_count(dict), nv, osh_dict_layout(dict), "B1");
        char err[128];

        assert_non_null(b);
        for (i = 0; i < n; i++) {
                uint8_t flags[32] = {0};
                int32_t values[64] = {0};
                osh_flags_set(flags, sizeof(flags), nhi->position, ps[i].nhi);
                values[birth->position] = ps[i].birth_ym;
                values[child->position] = ps[i].child1_ym;
                values[muni->position] = ps[i].ward;
                values[town->position] = ps[i].town;
                assert_int_equal(seg_builder_add(b, ps[i].id, 17000, osh_dict_layout(dict), flags,
                                                 sizeof(flags), values, nv, err, sizeof(err)),
                                 0);
        }
        return seg_builder_finish(b);
}

/* Evaluates text; returns a string with one char per resident (sorted by
 * id): T, M (maybe) or - (false). */
static char result[256];

static const char *eval(const seg_store_t *s, const char *text, seg_date_t send)
{
        seg_expr_opts_t o = {.dict = dict};
        char err[256];
        seg_expr_t *e = seg_expr_compile(text, &o, NULL, err, sizeof(err));
        uint64_t t[8] = {0}, p[8] = {0};
        seg_eval_ctx_t ctx = {.store = s, .send = send};
        size_t i;

        if (!e) {
                print_error("%s: %s\n", text, err);
                fail();
        }
        assert_int_equal(seg_expr_eval(e, &ctx, t, p), 0);
        for (i = 0; i < s->n; i++) {
                assert_true(!seg_bit(t, i) || seg_bit(p, i)); /* t ⊆ p */
                result[i] = seg_bit(t, i) ? 'T' : seg_bit(p, i) ? 'M' : '-';
        }
        result[s->n] = '\0';
        for (i = s->n; i < 64 * 8; i++) /* tails stay clear */
                assert_false(seg_bit(p, i));
        seg_expr_destroy(e);
        return result;
}

static void test_age_month_edges(void **state)
{
        /* send 2017-03-15: born 1977-02 is 40; born 1977-03 is 39 or 40
         * depending on the day; born 1977-04 is 39. */
        const person_t ps[] = {
            {"a", 197702, 0, 1, 12101, 1}, {"b", 197703, 0, 1, 12101, 2},
            {"c", 197704, 0, 1, 12102, 3}, {"d", 0, 0, 1, 12101, 4},
            {"e", 194303, 0, 0, 12101, 5}, {"f", 194302, 0, 1, 12101, 6},
        };
        seg_store_t *s = make_store(ps, 6);
        seg_date_t mid = {2017, 3, 15}, last = {2017, 3, 31}, first = {2017, 3, 1};

        assert_non_null(s);
        /* e (1943-03) is 73 or 74 -> inside 40..74 either way; f 1943-02 is 74. */
        assert_string_equal(eval(s, "age(40..74)", mid), "TM-MTT");
        /* on the last day of March every March birthday has passed */
        assert_string_equal(eval(s, "age(40..74)", last), "TT-MTT");
        /* on the 1st only those born on the 1st are 40 already */
        assert_string_equal(eval(s, "age(40..74)", first), "TM-MTT");
        assert_string_equal(eval(s, "age(40..73)", mid), "TM-MM-");
        assert_string_equal(eval(s, "nhi and age(40..74)", mid), "TM-M-T");
        /* Kleene logic: not MAYBE = MAYBE; MAYBE and FALSE = FALSE; MAYBE or TRUE = TRUE */
        assert_string_equal(eval(s, "not age(40..74)", mid), "-MTM--");
        assert_string_equal(eval(s, "age(40..74) and not nhi", mid), "----T-");
        assert_string_equal(eval(s, "age(40..74) or ward = hanamigawa", mid), "TMTMTT");
        assert_string_equal(eval(s, "age(40..74) and not age(40..74)", mid), "-M-M--");
        assert_string_equal(eval(s, "ward = chuo and town in [1, 2, 6]", mid), "TT---T");
        assert_string_equal(eval(s, "town in 2..4", mid), "-TTT--");
        assert_string_equal(eval(s, "town not in 2..4 and town != 1", mid), "----TT");
        assert_string_equal(eval(s, "town > 4 or town <= 1", mid), "T---TT");
        seg_store_destroy(s);
}

static void test_child_age(void **state)
{
        /* send 2017-03-15. 18 months before March 2017 is September 2015. */
        const person_t ps[] = {
            {"a", 198001, 201509, 0, 12101, 1}, /* 18 months if born <= 15th, else 17 */
            {"b", 198001, 201508, 0, 12101, 1}, /* 19 if born <= 15th, else 18 */
            {"c", 198001, 201507, 0, 12101, 1}, /* 19 or 20 */
            {"d", 198001, 0, 0, 12101, 1},      /* no child */
            {"e", 198001, 200803, 0, 12102, 1}, /* 8 or 9 years */
            {"f", 198001, 200802, 0, 12102, 1}, /* 9 */
            {"g", 198001, 201704, 0, 12102, 1}, /* not born yet */
        };
        seg_store_t *s = make_store(ps, 7);
        seg_date_t mid = {2017, 3, 15}, endfeb = {2017, 2, 28};

        assert_non_null(s);
        assert_string_equal(eval(s, "child_age_months(18)", mid), "MM-----");
        assert_string_equal(eval(s, "child_age_months(17..19)", mid), "TTM----");
        assert_string_equal(eval(s, "child_age(9)", mid), "----MT-");
        assert_string_equal(eval(s, "child_age(1)", mid), "TTT----");
        /* a non-leap February 28th is the last day of Feb 2017, so Feb-born
         * 2008 (a leap year: 29 days) is still uncertain */
        assert_string_equal(eval(s, "child_age(9)", endfeb), "-----M-");
        assert_string_equal(eval(s, "child_age_months(18) and ward = chuo", mid), "MM-----");
        seg_store_destroy(s);
}

static void test_child_born_months_ago(void **state)
{
        /* Table 40: a child born in the year-month 18 months (9 years) before
         * the send month, whatever the day of either */
        const person_t ps[] = {
            {"a", 198001, 201509, 0, 12101, 1},
            {"b", 198001, 201508, 0, 12101, 1},
            {"c", 198001, 0, 0, 12101, 1},
            {"d", 198001, 200803, 0, 12102, 1},
        };
        seg_store_t *s = make_store(ps, 4);

        assert_non_null(s);
        assert_string_equal(eval(s, "child_born_months_ago(18)", (seg_date_t){2017, 3, 1}), "T---");
        assert_string_equal(eval(s, "child_born_months_ago(18)", (seg_date_t){2017, 3, 31}),
                            "T---");
        assert_string_equal(eval(s, "child_born_months_ago(108)", (seg_date_t){2017, 3, 15}),
                            "---T");
        assert_string_equal(
            eval(s, "child_born_months_ago(18..19) and ward = chuo", (seg_date_t){2017, 3, 15}),
            "TT--");
        assert_string_equal(compile_dump("child_born_months_ago(18)"),
                            "(child_born_months_ago 18 18)");
        seg_store_destroy(s);
}

/* Generalised values (enforced k): a range is TRUE only when every value
 * in it passes, MAYBE when some do; an unknown flag is MAYBE. */
static void test_generalised(void **state)
{
        const osh_dict_entry_t *birth = osh_dict_find(dict, "birth_ym");
        const osh_dict_entry_t *child = osh_dict_find(dict, "spare_01");
        const osh_dict_entry_t *town = osh_dict_find(dict, "town_code");
        const osh_dict_entry_t *muni = osh_dict_find(dict, "municipality_code");
        const osh_dict_entry_t *nhi = osh_dict_find(dict, "nhi");
        size_t nv = osh_dict_value_count(dict);
        seg_builder_t *b =
            seg_builder_new(osh_dict_flag_count(dict), nv, osh_dict_layout(dict), "B1");
        seg_date_t mid = {2017, 3, 15};
        seg_store_t *s;
        char err[128];
        /* a: born 1960 (year), child 2015 (year), town 400..499;
         * b: born 1977-01..1977-03 (quarter: 40, or 39/40), ward unknown;
         * c: born 1950-1954 (band), child exact 2015-09, nhi unknown;
         * d: born 1976 (year, 40 or 41), town exact 401 */
        const int32_t ra[] = {birth->position, 196001, 196012, child->position, 201501, 201512,
                              town->position,  400,    499},
                      rb[] = {birth->position, 197701, 197703, muni->position, 12101, 12106},
                      rc[] = {birth->position, 195001, 195412},
                      rd[] = {birth->position, 197601, 197612};
        const int32_t *rs[] = {ra, rb, rc, rd};
        const size_t nr[] = {3, 2, 1, 1};
        const int32_t child_ym[] = {201500, 0, 201509, 0}, town_v[] = {0, 401, 401, 401},
                      muni_v[] = {12101, 0, 12101, 12101}, birth_v[] = {196000, 197700, 0, 197600};

        assert_non_null(b);
        for (int i = 0; i < 4; i++) {
                uint8_t flags[32] = {0}, unk[32] = {0};
                int32_t values[64] = {0};
                char id[2] = {(char)('a' + i), 0};
                values[birth->position] = birth_v[i];
                values[child->position] = child_ym[i];
                values[town->position] = town_v[i];
                values[muni->position] = muni_v[i];
                osh_flags_set(flags, sizeof(flags), nhi->position, i != 2);
                osh_flags_set(unk, sizeof(unk), nhi->position, i == 2);
                assert_int_equal(seg_builder_add(b, id, 17000, osh_dict_layout(dict), flags,
                                                 sizeof(flags), values, nv, err, sizeof(err)),
                                 0);
                assert_int_equal(
                    seg_builder_generalise(b, rs[i], nr[i], unk, sizeof(unk), err, sizeof(err)), 0);
        }
        /* a position outside the dictionary, or lo > hi, is refused */
        assert_int_equal(
            seg_builder_generalise(b, (const int32_t[]){9999, 1, 2}, 1, NULL, 0, err, sizeof(err)),
            -1);
        assert_int_equal(
            seg_builder_generalise(b, (const int32_t[]){0, 2, 1}, 1, NULL, 0, err, sizeof(err)),
            -1);
        s = seg_builder_finish(b);
        assert_non_null(s);
        assert_string_equal(eval(s, "age(40..74)", mid), "TMTT");
        assert_string_equal(eval(s, "age(50..60)", mid), "T---");
        assert_string_equal(eval(s, "age(41..74)", mid), "T-TM");
        assert_string_equal(eval(s, "nhi", mid), "TTMT");
        assert_string_equal(eval(s, "nhi and age(40..74)", mid), "TMMT");
        assert_string_equal(eval(s, "not nhi", mid), "--M-");
        assert_string_equal(eval(s, "ward = chuo", mid), "TMTT");
        assert_string_equal(eval(s, "ward != chuo", mid), "-M--");
        assert_string_equal(eval(s, "town in 401..405", mid), "MTTT");
        assert_string_equal(eval(s, "town in [401, 402]", mid), "MTTT");
        assert_string_equal(eval(s, "town in 400..499", mid), "TTTT");
        assert_string_equal(eval(s, "town = 500", mid), "----");
        assert_string_equal(eval(s, "child_born_months_ago(18)", mid), "M-T-");
        assert_string_equal(eval(s, "child_age(1)", mid), "M-T-");
        assert_string_equal(eval(s, "child_born_months_ago(30)", mid), "----");
        seg_store_destroy(s);
}

static void test_dates(void **state)
{
        /* 2017-03-14T15:00:00Z is 2017-03-15 00:00 in Japan */
        seg_date_t d = seg_date_from_ms(1489503600000LL);
        assert_int_equal(d.y, 2017);
        assert_int_equal(d.m, 3);
        assert_int_equal(d.d, 15);
        d = seg_date_from_ms(1489503599999LL);
        assert_int_equal(d.d, 14);
        /* before the epoch: 1969-12-31 23:59:59.999 in Japan */
        d = seg_date_from_ms(-9 * 3600 * 1000LL - 1);
        assert_int_equal(d.y, 1969);
        assert_int_equal(d.m, 12);
        assert_int_equal(d.d, 31);
}

static void test_store_replace_and_find(void **state)
{
        const person_t ps[] = {
            {"zz", 198001, 0, 1, 1, 1}, {"aa", 198001, 0, 0, 1, 1}, {"zz", 198001, 0, 0, 1, 9}};
        seg_store_t *s = make_store(ps, 3);

        assert_non_null(s);
        assert_int_equal(s->n, 2);
        assert_string_equal(s->user_ids[0], "aa");
        assert_int_equal(seg_store_find(s, "zz"), 1);
        assert_int_equal(seg_store_find(s, "mm"), -1);
        /* the later record for zz replaced the earlier one */
        assert_string_equal(eval(s, "nhi", (seg_date_t){2017, 1, 1}), "--");
        assert_string_equal(eval(s, "town = 9", (seg_date_t){2017, 1, 1}), "-T");
        seg_store_destroy(s);
}

/* ---- the column indexes answer as the scans do ---- */

static uint32_t lcg = 12345;
static int32_t rnd_in(int32_t lo, int32_t hi)
{
        lcg = lcg * 1103515245u + 12345u;
        return lo + (int32_t)((lcg >> 8) % (uint32_t)(hi - lo + 1));
}

/* A random year-month: mostly valid, some absent (0) or month 0/13. */
static int32_t rnd_ym(int32_t y0, int32_t y1)
{
        int32_t r = rnd_in(0, 19);

        return r == 0 ? 0 : rnd_in(y0, y1) * 100 + (r == 1 ? 0 : r == 2 ? 13 : rnd_in(1, 12));
}

static seg_store_t *random_store(size_t n)
{
        const char *names[] = {"birth_ym", "spare_01",          "spare_02",
                               "spare_03", "municipality_code", "town_code"};
        int pos[6];
        size_t nv = osh_dict_value_count(dict);
        seg_builder_t *b =
            seg_builder_new(osh_dict_flag_count(dict), nv, osh_dict_layout(dict), "BR");
        char err[128], id[32];

        for (int k = 0; k < 6; k++)
                pos[k] = osh_dict_find(dict, names[k])->position;
        for (size_t i = 0; i < n; i++) {
                uint8_t flags[32] = {0};
                int32_t values[64] = {0}, ranges[6];
                values[pos[0]] = rnd_ym(1910, 2016);
                for (int k = 1; k <= 3; k++)
                        values[pos[k]] = rnd_in(0, k) ? 0 : rnd_ym(2005, 2017);
                values[pos[4]] = 12101 + rnd_in(0, 5);
                values[pos[5]] = rnd_in(1, 40) * 100 + rnd_in(1, 5);
                snprintf(id, sizeof(id), "r%05zu", i);
                assert_int_equal(seg_builder_add(b, id, 17000, osh_dict_layout(dict), flags,
                                                 sizeof(flags), values, nv, err, sizeof(err)),
                                 0);
                if (i % 50 == 0) { /* a few generalised birth years and towns */
                        int32_t y = rnd_in(1940, 2000);
                        ranges[0] = pos[0], ranges[1] = y * 100 + 1, ranges[2] = y * 100 + 12;
                        ranges[3] = pos[5], ranges[4] = 400, ranges[5] = 499;
                        assert_int_equal(
                            seg_builder_generalise(b, ranges, 2, NULL, 0, err, sizeof(err)), 0);
                }
        }
        return seg_builder_finish(b);
}

static void eval_bits(seg_store_t *s, seg_expr_t *e, seg_date_t send, uint64_t *t, uint64_t *p)
{
        seg_eval_ctx_t ctx = {.store = s, .send = send};

        assert_int_equal(seg_expr_eval(e, &ctx, t, p), 0);
}

static void test_index_matches_scan(void **state)
{
        const char *conds[] = {
            "age(40..74)",
            "age(0..120)",
            "not age(20..30)",
            "age(65..)",
            "child_age(0..5)",
            "child_age_months(18..24)",
            "child_born_months_ago(18)",
            "child_born_months_ago(108)",
            "ward = chuo",
            "ward != chuo",
            "ward in [midori, wakaba]",
            "town in 400..499",
            "town in [401, 602, 1005]",
            "town > 3000",
            "town != 405",
            "town < 0",
            "(ward = midori and (town in 400..499 or town in 600..699)) or ward = inage",
            "birth_ym >= 198001 and not child_age(0..2)",
            "spare_02 = 0",
            "birth_ym in 1..3"};
        seg_date_t sends[] = {{2017, 3, 15}, {2017, 2, 28}, {2016, 12, 31}};
        seg_expr_opts_t o = {.dict = dict};
        seg_store_t *s = random_store(3000);
        seg_vindex_t **cache = s->vindex;
        uint64_t *t1 = calloc(s->words, 8), *p1 = calloc(s->words, 8), *t2 = calloc(s->words, 8),
                 *p2 = calloc(s->words, 8);
        char err[256];
        int some_t = 0, some_maybe = 0;

        for (size_t c = 0; c < sizeof(conds) / sizeof(conds[0]); c++) {
                seg_expr_t *e = seg_expr_compile(conds[c], &o, NULL, err, sizeof(err));
                if (!e)
                        fail_msg("%s: %s", conds[c], err);
                for (size_t d = 0; d < 3; d++) {
                        s->vindex = cache; /* over the indexes */
                        eval_bits(s, e, sends[d], t1, p1);
                        s->vindex = NULL; /* over the columns */
                        eval_bits(s, e, sends[d], t2, p2);
                        if (memcmp(t1, t2, s->words * 8) || memcmp(p1, p2, s->words * 8))
                                fail_msg("%s on %d-%d-%d: index and scan differ", conds[c],
                                         sends[d].y, sends[d].m, sends[d].d);
                        some_t += seg_popcount(t1, s->words) > 0;
                        some_maybe += seg_popcount(p1, s->words) > seg_popcount(t1, s->words);
                }
                seg_expr_destroy(e);
        }
        s->vindex = cache;
        assert_non_null(seg_store_vindex(s, osh_dict_find(dict, "birth_ym")->position));
        /* the data exercise true, false and maybe answers */
        assert_true(some_t >= 50 && some_maybe >= 20);
        free(t1);
        free(p1);
        free(t2);
        free(p2);
        seg_store_destroy(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_precedence),
            cmocka_unit_test(test_forms),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_depth_limit),
            cmocka_unit_test(test_age_month_edges),
            cmocka_unit_test(test_child_age),
            cmocka_unit_test(test_dates),
            cmocka_unit_test(test_store_replace_and_find),
            cmocka_unit_test(test_child_born_months_ago),
            cmocka_unit_test(test_generalised),
            cmocka_unit_test(test_index_matches_scan),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
