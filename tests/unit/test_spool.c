/* Disk spool: FIFO order, persistence across reopen, monotonic sequence
 * after draining, the size bound, and recovery from torn or corrupt files. */
#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "oshirase/spool.h"

static char err[512];

static int setup(void **state)
{
        char tmpl[] = "/tmp/test_spool.XXXXXX";
        char *dir = mkdtemp(tmpl);

        if (!dir)
                return -1;
        *state = strdup(dir);
        return 0;
}

static int teardown(void **state)
{
        char cmd[256];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", (char *)*state);
        free(*state);
        return system(cmd) == 0 ? 0 : -1;
}

static void sub(char *out, size_t n, const char *dir, const char *name)
{
        snprintf(out, n, "%s/%s", dir, name);
}

static void append_str(osh_spool_t *sp, const char *s)
{
        uint64_t seq = osh_spool_next_seq(sp);
        assert_int_equal(osh_spool_append(sp, seq, s, strlen(s), err, sizeof(err)), 0);
}

/* Peeks the head, checks its text, pops it; returns its sequence. */
static uint64_t expect_pop(osh_spool_t *sp, const char *want)
{
        uint64_t seq = 0;
        uint8_t *data = NULL;
        size_t len = 0;

        assert_int_equal(osh_spool_peek(sp, &seq, &data, &len, err, sizeof(err)), 0);
        assert_int_equal(len, strlen(want));
        assert_memory_equal(data, want, len);
        free(data);
        assert_int_equal(osh_spool_pop(sp, seq, err, sizeof(err)), 0);
        return seq;
}

static void test_fifo_and_reopen(void **state)
{
        const char *dir = *state;
        osh_spool_t *sp = osh_spool_open(dir, 0, 1, err, sizeof(err));
        osh_spool_stats_t st;
        uint64_t s1, s2;

        assert_non_null(sp);
        assert_int_equal(osh_spool_next_seq(sp), 1);
        append_str(sp, "one");
        append_str(sp, "two");
        append_str(sp, "three");
        osh_spool_stats(sp, &st);
        assert_int_equal(st.count, 3);
        assert_int_equal(st.first_seq, 1);
        /* Only the head may be popped. */
        assert_int_equal(osh_spool_pop(sp, 2, err, sizeof(err)), -1);
        s1 = expect_pop(sp, "one");
        osh_spool_close(sp);

        sp = osh_spool_open(dir, 0, 1, err, sizeof(err));
        assert_non_null(sp);
        osh_spool_stats(sp, &st);
        assert_int_equal(st.count, 2);
        s2 = expect_pop(sp, "two");
        assert_true(s2 > s1);
        assert_true(expect_pop(sp, "three") > s2);
        assert_int_equal(osh_spool_peek(sp, &s1, NULL, NULL, err, sizeof(err)), 1);
        osh_spool_close(sp);

        /* Drained and reopened: numbering continues, never reuses 1..3. */
        sp = osh_spool_open(dir, 0, 0, err, sizeof(err));
        assert_non_null(sp);
        assert_int_equal(osh_spool_next_seq(sp), 4);
        assert_int_equal(osh_spool_append(sp, 2, "x", 1, err, sizeof(err)), -1);
        assert_int_equal(osh_spool_append(sp, 10, "gap", 3, err, sizeof(err)), 0);
        assert_int_equal(osh_spool_next_seq(sp), 11);
        /* Advancing is durable even with nothing queued; never goes back. */
        assert_int_equal(osh_spool_advance(sp, 5, err, sizeof(err)), 0);
        assert_int_equal(osh_spool_next_seq(sp), 11);
        expect_pop(sp, "gap");
        assert_int_equal(osh_spool_advance(sp, 1000, err, sizeof(err)), 0);
        osh_spool_close(sp);
        sp = osh_spool_open(dir, 0, 0, err, sizeof(err));
        assert_non_null(sp);
        assert_int_equal(osh_spool_next_seq(sp), 1000);
        osh_spool_close(sp);
}

static void test_bound(void **state)
{
        osh_spool_t *sp = osh_spool_open(*state, 200, 0, err, sizeof(err));
        char big[100];
        osh_spool_stats_t st;

        assert_non_null(sp);
        memset(big, 'b', sizeof(big));
        assert_false(osh_spool_would_overflow(sp, sizeof(big)));
        assert_int_equal(osh_spool_append(sp, 1, big, sizeof(big), err, sizeof(err)), 0);
        /* 156 bytes used: another 100 + header does not fit. */
        assert_true(osh_spool_would_overflow(sp, sizeof(big)));
        assert_int_equal(osh_spool_append(sp, 2, big, sizeof(big), err, sizeof(err)), -1);
        assert_non_null(strstr(err, "full"));
        osh_spool_stats(sp, &st);
        assert_int_equal(st.count, 1);
        assert_int_equal(st.bytes, 156);
        /* After a pop it fits again: back-pressure, not loss. */
        assert_int_equal(osh_spool_pop(sp, 1, err, sizeof(err)), 0);
        assert_int_equal(osh_spool_append(sp, 2, big, sizeof(big), err, sizeof(err)), 0);
        /* An empty spool takes one entry larger than the bound. */
        assert_int_equal(osh_spool_pop(sp, 2, err, sizeof(err)), 0);
        {
                static char huge[500];
                assert_false(osh_spool_would_overflow(sp, sizeof(huge)));
                assert_int_equal(osh_spool_append(sp, 3, huge, sizeof(huge), err, sizeof(err)), 0);
                assert_true(osh_spool_would_overflow(sp, 1));
        }
        osh_spool_close(sp);
}

static void flip_byte(const char *path, long at)
{
        FILE *fp = fopen(path, "r+b");
        int c;

        assert_non_null(fp);
        assert_int_equal(fseek(fp, at, SEEK_SET), 0);
        c = fgetc(fp);
        assert_int_equal(fseek(fp, at, SEEK_SET), 0);
        fputc(c ^ 0x55, fp);
        fclose(fp);
}

static void test_corruption_recovery(void **state)
{
        const char *dir = *state;
        osh_spool_t *sp = osh_spool_open(dir, 0, 0, err, sizeof(err));
        char path[512], qpath[512];
        osh_spool_stats_t st;
        FILE *fp;

        assert_non_null(sp);
        append_str(sp, "first");
        append_str(sp, "second");
        append_str(sp, "third");
        append_str(sp, "fourth");
        osh_spool_close(sp);

        /* A flipped payload byte in 2, a truncated 3, a crash leftover, junk. */
        sub(path, sizeof(path), dir, "00000000000000000002.spl");
        flip_byte(path, 60);
        sub(path, sizeof(path), dir, "00000000000000000003.spl");
        assert_int_equal(truncate(path, 20), 0);
        sub(path, sizeof(path), dir, "00000000000000000005.spl.tmp");
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("half-written", fp);
        fclose(fp);
        sub(path, sizeof(path), dir, "README");
        fp = fopen(path, "w");
        assert_non_null(fp);
        fclose(fp);

        sp = osh_spool_open(dir, 0, 0, err, sizeof(err));
        assert_non_null(sp);
        sub(path, sizeof(path), dir, "00000000000000000005.spl.tmp");
        assert_int_not_equal(access(path, F_OK), 0);
        expect_pop(sp, "first");
        expect_pop(sp, "fourth"); /* 2 and 3 quarantined, order kept */
        osh_spool_stats(sp, &st);
        assert_int_equal(st.corrupt, 2);
        assert_int_equal(st.count, 0);
        sub(qpath, sizeof(qpath), dir, "corrupt/00000000000000000002.spl");
        assert_int_equal(access(qpath, F_OK), 0);
        /* A new entry never takes a quarantined or torn sequence. */
        assert_true(osh_spool_next_seq(sp) >= 5);
        osh_spool_close(sp);
}

static int collect(uint64_t seq, const uint8_t *data, size_t len, void *opaque)
{
        char *acc = opaque;

        (void)seq;
        strncat(acc, (const char *)data, len);
        strcat(acc, ";");
        return 0;
}

static void test_reject_and_foreach(void **state)
{
        const char *dir = *state;
        osh_spool_t *sp = osh_spool_open(dir, 0, 0, err, sizeof(err));
        char acc[128] = "", path[512];
        osh_spool_stats_t st;
        uint64_t seq;
        uint8_t *data;
        size_t len;

        assert_non_null(sp);
        append_str(sp, "a");
        append_str(sp, "b");
        append_str(sp, "c");
        assert_int_equal(osh_spool_foreach(sp, collect, acc), 0);
        assert_string_equal(acc, "a;b;c;");
        assert_int_equal(osh_spool_peek(sp, &seq, &data, &len, err, sizeof(err)), 0);
        free(data);
        assert_int_equal(osh_spool_reject(sp, seq, err, sizeof(err)), 0);
        sub(path, sizeof(path), dir, "rejected/00000000000000000001.spl");
        assert_int_equal(access(path, F_OK), 0);
        osh_spool_stats(sp, &st);
        assert_int_equal(st.rejected, 1);
        assert_int_equal(st.count, 2);
        expect_pop(sp, "b");
        osh_spool_close(sp);
        assert_null(osh_spool_open("/proc/no/such/dir", 0, 0, err, sizeof(err)));
        osh_spool_close(NULL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_fifo_and_reopen, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
            cmocka_unit_test_setup_teardown(test_corruption_recovery, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reject_and_foreach, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
