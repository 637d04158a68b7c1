/* Unit tests for table-driven configuration. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oshirase/config.h"
#include "oshirase/log.h"

#define PROG "/usr/lib/oshirase/svc-test"

static const osh_cfg_entry_t table[] = {
    {"svc.name", OSH_CFG_STR, "dflt", "OSH_SVC_NAME", "a string"},
    {"svc.count", OSH_CFG_INT, "7", "OSH_SVC_COUNT", "an integer"},
    {"svc.enabled", OSH_CFG_BOOL, "false", "OSH_SVC_ENABLED", "a bool"},
    {"svc.timeout", OSH_CFG_DURATION_MS, "250ms", "OSH_SVC_TIMEOUT", "a duration"},
    {"svc.buffer", OSH_CFG_SIZE, "64k", "OSH_SVC_BUFFER", "a size"},
    {"svc.api.token", OSH_CFG_STR, NULL, "OSH_SVC_API_TOKEN", "a secret"},
    {"svc.noenv", OSH_CFG_INT, NULL, NULL, "no env var"},
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

#define assert_contains(hay, needle)                                                               \
        do {                                                                                       \
                if (!strstr((hay), (needle)))                                                      \
                        fail_msg("\"%s\" not found in \"%s\"", (needle), (hay));                   \
        } while (0)

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE      ((const char *const *)NULL)

static char g_path[64]; /* last config file written by load() */
static char g_err[512];

static void write_file(const char *text, char *path, size_t size)
{
        int fd;

        snprintf(path, size, "/tmp/osh_test_cfg_XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
        close(fd);
}

static osh_config_t *new_cfg(void)
{
        osh_config_t *cfg = osh_config_new(PROG, table, N_TABLE);

        assert_non_null(cfg);
        return cfg;
}

/* Loads cfg from a file (via OSH_CONFIG when file_text is set), env and args. */
static int load(osh_config_t *cfg, const char *file_text, const char *const *env,
                const char *const *args)
{
        char *envv[32], *argv[32], confenv[128];
        int ne = 0, argc = 0, rc;

        argv[argc++] = PROG;
        for (; args && *args; args++)
                argv[argc++] = (char *)*args;
        for (; env && *env; env++)
                envv[ne++] = (char *)*env;
        if (file_text) {
                write_file(file_text, g_path, sizeof(g_path));
                snprintf(confenv, sizeof(confenv), "OSH_CONFIG=%s", g_path);
                envv[ne++] = confenv;
        }
        envv[ne] = NULL;
        argv[argc] = NULL;
        g_err[0] = '\0';
        rc = osh_config_load(cfg, argc, argv, envv, g_err, sizeof(g_err));
        if (file_text)
                unlink(g_path);
        return rc;
}

/* ---- defaults and precedence ----------------------------------------- */

static void test_defaults(void **state)
{
        osh_config_t *cfg = new_cfg();

        assert_int_equal(load(cfg, NULL, NONE, NONE), OSH_CONFIG_RUN);
        assert_string_equal(osh_config_str(cfg, "svc.name"), "dflt");
        assert_int_equal(osh_config_int(cfg, "svc.count"), 7);
        assert_int_equal(osh_config_bool(cfg, "svc.enabled"), 0);
        assert_int_equal(osh_config_int(cfg, "svc.timeout"), 250);
        assert_int_equal(osh_config_int(cfg, "svc.buffer"), 65536);
        assert_null(osh_config_str(cfg, "svc.api.token"));
        assert_int_equal(osh_config_int(cfg, "svc.noenv"), 0);
        assert_string_equal(osh_config_str(cfg, "log.level"), "info");
        assert_string_equal(osh_config_str(cfg, "log.format"), "text");
        assert_string_equal(osh_config_str(cfg, "instance"), "svc-test");
        assert_int_equal(osh_config_int(cfg, "heartbeat.interval"), 5000);
        assert_null(osh_config_str(cfg, "config"));
        assert_null(osh_config_str(cfg, "segment"));
        assert_null(osh_config_str(cfg, "replay"));
        assert_null(osh_config_str(cfg, "ready.file"));
        assert_string_equal(osh_config_source(cfg, "svc.count"), "default");
        assert_string_equal(osh_config_source(cfg, "instance"), "default");
        assert_int_equal(osh_config_check_only(cfg), 0);
        assert_int_equal(osh_config_positional_count(cfg), 0);
        osh_config_destroy(cfg);
}

struct prec_case {
        const char *key, *env, *def, *vals[3]; /* file, env, flag */
        int64_t def_n, nums[3];
};

static const struct prec_case prec_cases[] = {
    {"svc.name", "OSH_SVC_NAME", "dflt", {"from-file", "from-env", "from-flag"}, 0, {0, 0, 0}},
    {"svc.count", "OSH_SVC_COUNT", "7", {"1", "-2", "3"}, 7, {1, -2, 3}},
    {"svc.enabled", "OSH_SVC_ENABLED", "false", {"yes", "off", "true"}, 0, {1, 0, 1}},
    {"svc.timeout", "OSH_SVC_TIMEOUT", "250ms", {"2s", "3m", "1h"}, 250, {2000, 180000, 3600000}},
    {"svc.buffer", "OSH_SVC_BUFFER", "64k", {"512", "5M", "1G"}, 65536, {512, 5 << 20, 1 << 30}},
    {"log.level", "OSH_LOG_LEVEL", "info", {"warn", "error", "debug"}, 0, {0, 0, 0}},
    {"heartbeat.interval",
     "OSH_HEARTBEAT_INTERVAL",
     "5s",
     {"1s", "2000", "3s"},
     5000,
     {1000, 2000, 3000}},
};

static void check_value(osh_config_t *cfg, const struct prec_case *c, const char *want_s,
                        int64_t want_n)
{
        osh_cfg_type_t type = strcmp(c->key, "svc.enabled") == 0 ? OSH_CFG_BOOL : OSH_CFG_INT;

        assert_string_equal(osh_config_str(cfg, c->key), want_s);
        if (strcmp(c->key, "svc.name") == 0 || strcmp(c->key, "log.level") == 0)
                return;
        if (type == OSH_CFG_BOOL)
                assert_int_equal(osh_config_bool(cfg, c->key), want_n);
        else
                assert_int_equal(osh_config_int(cfg, c->key), want_n);
}

/* Every combination of file/env/flag for every type: the highest wins and
 * osh_config_source() names it. */
static void test_precedence_each_type(void **state)
{
        static const char *const srcs[] = {"file", "env", "flag"};
        char file[128], env[128], flag[128];
        size_t i;
        int mask, top, s;

        for (i = 0; i < sizeof(prec_cases) / sizeof(prec_cases[0]); i++) {
                const struct prec_case *c = &prec_cases[i];
                for (mask = 0; mask < 8; mask++) {
                        osh_config_t *cfg = new_cfg();
                        snprintf(file, sizeof(file), "%s = %s\n", c->key, c->vals[0]);
                        snprintf(env, sizeof(env), "%s=%s", c->env, c->vals[1]);
                        snprintf(flag, sizeof(flag), "--%s=%s", c->key, c->vals[2]);
                        assert_int_equal(load(cfg, mask & 1 ? file : NULL,
                                              mask & 2 ? LIST(env) : NONE,
                                              mask & 4 ? LIST(flag) : NONE),
                                         OSH_CONFIG_RUN);
                        for (top = -1, s = 0; s < 3; s++)
                                if (mask & (1 << s))
                                        top = s;
                        if (top < 0) {
                                check_value(cfg, c, c->def, c->def_n);
                                assert_string_equal(osh_config_source(cfg, c->key), "default");
                        } else {
                                check_value(cfg, c, c->vals[top], c->nums[top]);
                                assert_string_equal(osh_config_source(cfg, c->key), srcs[top]);
                        }
                        osh_config_destroy(cfg);
                }
        }
}

static void test_flag_forms(void **state)
{
        osh_config_t *cfg = new_cfg();

        assert_int_equal(load(cfg, NULL, NONE,
                              LIST("--svc.count", "12", "--svc.timeout", "2m", "--svc.enabled",
                                   "pos1", "--svc.name=a=b", "--instance", "i-9")),
                         OSH_CONFIG_RUN);
        assert_int_equal(osh_config_int(cfg, "svc.count"), 12);
        assert_int_equal(osh_config_int(cfg, "svc.timeout"), 120000);
        assert_int_equal(osh_config_bool(cfg, "svc.enabled"), 1); /* bare bool */
        assert_string_equal(osh_config_str(cfg, "svc.name"), "a=b");
        assert_string_equal(osh_config_str(cfg, "instance"), "i-9");
        assert_string_equal(osh_config_source(cfg, "instance"), "flag");
        /* the bare bool did not swallow the next argument */
        assert_int_equal(osh_config_positional_count(cfg), 1);
        assert_string_equal(osh_config_positional(cfg, 0), "pos1");
        osh_config_destroy(cfg);

        cfg = new_cfg();
        assert_int_equal(load(cfg, NULL, LIST("OSH_SVC_ENABLED=true"), LIST("--svc.enabled=no")),
                         OSH_CONFIG_RUN);
        assert_int_equal(osh_config_bool(cfg, "svc.enabled"), 0);
        /* a later flag for the same key wins */
        osh_config_destroy(cfg);
        cfg = new_cfg();
        assert_int_equal(load(cfg, NULL, NONE, LIST("--svc.count=1", "--svc.count=2")),
                         OSH_CONFIG_RUN);
        assert_int_equal(osh_config_int(cfg, "svc.count"), 2);
        osh_config_destroy(cfg);
}

static void test_positionals(void **state)
{
        osh_config_t *cfg = new_cfg();

        assert_int_equal(
            load(cfg, NULL, NONE,
                 LIST("a.csv", "--svc.count=3", "-", "b.csv", "--", "--svc.count=4", "--help")),
            OSH_CONFIG_RUN);
        assert_int_equal(osh_config_int(cfg, "svc.count"), 3);
        assert_int_equal(osh_config_positional_count(cfg), 5);
        assert_string_equal(osh_config_positional(cfg, 0), "a.csv");
        assert_string_equal(osh_config_positional(cfg, 1), "-");
        assert_string_equal(osh_config_positional(cfg, 2), "b.csv");
        assert_string_equal(osh_config_positional(cfg, 3), "--svc.count=4");
        assert_string_equal(osh_config_positional(cfg, 4), "--help");
        assert_null(osh_config_positional(cfg, 5));
        osh_config_destroy(cfg);
}

static void test_file_syntax(void **state)
{
        osh_config_t *cfg = new_cfg();

        assert_int_equal(load(cfg,
                              "# leading comment\n"
                              "\n"
                              "   \t\n"
                              "  svc.name   =   \"  spaced # not a comment \\\" \\\\ \"  # c\r\n"
                              "svc.count=42 # trailing comment\n"
                              "svc.api.token = 'lit\\eral#x'\n"
                              "svc.timeout\t=\t3s\n"
                              "  # indented comment\n"
                              "segment = processing\n"
                              "replay = batch:2026-11-23.1\n"
                              "svc.buffer = 1M",
                              NONE, NONE),
                         OSH_CONFIG_RUN);
        assert_string_equal(osh_config_str(cfg, "svc.name"), "  spaced # not a comment \" \\ ");
        assert_int_equal(osh_config_int(cfg, "svc.count"), 42);
        assert_string_equal(osh_config_str(cfg, "svc.api.token"), "lit\\eral#x");
        assert_int_equal(osh_config_int(cfg, "svc.timeout"), 3000);
        assert_string_equal(osh_config_str(cfg, "segment"), "processing");
        assert_string_equal(osh_config_str(cfg, "replay"), "batch:2026-11-23.1");
        assert_int_equal(osh_config_int(cfg, "svc.buffer"), 1 << 20);
        assert_string_equal(osh_config_source(cfg, "svc.count"), "file");
        assert_string_equal(osh_config_str(cfg, "config"), g_path);
        assert_string_equal(osh_config_source(cfg, "config"), "env");
        osh_config_destroy(cfg);

        /* empty values and a value that is only a comment */
        cfg = new_cfg();
        assert_int_equal(load(cfg, "svc.name =\nready.file = \"\"\n", NONE, NONE), OSH_CONFIG_RUN);
        assert_string_equal(osh_config_str(cfg, "svc.name"), "");
        assert_string_equal(osh_config_str(cfg, "ready.file"), "");
        osh_config_destroy(cfg);
}

/* --config on the command line beats OSH_CONFIG. */
static void test_config_flag_beats_env(void **state)
{
        char path_flag[64], path_env[64], arg[128], envs[128];
        osh_config_t *cfg = new_cfg();

        write_file("svc.count = 1\n", path_flag, sizeof(path_flag));
        write_file("svc.count = 2\n", path_env, sizeof(path_env));
        snprintf(arg, sizeof(arg), "--config=%s", path_flag);
        snprintf(envs, sizeof(envs), "OSH_CONFIG=%s", path_env);
        assert_int_equal(load(cfg, NULL, LIST(envs), LIST(arg)), OSH_CONFIG_RUN);
        assert_int_equal(osh_config_int(cfg, "svc.count"), 1);
        assert_string_equal(osh_config_source(cfg, "config"), "flag");
        osh_config_destroy(cfg);
        unlink(path_flag);
        unlink(path_env);
}

static void test_empty_env_and_foreign_vars(void **state)
{
        osh_config_t *cfg = new_cfg();

        assert_int_equal(load(cfg, NULL,
                              LIST("OSH_SVC_COUNT=", "OSH_SOMETHING_ELSE=garbage", "PATH=/bin",
                                   "OSH_INSTANCE=inst-3", "NOEQUALS"),
                              NONE),
                         OSH_CONFIG_RUN);
        assert_int_equal(osh_config_int(cfg, "svc.count"), 7);
        assert_string_equal(osh_config_source(cfg, "svc.count"), "default");
        assert_string_equal(osh_config_str(cfg, "instance"), "inst-3");
        assert_string_equal(osh_config_source(cfg, "instance"), "env");
        osh_config_destroy(cfg);
}

/* ---- kafka.* pass-through -------------------------------------------- */

struct collected {
        char keys[16][64], vals[16][64];
        int n;
};

static int collect(const char *key, const char *val, void *opaque)
{
        struct collected *c = opaque;

        assert_true(c->n < 16);
        snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
        snprintf(c->vals[c->n], sizeof(c->vals[0]), "%s", val);
        c->n++;
        return 0;
}

static const char *lookup(const struct collected *c, const char *key)
{
        const char *found = NULL;
        int i;

        for (i = 0; i < c->n; i++) {
                if (strcmp(c->keys[i], key) == 0) {
                        if (found)
                                fail_msg("key %s yielded twice", key);
                        found = c->vals[i];
                }
        }
        return found;
}

static int stop_at_second(const char *key, const char *val, void *opaque)
{
        return ++*(int *)opaque == 2 ? 77 : 0;
}

static void test_kafka_passthrough(void **state)
{
        struct collected c = {0};
        osh_config_t *cfg = new_cfg();
        int calls = 0;

        assert_int_equal(load(cfg,
                              "kafka.a = file\nkafka.b = file\nkafka.c = file\n"
                              "kafka.source.bootstrap.servers = f:9092\nkafka.a = file2\n",
                              LIST("KAFKA_B=env", "KAFKA_C=env", "KAFKA_SASL_MECHANISM=PLAIN",
                                   "KAFKA_=x", "KAFKA_BAD-NAME=x", "KAFKAX=y"),
                              LIST("--kafka.c=flag", "--kafka.f", "flag2")),
                         OSH_CONFIG_RUN);
        assert_int_equal(osh_config_foreach_prefixed(cfg, "kafka.", collect, &c), 0);
        assert_int_equal(c.n, 6);
        assert_string_equal(lookup(&c, "a"), "file2");
        assert_string_equal(lookup(&c, "b"), "env");
        assert_string_equal(lookup(&c, "c"), "flag");
        assert_string_equal(lookup(&c, "sasl.mechanism"), "PLAIN");
        assert_string_equal(lookup(&c, "f"), "flag2");
        assert_string_equal(lookup(&c, "source.bootstrap.servers"), "f:9092");

        memset(&c, 0, sizeof(c));
        assert_int_equal(osh_config_foreach_prefixed(cfg, "kafka.source.", collect, &c), 0);
        assert_int_equal(c.n, 1);
        assert_string_equal(c.keys[0], "bootstrap.servers");

        assert_int_equal(osh_config_foreach_prefixed(cfg, "kafka.", stop_at_second, &calls), 77);
        assert_int_equal(calls, 2);
        osh_config_destroy(cfg);
}

/* ---- errors ---------------------------------------------------------- */

struct err_case {
        const char *file;
        const char *const *env;
        const char *const *args;
        const char *want[3]; /* substrings of errstr */
};

static void test_errors_name_key_and_origin(void **state)
{
        const struct err_case cases[] = {
            {NULL, NONE, LIST("--svc.timeout=5x"), {"--svc.timeout: invalid duration \"5x\""}},
            {NULL, NONE, LIST("--svc.timeout", "5x"), {"--svc.timeout: invalid duration \"5x\""}},
            {NULL, NONE, LIST("--svc.timeout=-5s"), {"--svc.timeout: invalid duration"}},
            {NULL, NONE, LIST("--svc.count=12a"), {"--svc.count: invalid integer \"12a\""}},
            {NULL, NONE, LIST("--svc.count="), {"--svc.count: invalid integer \"\""}},
            {NULL,
             NONE,
             LIST("--svc.count=9223372036854775808"),
             {"--svc.count: integer out of range"}},
            {NULL, NONE, LIST("--svc.enabled=maybe"), {"--svc.enabled: invalid bool \"maybe\""}},
            {NULL, NONE, LIST("--svc.buffer=5Q"), {"--svc.buffer: invalid size \"5Q\""}},
            {NULL, NONE, LIST("--svc.buffer=8589934592G"), {"--svc.buffer: size out of range"}},
            {NULL,
             NONE,
             LIST("--svc.timeout=2562047788016h"),
             {"--svc.timeout: duration out of range"}},
            {NULL, NONE, LIST("--log.level=loud"), {"--log.level: invalid log level \"loud\""}},
            {NULL, NONE, LIST("--log.format=xml"), {"--log.format: invalid log format \"xml\""}},
            {NULL, NONE, LIST("--segment=dmz"), {"--segment: invalid segment \"dmz\""}},
            {NULL, NONE, LIST("--replay=latest"), {"--replay: invalid replay \"latest\""}},
            {NULL, NONE, LIST("--replay=ts:abc"), {"--replay: invalid replay"}},
            {NULL, NONE, LIST("--replay=batch:"), {"--replay: invalid replay"}},
            {NULL, NONE, LIST("--heartbeat.interval=0"), {"--heartbeat.interval: must be"}},
            {NULL, NONE, LIST("--instance="), {"--instance: must not be empty"}},
            {NULL, NONE, LIST("--nope=1"), {"unknown flag \"--nope\""}},
            {NULL, NONE, LIST("--nope"), {"unknown flag \"--nope\""}},
            {NULL, NONE, LIST("-x"), {"unknown flag \"-x\""}},
            {NULL, NONE, LIST("--kafka."), {"unknown flag \"--kafka.\""}},
            {NULL, NONE, LIST("--svc.name"), {"--svc.name: missing value"}},
            {NULL, NONE, LIST("--svc.name", "--svc.count=1"), {"--svc.name: missing value"}},
            {NULL, NONE, LIST("--config=/nonexistent/x.conf"), {"config file /nonexistent/x.conf"}},
            {"# c\n\nfoo = 1\n", NONE, NONE, {"line 3: unknown key \"foo\"", "config file /tmp/"}},
            {"svc.name = a\nsvc.timeout = 5x\n",
             NONE,
             NONE,
             {"line 2: svc.timeout: invalid duration \"5x\""}},
            {"just words\n", NONE, NONE, {"line 1: expected \"key = value\""}},
            {"= value\n", NONE, NONE, {"line 1: expected \"key = value\""}},
            {"svc.name = \"open\n", NONE, NONE, {"line 1: svc.name: unterminated quote"}},
            {"svc.name = 'a' b\n", NONE, NONE, {"line 1: svc.name: unexpected text"}},
            {"config = other.conf\n", NONE, NONE, {"line 1: \"config\" cannot be set"}},
            {"segment = Core\n", NONE, NONE, {"line 1: segment: invalid segment \"Core\""}},
            {NULL,
             LIST("OSH_SVC_COUNT=abc"),
             NONE,
             {"environment OSH_SVC_COUNT (svc.count): invalid integer \"abc\""}},
            {NULL,
             LIST("OSH_LOG_LEVEL=loud"),
             NONE,
             {"environment OSH_LOG_LEVEL (log.level)", "loud"}},
            {NULL,
             LIST("OSH_HEARTBEAT_INTERVAL=5x"),
             NONE,
             {"OSH_HEARTBEAT_INTERVAL", "heartbeat.interval", "invalid duration"}},
            /* a bad lower-precedence value fails even when overridden */
            {"svc.count = x\n", NONE, LIST("--svc.count=1"), {"line 1: svc.count"}},
            {NULL, LIST("OSH_SVC_COUNT=x"), LIST("--svc.count=1"), {"OSH_SVC_COUNT"}},
            /* --check still validates */
            {NULL, NONE, LIST("--check", "--svc.enabled=2"), {"--svc.enabled: invalid bool"}},
        };
        size_t i, k;

        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                osh_config_t *cfg = new_cfg();
                int rc = load(cfg, cases[i].file, cases[i].env, cases[i].args);
                if (rc != OSH_CONFIG_FAIL)
                        fail_msg("case %zu: rc %d, want FAIL", i, rc);
                for (k = 0; k < 3 && cases[i].want[k]; k++)
                        assert_contains(g_err, cases[i].want[k]);
                osh_config_destroy(cfg);
        }
}

static void test_load_text_nul_byte(void **state)
{
        osh_config_t *cfg = new_cfg();
        char err[256] = "";

        assert_int_equal(
            osh_config_load_text(cfg, "x.conf", "svc.count = 1\0\n", 15, err, sizeof(err)), -1);
        assert_contains(err, "config file x.conf: contains a NUL byte");
        /* no trailing NUL needed, and the last line may lack '\n' */
        assert_int_equal(
            osh_config_load_text(cfg, "x.conf", "svc.count = 19xyz", 14, err, sizeof(err)), 0);
        assert_int_equal(osh_config_int(cfg, "svc.count"), 19);
        assert_string_equal(osh_config_source(cfg, "svc.count"), "file");
        osh_config_destroy(cfg);
}

/* ---- help, version, check, dump -------------------------------------- */

static char *read_all(FILE *fp)
{
        long len = ftell(fp);
        char *buf;

        assert_true(len >= 0);
        buf = calloc(1, (size_t)len + 1);
        assert_non_null(buf);
        rewind(fp);
        assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
        return buf;
}

/* Runs load() with stdout redirected; returns what was printed. */
static char *load_capturing_stdout(osh_config_t *cfg, const char *const *env,
                                   const char *const *args, int *rc)
{
        FILE *tmp = tmpfile();
        int saved;
        char *out;

        assert_non_null(tmp);
        fflush(stdout);
        saved = dup(STDOUT_FILENO);
        assert_true(saved >= 0);
        assert_true(dup2(fileno(tmp), STDOUT_FILENO) >= 0);
        *rc = load(cfg, NULL, env, args);
        fflush(stdout);
        dup2(saved, STDOUT_FILENO);
        close(saved);
        fseek(tmp, 0, SEEK_END);
        out = read_all(tmp);
        fclose(tmp);
        return out;
}

static void test_help(void **state)
{
        osh_config_t *cfg = new_cfg();
        char want[128], *out;
        size_t i;
        int rc;

        /* --help wins even over a broken environment */
        out = load_capturing_stdout(cfg, LIST("OSH_SVC_COUNT=bad"), LIST("--svc.count=1", "--help"),
                                    &rc);
        assert_int_equal(rc, OSH_CONFIG_EXIT);
        assert_contains(out, "Usage: svc-test");
        for (i = 0; i < N_TABLE; i++) {
                snprintf(want, sizeof(want), "--%s", table[i].key);
                assert_contains(out, want);
                assert_contains(out, table[i].help);
                if (table[i].env)
                        assert_contains(out, table[i].env);
        }
        {
                static const char *const common[][2] = {
                    {"--config=", "OSH_CONFIG"},
                    {"--log.level=", "OSH_LOG_LEVEL"},
                    {"--log.format=", "OSH_LOG_FORMAT"},
                    {"--instance=", "OSH_INSTANCE"},
                    {"--segment=", "OSH_SEGMENT"},
                    {"--heartbeat.interval=<duration>", "OSH_HEARTBEAT_INTERVAL"},
                    {"--replay=", "OSH_REPLAY"},
                    {"--ready.file=", "OSH_READY_FILE"},
                };
                for (i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
                        assert_contains(out, common[i][0]);
                        assert_contains(out, common[i][1]);
                }
        }
        assert_contains(out, "--svc.enabled[=<bool>]");
        assert_contains(out, "[default 64k]");
        assert_contains(out, "[default 5s]");
        assert_contains(out, "[default svc-test]"); /* instance = prog basename */
        assert_contains(out, "[default info]");
        assert_contains(out, "--check");
        assert_contains(out, "--version");
        assert_contains(out, "KAFKA_");
        free(out);
        osh_config_destroy(cfg);

        cfg = new_cfg();
        out = load_capturing_stdout(cfg, NONE, LIST("-h"), &rc);
        assert_int_equal(rc, OSH_CONFIG_EXIT);
        assert_contains(out, "--svc.timeout=<duration>");
        free(out);
        osh_config_destroy(cfg);

        cfg = new_cfg();
        out = load_capturing_stdout(cfg, NONE, LIST("--version"), &rc);
        assert_int_equal(rc, OSH_CONFIG_EXIT);
        assert_int_equal(strncmp(out, "svc-test ", 9), 0);
        assert_contains(out, OSH_VERSION);
        free(out);
        osh_config_destroy(cfg);
}

static void test_check_and_dump(void **state)
{
        osh_config_t *cfg = new_cfg();
        FILE *tmp = tmpfile();
        char *out;

        assert_int_equal(load(cfg, "kafka.sasl.password = hunter2\n",
                              LIST("OSH_SVC_API_TOKEN=s3cr3t-value"),
                              LIST("--check", "--svc.count=9", "--kafka.client.id=cid")),
                         OSH_CONFIG_RUN);
        assert_int_equal(osh_config_check_only(cfg), 1);
        assert_non_null(tmp);
        osh_config_write_dump(cfg, tmp);
        out = read_all(tmp);
        assert_contains(out, "svc.count = 9  (flag)\n");
        assert_contains(out, "svc.timeout = 250ms  (default)\n");
        assert_contains(out, "svc.noenv = (unset)  (default)\n");
        assert_contains(out, "svc.api.token = <redacted>  (env)\n");
        assert_contains(out, "kafka.sasl.password = <redacted>  (file)\n");
        assert_contains(out, "kafka.client.id = cid  (flag)\n");
        assert_null(strstr(out, "s3cr3t"));
        assert_null(strstr(out, "hunter2"));
        free(out);
        fclose(tmp);
        osh_config_destroy(cfg);
}

static void test_init_log(void **state)
{
        osh_config_t *cfg = new_cfg();
        FILE *tmp = tmpfile();
        json_t *j;
        char *out;

        assert_int_equal(load(cfg, NULL, LIST("OSH_LOG_FORMAT=json", "OSH_INSTANCE=i7"),
                              LIST("--log.level=debug")),
                         OSH_CONFIG_RUN);
        osh_config_init_log(cfg);
        assert_int_equal(osh_log_level(), OSH_LOG_DEBUG);
        osh_log_set_stream(tmp);
        osh_debug("configured");
        osh_log_set_stream(NULL);
        out = read_all(tmp);
        j = json_loads(out, 0, NULL);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "service")), "svc-test");
        assert_string_equal(json_string_value(json_object_get(j, "instance")), "i7");
        assert_string_equal(json_string_value(json_object_get(j, "level")), "debug");
        json_decref(j);
        free(out);
        fclose(tmp);
        osh_log_init(NULL, NULL, OSH_LOG_INFO, 0);
        osh_config_destroy(cfg);
}

/* Programming errors abort rather than return garbage. */
static void expect_abort(void (*fn)(osh_config_t *))
{
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                osh_config_t *cfg = osh_config_new(PROG, table, N_TABLE);
                fclose(stderr); /* keep the test output clean */
                fn(cfg);
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void get_unknown(osh_config_t *cfg)
{
        osh_config_str(cfg, "not.a.key");
}

static void get_wrong_type(osh_config_t *cfg)
{
        osh_config_int(cfg, "svc.name");
}

static void get_bool_of_int(osh_config_t *cfg)
{
        osh_config_bool(cfg, "svc.count");
}

static void test_getter_misuse_aborts(void **state)
{
        expect_abort(get_unknown);
        expect_abort(get_wrong_type);
        expect_abort(get_bool_of_int);
}

/* ---- value parsers ---------------------------------------------------- */

struct num_case {
        const char *s;
        int ok;
        int64_t want;
};

static void run_num_cases(int (*parse)(const char *, int64_t *), const struct num_case *c, size_t n)
{
        size_t i;

        for (i = 0; i < n; i++) {
                int64_t v = -12345;
                int rc = parse(c[i].s, &v);
                if (rc != (c[i].ok ? 0 : -1))
                        fail_msg("\"%s\": rc %d", c[i].s, rc);
                assert_int_equal(v, c[i].ok ? c[i].want : -12345); /* untouched on error */
        }
}

static void test_parse_duration(void **state)
{
        const struct num_case c[] = {
            {"0", 1, 0},
            {"250", 1, 250},
            {"250ms", 1, 250},
            {"5s", 1, 5000},
            {"2m", 1, 120000},
            {"1h", 1, 3600000},
            {"007s", 1, 7000},
            {"9223372036854775807", 1, INT64_MAX},
            {"2562047788015h", 1, INT64_C(2562047788015) * 3600000},
            {"9223372036854775808", 0, 0},
            {"2562047788016h", 0, 0},
            {"99999999999999999999999ms", 0, 0},
            {"", 0, 0},
            {"s", 0, 0},
            {"5x", 0, 0},
            {"-5s", 0, 0},
            {"+5s", 0, 0},
            {" 5s", 0, 0},
            {"5 s", 0, 0},
            {"5s ", 0, 0},
            {"5.5s", 0, 0},
            {"5sm", 0, 0},
            {"5S", 0, 0},
            {"1d", 0, 0},
        };

        run_num_cases(osh_config_parse_duration, c, sizeof(c) / sizeof(c[0]));
        assert_int_equal(osh_config_parse_duration(NULL, &(int64_t){0}), -1);
}

static void test_parse_size(void **state)
{
        const struct num_case c[] = {
            {"0", 1, 0},
            {"512", 1, 512},
            {"64k", 1, 65536},
            {"64K", 1, 65536},
            {"5M", 1, 5 << 20},
            {"5m", 1, 5 << 20},
            {"1G", 1, INT64_C(1) << 30},
            {"2T", 1, INT64_C(2) << 40},
            {"8589934591G", 1, (INT64_C(8589934591)) << 30},
            {"8589934592G", 0, 0},
            {"9223372036854775807", 1, INT64_MAX},
            {"9223372036854775808", 0, 0},
            {"", 0, 0},
            {"G", 0, 0},
            {"1.5G", 0, 0},
            {"1GB", 0, 0},
            {"1KiB", 0, 0},
            {"-1", 0, 0},
            {"1 k", 0, 0},
            {"12abc", 0, 0},
        };

        run_num_cases(osh_config_parse_size, c, sizeof(c) / sizeof(c[0]));
}

static void test_parse_int_and_bool(void **state)
{
        const struct num_case c[] = {
            {"0", 1, 0},
            {"-5", 1, -5},
            {"+5", 1, 5},
            {"9223372036854775807", 1, INT64_MAX},
            {"-9223372036854775808", 1, INT64_MIN},
            {"9223372036854775808", 0, 0},
            {"-9223372036854775809", 0, 0},
            {"", 0, 0},
            {"-", 0, 0},
            {"1e3", 0, 0},
            {" 1", 0, 0},
            {"1 ", 0, 0},
            {"0x10", 0, 0},
        };
        static const char *const t[] = {"true", "TRUE", "1", "yes", "On"};
        static const char *const f[] = {"false", "0", "No", "off", "OFF"};
        static const char *const bad[] = {"", "2", "tru", "yess", " on", "y"};
        size_t i;
        int b;

        run_num_cases(osh_config_parse_int, c, sizeof(c) / sizeof(c[0]));
        for (i = 0; i < 5; i++) {
                b = -1;
                assert_int_equal(osh_config_parse_bool(t[i], &b), 0);
                assert_int_equal(b, 1);
                assert_int_equal(osh_config_parse_bool(f[i], &b), 0);
                assert_int_equal(b, 0);
        }
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                b = -1;
                assert_int_equal(osh_config_parse_bool(bad[i], &b), -1);
                assert_int_equal(b, -1);
        }
}

static void test_parse_replay(void **state)
{
        static const char *const bad[] = {
            "",       "latest",    "Earliest",  "earliest ",
            "ts:",    "ts:-1",     "ts:12a",    "ts:99999999999999999999",
            "batch:", "batch:a b", "batch:a/b", "offset:5"};
        osh_replay_t r;
        const char *s;
        size_t i;

        assert_int_equal(osh_config_replay_parse(NULL, &r), 0);
        assert_int_equal(r.kind, OSH_REPLAY_NONE);
        assert_int_equal(osh_config_replay_parse("earliest", &r), 0);
        assert_int_equal(r.kind, OSH_REPLAY_EARLIEST);
        assert_int_equal(osh_config_replay_parse("ts:1795441501123", &r), 0);
        assert_int_equal(r.kind, OSH_REPLAY_TS);
        assert_int_equal(r.ts_ms, INT64_C(1795441501123));
        s = "batch:20261123-core_1.v2:x";
        assert_int_equal(osh_config_replay_parse(s, &r), 0);
        assert_int_equal(r.kind, OSH_REPLAY_BATCH);
        assert_ptr_equal(r.batch_id, s + 6);
        for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                r.kind = OSH_REPLAY_EARLIEST;
                if (osh_config_replay_parse(bad[i], &r) != -1)
                        fail_msg("replay \"%s\" accepted", bad[i]);
                assert_int_equal(r.kind, OSH_REPLAY_EARLIEST);
        }
}

/* ---- declarative checks ---------------------------------------------- */

typedef struct decl_conf {
        const char *mode;
        int64_t window;
        int fast;
        const char *url;
} decl_conf_t;

static int check_no_x(const char *val, char *why, size_t n)
{
        if (!strchr(val, 'x'))
                return 0;
        snprintf(why, n, "no x allowed");
        return -1;
}

static const osh_cfg_entry_t decl_table[] = {
    {"d.mode", OSH_CFG_STR, "a", "OSH_D_MODE", "mode", .allowed = "a|bb|c", .flags = OSH_CFG_TARGET,
     .offset = offsetof(decl_conf_t, mode)},
    {"d.window", OSH_CFG_INT, "6", "OSH_D_WINDOW", "window",
     .flags = OSH_CFG_RANGE | OSH_CFG_TARGET, .min = 2, .max = 32,
     .offset = offsetof(decl_conf_t, window)},
    {"d.fast", OSH_CFG_BOOL, "false", NULL, "fast", .flags = OSH_CFG_TARGET,
     .offset = offsetof(decl_conf_t, fast)},
    {"d.url", OSH_CFG_STR, NULL, "OSH_D_URL", "url", .flags = OSH_CFG_REQUIRED | OSH_CFG_TARGET,
     .check = osh_cfg_check_url, .offset = offsetof(decl_conf_t, url)},
    {"d.word", OSH_CFG_STR, NULL, NULL, "word", .check = check_no_x},
};

/* Loads decl_table from args; returns the load's result, g_err says why. */
static int decl_load(const char *const *env, const char *const *args, decl_conf_t *out)
{
        osh_config_t *cfg =
            osh_config_new(PROG, decl_table, sizeof(decl_table) / sizeof(decl_table[0]));
        int rc;

        assert_non_null(cfg);
        rc = load(cfg, NULL, env, args);
        if (rc == OSH_CONFIG_RUN && out) {
                osh_config_fill(cfg, out);
                out->mode = strdup(out->mode); /* cfg owns the strings */
                out->url = strdup(out->url);
        }
        osh_config_destroy(cfg);
        return rc;
}

static void test_declared_checks(void **state)
{
        const struct {
                const char *const *env, *const *args;
                const char *why; /* in the error, with the key */
        } bad[] = {
            {NONE, LIST("--d.url=https://h", "--d.mode=b"),
             "--d.mode: invalid value \"b\" (a|bb|c)"},
            {NONE, LIST("--d.url=https://h", "--d.mode=bbb"), "--d.mode"},
            {LIST("OSH_D_WINDOW=1"), LIST("--d.url=https://h"),
             "(d.window): \"1\" is outside 2..32"},
            {NONE, LIST("--d.url=https://h", "--d.window=33"), "--d.window"},
            {NONE, NONE, "d.url: required, set it or OSH_D_URL"},
            {NONE, LIST("--d.url="), "d.url: required"},
            {NONE, LIST("--d.url=ftp://h"), "--d.url: invalid URL"},
            {NONE, LIST("--d.url=https:///p"), "--d.url: invalid URL"},
            {LIST("OSH_D_URL=http://h/a b"), NONE, "(d.url): URL \"http://h/a b\" holds a space"},
            {NONE, LIST("--d.url=https://h", "--d.word=axe"), "--d.word: no x allowed"},
        };
        decl_conf_t c = {0};

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (decl_load(bad[i].env, bad[i].args, NULL) != OSH_CONFIG_FAIL)
                        fail_msg("case %zu accepted", i);
                assert_contains(g_err, bad[i].why);
        }
        assert_int_equal(decl_load(NONE,
                                   LIST("--d.url=https://h:1/p", "--d.mode=bb", "--d.window=32",
                                        "--d.fast", "--d.word=ok"),
                                   &c),
                         OSH_CONFIG_RUN);
        assert_string_equal(c.mode, "bb");
        assert_int_equal(c.window, 32);
        assert_int_equal(c.fast, 1);
        assert_string_equal(c.url, "https://h:1/p");
        free((char *)c.mode);
        free((char *)c.url);
}

static void test_check_file(void **state)
{
        char why[256], path[64];

        write_file("x", path, sizeof(path));
        assert_int_equal(osh_cfg_check_file(path, why, sizeof(why)), 0);
        unlink(path);
        assert_int_equal(osh_cfg_check_file(path, why, sizeof(why)), -1);
        assert_contains(why, "cannot read");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_precedence_each_type),
            cmocka_unit_test(test_flag_forms),
            cmocka_unit_test(test_positionals),
            cmocka_unit_test(test_file_syntax),
            cmocka_unit_test(test_config_flag_beats_env),
            cmocka_unit_test(test_empty_env_and_foreign_vars),
            cmocka_unit_test(test_kafka_passthrough),
            cmocka_unit_test(test_errors_name_key_and_origin),
            cmocka_unit_test(test_load_text_nul_byte),
            cmocka_unit_test(test_help),
            cmocka_unit_test(test_check_and_dump),
            cmocka_unit_test(test_init_log),
            cmocka_unit_test(test_getter_misuse_aborts),
            cmocka_unit_test(test_parse_duration),
            cmocka_unit_test(test_parse_size),
            cmocka_unit_test(test_parse_int_and_bool),
            cmocka_unit_test(test_parse_replay),
            cmocka_unit_test(test_declared_checks),
            cmocka_unit_test(test_check_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
