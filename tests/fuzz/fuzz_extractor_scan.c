/* libFuzzer target for the extractor's parallel reading: the input becomes
 * the body of one export file of a small batch (the first byte picks which
 * file and the chunk size), and the batch read in chunks of a few bytes by
 * three threads must be exactly the batch read in one pass: every reject
 * (file, line, reason, raw bytes), every count and every record's bytes.
 * Counts must reconcile either way. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/serde.h"
#include "oshirase/topics.h"
#include "extract.h"

#define ADDR "121010000100010001000000000000"

static const char *const FILES[][2] = {
    {"SHINSEI.csv", "atena_no,riyosha_id,doui,bunya,shinsei_nichiji\n"
                    "1000000001,U123ABC,1,01;02,20240215093000\n"
                    "1000000002,,1,03,20240301120000\n"},
    {"JUMIN.csv", "atena_no,setai_no,shimei,shimei_kana,seibetsu,seinengappi,zokugara,jusho_code,"
                  "jusho\n"
                  "1000000001,2000000001,山田太郎,ヤマダタロウ,1,19800101,01," ADDR ",千葉市\n"
                  "1000000002,2000000001,山田花子,ヤマダハナコ,2,S570202,02," ADDR ",千葉市\n"},
    {"SETAI.csv", "setai_no,setainushi_atena_no,setaiin_su,jusho_code\n"
                  "2000000001,1000000001,2," ADDR "\n"},
    {"ZEI.csv", "atena_no,nendo,kazei_kubun\n"
                "1000000001,2024,1\n"},
    {"KOKUHO.csv", "atena_no,kigo_bango,shutoku_bi,soshitsu_bi\n"
                   "1000000002,K-1,20200101,\n"},
};
#define N_FILES (sizeof(FILES) / sizeof(FILES[0]))

static char dir[64];

static int setup(void)
{
        char err[256];

        snprintf(dir, sizeof(dir), "/tmp/fuzz_extractor_scan-XXXXXX");
        return osh_serde_init(err, sizeof(err)) || !mkdtemp(dir) ? -1 : 0;
}

static void write_batch(const uint8_t *data, size_t size, size_t target)
{
        char path[128];

        for (size_t i = 0; i < N_FILES; i++) {
                FILE *fp;
                snprintf(path, sizeof(path), "%s/%s", dir, FILES[i][0]);
                if (!(fp = fopen(path, "wb")))
                        abort();
                fputs(FILES[i][1], fp);
                if (i == target)
                        fwrite(data, 1, size, fp);
                fclose(fp);
        }
}

static ext_batch_t *read_batch(size_t chunk, size_t threads, size_t raw_max)
{
        ext_opts_t o = {.input = dir,
                        .reference = "20240401",
                        .max_field = 64,
                        .chunk_bytes = chunk,
                        .threads = threads,
                        .raw_max = raw_max};
        char err[256];
        ext_batch_t *b = ext_batch_open(&o, err, sizeof(err));

        if (b && ext_batch_parse(b, err, sizeof(err))) {
                ext_batch_destroy(b);
                return NULL;
        }
        return b;
}

static void same_rejects(const ext_batch_t *x, const ext_batch_t *y)
{
        if (ext_batch_reject_count(x) != ext_batch_reject_count(y))
                __builtin_trap();
        for (size_t i = 0; i < ext_batch_reject_count(x); i++) {
                const ext_reject_t *r = ext_batch_reject(x, i), *q = ext_batch_reject(y, i);
                if (r->file != q->file || r->line != q->line || r->reason != q->reason ||
                    r->column != q->column || r->field_len != q->field_len ||
                    strcmp(r->detail, q->detail) || r->raw_len != q->raw_len ||
                    memcmp(r->raw, q->raw, r->raw_len))
                        __builtin_trap();
        }
}

/* Every reject encodes, decodes with the schema, and carries at most
 * raw_max bytes of its line whatever the line held. */
static void rejects_bounded(ext_batch_t *b, size_t raw_max)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_REJECTS);

        for (size_t i = 0; i < ext_batch_reject_count(b); i++) {
                char key[96], err[128];
                void *val = NULL;
                const void *raw;
                size_t len, n;
                avro_value_t v;
                if (ext_batch_encode_reject(b, i, 0, key, sizeof(key), &val, &len, err,
                                            sizeof(err)) ||
                    osh_serde_decode(s, val, len, &v, NULL, err, sizeof(err)))
                        __builtin_trap();
                if (osh_value_get_bytes(&v, "raw", &raw, &n) || n > raw_max || len > 1024)
                        __builtin_trap();
                avro_value_decref(&v);
                free(val);
        }
}

static void same_counts(const ext_batch_t *x, const ext_batch_t *y)
{
        for (size_t i = 0; i < ext_batch_file_count(x); i++) {
                const ext_file_stats_t *s = ext_batch_file_stats(x, i);
                if (memcmp(s, ext_batch_file_stats(y, i), sizeof(*s)) ||
                    s->read != s->joined + s->not_applicant + s->rejected)
                        __builtin_trap();
        }
}

static void same_records(ext_batch_t *x, ext_batch_t *y)
{
        if (ext_batch_record_count(x) != ext_batch_record_count(y))
                __builtin_trap();
        for (size_t i = 0; i < ext_batch_record_count(x); i++) {
                const char *kx, *ky;
                const void *vy;
                void *vx;
                size_t lx, ly;
                char err[128];
                if (ext_batch_encode_record(x, i, &kx, &vx, &lx, err, sizeof(err)))
                        __builtin_trap();
                if (ext_batch_record(y, i, &ky, &vy, &ly, NULL) || strcmp(kx, ky) || lx != ly ||
                    memcmp(vx, vy, lx))
                        __builtin_trap();
                free(vx);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        ext_batch_t *one, *many;

        if (!ready && setup())
                return 0;
        ready = 1;
        if (size < 1)
                return 0;
        write_batch(data + 1, size - 1, data[0] % N_FILES);
        one = read_batch(0, 1, 0);
        many = read_batch(1 + data[0] / N_FILES % 16, 3, 16);
        if (!one != !many) /* a batch fails (truncated, bad header) both ways */
                __builtin_trap();
        if (one) {
                same_rejects(one, many);
                same_counts(one, many);
                same_records(one, many);
                rejects_bounded(one, 0);
                rejects_bounded(many, 16);
        }
        ext_batch_destroy(one);
        ext_batch_destroy(many);
        return 0;
}
