/* The one secret rule (oshirase/secret.h): file over value, trailing CR/LF
 * trimmed, errors name the key, buffers wiped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/secret.h"

static const osh_cfg_entry_t table[] = {
    {"probe.secret", OSH_CFG_STR, NULL, NULL, "inline"},
    {"probe.secret.file", OSH_CFG_STR, NULL, NULL, "file"},
};

static char path[64];

static void write_secret(const char *text, size_t len)
{
        FILE *fp;

        snprintf(path, sizeof(path), "/tmp/osh-secret-XXXXXX");
        close(mkstemp(path));
        fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(text, 1, len, fp), len);
        fclose(fp);
}

/* Loads "probe.secret" with the given flags; -1 / 0 as osh_secret_load.
 * out->origin dangles afterwards (cfg owned it). */
static int load(const char *value, const char *file, osh_secret_t *out, char *err, size_t n)
{
        char v[128], f[128], *argv[4] = {"svc"};
        int argc = 1, rc;
        osh_config_t *cfg = osh_config_new("svc", table, 2);

        if (value)
                snprintf(v, sizeof(v), "--probe.secret=%s", value), argv[argc++] = v;
        if (file)
                snprintf(f, sizeof(f), "--probe.secret.file=%s", file), argv[argc++] = f;
        argv[argc] = NULL;
        assert_int_equal(osh_config_load(cfg, argc, argv, (char *[]){NULL}, err, n),
                         OSH_CONFIG_RUN);
        rc = osh_secret_load(cfg, "probe.secret", out, err, n);
        osh_config_destroy(cfg);
        return rc;
}

static void test_rule(void **state)
{
        osh_secret_t s;
        char err[256];

        assert_int_equal(load(NULL, NULL, &s, err, sizeof(err)), 0);
        assert_null(s.data);
        assert_int_equal(load("inline-1", NULL, &s, err, sizeof(err)), 0);
        assert_string_equal(s.data, "inline-1");
        assert_int_equal(s.len, 8);
        osh_secret_wipe(&s);
        assert_null(s.data);
        write_secret("from-file\r\n\n", 12);
        /* the file wins over the inline value, line ends trimmed */
        assert_int_equal(load("inline-1", path, &s, err, sizeof(err)), 0);
        assert_string_equal(s.data, "from-file");
        assert_int_equal(s.len, 9);
        osh_secret_wipe(&s);
        unlink(path);
        assert_int_equal(load("inline-1", path, &s, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "probe.secret.file"));
        assert_null(s.data);
}

static void test_file_limits(void **state)
{
        char big[OSH_SECRET_MAX + 1], err[256];
        osh_secret_t s;

        memset(big, 'k', sizeof(big));
        write_secret(big, sizeof(big));
        assert_int_equal(osh_secret_read_file(path, &s, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "longer"));
        assert_null(s.data);
        write_secret(big, OSH_SECRET_MAX);
        assert_int_equal(osh_secret_read_file(path, &s, err, sizeof(err)), 0);
        assert_int_equal(s.len, OSH_SECRET_MAX);
        assert_string_equal(s.origin, path);
        osh_secret_wipe(&s);
        unlink(path);
        write_secret("\n", 1); /* empty counts as unset */
        assert_int_equal(osh_secret_read_file(path, &s, err, sizeof(err)), 0);
        assert_null(s.data);
        unlink(path);
        osh_secret_wipe(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rule),
            cmocka_unit_test(test_file_limits),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
