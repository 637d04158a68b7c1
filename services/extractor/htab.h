/* Open-addressing hash map from a non-zero uint64 key to a uint32 value,
 * for 宛名番号 and 世帯番号 (a million entries at city scale). */
#ifndef EXTRACTOR_HTAB_H
#define EXTRACTOR_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* Key and value side by side: a lookup at city scale is one cache miss. */
typedef struct htab_slot {
        uint64_t key; /* 0 = empty */
        uint32_t val;
} htab_slot_t;

typedef struct htab {
        htab_slot_t *s;
        size_t cap, n; /* cap is a power of two */
} htab_t;

int htab_init(htab_t *h, size_t expect); /* 0 / -1 */
void htab_free(htab_t *h);
/* Starts loading key's slot into the cache: a lookup a few lines later
 * then hits it instead of waiting ~100 ns on memory. */
void htab_prefetch(const htab_t *h, uint64_t key);
/* Pointer to the value of key, or NULL. */
uint32_t *htab_get(const htab_t *h, uint64_t key);
/* Inserts key -> val unless present. 1 inserted, 0 present, -1 OOM. */
int htab_put(htab_t *h, uint64_t key, uint32_t val);

#endif
