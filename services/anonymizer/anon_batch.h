/* One batch's abstracted records, buffered compactly until the batch is
 * complete (k-anonymity needs the whole batch), then judged and ordered.
 *
 * A record costs about 100 bytes + flag bytes + 4 bytes per value (~250
 * bytes with layout 1), so a Chiba-scale batch of ~200K applicants takes
 * ~50 MB. The raw records themselves are not kept. */
#ifndef ANON_BATCH_H
#define ANON_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "anon_kanon.h"
#include "anon_xform.h"

typedef enum {
        ANON_REC_KEEP = 0,
        ANON_REC_GENERALISED, /* released with birth month dropped */
        ANON_REC_SUPPRESSED,  /* group below k: not released */
        ANON_REC_DUPLICATE,   /* 利用者ID already taken by another record: rejected */
} anon_rec_state_t;

/* Counts for the privacy report; rejected/in are the caller's. */
typedef struct anon_stats {
        int64_t in;       /* distinct raw records of the batch */
        int64_t rejected; /* bad shape (caller) + duplicate 利用者ID (finish) */
        int64_t out;
        int64_t suppressed;
        int64_t generalised;
        int64_t extreme;        /* birth year-months removed for extreme age */
        int64_t groups;         /* distinct QI groups among released records */
        int64_t groups_below_k; /* groups below k before any action */
        int32_t min_group;      /* smallest released group (0: none released) */
        anon_risk_t risk;       /* over every quasi-identifier (anon_kanon.h) */
} anon_stats_t;

typedef struct anon_batch anon_batch_t;

/* rules are borrowed and must outlive the batch. NULL on OOM. */
anon_batch_t *anon_batch_new(const anon_rules_t *r);
void anon_batch_destroy(anon_batch_t *b); /* NULL ok */
/* Copies an abstracted record in; partition/offset say where it came from.
 * 0 / -1 (OOM). */
int anon_batch_add(anon_batch_t *b, const anon_out_t *o, int32_t partition, int64_t offset);
size_t anon_batch_count(const anon_batch_t *b);
/* Applies the k-floor, marks duplicate 利用者IDs, orders records by 利用者ID
 * and fills st (out, suppressed, generalised, extreme, groups, min_group;
 * adds duplicates to rejected). Call once, after the last add. 0 / -1
 * (OOM: nothing may be released). */
int anon_batch_finish(anon_batch_t *b, anon_stats_t *st);
/* Record i in the current order (after finish: ascending 利用者ID). The
 * pointers are owned by b and valid until the next add or destroy. */
void anon_batch_get(const anon_batch_t *b, size_t i, const char **uid, const uint8_t **flags,
                    const int32_t **values, anon_rec_state_t *state, int32_t *partition,
                    int64_t *offset);
/* Record i's generalised values (anon_kanon_ranges), after finish. */
size_t anon_batch_ranges(const anon_batch_t *b, size_t i, const int32_t **triples,
                         const uint8_t **unknown);

#endif
