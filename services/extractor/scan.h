/* The first half of reading a batch: one chunk of one export file becomes
 * typed rows, every check that needs only the line itself done (column
 * count, encoding, codes, dates, lengths). Chunks share nothing, so they
 * are scanned in parallel; extract_join.c then joins them in file order (the
 * checks that need other lines: duplicates, unknown persons).
 *
 * A chunk other than a file's first starts speculatively after a line
 * break; extract_join.c accepts it only when the previous chunk stopped exactly
 * there, so a quoted field holding a line break is never cut in two. */
#ifndef EXTRACTOR_SCAN_H
#define EXTRACTOR_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "extract.h"

/* What scanning one file needs; read-only while chunks are scanned. */
typedef struct ext_scan_file {
        ext_type_t type;
        const char *data; /* after any BOM */
        size_t len;
        osh_textenc_t enc;
        const char *header; /* the expected header line */
        size_t ncols, max_field;
        const char *gaiji_repl;
        int fy;           /* fiscal year of the reference date */
        int32_t ref_days; /* the reference date */
} ext_scan_file_t;

/* One line's data for the join. A line rejected while scanning has rej
 * set; pre says the reject stands whatever the join finds (for status
 * files an unknown person outranks a bad field, as if checked first). */
typedef struct ext_row {
        const char *raw;
        uint32_t raw_len, line; /* line: physical, from 1 at the chunk's start */
        uint32_t rej;           /* 1 + index into the chunk's rejects; 0 none */
        uint8_t pre;
        union {
                struct {
                        uint64_t atena;
                        int64_t applied_ms;
                        const char *uid; /* ASCII, in the mapped file */
                        uint8_t uid_len, cats, doui;
                } app;
                struct {
                        uint64_t atena, setai;
                        int32_t birth;
                        uint8_t sex, rel;
                        char rel_code[2];
                        const char *s[4]; /* name, kana, address code, address */
                        uint16_t n[4];
                } res;
                struct {
                        uint64_t setai, head;
                } hh;
                struct {
                        uint64_t atena;
                        uint8_t bit;    /* tax: 1 << (fy - nendo); else 1 */
                        uint8_t active; /* the period covers the reference date */
                        char val;       /* tax: kazei_kubun, extension: value */
                } st;
        } u;
} ext_row_t;

typedef struct ext_arena_block ext_arena_block_t;

typedef struct ext_chunk {
        const ext_scan_file_t *f;
        uint32_t file;
        size_t start, end; /* scan the records that start in [start, end) */
        int first;         /* the file's first record is its header */
        size_t rows_hint;  /* rows to allocate at first (0: 4096) */
        /* results */
        int done;
        size_t stop;  /* where the next record starts */
        size_t lines; /* physical lines in [start, stop) */
        int header_seen, any, last_terminated;
        uint64_t read, gaiji;
        ext_row_t *rows;
        size_t nrows, rows_cap;
        ext_reject_t *rej; /* file and line filled in by the join */
        size_t nrej, rej_cap;
        ext_arena_block_t *arena; /* converted text the rows point into */
        int fatal;                /* ext_scan_fatal_t: for the batch, if the chunk is accepted */
        size_t fatal_line;        /* EXT_SCAN_TRUNCATED: the record's line in the chunk */
} ext_chunk_t;

typedef enum {
        EXT_SCAN_OK = 0,
        EXT_SCAN_OOM,
        EXT_SCAN_TRUNCATED,
        EXT_SCAN_BAD_HEADER
} ext_scan_fatal_t;

/* Scans c (f, file, start, end, first set). 0, or -1 with c->fatal set.
 * Results are freed by ext_chunk_clear(). */
int ext_scan(ext_chunk_t *c);
void ext_chunk_clear(ext_chunk_t *c);

#endif
