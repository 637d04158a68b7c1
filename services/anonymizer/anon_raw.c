#include "anon_raw.h"

#include <string.h>

#include "oshirase/avro_bin.h"

/* Field order of the ANON_RAW_FINGERPRINT revision of resident.raw.v1. */
enum {
        F_ATENA_NO = 0,
        F_BATCH_ID,
        F_REFERENCE_DATE,
        F_NAME,
        F_NAME_KANA,
        F_SEX,
        F_BIRTH_DATE,
        F_ADDRESS_CODE,
        F_ADDRESS_TEXT,
        F_HOUSEHOLD_ID,
        F_RELATIONSHIP,
        F_RELATIONSHIP_CODE,
        F_HOUSEHOLD_MEMBERS,
        F_TAX_CURRENT,             /* then tax_previous, tax_before_previous */
        F_NHI = F_TAX_CURRENT + 3, /* then four more booleans */
        F_EXTENSIONS = F_NHI + 5,
        F_APPLICANT,
        F_SOURCE_FILES,
};

#define N_SEX          3
#define N_RELATIONSHIP 9
#define N_TAX          3
/* More items than bytes left cannot be real: each item takes a byte. */
#define MAX_BLOCK INT32_MAX

static anon_str_t get_str(osh_avro_in_t *in)
{
        anon_str_t s;

        s.p = osh_avro_get_bytes(in, &s.len);
        return s;
}

/* ["null", int]: *has says which. */
static int32_t get_opt_int(osh_avro_in_t *in, int *has)
{
        *has = osh_avro_get_index(in, 2) == 1;
        return *has ? osh_avro_get_int(in) : 0;
}

static void skip_strings(osh_avro_in_t *in)
{
        for (int64_t n; in->err == 0 && (n = osh_avro_get_block(in, MAX_BLOCK)) > 0;)
                for (int64_t i = 0; i < n; i++)
                        get_str(in);
}

static void get_members(osh_avro_in_t *in, anon_raw_t *r)
{
        for (int64_t n; in->err == 0 && (n = osh_avro_get_block(in, MAX_BLOCK)) > 0;)
                for (int64_t i = 0; i < n; i++, r->nm++) {
                        anon_member_t m;
                        m.rel = osh_avro_get_index(in, N_RELATIONSHIP);
                        m.birth = get_opt_int(in, &m.has_birth);
                        if (r->nm < ANON_RAW_MAX_MEMBERS)
                                r->m[r->nm] = m;
                }
}

static void get_extensions(osh_avro_in_t *in, anon_raw_t *r)
{
        for (int64_t n; in->err == 0 && (n = osh_avro_get_block(in, MAX_BLOCK)) > 0;)
                for (int64_t i = 0; i < n; i++, r->next++) {
                        anon_ext_t e = {get_str(in), get_str(in)};
                        /* avro-c keeps map keys as C strings: cut at a NUL as
                         * the generic path does, so both paths agree. */
                        if (e.key.p)
                                e.key.len = strnlen(e.key.p, e.key.len);
                        if (r->next < ANON_RAW_MAX_EXT)
                                r->ext[r->next] = e;
                }
}

static void get_applicant(osh_avro_in_t *in, anon_raw_t *r)
{
        if (osh_avro_get_index(in, 2) == 1)
                r->user_id = get_str(in);
        skip_strings(in);                   /* consent_categories */
        if (osh_avro_get_index(in, 2) == 1) /* applied_at */
                osh_avro_get_long(in);
}

int anon_raw_decode(const void *datum, size_t len, anon_raw_t *r)
{
        osh_avro_in_t in;

        osh_avro_in_init(&in, datum, len);
        memset(r, 0, offsetof(anon_raw_t, m));
        r->next = 0;
        r->atena_no = get_str(&in);
        r->batch_id = get_str(&in);
        r->reference_date = osh_avro_get_int(&in);
        get_str(&in); /* name */
        get_str(&in); /* name_kana */
        r->scalar[F_SEX] = osh_avro_get_index(&in, N_SEX);
        r->birth_date = get_opt_int(&in, &r->has_birth);
        r->address_code = get_str(&in);
        get_str(&in); /* address_text */
        get_str(&in); /* household_id */
        r->scalar[F_RELATIONSHIP] = osh_avro_get_index(&in, N_RELATIONSHIP);
        get_str(&in); /* relationship_code */
        get_members(&in, r);
        for (int i = 0; i < 3; i++)
                r->scalar[F_TAX_CURRENT + i] = osh_avro_get_index(&in, N_TAX);
        for (int i = 0; i < 5; i++)
                r->scalar[F_NHI + i] = osh_avro_get_bool(&in);
        get_extensions(&in, r);
        get_applicant(&in, r);
        skip_strings(&in); /* source_files */
        return osh_avro_in_done(&in) ? 0 : -1;
}

/* ---- from an avro-c value ---- */

/* Looks through a union to its current branch. */
static int branch(avro_value_t *f, avro_value_t *out)
{
        if (avro_value_get_type(f) != AVRO_UNION) {
                *out = *f;
                return 0;
        }
        return avro_value_get_current_branch(f, out);
}

static int field(avro_value_t *rec, int idx, avro_type_t want, avro_value_t *out)
{
        avro_value_t f;

        if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL) || branch(&f, out))
                return -1;
        return avro_value_get_type(out) == want ? 0 : -1;
}

static int str_of(avro_value_t *v, anon_str_t *s)
{
        size_t n;

        if (avro_value_get_string(v, &s->p, &n))
                return -1;
        s->len = n ? n - 1 : 0; /* avro-c counts the NUL */
        return 0;
}

static int str_field(avro_value_t *rec, int idx, anon_str_t *s)
{
        avro_value_t v;

        return field(rec, idx, AVRO_STRING, &v) || str_of(&v, s) ? -1 : 0;
}

/* ["null", int] field. */
static int opt_int_field(avro_value_t *rec, int idx, int *has, int32_t *out)
{
        avro_value_t f, v;

        *out = 0;
        if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL) || branch(&f, &v))
                return -1;
        *has = avro_value_get_type(&v) != AVRO_NULL;
        return *has && (avro_value_get_type(&v) != AVRO_INT32 || avro_value_get_int(&v, out)) ? -1
                                                                                              : 0;
}

/* Every top-level enum and boolean, by field index. */
static int scalars(avro_value_t *rec, anon_raw_t *r)
{
        avro_value_t f;
        size_t n;
        int e;

        if (avro_value_get_size(rec, &n) || n > ANON_RAW_FIELDS)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (avro_value_get_by_index(rec, i, &f, NULL))
                        return -1;
                if (avro_value_get_type(&f) == AVRO_ENUM && avro_value_get_enum(&f, &e))
                        return -1;
                if (avro_value_get_type(&f) == AVRO_BOOLEAN && avro_value_get_boolean(&f, &e))
                        return -1;
                if (avro_value_get_type(&f) == AVRO_ENUM || avro_value_get_type(&f) == AVRO_BOOLEAN)
                        r->scalar[i] = e;
        }
        return 0;
}

static int members_of(const anon_raw_idx_t *x, avro_value_t *rec, anon_raw_t *r)
{
        avro_value_t arr, item, f;
        size_t n;

        if (field(rec, x->household_members, AVRO_ARRAY, &arr) || avro_value_get_size(&arr, &n))
                return -1;
        r->nm = n;
        for (size_t i = 0; i < n && i < ANON_RAW_MAX_MEMBERS; i++) {
                anon_member_t *m = &r->m[i];
                if (avro_value_get_by_index(&arr, i, &item, NULL) ||
                    field(&item, x->member_relationship, AVRO_ENUM, &f) ||
                    avro_value_get_enum(&f, &m->rel) ||
                    opt_int_field(&item, x->member_birth_date, &m->has_birth, &m->birth))
                        return -1;
        }
        return 0;
}

static int extensions_of(const anon_raw_idx_t *x, avro_value_t *rec, anon_raw_t *r)
{
        avro_value_t map, item;
        const char *key;
        size_t n;

        if (field(rec, x->extensions, AVRO_MAP, &map) || avro_value_get_size(&map, &n))
                return -1;
        r->next = n;
        for (size_t i = 0; i < n && i < ANON_RAW_MAX_EXT; i++) {
                anon_ext_t *e = &r->ext[i];
                if (avro_value_get_by_index(&map, i, &item, &key) || str_of(&item, &e->val))
                        return -1;
                e->key = (anon_str_t){key, strlen(key)};
        }
        return 0;
}

static int applicant_of(const anon_raw_idx_t *x, avro_value_t *rec, anon_raw_t *r)
{
        avro_value_t app, f, v;

        if (field(rec, x->applicant, AVRO_RECORD, &app) ||
            avro_value_get_by_index(&app, (size_t)x->applicant_user_id, &f, NULL) || branch(&f, &v))
                return -1;
        return avro_value_get_type(&v) == AVRO_NULL ? 0 : str_of(&v, &r->user_id);
}

int anon_raw_from_value(const anon_raw_idx_t *x, avro_value_t *rec, anon_raw_t *r)
{
        avro_value_t v;

        memset(r, 0, offsetof(anon_raw_t, m));
        r->next = 0;
        return str_field(rec, x->atena_no, &r->atena_no) ||
                       str_field(rec, x->batch_id, &r->batch_id) ||
                       field(rec, x->reference_date, AVRO_INT32, &v) ||
                       avro_value_get_int(&v, &r->reference_date) ||
                       opt_int_field(rec, x->birth_date, &r->has_birth, &r->birth_date) ||
                       str_field(rec, x->address_code, &r->address_code) || scalars(rec, r) ||
                       members_of(x, rec, r) || extensions_of(x, rec, r) || applicant_of(x, rec, r)
                   ? -1
                   : 0;
}
