/* resident.abstracted.v1 written directly with oshirase/avro_bin.h: the
 * generic avro-c value cost more per record than producing it. The unit
 * test compares these bytes with osh_serde_encode() of the same values. */
#ifndef ANON_ABS_H
#define ANON_ABS_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/avro_bin.h"

typedef struct anon_abs {
        const char *uid;
        const char *batch_id;
        int32_t reference_date;
        int32_t layout;
        const uint8_t *flags;
        size_t flag_bytes;
        const int32_t *values;
        size_t nvalues;
        const int32_t *ranges; /* generalised values: nranges triples (position, lo, hi) */
        size_t nranges;
        const uint8_t *unknown; /* flags generalised away: unknown_bytes (0: none) */
        size_t unknown_bytes;
} anon_abs_t;

/* Appends the single-object encoding of r (schema s: resident.abstracted.v1)
 * to b; errors are b's (osh_avro_buf_ok). */
void anon_abs_encode(osh_avro_buf_t *b, const osh_schema_t *s, const anon_abs_t *r);

#endif
