#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/dictionary.h"

static const char tsv[] = "@layout\t1\nnhi\tflag\t0\t国民健康保険\nsex\tcode\t0\t性別\n";
static char dir[] = "/tmp/osh-dict-seal-XXXXXX";
static char keyf[256], key2f[256], sealedf[256], plainf[256];
static uint8_t key[32];

static void write_file(const char *path, const void *p, size_t n)
{
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(p, 1, n, fp), n);
        fclose(fp);
}

static int setup(void **state)
{
        uint8_t *out = NULL;
        size_t n = 0;
        char errstr[128];

        if (!mkdtemp(dir))
                return -1;
        for (int i = 0; i < 32; i++)
                key[i] = (uint8_t)(i * 7 + 1);
        snprintf(keyf, sizeof(keyf), "%s/key", dir);
        snprintf(key2f, sizeof(key2f), "%s/key2", dir);
        snprintf(sealedf, sizeof(sealedf), "%s/dict.sealed", dir);
        snprintf(plainf, sizeof(plainf), "%s/dict.tsv", dir);
        write_file(keyf, "01080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da\n", 65);
        write_file(key2f, "ff080f161d242b323940474e555c636a71787f868d949ba2a9b0b7bec5ccd3da", 64);
        write_file(plainf, tsv, strlen(tsv));
        if (osh_dict_seal(tsv, strlen(tsv), key, &out, &n, errstr, sizeof(errstr)))
                return -1;
        write_file(sealedf, out, n);
        free(out);
        return 0;
}

static int teardown(void **state)
{
        unlink(keyf);
        unlink(key2f);
        unlink(sealedf);
        unlink(plainf);
        rmdir(dir);
        return 0;
}

static void test_round_trip(void **state)
{
        char errstr[256];
        osh_dict_t *d = osh_dict_load_sealed(sealedf, keyf, errstr, sizeof(errstr));

        assert_non_null(d);
        assert_string_equal(osh_dict_find(d, "nhi")->label, "国民健康保険");
        osh_dict_destroy(d);
}

static void test_names_are_not_in_the_clear(void **state)
{
        FILE *fp = fopen(sealedf, "rb");
        char buf[512];
        size_t n = fread(buf, 1, sizeof(buf), fp);

        fclose(fp);
        assert_null(memmem(buf, n, "nhi", 3));
        assert_null(memmem(buf, n, "国民健康保険", strlen("国民健康保険")));
}

static void test_wrong_key_tamper_truncation(void **state)
{
        char errstr[256], tampered[256];
        uint8_t buf[512];
        FILE *fp = fopen(sealedf, "rb");
        size_t n = fread(buf, 1, sizeof(buf), fp);

        fclose(fp);
        assert_null(osh_dict_load_sealed(sealedf, key2f, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "wrong key or altered"));
        snprintf(tampered, sizeof(tampered), "%s/t", dir);
        buf[30] ^= 1;
        write_file(tampered, buf, n);
        assert_null(osh_dict_load_sealed(tampered, keyf, errstr, sizeof(errstr)));
        buf[30] ^= 1;
        write_file(tampered, buf, n - 1);
        assert_null(osh_dict_load_sealed(tampered, keyf, errstr, sizeof(errstr)));
        write_file(tampered, buf, 10);
        assert_null(osh_dict_load_sealed(tampered, keyf, errstr, sizeof(errstr)));
        unlink(tampered);
}

static void test_plain_loader_refuses_sealed_and_bad_keys(void **state)
{
        char errstr[256];

        assert_null(osh_dict_load(sealedf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "sealed dictionary"));
        assert_null(osh_dict_load_sealed(sealedf, plainf, errstr, sizeof(errstr)));
        assert_non_null(strstr(errstr, "not a 32-byte key"));
        assert_null(osh_dict_load_sealed(plainf, keyf, errstr, sizeof(errstr)));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_names_are_not_in_the_clear),
            cmocka_unit_test(test_wrong_key_tamper_truncation),
            cmocka_unit_test(test_plain_loader_refuses_sealed_and_bad_keys),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
