/* Field helpers so services build and read records by name, with
 * ["null", T] unions handled transparently. */
#include <string.h>

#include "oshirase/serde.h"

int osh_value_field(avro_value_t *rec, const char *field, avro_value_t *out)
{
        if (!rec || !field || avro_value_get_type(rec) != AVRO_RECORD)
                return -1;
        return avro_value_get_by_name(rec, field, out, NULL) == 0 ? 0 : -1;
}

static avro_type_t branch_type(avro_schema_t u, size_t i)
{
        avro_schema_t b = avro_schema_union_branch(u, (int)i);

        while (avro_typeof(b) == AVRO_LINK)
                b = avro_schema_link_target(b);
        return avro_typeof(b);
}

/* The field's value of type want, selecting a union branch if needed. */
static int target(avro_value_t *rec, const char *field, avro_type_t want, avro_value_t *out)
{
        avro_value_t f;

        if (osh_value_field(rec, field, &f) < 0)
                return -1;
        if (avro_value_get_type(&f) != AVRO_UNION) {
                *out = f;
                return avro_value_get_type(&f) == want ? 0 : -1;
        }
        avro_schema_t u = avro_value_get_schema(&f);
        for (size_t i = 0; i < avro_schema_union_size(u); i++)
                if (branch_type(u, i) == want)
                        return avro_value_set_branch(&f, (int)i, out) == 0 ? 0 : -1;
        return -1;
}

int osh_value_set_null(avro_value_t *rec, const char *field)
{
        avro_value_t v;

        return target(rec, field, AVRO_NULL, &v) == 0 && avro_value_set_null(&v) == 0 ? 0 : -1;
}

int osh_value_set_string(avro_value_t *rec, const char *field, const char *s)
{
        avro_value_t v;

        if (!s)
                return osh_value_set_null(rec, field);
        return target(rec, field, AVRO_STRING, &v) == 0 && avro_value_set_string(&v, s) == 0 ? 0
                                                                                             : -1;
}

int osh_value_set_int(avro_value_t *rec, const char *field, int32_t x)
{
        avro_value_t v;

        return target(rec, field, AVRO_INT32, &v) == 0 && avro_value_set_int(&v, x) == 0 ? 0 : -1;
}

int osh_value_set_long(avro_value_t *rec, const char *field, int64_t x)
{
        avro_value_t v;

        return target(rec, field, AVRO_INT64, &v) == 0 && avro_value_set_long(&v, x) == 0 ? 0 : -1;
}

int osh_value_set_bool(avro_value_t *rec, const char *field, int x)
{
        avro_value_t v;

        return target(rec, field, AVRO_BOOLEAN, &v) == 0 && avro_value_set_boolean(&v, !!x) == 0
                   ? 0
                   : -1;
}

int osh_value_set_double(avro_value_t *rec, const char *field, double x)
{
        avro_value_t v;

        return target(rec, field, AVRO_DOUBLE, &v) == 0 && avro_value_set_double(&v, x) == 0 ? 0
                                                                                             : -1;
}

int osh_value_set_bytes(avro_value_t *rec, const char *field, const void *p, size_t len)
{
        avro_value_t v;
        static const char empty;

        if (target(rec, field, AVRO_BYTES, &v) < 0)
                return -1;
        return avro_value_set_bytes(&v, (void *)(p ? p : &empty), p ? len : 0) == 0 ? 0 : -1;
}

int osh_value_set_enum(avro_value_t *rec, const char *field, const char *symbol)
{
        avro_value_t v;
        int idx;

        if (!symbol || target(rec, field, AVRO_ENUM, &v) < 0)
                return -1;
        idx = avro_schema_enum_get_by_name(avro_value_get_schema(&v), symbol);
        return idx >= 0 && avro_value_set_enum(&v, idx) == 0 ? 0 : -1;
}

/* The field's current value, looking through a union; NULL type for null. */
static int current(avro_value_t *rec, const char *field, avro_value_t *out)
{
        avro_value_t f;

        if (osh_value_field(rec, field, &f) < 0)
                return -1;
        if (avro_value_get_type(&f) != AVRO_UNION) {
                *out = f;
                return 0;
        }
        return avro_value_get_current_branch(&f, out) == 0 ? 0 : -1;
}

static int current_of(avro_value_t *rec, const char *field, avro_type_t want, avro_value_t *out)
{
        if (current(rec, field, out) < 0)
                return -1;
        return avro_value_get_type(out) == want ? 0 : -1;
}

int osh_value_is_null(avro_value_t *rec, const char *field)
{
        avro_value_t v;

        if (current(rec, field, &v) < 0)
                return -1;
        return avro_value_get_type(&v) == AVRO_NULL;
}

int osh_value_get_string(avro_value_t *rec, const char *field, const char **s, size_t *len)
{
        avro_value_t v;
        size_t n;

        if (current_of(rec, field, AVRO_STRING, &v) < 0 || avro_value_get_string(&v, s, &n) != 0)
                return -1;
        if (len)
                *len = n ? n - 1 : 0; /* avro-c counts the NUL */
        return 0;
}

int osh_value_get_int(avro_value_t *rec, const char *field, int32_t *x)
{
        avro_value_t v;

        return current_of(rec, field, AVRO_INT32, &v) == 0 && avro_value_get_int(&v, x) == 0 ? 0
                                                                                             : -1;
}

int osh_value_get_long(avro_value_t *rec, const char *field, int64_t *x)
{
        avro_value_t v;
        int32_t i;

        if (current(rec, field, &v) < 0)
                return -1;
        if (avro_value_get_type(&v) == AVRO_INT32) {
                if (avro_value_get_int(&v, &i) != 0)
                        return -1;
                *x = i;
                return 0;
        }
        if (avro_value_get_type(&v) != AVRO_INT64)
                return -1;
        return avro_value_get_long(&v, x) == 0 ? 0 : -1;
}

int osh_value_get_bool(avro_value_t *rec, const char *field, int *x)
{
        avro_value_t v;

        return current_of(rec, field, AVRO_BOOLEAN, &v) == 0 && avro_value_get_boolean(&v, x) == 0
                   ? 0
                   : -1;
}

int osh_value_get_double(avro_value_t *rec, const char *field, double *x)
{
        avro_value_t v;

        return current_of(rec, field, AVRO_DOUBLE, &v) == 0 && avro_value_get_double(&v, x) == 0
                   ? 0
                   : -1;
}

int osh_value_get_bytes(avro_value_t *rec, const char *field, const void **p, size_t *len)
{
        avro_value_t v;

        return current_of(rec, field, AVRO_BYTES, &v) == 0 && avro_value_get_bytes(&v, p, len) == 0
                   ? 0
                   : -1;
}

int osh_value_get_enum(avro_value_t *rec, const char *field, const char **symbol)
{
        avro_value_t v;
        int idx;

        if (current_of(rec, field, AVRO_ENUM, &v) < 0 || avro_value_get_enum(&v, &idx) != 0)
                return -1;
        *symbol = avro_schema_enum_get(avro_value_get_schema(&v), idx);
        return *symbol ? 0 : -1;
}
