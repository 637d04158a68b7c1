/* Cutting a batch's files into chunks the worker threads scan (see
 * extract_int.h, scan.h). */
#define _GNU_SOURCE /* CPU_COUNT */
#include "extract_int.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CHUNK (1u << 20)
#define MAX_THREADS   8
/* Lines a chunk holds at most: a scanned row takes ~90 bytes whatever the
 * line's length, so 1 MiB of 18-byte tax lines (ZEI.csv) made 5 MB of rows
 * per chunk, and the chunks scanned ahead of the join were the biggest
 * part of the peak RSS. */
#define CHUNK_ROWS   16384
#define SAMPLE_BYTES (64u << 10) /* read to guess a file's line length */

/* ---- scanning in parallel --------------------------------------------- */

static size_t count_cols(const char *header)
{
        size_t n = 1;

        for (const char *p = header; *p; p++)
                n += *p == ',';
        return n;
}

/* What a scan of f needs, the encoding settled once per file. */
static void scan_setup(ext_batch_t *b, ext_xfile_t *f)
{
        ext_scan_file_t *sf = &f->scan;
        size_t bom = f->len >= 3 && !memcmp(f->buf, OSH_TEXTENC_UTF8_BOM, 3) ? 3 : 0;

        sf->type = f->ft->t;
        sf->data = f->buf ? f->buf + bom : "";
        sf->len = f->len - bom;
        /* scanning the whole file is only needed when nothing says */
        if (bom)
                sf->enc = OSH_TEXTENC_UTF8;
        else
                sf->enc = b->enc_set ? b->enc : osh_textenc_detect(f->buf, f->len, NULL);
        sf->header = f->ft->header;
        sf->ncols = count_cols(f->ft->header);
        sf->max_field = b->o.max_field;
        sf->gaiji_repl = b->o.gaiji_repl;
        sf->fy = b->fy;
        sf->ref_days = b->ref_days;
        f->line_base = 1;
}

/* Average bytes per line in the file's first SAMPLE_BYTES (at least 1). */
static size_t line_bytes(const ext_scan_file_t *sf)
{
        size_t len = sf->len < SAMPLE_BYTES ? sf->len : SAMPLE_BYTES, lines = 0;

        for (const char *p = sf->data, *end = sf->data + len;
             (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
                lines++;
        return lines ? (len + lines - 1) / lines : len + 1;
}

/* Chunk boundaries just after a line break near every step bytes (about
 * chunk_bytes, fewer for files of short lines); the join checks them
 * (scan.h). Each chunk's rows are sized for the lines it should hold. */
static size_t add_chunks(ext_batch_t *b, uint32_t fi, ext_chunk_t *out)
{
        const ext_scan_file_t *sf = &b->files[fi].scan;
        size_t step = b->o.chunk_bytes ? b->o.chunk_bytes : DEFAULT_CHUNK, n = 0, at = 0;
        size_t lb = line_bytes(sf);

        if (!b->o.chunk_bytes && step / lb > CHUNK_ROWS)
                step = CHUNK_ROWS * lb;

        do {
                size_t end = at + step < sf->len ? at + step : sf->len;
                const char *nl = end < sf->len ? memchr(sf->data + end, '\n', sf->len - end) : NULL;
                end = nl ? (size_t)(nl - sf->data) + 1 : sf->len;
                if (out)
                        out[n] =
                            (ext_chunk_t){.f = sf,
                                          .file = fi,
                                          .start = at,
                                          .end = end,
                                          .first = at == 0,
                                          .rows_hint = (end - at) / lb + (end - at) / lb / 4 + 64};
                n++;
                at = end;
        } while (at < sf->len);
        return n;
}

int ext_plan_chunks(ext_batch_t *b)
{
        size_t n = 0;

        for (uint32_t i = 0; i < b->nfiles; i++) {
                scan_setup(b, &b->files[i]);
                n += add_chunks(b, i, NULL);
        }
        if (!(b->chunks = calloc(n, sizeof(*b->chunks))))
                return -1;
        for (uint32_t i = 0; i < b->nfiles; i++)
                b->nchunks += add_chunks(b, i, b->chunks + b->nchunks);
        return 0;
}

/* Tasks: hash every file, then scan every chunk. */
static void run_task(void *ctx, size_t i)
{
        ext_batch_t *b = ctx;

        if (i < b->nfiles)
                ext_hash_file(&b->files[i]);
        else
                ext_scan(&b->chunks[i - b->nfiles]);
}

static size_t workers(const ext_batch_t *b)
{
        cpu_set_t set;
        /* the CPUs this process may run on (taskset, cpusets), not the host's */
        long cpus = sched_getaffinity(0, sizeof(set), &set) ? sysconf(_SC_NPROCESSORS_ONLN)
                                                            : CPU_COUNT(&set);
        size_t n = b->o.threads ? b->o.threads : cpus > 0 ? (size_t)cpus : 1;

        return n > MAX_THREADS ? MAX_THREADS : n;
}

int ext_start_workers(ext_batch_t *b)
{
        size_t n = workers(b);

        /* a few chunks in hand per worker bound memory, not speed */
        b->pool = ext_pool_start(b->nfiles + b->nchunks, n, b->nfiles, 3 * n + 2, run_task, b);
        return b->pool ? 0 : -1;
}
