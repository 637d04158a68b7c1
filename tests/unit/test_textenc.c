#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oshirase/textenc.h"

/* 千葉市 in UTF-8 and CP932 */
#define CHIBA_UTF8  "\xE5\x8D\x83\xE8\x91\x89\xE5\xB8\x82"
#define CHIBA_CP932 "\x90\xE7\x97\x74\x8E\x73"

static const char *dec(osh_textdec_t *d, const char *in, size_t len, uint64_t *gaiji)
{
        const char *out = NULL;
        size_t out_len = 0;

        if (osh_textdec_decode(d, in, len, &out, &out_len, gaiji))
                return NULL;
        assert_int_equal(strlen(out), out_len);
        return out;
}

static void test_parse_names(void **state)
{
        osh_textenc_t e;

        assert_int_equal(osh_textenc_parse("UTF-8", &e), 0);
        assert_int_equal(e, OSH_TEXTENC_UTF8);
        assert_int_equal(osh_textenc_parse("Shift_JIS", &e), 0);
        assert_int_equal(e, OSH_TEXTENC_CP932);
        assert_int_equal(osh_textenc_parse("cp932", &e), 0);
        assert_int_equal(osh_textenc_parse("latin1", &e), -1);
        assert_int_equal(osh_textenc_parse(NULL, &e), -1);
        assert_string_equal(osh_textenc_name(OSH_TEXTENC_CP932), "cp932");
}

static void test_utf8_decode1(void **state)
{
        uint32_t cp = 0;

        assert_int_equal(osh_utf8_decode1((const unsigned char *)"A", 1, &cp), 1);
        assert_int_equal(cp, 'A');
        assert_int_equal(osh_utf8_decode1((const unsigned char *)CHIBA_UTF8, 9, &cp), 3);
        assert_int_equal(cp, 0x5343);
        assert_int_equal(osh_utf8_decode1((const unsigned char *)"\xF0\x9F\x98\x80", 4, &cp), 4);
        assert_int_equal(cp, 0x1F600);
        /* overlong, surrogate, beyond U+10FFFF, truncated, stray continuation */
        assert_int_equal(osh_utf8_decode1((const unsigned char *)"\xC0\xAF", 2, &cp), 0);
        assert_int_equal(osh_utf8_decode1((const unsigned char *)"\xE0\x80\xAF", 3, &cp), 0);
        assert_int_equal(osh_utf8_decode1((const unsigned char *)"\xED\xA0\x80", 3, &cp), 0);
        assert_int_equal(osh_utf8_decode1((const unsigned char *)"\xF4\x90\x80\x80", 4, &cp), 0);
        assert_int_equal(osh_utf8_decode1((const unsigned char *)"\xE5\x8D", 2, &cp), 0);
        assert_int_equal(osh_utf8_decode1((const unsigned char *)"\x80", 1, &cp), 0);
}

static void test_utf8(void **state)
{
        osh_textdec_t *d = osh_textdec_new(OSH_TEXTENC_UTF8, NULL);
        uint64_t g = 0;

        assert_non_null(d);
        assert_string_equal(dec(d, "abc,1", 5, &g), "abc,1");
        assert_string_equal(dec(d, CHIBA_UTF8, 9, &g), CHIBA_UTF8);
        assert_int_equal(g, 0);
        /* invalid sequences are errors, not guesses */
        assert_null(dec(d, "a\xFF", 2, &g));
        assert_null(dec(d, CHIBA_CP932, 6, &g));
        assert_null(dec(d, "\xE5\x8D", 2, &g));
        assert_string_equal(dec(d, "", 0, &g), "");
        osh_textdec_destroy(d);
}

static void test_utf8_gaiji(void **state)
{
        osh_textdec_t *d = osh_textdec_new(OSH_TEXTENC_UTF8, NULL);
        osh_textdec_t *geta = osh_textdec_new(OSH_TEXTENC_UTF8, OSH_TEXTENC_REPL_GETA);
        uint64_t g = 0;

        /* U+E000 and U+F8FF (BMP private use), U+F0000 (plane 15) */
        assert_string_equal(dec(d, "x\xEE\x80\x80y\xEF\xA3\xBF", 8, &g),
                            "x" OSH_TEXTENC_REPL_FFFD "y" OSH_TEXTENC_REPL_FFFD);
        assert_int_equal(g, 2);
        assert_string_equal(dec(geta, "\xF3\xB0\x80\x80", 4, &g), OSH_TEXTENC_REPL_GETA);
        assert_int_equal(g, 3);
        /* U+F900 (CJK compatibility) is not private use */
        assert_string_equal(dec(d, "\xEF\xA4\x80", 3, &g), "\xEF\xA4\x80");
        assert_int_equal(g, 3);
        osh_textdec_destroy(d);
        osh_textdec_destroy(geta);
}

static void test_cp932(void **state)
{
        osh_textdec_t *d = osh_textdec_new(OSH_TEXTENC_CP932, NULL);
        uint64_t g = 0;

        assert_non_null(d);
        assert_string_equal(dec(d, CHIBA_CP932, 6, &g), CHIBA_UTF8);
        assert_string_equal(dec(d, "12101", 5, &g), "12101");
        /* half-width katakana ｱ (0xB1) and NEC row 13 ① (0x8740) */
        assert_string_equal(dec(d, "\xB1", 1, &g), "\xEF\xBD\xB1");
        assert_string_equal(dec(d, "\x87\x40", 2, &g), "\xE2\x91\xA0");
        assert_int_equal(g, 0);
        /* user-defined area F040..F9FC is gaiji */
        assert_string_equal(dec(d, "\x90\xE7\xF0\x40\xF9\xFC", 6, &g),
                            "\xE5\x8D\x83" OSH_TEXTENC_REPL_FFFD OSH_TEXTENC_REPL_FFFD);
        assert_int_equal(g, 2);
        /* a lead byte without its trail byte, an invalid trail byte */
        assert_null(dec(d, "\x90", 1, &g));
        assert_null(dec(d, "a\x90\x20", 3, &g));
        assert_null(dec(d, "\xA0", 1, &g));
        /* the decoder recovers after an error */
        assert_string_equal(dec(d, CHIBA_CP932, 6, &g), CHIBA_UTF8);
        osh_textdec_destroy(d);
}

static void test_detect(void **state)
{
        size_t bom = 9;

        assert_int_equal(osh_textenc_detect(OSH_TEXTENC_UTF8_BOM "a", 4, &bom), OSH_TEXTENC_UTF8);
        assert_int_equal(bom, 3);
        assert_int_equal(osh_textenc_detect("abc", 3, &bom), OSH_TEXTENC_UTF8);
        assert_int_equal(bom, 0);
        assert_int_equal(osh_textenc_detect(CHIBA_UTF8, 9, NULL), OSH_TEXTENC_UTF8);
        assert_int_equal(osh_textenc_detect(CHIBA_CP932, 6, NULL), OSH_TEXTENC_CP932);
        /* one broken line in a UTF-8 file does not flip the guess */
        assert_int_equal(osh_textenc_detect(CHIBA_UTF8 CHIBA_UTF8 "\n\xFF\n", 21, NULL),
                         OSH_TEXTENC_UTF8);
        assert_int_equal(osh_textenc_detect("", 0, &bom), OSH_TEXTENC_UTF8);
}

static void test_long_input(void **state)
{
        osh_textdec_t *d = osh_textdec_new(OSH_TEXTENC_CP932, OSH_TEXTENC_REPL_GETA);
        char in[6000];
        const char *out;
        size_t out_len;
        uint64_t g = 0;

        /* every pair a gaiji: the output (3 bytes each) outgrows the input */
        for (size_t i = 0; i < sizeof(in); i += 2) {
                in[i] = (char)0xF5;
                in[i + 1] = (char)0x9F;
        }
        assert_int_equal(osh_textdec_decode(d, in, sizeof(in), &out, &out_len, &g), 0);
        assert_int_equal(g, 3000);
        assert_int_equal(out_len, 9000);
        assert_memory_equal(out, OSH_TEXTENC_REPL_GETA, 3);
        osh_textdec_destroy(d);
}

/* A NUL byte inside a field is corruption: rejected in both encodings (it
 * would also make the NUL-terminated output shorter than its length), and
 * the decoder recovers on the next field. */
static void test_nul_rejected(void **state)
{
        osh_textdec_t *u = osh_textdec_new(OSH_TEXTENC_UTF8, NULL);
        osh_textdec_t *c = osh_textdec_new(OSH_TEXTENC_CP932, NULL);
        uint64_t g = 0;
        const char *out = "untouched";
        size_t out_len = 99;

        assert_non_null(u);
        assert_non_null(c);
        assert_int_equal(osh_textdec_decode(u, "\x00\x08", 2, &out, &out_len, &g), -1);
        assert_string_equal(out, "untouched");
        assert_int_equal(out_len, 99);
        assert_null(dec(u, "ab\0c", 4, &g));
        assert_null(dec(u, "\0", 1, &g));
        assert_null(dec(u, CHIBA_UTF8 "\0", 10, &g));
        /* CP932: pure ASCII with a NUL, and NUL after a double-byte char */
        assert_null(dec(c, "ab\0c", 4, &g));
        assert_null(dec(c, CHIBA_CP932 "\0", 7, &g));
        assert_null(dec(c, "\0" CHIBA_CP932, 7, &g));
        assert_string_equal(dec(u, "abc", 3, &g), "abc");
        assert_string_equal(dec(c, CHIBA_CP932, 6, &g), CHIBA_UTF8);
        assert_int_equal(g, 0);
        osh_textdec_destroy(u);
        osh_textdec_destroy(c);
}

/* view gives decode's result, pointing into the input only when clean. */
static void check_view(osh_textdec_t *d, const char *in, size_t len, int expect_in_place)
{
        const char *dv = NULL, *vv = NULL;
        size_t dl = 0, vl = 0;
        uint64_t g1 = 0, g2 = 0;
        int rd = osh_textdec_decode(d, in, len, &dv, &dl, &g1);
        char copy[256];

        assert_true(dl < sizeof(copy));
        if (!rd)
                memcpy(copy, dv, dl);
        assert_int_equal(osh_textdec_view(d, in, len, &vv, &vl, &g2), rd);
        if (rd)
                return;
        assert_int_equal(vl, dl);
        assert_memory_equal(vv, copy, dl);
        assert_int_equal(g2, g1);
        assert_int_equal(vv == in, expect_in_place);
}

static void test_view(void **state)
{
        osh_textdec_t *u = osh_textdec_new(OSH_TEXTENC_UTF8, NULL);
        osh_textdec_t *c = osh_textdec_new(OSH_TEXTENC_CP932, NULL);
        const char *pua = "ab\xEE\x80\x80"
                          "cd"; /* U+E000, a gaiji */

        (void)state;
        check_view(u, "", 0, 1);
        check_view(u, "1234567890,abcdefgh", 19, 1);
        check_view(u, CHIBA_UTF8 "0123456789" CHIBA_UTF8, 28, 1);
        check_view(u, pua, 8, 0);
        /* a NUL or a bad byte anywhere in or after an 8-byte ASCII run */
        for (size_t at = 0; at < 17; at++) {
                char buf[17];
                memset(buf, 'x', sizeof(buf));
                buf[at] = '\0';
                check_view(u, buf, sizeof(buf), 0);
                buf[at] = (char)0xFF;
                check_view(u, buf, sizeof(buf), 0);
                buf[at] = (char)0x80;
                check_view(u, buf, sizeof(buf), 0);
        }
        check_view(u, CHIBA_UTF8, 8, 0); /* truncated sequence */
        check_view(c, "plain ascii 0123", 16, 1);
        check_view(c, CHIBA_CP932, 6, 0);
        osh_textdec_destroy(u);
        osh_textdec_destroy(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_names), cmocka_unit_test(test_utf8_decode1),
            cmocka_unit_test(test_utf8),        cmocka_unit_test(test_utf8_gaiji),
            cmocka_unit_test(test_cp932),       cmocka_unit_test(test_detect),
            cmocka_unit_test(test_long_input),  cmocka_unit_test(test_nul_rejected),
            cmocka_unit_test(test_view),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
