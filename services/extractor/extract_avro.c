/* Encoding a batch's records (resident.raw.v1) and rejects
 * (resident.rejects.v1) (see extract_int.h). */
#include "extract_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/batch.h"

/* bunya 01..04 by the names cloud-ingest's destinations use */
static const char *const CATEGORY[5] = {"", "childcare", "single_parent", "health_welfare",
                                        "safety_disaster"};

const char *ext_reason_symbol(ext_reason_t r)
{
        static const char *const s[] = {
            "PARSE_ERROR",    "ENCODING_ERROR", "BAD_DATE",      "BAD_CODE",       "MISSING_FIELD",
            "FIELD_TOO_LONG", "DUPLICATE",      "NOT_CONSENTED", "UNKNOWN_PERSON", "OTHER"};
        return (size_t)r < sizeof(s) / sizeof(s[0]) ? s[r] : "OTHER";
}

/* ---- encoding --------------------------------------------------------- */

/* A 宛名番号 or 世帯番号 (< 10^10) as its 10 digits. */
static void no10(char out[11], uint64_t v)
{
        for (int i = 9; i >= 0; i--, v /= 10)
                out[i] = (char)('0' + v % 10);
        out[10] = '\0';
}

/* Enum indexes of resident.raw.v1's Relationship and Sex by export code. */
static int rel_index(uint8_t code)
{
        return code >= 1 && code <= 8 ? code - 1 : 8; /* 09 and unknown: OTHER */
}

static int sex_index(uint8_t code)
{
        return code == 1 ? 0 : code == 2 ? 1 : 2; /* MALE, FEMALE, UNKNOWN */
}

static void put_members(ext_batch_t *b, osh_avro_buf_t *w, int32_t self)
{
        int32_t first = b->hfirst[b->persons[self].hh];
        int64_t n = 0;

        for (int32_t m = first; m >= 0; m = b->persons[m].next)
                n += m != self;
        if (n)
                osh_avro_put_long(w, n);
        for (int32_t m = n ? first : -1; m >= 0; m = b->persons[m].next) {
                if (m == self)
                        continue;
                osh_avro_put_long(w, rel_index(b->persons[m].rel));
                osh_avro_put_long(w, 1); /* birth_date: the int branch */
                osh_avro_put_long(w, b->persons[m].birth);
        }
        osh_avro_put_long(w, 0);
}

static void put_extensions(osh_avro_buf_t *w, const ext_applicant_t *a)
{
        char key[] = "ext_00";
        int64_t n = 0;

        for (int e = 0; e < 20; e++)
                n += a->ext[e] != 0;
        if (n)
                osh_avro_put_long(w, n);
        for (int e = 0; e < 20; e++) {
                if (!a->ext[e])
                        continue;
                key[4] = (char)('0' + (e + 1) / 10);
                key[5] = (char)('0' + (e + 1) % 10);
                osh_avro_put_bytes(w, key, 6);
                osh_avro_put_bytes(w, &a->ext[e], 1);
        }
        osh_avro_put_long(w, 0);
}

static void put_applicant(osh_avro_buf_t *w, const ext_applicant_t *a)
{
        int n = 0;

        osh_avro_put_long(w, a->user_id[0] ? 1 : 0);
        if (a->user_id[0])
                osh_avro_put_str(w, a->user_id);
        for (int c = 0; c < 4; c++)
                n += (a->cats >> c) & 1;
        if (n)
                osh_avro_put_long(w, n);
        for (int c = 1; c <= 4; c++)
                if (a->cats & (1u << (c - 1)))
                        osh_avro_put_str(w, CATEGORY[c]);
        osh_avro_put_long(w, 0);
        osh_avro_put_long(w, 1); /* applied_at: the long branch */
        osh_avro_put_long(w, a->applied_ms);
}

static void put_files(ext_batch_t *b, osh_avro_buf_t *w, const ext_applicant_t *a)
{
        int64_t n = 0;

        for (size_t i = 0; i < b->nfiles; i++)
                n += (a->files >> i) & 1;
        if (n)
                osh_avro_put_long(w, n);
        for (size_t i = 0; i < b->nfiles; i++)
                if (a->files & (1u << i))
                        osh_avro_put_bytes(w, b->files[i].name, b->files[i].name_len);
        osh_avro_put_long(w, 0);
}

/* resident.raw.v1, field by field in schema order; test_extractor checks
 * every record against avro-c's decoder and canonical re-encoding. */
static void put_record(ext_batch_t *b, osh_avro_buf_t *w, const char *key, const ext_applicant_t *a,
                       const ext_person_t *p)
{
        char setai[16];

        no10(setai, p->setai);
        osh_avro_put_header(w, b->raw_schema);
        osh_avro_put_bytes(w, key, 10);
        osh_avro_put_str(w, b->batch_id);
        osh_avro_put_long(w, b->ref_days);
        osh_avro_put_str(w, b->arena + a->s_name);
        osh_avro_put_str(w, b->arena + a->s_kana);
        osh_avro_put_long(w, sex_index(a->sex));
        osh_avro_put_long(w, 1); /* birth_date: the int branch */
        osh_avro_put_long(w, p->birth);
        osh_avro_put_str(w, b->arena + a->s_acode);
        osh_avro_put_str(w, b->arena + a->s_atext);
        osh_avro_put_str(w, setai);
        osh_avro_put_long(w, rel_index(p->rel));
        osh_avro_put_str(w, a->rel_code);
        put_members(b, w, a->person);
        for (int y = 0; y < 3; y++) /* TaxStatus: UNKNOWN, TAXED, NOT_TAXED */
                osh_avro_put_long(w, a->tax[y]);
        osh_avro_put_bool(w, a->nhi);
        osh_avro_put_bool(w, a->koki);
        osh_avro_put_bool(w, a->ca);
        osh_avro_put_bool(w, a->cr);
        osh_avro_put_bool(w, a->pa);
        put_extensions(w, a);
        put_applicant(w, a);
        put_files(b, w, a);
}

int ext_batch_record(ext_batch_t *b, size_t i, const char **key, const void **val, size_t *len,
                     uint64_t *hash)
{
        const ext_applicant_t *a = &b->apps[b->order[i]];

        no10(b->keybuf, a->atena);
        osh_avro_buf_reset(&b->wbuf);
        put_record(b, &b->wbuf, b->keybuf, a, &b->persons[a->person]);
        if (!osh_avro_buf_ok(&b->wbuf))
                return -1;
        *key = b->keybuf;
        *val = b->wbuf.p;
        *len = b->wbuf.len;
        if (hash && !b->hasher && !(b->hasher = osh_sha256_new()))
                return -1;
        if (hash) /* one digest context for all: a new one per record cost 0.4 us */
                *hash =
                    osh_batch_record_hash_with(b->hasher, b->keybuf, 10, b->wbuf.p, b->wbuf.len);
        return 0;
}

int ext_batch_encode_record(ext_batch_t *b, size_t i, const char **key, void **val, size_t *len,
                            char *errstr, size_t errstr_size)
{
        const void *v;

        if (ext_batch_record(b, i, key, &v, len, NULL) || !(*val = malloc(*len))) {
                snprintf(errstr, errstr_size, "record %zu: out of memory", i);
                return -1;
        }
        memcpy(*val, v, *len);
        return 0;
}

/* The header's name of 1-based column col ("" for 0 or past the end). */
static void column_name(const char *header, unsigned col, char *out, size_t size)
{
        const char *p = header;

        for (unsigned i = 1; col && i < col && p; i++)
                if ((p = strchr(p, ',')))
                        p++;
        snprintf(out, size, "%.*s", col && p ? (int)strcspn(p, ",") : 0, col && p ? p : "");
}

int ext_batch_encode_reject(ext_batch_t *b, size_t i, int64_t now_ms, char *keybuf,
                            size_t keybuf_size, void **val, size_t *len, char *errstr,
                            size_t errstr_size)
{
        const ext_reject_t *r = &b->rejects[i];
        size_t raw_len = r->raw_len < b->o.raw_max ? r->raw_len : b->o.raw_max;
        char field[64];
        avro_value_t rec;
        int rc = -1;

        snprintf(keybuf, keybuf_size, "%s:%llu", b->files[r->file].name,
                 (unsigned long long)r->line);
        column_name(b->files[r->file].ft->header, r->column, field, sizeof(field));
        if (osh_value_new(b->rej_schema, &rec)) {
                snprintf(errstr, errstr_size, "avro: cannot create a reject");
                return -1;
        }
        if (osh_value_set_string(&rec, "source_file", b->files[r->file].name) ||
            osh_value_set_long(&rec, "line", (int64_t)r->line) ||
            osh_value_set_enum(&rec, "reason", ext_reason_symbol(r->reason)) ||
            osh_value_set_string(&rec, "detail", r->detail) ||
            osh_value_set_bytes(&rec, "raw", r->raw ? r->raw : "", raw_len) ||
            osh_value_set_string(&rec, "batch_id", b->batch_id) ||
            osh_value_set_long(&rec, "rejected_at", now_ms) ||
            osh_value_set_int(&rec, "column", r->column) ||
            osh_value_set_string(&rec, "field", field) ||
            osh_value_set_long(&rec, "field_length", r->field_len) ||
            osh_value_set_long(&rec, "raw_length", (int64_t)r->raw_len)) {
                snprintf(errstr, errstr_size, "avro: cannot set a reject field");
                goto fail;
        }
        rc = osh_serde_encode_alloc(b->rej_schema, &rec, val, len, errstr, errstr_size);
fail:
        avro_value_decref(&rec);
        return rc;
}
