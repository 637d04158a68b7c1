/* proto/transfer.proto glue: round trips, canonical digest, rejection of
 * garbage, truncation, tampering and oversize input. */
#define _GNU_SOURCE /* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "oshirase/sha256.h"
#include "oshirase/transfer.h"

static char err[512];

static const osh_transfer_header_t HDRS[] = {
    {"osh.batch.id", "B-2024-0001", 11},
    {"null-header", NULL, 0},
    {"empty-header", "", 0},
};

static const osh_transfer_record_t RECS[] = {
    {"resident.abstracted.v1", 3, 1234, 1700000000123, "U-000001", 8, "\xc3\x01\x00value", 8, HDRS,
     3},
    {"resident.abstracted.v1", 0, 0, -1, NULL, 0, NULL, 0, NULL, 0}, /* null key, tombstone */
    {"batch.control.v1", 0, 7, 42, "", 0, "", 0, NULL, 0},           /* empty, not null */
};
#define NRECS (sizeof(RECS) / sizeof(RECS[0]))

static osh_transfer_builder_t *make_builder(size_t n)
{
        osh_transfer_builder_t *b =
            osh_transfer_builder_new("exchange", "relay-up-1", "cloud", 77, 1700000001000);
        size_t i;

        assert_non_null(b);
        for (i = 0; i < n; i++)
                assert_int_equal(osh_transfer_builder_add(b, &RECS[i], err, sizeof(err)), 0);
        return b;
}

static void pack_batch(osh_transfer_builder_t *b, uint8_t **buf, size_t *len)
{
        assert_int_equal(osh_transfer_builder_pack(b, buf, len, err, sizeof(err)), 0);
        assert_non_null(*buf);
}

static void assert_opt(int present, const ProtobufCBinaryData *d, const void *want, size_t want_len)
{
        if (!want) {
                assert_false(present);
                return;
        }
        assert_true(present);
        assert_int_equal(d->len, want_len);
        if (want_len)
                assert_memory_equal(d->data, want, want_len);
}

static void assert_record(const Osh__Record *r, const osh_transfer_record_t *w)
{
        size_t i;

        assert_string_equal(r->topic, w->topic);
        assert_int_equal(r->partition, w->partition);
        assert_int_equal(r->offset, w->offset);
        assert_int_equal(r->timestamp_ms, w->timestamp_ms);
        assert_opt(r->key_opt_case == OSH__RECORD__KEY_OPT_KEY, &r->key, w->key, w->key_len);
        assert_opt(r->value_opt_case == OSH__RECORD__VALUE_OPT_VALUE, &r->value, w->value,
                   w->value_len);
        assert_int_equal(r->n_headers, w->header_cnt);
        for (i = 0; i < w->header_cnt; i++) {
                assert_string_equal(r->headers[i]->key, w->headers[i].key);
                assert_opt(r->headers[i]->value_opt_case == OSH__HEADER__VALUE_OPT_VALUE,
                           &r->headers[i]->value, w->headers[i].value, w->headers[i].value_len);
        }
}

static void test_round_trip(void **state)
{
        osh_transfer_builder_t *b = make_builder(NRECS);
        Osh__TransferBatch *t;
        uint8_t *buf = NULL;
        size_t len = 0, i;

        assert_int_equal(osh_transfer_builder_count(b), NRECS);
        assert_true(osh_transfer_builder_payload_bytes(b) >= 8 + 8 + 11 + 3 * 16);
        pack_batch(b, &buf, &len);
        t = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
        assert_non_null(t);
        assert_string_equal(t->source_segment, "exchange");
        assert_string_equal(t->source_instance, "relay-up-1");
        assert_string_equal(t->target, "cloud");
        assert_int_equal(t->sequence, 77);
        assert_int_equal(t->created_ms, 1700000001000);
        assert_int_equal(t->n_records, NRECS);
        for (i = 0; i < NRECS; i++)
                assert_record(t->records[i], &RECS[i]);
        osh_transfer_batch_free(t);
        osh_transfer_batch_free(NULL);
        free(buf);
        osh_transfer_builder_destroy(b);
}

static void test_empty_batch_and_reset(void **state)
{
        osh_transfer_builder_t *b = make_builder(2);
        Osh__TransferBatch *t;
        uint8_t *buf = NULL;
        size_t len = 0;

        osh_transfer_builder_reset(b, 78, 5);
        assert_int_equal(osh_transfer_builder_count(b), 0);
        assert_int_equal(osh_transfer_builder_payload_bytes(b), 0);
        pack_batch(b, &buf, &len);
        t = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
        assert_non_null(t);
        assert_int_equal(t->n_records, 0);
        assert_int_equal(t->sequence, 78);
        assert_string_equal(t->source_instance, "relay-up-1");
        osh_transfer_batch_free(t);
        free(buf);
        /* Reuse after reset still round-trips records. */
        assert_int_equal(osh_transfer_builder_add(b, &RECS[0], err, sizeof(err)), 0);
        pack_batch(b, &buf, &len);
        t = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
        assert_non_null(t);
        assert_record(t->records[0], &RECS[0]);
        osh_transfer_batch_free(t);
        free(buf);
        osh_transfer_builder_destroy(b);
        osh_transfer_builder_destroy(NULL);
}

/* Builds the spec'd digest input by hand: catches drift between header
 * comment and code. */
static void put_u64(uint8_t **p, uint64_t v)
{
        int i;

        for (i = 7; i >= 0; i--)
                *(*p)++ = (uint8_t)(v >> (8 * i));
}

static void put_str(uint8_t **p, const char *s, size_t len)
{
        put_u64(p, len);
        memcpy(*p, s, len);
        *p += len;
}

static void test_digest_matches_spec(void **state)
{
        osh_transfer_header_t h = {"h", NULL, 0};
        osh_transfer_record_t r = {"t", 2, 9, -2, NULL, 0, "v", 1, &h, 1};
        osh_transfer_builder_t *b = osh_transfer_builder_new("ex", NULL, "cl", 5, 6);
        uint8_t input[256], *p = input, want[32], got[32];
        uint8_t *buf = NULL;
        size_t len;
        Osh__TransferBatch *t;

        assert_non_null(b);
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), 0);
        memcpy(p, "osh.transfer.v1", 16); /* with NUL */
        p += 16;
        put_str(&p, "ex", 2);
        put_str(&p, "", 0);
        put_str(&p, "cl", 2);
        put_u64(&p, 5);
        put_u64(&p, 6);
        put_u64(&p, 1);
        put_str(&p, "t", 1);
        memcpy(p, "\x00\x00\x00\x02", 4);
        p += 4;
        put_u64(&p, 9);
        put_u64(&p, (uint64_t)-2);
        *p++ = 0; /* null key */
        *p++ = 1;
        put_str(&p, "v", 1);
        put_u64(&p, 1);
        put_str(&p, "h", 1);
        *p++ = 0; /* null header value */
        assert_int_equal(osh_sha256(input, (size_t)(p - input), want), 0);

        pack_batch(b, &buf, &len);
        t = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
        assert_non_null(t);
        assert_int_equal(t->payload_sha256.len, 32);
        assert_memory_equal(t->payload_sha256.data, want, 32);
        assert_int_equal(osh_transfer_digest(t, got), 0);
        assert_memory_equal(got, want, 32);
        osh_transfer_batch_free(t);
        free(buf);
        osh_transfer_builder_destroy(b);
}

static void test_null_and_empty_digest_differ(void **state)
{
        osh_transfer_record_t r = RECS[2]; /* empty key */
        osh_transfer_builder_t *a = osh_transfer_builder_new("ex", "i", "cl", 1, 1);
        osh_transfer_builder_t *b = osh_transfer_builder_new("ex", "i", "cl", 1, 1);
        uint8_t *ba, *bb;
        size_t la, lb;
        Osh__TransferBatch *ta, *tb;

        assert_int_equal(osh_transfer_builder_add(a, &r, err, sizeof(err)), 0);
        r.key = NULL;
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), 0);
        pack_batch(a, &ba, &la);
        pack_batch(b, &bb, &lb);
        ta = osh_transfer_unpack(ba, la, NULL, err, sizeof(err));
        tb = osh_transfer_unpack(bb, lb, NULL, err, sizeof(err));
        assert_non_null(ta);
        assert_non_null(tb);
        assert_memory_not_equal(ta->payload_sha256.data, tb->payload_sha256.data, 32);
        osh_transfer_batch_free(ta);
        osh_transfer_batch_free(tb);
        free(ba);
        free(bb);
        osh_transfer_builder_destroy(a);
        osh_transfer_builder_destroy(b);
}

static void test_tampered_value_is_rejected(void **state)
{
        osh_transfer_builder_t *b = make_builder(NRECS);
        uint8_t *buf, *hit;
        size_t len;

        pack_batch(b, &buf, &len);
        hit = memmem(buf, len, "U-000001", 8);
        assert_non_null(hit);
        hit[7] = '2'; /* still well-formed protobuf, different key */
        assert_null(osh_transfer_unpack(buf, len, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "mismatch"));
        free(buf);
        osh_transfer_builder_destroy(b);
}

static void test_repacked_metadata_change_is_rejected(void **state)
{
        osh_transfer_builder_t *b = make_builder(1);
        Osh__TransferBatch *raw;
        uint8_t *buf, *buf2;
        size_t len, len2;

        pack_batch(b, &buf, &len);
        raw = osh__transfer_batch__unpack(NULL, len, buf);
        assert_non_null(raw);
        raw->sequence++; /* replaying content under another sequence */
        assert_int_equal(osh_transfer_pack_message(&raw->base, &buf2, &len2, err, sizeof(err)), 0);
        assert_null(osh_transfer_unpack(buf2, len2, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, "mismatch"));
        osh__transfer_batch__free_unpacked(raw, NULL);
        free(buf);
        free(buf2);
        osh_transfer_builder_destroy(b);
}

static void test_truncated_prefixes_rejected(void **state)
{
        osh_transfer_builder_t *b = make_builder(NRECS);
        uint8_t *buf, *copy;
        size_t len, n;

        pack_batch(b, &buf, &len);
        for (n = 0; n < len; n++) {
                /* Exact-size copy so ASan sees any read past the prefix. */
                copy = malloc(n ? n : 1);
                memcpy(copy, buf, n);
                err[0] = '\0';
                assert_null(osh_transfer_unpack(copy, n, NULL, err, sizeof(err)));
                assert_true(strlen(err) > 0);
                free(copy);
        }
        free(buf);
        osh_transfer_builder_destroy(b);
}

static void test_garbage_rejected(void **state)
{
        static const uint8_t junk[][8] = {
            {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
            {0x2a, 0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* records len 127 > input */
            {0x0a, 0x02, 'e', 'x', 0x1a, 0x02, 'c', 'l'},     /* valid pb, no sha */
        };
        uint8_t rnd[4096];
        size_t i;

        for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
                err[0] = '\0';
                assert_null(osh_transfer_unpack(junk[i], sizeof(junk[i]), NULL, err, sizeof(err)));
                assert_true(strlen(err) > 0);
        }
        assert_non_null(strstr(err, "payload_sha256 is 0 bytes"));
        srand(12345);
        for (i = 0; i < sizeof(rnd); i++)
                rnd[i] = (uint8_t)rand();
        assert_null(osh_transfer_unpack(rnd, sizeof(rnd), NULL, err, sizeof(err)));
        assert_null(osh_transfer_unpack(rnd, 0, NULL, err, sizeof(err)));
}

static void test_limits(void **state)
{
        osh_transfer_builder_t *b = make_builder(NRECS);
        osh_transfer_limits_t small_bytes = {.max_bytes = 16};
        osh_transfer_limits_t few = {.max_records = NRECS - 1};
        osh_transfer_limits_t exact = {.max_bytes = 0, .max_records = NRECS};
        Osh__TransferBatch *t;
        uint8_t *buf;
        size_t len;

        pack_batch(b, &buf, &len);
        assert_null(osh_transfer_unpack(buf, len, &small_bytes, err, sizeof(err)));
        assert_non_null(strstr(err, "exceeds limit"));
        assert_null(osh_transfer_unpack(buf, len, &few, err, sizeof(err)));
        assert_non_null(strstr(err, "limit 2"));
        small_bytes.max_bytes = len;
        t = osh_transfer_unpack(buf, len, &small_bytes, err, sizeof(err));
        assert_non_null(t);
        osh_transfer_batch_free(t);
        t = osh_transfer_unpack(buf, len, &exact, err, sizeof(err));
        assert_non_null(t);
        osh_transfer_batch_free(t);
        free(buf);
        osh_transfer_builder_destroy(b);
}

static void test_builder_rejects_bad_records(void **state)
{
        osh_transfer_builder_t *b = make_builder(0);
        osh_transfer_record_t r = RECS[1];
        char long_topic[251];

        r.topic = "bad topic";
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "topic"));
        r.topic = "..";
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), -1);
        memset(long_topic, 'a', 250);
        long_topic[250] = '\0';
        r.topic = long_topic;
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), -1);
        long_topic[249] = '\0';
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), 0);
        r.topic = "ok.topic";
        r.offset = -1;
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), -1);
        r.offset = 0;
        r.partition = -1;
        assert_int_equal(osh_transfer_builder_add(b, &r, err, sizeof(err)), -1);
        assert_int_equal(osh_transfer_builder_count(b), 1);
        assert_null(osh_transfer_builder_new("", "i", "cloud", 1, 1));
        assert_null(osh_transfer_builder_new("ex", "i", NULL, 1, 1));
        osh_transfer_builder_destroy(b);
}

static void test_ack_round_trip_and_validation(void **state)
{
        Osh__Ack ack = OSH__ACK__INIT, *got;
        Osh__CommittedOffset c0 = OSH__COMMITTED_OFFSET__INIT, c1 = OSH__COMMITTED_OFFSET__INIT;
        Osh__CommittedOffset *cs[] = {&c0, &c1};
        uint8_t *buf;
        size_t len;

        c0.topic = "resident.abstracted.v1";
        c0.partition = 1;
        c0.through_offset = 99;
        c1.topic = "ops.status.v1";
        c1.through_offset = 0;
        ack.sequence = 77;
        ack.status = OSH__ACK_STATUS__ACK_STATUS_DUPLICATE;
        ack.n_committed = 2;
        ack.committed = cs;
        assert_int_equal(osh_transfer_pack_message(&ack.base, &buf, &len, err, sizeof(err)), 0);
        got = osh_transfer_ack_unpack(buf, len, err, sizeof(err));
        assert_non_null(got);
        assert_int_equal(got->sequence, 77);
        assert_string_equal(osh_transfer_ack_status_name(got->status), "DUPLICATE");
        assert_int_equal(got->n_committed, 2);
        assert_string_equal(got->committed[0]->topic, "resident.abstracted.v1");
        assert_int_equal(got->committed[0]->partition, 1);
        assert_int_equal(got->committed[0]->through_offset, 99);
        assert_string_equal(got->committed[1]->topic, "ops.status.v1");
        osh__ack__free_unpacked(got, NULL);
        free(buf);

        ack.status = OSH__ACK_STATUS__ACK_STATUS_UNSPECIFIED;
        assert_int_equal(osh_transfer_pack_message(&ack.base, &buf, &len, err, sizeof(err)), 0);
        assert_null(osh_transfer_ack_unpack(buf, len, err, sizeof(err)));
        assert_non_null(strstr(err, "status"));
        free(buf);
        ack.status = OSH__ACK_STATUS__ACK_STATUS_OK;
        c1.through_offset = -5;
        assert_int_equal(osh_transfer_pack_message(&ack.base, &buf, &len, err, sizeof(err)), 0);
        assert_null(osh_transfer_ack_unpack(buf, len, err, sizeof(err)));
        assert_non_null(strstr(err, "entry 1"));
        free(buf);
        assert_string_equal(osh_transfer_ack_status_name(99), "UNKNOWN");
}

static void test_probe_round_trip(void **state)
{
        Osh__ProbeRequest req = OSH__PROBE_REQUEST__INIT, *greq;
        Osh__ProbeResponse resp = OSH__PROBE_RESPONSE__INIT, *gresp;
        Osh__ServiceHeartbeat hb = OSH__SERVICE_HEARTBEAT__INIT, *hbs[] = {&hb};
        Osh__SnapshotStatus snap = OSH__SNAPSHOT_STATUS__INIT;
        Osh__SendErrorCount se = OSH__SEND_ERROR_COUNT__INIT, *ses[] = {&se};
        Osh__IngestCounters ic = OSH__INGEST_COUNTERS__INIT;
        uint8_t *buf;
        size_t len;

        req.sent_ms = 10;
        req.source = "exchange/monitor-1";
        assert_int_equal(osh_transfer_pack_message(&req.base, &buf, &len, err, sizeof(err)), 0);
        assert_null(osh_transfer_probe_request_unpack(buf, len, err, sizeof(err)));
        assert_non_null(strstr(err, "probe_id"));
        free(buf);
        req.probe_id = "p-1";
        assert_int_equal(osh_transfer_pack_message(&req.base, &buf, &len, err, sizeof(err)), 0);
        greq = osh_transfer_probe_request_unpack(buf, len, err, sizeof(err));
        assert_non_null(greq);
        assert_string_equal(greq->probe_id, "p-1");
        assert_int_equal(greq->sent_ms, 10);
        assert_string_equal(greq->source, "exchange/monitor-1");
        osh__probe_request__free_unpacked(greq, NULL);
        free(buf);

        hb.service = "segmenter";
        hb.instance = "seg-1";
        hb.state = "RUNNING";
        hb.last_seen_ms = 1000;
        snap.batch_id = "B-1";
        snap.extract_ms = 500;
        snap.age_ms = 700;
        snap.record_count = 12345;
        se.channel = "line";
        se.failed_temp = 3;
        se.failed_perm = 1;
        ic.records_published = 42;
        resp.probe_id = "p-1";
        resp.received_ms = 1200;
        resp.n_services = 1;
        resp.services = hbs;
        resp.snapshot = &snap;
        resp.n_send_errors = 1;
        resp.send_errors = ses;
        resp.ingest = &ic;
        assert_int_equal(osh_transfer_pack_message(&resp.base, &buf, &len, err, sizeof(err)), 0);
        gresp = osh_transfer_probe_response_unpack(buf, len, err, sizeof(err));
        assert_non_null(gresp);
        assert_int_equal(gresp->n_services, 1);
        assert_string_equal(gresp->services[0]->state, "RUNNING");
        assert_int_equal(gresp->services[0]->last_seen_ms, 1000);
        assert_non_null(gresp->snapshot);
        assert_string_equal(gresp->snapshot->batch_id, "B-1");
        assert_int_equal(gresp->snapshot->age_ms, 700);
        assert_int_equal(gresp->snapshot->record_count, 12345);
        assert_int_equal(gresp->send_errors[0]->failed_temp, 3);
        assert_int_equal(gresp->ingest->records_published, 42);
        osh__probe_response__free_unpacked(gresp, NULL);
        assert_null(osh_transfer_probe_response_unpack(buf, len - 1, err, sizeof(err)));
        free(buf);
}

/* Delivery reports are real librdkafka messages (topic, offset, headers,
 * timestamp), produced to an in-process mock cluster. */
static int64_t dr_ts[2];
static size_t dr_cnt;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        osh_transfer_builder_t *b = opaque;

        assert_int_equal(m->err, 0);
        /* The mock answers with its own LogAppendTime, so compare with what
         * librdkafka reports rather than with the produce timestamp. */
        if (dr_cnt < 2)
                dr_ts[dr_cnt++] = rd_kafka_message_timestamp(m, NULL);
        assert_int_equal(osh_transfer_builder_add_message(b, m, err, sizeof(err)), 0);
}

static void test_add_librdkafka_message(void **state)
{
        osh_transfer_builder_t *b = make_builder(0);
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char cerr[256];
        rd_kafka_t *rk;
        Osh__TransferBatch *t;
        uint8_t *buf;
        size_t len;

        assert_int_equal(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", cerr, sizeof(cerr)),
                         RD_KAFKA_CONF_OK);
        rd_kafka_conf_set(conf, "log_level", "3", cerr, sizeof(cerr));
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_conf_set_opaque(conf, b);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, cerr, sizeof(cerr));
        assert_non_null(rk);
        assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("ops.status.v1"),
                                           RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_KEY("k1", 2),
                                           RD_KAFKA_V_VALUE("v1", 2),
                                           RD_KAFKA_V_HEADER("h1", "x", 1),
                                           RD_KAFKA_V_TIMESTAMP(1700000000555), RD_KAFKA_V_END),
                         0);
        assert_int_equal(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("ops.status.v1"),
                                           RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_END),
                         0);
        assert_int_equal(rd_kafka_flush(rk, 10000), 0);
        rd_kafka_destroy(rk);

        assert_int_equal(osh_transfer_builder_count(b), 2);
        pack_batch(b, &buf, &len);
        t = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
        assert_non_null(t);
        assert_string_equal(t->records[0]->topic, "ops.status.v1");
        assert_int_equal(t->records[0]->offset, 0);
        assert_int_equal(t->records[1]->offset, 1);
        assert_int_equal(dr_cnt, 2);
        assert_int_equal(t->records[0]->timestamp_ms, dr_ts[0]);
        assert_int_equal(t->records[1]->timestamp_ms, dr_ts[1]);
        assert_int_equal(t->records[0]->key.len, 2);
        assert_memory_equal(t->records[0]->key.data, "k1", 2);
        assert_int_equal(t->records[0]->n_headers, 1);
        assert_string_equal(t->records[0]->headers[0]->key, "h1");
        assert_int_equal(t->records[1]->key_opt_case, OSH__RECORD__KEY_OPT__NOT_SET);
        assert_int_equal(t->records[1]->value_opt_case, OSH__RECORD__VALUE_OPT__NOT_SET);
        osh_transfer_batch_free(t);
        free(buf);
        osh_transfer_builder_destroy(b);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_empty_batch_and_reset),
            cmocka_unit_test(test_digest_matches_spec),
            cmocka_unit_test(test_null_and_empty_digest_differ),
            cmocka_unit_test(test_tampered_value_is_rejected),
            cmocka_unit_test(test_repacked_metadata_change_is_rejected),
            cmocka_unit_test(test_truncated_prefixes_rejected),
            cmocka_unit_test(test_garbage_rejected),
            cmocka_unit_test(test_limits),
            cmocka_unit_test(test_builder_rejects_bad_records),
            cmocka_unit_test(test_ack_round_trip_and_validation),
            cmocka_unit_test(test_probe_round_trip),
            cmocka_unit_test(test_add_librdkafka_message),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
