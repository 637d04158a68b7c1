/* Attribute dictionary: the default covers Table 21, and the loader
 * rejects malformed files naming the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "oshirase/dictionary.h"
#include "oshirase/serde.h"

static osh_dict_t *load_default(void)
{
        char err[256];
        osh_dict_t *d = osh_dict_load_default(err, sizeof(err));

        if (!d)
                fail_msg("%s", err);
        return d;
}

static void expect_entry(const osh_dict_t *d, const char *name, osh_dict_type_t type)
{
        const osh_dict_entry_t *e = osh_dict_find(d, name);

        if (!e)
                fail_msg("dictionary lacks %s", name);
        if (e->type != type)
                fail_msg("%s is %s", name, osh_dict_type_name(e->type));
        assert_true(e->label[0] != '\0');
}

static void test_default_covers_table21(void **state)
{
        osh_dict_t *d = load_default();
        static const char *const flags[] = {
            "spouse",
            "tax_current",
            "tax_previous",
            "tax_before_previous",
            "nhi",
            "late_elderly",
            "child_allowance",
            "child_rearing_allowance",
            "public_assistance",
        };
        char name[32];
        size_t nflags = 0, nvalues = 0, nfields = 0;

        expect_entry(d, "user_id", OSH_DICT_FIELD);
        expect_entry(d, "reference_date", OSH_DICT_FIELD);
        expect_entry(d, "sex", OSH_DICT_CODE);
        expect_entry(d, "birth_ym", OSH_DICT_YEARMONTH);
        expect_entry(d, "municipality_code", OSH_DICT_CODE);
        expect_entry(d, "town_code", OSH_DICT_CODE);
        for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
                expect_entry(d, flags[i], OSH_DICT_FLAG);
        /* Household member aged 0..100+: 101 consecutive bits. */
        int first = osh_dict_find(d, "hh_age_000")->position;
        for (int a = 0; a <= 100; a++) {
                snprintf(name, sizeof(name), "hh_age_%03d", a);
                expect_entry(d, name, OSH_DICT_FLAG);
                assert_int_equal(osh_dict_find(d, name)->position, first + a);
        }
        assert_null(osh_dict_find(d, "hh_age_101"));
        for (int i = 1; i <= 20; i++) {
                snprintf(name, sizeof(name), "ext_%02d", i);
                expect_entry(d, name, OSH_DICT_FLAG);
        }
        for (int i = 1; i <= 30; i++) {
                snprintf(name, sizeof(name), "spare_%02d", i);
                expect_entry(d, name, i <= 3 ? OSH_DICT_YEARMONTH : OSH_DICT_INT);
        }
        assert_null(osh_dict_find(d, "ext_21"));
        assert_null(osh_dict_find(d, "spare_31"));
        assert_string_equal(osh_dict_find(d, "user_id")->label, "利用者ID");
        assert_string_equal(osh_dict_find(d, "nhi")->label, "国民健康保険");

        for (size_t i = 0; i < osh_dict_count(d); i++) {
                const osh_dict_entry_t *e = osh_dict_at(d, i);
                nflags += e->type == OSH_DICT_FLAG;
                nvalues += osh_dict_type_is_value(e->type);
                nfields += e->type == OSH_DICT_FIELD;
        }
        assert_int_equal(nflags, 1 + 101 + 3 + 5 + 20);
        assert_int_equal(nvalues, 4 + 30);
        assert_int_equal(nfields, 2);
        /* Dense layout: no holes in either kind. */
        assert_int_equal(osh_dict_flag_count(d), nflags);
        assert_int_equal(osh_dict_value_count(d), nvalues);
        assert_int_equal(osh_dict_flag_bytes(d), (nflags + 7) / 8);
        assert_int_equal(osh_dict_layout(d), 1);
        assert_null(osh_dict_at(d, osh_dict_count(d)));
        osh_dict_destroy(d);
}

/* The abstracted schema names nothing but its record-level fields, and
 * the dictionary's field entries exist in it. */
static void test_abstracted_schema_is_nameless(void **state)
{
        char err[256];
        osh_dict_t *d = load_default();
        const osh_schema_t *s;
        avro_value_t v, f;
        int32_t layout;

        assert_int_equal(osh_serde_init(err, sizeof(err)), 0);
        s = osh_schema_for_topic("resident.abstracted.v1");
        assert_non_null(s);
        assert_int_equal(osh_value_new(s, &v), 0);
        for (size_t i = 0; i < osh_dict_count(d); i++) {
                const osh_dict_entry_t *e = osh_dict_at(d, i);
                if (e->type == OSH_DICT_FIELD)
                        assert_int_equal(osh_value_field(&v, e->field, &f), 0);
                else if (osh_value_field(&v, e->name, &f) == 0)
                        fail_msg("abstracted schema names attribute %s", e->name);
        }
        for (size_t i = 0; i < avro_schema_record_size(s->avro); i++) {
                const char *fn = avro_schema_record_field_name(s->avro, (int)i);
                static const char *const words[] = {"nhi",  "tax",   "birth", "sex",
                                                    "town", "child", "age",   "address"};
                for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
                        assert_null(strstr(fn, words[k]));
        }
        assert_int_equal(osh_value_get_int(&v, "layout_version", &layout), 0);
        assert_int_equal(layout, osh_dict_layout(d));
        avro_value_decref(&v);
        osh_serde_shutdown();
        osh_dict_destroy(d);
}

static void test_load_file_matches_builtin(void **state)
{
        char err[256];
        osh_dict_t *a = load_default();
        osh_dict_t *b = osh_dict_load(OSH_SOURCE_DIR "/schemas/dictionary.tsv", err, sizeof(err));

        if (!b)
                fail_msg("%s", err);
        assert_int_equal(osh_dict_count(a), osh_dict_count(b));
        for (size_t i = 0; i < osh_dict_count(a); i++) {
                assert_string_equal(osh_dict_at(a, i)->name, osh_dict_at(b, i)->name);
                assert_int_equal(osh_dict_at(a, i)->position, osh_dict_at(b, i)->position);
        }
        osh_dict_destroy(a);
        osh_dict_destroy(b);
        assert_null(osh_dict_load("/nonexistent/dict.tsv", err, sizeof(err)));
        assert_non_null(strstr(err, "/nonexistent/dict.tsv"));
}

static void expect_error(const char *text, const char *needle)
{
        char err[256] = "";
        osh_dict_t *d = osh_dict_parse(text, strlen(text), "t.tsv", err, sizeof(err));

        if (d) {
                osh_dict_destroy(d);
                fail_msg("accepted: %s", text);
        }
        if (!strstr(err, needle))
                fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void test_validation_errors(void **state)
{
        expect_error("# c\na\tflag\t0\tA\na\tflag\t1\tB\n", "t.tsv:3: duplicate name \"a\"");
        expect_error("a\tflag\t0\tA\nb\tflag\t0\tB\n", "t.tsv:2: flag position 0 already used");
        expect_error("a\tint\t4\tA\nb\tcode\t4\tB\n", "t.tsv:2: value position 4 already used");
        expect_error("a\tflag\t0\tA\nb\tfloat\t1\tB\n", "t.tsv:2: unknown type \"float\"");
        expect_error("Abc\tflag\t0\tA\n", "t.tsv:1: bad name");
        expect_error("a-b\tflag\t0\tA\n", "bad name");
        expect_error("a\tflag\t0\n", "t.tsv:1: want 4 tab-separated columns, got 3");
        expect_error("a\tflag\t0\tA\tX\n", "got 5");
        expect_error("a\tflag\t-1\tA\n", "bad position");
        expect_error("a\tflag\t1x\tA\n", "bad position");
        expect_error("a\tflag\t99999999\tA\n", "bad position");
        expect_error("a\tfield\t9x\tA\n", "bad position");
        expect_error("a\tfield\tf\tA\nb\tfield\tf\tB\n", "field \"f\" already used");
        expect_error("a\tflag\t0\t\n", "empty label");
        expect_error("@layout\tzero\n", "t.tsv:1: bad @layout");
        expect_error("# nothing\n\n", "no entries");
        expect_error("", "no entries");
}

static void test_valid_small_file(void **state)
{
        /* Flags and values have separate position spaces; CRLF tolerated. */
        static const char text[] = "@layout\t3\r\n# comment\r\na\tflag\t0\tA\r\nb\tint\t0\tB\r\n"
                                   "c\tyearmonth\t5\t生年月\r\nk\tfield\tuser_id\tK";
        char err[256];
        char path[] = "/tmp/osh_dict_XXXXXX";
        int fd = mkstemp(path);
        osh_dict_t *d;

        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, sizeof(text) - 1), (ssize_t)(sizeof(text) - 1));
        close(fd);
        d = osh_dict_load(path, err, sizeof(err));
        unlink(path);
        if (!d)
                fail_msg("%s", err);
        assert_int_equal(osh_dict_layout(d), 3);
        assert_int_equal(osh_dict_count(d), 4);
        assert_int_equal(osh_dict_flag_count(d), 1);
        assert_int_equal(osh_dict_value_count(d), 6);
        assert_string_equal(osh_dict_find(d, "c")->label, "生年月");
        assert_int_equal(osh_dict_find(d, "c")->line, 5);
        assert_string_equal(osh_dict_find(d, "k")->field, "user_id");
        assert_int_equal(osh_dict_find(d, "k")->position, -1);
        assert_null(osh_dict_find(d, "zz"));
        assert_null(osh_dict_find(NULL, "a"));
        osh_dict_destroy(d);
        osh_dict_destroy(NULL);
}

static void test_types_and_flags(void **state)
{
        uint8_t bits[3] = {0};
        osh_dict_type_t t;

        for (int i = OSH_DICT_FLAG; i <= OSH_DICT_FIELD; i++) {
                assert_int_equal(osh_dict_type_parse(osh_dict_type_name((osh_dict_type_t)i), &t),
                                 0);
                assert_int_equal(t, i);
        }
        assert_int_equal(osh_dict_type_parse("Flag", &t), -1);
        assert_int_equal(osh_flags_set(bits, sizeof(bits), 0, 1), 0);
        assert_int_equal(osh_flags_set(bits, sizeof(bits), 9, 1), 0);
        assert_int_equal(osh_flags_set(bits, sizeof(bits), 23, 1), 0);
        assert_int_equal(osh_flags_set(bits, sizeof(bits), 24, 1), -1);
        assert_int_equal(bits[0], 0x01);
        assert_int_equal(bits[1], 0x02);
        assert_int_equal(bits[2], 0x80);
        assert_int_equal(osh_flags_get(bits, sizeof(bits), 9), 1);
        assert_int_equal(osh_flags_get(bits, sizeof(bits), 10), 0);
        assert_int_equal(osh_flags_get(bits, sizeof(bits), 500), 0);
        assert_int_equal(osh_flags_set(bits, sizeof(bits), 9, 0), 0);
        assert_int_equal(bits[1], 0x00);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_default_covers_table21),
            cmocka_unit_test(test_abstracted_schema_is_nameless),
            cmocka_unit_test(test_load_file_matches_builtin),
            cmocka_unit_test(test_validation_errors),
            cmocka_unit_test(test_valid_small_file),
            cmocka_unit_test(test_types_and_flags),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
