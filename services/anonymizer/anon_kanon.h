/* Re-identification risk of a batch over the rule file's quasi-identifiers,
 * and the enforced k (docs/privacy.md, docs/architecture.md §5).
 *
 * An equivalence class is the set of released records that show the same
 * (generalised) quasi-identifiers. Risk is measured before and after
 * enforcement: class sizes (1, 2-4, 5-9, >= 10), the share of unique
 * records, prosecutor risk 1/|class| (highest and mean over records), and the
 * quasi-identifier whose removal makes the most records non-unique.
 *
 * Enforcement (k_action = hierarchy) is a greedy local, multi-dimensional
 * recoding in rounds: in each round every class smaller than k takes one
 * more step along the hierarchy of one quasi-identifier, the step chosen per
 * class for the lowest cost (the rule file's, i.e. what targeting loses), a
 * step that brings the class to k preferred at equal cost plus one. Every
 * class of a round chooses from the round's starting state, so the result
 * depends on the set of records, never on the order they arrived in (a
 * replay gives the same bytes). Records whose class is at least k are never
 * touched again, so coarse values appear only where the data is sparse. A
 * class with every hierarchy exhausted is suppressed: suppression is the
 * last resort.
 *
 * A generalised value is released as a range (resident.abstracted.v1
 * `ranges`) with a safe stand-in in `values` (YYYY00 for a year-month known to
 * the year, else 0); generalised flags as `unknown_flags` with their bit
 * cleared. Pure: no I/O. */
#ifndef ANON_KANON_H
#define ANON_KANON_H

#include <stddef.h>
#include <stdint.h>

#include "anon_rules.h"

/* Class-size buckets: 1, 2-4, 5-9, >= 10. */
#define ANON_RISK_BUCKETS 4

typedef struct anon_risk {
        int64_t records_before, records_after;    /* records measured */
        int64_t bucket_before[ANON_RISK_BUCKETS]; /* records per class-size bucket */
        int64_t bucket_after[ANON_RISK_BUCKETS];
        int64_t groups_before, groups_after; /* classes */
        int64_t groups_below_k;              /* classes below k_floor before */
        int32_t min_before, min_after;       /* smallest class (0: none) */
        double unique_before, unique_after;  /* share of records alone */
        double risk_max, risk_avg;           /* prosecutor risk after */
        int top_dim;                         /* dims index, -1: none */
        int64_t top_drop;                    /* records no longer unique without it */
        int64_t generalised, generalised_cells, suppressed; /* by enforcement */
} anon_risk_t;

/* The records of a batch: values[i] and flags[i] are record i's (modified
 * in place by anon_kanon_render); live[i] is 1 for a record that may be
 * released (enforcement clears it to suppress). Borrowed. */
typedef struct anon_kview {
        size_t n;
        int32_t ref_ym; /* the batch's reference date as YYYYMM (protect ages) */
        int32_t **values;
        uint8_t **flags;
        uint8_t *live;
        int threads; /* to judge on (< 1: one); the result is the same */
} anon_kview_t;

typedef struct anon_kanon anon_kanon_t;

/* Measures the live records (risk->*_before), enforces k_floor when the rule
 * file says k_action = hierarchy and k_floor > 1, measures again
 * (risk->*_after) and rewrites generalised records in place. *out keeps the
 * ranges for anon_kanon_ranges(). 0 / -1 (OOM: nothing may be released). */
int anon_kanon_run(const anon_rules_t *r, const anon_kview_t *v, anon_kanon_t **out,
                   anon_risk_t *risk);
/* Record i's generalised values: returns the number of (position, lo, hi)
 * triples at *triples (0: released exact) and *unknown (flag_bytes, or NULL). */
size_t anon_kanon_ranges(const anon_kanon_t *k, size_t i, const int32_t **triples,
                         const uint8_t **unknown);
/* 1 if record i was generalised. */
int anon_kanon_generalised(const anon_kanon_t *k, size_t i);
void anon_kanon_destroy(anon_kanon_t *k); /* NULL ok */

#endif
