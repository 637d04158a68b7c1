/* Map from a non-zero uint64 key (宛名番号, 世帯番号) to a uint32 value for
 * keys that mostly arrive in ascending order: 統合DB exports are sorted by
 * their key, often per ward and concatenated. Keys are appended to an
 * array in ascending runs (a key below the last one starts a new run) and
 * found again by galloping from a remembered position, so each line costs
 * a few cache-friendly probes per run instead of a random miss into a
 * million-entry hash table. A key below the last one that cannot start a
 * run (too many, or the last is short) goes to a hash table, so any order
 * works. ext_keyidx_seal() sorts everything into one run. */
#ifndef EXTRACTOR_KEYIDX_H
#define EXTRACTOR_KEYIDX_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"

#define KEYIDX_MAX_RUNS 32
#define KEYIDX_MIN_RUN  4096 /* keys in a run before a key below starts another */

typedef struct keyidx {
        uint64_t *k; /* ascending within each run */
        uint32_t *v;
        size_t n, cap;
        size_t run[KEYIDX_MAX_RUNS];  /* where each run starts */
        size_t hint[KEYIDX_MAX_RUNS]; /* puts' last position in each run */
        size_t nruns;
        ext_htab_t extra; /* keys below the last once the runs are used up */
} ext_keyidx_t;

/* expect: keys to hold; out_of_order: of those, how many may end up in
 * the hash table (sizes it; it grows if needed). */
int ext_keyidx_init(ext_keyidx_t *x, size_t expect, size_t out_of_order); /* 0 / -1 */
void ext_keyidx_free(ext_keyidx_t *x);
/* Inserts key -> val unless present: 1 inserted, 0 present, -1 OOM. */
int ext_keyidx_put(ext_keyidx_t *x, uint64_t key, uint32_t val);
/* For a put or get of key a few calls ahead (see ext_htab_prefetch). */
void ext_keyidx_prefetch(const ext_keyidx_t *x, uint64_t key);
/* Sorts the runs and the hash table's keys into one run (a radix sort),
 * so that later lookups gallop there. Call it once a file's keys are all
 * in. 0 / -1 (OOM: the index is unchanged). */
int ext_keyidx_seal(ext_keyidx_t *x);
/* Sorts the pairs (k[i], v[i]) by k, keeping the order of equal keys (a
 * radix sort). 0 / -1 (OOM: unchanged). */
int ext_keyidx_sort_pairs(uint64_t *k, uint32_t *v, size_t n);
/* Pointer to key's value, or NULL. *cursor (NULL: none) remembers where the
 * last lookup landed; start it at 0, one per pass over a file. Before a
 * seal with several runs, each run is searched. */
uint32_t *ext_keyidx_get(const ext_keyidx_t *x, uint64_t key, size_t *cursor);

#endif
