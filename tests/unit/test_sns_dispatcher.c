/* sns-dispatcher pure parts: text normalisation and splitting, templates,
 * channel formats and idempotency keys, token bucket, quiet hours, backoff. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/quiet.h"
#include "oshirase/retry.h"

#include "channels/channel.h"
#include "disp_service.h"
#include "disp_limit.h"
#include "disp_template.h"
#include "disp_text.h"

static void test_halfwidth_digits_and_marker(void **state)
{
        char *s = disp_text_normalise("第２０回 ０４３－２４５\r\n締切１２月", 0);

        assert_string_equal(s, "第20回 043－245\n締切12月");
        free(s);
        s = disp_text_normalise("【お知らせ】", 1);
        assert_string_equal(s, "■テスト送信■\n【お知らせ】");
        free(s);
        s = disp_text_normalise("a\xEE\x80\x80z\xFFq", 0); /* 外字 U+E000, invalid byte */
        assert_string_equal(s, "a〓z\xEF\xBF\xBDq");
        free(s);
}

static void test_chars(void **state)
{
        assert_int_equal(disp_text_chars(""), 0);
        assert_int_equal(disp_text_chars("abc"), 3);
        assert_int_equal(disp_text_chars("あいう"), 3);
        assert_int_equal(disp_text_chars("■テスト送信■"), 7);
}

static void test_split_prefers_paragraphs(void **state)
{
        disp_parts_t p;
        char err[256];

        assert_int_equal(disp_text_split("【題】本文です。\n\n・項目：値\n・次：値", 12, 5, &p, err,
                                         sizeof(err)),
                         0);
        assert_int_equal(p.n, 2);
        assert_string_equal(p.part[0], "【題】本文です。");
        assert_string_equal(p.part[1], "・項目：値\n・次：値");
        disp_parts_free(&p);
        /* Short enough: one part, unchanged. */
        assert_int_equal(disp_text_split("短い", 5, 1, &p, err, sizeof(err)), 0);
        assert_int_equal(p.n, 1);
        assert_string_equal(p.part[0], "短い");
        disp_parts_free(&p);
}

static void test_split_hard_cut_keeps_utf8(void **state)
{
        disp_parts_t p;
        char err[256];
        char text[3 * 25 + 1] = "";

        for (int i = 0; i < 25; i++)
                strcat(text, "あ");
        assert_int_equal(disp_text_split(text, 10, 3, &p, err, sizeof(err)), 0);
        assert_int_equal(p.n, 3);
        assert_int_equal(disp_text_chars(p.part[0]), 10);
        assert_int_equal(disp_text_chars(p.part[2]), 5);
        disp_parts_free(&p);
}

static void test_split_refuses_with_reason(void **state)
{
        disp_parts_t p;
        char err[256];

        assert_int_equal(disp_text_split("0123456789abcdefghij", 5, 3, &p, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "needs 4 messages of at most 5; channel allows 3"));
        disp_parts_free(&p);
        assert_int_equal(disp_text_split("", 5, 3, &p, err, sizeof(err)), -1);
        assert_string_equal(err, "empty message");
        disp_parts_free(&p);
}

static void test_channel_formats(void **state)
{
        disp_chan_conf_t line = {.max_chars = 5000, .max_parts = 9};
        disp_chan_conf_t x = {.max_chars = 492, .max_parts = 1};
        disp_chan_conf_t mail = {.max_chars = 100000, .max_parts = 4};
        size_t n = 5000 * 6 + 1;
        char *big = malloc(n), err[256];
        disp_parts_t p;

        memset(big, 'a', n - 1);
        big[n - 1] = '\0';
        /* LINE: never more than 5 message objects, whatever max_parts says. */
        assert_int_equal(disp_channel_format(&disp_channel_line, &line, big, &p, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "channel allows 5"));
        disp_parts_free(&p);
        big[5000 * 5] = '\0';
        assert_int_equal(disp_channel_format(&disp_channel_line, &line, big, &p, err, sizeof(err)),
                         0);
        assert_int_equal(p.n, 5);
        disp_parts_free(&p);
        /* X DM: 493 full-width characters failed in the trial: refused. */
        big[0] = '\0';
        for (int i = 0; i < 493; i++)
                strcat(big, "あ");
        assert_int_equal(disp_channel_format(&disp_channel_twitter, &x, big, &p, err, sizeof(err)),
                         -1);
        disp_parts_free(&p);
        /* E-mail and webhook: one message per notice. */
        assert_int_equal(disp_channel_format(&disp_channel_email, &mail, big, &p, err, sizeof(err)),
                         0);
        assert_int_equal(p.n, 1);
        disp_parts_free(&p);
        free(big);
}

/* LINE counts UTF-16 code units: 600 × U+20BB7 (𠮷) + 4,000 × あ is 4,600
 * characters but 5,200 units, over LINE's 5,000, so it takes two parts,
 * each within 5,000 units, and a surrogate pair is never split. */
static void test_line_counts_utf16_units(void **state)
{
        disp_chan_conf_t line = {.max_chars = 5000, .max_parts = 5};
        char *text = malloc(600 * 4 + 4000 * 3 + 1), *o = text, err[256];
        disp_parts_t p;

        (void)state;
        for (int i = 0; i < 600; i++)
                o += sprintf(o, "𠮷");
        for (int i = 0; i < 4000; i++)
                o += sprintf(o, "あ");
        assert_int_equal(disp_text_chars(text), 4600);
        assert_int_equal(disp_text_length(text, DISP_COUNT_UTF16), 5200);
        assert_int_equal(disp_channel_format(&disp_channel_line, &line, text, &p, err, sizeof(err)),
                         0);
        assert_int_equal(p.n, 2);
        for (size_t i = 0; i < p.n; i++)
                assert_true(disp_text_length(p.part[i], DISP_COUNT_UTF16) <= 5000);
        assert_int_equal(disp_text_length(p.part[0], DISP_COUNT_UTF16) +
                             disp_text_length(p.part[1], DISP_COUNT_UTF16),
                         5200);
        disp_parts_free(&p);
        line.max_parts = 1; /* the refusal names the unit */
        assert_int_equal(disp_channel_format(&disp_channel_line, &line, text, &p, err, sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "5200 UTF-16 units"));
        disp_parts_free(&p);
        assert_int_equal(
            disp_text_split_count("𠮷𠮷", 3, 2, DISP_COUNT_UTF16, &p, err, sizeof(err)), 0);
        assert_int_equal(p.n, 2);
        assert_string_equal(p.part[0], "𠮷");
        disp_parts_free(&p);
        free(text);
}

/* Every plugin in the registry declares what the dispatcher needs, its
 * symbol is the schema's, and the service's table holds its keys. */
static void test_channel_registry(void **state)
{
        size_t n = 0;

        (void)state;
        for (size_t i = 0; disp_channels[i]; i++, n++) {
                const disp_channel_t *ch = disp_channels[i];
                char key[64];
                int found = 0;
                assert_non_null(ch->check_account);
                assert_non_null(ch->send);
                assert_true(ch->max_rcpt >= 1);
                assert_int_equal(disp_channel_kind(ch->symbol), ch->kind);
                assert_ptr_equal(disp_channel_of_kind(ch->kind), ch);
                assert_non_null(osh_account_channel_by_symbol(ch->symbol)); /* cloud-ingest too */
                snprintf(key, sizeof(key), "%s.rate", ch->name);
                for (size_t k = 0; k < disp_config_table_len; k++)
                        found |= !strcmp(disp_config_table[k].key, key);
                assert_true(found);
        }
        assert_int_equal(n, 6);
        assert_string_equal(disp_channel_symbol(DISP_CH_SMS), "SMS");
        assert_string_equal(disp_channel_symbol(DISP_CH_OTHER), "OTHER");
        assert_int_equal(disp_channel_kind("FAX"), DISP_CH_OTHER);
        assert_int_equal(disp_app.ntable, disp_config_table_len);
        assert_int_equal(disp_channel_sms.check_account("+819012345678", 13), NULL);
}

static void test_retry_key_is_deterministic_uuid(void **state)
{
        char a[37], b[37], c[37];

        disp_channel_uuid("D-1", 0, a);
        disp_channel_uuid("D-1", 0, b);
        disp_channel_uuid("D-1", 1, c);
        assert_string_equal(a, b);
        assert_string_not_equal(a, c);
        assert_int_equal(strlen(a), 36);
        assert_int_equal(a[8], '-');
        assert_int_equal(a[14], '5');           /* version */
        assert_non_null(strchr("89ab", a[19])); /* variant */
}

static const char *vars(void *opaque, const char *name, size_t len)
{
        if (len == 4 && !memcmp(name, "date", 4))
                return "１２月１日";
        if (len == 3 && !memcmp(name, "url", 3))
                return "https://www.city.chiba.jp/";
        return NULL;
}

static void test_template_render(void **state)
{
        const char *t = "【健診】\n・期限：{{date}}\n{{ url }}";
        char err[256], *s = disp_template_render(t, strlen(t), vars, NULL, err, sizeof(err));

        assert_string_equal(s, "【健診】\n・期限：１２月１日\nhttps://www.city.chiba.jp/");
        free(s);
        t = "x {{nope}}";
        assert_null(disp_template_render(t, strlen(t), vars, NULL, err, sizeof(err)));
        assert_string_equal(err, "offset 2: unknown variable 'nope'");
        t = "x {{date";
        assert_null(disp_template_render(t, strlen(t), vars, NULL, err, sizeof(err)));
        assert_string_equal(err, "offset 2: expected {{name}}");
        t = "{{}}";
        assert_null(disp_template_render(t, strlen(t), vars, NULL, err, sizeof(err)));
        s = disp_template_render("a { b } c", 9, vars, NULL, err, sizeof(err));
        assert_string_equal(s, "a { b } c");
        free(s);
}

static void test_seed_templates_render(void **state)
{
        static const char *const names[] = {
            "child_benefit_guidance", "child_benefit_reminder", "single_parent_support",
            "landslide_preparedness", "infant_checkup_18m",     "infant_checkup_18m_reminder",
            "checkup_guidance",       "checkup_reminder",       "encephalitis_2nd_dose"};
        char err[256];

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char *t =
                    disp_template_load(OSH_SOURCE_DIR "/templates", names[i], err, sizeof(err));
                assert_non_null(t);
                assert_true(!strncmp(t, "【", strlen("【")));
                assert_non_null(strstr(t, "・"));
                assert_non_null(strstr(t, "：")); /* ・label：value bullets */
                free(t);
        }
        assert_null(
            disp_template_load(OSH_SOURCE_DIR "/templates", "../etc/passwd", err, sizeof(err)));
}

static void test_token_bucket(void **state)
{
        disp_bucket_t b;

        assert_int_equal(disp_bucket_parse("10/s:2", &b, 0), 0);
        assert_int_equal(disp_bucket_take(&b, 1, 0), 0);
        assert_int_equal(disp_bucket_take(&b, 1, 0), 0);
        assert_in_range(disp_bucket_take(&b, 1, 0), 99, 101); /* empty: one token per 100 ms */
        assert_int_equal(disp_bucket_take(&b, 1, 100), 0);
        assert_int_equal(disp_bucket_take(&b, 1, 10000), 0); /* refill is capped at the burst */
        assert_int_equal(disp_bucket_take(&b, 1, 10000), 0);
        assert_true(disp_bucket_take(&b, 1, 10000) > 0);
        assert_int_equal(disp_bucket_parse("1000/d", &b, 0), 0);
        assert_int_equal(disp_bucket_take(&b, 1, 0), 0);
        assert_in_range(disp_bucket_take(&b, 1, 0), 86000, 86500);
        assert_int_equal(disp_bucket_parse("0", &b, 0), 0);
        for (int i = 0; i < 1000; i++)
                assert_int_equal(disp_bucket_take(&b, 1, 0), 0);
        assert_int_equal(disp_bucket_parse("5/w", &b, 0), -1);
        assert_int_equal(disp_bucket_parse("abc", &b, 0), -1);
}

#define JST(h, m) ((((int64_t)(h)-9) * 60 + (m)) * 60000 + 20000LL * 86400000)

static void test_quiet_hours(void **state)
{
        osh_quiet_t q;

        assert_int_equal(osh_quiet_parse("21:00-08:00", 540, &q), 0);
        assert_int_equal(osh_quiet_until(&q, JST(12, 0)), 0);
        assert_int_equal(osh_quiet_until(&q, JST(20, 59)), 0);
        assert_int_equal(osh_quiet_until(&q, JST(21, 0)), JST(32, 0)); /* next day 08:00 */
        assert_int_equal(osh_quiet_until(&q, JST(23, 30)), JST(32, 0));
        assert_int_equal(osh_quiet_until(&q, JST(24 + 7, 59)), JST(32, 0));
        assert_int_equal(osh_quiet_until(&q, JST(8, 0)), 0);
        assert_int_equal(osh_quiet_parse("12:00-13:00", 540, &q), 0);
        assert_int_equal(osh_quiet_until(&q, JST(12, 30)), JST(13, 0));
        assert_int_equal(osh_quiet_parse("", 540, &q), 0);
        assert_int_equal(osh_quiet_until(&q, JST(23, 0)), 0);
        assert_int_equal(osh_quiet_parse("25:00-08:00", 540, &q), -1);
        assert_int_equal(osh_quiet_parse("21:00", 540, &q), -1);
        /* what sscanf let through: past 24:00, signs, spaces, overflow */
        assert_int_equal(osh_quiet_parse("24:59-08:00", 540, &q), -1);
        assert_int_equal(osh_quiet_parse("+9:00-08:00", 540, &q), -1);
        assert_int_equal(osh_quiet_parse("21:00- 8:00", 540, &q), -1);
        assert_int_equal(osh_quiet_parse("4294967317:00-08:00", 540, &q), -1);
        assert_int_equal(osh_quiet_parse("21:00-08:00x", 540, &q), -1);
        assert_int_equal(osh_quiet_parse("9:30-24:00", 540, &q), 0);
        assert_int_equal(q.start_min, 570);
        assert_int_equal(q.end_min, 1440);
}

static void test_backoff_honours_retry_after(void **state)
{
        unsigned rnd = 1;

        for (unsigned a = 0; a < 10; a++) {
                int64_t d = osh_backoff_ms(a, 200, 2000, 0, &rnd);
                assert_in_range(d, 100, 2000);
        }
        assert_int_equal(osh_backoff_ms(0, 200, 2000, 5000, &rnd), 5000);
        assert_int_equal(osh_delivery_from_http(429), OSH_DELIVERY_RETRY);
        assert_int_equal(osh_delivery_from_http(400), OSH_DELIVERY_FAIL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_halfwidth_digits_and_marker),
            cmocka_unit_test(test_chars),
            cmocka_unit_test(test_split_prefers_paragraphs),
            cmocka_unit_test(test_split_hard_cut_keeps_utf8),
            cmocka_unit_test(test_split_refuses_with_reason),
            cmocka_unit_test(test_channel_formats),
            cmocka_unit_test(test_line_counts_utf16_units),
            cmocka_unit_test(test_channel_registry),
            cmocka_unit_test(test_retry_key_is_deterministic_uuid),
            cmocka_unit_test(test_template_render),
            cmocka_unit_test(test_seed_templates_render),
            cmocka_unit_test(test_token_bucket),
            cmocka_unit_test(test_quiet_hours),
            cmocka_unit_test(test_backoff_honours_retry_after),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
