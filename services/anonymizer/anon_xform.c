#include "anon_xform.h"

#include <stdlib.h>
#include <string.h>

#include "oshirase/dictionary.h"
#include "oshirase/serde.h"

#define MAX_MEMBERS 64 /* household members considered; larger households are malformed */
/* Dates a year-month can hold (YYYYMM, four-digit year): 1000-01-01 ..
 * 9999-12-31 in days since 1970-01-01. Anything else is malformed input
 * (found by fuzz_anonymizer_xform), not a year-month to emit. */
#define DAY_MIN (-354285)
#define DAY_MAX 2932896

/* Howard Hinnant's civil_from_days. */
void anon_civil(int32_t days, int *y, int *m, int *d)
{
        int64_t z = (int64_t)days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;

        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = (int)(yoe + era * 400 + (*m <= 2));
}

int32_t anon_yearmonth(int32_t days)
{
        int y, m, d;

        anon_civil(days, &y, &m, &d);
        return y * 100 + m;
}

int anon_age(int32_t birth, int32_t ref)
{
        int by, bm, bd, ry, rm, rd, age;

        if (birth > ref)
                return -1;
        anon_civil(birth, &by, &bm, &bd);
        anon_civil(ref, &ry, &rm, &rd);
        age = ry - by;
        if (rm < bm || (rm == bm && rd < bd))
                age--;
        return age;
}

typedef struct member {
        int rel;
        int has_birth;
        int32_t birth;
} member_t;

/* The decoded fields the transforms share. */
typedef struct view {
        avro_value_t *raw;
        const anon_raw_idx_t *x;
        int32_t ref;
        int rel;
        member_t m[MAX_MEMBERS];
        int nm;
} view_t;

/* Field idx of rec (an index from anon_raw_idx_t), looking through a
 * union: the by-index twin of the osh_value_get_* helpers. */
static int cur(avro_value_t *rec, int idx, avro_type_t want, avro_value_t *out)
{
        avro_value_t f;

        if (avro_value_get_by_index(rec, (size_t)idx, &f, NULL))
                return -1;
        if (avro_value_get_type(&f) != AVRO_UNION)
                *out = f;
        else if (avro_value_get_current_branch(&f, out))
                return -1;
        return avro_value_get_type(out) == want ? 0 : -1;
}

static int get_str(avro_value_t *rec, int idx, const char **s, size_t *len)
{
        avro_value_t v;
        size_t n;

        if (cur(rec, idx, AVRO_STRING, &v) || avro_value_get_string(&v, s, &n))
                return -1;
        *len = n ? n - 1 : 0; /* avro-c counts the NUL */
        return 0;
}

static int get_enum(avro_value_t *rec, int idx, int *e)
{
        avro_value_t v;

        return cur(rec, idx, AVRO_ENUM, &v) || avro_value_get_enum(&v, e) ? -1 : 0;
}

/* A nullable date in range; *has says whether it is set. */
static int nullable_date(avro_value_t *rec, int idx, int *has, int32_t *out)
{
        avro_value_t v;

        if (cur(rec, idx, AVRO_NULL, &v) == 0)
                return *has = 0, 0;
        *has = 1;
        return cur(rec, idx, AVRO_INT32, &v) || avro_value_get_int(&v, out) || *out < DAY_MIN ||
                       *out > DAY_MAX
                   ? -1
                   : 0;
}

static int load_members(view_t *v)
{
        avro_value_t arr, item;
        size_t n;

        if (avro_value_get_by_index(v->raw, (size_t)v->x->household_members, &arr, NULL) ||
            avro_value_get_type(&arr) != AVRO_ARRAY || avro_value_get_size(&arr, &n) ||
            n > MAX_MEMBERS)
                return -1;
        for (size_t i = 0; i < n; i++) {
                member_t *m = &v->m[i];
                if (avro_value_get_by_index(&arr, i, &item, NULL) ||
                    avro_value_get_type(&item) != AVRO_RECORD ||
                    get_enum(&item, v->x->member_relationship, &m->rel) ||
                    nullable_date(&item, v->x->member_birth_date, &m->has_birth, &m->birth))
                        return -1;
        }
        v->nm = (int)n;
        return 0;
}

static int has_rel(const anon_op_t *op, int rel)
{
        for (int i = 0; i < op->nrels; i++)
                if (op->rels[i] == rel)
                        return 1;
        return 0;
}

static void set_flag(const anon_rules_t *r, anon_out_t *o, int bit)
{
        osh_flags_set(o->flags, r->flag_bytes, bit, 1);
}

static void op_hh_has(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        int on = has_rel(op, v->rel);

        for (int i = 0; i < v->nm && !on; i++)
                on = has_rel(op, v->m[i].rel);
        if (on)
                set_flag(r, o, op->pos);
}

static void op_hh_age(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        for (int i = 0; i < v->nm; i++) {
                int age = v->m[i].has_birth ? anon_age(v->m[i].birth, v->ref) : -1;
                if (age < op->a)
                        continue;
                set_flag(r, o, op->age_bits[(age > op->b ? op->b : age) - op->a]);
        }
}

static int cmp_i32(const void *a, const void *b)
{
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

        return (x > y) - (x < y);
}

/* N-th matching member by birth date, eldest first; members without a
 * birth date cannot be placed and are skipped. */
static void op_child_ym(const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        int32_t births[MAX_MEMBERS];
        int n = 0;

        for (int i = 0; i < v->nm; i++)
                if (v->m[i].has_birth && has_rel(op, v->m[i].rel))
                        births[n++] = v->m[i].birth;
        qsort(births, (size_t)n, sizeof(births[0]), cmp_i32);
        if (op->a <= n)
                o->values[op->pos] = anon_yearmonth(births[op->a - 1]);
}

static int op_address(const anon_op_t *op, const view_t *vw, anon_out_t *o)
{
        const char *s;
        size_t len;
        int32_t v = 0;

        if (get_str(vw->raw, vw->x->address_code, &s, &len))
                return -1;
        if (len == 0)
                return 0; /* no address: code 0 */
        if (len < (size_t)op->b)
                return o->reason = "address code shorter than the rule needs", -1;
        for (int i = op->a - 1; i < op->b; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return o->reason = "address code is not numeric", -1;
                v = v * 10 + (s[i] - '0');
        }
        o->values[op->pos] = v;
        return 0;
}

static int op_birth_ym(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        int has;
        int32_t birth;

        if (nullable_date(v->raw, v->x->birth_date, &has, &birth))
                return o->reason = "birth date malformed or out of range", -1;
        if (!has)
                return 0;
        if (r->extreme_age > 0 && anon_age(birth, v->ref) >= r->extreme_age) {
                o->extreme = 1; /* 超高齢: the year-month alone would single them out */
                return 0;
        }
        o->values[op->pos] = anon_yearmonth(birth);
        return 0;
}

/* A missing key is the common case: a linear scan of the (small) map
 * instead of avro_value_get_by_name(), whose miss formats an error text. */
static int op_ext(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        avro_value_t map, item;
        const char *key, *s;
        size_t n, len;

        if (avro_value_get_by_index(v->raw, (size_t)v->x->extensions, &map, NULL) ||
            avro_value_get_type(&map) != AVRO_MAP || avro_value_get_size(&map, &n))
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (avro_value_get_by_index(&map, i, &item, &key))
                        return -1;
                if (strcmp(key, op->field))
                        continue;
                if (avro_value_get_string(&item, &s, &len))
                        return -1;
                for (int t = 0; t < r->ntruthy; t++)
                        if (!strcmp(s, r->truthy[t]))
                                set_flag(r, o, op->pos);
                return 0;
        }
        return 0; /* absent: 0 */
}

static int apply(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        avro_value_t f;
        int e, b;

        switch (op->kind) {
        case ANON_X_SEX: /* enum order MALE, FEMALE, UNKNOWN → 1, 2, 3 */
                if (get_enum(v->raw, v->x->sex, &e))
                        return -1;
                o->values[op->pos] = e + 1;
                return 0;
        case ANON_X_BIRTH_YM:
                return op_birth_ym(r, op, v, o);
        case ANON_X_ADDRESS:
                return op_address(op, v, o);
        case ANON_X_HH_HAS:
                op_hh_has(r, op, v, o);
                return 0;
        case ANON_X_HH_AGE:
                op_hh_age(r, op, v, o);
                return 0;
        case ANON_X_CHILD_YM:
                op_child_ym(op, v, o);
                return 0;
        case ANON_X_TAX: /* enum order UNKNOWN, TAXED, NOT_TAXED: only TAXED is 1 */
                if (get_enum(v->raw, op->fidx, &e))
                        return -1;
                if (e == 1)
                        set_flag(r, o, op->pos);
                return 0;
        case ANON_X_BOOL:
                if (cur(v->raw, op->fidx, AVRO_BOOLEAN, &f) || avro_value_get_boolean(&f, &b))
                        return -1;
                if (b)
                        set_flag(r, o, op->pos);
                return 0;
        case ANON_X_EXT:
                return op_ext(r, op, v, o);
        }
        return -1;
}

static anon_verdict_t derive_uid(const anon_rules_t *r, const anon_key_t *k, avro_value_t *raw,
                                 anon_out_t *o)
{
        const anon_raw_idx_t *x = &r->raw;
        avro_value_t app;
        const char *s;
        size_t len;

        if (r->uid_rule == ANON_UID_REGISTERED_OR_HMAC &&
            !cur(raw, x->applicant, AVRO_RECORD, &app) &&
            !get_str(&app, x->applicant_user_id, &s, &len) && len > 0) {
                if (!anon_uid_valid(s, len))
                        return o->reason = "registered 利用者ID malformed", ANON_REJECT_BAD;
                memcpy(o->uid, s, len);
                o->uid[len] = 0;
                return ANON_OK;
        }
        if (get_str(raw, x->atena_no, &s, &len) || len == 0)
                return o->reason = "宛名番号 missing", ANON_REJECT_MISSING;
        if (anon_uid_hmac(k, s, len, o->uid))
                return o->reason = "HMAC failed", ANON_REJECT_BAD;
        return ANON_OK;
}

static int get_int(avro_value_t *rec, int idx, int32_t *x)
{
        avro_value_t v;

        return cur(rec, idx, AVRO_INT32, &v) || avro_value_get_int(&v, x) ? -1 : 0;
}

anon_verdict_t anon_xform(const anon_rules_t *r, const anon_key_t *k, avro_value_t *raw,
                          anon_out_t *out)
{
        view_t v = {.raw = raw, .x = &r->raw};
        const char *s;
        size_t len;
        anon_verdict_t rc;

        memset(out->flags, 0, r->flag_bytes);
        memset(out->values, 0, r->value_count * sizeof(int32_t));
        out->uid[0] = 0;
        out->extreme = 0;
        out->reason = "malformed record";
        /* 宛名番号 must be present even when a registered id is used: it is
         * the record's identity in the raw batch. */
        if (get_str(raw, r->raw.atena_no, &s, &len) || len == 0)
                return out->reason = "宛名番号 missing", ANON_REJECT_MISSING;
        if ((rc = derive_uid(r, k, raw, out)) != ANON_OK)
                return rc;
        if (get_int(raw, r->raw.reference_date, &v.ref) ||
            get_enum(raw, r->raw.relationship, &v.rel) || load_members(&v))
                return out->reason = "household members malformed", ANON_REJECT_BAD;
        out->reference_date = v.ref;
        for (size_t i = 0; i < r->nops; i++)
                if (apply(r, &r->ops[i], &v, out))
                        return ANON_REJECT_BAD;
        return ANON_OK;
}
