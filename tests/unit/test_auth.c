#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "oshirase/auth.h"

static const char secret[] = "s3cret-key-material";

static int lookup(void *opaque, const char *key_id, const void **out)
{
        (void)opaque;
        if (strcmp(key_id, "exchange-1"))
                return -1;
        *out = secret;
        return (int)strlen(secret);
}

static const int64_t now = 1795000000000;

static void sign(char *hdr, const char *body)
{
        assert_int_equal(osh_auth_sign("exchange-1", secret, strlen(secret), "POST", "/v1/batches",
                                       now, body, strlen(body), hdr, OSH_AUTH_HEADER_MAX),
                         0);
}

static osh_auth_verdict_t verify(const char *hdr, const char *path, int64_t at, const char *body)
{
        return osh_auth_verify(hdr, lookup, NULL, "POST", path, at, 300000, body, strlen(body));
}

static void test_round_trip(void **state)
{
        char hdr[OSH_AUTH_HEADER_MAX];

        sign(hdr, "payload");
        assert_int_equal(verify(hdr, "/v1/batches", now + 1000, "payload"), OSH_AUTH_OK);
}

static void test_binds_body_path_and_time(void **state)
{
        char hdr[OSH_AUTH_HEADER_MAX];

        sign(hdr, "payload");
        assert_int_equal(verify(hdr, "/v1/batches", now, "payloaD"), OSH_AUTH_BAD_SIGNATURE);
        assert_int_equal(verify(hdr, "/v1/probe", now, "payload"), OSH_AUTH_BAD_SIGNATURE);
        assert_int_equal(verify(hdr, "/v1/batches", now + 300001, "payload"), OSH_AUTH_STALE);
        assert_int_equal(verify(hdr, "/v1/batches", now - 300001, "payload"), OSH_AUTH_STALE);
}

static void test_rejects_bad_headers(void **state)
{
        char hdr[OSH_AUTH_HEADER_MAX], forged[OSH_AUTH_HEADER_MAX];

        assert_int_equal(verify(NULL, "/v1/batches", now, ""), OSH_AUTH_MISSING);
        assert_int_equal(verify("Bearer abc", "/v1/batches", now, ""), OSH_AUTH_MISSING);
        assert_int_equal(verify(OSH_AUTH_SCHEME " key=x", "/v1/batches", now, ""),
                         OSH_AUTH_MALFORMED);
        assert_int_equal(verify(OSH_AUTH_SCHEME " key=exchange-1,ts=1,sig=zz", "/", now, ""),
                         OSH_AUTH_MALFORMED);
        sign(hdr, "");
        memcpy(forged, hdr, sizeof(forged));
        memcpy(strstr(forged, "key=") + 4, "exchange-2", 10);
        assert_int_equal(verify(forged, "/v1/batches", now, ""), OSH_AUTH_UNKNOWN_KEY);
        memcpy(forged, hdr, sizeof(forged));
        char *last = forged + strlen(forged) - 1;
        *last = *last == '0' ? '1' : '0';
        assert_int_equal(verify(forged, "/v1/batches", now, ""), OSH_AUTH_BAD_SIGNATURE);
}

static void test_sign_refuses_bad_key_id_and_small_buffer(void **state)
{
        char out[16];

        assert_int_equal(osh_auth_sign("a,b", secret, 3, "POST", "/", now, "", 0, out, 300), -1);
        assert_int_equal(osh_auth_sign("k", secret, 3, "POST", "/", now, "", 0, out, sizeof(out)),
                         -1);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_binds_body_path_and_time),
            cmocka_unit_test(test_rejects_bad_headers),
            cmocka_unit_test(test_sign_refuses_bad_key_id_and_small_buffer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
