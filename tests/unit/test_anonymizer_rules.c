/* anonymizer rule file: the shipped rules-v1.conf and every parse error,
 * each naming its line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_rules.h"
#include "oshirase/serde.h"

#define RULES_V1 OSH_SOURCE_DIR "/services/anonymizer/rules/rules-v1.conf"
#define RULES_V2 OSH_SOURCE_DIR "/services/anonymizer/rules/rules-v2.conf"

/* A minimal complete rule file; tests append or replace lines. */
static const char base[] = "version = t1\n"                                           /* 1 */
                           "layout = 1\n"                                             /* 2 */
                           "quasi = birth_ym sex town_code\n"                         /* 3 */
                           "user_id = registered_or_hmac\n"                           /* 4 */
                           "keep = batch_id reference_date\n"                         /* 5 */
                           "drop = name name_kana address_text household_id\n"        /* 6 */
                           "drop = relationship_code source_files nhi late_elderly\n" /* 7 */
                           "drop = child_allowance child_rearing_allowance\n"         /* 8 */
                           "drop = public_assistance tax_current tax_previous\n"      /* 9 */
                           "drop = tax_before_previous extensions sex birth_date\n"   /* 10 */
                           "drop = address_code relationship household_members\n";    /* 11 */

static osh_dict_t *dict;

static int setup(void **state)
{
        char errstr[256];

        if (osh_serde_init(errstr, sizeof(errstr)))
                return -1;
        dict = osh_dict_load_default(errstr, sizeof(errstr));
        return dict ? 0 : -1;
}

static int teardown(void **state)
{
        osh_dict_destroy(dict);
        osh_serde_shutdown();
        return 0;
}

static anon_rules_t *parse(const char *text, char *errstr, size_t size)
{
        errstr[0] = 0;
        return anon_rules_parse(text, strlen(text), "t.conf", dict, errstr, size);
}

/* base + extra must fail with a message containing want. */
static void expect_error(const char *extra, const char *want)
{
        char text[4096], errstr[512];
        anon_rules_t *r;

        snprintf(text, sizeof(text), "%s%s", base, extra);
        r = parse(text, errstr, sizeof(errstr));
        if (r || !strstr(errstr, want))
                fail_msg("rules with [%s]: expected error containing [%s], got [%s]", extra, want,
                         r ? "(parsed)" : errstr);
}

static void test_v1_file_loads(void **state)
{
        char errstr[512];
        anon_rules_t *r = anon_rules_load(RULES_V1, dict, errstr, sizeof(errstr));
        const osh_dict_entry_t *town = osh_dict_find(dict, "town_code");

        if (!r)
                fail_msg("%s", errstr);
        assert_string_equal(r->version, "table50-v1.1");
        assert_int_equal(r->layout, osh_dict_layout(dict));
        assert_int_equal(r->extreme_age, 100);
        assert_int_equal(r->k_action, ANON_K_GENERALISE);
        assert_int_equal(r->generalise_pos, osh_dict_find(dict, "birth_ym")->position);
        /* 7 value quasi-identifiers and the household-age group */
        assert_int_equal(r->nquasi, 7);
        assert_int_equal(r->ndims, 8);
        assert_int_equal(r->quasi[3], town->position);
        assert_string_equal(r->quasi_name[3], "town_code");
        assert_int_equal(r->dims[7].kind, ANON_D_FLAGS);
        assert_int_equal(r->dims[7].nbits, 101);
        assert_int_equal(r->dims[7].bits[0], osh_dict_find(dict, "hh_age_000")->position);
        assert_int_equal(r->dims[4].kind, ANON_D_YM);
        assert_int_equal(r->dims[4].pos, osh_dict_find(dict, "spare_01")->position);
        assert_int_equal(r->uid_rule, ANON_UID_REGISTERED_OR_HMAC);
        /* 4 value attrs + spouse + one household_age op + 3 tax + 5 bool + 20 ext + 3 children */
        assert_int_equal(r->nops, 4 + 1 + 1 + 3 + 5 + 20 + 3);
        for (size_t i = 0; i < r->nops; i++) {
                if (r->ops[i].kind != ANON_X_HH_AGE)
                        continue;
                assert_int_equal(r->ops[i].a, 0);
                assert_int_equal(r->ops[i].b, 100);
                assert_int_equal(r->ops[i].age_bits[0],
                                 osh_dict_find(dict, "hh_age_000")->position);
                assert_int_equal(r->ops[i].age_bits[100],
                                 osh_dict_find(dict, "hh_age_100")->position);
        }
        assert_int_equal(r->ntruthy, 5);
        anon_rules_destroy(r);
}

static void test_v2_file_loads(void **state)
{
        char errstr[512];
        anon_rules_t *r = anon_rules_load(RULES_V2, dict, errstr, sizeof(errstr));

        if (!r)
                fail_msg("%s", errstr);
        assert_string_equal(r->version, "table50-k5-v2");
        assert_int_equal(r->k_floor, 5);
        assert_int_equal(r->k_action, ANON_K_HIERARCHY);
        assert_int_equal(r->ndims, 8);
        assert_string_equal(r->dims[0].name, "birth_ym");
        assert_int_equal(r->dims[0].nsteps, 5);
        assert_int_equal(r->dims[0].steps[0].span, 3);  /* quarter */
        assert_int_equal(r->dims[0].steps[2].span, 60); /* years5 */
        assert_int_equal(r->dims[0].steps[4].span, 0);  /* any */
        assert_int_equal(r->dims[3].steps[0].span, 100);
        assert_int_equal(r->dims[7].steps[1].span, 20);
        assert_int_equal(r->dims[7].steps[2].cost, 1);
        assert_int_equal(r->dims[4].nprot, 2);
        assert_int_equal(r->dims[4].prot[1][0], 105);
        assert_int_equal(r->dims[4].weight, 10);
        anon_rules_destroy(r);
}

static void test_base_parses_with_defaults(void **state)
{
        char errstr[512];
        anon_rules_t *r = parse(base, errstr, sizeof(errstr));

        if (!r)
                fail_msg("%s", errstr);
        assert_int_equal(r->k_floor, 1);
        assert_int_equal(r->extreme_age, 0);
        assert_int_equal(r->k_action, ANON_K_SUPPRESS);
        assert_int_equal(r->ntruthy, 1);
        assert_string_equal(r->truthy[0], "1");
        assert_int_equal(r->nops, 0);
        anon_rules_destroy(r);
}

static void test_comments_and_hash_names(void **state)
{
        char text[4096], errstr[512];
        anon_rules_t *r;

        snprintf(text, sizeof(text),
                 "# header comment\n%s\n   \nattr hh_age_### = "
                 "household_age 0 100 # trailing\n",
                 base);
        r = parse(text, errstr, sizeof(errstr));
        if (!r)
                fail_msg("%s", errstr);
        assert_int_equal(r->nops, 1);
        anon_rules_destroy(r);
}

static void test_errors_name_the_line(void **state)
{
        expect_error("no equals sign\n", "t.conf:12: expected 'key = value'");
        expect_error("bogus = 1\n", "t.conf:12: unknown key 'bogus'");
        expect_error("version = again\n", "t.conf:12: 'version' given twice");
        expect_error("extreme_age = old\n", "t.conf:12: extreme_age must be 0..200");
        expect_error("k_floor = -1\n", "t.conf:12: k_floor must be");
        expect_error("k_action = shuffle\n", "t.conf:12: k_action must be");
        expect_error("k_action = generalise sex\n", "t.conf:12: 'sex' is not a yearmonth");
        expect_error("attr nhi = frobnicate\n", "t.conf:12: unknown transform 'frobnicate'");
        expect_error("attr no_such = bool nhi\n", "t.conf:12: attribute 'no_such' is not in");
        expect_error("attr sex = bool nhi\n", "t.conf:12: attribute 'sex' is a code");
        expect_error("attr nhi = bool nhi\nattr nhi = bool nhi\n", "t.conf:13: attribute 'nhi' is "
                                                                   "assigned twice");
        expect_error("attr nhi = bool sex\n", "t.conf:12: 'sex' is not a boolean field");
        expect_error("attr nhi = bool no_field\n", "t.conf:12: 'no_field' is not a boolean field");
        expect_error("attr nhi = tax nhi\n", "t.conf:12: 'nhi' is not a TaxStatus field");
        expect_error("attr town_code = address_digits 6\n", "t.conf:12: address_digits needs");
        expect_error("attr town_code = address_digits 6 20\n", "t.conf:12: address_digits needs");
        expect_error("attr hh_age_### = household_age 5 1\n", "t.conf:12: household_age needs");
        expect_error("attr hh_age = household_age 0 100\n",
                     "t.conf:12: household_age fills one attribute per age: name must end in ###");
        expect_error("attr hh_age_### = household_age 0 101\n",
                     "t.conf:12: attribute 'hh_age_101' is not in");
        expect_error("attr spouse = household_has WIFE\n", "t.conf:12: unknown relationship");
        expect_error("attr spare_01 = child_yearmonth 0 CHILD\n", "t.conf:12: child_yearmonth");
        expect_error("drop = no_field\n", "t.conf:12: 'no_field' is not a field");
        expect_error("quasi = nhi\n", "t.conf:12: 'quasi' given twice");
        expect_error("generalise nhi = any:1\n", "t.conf:12: generalise nhi: not named in quasi");
        expect_error("generalise sex = year:1\n", "t.conf:12: generalise sex: 'year' is not a step "
                                                  "of a code");
        expect_error("generalise birth_ym = year\n", "t.conf:12: generalise birth_ym: 'year' is "
                                                     "not step:cost");
        expect_error("generalise birth_ym = year:1 quarter:2\n",
                     "t.conf:12: generalise birth_ym: 'quarter' does not nest");
        expect_error("generalise birth_ym = any:1 year:2\n",
                     "t.conf:12: generalise birth_ym: 'year' does not nest");
        expect_error("generalise birth_ym = quarter:1\ngeneralise birth_ym = year:1\n",
                     "t.conf:13: generalise birth_ym given twice");
        expect_error("k_action = hierarchy\n", "t.conf: k_action = hierarchy needs generalise");
        expect_error("protect sex = 1..2 x2\n", "t.conf:12: protect sex: not a yearmonth");
        expect_error("protect birth_ym = 1..2\n", "t.conf:12: protect birth_ym needs");
        expect_error("protect birth_ym = 5..2 x2\n", "t.conf:12: protect birth_ym: ages in months");
        expect_error("protect birth_ym = 5 x2\n", "t.conf:12: protect birth_ym: '5' is not");
        expect_error("user_id = sha256\n", "t.conf:12: 'user_id' given twice");
}

static void test_whole_file_errors(void **state)
{
        char errstr[512];
        anon_rules_t *r;
        /* Without the drop of atena_no it is read by the HMAC rule; without
         * "name" being dropped the file is refused. */
        const char *missing = "version = t\nlayout = 1\nquasi = sex\nuser_id = hmac\n"
                              "keep = batch_id reference_date\n";

        r = parse(missing, errstr, sizeof(errstr));
        assert_null(r);
        assert_non_null(strstr(errstr, "raw field 'name' is neither used, kept nor dropped"));
        r = parse("layout = 1\nquasi = sex\nuser_id = hmac\n", errstr, sizeof(errstr));
        assert_null(r);
        assert_non_null(strstr(errstr, "t.conf: version, layout, user_id and quasi are required"));
        r = parse("version = t\nlayout = 7\nquasi = sex\nuser_id = hmac\n", errstr, sizeof(errstr));
        assert_null(r);
        assert_non_null(strstr(errstr, "layout 7 does not match the dictionary's layout 1"));
        r = parse("version = t\nuser_id = bare_sha256\n", errstr, sizeof(errstr));
        assert_null(r);
        assert_non_null(strstr(errstr, "t.conf:2: user_id must be"));
}

static void test_bad_bytes(void **state)
{
        char errstr[512], big[2000];
        char nul[] = "version = a\0b\n";
        anon_rules_t *r;

        r = anon_rules_parse(nul, sizeof(nul) - 1, "t.conf", dict, errstr, sizeof(errstr));
        assert_null(r);
        assert_non_null(strstr(errstr, "t.conf:1: NUL byte"));
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = 0;
        r = parse(big, errstr, sizeof(errstr));
        assert_null(r);
        assert_non_null(strstr(errstr, "t.conf:1: line longer"));
        r = anon_rules_load("/nonexistent/rules.conf", dict, errstr, sizeof(errstr));
        assert_null(r);
        assert_non_null(strstr(errstr, "/nonexistent/rules.conf"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_v1_file_loads),
            cmocka_unit_test(test_v2_file_loads),
            cmocka_unit_test(test_base_parses_with_defaults),
            cmocka_unit_test(test_comments_and_hash_names),
            cmocka_unit_test(test_errors_name_the_line),
            cmocka_unit_test(test_whole_file_errors),
            cmocka_unit_test(test_bad_bytes),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
