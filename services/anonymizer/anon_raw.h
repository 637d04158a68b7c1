/* The fields of one resident.raw.v1 record that the rules read, as a plain
 * struct. Two ways fill it:
 *
 *  - anon_raw_decode(): Avro binary of the current writer schema read
 *    directly (oshirase/avro_bin.h); no allocation, strings point into the
 *    input buffer. Written for exactly one schema revision, pinned by
 *    ANON_RAW_FINGERPRINT: records of any other revision never take it.
 *  - anon_raw_from_value(): a decoded avro-c value (older writer schemas,
 *    resolved to the current reader schema with its defaults); strings
 *    point into the value.
 *
 * Both must give the same struct for the same record (unit-tested), so the
 * rules cannot tell which path a record took. */
#ifndef ANON_RAW_H
#define ANON_RAW_H

#include <avro.h>
#include <stddef.h>
#include <stdint.h>

#include "anon_rules.h"

/* CRC-64-AVRO of the resident.raw.v1 revision anon_raw_decode() reads. */
#define ANON_RAW_FINGERPRINT UINT64_C(0x09e2b2164f406f45)

#define ANON_RAW_FIELDS      32 /* top-level fields of resident.raw.v1, at most */
#define ANON_RAW_MAX_MEMBERS 64 /* larger households are malformed */
#define ANON_RAW_MAX_EXT     256

typedef struct anon_str {
        const char *p; /* not NUL-terminated; NULL only for a null union branch */
        size_t len;
} anon_str_t;

typedef struct anon_member {
        int rel; /* Relationship enum index */
        int has_birth;
        int32_t birth;
} anon_member_t;

typedef struct anon_ext {
        anon_str_t key, val;
} anon_ext_t;

typedef struct anon_raw {
        anon_str_t atena_no, batch_id, address_code;
        anon_str_t user_id; /* applicant.user_id; p NULL: null */
        int32_t reference_date;
        int has_birth;
        int32_t birth_date;
        /* Enum index or boolean of every top-level enum/boolean field, by
         * field index (the rules' anon_raw_idx_t / anon_op_t.fidx). */
        int32_t scalar[ANON_RAW_FIELDS];
        size_t nm; /* members in the record; only the first MAX_MEMBERS kept */
        anon_member_t m[ANON_RAW_MAX_MEMBERS];
        size_t next; /* map entries in the record; only the first MAX_EXT kept */
        anon_ext_t ext[ANON_RAW_MAX_EXT];
} anon_raw_t;

/* datum: the Avro body (after the single-object header) of a record written
 * with the ANON_RAW_FINGERPRINT schema. Every byte must be read. 0 / -1. */
int anon_raw_decode(const void *datum, size_t len, anon_raw_t *out);
/* rec: a resident.raw.v1 value (borrowed; out points into it). 0 / -1. */
int anon_raw_from_value(const anon_raw_idx_t *x, avro_value_t *rec, anon_raw_t *out);

#endif
