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
        int32_t ref;
        int rel;
        member_t m[MAX_MEMBERS];
        int nm;
} view_t;

static int nullable_date(avro_value_t *rec, const char *field, int *has, int32_t *out)
{
        int null = osh_value_is_null(rec, field);

        if (null < 0)
                return -1;
        *has = !null;
        if (null)
                return 0;
        return osh_value_get_int(rec, field, out) || *out < DAY_MIN || *out > DAY_MAX ? -1 : 0;
}

static int load_members(view_t *v)
{
        avro_value_t arr, item, f;
        size_t n;

        if (osh_value_field(v->raw, "household_members", &arr) || avro_value_get_size(&arr, &n) ||
            n > MAX_MEMBERS)
                return -1;
        for (size_t i = 0; i < n; i++) {
                member_t *m = &v->m[i];
                if (avro_value_get_by_index(&arr, i, &item, NULL) ||
                    osh_value_field(&item, "relationship", &f) ||
                    avro_value_get_enum(&f, &m->rel) ||
                    nullable_date(&item, "birth_date", &m->has_birth, &m->birth))
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

static int op_address(const anon_op_t *op, avro_value_t *raw, anon_out_t *o)
{
        const char *s;
        size_t len;
        int32_t v = 0;

        if (osh_value_get_string(raw, "address_code", &s, &len))
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

        if (nullable_date(v->raw, "birth_date", &has, &birth))
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

static int op_ext(const anon_rules_t *r, const anon_op_t *op, avro_value_t *raw, anon_out_t *o)
{
        avro_value_t map, item;
        const char *s;
        size_t len;

        if (osh_value_field(raw, "extensions", &map))
                return -1;
        if (avro_value_get_by_name(&map, op->field, &item, NULL))
                return 0; /* absent: 0 */
        if (avro_value_get_string(&item, &s, &len))
                return -1;
        for (int i = 0; i < r->ntruthy; i++)
                if (!strcmp(s, r->truthy[i]))
                        set_flag(r, o, op->pos);
        return 0;
}

static int apply(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        avro_value_t f;
        int e, b;

        switch (op->kind) {
        case ANON_X_SEX: /* enum order MALE, FEMALE, UNKNOWN → 1, 2, 3 */
                if (osh_value_field(v->raw, "sex", &f) || avro_value_get_enum(&f, &e))
                        return -1;
                o->values[op->pos] = e + 1;
                return 0;
        case ANON_X_BIRTH_YM:
                return op_birth_ym(r, op, v, o);
        case ANON_X_ADDRESS:
                return op_address(op, v->raw, o);
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
                if (osh_value_field(v->raw, op->field, &f) || avro_value_get_enum(&f, &e))
                        return -1;
                if (e == 1)
                        set_flag(r, o, op->pos);
                return 0;
        case ANON_X_BOOL:
                if (osh_value_get_bool(v->raw, op->field, &b))
                        return -1;
                if (b)
                        set_flag(r, o, op->pos);
                return 0;
        case ANON_X_EXT:
                return op_ext(r, op, v->raw, o);
        }
        return -1;
}

static anon_verdict_t derive_uid(const anon_rules_t *r, const anon_key_t *k, avro_value_t *raw,
                                 anon_out_t *o)
{
        avro_value_t app;
        const char *s;
        size_t len;

        if (r->uid_rule == ANON_UID_REGISTERED_OR_HMAC &&
            !osh_value_field(raw, "applicant", &app) && osh_value_is_null(&app, "user_id") == 0 &&
            !osh_value_get_string(&app, "user_id", &s, &len) && len > 0) {
                if (!anon_uid_valid(s, len))
                        return o->reason = "registered 利用者ID malformed", ANON_REJECT_BAD;
                memcpy(o->uid, s, len);
                o->uid[len] = 0;
                return ANON_OK;
        }
        if (osh_value_get_string(raw, "atena_no", &s, &len) || len == 0)
                return o->reason = "宛名番号 missing", ANON_REJECT_MISSING;
        if (anon_uid_hmac(k, s, len, o->uid))
                return o->reason = "HMAC failed", ANON_REJECT_BAD;
        return ANON_OK;
}

anon_verdict_t anon_xform(const anon_rules_t *r, const anon_key_t *k, avro_value_t *raw,
                          anon_out_t *out)
{
        view_t *v = NULL;
        avro_value_t f;
        const char *s;
        size_t len;
        anon_verdict_t rc = ANON_REJECT_BAD;

        memset(out->flags, 0, r->flag_bytes);
        memset(out->values, 0, r->value_count * sizeof(int32_t));
        out->uid[0] = 0;
        out->extreme = 0;
        out->reason = "malformed record";
        /* 宛名番号 must be present even when a registered id is used: it is
         * the record's identity in the raw batch. */
        if (osh_value_get_string(raw, "atena_no", &s, &len) || len == 0)
                return out->reason = "宛名番号 missing", ANON_REJECT_MISSING;
        if ((rc = derive_uid(r, k, raw, out)) != ANON_OK)
                return rc;
        rc = ANON_REJECT_BAD;
        if (!(v = calloc(1, sizeof(*v))))
                return rc;
        v->raw = raw;
        if (osh_value_get_int(raw, "reference_date", &v->ref) ||
            osh_value_field(raw, "relationship", &f) || avro_value_get_enum(&f, &v->rel) ||
            load_members(v)) {
                out->reason = "household members malformed";
                goto done;
        }
        out->reference_date = v->ref;
        for (size_t i = 0; i < r->nops; i++)
                if (apply(r, &r->ops[i], v, out))
                        goto done;
        rc = ANON_OK;
done:
        free(v);
        return rc;
}
