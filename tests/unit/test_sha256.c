/* SHA-256 / HMAC against FIPS 180-2 and RFC 4231 vectors; hex helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "oshirase/sha256.h"

static void assert_digest_hex(const uint8_t *d, const char *want)
{
        char hex[OSH_SHA256_HEX_LEN + 1];

        osh_hex_encode(d, OSH_SHA256_LEN, hex);
        assert_string_equal(hex, want);
}

static void test_oneshot_vectors(void **state)
{
        uint8_t d[OSH_SHA256_LEN];

        assert_int_equal(osh_sha256(NULL, 0, d), 0);
        assert_digest_hex(d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_int_equal(osh_sha256("abc", 3, d), 0);
        assert_digest_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_int_equal(osh_sha256(m, strlen(m), d), 0);
        assert_digest_hex(d, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_streaming_million_a_and_reuse(void **state)
{
        osh_sha256_t *h = osh_sha256_new();
        uint8_t d[OSH_SHA256_LEN];
        char chunk[1000];
        int i;

        assert_non_null(h);
        memset(chunk, 'a', sizeof(chunk));
        for (i = 0; i < 1000; i++)
                assert_int_equal(osh_sha256_update(h, chunk, sizeof(chunk)), 0);
        assert_int_equal(osh_sha256_final(h, d), 0);
        assert_digest_hex(d, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
        /* final() re-arms: the next message starts fresh. */
        assert_int_equal(osh_sha256_update(h, "ab", 2), 0);
        assert_int_equal(osh_sha256_update(h, "c", 1), 0);
        assert_int_equal(osh_sha256_final(h, d), 0);
        assert_digest_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        osh_sha256_destroy(h);
        osh_sha256_destroy(NULL);
}

static void test_hmac_rfc4231(void **state)
{
        uint8_t key[131], d[OSH_SHA256_LEN];
        const char *m;

        memset(key, 0x0b, 20);
        assert_int_equal(osh_hmac_sha256(key, 20, "Hi There", 8, d), 0);
        assert_digest_hex(d, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        m = "what do ya want for nothing?";
        assert_int_equal(osh_hmac_sha256("Jefe", 4, m, strlen(m), d), 0);
        assert_digest_hex(d, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        /* Key longer than the block size is hashed first. */
        memset(key, 0xaa, sizeof(key));
        m = "Test Using Larger Than Block-Size Key - Hash Key First";
        assert_int_equal(osh_hmac_sha256(key, sizeof(key), m, strlen(m), d), 0);
        assert_digest_hex(d, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The keyed context gives the one-shot MAC for every message, repeatedly
 * (each run starts from the key, not from the previous message). */
static void test_hmac_keyed_matches_one_shot(void **state)
{
        static const char *const msgs[] = {"Hi There", "", "what do ya want for nothing?",
                                           "Hi There"};
        uint8_t key[131], want[OSH_SHA256_LEN], got[OSH_SHA256_LEN];
        size_t key_lens[] = {20, 4, sizeof(key)};
        osh_hmac_t *h;

        memset(key, 0x0b, sizeof(key));
        for (size_t k = 0; k < sizeof(key_lens) / sizeof(key_lens[0]); k++) {
                assert_non_null(h = osh_hmac_new(key, key_lens[k]));
                for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
                        assert_int_equal(
                            osh_hmac_sha256(key, key_lens[k], msgs[i], strlen(msgs[i]), want), 0);
                        assert_int_equal(osh_hmac_run(h, msgs[i], strlen(msgs[i]), got), 0);
                        assert_memory_equal(got, want, sizeof(want));
                }
                osh_hmac_destroy(h);
        }
        h = osh_hmac_new(key, 20);
        assert_int_equal(osh_hmac_run(h, "Hi There", 8, got), 0);
        assert_digest_hex(got, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        osh_hmac_destroy(h);
        osh_hmac_destroy(NULL);
}

static void test_hex_round_trip_and_errors(void **state)
{
        const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
        uint8_t out[8];
        char hex[2 * sizeof(in) + 1];
        size_t n = 0;

        osh_hex_encode(in, sizeof(in), hex);
        assert_string_equal(hex, "00017f80abff");
        assert_int_equal(osh_hex_decode("00017F80ABff", out, sizeof(out), &n), 0);
        assert_int_equal(n, sizeof(in));
        assert_memory_equal(out, in, sizeof(in));
        assert_int_equal(osh_hex_decode("", out, sizeof(out), &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(osh_hex_decode("abc", out, sizeof(out), &n), -1); /* odd */
        assert_int_equal(osh_hex_decode("zz", out, sizeof(out), &n), -1);  /* not hex */
        assert_int_equal(osh_hex_decode("0g", out, sizeof(out), &n), -1);
        assert_int_equal(osh_hex_decode("000102", out, 2, &n), -1); /* too long */
        assert_int_equal(osh_hex_decode("0001", out, 2, NULL), 0);
}

static void test_ct_equal(void **state)
{
        assert_true(osh_ct_equal("abcd", "abcd", 4));
        assert_false(osh_ct_equal("abcd", "abce", 4));
        assert_true(osh_ct_equal("x", "y", 0));
}

static void test_file(void **state)
{
        char path[] = "/tmp/osh_test_sha256_XXXXXX";
        uint8_t d[OSH_SHA256_LEN];
        char err[256] = "";
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, "abc", 3), 3);
        close(fd);
        assert_int_equal(osh_sha256_file(path, d, err, sizeof(err)), 0);
        assert_digest_hex(d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        unlink(path);
        assert_int_equal(osh_sha256_file(path, d, err, sizeof(err)), -1);
        assert_non_null(strstr(err, path));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_oneshot_vectors),
            cmocka_unit_test(test_streaming_million_a_and_reuse),
            cmocka_unit_test(test_hmac_rfc4231),
            cmocka_unit_test(test_hmac_keyed_matches_one_shot),
            cmocka_unit_test(test_hex_round_trip_and_errors),
            cmocka_unit_test(test_ct_equal),
            cmocka_unit_test(test_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
