/* Registry, single-object round trips of every schema, helpers, and
 * hostile input to decode. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oshirase/serde.h"

static const char *const topics[] = {
    "resident.raw.v1",   "resident.rejects.v1",  "batch.control.v1",    "resident.abstracted.v1",
    "destinations.v1",   "campaign.requests.v1", "campaign.results.v1", "notify.dispatch.v1",
    "notify.status.v1",  "ops.status.v1",        "ops.health.v1",       "privacy.report.v1",
    "ingest.offsets.v1", "staff.audit.v1",
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))

static int setup(void **state)
{
        char err[256];

        if (osh_serde_init(err, sizeof(err)) != 0) {
                fprintf(stderr, "init: %s\n", err);
                return -1;
        }
        return 0;
}

static int teardown(void **state)
{
        osh_serde_shutdown();
        return 0;
}

/* Fills any value deterministically from seed, exercising every type:
 * unions take their last branch so nullable fields carry data. */
static void populate(avro_value_t *v, unsigned seed, int depth)
{
        avro_schema_t s = avro_value_get_schema(v);
        avro_value_t child;
        char buf[64];

        switch (avro_value_get_type(v)) {
        case AVRO_NULL:
                assert_int_equal(avro_value_set_null(v), 0);
                break;
        case AVRO_BOOLEAN:
                assert_int_equal(avro_value_set_boolean(v, (int)(seed & 1)), 0);
                break;
        case AVRO_INT32:
                assert_int_equal(avro_value_set_int(v, (int32_t)(seed * 7919u) - 40000), 0);
                break;
        case AVRO_INT64:
                assert_int_equal(avro_value_set_long(v, (int64_t)seed * 1000003LL * 1000003LL), 0);
                break;
        case AVRO_FLOAT:
                assert_int_equal(avro_value_set_float(v, (float)seed / 4), 0);
                break;
        case AVRO_DOUBLE:
                assert_int_equal(avro_value_set_double(v, seed * 1.5), 0);
                break;
        case AVRO_STRING:
                snprintf(buf, sizeof(buf), "s%u-\xe3\x81\x8a\xe7\x9f\xa5\xe3\x82\x89\xe3\x81\x9b",
                         seed);
                assert_int_equal(avro_value_set_string(v, buf), 0);
                break;
        case AVRO_BYTES:
                snprintf(buf, sizeof(buf), "b%u\x01\x02", seed);
                assert_int_equal(avro_value_set_bytes(v, buf, strlen(buf) + 1), 0);
                break;
        case AVRO_FIXED:
                memset(buf, (int)seed, sizeof(buf));
                assert_int_equal(avro_value_set_fixed(v, buf, (size_t)avro_schema_fixed_size(s)),
                                 0);
                break;
        case AVRO_ENUM:
                assert_int_equal(
                    avro_value_set_enum(
                        v, (int)(seed % (unsigned)avro_schema_enum_number_of_symbols(s))),
                    0);
                break;
        case AVRO_ARRAY:
                for (unsigned i = 0; i < 2; i++) {
                        assert_int_equal(avro_value_append(v, &child, NULL), 0);
                        populate(&child, seed + i + 1, depth + 1);
                }
                break;
        case AVRO_MAP:
                for (unsigned i = 0; i < 2; i++) {
                        snprintf(buf, sizeof(buf), "k%u", seed + i);
                        assert_int_equal(avro_value_add(v, buf, &child, NULL, NULL), 0);
                        populate(&child, seed + i + 1, depth + 1);
                }
                break;
        case AVRO_UNION:
                assert_int_equal(
                    avro_value_set_branch(v, (int)avro_schema_union_size(s) - 1, &child), 0);
                populate(&child, seed + 1, depth + 1);
                break;
        case AVRO_RECORD:
                for (size_t i = 0; i < avro_schema_record_size(s); i++) {
                        assert_int_equal(avro_value_get_by_index(v, i, &child, NULL), 0);
                        populate(&child, seed + (unsigned)i + 3, depth + 1);
                }
                break;
        default:
                fail_msg("unexpected type");
        }
}

static void test_registry(void **state)
{
        char err[256];
        size_t current = 0;

        /* Reference counted: a second init is harmless. */
        assert_int_equal(osh_serde_init(err, sizeof(err)), 0);
        osh_serde_shutdown();
        for (size_t i = 0; i < NTOPICS; i++) {
                const osh_schema_t *s = osh_schema_for_topic(topics[i]);
                if (!s)
                        fail_msg("no schema for %s", topics[i]);
                assert_true(s->current);
                assert_ptr_equal(osh_schema_get(s->name), s);
                assert_ptr_equal(osh_schema_by_fingerprint(s->fingerprint), s);
                assert_int_equal(strncmp(s->name, "jp.oshirase.", 12), 0);
        }
        for (size_t i = 0; i < osh_schema_count(); i++)
                current += osh_schema_at(i)->current;
        assert_int_equal(current, NTOPICS);
        assert_true(osh_schema_count() > NTOPICS); /* older revisions too */
        assert_null(osh_schema_at(osh_schema_count()));
        assert_null(osh_schema_get("jp.oshirase.Nope"));
        assert_null(osh_schema_for_topic("nope.v1"));
        assert_null(osh_schema_by_fingerprint(0));
        assert_non_null(osh_schema_get("jp.oshirase.ResidentAbstracted"));
}

static void test_roundtrip_every_schema(void **state)
{
        char err[256];

        for (size_t i = 0; i < osh_schema_count(); i++) {
                const osh_schema_t *s = osh_schema_at(i), *w = NULL;
                avro_value_t v, back;
                void *buf;
                size_t len;

                assert_int_equal(osh_value_new(s, &v), 0);
                populate(&v, (unsigned)i + 11, 0);
                if (osh_serde_encode_alloc(s, &v, &buf, &len, err, sizeof(err)) != 0)
                        fail_msg("%s: %s", s->file, err);
                assert_int_equal(((unsigned char *)buf)[0], 0xC3);
                assert_int_equal(((unsigned char *)buf)[1], 0x01);
                uint64_t fp = 0;
                assert_int_equal(osh_serde_peek_fingerprint(buf, len, &fp), 0);
                assert_true(fp == s->fingerprint);
                /* Decoding with the writer itself as reader is exact. */
                if (osh_serde_decode(s, buf, len, &back, &w, err, sizeof(err)) != 0)
                        fail_msg("%s: %s", s->file, err);
                assert_ptr_equal(w, s);
                assert_true(avro_value_equal(&v, &back));
                avro_value_decref(&back);
                /* Re-encoding is byte-identical (determinism). */
                unsigned char again[8192];
                size_t len2;
                assert_int_equal(
                    osh_serde_encode(s, &v, again, sizeof(again), &len2, err, sizeof(err)), 0);
                assert_int_equal(len2, len);
                assert_memory_equal(again, buf, len);
                free(buf);
                avro_value_decref(&v);
        }
}

/* A typical abstracted record built with the helpers. */
static void test_abstracted_helpers(void **state)
{
        const osh_schema_t *s = osh_schema_for_topic("resident.abstracted.v1");
        avro_value_t v, vals, item, back;
        unsigned char flags[17] = {0x21, 0, 0x80};
        unsigned char buf[256];
        size_t len;
        char err[256];
        const char *str;
        const void *p;
        size_t n;
        int32_t i32;
        int64_t i64;

        assert_int_equal(osh_value_new(s, &v), 0);
        assert_int_equal(osh_value_set_string(&v, "user_id", "U0001"), 0);
        assert_int_equal(osh_value_set_string(&v, "batch_id", "B20240401"), 0);
        assert_int_equal(osh_value_set_int(&v, "reference_date", 19814), 0);
        assert_int_equal(osh_value_set_int(&v, "layout_version", 1), 0);
        assert_int_equal(osh_value_set_bytes(&v, "flags", flags, sizeof(flags)), 0);
        assert_int_equal(osh_value_field(&v, "values", &vals), 0);
        for (int i = 0; i < 34; i++) {
                assert_int_equal(avro_value_append(&vals, &item, NULL), 0);
                assert_int_equal(avro_value_set_int(&item, i == 1 ? 198504 : i), 0);
        }
        /* Wrong type or unknown field fails instead of corrupting. */
        assert_int_equal(osh_value_set_long(&v, "reference_date", 1), -1);
        assert_int_equal(osh_value_set_int(&v, "nope", 1), -1);
        assert_int_equal(osh_value_set_null(&v, "user_id"), -1);

        assert_int_equal(osh_serde_encode(s, &v, buf, 10, &len, err, sizeof(err)), -1);
        assert_true(len > 10);
        assert_non_null(strstr(err, "need"));
        assert_int_equal(osh_serde_encode(s, &v, buf, sizeof(buf), &len, err, sizeof(err)), 0);
        assert_int_equal(osh_serde_decode(NULL, buf, len, &back, NULL, err, sizeof(err)), 0);
        assert_int_equal(osh_value_get_string(&back, "user_id", &str, &n), 0);
        assert_string_equal(str, "U0001");
        assert_int_equal(n, 5);
        assert_int_equal(osh_value_get_int(&back, "reference_date", &i32), 0);
        assert_int_equal(i32, 19814);
        assert_int_equal(osh_value_get_long(&back, "reference_date", &i64), 0); /* promotes */
        assert_int_equal(i64, 19814);
        assert_int_equal(osh_value_get_bytes(&back, "flags", &p, &n), 0);
        assert_int_equal(n, sizeof(flags));
        assert_memory_equal(p, flags, sizeof(flags));
        assert_int_equal(osh_value_get_string(&back, "flags", &str, &n), -1);
        assert_int_equal(osh_value_is_null(&back, "user_id"), 0);
        avro_value_decref(&back);
        avro_value_decref(&v);
}

static void test_nullable_and_enum_helpers(void **state)
{
        const osh_schema_t *s = osh_schema_for_topic("ops.status.v1");
        avro_value_t v;
        const char *str;
        int64_t lag;

        assert_int_equal(osh_value_new(s, &v), 0);
        assert_int_equal(osh_value_set_long(&v, "lag", 42), 0);
        assert_int_equal(osh_value_is_null(&v, "lag"), 0);
        assert_int_equal(osh_value_get_long(&v, "lag", &lag), 0);
        assert_int_equal(lag, 42);
        assert_int_equal(osh_value_set_null(&v, "lag"), 0);
        assert_int_equal(osh_value_is_null(&v, "lag"), 1);
        assert_int_equal(osh_value_get_long(&v, "lag", &lag), -1);
        assert_int_equal(osh_value_set_string(&v, "last_batch_id", "B1"), 0);
        assert_int_equal(osh_value_get_string(&v, "last_batch_id", &str, NULL), 0);
        assert_string_equal(str, "B1");
        assert_int_equal(osh_value_set_string(&v, "last_batch_id", NULL), 0);
        assert_int_equal(osh_value_is_null(&v, "last_batch_id"), 1);
        assert_int_equal(osh_value_set_enum(&v, "state", "DEGRADED"), 0);
        assert_int_equal(osh_value_get_enum(&v, "state", &str), 0);
        assert_string_equal(str, "DEGRADED");
        assert_int_equal(osh_value_set_enum(&v, "state", "SLEEPING"), -1);
        assert_int_equal(osh_value_set_bool(&v, "state", 1), -1);
        avro_value_decref(&v);
}

/* A realistic raw record; returns its encoding (caller frees). */
static void *encode_raw(size_t *len)
{
        const osh_schema_t *s = osh_schema_for_topic("resident.raw.v1");
        avro_value_t v, members, m, ext, e, app;
        void *buf;
        char err[256];

        assert_int_equal(osh_value_new(s, &v), 0);
        populate(&v, 5, 0);
        assert_int_equal(osh_value_set_string(&v, "name", "千葉 花子"), 0);
        assert_int_equal(osh_value_field(&v, "household_members", &members), 0);
        assert_int_equal(osh_value_append(s, &members, &m), 0);
        assert_int_equal(osh_value_is_null(&m, "birth_date"), 1); /* default */
        assert_int_equal(osh_value_set_enum(&m, "relationship", "CHILD"), 0);
        assert_int_equal(osh_value_set_int(&m, "birth_date", 19000), 0);
        assert_int_equal(osh_value_field(&v, "extensions", &ext), 0);
        assert_int_equal(osh_value_add(s, &ext, "ext_01", &e), 0);
        assert_int_equal(osh_value_add(s, &members, "x", &e), -1); /* not a map */
        assert_int_equal(avro_value_set_string(&e, "1"), 0);
        assert_int_equal(osh_value_field(&v, "applicant", &app), 0);
        assert_int_equal(osh_value_set_string(&app, "user_id", NULL), 0);
        assert_int_equal(osh_serde_encode_alloc(s, &v, &buf, len, err, sizeof(err)), 0);
        avro_value_decref(&v);
        return buf;
}

static int decode_fails(const void *buf, size_t len, const char *needle)
{
        avro_value_t v;
        char err[256] = "";
        const osh_schema_t *s = osh_schema_for_topic("resident.raw.v1");

        if (osh_serde_decode(s, buf, len, &v, NULL, err, sizeof(err)) == 0) {
                avro_value_decref(&v);
                return 0;
        }
        if (needle && !strstr(err, needle))
                fail_msg("error \"%s\" lacks \"%s\"", err, needle);
        assert_true(err[0] != '\0');
        return 1;
}

static void test_every_truncation_fails(void **state)
{
        size_t len;
        unsigned char *buf = encode_raw(&len);

        for (size_t n = 0; n < len; n++)
                if (!decode_fails(buf, n, NULL))
                        fail_msg("prefix of %zu/%zu bytes decoded", n, len);
        assert_int_equal(decode_fails(buf, len, NULL), 0);
        free(buf);
}

static void test_header_errors(void **state)
{
        size_t len;
        unsigned char *buf = encode_raw(&len);
        unsigned char *big = malloc(len + 1);

        memcpy(big, buf, len);
        big[len] = 0;
        assert_true(decode_fails(big, len + 1, "trailing"));
        buf[0] = 0xC2;
        assert_true(decode_fails(buf, len, "bad magic"));
        buf[0] = 0xC3;
        buf[1] = 0x02;
        assert_true(decode_fails(buf, len, "bad magic"));
        buf[1] = 0x01;
        buf[5] ^= 0x55;
        assert_true(decode_fails(buf, len, "unknown schema fingerprint"));
        buf[5] ^= 0x55;
        assert_true(decode_fails(buf, 3, "truncated header"));
        assert_true(decode_fails(NULL, 0, "truncated header"));
        free(big);
        free(buf);
}

static void test_wrong_reader(void **state)
{
        const osh_schema_t *ab = osh_schema_for_topic("resident.abstracted.v1");
        size_t len;
        unsigned char *buf = encode_raw(&len);
        avro_value_t v;
        char err[256];

        assert_int_equal(osh_serde_decode(ab, buf, len, &v, NULL, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "expected jp.oshirase.ResidentAbstracted"));
        /* Encoding a value with another schema's registry entry fails too. */
        assert_int_equal(osh_value_new(osh_schema_for_topic("ops.status.v1"), &v), 0);
        assert_int_equal(osh_serde_encode(ab, &v, buf, len, &len, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "not a jp.oshirase.ResidentAbstracted"));
        avro_value_decref(&v);
        free(buf);
}

static void test_byte_flips_never_crash(void **state)
{
        size_t len;
        unsigned char *buf = encode_raw(&len);
        const unsigned char pats[] = {0xff, 0x80, 0x01, 0x7f};
        int rejected = 0;

        for (size_t i = OSH_SERDE_HEADER_LEN; i < len; i++) {
                for (size_t k = 0; k < sizeof(pats); k++) {
                        buf[i] ^= pats[k];
                        rejected += decode_fails(buf, len, NULL);
                        buf[i] ^= pats[k];
                }
        }
        /* Most flips break a length or varint; some just change a char. */
        assert_true(rejected > 0);
        assert_int_equal(decode_fails(buf, len, NULL), 0);
        free(buf);
}

/* Header for s followed by body. */
static size_t frame(const osh_schema_t *s, const unsigned char *body, size_t n, unsigned char *out)
{
        out[0] = 0xC3;
        out[1] = 0x01;
        for (int i = 0; i < 8; i++)
                out[2 + i] = (unsigned char)(s->fingerprint >> (8 * i));
        memcpy(out + 10, body, n);
        return n + 10;
}

static int decode_abstracted_fails(const unsigned char *body, size_t n, const char *needle)
{
        const osh_schema_t *s = osh_schema_for_topic("resident.abstracted.v1");
        unsigned char buf[256];
        avro_value_t v;
        char err[256] = "";
        size_t len = frame(s, body, n, buf);

        if (osh_serde_decode(s, buf, len, &v, NULL, err, sizeof(err)) == 0) {
                avro_value_decref(&v);
                return 0;
        }
        if (needle && !strstr(err, needle))
                fail_msg("error \"%s\" lacks \"%s\"", err, needle);
        return 1;
}

static void test_hostile_lengths(void **state)
{
        /* user_id "U", batch_id "B", date 1, layout 1, flags "", values [],
         * ranges [], unknown_flags "" */
        const unsigned char ok[] = {0x02, 'U', 0x02, 'B', 0x02, 0x02, 0x00, 0x00, 0x00, 0x00};
        /* user_id length 2^62: avro-c would try to allocate it. */
        const unsigned char huge_str[] = {0xfe, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0x7f, 'U'};
        const unsigned char neg_str[] = {0x01, 'U'};
        /* values: a block of 2^40 ints with no data. */
        const unsigned char huge_arr[] = {0x02, 'U',  0x02, 'B',  0x02, 0x02, 0x00,
                                          0x80, 0x80, 0x80, 0x80, 0x80, 0x40};
        /* values: negative count with a block size beyond the input. */
        const unsigned char bad_block[] = {0x02, 'U',  0x02, 'B',  0x02,
                                           0x02, 0x00, 0x01, 0x7e, 0x02};
        /* block size that disagrees with the items. */
        const unsigned char lying_block[] = {0x02, 'U',  0x02, 'B',  0x02, 0x02,
                                             0x00, 0x01, 0x04, 0x02, 0x00};
        /* 11-byte varint and an int that overflows 32 bits. */
        const unsigned char long_varint[] = {0x02, 'U',  0x02, 'B',  0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
        const unsigned char int_overflow[] = {0x02, 'U', 0x02, 'B', 0xff, 0xff, 0xff, 0xff, 0x7f};

        assert_int_equal(decode_abstracted_fails(ok, sizeof(ok), NULL), 0);
        assert_true(decode_abstracted_fails(huge_str, sizeof(huge_str), "length exceeds"));
        assert_true(decode_abstracted_fails(neg_str, sizeof(neg_str), "length exceeds"));
        assert_true(decode_abstracted_fails(huge_arr, sizeof(huge_arr), "block count"));
        assert_true(decode_abstracted_fails(bad_block, sizeof(bad_block), "block size"));
        assert_true(decode_abstracted_fails(lying_block, sizeof(lying_block), "block size"));
        assert_true(decode_abstracted_fails(long_varint, sizeof(long_varint), "varint"));
        assert_true(decode_abstracted_fails(int_overflow, sizeof(int_overflow), "varint overflow"));
}

static void test_bad_union_and_enum_index(void **state)
{
        const osh_schema_t *s = osh_schema_for_topic("ops.status.v1");
        avro_value_t v;
        unsigned char *buf;
        size_t len;
        char err[256];

        assert_int_equal(osh_value_new(s, &v), 0);
        assert_int_equal(osh_value_set_string(&v, "service", "x"), 0);
        assert_int_equal(osh_value_set_string(&v, "instance", "y"), 0);
        assert_int_equal(osh_serde_encode_alloc(s, &v, (void **)&buf, &len, err, sizeof(err)), 0);
        avro_value_decref(&v);
        /* After two 1-char strings: segment, state; both hold the schema's
         * declared defaults (UNKNOWN = 5, RUNNING = 1, zig-zag encoded). */
        assert_int_equal(buf[14], 0x0a);
        assert_int_equal(buf[15], 0x02);
        buf[14] = 0x0c; /* segment 6: out of range (6 symbols) */
        assert_int_equal(osh_serde_decode(s, buf, len, &v, NULL, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "enum index"));
        buf[14] = 0x0a;
        /* Then 4 longs, then the lag union index. */
        assert_int_equal(buf[20], 0x00);
        buf[20] = 0x04;
        assert_int_equal(osh_serde_decode(s, buf, len, &v, NULL, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "union branch"));
        buf[20] = 0x00;
        assert_int_equal(osh_serde_decode(s, buf, len, &v, NULL, err, sizeof(err)), 0);
        avro_value_decref(&v);
        free(buf);
}

static void test_validate_bool_strict(void **state)
{
        avro_schema_t b = avro_schema_boolean();
        const unsigned char one = 1, two = 2;
        char err[128];

        assert_int_equal(osh_serde_validate_datum(b, &one, 1, err, sizeof(err)), 0);
        assert_int_equal(osh_serde_validate_datum(b, &two, 1, err, sizeof(err)), -1);
        assert_int_equal(osh_serde_validate_datum(b, NULL, 0, err, sizeof(err)), -1);
        avro_schema_decref(b);
}

/* Arrays of int / long (checked in bulk): every varint is bounded the
 * same as a lone int or long, blocks with a byte size still must match. */
static void test_validate_int_arrays(void **state)
{
        avro_schema_t i32 = avro_schema_int(), i64 = avro_schema_long();
        avro_schema_t ai = avro_schema_array(i32), al = avro_schema_array(i64);
        /* 3 items: 1, -1, 300; end */
        const unsigned char ok[] = {0x06, 0x02, 0x01, 0xd8, 0x04, 0x00};
        /* 1 item: a 5-byte varint whose last byte overflows 32 bits */
        const unsigned char big[] = {0x02, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x00};
        /* 2 items announced, input ends inside the second */
        const unsigned char cut[] = {0x04, 0x02, 0x80};
        /* -2 items in a 3-byte block, but the items take 2 bytes */
        const unsigned char size[] = {0x03, 0x06, 0x02, 0x04, 0x00};
        char err[128];

        (void)state;
        assert_int_equal(osh_serde_validate_datum(ai, ok, sizeof(ok), err, sizeof(err)), 0);
        assert_int_equal(osh_serde_validate_datum(al, ok, sizeof(ok), err, sizeof(err)), 0);
        assert_int_equal(osh_serde_validate_datum(ai, big, sizeof(big), err, sizeof(err)), -1);
        assert_non_null(strstr(err, "varint overflow"));
        assert_int_equal(osh_serde_validate_datum(al, big, sizeof(big), err, sizeof(err)), 0);
        assert_int_equal(osh_serde_validate_datum(ai, cut, sizeof(cut), err, sizeof(err)), -1);
        assert_non_null(strstr(err, "truncated varint"));
        assert_int_equal(osh_serde_validate_datum(ai, size, sizeof(size), err, sizeof(err)), -1);
        assert_non_null(strstr(err, "block size mismatch"));
        avro_schema_decref(ai);
        avro_schema_decref(al);
        avro_schema_decref(i32);
        avro_schema_decref(i64);
}

static void *decode_loop(void *arg)
{
        const unsigned char *buf = arg;
        size_t len;
        const osh_schema_t *s = osh_schema_for_topic("resident.raw.v1");
        char err[256];

        memcpy(&len, buf, sizeof(len));
        for (int i = 0; i < 200; i++) {
                avro_value_t v;
                if (osh_serde_decode(s, buf + sizeof(len), len, &v, NULL, err, sizeof(err)) != 0)
                        return (void *)1;
                avro_value_decref(&v);
        }
        return NULL;
}

static void test_concurrent_decode(void **state)
{
        size_t len;
        unsigned char *enc = encode_raw(&len);
        unsigned char *buf = malloc(len + sizeof(len));
        pthread_t th[4];
        void *rv;

        memcpy(buf, &len, sizeof(len));
        memcpy(buf + sizeof(len), enc, len);
        for (int i = 0; i < 4; i++)
                assert_int_equal(pthread_create(&th[i], NULL, decode_loop, buf), 0);
        for (int i = 0; i < 4; i++) {
                assert_int_equal(pthread_join(th[i], &rv), 0);
                assert_null(rv);
        }
        free(buf);
        free(enc);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_registry),
            cmocka_unit_test(test_roundtrip_every_schema),
            cmocka_unit_test(test_abstracted_helpers),
            cmocka_unit_test(test_nullable_and_enum_helpers),
            cmocka_unit_test(test_every_truncation_fails),
            cmocka_unit_test(test_header_errors),
            cmocka_unit_test(test_wrong_reader),
            cmocka_unit_test(test_byte_flips_never_crash),
            cmocka_unit_test(test_hostile_lengths),
            cmocka_unit_test(test_bad_union_and_enum_index),
            cmocka_unit_test(test_validate_bool_strict),
            cmocka_unit_test(test_validate_int_arrays),
            cmocka_unit_test(test_concurrent_decode),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
