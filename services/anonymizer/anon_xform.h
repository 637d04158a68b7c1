/* Applies the rule set to one decoded resident.raw.v1 record (anon_raw.h), producing the
 * compact abstracted form (利用者ID + flag bitset + values array) that the
 * batch buffer keeps until the batch is complete. Pure: no I/O, no clock. */
#ifndef ANON_XFORM_H
#define ANON_XFORM_H

#include <stdint.h>

#include "anon_id.h"
#include "anon_raw.h"
#include "anon_rules.h"

typedef enum {
        ANON_OK = 0,
        ANON_REJECT_DECODE,  /* not a decodable resident.raw.v1 value */
        ANON_REJECT_SCHEMA,  /* unknown or foreign schema fingerprint */
        ANON_REJECT_MISSING, /* 宛名番号 missing */
        ANON_REJECT_BAD,     /* a field the rules need is malformed */
} anon_verdict_t;

typedef struct anon_out {
        char uid[ANON_UID_MAX + 1];
        uint8_t *flags;         /* rules->flag_bytes, caller-provided */
        int32_t *values;        /* rules->value_count, caller-provided */
        int32_t reference_date; /* days since 1970-01-01 */
        int extreme;            /* 1: birth year-month removed for extreme age */
        const char *reason;     /* static text for rejects; never record content */
} anon_out_t;

/* Fills out (zeroing flags/values first) from one decoded record. */
anon_verdict_t anon_xform(const anon_rules_t *r, const anon_key_t *k, const anon_raw_t *raw,
                          anon_out_t *out);

/* Calendar helpers over osh_date_from_days (days since 1970-01-01). */
int32_t anon_yearmonth(int32_t days); /* YYYYMM */
/* Completed years at ref (birthday counted on the day itself); -1 if born after ref. */
int anon_age(int32_t birth, int32_t ref);

#endif
