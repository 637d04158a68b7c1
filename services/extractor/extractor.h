/* The extractor service: one batch from a directory, a manifest or a URL to
 * batch.control.v1 START, resident.raw.v1 records, resident.rejects.v1
 * dead letters and END, with a ledger that makes a re-run a no-op. */
#ifndef EXTRACTOR_EXTRACTOR_H
#define EXTRACTOR_EXTRACTOR_H

#include <stdint.h>

#include "oshirase/kafka.h"
#include "oshirase/service.h"
#include "extract.h"

typedef struct exr_opts {
        ext_opts_t ext;
        const char *input;     /* directory, manifest path or URL */
        const char *ledger;    /* path; NULL: no ledger */
        const char *spool_dir; /* downloads from URLs */
        int force;             /* ignore the ledger */
        int64_t emit_rate;     /* records/s, 0 = unlimited (tests use it to kill mid-batch) */
        const char *instance;
} exr_opts_t;

typedef enum {
        EXR_DONE = 0,   /* batch emitted with its END marker */
        EXR_NOOP = 1,   /* already in the ledger */
        EXR_FAILED = -1 /* incomplete or unreadable batch: no END marker */
} exr_result_t;

/* Runs one batch. svc may be NULL (tests); p must be a producer on the core
 * cluster. Prints the reconciliation to stdout. */
exr_result_t exr_run_once(osh_service_t *svc, osh_producer_t *p, const exr_opts_t *o);

/* ---- ledger (ledger.c) ---- */

/* 1 if every file hash of b is in the ledger at path, 0 if not, -1 on a
 * read error other than a missing ledger. */
int exr_ledger_has(const char *path, const ext_batch_t *b);
/* Appends b's files (hash, name, batch id) and fsyncs. 0 / -1. */
int exr_ledger_add(const char *path, const ext_batch_t *b, char *errstr, size_t errstr_size);

/* ---- fetch (fetch.c) ---- */

/* 1 if input is a URL the extractor fetches with libcurl. */
int exr_is_url(const char *input);
/* Downloads the manifest at url (or url + "MANIFEST.tsv" when it ends in
 * '/') and every file it lists into a new directory under spool_dir;
 * writes that directory's path to out. 0 / -1 with errstr. */
int exr_fetch(const char *url, const char *spool_dir, char *out, size_t out_size, char *errstr,
              size_t errstr_size);

#endif
