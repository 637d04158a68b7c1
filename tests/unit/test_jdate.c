#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oshirase/jdate.h"

static int parse(const char *s, osh_jdate_form_t form, osh_date_t *d)
{
        return osh_jdate_parse(s, strlen(s), form, d);
}

static void expect_date(const char *s, int y, int m, int dd)
{
        osh_date_t d = {0, 0, 0};

        assert_int_equal(parse(s, OSH_JDATE_ANY, &d), 0);
        assert_int_equal(d.year, y);
        assert_int_equal(d.month, m);
        assert_int_equal(d.day, dd);
}

static void expect_bad(const char *s)
{
        osh_date_t d = {1, 2, 3};

        assert_int_equal(parse(s, OSH_JDATE_ANY, &d), -1);
        assert_int_equal(d.year, 1); /* untouched on failure */
}

static void test_western(void **state)
{
        expect_date("20240229", 2024, 2, 29);
        expect_date("20000229", 2000, 2, 29);
        expect_date("19731231", 1973, 12, 31);
        expect_bad("20230230");
        expect_bad("20230229"); /* not a leap year */
        expect_bad("19000229"); /* century, not a leap year */
        expect_bad("20231301");
        expect_bad("20230001");
        expect_bad("20230100");
        expect_bad("2023011");
        expect_bad("202301011");
        expect_bad("2023-1-1");
        expect_bad("18000101"); /* before the Gregorian era in Japan */
        expect_bad("");
}

static void test_era(void **state)
{
        expect_date("H280315", 2016, 3, 15);
        expect_date("R050401", 2023, 4, 1);
        expect_date("r010501", 2019, 5, 1);   /* first day of Reiwa, lower case */
        expect_date("H310430", 2019, 4, 30);  /* last day of Heisei */
        expect_date("H010108", 1989, 1, 8);   /* first day of Heisei */
        expect_date("S640107", 1989, 1, 7);   /* last day of Showa */
        expect_date("S011225", 1926, 12, 25); /* first day of Showa */
        expect_date("T010730", 1912, 7, 30);
        expect_date("M450729", 1912, 7, 29);
        expect_date("4280315", 2016, 3, 15); /* numeric era code 4 = Heisei */
        expect_date("5050401", 2023, 4, 1);
        expect_date("3500101", 1975, 1, 1);
}

static void test_era_bounds(void **state)
{
        expect_bad("H320101"); /* Heisei ended in its year 31 */
        expect_bad("H310501"); /* Reiwa by then */
        expect_bad("S640108"); /* Heisei by then */
        expect_bad("R010430"); /* still Heisei */
        expect_bad("H010107");
        expect_bad("T151225"); /* Showa began 1926-12-25 */
        expect_bad("M450730");
        expect_bad("M050101"); /* before 1873 */
        expect_bad("H000101"); /* no year 0 */
        expect_bad("X280315");
        expect_bad("6280315");
        expect_bad("H2803150");
        expect_bad("H28031");
        expect_bad("H280230");
}

static void test_forms(void **state)
{
        osh_date_t d;

        assert_int_equal(parse("20230401", OSH_JDATE_ERA, &d), -1);
        assert_int_equal(parse("R050401", OSH_JDATE_WESTERN, &d), -1);
        assert_int_equal(parse("R050401", OSH_JDATE_ERA, &d), 0);
        assert_int_equal(parse("20230401", OSH_JDATE_WESTERN, &d), 0);
}

static void test_days(void **state)
{
        osh_date_t d;

        assert_int_equal(osh_date_to_days(1970, 1, 1), 0);
        assert_int_equal(osh_date_to_days(1969, 12, 31), -1);
        assert_int_equal(osh_date_to_days(2024, 4, 1), 19814);
        assert_int_equal(osh_date_to_days(1900, 1, 1), -25567);
        for (int32_t days = -40000; days < 40000; days += 37) {
                osh_date_from_days(days, &d);
                assert_true(osh_date_valid(d.year, d.month, d.day) || d.year < 1873);
                assert_int_equal(osh_date_to_days(d.year, d.month, d.day), days);
        }
}

static void test_format_roundtrip(void **state)
{
        char w[9], e[8];
        osh_date_t d, back;

        /* every day from 1873 to 2100 formats and parses back in both forms */
        for (int32_t days = osh_date_to_days(1873, 1, 1); days < osh_date_to_days(2100, 1, 1);
             days++) {
                osh_date_from_days(days, &d);
                osh_date_format_western(&d, w);
                assert_int_equal(osh_jdate_parse(w, 8, OSH_JDATE_WESTERN, &back), 0);
                assert_int_equal(osh_date_to_days(back.year, back.month, back.day), days);
                assert_int_equal(osh_date_format_era(&d, e), 0);
                assert_int_equal(osh_jdate_parse(e, 7, OSH_JDATE_ERA, &back), 0);
                assert_int_equal(osh_date_to_days(back.year, back.month, back.day), days);
        }
        d = (osh_date_t){2019, 4, 30};
        assert_int_equal(osh_date_format_era(&d, e), 0);
        assert_string_equal(e, "H310430");
        d = (osh_date_t){2019, 5, 1};
        assert_int_equal(osh_date_format_era(&d, e), 0);
        assert_string_equal(e, "R010501");
        d = (osh_date_t){1872, 12, 31};
        assert_int_equal(osh_date_format_era(&d, e), -1);
}

static void test_age(void **state)
{
        osh_date_t b = {2000, 2, 29}, r;

        r = (osh_date_t){2023, 2, 28};
        assert_int_equal(osh_date_age(&b, &r), 22);
        r = (osh_date_t){2023, 3, 1};
        assert_int_equal(osh_date_age(&b, &r), 23);
        r = (osh_date_t){2024, 2, 29};
        assert_int_equal(osh_date_age(&b, &r), 24);
        r = (osh_date_t){1999, 1, 1};
        assert_int_equal(osh_date_age(&b, &r), -1);
        b = (osh_date_t){1950, 4, 2};
        r = (osh_date_t){2024, 4, 1};
        assert_int_equal(osh_date_age(&b, &r), 73);
        r = (osh_date_t){2024, 4, 2};
        assert_int_equal(osh_date_age(&b, &r), 74);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_western),    cmocka_unit_test(test_era),
            cmocka_unit_test(test_era_bounds), cmocka_unit_test(test_forms),
            cmocka_unit_test(test_days),       cmocka_unit_test(test_format_roundtrip),
            cmocka_unit_test(test_age),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
