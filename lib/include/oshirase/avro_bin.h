/* Avro binary encoding written and read directly, for the hot paths whose
 * schema is fixed at compile time (the extractor's raw records, the
 * anonymizer's input and output). avro-c's generic values cost several
 * microseconds a record; these are plain varint and length-prefixed writes.
 *
 * Every user must keep a test that compares its bytes with the generic
 * encoder (osh_serde_encode) for the same values, so a schema change that
 * the hand-written order misses fails a test instead of corrupting data.
 *
 * Writer: errors (out of memory) are sticky; check osh_avro_buf_ok() once
 * after the last put. Reader: errors (truncation, overlong varint, negative
 * length) are sticky too; check osh_avro_in_ok() after the last get. */
#ifndef OSHIRASE_AVRO_BIN_H
#define OSHIRASE_AVRO_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/serde.h"

typedef struct osh_avro_buf {
        uint8_t *p; /* malloc()ed; owned by the buffer */
        size_t len, cap;
        int oom;
} osh_avro_buf_t;

/* An empty buffer is {0}. Reset keeps the memory for the next record. */
void osh_avro_buf_reset(osh_avro_buf_t *b);
void osh_avro_buf_free(osh_avro_buf_t *b);
static inline int osh_avro_buf_ok(const osh_avro_buf_t *b)
{
        return !b->oom;
}
/* Hands the bytes to the caller (who free()s them) and empties b. NULL
 * after an error. */
void *osh_avro_buf_take(osh_avro_buf_t *b, size_t *len);

/* Single-object header: C3 01 + the schema's fingerprint, little-endian. */
void osh_avro_put_header(osh_avro_buf_t *b, const osh_schema_t *s);
/* int and long, and union branch indexes, enum indexes and block counts. */
void osh_avro_put_long(osh_avro_buf_t *b, int64_t v);
void osh_avro_put_bool(osh_avro_buf_t *b, int v);
void osh_avro_put_double(osh_avro_buf_t *b, double v);
/* string and bytes: a length, then the bytes. */
void osh_avro_put_bytes(osh_avro_buf_t *b, const void *p, size_t n);
void osh_avro_put_str(osh_avro_buf_t *b, const char *s);
/* fixed: the bytes only. */
void osh_avro_put_fixed(osh_avro_buf_t *b, const void *p, size_t n);

typedef struct osh_avro_in {
        const uint8_t *p, *end;
        int err;
} osh_avro_in_t;

/* Reads the datum in buf[0..len) (after any single-object header). */
void osh_avro_in_init(osh_avro_in_t *r, const void *buf, size_t len);
static inline int osh_avro_in_ok(const osh_avro_in_t *r)
{
        return !r->err;
}
/* 1 when every byte was read and nothing failed: a datum with trailing
 * bytes is not the schema's. */
static inline int osh_avro_in_done(const osh_avro_in_t *r)
{
        return !r->err && r->p == r->end;
}
int64_t osh_avro_get_long(osh_avro_in_t *r);
/* An int: a long that must fit in 32 bits. */
int32_t osh_avro_get_int(osh_avro_in_t *r);
/* A boolean byte must be 0 or 1. */
int osh_avro_get_bool(osh_avro_in_t *r);
double osh_avro_get_double(osh_avro_in_t *r);
/* string / bytes: a pointer into the buffer (not NUL-terminated). */
const char *osh_avro_get_bytes(osh_avro_in_t *r, size_t *len);
const void *osh_avro_get_fixed(osh_avro_in_t *r, size_t n);
/* A union branch, enum symbol or similar index in [0, n); -1 (and the
 * error set) outside. */
int osh_avro_get_index(osh_avro_in_t *r, int n);
/* The count of the next array or map block: a negative count is followed by
 * the block's byte size, which is skipped over (we read items, not skip).
 * 0 ends the collection. At most max items per block are accepted. */
int64_t osh_avro_get_block(osh_avro_in_t *r, int64_t max);

#endif
