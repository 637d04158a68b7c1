#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/csv.h"

static osh_csv_reader_t *reader(const char *s, const osh_csv_opts_t *o)
{
        osh_csv_reader_t *r = osh_csv_reader_new(s, strlen(s), o);

        assert_non_null(r);
        return r;
}

static void expect_field(const osh_csv_record_t *rec, size_t i, const char *want)
{
        assert_true(i < rec->nfields);
        assert_int_equal(rec->fields[i].len, strlen(want));
        assert_memory_equal(rec->fields[i].ptr, want, strlen(want));
}

static void test_simple(void **state)
{
        osh_csv_reader_t *r = reader("a,b,c\n1,,3\n", NULL);
        osh_csv_record_t rec;

        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_OK);
        assert_int_equal(rec.line, 1);
        assert_int_equal(rec.nfields, 3);
        expect_field(&rec, 0, "a");
        expect_field(&rec, 2, "c");
        assert_int_equal(rec.raw_len, 5);
        assert_true(rec.terminated);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.line, 2);
        expect_field(&rec, 1, "");
        expect_field(&rec, 2, "3");
        assert_int_equal(osh_csv_next(r, &rec), 0);
        assert_int_equal(osh_csv_next(r, &rec), 0);
        osh_csv_reader_destroy(r);
}

static void test_crlf_and_last_line(void **state)
{
        osh_csv_reader_t *r = reader("a,b\r\n\"q\",z\r\nlast,x", NULL);
        osh_csv_record_t rec;

        assert_int_equal(osh_csv_next(r, &rec), 1);
        expect_field(&rec, 1, "b");
        assert_int_equal(rec.raw_len, 3);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        expect_field(&rec, 0, "q");
        expect_field(&rec, 1, "z");
        assert_int_equal(rec.raw_len, 5);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.line, 3);
        expect_field(&rec, 1, "x");
        assert_false(rec.terminated);
        assert_int_equal(osh_csv_next(r, &rec), 0);
        osh_csv_reader_destroy(r);
}

static void test_quoting(void **state)
{
        osh_csv_reader_t *r =
            reader("\"a,b\",\"say \"\"hi\"\"\",\"\"\n\"multi\nline\r\ntext\",2\nnext,1\n", NULL);
        osh_csv_record_t rec;

        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_OK);
        assert_int_equal(rec.nfields, 3);
        expect_field(&rec, 0, "a,b");
        expect_field(&rec, 1, "say \"hi\"");
        expect_field(&rec, 2, "");
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.line, 2);
        expect_field(&rec, 0, "multi\nline\r\ntext");
        expect_field(&rec, 1, "2");
        /* the two embedded line breaks count: the next record is on line 5 */
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.line, 5);
        expect_field(&rec, 0, "next");
        osh_csv_reader_destroy(r);
}

static void test_bad_quote_resyncs(void **state)
{
        osh_csv_reader_t *r = reader("ok,1\nba\"d,2\n\"x\"y,3\ngood,4\n", NULL);
        osh_csv_record_t rec;

        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_OK);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_BAD_QUOTE);
        assert_int_equal(rec.line, 2);
        assert_int_equal(rec.raw_len, 6);
        assert_memory_equal(rec.raw, "ba\"d,2", 6);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_BAD_QUOTE);
        assert_int_equal(rec.line, 3);
        assert_memory_equal(rec.raw, "\"x\"y,3", 6);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_OK);
        assert_int_equal(rec.line, 4);
        expect_field(&rec, 0, "good");
        assert_int_equal(osh_csv_next(r, &rec), 0);
        osh_csv_reader_destroy(r);
}

static void test_unterminated(void **state)
{
        osh_csv_reader_t *r = reader("a,1\n\"never closed,2\nb,3\n", NULL);
        osh_csv_record_t rec;

        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_UNTERMINATED);
        assert_int_equal(rec.line, 2);
        assert_false(rec.terminated);
        assert_int_equal(osh_csv_next(r, &rec), 0);
        osh_csv_reader_destroy(r);
}

static void test_limits(void **state)
{
        osh_csv_opts_t o = {.max_field = 4, .max_fields = 3, .max_record = 32};
        osh_csv_reader_t *r =
            reader("abcd,1\nabcde,1\n\"abcde\",1\n1,2,3\n1,2,3,4\n0123456789,0123456789,01234567\n"
                   "ok,1\n",
                   &o);
        osh_csv_record_t rec;
        const osh_csv_error_t want[] = {OSH_CSV_OK, OSH_CSV_FIELD_TOO_LONG,  OSH_CSV_FIELD_TOO_LONG,
                                        OSH_CSV_OK, OSH_CSV_TOO_MANY_FIELDS, OSH_CSV_FIELD_TOO_LONG,
                                        OSH_CSV_OK};

        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                assert_int_equal(osh_csv_next(r, &rec), 1);
                assert_int_equal(rec.line, i + 1);
                assert_int_equal(rec.error, want[i]);
        }
        expect_field(&rec, 0, "ok");
        assert_int_equal(osh_csv_next(r, &rec), 0);
        osh_csv_reader_destroy(r);
}

static void test_record_too_long(void **state)
{
        osh_csv_opts_t o = {.max_field = 100, .max_fields = 50, .max_record = 16};
        osh_csv_reader_t *r = reader("a,b,c,d,e,f,g,h,i,j,k\nok\n", &o);
        osh_csv_record_t rec;

        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_RECORD_TOO_LONG);
        assert_int_equal(rec.raw_len, 21);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_OK);
        osh_csv_reader_destroy(r);
}

static void test_empty_lines_and_cp932_bytes(void **state)
{
        /* CP932 "表" is 0x95 0x5C: the trail byte is a backslash, not special */
        osh_csv_reader_t *r = reader("\n\x95\x5C,\x95\x5C\n", NULL);
        osh_csv_record_t rec;

        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.nfields, 1);
        assert_int_equal(rec.raw_len, 0);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.nfields, 2);
        expect_field(&rec, 1, "\x95\x5C");
        osh_csv_reader_destroy(r);
}

static void test_write_roundtrip(void **state)
{
        const char *vals[] = {"plain", "a,b", "say \"x\"", "two\nlines", "", "cr\r"};
        char *buf = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&buf, &len);
        osh_csv_reader_t *r;
        osh_csv_record_t rec;

        for (size_t i = 0; i < 6; i++) {
                if (i)
                        fputc(',', fp);
                assert_int_equal(osh_csv_write_field(fp, vals[i], strlen(vals[i])), 0);
        }
        fputc('\n', fp);
        fclose(fp);
        r = osh_csv_reader_new(buf, len, NULL);
        assert_int_equal(osh_csv_next(r, &rec), 1);
        assert_int_equal(rec.error, OSH_CSV_OK);
        assert_int_equal(rec.nfields, 6);
        for (size_t i = 0; i < 6; i++)
                expect_field(&rec, i, vals[i]);
        osh_csv_reader_destroy(r);
        free(buf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_simple),
            cmocka_unit_test(test_crlf_and_last_line),
            cmocka_unit_test(test_quoting),
            cmocka_unit_test(test_bad_quote_resyncs),
            cmocka_unit_test(test_unterminated),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_record_too_long),
            cmocka_unit_test(test_empty_lines_and_cp932_bytes),
            cmocka_unit_test(test_write_roundtrip),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
