/* Every service's --check refuses what its run would refuse, and says which
 * key is wrong. Runs the real binaries (build/bin) with an empty
 * environment: first a base configuration that must pass, then that base
 * plus one bad value, which must exit non-zero with the key in the message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_MAX  16384 /* a --check prints a few dozen lines */
#define ARGS_MAX 32

#define RULES    OSH_SOURCE_DIR "/services/anonymizer/rules/rules-v1.conf"
#define HMAC_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define MISSING  "/nonexistent/osh-check"

/* Base configurations that --check accepts; NULL-terminated. */
static const char *const base_monitor[] = {NULL};
static const char *const base_ingest[] = {"--auth.keys", "k1:" HMAC_HEX, NULL};
static const char *const base_segmenter[] = {NULL};
static const char *const base_dispatcher[] = {NULL};
static const char *const base_anonymizer[] = {"--anon.rules", RULES, "--anon.hmac.key", HMAC_HEX,
                                              NULL};
static const char *const base_relay[] = {
    "--source.segment",       "processing", "--target.segment", "exchange", "--allow",
    "resident.abstracted.v1", NULL};
static const char *const base_uplink[] = {"--mode",
                                          "uplink",
                                          "--source.segment",
                                          "exchange",
                                          "--target.segment",
                                          "cloud",
                                          "--allow",
                                          "resident.abstracted.v1",
                                          "--spool.dir",
                                          "/tmp/osh-check-spool",
                                          "--uplink.url",
                                          "https://ingest.example:8443",
                                          "--uplink.key.id",
                                          "k1",
                                          "--uplink.secret",
                                          HMAC_HEX,
                                          NULL};

static const char *const base_extractor[] = {"--input", "/tmp", NULL};

static const struct service {
        const char *bin;
        const char *const *base;
} services[] = {
    {"monitor", base_monitor},       {"cloud-ingest", base_ingest},
    {"segmenter", base_segmenter},   {"sns-dispatcher", base_dispatcher},
    {"anonymizer", base_anonymizer}, {"relay-bridge", base_relay},
    {"relay-bridge", base_uplink},   {"extractor", base_extractor},
};
#define N_SERVICES (sizeof(services) / sizeof(services[0]))

/* One bad value: service index, the extra arguments, text the error holds. */
static const struct bad {
        size_t svc;
        const char *arg, *val;
        const char *says;
} bad[] = {
    {0, "--watch", "garbage", "watch"},
    {0, "--watch", "group-without-topic", "watch"},
    {0, "--lag.window", "1", "lag.window"},
    {0, "--lag.window", "33", "lag.window"},
    {0, "--http.port", "70000", "http.port"},
    {0, "--http.host", "localhost", "http.host"},
    {0, "--stale.factor", "0", "stale.factor"},
    {0, "--lag.interval", "0", "lag.interval"},
    {0, "--probe.url", "ingest.example", "probe.url"},
    {0, "--probe.url", "https://", "probe.url"},
    {0, "--probe.secret.file", MISSING, "probe.secret.file"},
    {0, "--probe.ca", MISSING, "probe.ca"},
    {0, "--alert.url", "ftp://alerts.example", "alert.url"},
    {0, "--alert.secret.file", MISSING, "alert.secret.file"},
    {0, "--alert.attempts", "0", "alert.attempts"},
    {0, "--segment", "moon", "segment"},
    {0, "--replay", "yesterday", "replay"},
    {1, "--auth.mode", "bogus", "auth.mode"},
    {1, "--auth.keys", "no-secret", "auth.keys"},
    {1, "--auth.keys.file", MISSING, "auth.keys.file"},
    {1, "--auth.mode", "mtls", "tls.client.ca"},
    {1, "--allow", "resident.raw.v1", "allow"},
    {1, "--allow", "no.such.topic", "allow"},
    {1, "--listen.port", "-1", "listen.port"},
    {1, "--listen.host", "ingest.example", "listen.host"},
    {1, "--tls.cert", MISSING, "tls.cert"},
    {1, "--http.threads", "0", "http.threads"},
    {1, "--max.batch.bytes", "0", "max.batch.bytes"},
    {2, "--min.audience", "-1", "min.audience"},
    {2, "--dictionary.file", MISSING, "dictionary.file"},
    {2, "--exclusion.file", MISSING, "exclusion.file"},
    {3, "--line.rate", "fast", "line.rate"},
    {3, "--quiet.hours", "night", "quiet.hours"},
    {3, "--quiet.utc_offset", "9000", "quiet.utc_offset"},
    {3, "--retry.base", "0", "retry.base"},
    {4, "--anon.rules", MISSING, MISSING},
    {4, "--anon.hmac.key", "zz", "anon.hmac.key"},
    {4, "--anon.k.floor", "-3", "anon.k.floor"},
    {5, "--mode", "sideways", "mode"},
    {5, "--target.segment", "cloud", "cloud"},
    {5, "--allow", "resident.raw.v1", "resident.raw.v1"},
    {5, "--validate", "maybe", "maybe"}, /* a bare bool: "maybe" is a stray word */
    {6, "--uplink.url", "ingest.example", "uplink.url"},
    {6, "--uplink.secret.file", MISSING, "uplink.secret.file"},
    {6, "--uplink.ca", MISSING, "uplink.ca"},
    {7, "--encoding", "bogus", "encoding"},
    {7, "--gaiji.replacement", "bogus", "gaiji.replacement"},
    {7, "--reference.date", "2020-13-45", "reference.date"},
    {7, "--emit.rate", "-5", "emit.rate"},
};

/* Runs bin --check base... [arg val] with an empty environment; returns the
 * exit status and leaves stdout+stderr in out. */
static int run_check(const char *bin, const char *const *base, const char *arg, const char *val,
                     char *out, size_t size)
{
        char path[512], chunk[4096], *argv[ARGS_MAX], *envp[] = {"PATH=/usr/bin:/bin", NULL};
        posix_spawn_file_actions_t fa;
        int fd[2], n = 0, status = -1;
        size_t len = 0;
        ssize_t r;
        pid_t pid;

        snprintf(path, sizeof(path), "%s/bin/%s", OSH_BINARY_DIR, bin);
        argv[n++] = path;
        argv[n++] = "--check";
        for (; *base; base++)
                argv[n++] = (char *)*base;
        if (arg) {
                argv[n++] = (char *)arg;
                argv[n++] = (char *)val;
        }
        argv[n] = NULL;
        assert_int_equal(pipe(fd), 0);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
        posix_spawn_file_actions_adddup2(&fa, fd[1], 2);
        posix_spawn_file_actions_addclose(&fa, fd[0]);
        assert_int_equal(posix_spawn(&pid, path, &fa, NULL, argv, envp), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(fd[1]);
        while ((r = read(fd[0], chunk, sizeof(chunk))) > 0) { /* drain; keep what fits */
                size_t k = (size_t)r < size - 1 - len ? (size_t)r : size - 1 - len;
                memcpy(out + len, chunk, k);
                len += k;
        }
        out[len] = '\0';
        close(fd[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void test_base_configurations_pass(void **state)
{
        static char out[OUT_MAX];

        for (size_t i = 0; i < N_SERVICES; i++) {
                int rc = run_check(services[i].bin, services[i].base, NULL, NULL, out, sizeof(out));
                if (rc != 0)
                        fail_msg("%s --check (base %zu) exited %d:\n%s", services[i].bin, i, rc,
                                 out);
                if (!strstr(out, "configuration ok"))
                        fail_msg("%s --check printed no verdict:\n%s", services[i].bin, out);
        }
}

static void test_bad_values_fail_naming_the_key(void **state)
{
        static char out[OUT_MAX];

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const struct service *s = &services[bad[i].svc];
                int rc = run_check(s->bin, s->base, bad[i].arg, bad[i].val, out, sizeof(out));
                if (rc == 0)
                        fail_msg("%s --check %s %s passed:\n%s", s->bin, bad[i].arg, bad[i].val,
                                 out);
                if (!strstr(out, bad[i].says))
                        fail_msg("%s --check %s %s: no \"%s\" in:\n%s", s->bin, bad[i].arg,
                                 bad[i].val, bad[i].says, out);
                if (strstr(out, "configuration ok"))
                        fail_msg("%s --check %s %s exited %d but said ok", s->bin, bad[i].arg,
                                 bad[i].val, rc);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_base_configurations_pass),
            cmocka_unit_test(test_bad_values_fail_naming_the_key),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
