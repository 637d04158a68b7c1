/* In-memory population store for the segmenter: one complete snapshot of
 * resident.abstracted.v1, held column by column so that targeting is bitset
 * AND/OR over whole columns.
 *
 * Layout: residents are sorted by 利用者ID (so every list derived from a
 * snapshot has a deterministic order whatever the partition interleaving).
 * Each dictionary flag position is one bitset over residents; each values[]
 * position is a vector narrowed to the smallest width that holds it (all-zero
 * columns take no memory). Positions come from the dictionary; no attribute
 * names are stored here. */
#ifndef SEG_STORE_H
#define SEG_STORE_H

#include <stddef.h>
#include <stdint.h>

#define SEG_WORD_BITS 64

/* Bitset helpers over `words` 64-bit words. */
static inline size_t seg_words(size_t n)
{
        return (n + SEG_WORD_BITS - 1) / SEG_WORD_BITS;
}
static inline int seg_bit(const uint64_t *b, size_t i)
{
        return (int)((b[i / 64] >> (i % 64)) & 1u);
}
static inline void seg_bit_set(uint64_t *b, size_t i)
{
        b[i / 64] |= (uint64_t)1 << (i % 64);
}
/* Counting loops get a POPCNT version beside the baseline one, picked
 * when the program loads (x86-64 before 2008 lacks the instruction, and
 * without it every count is a libgcc call). GCC only: clang 14 does not
 * link a cloned extern function called from another file. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEG_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define SEG_POPCNT_CLONES
#endif
size_t seg_popcount(const uint64_t *b, size_t words);
/* Clears the bits at positions >= n in the last word (after a NOT). */
void seg_bits_trim(uint64_t *b, size_t n);

typedef struct seg_column {
        uint8_t width; /* 0 (all zero), 1, 2 or 4 bytes */
        void *data;    /* n entries of `width` bytes, signed */
} seg_column_t;

/* Values the anonymizer generalised to enforce k (docs/privacy.md): the true
 * value of such a resident lies in lo..hi. Held only for columns where some
 * resident has one; the column itself then holds the value an older reader
 * may read safely. */
typedef struct seg_range_col {
        uint64_t *gen;    /* bitset over residents; NULL = no generalised value */
        int32_t *lo, *hi; /* n entries, meaningful where gen is set */
} seg_range_col_t;

/* A value column sorted: its distinct values and, for each, the residents
 * holding it, so that a test on the column costs the distinct values plus
 * the residents it selects instead of a pass over every resident. */
typedef struct seg_vindex {
        size_t nvals;    /* 0: the column cannot be indexed (values too far apart) */
        int32_t *vals;   /* distinct values, ascending */
        uint32_t *start; /* nvals + 1: residents of vals[j] are rows[start[j] .. start[j+1]) */
        uint32_t *rows;  /* n, ascending within a value */
} seg_vindex_t;

typedef struct seg_store {
        size_t n;                /* residents */
        size_t words;            /* seg_words(n) */
        char **user_ids;         /* n, sorted ascending (strcmp) */
        size_t nflags;           /* flag columns (dictionary flag count) */
        uint64_t **flags;        /* nflags bitsets; NULL = no resident has the bit */
        size_t nvalues;          /* value columns (dictionary value count) */
        seg_column_t *values;    /* nvalues */
        seg_range_col_t *ranges; /* nvalues */
        uint64_t **unknown;      /* nflags bitsets of generalised-away flags; NULL = none */
        char batch_id[128];
        int32_t reference_date; /* days since epoch, from the records */
        int layout;
        /* nvalues column indexes, each built on first use by seg_store_vindex
         * (a cache: the store's data never changes); NULL = never index */
        seg_vindex_t **vindex;
} seg_store_t;

static inline int32_t seg_column_get(const seg_column_t *c, size_t i)
{
        switch (c->width) {
        case 1:
                return ((const int8_t *)c->data)[i];
        case 2:
                return ((const int16_t *)c->data)[i];
        case 4:
                return ((const int32_t *)c->data)[i];
        default:
                return 0;
        }
}

/* The index of value column col, built on first use and kept with the
 * store; NULL when there is none to use (all-zero column, values spread over
 * more than SEG_VINDEX_SPAN, out of memory): the caller scans instead. */
#define SEG_VINDEX_SPAN (1 << 22) /* a temporary count per possible value: 16 MiB at most */
const seg_vindex_t *seg_store_vindex(const seg_store_t *s, int col);

/* Index of user_id in s, or -1. */
long seg_store_find(const seg_store_t *s, const char *user_id);
void seg_store_destroy(seg_store_t *s); /* NULL ok */

/* ---- builder: collects one batch, then finalises into a store ---- */

typedef struct seg_builder seg_builder_t;

/* nflags/nvalues: the dictionary's flag and value counts; layout: its
 * layout version (records with another layout are refused). */
seg_builder_t *seg_builder_new(size_t nflags, size_t nvalues, int layout, const char *batch_id);
/* Adds or replaces (same user_id: the later record wins) one resident.
 * flags is the record's bitset (bits beyond flags_len read 0), values its
 * array (missing positions read 0; extra positions are ignored).
 * 0, or -1 with errstr (bad layout, empty id, OOM). */
int seg_builder_add(seg_builder_t *b, const char *user_id, int32_t reference_date, int layout,
                    const uint8_t *flags, size_t flags_len, const int32_t *values,
                    size_t values_len, char *errstr, size_t errstr_size);
/* Marks values of the resident added last as generalised: triples
 * (position, lo, hi), and the flags in `unknown` (bitset as in flags) as
 * unknown. Positions outside the dictionary and lo > hi are refused. Call
 * after seg_builder_add(); 0, or -1 with errstr. */
int seg_builder_generalise(seg_builder_t *b, const int32_t *triples, size_t ntriples,
                           const uint8_t *unknown, size_t unknown_len, char *errstr,
                           size_t errstr_size);
size_t seg_builder_count(const seg_builder_t *b);
/* Sorts, transposes and narrows into a new store; b is consumed (freed) in
 * every case. NULL on OOM. Caller frees with seg_store_destroy(). */
seg_store_t *seg_builder_finish(seg_builder_t *b);
void seg_builder_destroy(seg_builder_t *b); /* NULL ok */

#endif
