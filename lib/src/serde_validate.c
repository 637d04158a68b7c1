/* Walks an Avro binary datum against its schema without allocating, so
 * that avro-c never sees a length, count or index it could trip over:
 * avro-c allocates whatever a string length says and loops over whatever
 * a block count says. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "serde_internal.h"

#define VALIDATE_MAX_DEPTH 64
/* Items that occupy no bytes (null, empty records) are not bounded by the
 * input length; cap them separately. */
#define VALIDATE_ZERO_SIZE_ITEMS 4096

typedef struct {
        const unsigned char *p, *start, *end;
        size_t items; /* budget of array/map items */
        char *errstr;
        size_t errstr_size;
} vcur_t;

static int vfail(vcur_t *c, const char *what)
{
        snprintf(c->errstr, c->errstr_size, "%s at byte %zu", what, (size_t)(c->p - c->start));
        return -1;
}

static size_t remaining(const vcur_t *c)
{
        return (size_t)(c->end - c->p);
}

/* Zig-zag varint of at most max_bytes; rejects encodings whose value
 * would overflow 64 (or, for int, 32) bits. The bound is taken once, so
 * the byte loop (the validator's hottest) has no per-byte limit check. */
static int read_varint(vcur_t *c, int max_bytes, int64_t *out)
{
        size_t avail = remaining(c);
        int n = avail < (size_t)max_bytes ? (int)avail : max_bytes;
        uint64_t v = 0;

        for (int i = 0; i < n; i++) {
                unsigned char b = c->p[i];
                if (i == max_bytes - 1 && (b >> (max_bytes == 10 ? 1 : 4)) != 0) {
                        c->p += i + 1;
                        return vfail(c, "varint overflow");
                }
                v |= (uint64_t)(b & 0x7f) << (7 * i);
                if (!(b & 0x80)) {
                        c->p += i + 1;
                        *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
                        return 0;
                }
        }
        c->p += n;
        return vfail(c, n < max_bytes ? "truncated varint" : "varint too long");
}

static int read_long(vcur_t *c, int64_t *out)
{
        return read_varint(c, 10, out);
}

static int skip(vcur_t *c, int64_t n, const char *what)
{
        if (n < 0 || (uint64_t)n > remaining(c))
                return vfail(c, what);
        c->p += n;
        return 0;
}

static int walk(vcur_t *c, avro_schema_t s, int depth);

/* An array of int or long: the common bulk of a datum (the abstracted
 * values), checked in a tight loop instead of one walk() per item. Every
 * item takes at least one byte, so none spends the zero-size budget. */
static int walk_varints(vcur_t *c, int max_bytes, int64_t count)
{
        int64_t v;

        for (int64_t i = 0; i < count; i++)
                if (read_varint(c, max_bytes, &v) < 0)
                        return -1;
        return 0;
}

static int walk_block_items(vcur_t *c, avro_schema_t s, int is_map, int64_t count, int depth)
{
        avro_schema_t item = is_map ? avro_schema_map_values(s) : avro_schema_array_items(s);

        if (!is_map && depth < VALIDATE_MAX_DEPTH &&
            (avro_typeof(item) == AVRO_INT32 || avro_typeof(item) == AVRO_INT64))
                return walk_varints(c, avro_typeof(item) == AVRO_INT32 ? 5 : 10, count);
        for (int64_t i = 0; i < count; i++) {
                const unsigned char *before = c->p;
                int64_t klen;
                if (c->items == 0)
                        return vfail(c, "too many array/map items");
                if (is_map && (read_long(c, &klen) < 0 || skip(c, klen, "bad map key length") < 0))
                        return -1;
                if (walk(c, item, depth + 1) < 0)
                        return -1;
                /* Only items that consumed nothing spend the budget. */
                if (c->p == before)
                        c->items--;
        }
        return 0;
}

static int walk_blocks(vcur_t *c, avro_schema_t s, int is_map, int depth)
{
        for (;;) {
                int64_t count, bytes = -1;
                if (read_long(c, &count) < 0)
                        return -1;
                if (count == 0)
                        return 0;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return vfail(c, "bad block count");
                        count = -count;
                        if (read_long(c, &bytes) < 0)
                                return -1;
                        if (bytes < 0 || (uint64_t)bytes > remaining(c))
                                return vfail(c, "bad block size");
                }
                const unsigned char *start = c->p;
                /* Each non-empty item needs at least one byte. */
                if ((uint64_t)count > remaining(c) + c->items)
                        return vfail(c, "block count exceeds input");
                if (walk_block_items(c, s, is_map, count, depth) < 0)
                        return -1;
                if (bytes >= 0 && c->p - start != bytes)
                        return vfail(c, "block size mismatch");
        }
}

static int walk_record(vcur_t *c, avro_schema_t s, int depth)
{
        size_t n = avro_schema_record_size(s);

        for (size_t i = 0; i < n; i++)
                if (walk(c, avro_schema_record_field_get_by_index(s, (int)i), depth + 1) < 0)
                        return -1;
        return 0;
}

static int walk_index(vcur_t *c, int64_t limit, int64_t *out, const char *what)
{
        if (read_long(c, out) < 0)
                return -1;
        if (*out < 0 || *out >= limit)
                return vfail(c, what);
        return 0;
}

static int walk(vcur_t *c, avro_schema_t s, int depth)
{
        int64_t v;

        if (depth > VALIDATE_MAX_DEPTH)
                return vfail(c, "nested too deeply");
        switch (avro_typeof(s)) {
        case AVRO_NULL:
                return 0;
        case AVRO_BOOLEAN:
                if (remaining(c) < 1 || *c->p > 1)
                        return vfail(c, "bad boolean");
                c->p++;
                return 0;
        case AVRO_INT32:
                return read_varint(c, 5, &v);
        case AVRO_INT64:
                return read_long(c, &v);
        case AVRO_FLOAT:
                return skip(c, 4, "truncated float");
        case AVRO_DOUBLE:
                return skip(c, 8, "truncated double");
        case AVRO_STRING:
        case AVRO_BYTES:
                if (read_long(c, &v) < 0)
                        return -1;
                return skip(c, v, "length exceeds input");
        case AVRO_FIXED:
                return skip(c, avro_schema_fixed_size(s), "truncated fixed");
        case AVRO_ENUM:
                return walk_index(c, avro_schema_enum_number_of_symbols(s), &v,
                                  "enum index out of range");
        case AVRO_UNION:
                if (walk_index(c, (int64_t)avro_schema_union_size(s), &v,
                               "union branch out of range") < 0)
                        return -1;
                return walk(c, avro_schema_union_branch(s, (int)v), depth + 1);
        case AVRO_RECORD:
                return walk_record(c, s, depth);
        case AVRO_ARRAY:
                return walk_blocks(c, s, 0, depth);
        case AVRO_MAP:
                return walk_blocks(c, s, 1, depth);
        case AVRO_LINK:
                return walk(c, avro_schema_link_target(s), depth + 1);
        }
        return vfail(c, "unsupported schema type");
}

int osh_serde_validate_datum(avro_schema_t schema, const void *buf, size_t len, char *errstr,
                             size_t errstr_size)
{
        static const unsigned char empty;

        if (!buf && len == 0)
                buf = &empty;
        vcur_t c = {.p = buf,
                    .start = buf,
                    .end = (const unsigned char *)buf + len,
                    .items = VALIDATE_ZERO_SIZE_ITEMS,
                    .errstr = errstr,
                    .errstr_size = errstr_size};

        if (!schema || (!buf && len)) {
                snprintf(errstr, errstr_size, "no schema or buffer");
                return -1;
        }
        if (walk(&c, schema, 0) < 0)
                return -1;
        if (c.p != c.end)
                return vfail(&c, "trailing bytes");
        return 0;
}
