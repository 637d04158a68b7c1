/* Open-addressing hash map from a non-zero uint64 key to a uint32 value,
 * for 宛名番号 and 世帯番号 (a million entries at city scale). */
#ifndef EXTRACTOR_HTAB_H
#define EXTRACTOR_HTAB_H

#include <stddef.h>
#include <stdint.h>

/* Key and value side by side: a lookup at city scale is one cache miss. */
typedef struct ext_htab_slot {
        uint64_t key; /* 0 = empty */
        uint32_t val;
} ext_htab_slot_t;

typedef struct htab {
        ext_htab_slot_t *s;
        size_t cap, n; /* cap is a power of two */
} ext_htab_t;

int ext_htab_init(ext_htab_t *h, size_t expect); /* 0 / -1 */
void ext_htab_free(ext_htab_t *h);
/* Starts loading key's slot into the cache: a lookup a few lines later
 * then hits it instead of waiting ~100 ns on memory. */
void ext_htab_prefetch(const ext_htab_t *h, uint64_t key);
/* Pointer to the value of key, or NULL. */
uint32_t *ext_htab_get(const ext_htab_t *h, uint64_t key);
/* Inserts key -> val unless present. 1 inserted, 0 present, -1 OOM. */
int ext_htab_put(ext_htab_t *h, uint64_t key, uint32_t val);

#endif
