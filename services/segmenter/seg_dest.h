/* destinations.v1 in memory (compacted: the latest entry per 利用者ID wins)
 * and the per-snapshot view that joins it to the population store as
 * bitsets, so suppression counts are popcounts. */
#ifndef SEG_DEST_H
#define SEG_DEST_H

#include <stddef.h>
#include <stdint.h>

#include "seg_map.h"
#include "seg_store.h"

#define SEG_CHANNEL_CNT 7
extern const char *const seg_channel_names[SEG_CHANNEL_CNT]; /* Avro enum order */
int seg_channel_parse(const char *s);                        /* index or -1 */

typedef struct seg_dest {
        char *user_id;
        char *account_id;
        char **categories;
        size_t ncat;
        int channel; /* index into seg_channel_names */
        int active;  /* 0: WITHDRAWN */
        int present; /* 0: deleted by a tombstone */
} seg_dest_t;

typedef struct seg_dests {
        seg_dest_t *v;
        size_t n, cap;
        seg_map_t idx;
        uint64_t generation; /* bumped on every change */
} seg_dests_t;

/* Inserts or replaces the entry of user_id (strings copied). 0 / -1. */
int seg_dests_put(seg_dests_t *d, const char *user_id, int channel, const char *account_id,
                  const char *const *categories, size_t ncat, int active);
/* Tombstone: the user has no destination any more. */
void seg_dests_delete(seg_dests_t *d, const char *user_id);
const seg_dest_t *seg_dests_get(const seg_dests_t *d, const char *user_id);
void seg_dests_clear(seg_dests_t *d);

/* Manual exclusion list (protected persons): one 利用者ID per line, '#'
 * comments. Sorted copy for lookups. */
typedef struct seg_exclusions {
        char **ids;
        size_t n;
} seg_exclusions_t;
int seg_exclusions_load(seg_exclusions_t *x, const char *path, char *errstr, size_t errstr_size);
int seg_exclusions_has(const seg_exclusions_t *x, const char *user_id);
void seg_exclusions_clear(seg_exclusions_t *x);

#define SEG_CHAN_NONE SEG_CHANNEL_CNT /* the channel row of residents without a destination */
#define SEG_WARD_MAX  64              /* wards past these share one row, code -1 */

/* The join of one store with the destinations and exclusions, rebuilt when
 * either changes. Category bitsets and ward sets are built on first use and
 * cached. */
typedef struct seg_view {
        const seg_store_t *store;
        uint64_t dest_generation;
        uint64_t excl_generation;
        int32_t *dest;      /* store->n: index into dests->v, or -1 */
        uint64_t *has_dest; /* a present destination */
        uint64_t *active;   /* present and ACTIVE */
        uint64_t *excluded; /* on the exclusion list */
        struct seg_cat {
                char *name;
                uint64_t *bits; /* active and opted in to name */
        } * cats;
        size_t ncats;
        const seg_dests_t *dests;
        /* residents by destination channel ([SEG_CHAN_NONE]: none); NULL = nobody */
        uint64_t *chan[SEG_CHANNEL_CNT + 1];
        /* residents by ward (municipality code), ascending; built by seg_view_wards */
        int wards_built;
        size_t nwards;
        int32_t ward_code[SEG_WARD_MAX + 1];
        uint64_t *ward[SEG_WARD_MAX + 1];
} seg_view_t;

/* (Re)builds v for store/dests/exclusions if anything changed. 0 / -1. */
int seg_view_sync(seg_view_t *v, const seg_store_t *store, const seg_dests_t *dests,
                  const seg_exclusions_t *excl, uint64_t excl_generation);
/* Builds the ward sets from value column col (-1: no ward column, every
 * resident in ward 0) once per view. 0 / -1 (OOM). */
int seg_view_wards(seg_view_t *v, int col);
/* Bitset of residents whose active destination opted in to name; NULL OOM. */
const uint64_t *seg_view_category(seg_view_t *v, const char *name);
void seg_view_clear(seg_view_t *v);

#endif
