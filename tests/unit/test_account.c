/* Account-id validators (oshirase/account.h): the forms each channel
 * accepts, and the ids that would smuggle commands into a protocol. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "oshirase/account.h"

static int ok(osh_account_check_fn *f, const char *s)
{
        return f(s, strlen(s)) == NULL;
}

static void test_email(void **state)
{
        char long_local[80];

        (void)state;
        assert_true(ok(osh_account_check_email, "resident1@example.jp"));
        assert_true(
            ok(osh_account_check_email, "a.b+tag!#$%&'*/=?^_`{|}~-@mail.city.example.lg.jp"));
        assert_false(ok(osh_account_check_email, "a@example.jp>\r\nRCPT TO:<victim@example.jp"));
        assert_false(ok(osh_account_check_email, "a@example.jp\r\n"));
        assert_false(ok(osh_account_check_email, "a@example.jp\n"));
        assert_false(ok(osh_account_check_email, "<a@example.jp>"));
        assert_false(ok(osh_account_check_email, "a b@example.jp"));
        assert_false(ok(osh_account_check_email, "\"a b\"@example.jp"));
        assert_false(ok(osh_account_check_email, "a@[192.0.2.1]"));
        assert_false(ok(osh_account_check_email, "a..b@example.jp"));
        assert_false(ok(osh_account_check_email, ".a@example.jp"));
        assert_false(ok(osh_account_check_email, "a.@example.jp"));
        assert_false(ok(osh_account_check_email, "a@localhost"));
        assert_false(ok(osh_account_check_email, "a@-example.jp"));
        assert_false(ok(osh_account_check_email, "a@example-.jp"));
        assert_false(ok(osh_account_check_email, "a@example..jp"));
        assert_false(ok(osh_account_check_email, "a@example.jp."));
        assert_false(ok(osh_account_check_email, "a@b@example.jp"));
        assert_false(ok(osh_account_check_email, "@example.jp"));
        assert_false(ok(osh_account_check_email, "山田@example.jp"));
        assert_false(ok(osh_account_check_email, "a\t@example.jp"));
        assert_non_null(osh_account_check_email("a\0b@example.jp", 14)); /* embedded NUL */
        memset(long_local, 'a', 65);
        strcpy(long_local + 65, "@example.jp");
        assert_false(ok(osh_account_check_email, long_local));
        long_local[1] = '@';
        long_local[2] = '\0';
        assert_false(ok(osh_account_check_email, long_local));
}

static void test_other_channels(void **state)
{
        (void)state;
        assert_true(ok(osh_account_check_line, "U0123456789abcdef0123456789abcdef"));
        assert_false(ok(osh_account_check_line, "U0123456789ABCDEF0123456789abcdef"));
        assert_false(ok(osh_account_check_line, "U0123456789abcdef0123456789abcde"));
        assert_false(ok(osh_account_check_line, "U0123456789abcdef0123456789abcde\n"));
        assert_true(ok(osh_account_check_https_url, "https://hooks.example.jp/notice?x=1"));
        assert_false(ok(osh_account_check_https_url, "http://hooks.example.jp/"));
        assert_false(ok(osh_account_check_https_url, "https:///path"));
        assert_false(ok(osh_account_check_https_url, "https://a.example/\r\nHost: b"));
        assert_true(ok(osh_account_check_x, "1001"));
        assert_false(ok(osh_account_check_x, "@handle"));
        assert_false(ok(osh_account_check_x, "123456789012345678901"));
        assert_true(ok(osh_account_check_facebook, "2001001"));
        assert_false(ok(osh_account_check_facebook, "2001"));
        assert_true(ok(osh_account_check_e164, "+819012345678"));
        assert_false(ok(osh_account_check_e164, "09012345678"));
        assert_false(ok(osh_account_check_e164, "+0812345678"));
        assert_false(ok(osh_account_check_e164, "+81 90 1234 5678"));
        assert_false(ok(osh_account_check_e164, "+8190123456789012"));
}

static void test_channel_table(void **state)
{
        (void)state;
        assert_string_equal(osh_account_channel_by_name("X", 1)->symbol, "TWITTER");
        assert_string_equal(osh_account_channel_by_name("Sms", 3)->symbol, "SMS");
        assert_null(osh_account_channel_by_name("fax", 3));
        assert_ptr_equal(osh_account_channel_by_symbol("EMAIL")->check, osh_account_check_email);
        assert_null(osh_account_channel_by_symbol("OTHER"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_email),
            cmocka_unit_test(test_other_channels),
            cmocka_unit_test(test_channel_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
