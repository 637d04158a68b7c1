/* libFuzzer target for the anonymizer's record path: arbitrary bytes →
 * resident.raw.v1 read by the direct decoder (anon_raw_decode) and by the
 * generic one (osh_serde_decode + anon_raw_from_value) → the rules-v1
 * transform. It must never crash; where both decoders accept a record they
 * must agree on every field the rules read and on the result; an accepted
 * record must get a valid 利用者ID and only year-months, codes and flags
 * inside their buffers.
 * The first input byte picks how the rest is used:
 *   0: as is (header included), 1: behind the resident.raw.v1 header,
 *   2+: XORed onto a valid encoded record (deep paths found quickly). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_raw.h"
#include "anon_rules.h"
#include "anon_xform.h"
#include "oshirase/dictionary.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define RULES_V1 OSH_SOURCE_DIR "/services/anonymizer/rules/rules-v1.conf"

static osh_dict_t *dict;
static anon_rules_t *rules;
static anon_key_t key;
static const osh_schema_t *raw_s;
static uint8_t *good;
static size_t good_len;

/* Process-lifetime objects, freed so LeakSanitizer sees only real leaks. */
static void fini(void)
{
        anon_key_clear(&key);
        free(good);
        anon_rules_destroy(rules);
        osh_dict_destroy(dict);
        osh_serde_shutdown();
}

static void init(void)
{
        char err[256];
        avro_value_t v, arr, item, map;

        if (osh_serde_init(err, sizeof(err)) || !(dict = osh_dict_load_default(err, sizeof(err))) ||
            !(rules = anon_rules_load(RULES_V1, dict, err, sizeof(err))) ||
            anon_key_load(&key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                          NULL, err, sizeof(err)) ||
            !(raw_s = osh_schema_for_topic(OSH_TOPIC_RAW)) || osh_value_new(raw_s, &v)) {
                fprintf(stderr, "fuzz init: %s\n", err);
                abort();
        }
        atexit(fini);
        osh_value_set_string(&v, "atena_no", "1000000001");
        osh_value_set_int(&v, "reference_date", 19000);
        osh_value_set_int(&v, "birth_date", -20000);
        osh_value_set_string(&v, "address_code", "121010004200000000000000000099");
        osh_value_field(&v, "household_members", &arr);
        for (int i = 0; i < 3; i++) {
                osh_value_append(raw_s, &arr, &item);
                osh_value_set_enum(&item, "relationship", i ? "CHILD" : "SPOUSE");
                osh_value_set_int(&item, "birth_date", 5000 * i - 40000);
        }
        osh_value_field(&v, "extensions", &map);
        osh_value_add(raw_s, &map, "ext_01", &item);
        avro_value_set_string(&item, "1");
        if (osh_serde_encode_alloc(raw_s, &v, (void **)&good, &good_len, err, sizeof(err)))
                abort();
        avro_value_decref(&v);
}

/* A year-month is 0 (absent) or YYYYMM with a four-digit year. */
static int ym_ok(const osh_dict_entry_t *e, const int32_t *values)
{
        int32_t ym;

        if (e->type != OSH_DICT_YEARMONTH || !(ym = values[e->position]))
                return 1;
        return ym / 100 >= 1000 && ym / 100 <= 9999 && ym % 100 >= 1 && ym % 100 <= 12;
}

static int str_same(anon_str_t a, anon_str_t b)
{
        return (a.p == NULL) == (b.p == NULL) && a.len == b.len &&
               (!a.len || !memcmp(a.p, b.p, a.len));
}

/* What the rules can read, field by field (pointers differ by path). */
static int raw_same(const anon_raw_t *a, const anon_raw_t *b)
{
        int same = str_same(a->atena_no, b->atena_no) && str_same(a->batch_id, b->batch_id) &&
                   str_same(a->address_code, b->address_code) && str_same(a->user_id, b->user_id) &&
                   a->reference_date == b->reference_date && a->has_birth == b->has_birth &&
                   a->birth_date == b->birth_date &&
                   !memcmp(a->scalar, b->scalar, sizeof(a->scalar)) && a->nm == b->nm;

        for (size_t i = 0; same && i < a->nm && i < ANON_RAW_MAX_MEMBERS; i++)
                same = a->m[i].rel == b->m[i].rel && a->m[i].has_birth == b->m[i].has_birth &&
                       a->m[i].birth == b->m[i].birth;
        return same;
}

/* Extension maps may differ where avro-c folds repeated keys: compared
 * through the result instead. */
static void xform_check(const anon_raw_t *raw, uint8_t *flags, int32_t *values, anon_out_t *o)
{
        *o = (anon_out_t){.flags = flags, .values = values};
        if (anon_xform(rules, &key, raw, o) == ANON_OK) {
                if (!anon_uid_valid(o->uid, strlen(o->uid)))
                        __builtin_trap();
                for (size_t i = 0; i < osh_dict_count(dict); i++)
                        if (!ym_ok(osh_dict_at(dict, i), values))
                                __builtin_trap();
        } else if (!o->reason || !*o->reason) {
                __builtin_trap(); /* a reject always says why */
        }
}

static anon_raw_t direct, generic;

static void check(const uint8_t *buf, size_t len)
{
        char err[256];
        uint8_t f1[64], f2[64];
        int32_t v1[64], v2[64];
        anon_out_t o1, o2;
        avro_value_t v;
        uint64_t fp;
        int have_direct, have_generic = 0, decoded;

        if (rules->flag_bytes > sizeof(f1) || rules->value_count > 64)
                abort();
        have_direct =
            !osh_serde_peek_fingerprint(buf, len, &fp) && fp == ANON_RAW_FINGERPRINT &&
            !anon_raw_decode(buf + OSH_SERDE_HEADER_LEN, len - OSH_SERDE_HEADER_LEN, &direct);
        decoded = !osh_serde_decode(raw_s, buf, len, &v, NULL, err, sizeof(err));
        if (decoded) {
                have_generic = !anon_raw_from_value(&rules->raw, &v, &generic);
                if (have_generic)
                        xform_check(&generic, f2, v2, &o2);
        }
        if (have_direct)
                xform_check(&direct, f1, v1, &o1);
        if (have_direct && have_generic &&
            (!raw_same(&direct, &generic) || strcmp(o1.uid, o2.uid) ||
             strcmp(o1.reason, o2.reason) || memcmp(f1, f2, rules->flag_bytes) ||
             memcmp(v1, v2, rules->value_count * sizeof(int32_t))))
                __builtin_trap();
        if (decoded)
                avro_value_decref(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf;
        size_t n;

        if (!rules)
                init();
        if (size < 1)
                return 0;
        if (data[0] == 0) {
                check(data + 1, size - 1);
                return 0;
        }
        n = data[0] == 1 ? OSH_SERDE_HEADER_LEN + size - 1 : good_len;
        if (!(buf = malloc(n)))
                return 0;
        if (data[0] == 1) {
                memcpy(buf, good, OSH_SERDE_HEADER_LEN);
                memcpy(buf + OSH_SERDE_HEADER_LEN, data + 1, size - 1);
        } else { /* keep the header, flip body bytes; a tail shortens the record */
                memcpy(buf, good, good_len);
                for (size_t i = 1; i < size && OSH_SERDE_HEADER_LEN + i - 1 < good_len; i++)
                        buf[OSH_SERDE_HEADER_LEN + i - 1] ^= data[i];
                if (data[0] > 2 && (size_t)data[0] < good_len)
                        n = good_len - data[0];
        }
        check(buf, n);
        free(buf);
        return 0;
}
