/* relay-bridge logic without Kafka: the offset tracker (what may be stored
 * when records finish out of order), batching limits, and configuration
 * refusal (segment rule, mode/segment mismatch, uplink requirements). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/serde.h"
#include "relay.h"
#include "relay_batch.h"
#include "relay_track.h"

static char err[512];

/* ---- tracker ---- */

static void test_track_in_order(void **state)
{
        rb_track_t *t = rb_track_new();
        rb_tpart_t *p = rb_track_part(t, "a", 3);

        (void)state;
        assert_ptr_equal(p, rb_track_part(t, "a", 3));
        assert_ptr_not_equal(p, rb_track_part(t, "a", 4));
        assert_ptr_not_equal(p, rb_track_part(t, "b", 3));
        for (int64_t o = 10; o < 15; o++)
                assert_int_equal(rb_track_add(p, o), -1);
        assert_int_equal(rb_tpart_pending(p), 5);
        assert_int_equal(rb_track_done(p, 10), 11);
        assert_int_equal(rb_track_done(p, 11), 12);
        /* Unknown offsets change nothing. */
        assert_int_equal(rb_track_done(p, 99), -1);
        rb_track_destroy(t);
}

static void test_track_out_of_order(void **state)
{
        rb_track_t *t = rb_track_new();
        rb_tpart_t *p = rb_track_part(t, "a", 0);

        (void)state;
        for (int64_t o = 0; o < 200; o++) /* past the initial ring size */
                rb_track_add(p, o);
        /* A refused record finishing early must not let the offset pass 0. */
        assert_int_equal(rb_track_done(p, 2), -1);
        assert_int_equal(rb_track_done(p, 1), -1);
        assert_int_equal(rb_track_done(p, 0), 3);
        for (int64_t o = 199; o >= 4; o--)
                assert_int_equal(rb_track_done(p, o), -1);
        assert_int_equal(rb_track_done(p, 3), 200);
        assert_int_equal(rb_tpart_pending(p), 0);
        rb_track_destroy(t);
}

static void test_track_through(void **state)
{
        rb_track_t *t = rb_track_new();
        rb_tpart_t *p = rb_track_part(t, "a", 0);

        (void)state;
        rb_track_add(p, 5);
        rb_track_add(p, 6);
        rb_track_add(p, 7);
        assert_int_equal(rb_track_done_through(p, 6), 7);
        assert_int_equal(rb_tpart_pending(p), 1);
        /* An Ack that arrived before the records were read again (restart
         * with a spool): they finish as soon as they are seen. */
        assert_int_equal(rb_track_done_through(p, 20), 21);
        assert_int_equal(rb_track_add(p, 8), -1);
        assert_int_equal(rb_tpart_pending(p), 0);
        assert_int_equal(rb_track_add(p, 21), -1);
        assert_int_equal(rb_track_done(p, 21), 22);
        /* Marks are the caller's. */
        assert_int_equal(rb_tpart_mark(p), -1);
        rb_tpart_set_mark(p, 42);
        assert_int_equal(rb_tpart_mark(p), 42);
        rb_track_destroy(t);
}

static void test_track_rewind(void **state)
{
        rb_track_t *t = rb_track_new();
        rb_tpart_t *p = rb_track_part(t, "a", 0);

        (void)state;
        rb_track_add(p, 100);
        assert_int_equal(rb_track_done(p, 100), 101);
        /* Replay from the start: storing 1 is legitimate again. */
        assert_int_equal(rb_track_add(p, 0), -1);
        assert_int_equal(rb_track_done(p, 0), 1);
        rb_track_destroy(t);
        rb_track_destroy(NULL);
}

/* ---- batching ---- */

static osh_transfer_record_t rec(int32_t part, int64_t off, size_t vlen)
{
        static char val[4096];
        osh_transfer_record_t r = {
            "resident.abstracted.v1", part, off, 1, "k", 1, val, vlen, NULL, 0};

        memset(val, 'v', sizeof(val));
        return r;
}

static void test_batch_limits(void **state)
{
        rb_batch_t *b = rb_batch_new("exchange", "cloud", "relay-1", 3, 1000);
        osh_transfer_record_t r;
        size_t one;

        (void)state;
        assert_non_null(b);
        rb_batch_start(b, 7, 1234);
        assert_int_equal(rb_batch_seq(b), 7);
        assert_int_equal(rb_batch_started(b), 1234);
        r = rec(0, 1, 100);
        assert_int_equal(rb_batch_add_record(b, &r, err, sizeof(err)), 0);
        one = rb_batch_bytes(b);
        assert_true(one >= 100);
        assert_false(rb_batch_full(b));
        r = rec(1, 2, 100);
        assert_int_equal(rb_batch_add_record(b, &r, err, sizeof(err)), 0);
        r = rec(1, 3, 100);
        assert_int_equal(rb_batch_add_record(b, &r, err, sizeof(err)), 0);
        assert_true(rb_batch_full(b)); /* 3 records */
        rb_batch_clear(b);
        assert_int_equal(rb_batch_count(b), 0);

        /* Bytes: an oversize record goes alone, never refused. */
        assert_false(rb_batch_would_exceed_bytes(b, 5000));
        r = rec(0, 4, 900);
        assert_int_equal(rb_batch_add_record(b, &r, err, sizeof(err)), 0);
        assert_false(rb_batch_full(b));
        assert_true(rb_batch_would_exceed_bytes(b, 200));
        assert_false(rb_batch_would_exceed_bytes(b, 10));
        r = rec(0, 5, 2000);
        assert_int_equal(rb_batch_add_record(b, &r, err, sizeof(err)), 0);
        assert_true(rb_batch_full(b));
        rb_batch_destroy(b);
        rb_batch_destroy(NULL);
}

static void test_batch_pack_and_extents(void **state)
{
        rb_batch_t *b = rb_batch_new("exchange", "cloud", "relay-1", 100, 1 << 20);
        const int32_t parts[] = {0, 2, 0, 2, 5};
        const int64_t offs[] = {10, 3, 11, 9, 0};
        rb_batch_extent_t ext[2];
        Osh__TransferBatch *tb;
        uint8_t *buf;
        size_t len, n;

        (void)state;
        rb_batch_start(b, 42, 1000);
        for (size_t i = 0; i < 5; i++) {
                osh_transfer_record_t r = rec(parts[i], offs[i], 10);
                assert_int_equal(rb_batch_add_record(b, &r, err, sizeof(err)), 0);
        }
        assert_int_equal(rb_batch_pack(b, &buf, &len, err, sizeof(err)), 0);
        tb = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
        assert_non_null(tb);
        assert_int_equal(tb->sequence, 42);
        assert_string_equal(tb->source_segment, "exchange");
        assert_string_equal(tb->source_instance, "relay-1");
        assert_int_equal(tb->n_records, 5);
        n = rb_batch_extents(tb, ext, 2); /* capped: partition 5 left out */
        assert_int_equal(n, 2);
        assert_int_equal(ext[0].partition, 0);
        assert_int_equal(ext[0].max_offset, 11);
        assert_int_equal(ext[1].partition, 2);
        assert_int_equal(ext[1].max_offset, 9);
        osh_transfer_batch_free(tb);
        free(buf);
        rb_batch_destroy(b);
}

/* ---- configuration ---- */

static int load(const char *text, rb_config_t *rc)
{
        osh_config_t *cfg = osh_config_new("relay-bridge", rb_config_table, rb_config_table_len);
        char *argv[] = {"relay-bridge", NULL};
        char *env[] = {NULL};
        int rc_load;

        assert_non_null(cfg);
        memset(rc, 0, sizeof(*rc));
        /* The table's declared checks refuse some values already here. */
        if (osh_config_load_text(cfg, "test.conf", text, strlen(text), err, sizeof(err)) ||
            osh_config_load(cfg, 1, argv, env, err, sizeof(err)) != OSH_CONFIG_RUN) {
                osh_config_destroy(cfg);
                return -1;
        }
        err[0] = '\0';
        rc_load = rb_config_load(rc, cfg, err, sizeof(err));
        rb_config_fini(rc);
        osh_config_destroy(cfg);
        return rc_load;
}

#define K2K "mode=kafka\nsource.segment=processing\ntarget.segment=exchange\n"
#define UP                                                                                         \
        "mode=uplink\nsource.segment=exchange\ntarget.segment=cloud\nallow=resident.abstracted."   \
        "v1\n"

static void expect_refused(const char *text, const char *why)
{
        rb_config_t rc;

        assert_int_equal(load(text, &rc), -1);
        if (!strstr(err, why))
                fail_msg("expected '%s' in '%s'", why, err);
}

static void test_config(void **state)
{
        rb_config_t rc;

        (void)state;
        assert_int_equal(load(K2K "allow=resident.abstracted.v1,batch.control.v1\n", &rc), 0);
        assert_int_equal(load("mode=kafka\nsource.segment=core\ntarget.segment=processing\n"
                              "allow=resident.raw.v1\n",
                              &rc),
                         0);
        assert_int_equal(load(UP "uplink.url=https://x\nspool.dir=/tmp/s\nuplink.key.id=k\n"
                                 "uplink.secret=s\n",
                              &rc),
                         0);
        expect_refused(K2K "allow=resident.raw.v1\n", "personal data");
        expect_refused(K2K "allow=batch.control.v1,resident.rejects.v1\n", "personal data");
        expect_refused("mode=kafka\nsource.segment=core\ntarget.segment=exchange\n"
                       "allow=batch.control.v1\n",
                       "not a crossing");
        expect_refused(K2K, "allow");
        expect_refused("mode=kafka\nsource.segment=exchange\ntarget.segment=cloud\n"
                       "allow=batch.control.v1\n",
                       "uplink");
        expect_refused("mode=ftp\nsource.segment=core\ntarget.segment=processing\n", "mode");
        expect_refused(UP "uplink.url=ingest:8443\nspool.dir=/tmp/s\n", "uplink.url");
        expect_refused(K2K "allow=batch.control.v1\ndead.letter.topic=batch.control.v1\n",
                       "dead.letter");
        expect_refused(UP "spool.dir=/tmp/s\nuplink.key.id=k\nuplink.secret=s\n", "uplink.url");
        expect_refused(UP "uplink.url=https://x\nspool.dir=/tmp/s\n", "client certificate");
        expect_refused(UP "uplink.url=https://x\nspool.dir=/tmp/s\nuplink.key.id=k\n", "secret");
        expect_refused(UP "uplink.url=https://x\nspool.dir=/tmp/s\nuplink.cert=/dev/null\n"
                          "spool.max.bytes=1k\n",
                       "spool.max.bytes");
}

static int setup(void **state)
{
        (void)state;
        return osh_serde_init(err, sizeof(err));
}

static int teardown(void **state)
{
        (void)state;
        osh_serde_shutdown();
        return 0;
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_track_in_order), cmocka_unit_test(test_track_out_of_order),
            cmocka_unit_test(test_track_through),  cmocka_unit_test(test_track_rewind),
            cmocka_unit_test(test_batch_limits),   cmocka_unit_test(test_batch_pack_and_extents),
            cmocka_unit_test(test_config),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
