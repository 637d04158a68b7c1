/* Map from a non-zero uint64 key (宛名番号, 世帯番号) to a uint32 value for
 * keys that mostly arrive in ascending order: 統合DB exports are sorted by
 * their key. Ascending keys are appended to a sorted array and found again
 * by galloping from the caller's last hit, so a sorted file costs a couple
 * of cache-friendly probes per line instead of a random miss into a
 * million-entry hash table. Keys below the largest so far go to a hash
 * table until keyidx_seal() sorts them in, so any order works. */
#ifndef EXTRACTOR_KEYIDX_H
#define EXTRACTOR_KEYIDX_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"

typedef struct keyidx {
        uint64_t *k; /* ascending */
        uint32_t *v;
        size_t n, cap;
        htab_t extra; /* keys that arrived below the largest so far */
} keyidx_t;

/* expect: keys to hold; out_of_order: of those, how many may arrive below
 * the largest so far (sizes the hash table; it grows if needed). */
int keyidx_init(keyidx_t *x, size_t expect, size_t out_of_order); /* 0 / -1 */
void keyidx_free(keyidx_t *x);
/* Inserts key -> val unless present: 1 inserted, 0 present, -1 OOM.
 * cursor: as for keyidx_get(). */
int keyidx_put(keyidx_t *x, uint64_t key, uint32_t val, size_t *cursor);
/* For a put or get of key a few calls ahead (see htab_prefetch). */
void keyidx_prefetch(const keyidx_t *x, uint64_t key);
/* Moves the out-of-order keys into the sorted array (a radix sort), so
 * that later lookups gallop there too. Call it once a file's keys are all
 * in. 0 / -1 (OOM: the index is unchanged). */
int keyidx_seal(keyidx_t *x);
/* Sorts the pairs (k[i], v[i]) by k, keeping the order of equal keys (a
 * radix sort). 0 / -1 (OOM: unchanged). */
int keyidx_sort_pairs(uint64_t *k, uint32_t *v, size_t n);
/* Pointer to key's value, or NULL. *cursor (NULL: none) remembers where the
 * last lookup landed; start it at 0, one per pass over a file. */
uint32_t *keyidx_get(const keyidx_t *x, uint64_t key, size_t *cursor);

#endif
