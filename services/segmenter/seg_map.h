/* String → index hash map (open addressing, linear probing) used for
 * 利用者ID lookups. Keys are borrowed: the caller keeps them alive and
 * unchanged while they are in the map. */
#ifndef SEG_MAP_H
#define SEG_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct seg_map {
        const char **keys;
        size_t *vals;
        size_t cap; /* power of two, 0 before the first put */
        size_t len;
} seg_map_t;

/* Returns 1 and sets *val when found, else 0. */
int seg_map_get(const seg_map_t *m, const char *key, size_t *val);
/* Inserts or replaces. 0 / -1 (OOM). */
int seg_map_put(seg_map_t *m, const char *key, size_t val);
/* Frees the table (not the keys) and zeroes m. */
void seg_map_clear(seg_map_t *m);
uint64_t seg_hash_str(const char *s);

#endif
