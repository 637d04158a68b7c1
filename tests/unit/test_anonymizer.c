/* anonymizer rules on records: 利用者ID (registered / HMAC), year-month,
 * extreme ages, address truncation, household flags and ages, children's
 * year-months, 0/1 flags, rejects; the batch: k-floor suppression and
 * generalisation, privacy numbers, duplicate ids, deterministic order. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "anon_abs.h"
#include "anon_batch.h"
#include "anon_id.h"
#include "anon_rules.h"
#include "anon_xform.h"
#include "oshirase/jdate.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"

#define RULES_V1 OSH_SOURCE_DIR "/services/anonymizer/rules/rules-v1.conf"
#define KEY_HEX  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static osh_dict_t *dict;
static anon_rules_t *rules;
static anon_key_t key;
static const osh_schema_t *raw_s;
static uint8_t flags[64];
static int32_t values[64];

/* Days since 1970-01-01, written independently of osh_date_from_days(). */
static int32_t days(int y, int m, int d)
{
        static const int cum[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
        int64_t n = 0;

        for (int yy = 1970; yy < y; yy++)
                n += 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
        for (int yy = y; yy < 1970; yy++)
                n -= 365 + ((yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0);
        n += cum[m - 1] + d - 1;
        if (m > 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
                n++;
        return (int32_t)n;
}

static int setup(void **state)
{
        char errstr[256];

        if (osh_serde_init(errstr, sizeof(errstr)) ||
            !(dict = osh_dict_load_default(errstr, sizeof(errstr))) ||
            !(rules = anon_rules_load(RULES_V1, dict, errstr, sizeof(errstr))) ||
            anon_key_load(&key, KEY_HEX, NULL, errstr, sizeof(errstr))) {
                fprintf(stderr, "setup: %s\n", errstr);
                return -1;
        }
        raw_s = osh_schema_for_topic(OSH_TOPIC_RAW);
        return 0;
}

static int teardown(void **state)
{
        anon_key_clear(&key);
        anon_rules_destroy(rules);
        osh_dict_destroy(dict);
        osh_serde_shutdown();
        return 0;
}

static int pos(const char *name)
{
        const osh_dict_entry_t *e = osh_dict_find(dict, name);

        assert_non_null(e);
        return e->position;
}

static int flag(const char *name)
{
        return osh_flags_get(flags, rules->flag_bytes, pos(name));
}

static int32_t val(const char *name)
{
        return values[pos(name)];
}

#define REF days(2024, 10, 1)

/* A head of household, born 1980-05-20, in town 00042 of 12101. */
static void raw_new(avro_value_t *v, const char *atena)
{
        assert_int_equal(osh_value_new(raw_s, v), 0);
        assert_int_equal(osh_value_set_string(v, "atena_no", atena), 0);
        assert_int_equal(osh_value_set_string(v, "batch_id", "B"), 0);
        assert_int_equal(osh_value_set_int(v, "reference_date", REF), 0);
        assert_int_equal(osh_value_set_string(v, "name", "山田太郎"), 0);
        assert_int_equal(osh_value_set_enum(v, "sex", "MALE"), 0);
        assert_int_equal(osh_value_set_int(v, "birth_date", days(1980, 5, 20)), 0);
        assert_int_equal(osh_value_set_string(v, "address_code", "121010004200000000000000000099"),
                         0);
        assert_int_equal(osh_value_set_enum(v, "relationship", "HEAD"), 0);
}

static void add_member(avro_value_t *v, const char *rel, int32_t birth, int has_birth)
{
        avro_value_t arr, item;

        assert_int_equal(osh_value_field(v, "household_members", &arr), 0);
        assert_int_equal(osh_value_append(raw_s, &arr, &item), 0);
        assert_int_equal(osh_value_set_enum(&item, "relationship", rel), 0);
        if (has_birth)
                assert_int_equal(osh_value_set_int(&item, "birth_date", birth), 0);
}

static void assert_str_same(anon_str_t a, anon_str_t b)
{
        assert_int_equal(a.p == NULL, b.p == NULL);
        assert_int_equal(a.len, b.len);
        if (a.len)
                assert_memory_equal(a.p, b.p, a.len);
}

/* Everything the rules can read must be the same, whichever decoder ran. */
static void assert_raw_same(const anon_raw_t *a, const anon_raw_t *b)
{
        assert_str_same(a->atena_no, b->atena_no);
        assert_str_same(a->batch_id, b->batch_id);
        assert_str_same(a->address_code, b->address_code);
        assert_str_same(a->user_id, b->user_id);
        assert_int_equal(a->reference_date, b->reference_date);
        assert_int_equal(a->has_birth, b->has_birth);
        assert_int_equal(a->birth_date, b->birth_date);
        assert_memory_equal(a->scalar, b->scalar, sizeof(a->scalar));
        assert_int_equal(a->nm, b->nm);
        for (size_t i = 0; i < a->nm && i < ANON_RAW_MAX_MEMBERS; i++) {
                assert_int_equal(a->m[i].rel, b->m[i].rel);
                assert_int_equal(a->m[i].has_birth, b->m[i].has_birth);
                assert_int_equal(a->m[i].birth, b->m[i].birth);
        }
        assert_int_equal(a->next, b->next);
        for (size_t i = 0; i < a->next && i < ANON_RAW_MAX_EXT; i++) {
                assert_str_same(a->ext[i].key, b->ext[i].key);
                assert_str_same(a->ext[i].val, b->ext[i].val);
        }
}

static anon_raw_t direct, generic; /* static: ~10 KB each */

/* Encodes v as the service receives it, reads it with the direct decoder
 * and with the generic one, checks both give the same struct and the same
 * result, and returns the direct path's (its flags/values in the globals). */
static anon_verdict_t xform_key(const anon_key_t *k, avro_value_t *v, anon_out_t *o)
{
        uint8_t f2[64];
        int32_t v2[64];
        anon_out_t o2 = {.flags = f2, .values = v2};
        char errstr[256];
        void *buf;
        size_t len;
        uint64_t fp;
        avro_value_t back;
        anon_verdict_t vd;

        o->flags = flags;
        o->values = values;
        assert_int_equal(osh_serde_encode_alloc(raw_s, v, &buf, &len, errstr, sizeof(errstr)), 0);
        assert_int_equal(osh_serde_peek_fingerprint(buf, len, &fp), 0);
        assert_true(fp == ANON_RAW_FINGERPRINT);
        assert_int_equal(anon_raw_decode((uint8_t *)buf + OSH_SERDE_HEADER_LEN,
                                         len - OSH_SERDE_HEADER_LEN, &direct),
                         0);
        assert_int_equal(osh_serde_decode(raw_s, buf, len, &back, NULL, errstr, sizeof(errstr)), 0);
        assert_int_equal(anon_raw_from_value(&rules->raw, &back, &generic), 0);
        assert_raw_same(&direct, &generic);
        vd = anon_xform(rules, k, &generic, &o2);
        assert_int_equal(anon_xform(rules, k, &direct, o), vd);
        assert_string_equal(o->uid, o2.uid);
        assert_string_equal(o->reason, o2.reason);
        assert_int_equal(o->extreme, o2.extreme);
        assert_memory_equal(o->flags, o2.flags, rules->flag_bytes);
        assert_memory_equal(o->values, o2.values, rules->value_count * sizeof(int32_t));
        avro_value_decref(&back);
        free(buf);
        return vd;
}

static anon_verdict_t xform(avro_value_t *v, anon_out_t *o)
{
        return xform_key(&key, v, o);
}

static void test_calendar(void **state)
{
        osh_date_t d; /* the one conversion (jdate.h), as the anonymizer uses it */

        osh_date_from_days(0, &d);
        assert_true(d.year == 1970 && d.month == 1 && d.day == 1);
        osh_date_from_days(days(2000, 2, 29), &d);
        assert_true(d.year == 2000 && d.month == 2 && d.day == 29);
        osh_date_from_days(days(1900, 3, 1), &d);
        assert_true(d.year == 1900 && d.month == 3 && d.day == 1);
        assert_int_equal(anon_yearmonth(days(1925, 12, 31)), 192512);
        assert_int_equal(anon_age(days(1980, 10, 1), days(2024, 10, 1)), 44);
        assert_int_equal(anon_age(days(1980, 10, 2), days(2024, 10, 1)), 43);
        assert_int_equal(anon_age(days(2024, 10, 2), days(2024, 10, 1)), -1);
}

/* Dates outside years 1000..9999 have no YYYYMM: the record is refused
 * (fuzz_anonymizer_xform found year-months like -58000000). */
static void test_date_out_of_range(void **state)
{
        anon_out_t o;
        avro_value_t v;

        raw_new(&v, "000123456");
        assert_int_equal(osh_value_set_int(&v, "birth_date", days(1000, 1, 1)), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(osh_value_set_int(&v, "birth_date", days(1000, 1, 1) - 1), 0);
        assert_int_equal(xform(&v, &o), ANON_REJECT_BAD);
        assert_string_equal(o.reason, "birth date malformed or out of range");
        assert_int_equal(osh_value_set_int(&v, "birth_date", INT32_MAX), 0);
        assert_int_equal(xform(&v, &o), ANON_REJECT_BAD);
        avro_value_decref(&v);

        raw_new(&v, "000123457");
        add_member(&v, "CHILD", days(9999, 12, 31), 1);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(val("spare_01"), 999912);
        avro_value_decref(&v);
        raw_new(&v, "000123458");
        add_member(&v, "CHILD", INT32_MIN, 1);
        assert_int_equal(xform(&v, &o), ANON_REJECT_BAD);
        avro_value_decref(&v);
}

static void test_hmac_user_id(void **state)
{
        anon_out_t o;
        avro_value_t v;
        uint8_t mac[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1], bare[OSH_SHA256_HEX_LEN + 1];

        raw_new(&v, "000123456");
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(osh_hmac_sha256(key.k, key.len, "000123456", 9, mac), 0);
        osh_hex_encode(mac, sizeof(mac), hex);
        assert_int_equal(strlen(o.uid), ANON_UID_HEX);
        assert_memory_equal(o.uid, hex, ANON_UID_HEX);
        /* never a bare hash */
        osh_sha256("000123456", 9, mac);
        osh_hex_encode(mac, sizeof(mac), bare);
        assert_memory_not_equal(o.uid, bare, ANON_UID_HEX);
        /* another key, another id (a trailing zero byte would be the same HMAC key) */
        anon_key_t k2;
        char errstr[128];
        anon_out_t o2;
        assert_int_equal(anon_key_load(&k2, KEY_HEX "ff", NULL, errstr, sizeof(errstr)), 0);
        assert_int_equal(xform_key(&k2, &v, &o2), ANON_OK);
        anon_key_clear(&k2);
        assert_string_not_equal(o.uid, o2.uid);
        avro_value_decref(&v);
}

static void test_registered_user_id(void **state)
{
        anon_out_t o;
        avro_value_t v, app;

        raw_new(&v, "000123456");
        assert_int_equal(osh_value_field(&v, "applicant", &app), 0);
        assert_int_equal(osh_value_set_string(&app, "user_id", "LINE-u_42"), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_string_equal(o.uid, "LINE-u_42");
        assert_int_equal(osh_value_set_string(&app, "user_id", "bad id!"), 0);
        assert_int_equal(xform(&v, &o), ANON_REJECT_BAD);
        assert_non_null(strstr(o.reason, "利用者ID"));
        avro_value_decref(&v);
}

static void test_key_loading(void **state)
{
        anon_key_t k;
        char errstr[256], path[] = "/tmp/anon-key-XXXXXX";
        int fd;

        assert_int_equal(anon_key_load(&k, NULL, NULL, errstr, sizeof(errstr)), -1);
        assert_non_null(strstr(errstr, "no HMAC key"));
        assert_int_equal(anon_key_load(&k, "abcd", NULL, errstr, sizeof(errstr)), -1);
        assert_non_null(strstr(errstr, "32.."));
        assert_int_equal(anon_key_load(&k, KEY_HEX "zz", NULL, errstr, sizeof(errstr)), -1);
        assert_non_null(strstr(errstr, "not hex"));
        assert_null(strstr(errstr, "0001020304")); /* the key is never echoed */
        assert_int_equal(anon_key_load(&k, NULL, "/nonexistent/key", errstr, sizeof(errstr)), -1);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "  " KEY_HEX "\n", strlen(KEY_HEX) + 3), strlen(KEY_HEX) + 3);
        close(fd);
        assert_int_equal(anon_key_load(&k, NULL, path, errstr, sizeof(errstr)), 0);
        assert_int_equal(k.len, 32);
        assert_memory_equal(k.k, key.k, 32);
        unlink(path);
        anon_key_clear(&k);
        assert_int_equal(k.len, 0);
}

static void test_birth_and_address(void **state)
{
        anon_out_t o;
        avro_value_t v;

        raw_new(&v, "1");
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(val("sex"), 1);
        assert_int_equal(val("birth_ym"), 198005);
        assert_int_equal(val("municipality_code"), 12101);
        assert_int_equal(val("town_code"), 42);
        assert_int_equal(o.extreme, 0);
        assert_int_equal(o.reference_date, REF);
        /* only digits 1-10 are used: the reserve part never shows */
        for (size_t i = 0; i < rules->value_count; i++)
                assert_int_not_equal(values[i], 99);
        assert_int_equal(osh_value_set_enum(&v, "sex", "UNKNOWN"), 0);
        assert_int_equal(osh_value_set_string(&v, "address_code", ""), 0);
        assert_int_equal(osh_value_set_null(&v, "birth_date"), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(val("sex"), 3);
        assert_int_equal(val("birth_ym"), 0);
        assert_int_equal(val("town_code"), 0);
        assert_int_equal(osh_value_set_string(&v, "address_code", "12101"), 0);
        assert_int_equal(xform(&v, &o), ANON_REJECT_BAD);
        assert_int_equal(osh_value_set_string(&v, "address_code", "1210100A42"), 0);
        assert_int_equal(xform(&v, &o), ANON_REJECT_BAD);
        assert_non_null(strstr(o.reason, "numeric"));
        avro_value_decref(&v);
}

static void test_extreme_age(void **state)
{
        anon_out_t o;
        avro_value_t v;

        raw_new(&v, "1");
        /* 100th birthday on the reference date: removed */
        assert_int_equal(osh_value_set_int(&v, "birth_date", days(1924, 10, 1)), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(o.extreme, 1);
        assert_int_equal(val("birth_ym"), 0);
        /* one day short of 100: kept */
        assert_int_equal(osh_value_set_int(&v, "birth_date", days(1924, 10, 2)), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(o.extreme, 0);
        assert_int_equal(val("birth_ym"), 192410);
        /* the threshold is a parameter */
        rules->extreme_age = 90;
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(o.extreme, 1);
        rules->extreme_age = 0;
        assert_int_equal(osh_value_set_int(&v, "birth_date", days(1900, 1, 1)), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(o.extreme, 0);
        assert_int_equal(val("birth_ym"), 190001);
        rules->extreme_age = 100;
        avro_value_decref(&v);
}

static void test_household(void **state)
{
        anon_out_t o;
        avro_value_t v;
        int set = 0;

        raw_new(&v, "1");
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(flag("spouse"), 0);
        add_member(&v, "SPOUSE", days(1982, 3, 3), 1);      /* 42 */
        add_member(&v, "CHILD", days(2016, 4, 2), 1);       /* 8, eldest child */
        add_member(&v, "CHILD", days(2023, 4, 2), 1);       /* 1 */
        add_member(&v, "CHILD", days(2020, 10, 2), 1);      /* 3 (born a day after ref date) */
        add_member(&v, "CHILD", 0, 0);                      /* no birth date */
        add_member(&v, "PARENT", days(1915, 1, 1), 1);      /* 109 → 100+ */
        add_member(&v, "GRANDCHILD", days(2024, 9, 30), 1); /* 0 */
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(flag("spouse"), 1);
        assert_int_equal(flag("hh_age_042"), 1);
        assert_int_equal(flag("hh_age_008"), 1);
        assert_int_equal(flag("hh_age_001"), 1);
        assert_int_equal(flag("hh_age_003"), 1);
        assert_int_equal(flag("hh_age_004"), 0);
        assert_int_equal(flag("hh_age_100"), 1);
        assert_int_equal(flag("hh_age_000"), 1);
        assert_int_equal(flag("hh_age_044"), 0); /* the applicant is not a "member" */
        for (int a = 0; a <= 100; a++) {
                char n[16];
                snprintf(n, sizeof(n), "hh_age_%03d", a);
                set += flag(n);
        }
        assert_int_equal(set, 6);
        /* children eldest first; grandchildren are not children */
        assert_int_equal(val("spare_01"), 201604);
        assert_int_equal(val("spare_02"), 202010);
        assert_int_equal(val("spare_03"), 202304);
        avro_value_decref(&v);
        /* the applicant as spouse counts too */
        raw_new(&v, "2");
        assert_int_equal(osh_value_set_enum(&v, "relationship", "SPOUSE"), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(flag("spouse"), 1);
        assert_int_equal(val("spare_01"), 0);
        avro_value_decref(&v);
}

static void test_programme_flags(void **state)
{
        static const char *const bools[] = {"nhi", "late_elderly", "child_allowance",
                                            "child_rearing_allowance", "public_assistance"};
        anon_out_t o;
        avro_value_t v, map, item;

        raw_new(&v, "1");
        assert_int_equal(xform(&v, &o), ANON_OK);
        for (size_t i = 0; i < rules->flag_bytes; i++)
                assert_int_equal(flags[i], 0);
        assert_int_equal(osh_value_set_enum(&v, "tax_current", "TAXED"), 0);
        assert_int_equal(osh_value_set_enum(&v, "tax_previous", "NOT_TAXED"), 0);
        assert_int_equal(osh_value_set_enum(&v, "tax_before_previous", "UNKNOWN"), 0);
        for (size_t i = 0; i < 5; i++) {
                assert_int_equal(xform(&v, &o), ANON_OK);
                assert_int_equal(flag(bools[i]), 0);
                assert_int_equal(osh_value_set_bool(&v, bools[i], 1), 0);
                assert_int_equal(xform(&v, &o), ANON_OK);
                assert_int_equal(flag(bools[i]), 1);
        }
        assert_int_equal(osh_value_field(&v, "extensions", &map), 0);
        assert_int_equal(avro_value_add(&map, "ext_01", &item, NULL, NULL), 0);
        assert_int_equal(avro_value_set_string(&item, "1"), 0);
        assert_int_equal(avro_value_add(&map, "ext_02", &item, NULL, NULL), 0);
        assert_int_equal(avro_value_set_string(&item, "0"), 0);
        assert_int_equal(avro_value_add(&map, "ext_20", &item, NULL, NULL), 0);
        assert_int_equal(avro_value_set_string(&item, "有"), 0);
        assert_int_equal(avro_value_add(&map, "ext_99", &item, NULL, NULL), 0);
        assert_int_equal(avro_value_set_string(&item, "1"), 0);
        assert_int_equal(xform(&v, &o), ANON_OK);
        assert_int_equal(flag("tax_current"), 1);
        assert_int_equal(flag("tax_previous"), 0);
        assert_int_equal(flag("tax_before_previous"), 0);
        assert_int_equal(flag("ext_01"), 1);
        assert_int_equal(flag("ext_02"), 0);
        assert_int_equal(flag("ext_03"), 0);
        assert_int_equal(flag("ext_20"), 1);
        avro_value_decref(&v);
}

/* The direct decoder is written for one schema revision: a schema change
 * fails here first (update anon_raw_decode() and ANON_RAW_FINGERPRINT), and
 * the service sends records of any other revision the generic way. */
static void test_direct_decoder_bounds(void **state)
{
        char errstr[256];
        anon_out_t o;
        avro_value_t v, app;
        uint8_t *buf, *d;
        size_t len, n;

        assert_true(raw_s->fingerprint == ANON_RAW_FINGERPRINT);
        raw_new(&v, "000123456");
        add_member(&v, "CHILD", days(2016, 4, 2), 1);
        assert_int_equal(osh_value_field(&v, "applicant", &app), 0);
        assert_int_equal(osh_value_set_string(&app, "user_id", "u1"), 0);
        assert_int_equal(
            osh_serde_encode_alloc(raw_s, &v, (void **)&buf, &len, errstr, sizeof(errstr)), 0);
        n = len - OSH_SERDE_HEADER_LEN;
        assert_non_null(d = malloc(n + 1));
        memcpy(d, buf + OSH_SERDE_HEADER_LEN, n);
        assert_int_equal(anon_raw_decode(d, n, &direct), 0);
        assert_int_equal(direct.user_id.len, 2);
        for (size_t cut = 0; cut < n; cut++) /* every prefix is short of something */
                assert_int_equal(anon_raw_decode(d, cut, &direct), -1);
        d[n] = 0;
        assert_int_equal(anon_raw_decode(d, n + 1, &direct), -1); /* trailing byte */
        free(d);
        free(buf);
        /* more members than a household may have: the same reject either way */
        for (int i = 0; i < ANON_RAW_MAX_MEMBERS; i++)
                add_member(&v, "OTHER", 0, 0);
        assert_int_equal(xform(&v, &o), ANON_REJECT_BAD);
        assert_string_equal(o.reason, "household members malformed");
        avro_value_decref(&v);
}

/* The direct encoder writes the bytes osh_serde_encode() writes for the
 * same values: with values and flags, and with both empty. */
static void assert_abs_like_generic(const anon_abs_t *r)
{
        static const uint8_t fl0[1] = {0};
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_ABSTRACTED);
        osh_avro_buf_t b = {0};
        avro_value_t v, arr, item;
        char errstr[256];
        void *want;
        size_t want_len;

        assert_int_equal(osh_value_new(s, &v), 0);
        assert_int_equal(osh_value_set_string(&v, "user_id", r->uid), 0);
        assert_int_equal(osh_value_set_string(&v, "batch_id", r->batch_id), 0);
        assert_int_equal(osh_value_set_int(&v, "reference_date", r->reference_date), 0);
        assert_int_equal(osh_value_set_int(&v, "layout_version", r->layout), 0);
        assert_int_equal(osh_value_set_bytes(&v, "flags", r->flags, r->flag_bytes), 0);
        assert_int_equal(osh_value_field(&v, "values", &arr), 0);
        for (size_t i = 0; i < r->nvalues; i++) {
                assert_int_equal(avro_value_append(&arr, &item, NULL), 0);
                assert_int_equal(avro_value_set_int(&item, r->values[i]), 0);
        }
        assert_int_equal(osh_value_field(&v, "ranges", &arr), 0);
        for (size_t i = 0; i < r->nranges * 3; i++) {
                assert_int_equal(avro_value_append(&arr, &item, NULL), 0);
                assert_int_equal(avro_value_set_int(&item, r->ranges[i]), 0);
        }
        assert_int_equal(osh_value_set_bytes(&v, "unknown_flags", r->unknown ? r->unknown : fl0,
                                             r->unknown ? r->unknown_bytes : 0),
                         0);
        assert_int_equal(osh_serde_encode_alloc(s, &v, &want, &want_len, errstr, sizeof(errstr)),
                         0);
        anon_abs_encode(&b, s, r);
        assert_true(osh_avro_buf_ok(&b));
        assert_int_equal(b.len, want_len);
        assert_memory_equal(b.p, want, want_len);
        osh_avro_buf_free(&b);
        free(want);
        avro_value_decref(&v);
}

static void test_abstracted_encoding(void **state)
{
        static const uint8_t fl[] = {0x01, 0x80, 0x00, 0xff};
        static const int32_t vals[] = {0, 1, -1, 202410, INT32_MAX, INT32_MIN, 63, 64, -65};
        static const int32_t rg[] = {1, 198001, 198012, 3, 400, 499};
        static const uint8_t unk[] = {0x00, 0x06};
        anon_abs_t r = {.uid = "0123456789abcdef0123456789abcdef",
                        .batch_id = "B20240401-x",
                        .reference_date = REF,
                        .layout = 1,
                        .flags = fl,
                        .flag_bytes = sizeof(fl),
                        .values = vals,
                        .nvalues = sizeof(vals) / sizeof(vals[0])};

        assert_abs_like_generic(&r);
        r.ranges = rg;
        r.nranges = 2;
        r.unknown = unk;
        r.unknown_bytes = sizeof(unk);
        assert_abs_like_generic(&r);
        r.ranges = NULL;
        r.nranges = 0;
        r.unknown = NULL;
        r.flag_bytes = 0;
        r.nvalues = 0;
        r.reference_date = -1;
        r.uid = "";
        assert_abs_like_generic(&r);
}

static void test_missing_atena(void **state)
{
        anon_out_t o;
        avro_value_t v, app;

        raw_new(&v, "");
        assert_int_equal(xform(&v, &o), ANON_REJECT_MISSING);
        /* even with a registered id: 宛名番号 is the record's identity */
        assert_int_equal(osh_value_field(&v, "applicant", &app), 0);
        assert_int_equal(osh_value_set_string(&app, "user_id", "U1"), 0);
        assert_int_equal(xform(&v, &o), ANON_REJECT_MISSING);
        assert_non_null(strstr(o.reason, "宛名番号"));
        avro_value_decref(&v);
}

/* ---- batch ---- */

/* A record with the given id and quasi-identifiers. */
static void add_rec(anon_batch_t *b, const char *uid, int32_t ym, int sex, int town, int extra)
{
        anon_out_t o = {.flags = flags, .values = values};

        memset(flags, 0, sizeof(flags));
        memset(values, 0, sizeof(values));
        snprintf(o.uid, sizeof(o.uid), "%s", uid);
        values[pos("birth_ym")] = ym;
        values[pos("sex")] = sex;
        values[pos("municipality_code")] = 12101;
        values[pos("town_code")] = town;
        values[pos("spare_30")] = extra;
        o.extreme = ym == 0;
        assert_int_equal(anon_batch_add(b, &o, 0, 0), 0);
}

static anon_rec_state_t state_of(anon_batch_t *b, const char *uid)
{
        for (size_t i = 0; i < anon_batch_count(b); i++) {
                const char *u;
                const uint8_t *f;
                const int32_t *v;
                anon_rec_state_t st;
                anon_batch_get(b, i, &u, &f, &v, &st, NULL, NULL);
                if (!strcmp(u, uid))
                        return st;
        }
        fail_msg("no record %s", uid);
        return ANON_REC_KEEP;
}

/* Groups: A(3 records, 198001 M t1), B(2, 198002 M t1), C(1, 198003 M t1),
 * D(1, 199005 F t2), E(1 extreme: ym 0, F, t2). */
static anon_batch_t *sample(void)
{
        anon_batch_t *b = anon_batch_new(rules);

        add_rec(b, "a1", 198001, 1, 1, 0);
        add_rec(b, "a2", 198001, 1, 1, 0);
        add_rec(b, "a3", 198001, 1, 1, 0);
        add_rec(b, "b1", 198002, 1, 1, 0);
        add_rec(b, "b2", 198002, 1, 1, 0);
        add_rec(b, "c1", 198003, 1, 1, 0);
        add_rec(b, "d1", 199005, 2, 2, 0);
        add_rec(b, "e1", 0, 2, 2, 0);
        return b;
}

static void test_k_floor_off_reports_only(void **state)
{
        anon_batch_t *b = sample();
        anon_stats_t st = {0};

        rules->k_floor = 1;
        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_int_equal(st.out, 8);
        assert_int_equal(st.suppressed, 0);
        assert_int_equal(st.groups, 5);
        assert_int_equal(st.min_group, 1);
        assert_int_equal(st.extreme, 1);
        assert_int_equal(st.groups_below_k, 0);
        anon_batch_destroy(b);
}

static void test_k_floor_suppress(void **state)
{
        anon_batch_t *b = sample();
        anon_stats_t st = {0};

        rules->k_floor = 2;
        rules->k_action = ANON_K_SUPPRESS;
        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_int_equal(st.groups_below_k, 3); /* C, D, E */
        assert_int_equal(st.suppressed, 3);
        assert_int_equal(st.generalised, 0);
        assert_int_equal(st.out, 5);
        assert_int_equal(st.groups, 2);
        assert_int_equal(st.min_group, 2);
        assert_int_equal(state_of(b, "c1"), ANON_REC_SUPPRESSED);
        assert_int_equal(state_of(b, "b1"), ANON_REC_KEEP);
        anon_batch_destroy(b);
        /* k = 3 leaves only group A */
        b = sample();
        memset(&st, 0, sizeof(st));
        rules->k_floor = 3;
        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_int_equal(st.out, 3);
        assert_int_equal(st.suppressed, 5);
        assert_int_equal(st.min_group, 3);
        anon_batch_destroy(b);
}

static void test_k_floor_generalise(void **state)
{
        anon_batch_t *b = sample();
        anon_stats_t st = {0};
        const char *u;
        const uint8_t *f;
        const int32_t *v;
        anon_rec_state_t s;

        rules->k_floor = 2;
        rules->k_action = ANON_K_GENERALISE;
        /* C (198003) becomes 198000 alone: still below 2, suppressed. Add
         * a second 1980 record in another month so the pair 198000 meets k. */
        add_rec(b, "c2", 198007, 1, 1, 0);
        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_int_equal(st.groups_below_k, 4); /* C, c2's group, D, E */
        assert_int_equal(st.generalised, 2);    /* c1, c2 released as 198000 */
        assert_int_equal(st.suppressed, 2);     /* d1 (199000 alone), e1 (no month to drop) */
        assert_int_equal(st.out, 7);
        assert_int_equal(st.min_group, 2);
        assert_int_equal(state_of(b, "c1"), ANON_REC_GENERALISED);
        assert_int_equal(state_of(b, "d1"), ANON_REC_SUPPRESSED);
        for (size_t i = 0; i < anon_batch_count(b); i++) {
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                if (!strcmp(u, "c2"))
                        assert_int_equal(v[pos("birth_ym")], 198000);
        }
        rules->k_floor = 1;
        anon_batch_destroy(b);
}

static void test_duplicates_and_order(void **state)
{
        anon_batch_t *b = anon_batch_new(rules), *b2 = anon_batch_new(rules);
        anon_stats_t st = {0}, st2 = {0};
        const char *order[] = {"u3", "u1", "u2", "u1"};
        const int extra[] = {0, 7, 0, 5};

        for (int i = 0; i < 4; i++)
                add_rec(b, order[i], 198001, 1, 1, extra[i]);
        for (int i = 3; i >= 0; i--) /* the same records, other arrival order */
                add_rec(b2, order[i], 198001, 1, 1, extra[i]);
        assert_int_equal(anon_batch_finish(b, &st), 0);
        assert_int_equal(anon_batch_finish(b2, &st2), 0);
        assert_int_equal(st.rejected, 1);
        assert_int_equal(st.out, 3);
        assert_memory_equal(&st, &st2, sizeof(st));
        for (size_t i = 0; i < anon_batch_count(b); i++) {
                const char *u, *u2;
                const uint8_t *f, *f2;
                const int32_t *v, *v2;
                anon_rec_state_t s, s2;
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                anon_batch_get(b2, i, &u2, &f2, &v2, &s2, NULL, NULL);
                assert_string_equal(u, u2);
                assert_int_equal(s, s2);
                assert_memory_equal(v, v2, rules->value_count * sizeof(int32_t));
                if (i > 0) {
                        const char *prev;
                        anon_batch_get(b, i - 1, &prev, &f, &v, &s, NULL, NULL);
                        assert_true(strcmp(prev, u) <= 0);
                }
        }
        /* of the two u1 records the one with the smaller payload is kept */
        for (size_t i = 0; i < anon_batch_count(b); i++) {
                const char *u;
                const uint8_t *f;
                const int32_t *v;
                anon_rec_state_t s;
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                if (!strcmp(u, "u1"))
                        assert_int_equal(v[pos("spare_30")], s == ANON_REC_DUPLICATE ? 7 : 5);
        }
        anon_batch_destroy(b);
        anon_batch_destroy(b2);
}

/* The radix sorts by 8-byte 利用者ID prefix and by quasi-identifier column
 * must order like the comparisons they replaced: ids sharing long prefixes
 * and of every length, negative values, many duplicates. */
static void test_sorts_match_comparisons(void **state)
{
        enum { N = 3000 };
        anon_batch_t *b = anon_batch_new(rules);
        anon_stats_t st = {0};
        static int32_t qi[N][3];
        static int seen[N];
        uint32_t x = 12345;
        int64_t groups = 0, dups = 0;
        char uid[32];

        (void)state;
        for (int i = 0; i < N; i++) {
                int id = (int)((x = x * 1103515245u + 12345u) >> 8) % 900;
                int kind = id % 3;
                if (kind == 0)
                        snprintf(uid, sizeof(uid), "reg-00000000-%d", id);
                else if (kind == 1)
                        snprintf(uid, sizeof(uid), "%.*s", 1 + id % 9, "abcdefghi");
                else
                        snprintf(uid, sizeof(uid), "Z%07d", id);
                qi[i][0] = (int32_t)((x >> 4) % 5) - 2 + 198000;
                qi[i][1] = 1 + (int)((x >> 12) % 2);
                qi[i][2] = (int32_t)((x >> 16) % 3) - 1;
                add_rec(b, uid, qi[i][0], qi[i][1], qi[i][2], (int)(x % 4));
        }
        assert_int_equal(anon_batch_finish(b, &st), 0);
        for (size_t i = 0; i < N; i++) {
                const char *u, *p;
                const uint8_t *f;
                const int32_t *v, *pv;
                anon_rec_state_t s, ps;
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                dups += s == ANON_REC_DUPLICATE;
                if (i == 0)
                        continue;
                anon_batch_get(b, i - 1, &p, &f, &pv, &ps, NULL, NULL);
                assert_true(strcmp(p, u) <= 0);
                /* the first of a run of one id is kept, the rest are not */
                assert_int_equal(s == ANON_REC_DUPLICATE, !strcmp(p, u));
                if (!strcmp(p, u)) /* payload order inside a run */
                        assert_true(memcmp(pv, v, rules->value_count * sizeof(int32_t)) <= 0);
        }
        /* groups among the kept records, counted the slow way */
        for (size_t i = 0; i < N; i++) {
                const char *u;
                const uint8_t *f;
                const int32_t *v, *w;
                anon_rec_state_t s, t;
                anon_batch_get(b, i, &u, &f, &v, &s, NULL, NULL);
                if (s == ANON_REC_DUPLICATE || seen[i])
                        continue;
                groups++;
                for (size_t j = i; j < N; j++) {
                        anon_batch_get(b, j, &u, &f, &w, &t, NULL, NULL);
                        if (t != ANON_REC_DUPLICATE && w[pos("birth_ym")] == v[pos("birth_ym")] &&
                            w[pos("sex")] == v[pos("sex")] &&
                            w[pos("town_code")] == v[pos("town_code")])
                                seen[j] = 1;
                }
        }
        assert_int_equal(st.rejected, dups);
        assert_int_equal(st.groups, groups);
        anon_batch_destroy(b);
}

static void test_xform_is_deterministic(void **state)
{
        anon_out_t o1, o2;
        uint8_t f1[64];
        int32_t v1[64];
        avro_value_t v;

        raw_new(&v, "42");
        add_member(&v, "CHILD", days(2016, 4, 2), 1);
        assert_int_equal(xform(&v, &o1), ANON_OK);
        memcpy(f1, flags, sizeof(f1));
        memcpy(v1, values, sizeof(v1));
        memset(flags, 0xff, sizeof(flags)); /* stale scratch must not leak in */
        memset(values, 0x7f, sizeof(values));
        assert_int_equal(xform(&v, &o2), ANON_OK);
        assert_string_equal(o1.uid, o2.uid);
        assert_memory_equal(f1, flags, rules->flag_bytes);
        assert_memory_equal(v1, values, rules->value_count * sizeof(int32_t));
        avro_value_decref(&v);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_calendar),
            cmocka_unit_test(test_date_out_of_range),
            cmocka_unit_test(test_hmac_user_id),
            cmocka_unit_test(test_registered_user_id),
            cmocka_unit_test(test_key_loading),
            cmocka_unit_test(test_birth_and_address),
            cmocka_unit_test(test_extreme_age),
            cmocka_unit_test(test_household),
            cmocka_unit_test(test_programme_flags),
            cmocka_unit_test(test_direct_decoder_bounds),
            cmocka_unit_test(test_abstracted_encoding),
            cmocka_unit_test(test_missing_atena),
            cmocka_unit_test(test_k_floor_off_reports_only),
            cmocka_unit_test(test_k_floor_suppress),
            cmocka_unit_test(test_k_floor_generalise),
            cmocka_unit_test(test_duplicates_and_order),
            cmocka_unit_test(test_sorts_match_comparisons),
            cmocka_unit_test(test_xform_is_deterministic),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
