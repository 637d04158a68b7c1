#include "anon_xform.h"

#include <stdlib.h>
#include <string.h>

#include "oshirase/jdate.h"
#include "oshirase/dictionary.h"

/* Dates a year-month can hold (YYYYMM, four-digit year): 1000-01-01 ..
 * 9999-12-31 in days since 1970-01-01. Anything else is malformed input
 * (found by fuzz_anonymizer_xform), not a year-month to emit. */
#define DAY_MIN (-354285)
#define DAY_MAX 2932896

int32_t anon_yearmonth(int32_t days)
{
        osh_date_t d;

        osh_date_from_days(days, &d);
        return d.year * 100 + d.month;
}

int anon_age(int32_t birth, int32_t ref)
{
        osh_date_t b, r;

        if (birth > ref)
                return -1;
        osh_date_from_days(birth, &b);
        osh_date_from_days(ref, &r);
        return r.year - b.year - (r.month < b.month || (r.month == b.month && r.day < b.day));
}

/* The decoded fields the transforms share. */
typedef struct view {
        const anon_raw_t *raw;
        const anon_raw_idx_t *x;
        int32_t ref;
        int rel;
        const anon_member_t *m;
        int nm;
} view_t;

static int date_ok(int has, int32_t d)
{
        return !has || (d >= DAY_MIN && d <= DAY_MAX);
}

static int load_members(view_t *v)
{
        if (v->raw->nm > ANON_RAW_MAX_MEMBERS)
                return -1;
        for (size_t i = 0; i < v->raw->nm; i++)
                if (!date_ok(v->raw->m[i].has_birth, v->raw->m[i].birth))
                        return -1;
        v->m = v->raw->m;
        v->nm = (int)v->raw->nm;
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
        int32_t births[ANON_RAW_MAX_MEMBERS];
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
        const char *s = vw->raw->address_code.p;
        size_t len = vw->raw->address_code.len;
        int32_t v = 0;

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
        int32_t birth = v->raw->birth_date;

        if (!date_ok(v->raw->has_birth, birth))
                return o->reason = "birth date malformed or out of range", -1;
        if (!v->raw->has_birth)
                return 0;
        if (r->extreme_age > 0 && anon_age(birth, v->ref) >= r->extreme_age) {
                o->extreme = 1; /* 超高齢: the year-month alone would single them out */
                return 0;
        }
        o->values[op->pos] = anon_yearmonth(birth);
        return 0;
}

static int str_is(anon_str_t s, const char *t)
{
        return s.len == strlen(t) && !memcmp(s.p, t, s.len);
}

/* The last entry of a key wins, as in avro-c's map (a repeated key
 * overwrites). */
static int op_ext(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        const anon_ext_t *hit = NULL;

        if (v->raw->next > ANON_RAW_MAX_EXT)
                return o->reason = "too many extensions", -1;
        for (size_t i = 0; i < v->raw->next; i++)
                if (str_is(v->raw->ext[i].key, op->field))
                        hit = &v->raw->ext[i];
        for (int t = 0; hit && t < r->ntruthy; t++)
                if (str_is(hit->val, r->truthy[t]))
                        set_flag(r, o, op->pos);
        return 0; /* absent: 0 */
}

static int apply(const anon_rules_t *r, const anon_op_t *op, const view_t *v, anon_out_t *o)
{
        switch (op->kind) {
        case ANON_X_SEX: /* enum order MALE, FEMALE, UNKNOWN → 1, 2, 3 */
                o->values[op->pos] = v->raw->scalar[v->x->sex] + 1;
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
                if (v->raw->scalar[op->fidx] == 1)
                        set_flag(r, o, op->pos);
                return 0;
        case ANON_X_BOOL:
                if (v->raw->scalar[op->fidx])
                        set_flag(r, o, op->pos);
                return 0;
        case ANON_X_EXT:
                return op_ext(r, op, v, o);
        }
        return -1;
}

static anon_verdict_t derive_uid(const anon_rules_t *r, const anon_key_t *k, const anon_raw_t *raw,
                                 anon_out_t *o)
{
        const anon_str_t *u = &raw->user_id;

        if (r->uid_rule == ANON_UID_REGISTERED_OR_HMAC && u->p && u->len > 0) {
                if (!anon_uid_valid(u->p, u->len))
                        return o->reason = "registered 利用者ID malformed", ANON_REJECT_BAD;
                memcpy(o->uid, u->p, u->len);
                o->uid[u->len] = 0;
                return ANON_OK;
        }
        if (anon_uid_hmac(k, raw->atena_no.p, raw->atena_no.len, o->uid))
                return o->reason = "HMAC failed", ANON_REJECT_BAD;
        return ANON_OK;
}

anon_verdict_t anon_xform(const anon_rules_t *r, const anon_key_t *k, const anon_raw_t *raw,
                          anon_out_t *out)
{
        view_t v = {.raw = raw, .x = &r->raw};
        anon_verdict_t rc;

        memset(out->flags, 0, r->flag_bytes);
        memset(out->values, 0, r->value_count * sizeof(int32_t));
        out->uid[0] = 0;
        out->extreme = 0;
        out->reason = "malformed record";
        /* 宛名番号 must be present even when a registered id is used: it is
         * the record's identity in the raw batch. */
        if (raw->atena_no.len == 0)
                return out->reason = "宛名番号 missing", ANON_REJECT_MISSING;
        if ((rc = derive_uid(r, k, raw, out)) != ANON_OK)
                return rc;
        v.ref = raw->reference_date;
        v.rel = raw->scalar[r->raw.relationship];
        if (load_members(&v))
                return out->reason = "household members malformed", ANON_REJECT_BAD;
        out->reference_date = v.ref;
        for (size_t i = 0; i < r->nops; i++)
                if (apply(r, &r->ops[i], &v, out))
                        return ANON_REJECT_BAD;
        return ANON_OK;
}
