/* extractor: the join per 宛名番号, consent filtering, every reject reason,
 * reconciliation, determinism, the ledger, manifest failures and the emit
 * order (START, records, rejects, END only when all were delivered),
 * through a capturing sink instead of a broker. */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oshirase/batch.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"
#include "extractor.h"

#define ADDR "121010000100010001000000000000"

static const char *const CLEAN[][2] = {
    {"SHINSEI.csv", "atena_no,riyosha_id,doui,bunya,shinsei_nichiji\n"
                    "1000000004,,1,03,20240301120000\n"
                    "1000000001,U123ABC,1,01;02,20240215093000\n"
                    "1000000005,,0,01,20240101000000\n"},
    {"JUMIN.csv",
     "atena_no,setai_no,shimei,shimei_kana,seibetsu,seinengappi,zokugara,jusho_code,"
     "jusho\n"
     "1000000001,2000000001,山田太郎,ヤマダタロウ,1,19800101,01," ADDR ",千葉市中央区\n"
     "1000000002,2000000001,山田花子,ヤマダハナコ,2,S570202,02," ADDR ",千葉市中央区\n"
     "1000000003,2000000001,山田一郎,ヤマダイチロウ,1,R020303,03," ADDR ",千葉市中央区\n"
     "1000000004,2000000002,佐藤幸子,サトウサチコ,2,19500505,01," ADDR ",\"千葉市,緑区\"\n"
     "1000000005,2000000003,鈴木健,スズキケン,3,19700707,01," ADDR ",千葉市美浜区\n"},
    {"SETAI.csv", "setai_no,setainushi_atena_no,setaiin_su,jusho_code\n"
                  "2000000001,1000000001,3," ADDR "\n"
                  "2000000002,1000000004,1," ADDR "\n"
                  "2000000003,1000000005,1," ADDR "\n"},
    {"ZEI.csv", "atena_no,nendo,kazei_kubun\n"
                "1000000001,2024,1\n"
                "1000000001,2023,2\n"
                "1000000002,2024,1\n"},
    {"KOKUHO.csv", "atena_no,kigo_bango,shutoku_bi,soshitsu_bi\n"
                   "1000000004,K-1,20200101,\n"
                   "1000000005,K-2,20200101,20240401\n"},
    {"SEIHO.csv", "atena_no,kaishi_bi,haishi_bi\n"
                  "1000000004,20230101,20240301\n"},
    {"JIDOTEATE.csv", "atena_no,taisho_jido_su,nintei_bi,shometsu_bi\n"
                      "1000000001,1,20200401,\n"},
    {"KAKUCHO_01.csv", "atena_no,value,jisshi_bi\n"
                       "1000000001,1,20240110\n"},
};
#define N_CLEAN (sizeof(CLEAN) / sizeof(CLEAN[0]))

/* ---- fixtures ---- */

static char tmpl[] = "/tmp/test_extractor-XXXXXX";
static char *root;

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
        char path[512];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(text, 1, len, fp), len);
        fclose(fp);
}

static size_t rows_of(const char *text)
{
        size_t n = 0;

        for (const char *p = strchr(text, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
                n++;
        return n;
}

typedef struct extra {
        const char *file, *text;
        size_t len; /* 0: strlen(text); lets a line hold a NUL byte */
} extra_t;

/* Writes the clean batch into root/sub, with lines appended to some files
 * (extra ends with a NULL file) and, when manifest, a MANIFEST.tsv with
 * rows_delta added to JUMIN.csv's row count. */
static const char *make_batch(const char *sub, const extra_t *extra, int manifest, int rows_delta)
{
        static const char *const types[] = {
            "applicant", "resident",          "household",       "tax",
            "nhi",       "public_assistance", "child_allowance", "ext_01"};
        static char dir[400];
        char mline[512], hex[OSH_SHA256_HEX_LEN + 1];
        uint8_t d[OSH_SHA256_LEN];
        FILE *mf = NULL;

        snprintf(dir, sizeof(dir), "%s/%s", root, sub);
        assert_int_equal(mkdir(dir, 0700), 0);
        if (manifest) {
                snprintf(mline, sizeof(mline), "%s/MANIFEST.tsv", dir);
                mf = fopen(mline, "w");
                assert_non_null(mf);
                fprintf(mf, "# test\nreference_date\t20240401\nencoding\tutf8\n");
        }
        for (size_t i = 0; i < N_CLEAN; i++) {
                size_t n = strlen(CLEAN[i][1]), rows = rows_of(CLEAN[i][1]);
                char *buf = malloc(n + 1);
                assert_non_null(buf);
                memcpy(buf, CLEAN[i][1], n);
                for (const extra_t *e = extra; e && e->file; e++) {
                        size_t el = e->len ? e->len : strlen(e->text);
                        if (strcmp(e->file, CLEAN[i][0]))
                                continue;
                        buf = realloc(buf, n + el + 1);
                        assert_non_null(buf);
                        memcpy(buf + n, e->text, el);
                        n += el;
                        for (size_t k = 0; k < el; k++)
                                rows += e->text[k] == '\n';
                }
                write_file(dir, CLEAN[i][0], buf, n);
                if (mf) {
                        assert_int_equal(osh_sha256(buf, n, d), 0);
                        osh_hex_encode(d, sizeof(d), hex);
                        fprintf(mf, "file\t%s\t%s\t%zu\t%s\n", CLEAN[i][0], types[i],
                                rows + (i == 1 ? (size_t)rows_delta : 0), hex);
                }
                free(buf);
        }
        if (mf)
                fclose(mf);
        return dir;
}

static int setup(void **state)
{
        char err[256];

        (void)state;
        assert_int_equal(osh_serde_init(err, sizeof(err)), 0);
        memcpy(tmpl + sizeof(tmpl) - 7, "XXXXXX", 6);
        root = mkdtemp(tmpl);
        return root ? 0 : -1;
}

static int teardown(void **state)
{
        char cmd[600];

        (void)state;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
                return -1;
        osh_serde_shutdown();
        return 0;
}

static ext_batch_t *open_parse(const char *dir, size_t max_field)
{
        ext_opts_t o = {.input = dir, .reference = "20240401", .max_field = max_field};
        char err[256];
        ext_batch_t *b = ext_batch_open(&o, err, sizeof(err));

        if (!b)
                fail_msg("open: %s", err);
        if (ext_batch_parse(b, err, sizeof(err)))
                fail_msg("parse: %s", err);
        return b;
}

static const ext_file_stats_t *stats(const ext_batch_t *b, const char *name)
{
        for (size_t i = 0; i < ext_batch_file_count(b); i++)
                if (!strcmp(ext_batch_file_name(b, i), name))
                        return ext_batch_file_stats(b, i);
        fail_msg("no file %s", name);
        return NULL;
}

static void assert_reconciled(const ext_batch_t *b)
{
        uint64_t rejected = 0;

        for (size_t i = 0; i < ext_batch_file_count(b); i++) {
                const ext_file_stats_t *s = ext_batch_file_stats(b, i);
                assert_int_equal(s->read, s->joined + s->not_applicant + s->rejected);
                rejected += s->rejected;
        }
        assert_int_equal(rejected, ext_batch_reject_count(b));
}

/* The extractor writes Avro by hand: avro-c must write the decoded value
 * back to the very same bytes (field order, enum and union indexes, blocks). */
static void assert_canonical(avro_value_t *v, const void *val, size_t len)
{
        void *again = NULL;
        size_t again_len = 0;
        char err[256];

        assert_int_equal(osh_serde_encode_alloc(osh_schema_for_topic(OSH_TOPIC_RAW), v, &again,
                                                &again_len, err, sizeof(err)),
                         0);
        assert_int_equal(again_len, len);
        assert_memory_equal(again, val, len);
        free(again);
}

/* Decodes record i; the caller avro_value_decref()s *v. */
static void decode_record(ext_batch_t *b, size_t i, const char **key, avro_value_t *v)
{
        void *val = NULL;
        size_t len = 0;
        char err[256];

        assert_int_equal(ext_batch_encode_record(b, i, key, &val, &len, err, sizeof(err)), 0);
        assert_int_equal(osh_serde_decode(osh_schema_for_topic(OSH_TOPIC_RAW), val, len, v, NULL,
                                          err, sizeof(err)),
                         0);
        assert_canonical(v, val, len);
        free(val);
}

static void assert_enum(avro_value_t *v, const char *field, const char *want)
{
        const char *sym = NULL;

        assert_int_equal(osh_value_get_enum(v, field, &sym), 0);
        assert_string_equal(sym, want);
}

static int get_bool(avro_value_t *v, const char *field)
{
        int x = -1;

        assert_int_equal(osh_value_get_bool(v, field, &x), 0);
        return x;
}

static size_t array_size(avro_value_t *v, const char *field)
{
        avro_value_t a;
        size_t n = 0;

        assert_int_equal(osh_value_field(v, field, &a), 0);
        assert_int_equal(avro_value_get_size(&a, &n), 0);
        return n;
}

/* ---- tests ---- */

static void test_join_and_consent(void **state)
{
        ext_batch_t *b;
        avro_value_t v, ap, cats, item;
        const char *key, *s;
        size_t len;

        (void)state;
        b = open_parse(make_batch("join", NULL, 0, 0), 0);
        /* 1000000005 withdrew consent; everyone else in the files is a member */
        assert_int_equal(ext_batch_record_count(b), 2);
        assert_int_equal(ext_batch_reject_count(b), 0);
        assert_reconciled(b);
        assert_int_equal(stats(b, "JUMIN.csv")->joined, 2);
        assert_int_equal(stats(b, "JUMIN.csv")->not_applicant, 3);
        assert_int_equal(stats(b, "SHINSEI.csv")->joined, 2);
        assert_int_equal(stats(b, "SHINSEI.csv")->not_applicant, 1);
        assert_int_equal(stats(b, "SETAI.csv")->joined, 2);
        assert_int_equal(stats(b, "ZEI.csv")->joined, 2);
        assert_int_equal(stats(b, "ZEI.csv")->not_applicant, 1);
        assert_int_equal(stats(b, "KOKUHO.csv")->not_applicant, 1);

        /* ascending 宛名番号 although SHINSEI lists 1000000004 first */
        decode_record(b, 0, &key, &v);
        assert_string_equal(key, "1000000001");
        assert_int_equal(osh_value_get_string(&v, "name", &s, &len), 0);
        assert_string_equal(s, "山田太郎");
        assert_int_equal(osh_value_get_string(&v, "household_id", &s, &len), 0);
        assert_string_equal(s, "2000000001");
        assert_int_equal(array_size(&v, "household_members"), 2);
        assert_enum(&v, "sex", "MALE");
        assert_enum(&v, "relationship", "HEAD");
        assert_enum(&v, "tax_current", "TAXED");
        assert_enum(&v, "tax_previous", "NOT_TAXED");
        assert_enum(&v, "tax_before_previous", "UNKNOWN");
        assert_int_equal(get_bool(&v, "child_allowance"), 1);
        assert_int_equal(get_bool(&v, "nhi"), 0);
        assert_int_equal(array_size(&v, "source_files"), 6);
        assert_int_equal(osh_value_field(&v, "applicant", &ap), 0);
        assert_int_equal(osh_value_get_string(&ap, "user_id", &s, &len), 0);
        assert_string_equal(s, "U123ABC");
        assert_int_equal(osh_value_field(&ap, "consent_categories", &cats), 0);
        assert_int_equal(avro_value_get_by_index(&cats, 1, &item, NULL), 0);
        assert_int_equal(avro_value_get_string(&item, &s, &len), 0);
        assert_string_equal(s, "single_parent");
        avro_value_decref(&v);

        decode_record(b, 1, &key, &v);
        assert_string_equal(key, "1000000004");
        assert_int_equal(osh_value_get_string(&v, "address_text", &s, &len), 0);
        assert_string_equal(s, "千葉市,緑区");
        assert_int_equal(array_size(&v, "household_members"), 0);
        assert_int_equal(get_bool(&v, "nhi"), 1);
        /* 保護 ended (廃止日 20240301) before the reference date */
        assert_int_equal(get_bool(&v, "public_assistance"), 0);
        assert_int_equal(get_bool(&v, "child_allowance"), 0);
        assert_int_equal(osh_value_field(&v, "applicant", &ap), 0);
        assert_int_equal(osh_value_is_null(&ap, "user_id"), 1);
        avro_value_decref(&v);
        ext_batch_destroy(b);
}

static const ext_reject_t *find_reject(const ext_batch_t *b, const char *file, uint64_t line)
{
        for (size_t i = 0; i < ext_batch_reject_count(b); i++) {
                const ext_reject_t *r = ext_batch_reject(b, i);
                if (r->line == line && !strcmp(ext_batch_file_name(b, r->file), file))
                        return r;
        }
        fail_msg("no reject for %s:%llu", file, (unsigned long long)line);
        return NULL;
}

#define J(atena, rest) atena ",2000000009," rest "\n"
static const char NUL_LINE[] = J("1000000013", "a\0b,b,1,19800101,01," ADDR ",x");

static void test_reject_reasons(void **state)
{
        static char toolong[600];
        const extra_t extra[] = {
            {"JUMIN.csv",                                           /* lines 7..13 */
             J("1000000011", "a,b,1,19800101,01," ADDR ",x,EXTRA")  /* column count */
             J("1000000012", "\xFF\xFE,b,1,19800101,01," ADDR ",x") /* invalid UTF-8 */
             J("1000000014", "a,b,1,20230229,01," ADDR ",x")        /* no such day */
             J("1000000015", "a,b,7,19800101,01," ADDR ",x")        /* sex code */
             J("1000000016", ",b,1,19800101,01," ADDR ",x")         /* no name */
             J("1000000001", "a,b,1,19800101,01," ADDR ",x")        /* registered twice */
             J("1000000017", "a,b,1,H320101,01," ADDR ",x"),        /* outside Heisei */
             0},
            {"JUMIN.csv", NUL_LINE, sizeof(NUL_LINE) - 1}, /* line 14 */
            {"KOKUHO.csv",
             "1000000099,K-9,20200101,\n"  /* line 4: orphan */
             "1000000004,K-1,20200101,\n", /* line 5: twice */
             0},
            {"SHINSEI.csv",
             "1000000098,,1,01,20240301120000\n"  /* line 5: orphan applicant */
             "1000000004,,1,05,20240301120000\n"  /* line 6: bunya 05 */
             "1000000001,,1,01,20240301120000\n", /* line 7: listed twice */
             0},
            {"ZEI.csv", toolong, 0}, /* line 5 */
            {NULL, NULL, 0}};
        static const struct {
                const char *file;
                uint64_t line;
                ext_reason_t reason;
        } want[] = {
            {"JUMIN.csv", 7, EXT_R_PARSE},
            {"JUMIN.csv", 8, EXT_R_ENCODING},
            {"JUMIN.csv", 9, EXT_R_DATE},
            {"JUMIN.csv", 10, EXT_R_CODE},
            {"JUMIN.csv", 11, EXT_R_MISSING},
            {"JUMIN.csv", 12, EXT_R_DUPLICATE},
            {"JUMIN.csv", 13, EXT_R_DATE},
            {"JUMIN.csv", 14, EXT_R_ENCODING},
            {"KOKUHO.csv", 4, EXT_R_UNKNOWN_PERSON},
            {"KOKUHO.csv", 5, EXT_R_DUPLICATE},
            {"SHINSEI.csv", 5, EXT_R_UNKNOWN_PERSON},
            {"SHINSEI.csv", 6, EXT_R_CODE},
            {"SHINSEI.csv", 7, EXT_R_DUPLICATE},
            {"ZEI.csv", 5, EXT_R_TOO_LONG},
        };
        char longf[300];
        ext_batch_t *b;

        (void)state;
        memset(longf, 'A', sizeof(longf) - 1);
        longf[sizeof(longf) - 1] = '\0';
        snprintf(toolong, sizeof(toolong), "1000000001,2022,%s\n", longf);
        b = open_parse(make_batch("rejects", extra, 0, 0), 0);
        assert_reconciled(b);
        assert_int_equal(ext_batch_reject_count(b), sizeof(want) / sizeof(want[0]));
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                const ext_reject_t *r = find_reject(b, want[i].file, want[i].line);
                if (r->reason != want[i].reason)
                        fail_msg("%s:%llu: %s, want %s", want[i].file,
                                 (unsigned long long)want[i].line, ext_reason_symbol(r->reason),
                                 ext_reason_symbol(want[i].reason));
                /* the raw line is kept for the dead letter; the detail names no one */
                assert_non_null(r->raw);
                assert_null(strstr(r->detail, "1000000"));
        }
        /* located without content: the field cut by the CSV reader, the line */
        assert_int_equal(find_reject(b, "ZEI.csv", 5)->column, 3);
        assert_int_equal(find_reject(b, "ZEI.csv", 5)->field_len, 299);
        assert_int_equal(find_reject(b, "JUMIN.csv", 7)->column, 0);
        assert_int_equal(find_reject(b, "JUMIN.csv", 8)->column, 3);
        assert_int_equal(find_reject(b, "JUMIN.csv", 13)->column, 6);
        /* the bad lines change nothing about the good ones */
        assert_int_equal(ext_batch_record_count(b), 2);
        assert_int_equal(stats(b, "JUMIN.csv")->read, 13);
        assert_int_equal(stats(b, "JUMIN.csv")->rejected, 8);
        ext_batch_destroy(b);
}

/* 宛名番号 and address codes are checked and converted eight bytes at a
 * time: a non-digit anywhere (also ':' and '?', which share the digits'
 * high nibble), too few or too many digits, or all zeros is a BAD_CODE; a
 * good key keeps every digit. */
static void test_key_digits(void **state)
{
        static const char *const bad_keys[] = {"100:000001", "1000000?01", "10000000:1",
                                               "100000000?", ":000000001", "10000/0001",
                                               "0000000000", "100000001",  "10000000011"};
        static char zei[512];
        const extra_t extra[] = {
            {"JUMIN.csv",
             J("9876543210", "数字,スウジ,1,19800101,01," ADDR ",x")                /* line 7 */
             J("1000000021", "a,b,1,19800101,01,12101000010001:001000000000000,x"), /* line 8 */
             0},
            {"SHINSEI.csv", "9876543210,,1,01,20240301120000\n", 0},
            {"ZEI.csv", zei, 0},
            {NULL, NULL, 0}};
        avro_value_t v;
        const char *key;
        size_t o = 0;
        ext_batch_t *b;

        (void)state;
        for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) /* lines 5.. */
                o += (size_t)snprintf(zei + o, sizeof(zei) - o, "%s,2024,1\n", bad_keys[i]);
        snprintf(zei + o, sizeof(zei) - o, "9876543210,2024,2\n");
        b = open_parse(make_batch("digits", extra, 0, 0), 0);
        assert_reconciled(b);
        for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
                const ext_reject_t *r = find_reject(b, "ZEI.csv", 5 + i);
                if (r->reason != EXT_R_CODE || r->column != 1)
                        fail_msg("%s: %s at column %u", bad_keys[i], ext_reason_symbol(r->reason),
                                 r->column);
        }
        assert_int_equal(find_reject(b, "JUMIN.csv", 8)->reason, EXT_R_CODE);
        assert_int_equal(find_reject(b, "JUMIN.csv", 8)->column, 8);
        assert_int_equal(ext_batch_reject_count(b), sizeof(bad_keys) / sizeof(bad_keys[0]) + 1);
        assert_int_equal(ext_batch_record_count(b), 3);
        decode_record(b, 2, &key, &v);
        assert_string_equal(key, "9876543210");
        assert_enum(&v, "tax_current", "NOT_TAXED");
        avro_value_decref(&v);
        ext_batch_destroy(b);
}

/* Decodes reject i of b into *v (caller decrefs); the bytes into *val. */
static void decode_reject(ext_batch_t *b, size_t i, avro_value_t *v, void **val, size_t *len)
{
        char err[256], key[96];

        assert_int_equal(
            ext_batch_encode_reject(b, i, 1, key, sizeof(key), val, len, err, sizeof(err)), 0);
        assert_int_equal(osh_serde_decode(osh_schema_for_topic(OSH_TOPIC_REJECTS), *val, *len, v,
                                          NULL, err, sizeof(err)),
                         0);
}

static int has_bytes(const void *hay, size_t n, const char *needle)
{
        return memmem(hay, n, needle, strlen(needle)) != NULL;
}

/* Duplicate and unknown-person rows: the rejects say file, line, column,
 * field and length, and carry no name, birth date or address unless the
 * operator turns raw lines on, and then only raw_max bytes of them. */
static void test_reject_privacy(void **state)
{
        const extra_t extra[] = {
            {"JUMIN.csv",
             "1000000001,2000000001,山田太郎,ヤマダタロウ,1,19800101,01," ADDR ",千葉市中央区\n",
             0},                                                     /* line 7: registered twice */
            {"SHINSEI.csv", "1000000098,,1,01,20240301120000\n", 0}, /* line 5: unknown */
            {"ZEI.csv", "1000000001,2022,3\n", 0},                   /* line 5: kazei_kubun */
            {NULL, NULL, 0}};
        static const char *const pii[] = {"山田", "ヤマダ", "19800101", "千葉市", ADDR};
        ext_opts_t o = {.reference = "20240401"};
        const char *dir = make_batch("privacy", extra, 0, 0), *s;
        char err[256];
        ext_batch_t *b;
        avro_value_t v;
        void *val;
        size_t len, n;
        int32_t col;
        int64_t flen;
        const void *raw;

        (void)state;
        o.input = dir;
        for (int with_raw = 0; with_raw < 2; with_raw++) {
                o.raw_max = with_raw ? 12 : 0;
                b = ext_batch_open(&o, err, sizeof(err));
                assert_non_null(b);
                assert_int_equal(ext_batch_parse(b, err, sizeof(err)), 0);
                assert_int_equal(ext_batch_reject_count(b), 3);
                for (size_t i = 0; i < 3; i++) {
                        const ext_reject_t *r = ext_batch_reject(b, i);
                        decode_reject(b, i, &v, &val, &len);
                        for (size_t k = 0; !with_raw && k < sizeof(pii) / sizeof(pii[0]); k++)
                                if (has_bytes(val, len, pii[k]))
                                        fail_msg("reject %zu holds personal data (%zu)", i, k);
                        assert_int_equal(osh_value_get_bytes(&v, "raw", &raw, &n), 0);
                        assert_int_equal(n, with_raw ? 12 : 0);
                        assert_int_equal(osh_value_get_long(&v, "raw_length", &flen), 0);
                        assert_int_equal(flen, r->raw_len);
                        assert_int_equal(osh_value_get_int(&v, "column", &col), 0);
                        assert_int_equal(osh_value_get_string(&v, "field", &s, &n), 0);
                        assert_int_equal(osh_value_get_long(&v, "field_length", &flen), 0);
                        if (r->reason == EXT_R_CODE) { /* ZEI.csv kazei_kubun */
                                assert_int_equal(col, 3);
                                assert_string_equal(s, "kazei_kubun");
                                assert_int_equal(flen, 1);
                        } else { /* the key: atena_no */
                                assert_int_equal(col, 1);
                                assert_string_equal(s, "atena_no");
                                assert_int_equal(flen, 10);
                        }
                        avro_value_decref(&v);
                        free(val);
                }
                ext_batch_destroy(b);
        }
}

static void encode_all(ext_batch_t *b, char **blob, size_t *blob_len)
{
        char err[256];

        *blob = NULL;
        *blob_len = 0;
        for (size_t i = 0; i < ext_batch_record_count(b); i++) {
                const char *key;
                void *val = NULL;
                size_t len = 0;
                assert_int_equal(ext_batch_encode_record(b, i, &key, &val, &len, err, sizeof(err)),
                                 0);
                *blob = realloc(*blob, *blob_len + len + 11);
                assert_non_null(*blob);
                memcpy(*blob + *blob_len, key, 11);
                memcpy(*blob + *blob_len + 11, val, len);
                *blob_len += len + 11;
                free(val);
        }
}

static ext_batch_t *open_chunked(const char *dir, size_t chunk, size_t threads)
{
        ext_opts_t o = {
            .input = dir, .reference = "20240401", .chunk_bytes = chunk, .threads = threads};
        char err[256];
        ext_batch_t *b = ext_batch_open(&o, err, sizeof(err));

        if (!b || ext_batch_parse(b, err, sizeof(err)))
                fail_msg("chunk %zu threads %zu: %s", chunk, threads, err);
        return b;
}

/* Records handed out one after another (the emit loop) are the records
 * encoded one at a time, whatever came before; the hash is the batch's. */
static void assert_records_alike(ext_batch_t *b)
{
        char err[256];

        for (size_t n = ext_batch_record_count(b), i = n; i-- > 0;) {
                const char *k1, *k2;
                const void *v2;
                void *v1;
                size_t l1, l2;
                uint64_t h;
                assert_int_equal(ext_batch_encode_record(b, i, &k1, &v1, &l1, err, sizeof(err)), 0);
                assert_int_equal(ext_batch_record(b, (i + 1) % n, &k2, &v2, &l2, NULL), 0);
                assert_int_equal(ext_batch_record(b, i, &k2, &v2, &l2, &h), 0);
                assert_string_equal(k1, k2);
                assert_int_equal(l1, l2);
                assert_memory_equal(v1, v2, l1);
                assert_true(h == osh_batch_record_hash(k1, strlen(k1), v1, l1));
                free(v1);
        }
}

static void assert_same_batch(ext_batch_t *x, ext_batch_t *y)
{
        char *bx, *by;
        size_t lx, ly;

        assert_int_equal(ext_batch_reject_count(x), ext_batch_reject_count(y));
        for (size_t i = 0; i < ext_batch_reject_count(x); i++) {
                const ext_reject_t *r = ext_batch_reject(x, i), *q = ext_batch_reject(y, i);
                assert_int_equal(r->file, q->file);
                assert_int_equal(r->line, q->line);
                assert_int_equal(r->reason, q->reason);
                assert_string_equal(r->detail, q->detail);
                assert_int_equal(r->raw_len, q->raw_len);
                assert_memory_equal(r->raw, q->raw, r->raw_len);
        }
        for (size_t i = 0; i < ext_batch_file_count(x); i++)
                assert_memory_equal(ext_batch_file_stats(x, i), ext_batch_file_stats(y, i),
                                    sizeof(ext_file_stats_t));
        assert_int_equal(ext_batch_gaiji(x), ext_batch_gaiji(y));
        encode_all(x, &bx, &lx);
        encode_all(y, &by, &ly);
        assert_int_equal(lx, ly);
        assert_memory_equal(bx, by, lx);
        free(bx);
        free(by);
        assert_records_alike(y);
}

/* Files are scanned in chunks by several threads and joined in order:
 * whatever the chunk size (down to one byte, so boundaries fall inside
 * quoted line breaks, CRLFs and multi-byte characters) and thread count,
 * the batch is the one a single pass reads, rejects and line numbers
 * included. */
static void test_chunks_change_nothing(void **state)
{
        const extra_t extra[] = {
            {"JUMIN.csv",
             "1000000021,2000000021,\"田中\r\n一\",タナカ,1,19800101,01," ADDR ",\"千葉市\n"
             "中央区\n1-1\"\r\n"
             "\n"
             "1000000022,2000000021,田中二,タナカ,2,19810101,02," ADDR ",x\r\n"
             "1000000023,2000000023,\"bad\"quote,タナカ,2,19810101,02," ADDR ",x\n"
             "1000000001,2000000001,重複,ジュウフク,1,19800101,01," ADDR ",x\n",
             0},
            {"SHINSEI.csv",
             "1000000021,,1,01,20240301120000\n"
             "1000000022,ID22,1,02;03,20240301120000\n",
             0},
            {"KOKUHO.csv",
             "1000000097,K-9,2020XXXX,\n"  /* unknown person outranks the date */
             "1000000002,K-3,20201399,\n"  /* a known person's bad date */
             "1000000021,K-4,20200101,\n", /* joined */
             0},
            {"ZEI.csv", "1000000021,2024,1\n1000000021,2024,2\n", 0},
            {NULL, NULL, 0}};
        static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 31, 64, 200};
        const char *dir = make_batch("chunks", extra, 0, 0);
        ext_batch_t *one = open_parse(dir, 0);

        (void)state;
        assert_reconciled(one);
        assert_int_equal(ext_batch_record_count(one), 4);
        assert_int_equal(find_reject(one, "KOKUHO.csv", 4)->reason, EXT_R_UNKNOWN_PERSON);
        assert_int_equal(find_reject(one, "KOKUHO.csv", 5)->reason, EXT_R_DATE);
        assert_int_equal(find_reject(one, "JUMIN.csv", 13)->reason, EXT_R_PARSE);
        assert_int_equal(find_reject(one, "JUMIN.csv", 14)->reason, EXT_R_DUPLICATE);
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
                for (size_t t = 1; t <= 3; t++) {
                        ext_batch_t *b = open_chunked(dir, chunks[c], t);
                        assert_same_batch(one, b);
                        ext_batch_destroy(b);
                }
        }
        ext_batch_destroy(one);
}

static void encode_one(ext_batch_t *b, size_t i, void **val, size_t *len)
{
        const char *key;
        char err[256];

        assert_int_equal(ext_batch_encode_record(b, i, &key, val, len, err, sizeof(err)), 0);
}

/* The encoder reuses one value: nothing of a record (members, categories,
 * extensions, files) may leak into the next, in any order. */
static void test_encode_reuse(void **state)
{
        ext_batch_t *b = open_parse(make_batch("reuse1", NULL, 0, 0), 0);
        ext_batch_t *c = open_parse(make_batch("reuse2", NULL, 0, 0), 0);
        void *v0, *v1, *w;
        size_t l0, l1, lw;
        const size_t order[] = {1, 0, 1, 0};

        (void)state;
        encode_one(b, 0, &v0, &l0);
        encode_one(b, 1, &v1, &l1);
        assert_true(l0 > l1); /* record 0 has members, categories, extensions */
        for (size_t k = 0; k < 4; k++) {
                encode_one(c, order[k], &w, &lw);
                assert_int_equal(lw, order[k] ? l1 : l0);
                assert_memory_equal(w, order[k] ? v1 : v0, lw);
                free(w);
        }
        free(v0);
        free(v1);
        ext_batch_destroy(b);
        ext_batch_destroy(c);
}

/* Same files (even elsewhere) and reference date: the same batch id and
 * byte-identical records; another reference date or content: another id. */
static void test_determinism(void **state)
{
        char id[64], *x, *y;
        size_t xl, yl;
        ext_batch_t *b = open_parse(make_batch("det1", NULL, 0, 0), 0), *c;
        const extra_t more[] = {{"ZEI.csv", "1000000004,2024,2\n", 0}, {NULL, NULL, 0}};
        ext_opts_t o = {.input = NULL, .reference = "20240402"};
        char err[256];

        (void)state;
        snprintf(id, sizeof(id), "%s", ext_batch_id(b));
        assert_int_equal(strncmp(id, "B20240401-", 10), 0);
        assert_int_equal(strlen(id), 26);
        encode_all(b, &x, &xl);
        c = open_parse(make_batch("det2", NULL, 0, 0), 0);
        assert_string_equal(ext_batch_id(c), id);
        encode_all(c, &y, &yl);
        assert_int_equal(xl, yl);
        assert_memory_equal(x, y, xl);
        free(y);
        ext_batch_destroy(c);
        o.input = make_batch("det3", NULL, 0, 0);
        c = ext_batch_open(&o, err, sizeof(err));
        assert_non_null(c);
        assert_string_equal(ext_batch_id(c), ""); /* no manifest: known once verified */
        assert_int_equal(ext_batch_verify(c, err, sizeof(err)), 0);
        assert_string_not_equal(ext_batch_id(c), id);
        ext_batch_destroy(c);
        c = open_parse(make_batch("det4", more, 0, 0), 0);
        assert_string_not_equal(ext_batch_id(c), id);
        encode_all(c, &y, &yl);
        assert_true(xl != yl || memcmp(x, y, xl));
        free(x);
        free(y);
        ext_batch_destroy(c);
        ext_batch_destroy(b);
}

/* ---- running a batch through a capturing sink ---- */

typedef struct event {
        char kind; /* S(tart) E(nd) R(aw record) J (reject) */
        char key[64];
        void *val;
        size_t len;
        osh_batch_marker_t m;
} event_t;

typedef struct capture {
        event_t ev[64];
        size_t n, pending;
        int fail_send_at; /* fail the n-th send (1-based), 0 never */
        int fail_flush;
        size_t sends;
} capture_t;

static int cap_send(void *opaque, const char *topic, const char *batch_id, const char *key,
                    const void *val, size_t len)
{
        capture_t *c = opaque;
        event_t *e = &c->ev[c->n];

        (void)batch_id;
        if (++c->sends == (size_t)c->fail_send_at || c->n == 64)
                return -1;
        e->kind = !strcmp(topic, OSH_TOPIC_RAW)       ? 'R'
                  : !strcmp(topic, OSH_TOPIC_REJECTS) ? 'J'
                                                      : '?';
        snprintf(e->key, sizeof(e->key), "%s", key);
        e->val = malloc(len);
        assert_non_null(e->val);
        memcpy(e->val, val, len);
        e->len = len;
        c->n++;
        return 0;
}

static int cap_marker(void *opaque, const osh_batch_marker_t *m, const char *instance)
{
        capture_t *c = opaque;

        (void)instance;
        if (c->n == 64)
                return -1;
        c->ev[c->n].kind = m->is_end ? 'E' : 'S';
        c->ev[c->n].m = *m;
        c->ev[c->n++].val = NULL;
        return 0;
}

static int cap_flush(void *opaque)
{
        return ((capture_t *)opaque)->fail_flush ? -1 : 0;
}

static void cap_reset(capture_t *c)
{
        for (size_t i = 0; i < c->n; i++)
                free(c->ev[i].val);
        memset(c, 0, sizeof(*c));
}

static ext_sink_t sink_of(capture_t *c)
{
        ext_sink_t s = {cap_send, cap_marker, cap_flush, c};
        return s;
}

static const char *kinds(const capture_t *c)
{
        static char k[65];

        for (size_t i = 0; i < c->n; i++)
                k[i] = c->ev[i].kind;
        k[c->n] = '\0';
        return k;
}

static ext_run_opts_t run_opts(const char *input, const char *ledger)
{
        ext_run_opts_t o;

        memset(&o, 0, sizeof(o));
        o.input = input;
        o.ledger = ledger;
        o.ext.reference = "20240401";
        return o;
}

/* START, records in key order, rejects, END with count + checksum; then the
 * ledger makes a re-run a no-op; --force re-emits identical records. */
static void test_run_and_ledger(void **state)
{
        const extra_t bad[] = {{"KOKUHO.csv", "1000000099,K-9,20200101,\n", 0}, {NULL, NULL, 0}};
        char ledger[512];
        capture_t c, d;
        ext_sink_t s = sink_of(&c);
        ext_run_opts_t o;
        osh_batch_sum_t sum = {0, 0};
        char hex[17];
        struct stat st;

        (void)state;
        memset(&c, 0, sizeof(c));
        memset(&d, 0, sizeof(d));
        snprintf(ledger, sizeof(ledger), "%s/ledger-run", root);
        o = run_opts(make_batch("run", bad, 1, 0), ledger);
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        assert_string_equal(kinds(&c), "SRRJE");
        assert_string_equal(c.ev[1].key, "1000000001");
        assert_string_equal(c.ev[2].key, "1000000004");
        assert_string_equal(c.ev[3].key, "KOKUHO.csv:4");
        assert_string_equal(c.ev[0].m.batch_id, c.ev[4].m.batch_id);
        assert_int_equal(c.ev[4].m.record_count, 2);
        assert_int_equal(c.ev[0].m.reference_date, osh_date_to_days(2024, 4, 1));
        for (size_t i = 1; i <= 2; i++)
                osh_batch_sum_add(&sum, c.ev[i].key, strlen(c.ev[i].key), c.ev[i].val, c.ev[i].len);
        osh_batch_sum_hex(&sum, hex);
        assert_string_equal(c.ev[4].m.checksum, hex);
        assert_int_equal(stat(ledger, &st), 0);

        /* the same batch again: nothing at all */
        s = sink_of(&d);
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_NOOP);
        assert_int_equal(d.n, 0);
        /* forced: the same records again, byte for byte, same batch id */
        o.force = 1;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        assert_string_equal(kinds(&d), "SRRJE");
        assert_string_equal(d.ev[4].m.batch_id, c.ev[4].m.batch_id);
        for (size_t i = 1; i <= 2; i++) {
                assert_int_equal(d.ev[i].len, c.ev[i].len);
                assert_memory_equal(d.ev[i].val, c.ev[i].val, c.ev[i].len);
        }
        assert_string_equal(d.ev[4].m.checksum, hex);
        cap_reset(&c);
        cap_reset(&d);
}

/* A manifest whose checksum or row count does not match, or an undelivered
 * record: the batch fails, no END marker, no ledger entry. */
static void test_failures(void **state)
{
        char ledger[512], path[512];
        capture_t c;
        ext_sink_t s = sink_of(&c);
        ext_run_opts_t o;
        struct stat st;
        const char *dir;
        FILE *fp;

        (void)state;
        memset(&c, 0, sizeof(c));
        snprintf(ledger, sizeof(ledger), "%s/ledger-fail", root);
        /* row count: the manifest says one more line than JUMIN.csv has */
        o = run_opts(make_batch("rows", NULL, 1, 1), ledger);
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_FAILED);
        assert_int_equal(c.n, 0);
        /* checksum: a file altered after the manifest was written */
        dir = make_batch("sha", NULL, 1, 0);
        snprintf(path, sizeof(path), "%s/ZEI.csv", dir);
        fp = fopen(path, "a");
        assert_non_null(fp);
        fputs("1000000004,2024,2\n", fp);
        fclose(fp);
        o = run_opts(dir, ledger);
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_FAILED);
        assert_int_equal(c.n, 0);
        /* a file listed but missing */
        dir = make_batch("missing", NULL, 1, 0);
        snprintf(path, sizeof(path), "%s/SEIHO.csv", dir);
        assert_int_equal(unlink(path), 0);
        o = run_opts(dir, ledger);
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_FAILED);
        assert_int_equal(c.n, 0);
        /* without a manifest, a last line without its line break */
        dir = make_batch("trunc", NULL, 0, 0);
        snprintf(path, sizeof(path), "%s/ZEI.csv", dir);
        assert_int_equal(truncate(path, (off_t)strlen(CLEAN[3][1]) - 1), 0);
        o = run_opts(dir, ledger);
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_FAILED);
        assert_int_equal(c.n, 0);
        /* the second record is not delivered: START and one record, no END */
        o = run_opts(make_batch("deliver", NULL, 1, 0), ledger);
        c.fail_send_at = 2;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_UNDELIVERED);
        assert_string_equal(kinds(&c), "SR");
        cap_reset(&c);
        /* every send accepted, but the flush reports an undelivered one */
        c.fail_flush = 1;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_UNDELIVERED);
        assert_null(strchr(kinds(&c), 'E'));
        assert_int_equal(stat(ledger, &st), -1);
        cap_reset(&c);
        /* and once delivery works, the same batch goes through */
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        assert_string_equal(kinds(&c), "SRRE");
        cap_reset(&c);
}

static void copy_batch(const char *from, const char *to)
{
        char cmd[1200];

        snprintf(cmd, sizeof(cmd), "cp -r '%s' '%s'", from, to);
        assert_int_equal(system(cmd), 0);
}

/* A drop directory: a new batch directory is extracted once its manifest
 * is there; an unchanged one is not re-read; the same files under another
 * name are a ledger no-op. */
static void test_watch(void **state)
{
        char drop[512], ledger[512], to[600], src[400], man[700];
        capture_t c;
        ext_sink_t s = sink_of(&c);
        ext_watch_t *w = ext_watch_new();
        ext_run_opts_t o;
        unsigned ran = 0;

        (void)state;
        memset(&c, 0, sizeof(c));
        assert_non_null(w);
        snprintf(drop, sizeof(drop), "%s/drop", root);
        snprintf(ledger, sizeof(ledger), "%s/ledger-watch", root);
        assert_int_equal(mkdir(drop, 0700), 0);
        snprintf(src, sizeof(src), "%s", make_batch("w-src", NULL, 1, 0));
        o = run_opts(drop, ledger);
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_NOOP);
        assert_int_equal(ran, 0);
        /* a batch still being copied: no manifest yet */
        snprintf(to, sizeof(to), "%s/b1", drop);
        copy_batch(src, to);
        snprintf(man, sizeof(man), "%s/MANIFEST.tsv", to);
        snprintf(src + strlen(src), sizeof(src) - strlen(src), "/MANIFEST.tsv");
        assert_int_equal(unlink(man), 0);
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_NOOP);
        assert_int_equal(ran, 0);
        copy_batch(src, man);
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_DONE);
        assert_int_equal(ran, 1);
        assert_string_equal(kinds(&c), "SRRE");
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_NOOP);
        assert_int_equal(ran, 1); /* unchanged: not even re-read */
        /* the same batch dropped again under another name */
        *strrchr(src, '/') = '\0';
        snprintf(to, sizeof(to), "%s/b2", drop);
        copy_batch(src, to);
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_NOOP);
        assert_int_equal(ran, 2);
        assert_string_equal(kinds(&c), "SRRE");
        ext_watch_destroy(w);
        cap_reset(&c);
}

/* Under --watch a failed batch is read once, not every poll, until its
 * files change; one that was not delivered is tried again after 1, 2, 4
 * ... polls, never in a loop. */
static void test_watch_failures(void **state)
{
        char drop[512], man[400], good[400];
        capture_t c;
        ext_sink_t s = sink_of(&c);
        ext_watch_t *w = ext_watch_new();
        ext_run_opts_t o;
        unsigned ran = 0;
        const char *dir;

        (void)state;
        memset(&c, 0, sizeof(c));
        snprintf(drop, sizeof(drop), "%s/wf", root);
        assert_int_equal(mkdir(drop, 0700), 0);
        /* the manifest's row count is wrong: failed once, then left alone */
        dir = make_batch("wf/b1", NULL, 1, 1);
        snprintf(man, sizeof(man), "%s/MANIFEST.tsv", dir);
        o = run_opts(drop, NULL);
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_FAILED);
        for (int i = 0; i < 5; i++)
                assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_NOOP);
        assert_int_equal(ran, 1);
        assert_int_equal(c.n, 0);
        /* its files change (a corrected manifest): read again, and emitted */
        snprintf(good, sizeof(good), "%s/MANIFEST.tsv", make_batch("wf-good", NULL, 1, 0));
        copy_batch(good, man);
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_DONE);
        assert_int_equal(ran, 2);
        assert_string_equal(kinds(&c), "SRRE");
        cap_reset(&c);
        /* not delivered: tried again after 1, then 2, then 4 polls */
        dir = make_batch("wf/b2",
                         (const extra_t[]){{"ZEI.csv", "1000000004,2024,2\n", 0}, {NULL, NULL, 0}},
                         1, 0);
        (void)dir;
        c.fail_flush = 1;
        static const int runs[] = {1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1};
        for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
                unsigned before = ran;
                ext_result_t r = ext_poll(w, NULL, &s, &o, &ran);
                assert_int_equal(ran - before, runs[i]);
                assert_int_equal(r, runs[i] ? EXT_UNDELIVERED : EXT_NOOP);
        }
        c.fail_flush = 0;
        while (ext_poll(w, NULL, &s, &o, &ran) == EXT_NOOP)
                ;
        assert_int_equal(ext_poll(w, NULL, &s, &o, &ran), EXT_NOOP);
        ext_watch_destroy(w);
        cap_reset(&c);
}

static const char *batch_id_of(const char *dir)
{
        static char id[64];
        ext_opts_t o = {.input = dir, .reference = "20240401"};
        char err[256];
        ext_batch_t *b = ext_batch_open(&o, err, sizeof(err));

        assert_non_null(b);
        assert_int_equal(ext_batch_verify(b, err, sizeof(err)), 0);
        snprintf(id, sizeof(id), "%s", ext_batch_id(b));
        ext_batch_destroy(b);
        return id;
}

/* Batches that would empty the cloud: no JUMIN.csv or SHINSEI.csv, every
 * line of a file in the wrong encoding, a snapshot much smaller than the
 * last one, too many rejects, no batch at all; and birth dates after the
 * reference date. Nothing is emitted unless an operator confirms. */
static void test_snapshot_guards(void **state)
{
        const extra_t more[] = {{"SHINSEI.csv",
                                 "1000000002,,1,01,20240301120000\n"
                                 "1000000003,,1,01,20240301120000\n",
                                 0},
                                {NULL, NULL, 0}};
        const extra_t born[] = {{"JUMIN.csv", J("1000000019", "a,b,1,20250101,01," ADDR ",x"), 0},
                                {NULL, NULL, 0}};
        char ledger[512], path[600], err[256], two[400];
        capture_t c;
        ext_sink_t s = sink_of(&c);
        ext_run_opts_t o;
        const char *dir;
        ext_opts_t eo = {.reference = "20240401"};
        ext_batch_t *b;

        (void)state;
        memset(&c, 0, sizeof(c));
        snprintf(ledger, sizeof(ledger), "%s/ledger-guards", root);
        /* required files */
        for (int i = 0; i < 2; i++) {
                dir = make_batch(i ? "g-noapp" : "g-nores", NULL, 0, 0);
                snprintf(path, sizeof(path), "%s/%s", dir, i ? "SHINSEI.csv" : "JUMIN.csv");
                assert_int_equal(unlink(path), 0);
                eo.input = dir;
                assert_null(ext_batch_open(&eo, err, sizeof(err)));
                assert_non_null(strstr(err, i ? "no SHINSEI.csv" : "no JUMIN.csv"));
                o = run_opts(dir, ledger);
                assert_int_equal(ext_poll(NULL, NULL, &s, &o, NULL), EXT_FAILED);
                assert_int_equal(c.n, 0);
        }
        /* every line of JUMIN.csv in another encoding than declared */
        dir = make_batch("g-enc", NULL, 0, 0);
        eo.input = dir;
        eo.encoding = "utf8";
        write_file(dir, "JUMIN.csv", CLEAN[1][1],
                   (size_t)(strchr(CLEAN[1][1], '\n') - CLEAN[1][1] + 1));
        {
                FILE *fp;
                char jp[500];
                snprintf(jp, sizeof(jp), "%s/JUMIN.csv", dir);
                fp = fopen(jp, "ab");
                assert_non_null(fp);
                for (int k = 1; k <= 5; k++)
                        fprintf(fp, "100000000%d,2000000001,\xff\xfe,k,1,19800101,01," ADDR ",x\n",
                                k);
                fclose(fp);
        }
        b = ext_batch_open(&eo, err, sizeof(err));
        assert_non_null(b);
        assert_int_equal(ext_batch_parse(b, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "JUMIN.csv: every line is invalid utf8"));
        ext_batch_destroy(b);
        eo.encoding = NULL;
        /* a birth date after the reference date */
        b = open_parse(make_batch("g-born", born, 0, 0), 0);
        assert_int_equal(find_reject(b, "JUMIN.csv", 7)->reason, EXT_R_DATE);
        assert_int_equal(find_reject(b, "JUMIN.csv", 7)->column, 6);
        ext_batch_destroy(b);
        /* a snapshot of 4, then one of 2: held at 40 %, until confirmed */
        o = run_opts(make_batch("g-4", more, 1, 0), ledger);
        o.hold_shrink_pct = 40;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        assert_string_equal(kinds(&c), "SRRRRE");
        cap_reset(&c);
        snprintf(two, sizeof(two), "%s", make_batch("g-2", NULL, 1, 0));
        dir = two;
        o.input = dir;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_HELD);
        assert_int_equal(c.n, 0);
        o.hold_shrink_pct = 60; /* a 50 % fall is within 60 % */
        o.force = 1;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        cap_reset(&c);
        o.hold_shrink_pct = 40;
        o.input = make_batch("g-4b", more, 1, 0); /* the same 4 again: growing is fine */
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        cap_reset(&c);
        o.input = dir;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_HELD);
        o.confirm = batch_id_of(dir);
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        assert_string_equal(kinds(&c), "SRRE");
        cap_reset(&c);
        /* too many rejects: 8 of 25 lines */
        o = run_opts(make_batch("g-rej", NULL, 0, 0), NULL);
        o.hold_reject_pct = 10;
        dir = o.input;
        {
                FILE *fp;
                snprintf(path, sizeof(path), "%s/KOKUHO.csv", dir);
                fp = fopen(path, "ab");
                assert_non_null(fp);
                for (int k = 0; k < 8; k++)
                        fprintf(fp, "19999999%02d,K-1,20200101,\n", k);
                fclose(fp);
        }
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_HELD);
        assert_int_equal(c.n, 0);
        o.hold_reject_pct = 50;
        assert_int_equal(ext_run_once(NULL, &s, &o), EXT_DONE);
        cap_reset(&c);
        /* no batch: export files without JUMIN.csv or a manifest; an empty
         * directory read once; an empty drop directory watched is fine */
        snprintf(path, sizeof(path), "%s/g-empty", root);
        assert_int_equal(mkdir(path, 0700), 0);
        o = run_opts(path, NULL);
        assert_int_equal(ext_poll(NULL, NULL, &s, &o, NULL), EXT_FAILED);
        {
                ext_watch_t *w = ext_watch_new();
                assert_int_equal(ext_poll(w, NULL, &s, &o, NULL), EXT_NOOP);
                ext_watch_destroy(w);
        }
        assert_int_equal(c.n, 0);
}

/* A named pipe, a directory or a device where a file is expected is
 * refused at once, never opened for a blocking read (alarm: the old
 * extractor hung in open()). */
static void test_non_regular(void **state)
{
        static const char *const name[] = {"KOKUHO.csv", "SEIHO.csv", "MANIFEST.tsv", "ZEI.csv"};
        char path[600], err[256];
        ext_opts_t o = {.reference = "20240401"};

        (void)state;
        alarm(20);
        for (int i = 0; i < 4; i++) {
                char sub[32];
                snprintf(sub, sizeof(sub), "nonreg-%d", i);
                o.input = make_batch(sub, NULL, i == 2, 0);
                snprintf(path, sizeof(path), "%s/%s", o.input, name[i]);
                assert_int_equal(unlink(path), 0);
                if (i == 1)
                        assert_int_equal(mkdir(path, 0700), 0);
                else if (i == 3)
                        assert_int_equal(symlink("/dev/zero", path), 0);
                else
                        assert_int_equal(mkfifo(path, 0600), 0);
                assert_null(ext_batch_open(&o, err, sizeof(err)));
                assert_non_null(strstr(err, name[i]));
                assert_non_null(strstr(err, i == 1   ? "a directory, refused"
                                            : i == 3 ? "a character device, refused"
                                                     : "a named pipe, refused"));
        }
        alarm(0);
}

/* Runs the service's configure on args (after "extractor"); 0 / -1 with
 * err. A value of the wrong type fails in the config loader instead. */
static int configure_with(const char *const *args, char *err, size_t err_size)
{
        char *argv[16] = {"extractor"};
        char *const env[] = {NULL};
        osh_service_t svc;
        void *conf = NULL;
        int argc = 1, rc;

        memset(&svc, 0, sizeof(svc));
        for (; args[argc - 1]; argc++)
                argv[argc] = (char *)args[argc - 1];
        svc.name = "extractor";
        svc.cfg = osh_config_new("extractor", ext_service_app.table, ext_service_app.ntable);
        assert_non_null(svc.cfg);
        rc = osh_config_load(svc.cfg, argc, argv, env, err, err_size);
        if (!rc)
                rc = ext_service_app.configure(&svc, &conf, err, err_size);
        ext_service_app.unconfigure(conf);
        osh_config_destroy(svc.cfg);
        return rc;
}

/* --check fails exactly when the run would: every value the run refuses
 * is refused by configure, naming the key (an unknown gaiji replacement
 * used to become U+FFFD, an unknown encoding passed until the batch). */
static void test_configure(void **state)
{
        static const struct {
                const char *args[6], *want;
        } bad[] = {
            {{NULL}, "input is required"},
            {{"--input", "/nonexistent/batch", NULL}, "input /nonexistent/batch"},
            {{"--input", "http://example.jp/MANIFEST.tsv", NULL}, "not an ftp://"},
            {{"--input", "/tmp", "--encoding", "bogus", NULL}, "encoding: unknown value"},
            {{"--input", "/tmp", "--gaiji.replacement", "bogus", NULL},
             "gaiji.replacement: unknown value"},
            {{"--input", "/tmp", "--reference.date", "20240231", NULL}, "reference.date"},
            {{"--input", "/tmp", "--reference.date", "R060401", NULL}, "reference.date"},
            {{"--input", "/tmp", "--max.field", "1M", NULL}, "max.field"},
            {{"--input", "/tmp", "--threads", "-2", NULL}, "threads"},
            {{"--input", "/tmp", "--poll.interval", "0", NULL}, "poll.interval"},
            {{"--input", "/tmp", "--hold.shrink.percent", "120", NULL}, "hold.shrink.percent"},
            {{"--input", "/tmp", "--hold.reject.percent", "-1", NULL}, "hold.reject.percent"},
            {{"--input", "/tmp", "--rejects.raw.max", "1M", NULL}, "rejects.raw.max"},
            {{"--input", "/tmp", "--confirm.batch", "yes", NULL}, "confirm.batch"},
            {{"--input", "file:///x/MANIFEST.tsv", "--spool.dir", "/nonexistent", NULL},
             "spool.dir"},
            {{"--input", "/tmp", "--poll.interval", "soon", NULL}, "poll.interval"},
        };
        static const char *const good[] = {
            "--input", "/tmp", "--gaiji.replacement", "geta", "--encoding", "cp932", NULL};
        char err[256];

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                err[0] = '\0';
                if (configure_with(bad[i].args, err, sizeof(err)) != -1)
                        fail_msg("case %zu (%s) accepted", i, bad[i].want);
                if (!strstr(err, bad[i].want))
                        fail_msg("case %zu: \"%s\" does not say %s", i, err, bad[i].want);
        }
        assert_int_equal(configure_with(good, err, sizeof(err)), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_join_and_consent), cmocka_unit_test(test_reject_reasons),
            cmocka_unit_test(test_determinism),      cmocka_unit_test(test_run_and_ledger),
            cmocka_unit_test(test_failures),         cmocka_unit_test(test_watch),
            cmocka_unit_test(test_encode_reuse),     cmocka_unit_test(test_chunks_change_nothing),
            cmocka_unit_test(test_reject_privacy),   cmocka_unit_test(test_watch_failures),
            cmocka_unit_test(test_snapshot_guards),  cmocka_unit_test(test_non_regular),
            cmocka_unit_test(test_configure),        cmocka_unit_test(test_key_digits),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
