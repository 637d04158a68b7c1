/* The extractor service: one batch from a directory, a manifest or a URL to
 * batch.control.v1 START, resident.raw.v1 records, resident.rejects.v1
 * dead letters and END, with a ledger that makes a re-run a no-op. */
#ifndef EXTRACTOR_EXTRACTOR_H
#define EXTRACTOR_EXTRACTOR_H

#include <stdint.h>

#include "oshirase/batch.h"
#include "oshirase/kafka.h"
#include "oshirase/service.h"
#include "extract.h"

typedef struct ext_run_opts {
        ext_opts_t ext;
        const char *input;     /* directory, manifest path or URL */
        const char *ledger;    /* path; NULL: no ledger */
        const char *spool_dir; /* downloads from URLs */
        int force;             /* ignore the ledger */
        int64_t emit_rate;     /* records/s, 0 = unlimited (tests use it to kill mid-batch) */
        const char *instance;
        /* A batch that would empty the cloud is held (nothing emitted)
         * unless confirm names it: its records fell by more than
         * hold_shrink_pct % against the ledger's previous batch, or more
         * than hold_reject_pct % of its lines were rejected. 0: no hold. */
        int hold_shrink_pct, hold_reject_pct;
        const char *confirm; /* a batch id the operator confirmed; NULL none */
} ext_run_opts_t;

typedef enum {
        EXT_DONE = 0,        /* batch emitted with its END marker */
        EXT_NOOP = 1,        /* already in the ledger (or unchanged since the last poll) */
        EXT_HELD = 2,        /* held for an operator's confirmation: nothing emitted */
        EXT_FAILED = -1,     /* the batch itself is wrong (incomplete, unreadable): no END */
        EXT_UNDELIVERED = -2 /* not fetched or not delivered: worth another try later */
} ext_result_t;

/* 1 for the results that fail a one-shot run. */
#define EXT_IS_FAILURE(r) ((r) < 0)

/* Where a batch goes: Kafka in the service (ext_sink_kafka), a capture in
 * the unit tests, so the emit order and failure rules are testable without
 * a broker. Each returns 0 / -1. flush: 0 once everything sent so far was
 * delivered. */
typedef struct ext_sink {
        int (*send)(void *opaque, const char *topic, const char *batch_id, const char *key,
                    const void *val, size_t len);
        int (*marker)(void *opaque, const osh_batch_marker_t *m, const char *instance);
        int (*flush)(void *opaque);
        void *opaque;
} ext_sink_t;

/* The service (extractor_service.c): its table, configure (every key the
 * run would refuse), open, run (one batch, or the --watch loop), close. */
extern const osh_service_app_t ext_service_app;

/* Fills s to send through p (borrowed; a producer on the core cluster). */
void ext_sink_kafka(ext_sink_t *s, osh_producer_t *p);

/* Runs the batch at o->input (a directory, manifest or URL). svc may be
 * NULL (tests). START, records, rejects, then END only once all of them
 * were delivered; prints the reconciliation to stdout. */
ext_result_t ext_run_once(osh_service_t *svc, const ext_sink_t *s, const ext_run_opts_t *o);

/* ---- watching (watch.c) ---- */

typedef struct ext_watch ext_watch_t;

/* Remembers, per batch directory, a signature of its entries (names, sizes,
 * mtimes) and how its last run ended, so an unchanged directory is not
 * re-read every poll: a batch that was emitted, failed or was held runs
 * again only once its files change; one that was not delivered (or not
 * fetched) is tried again after 1, 2, 4 ... 256 polls. NULL on OOM; free
 * with ext_watch_destroy() (NULL ok). */
ext_watch_t *ext_watch_new(void);
void ext_watch_destroy(ext_watch_t *w);

/* One poll of o->input. A batch (a directory with MANIFEST.tsv or
 * JUMIN.csv, a manifest path, a URL) runs unless unchanged since the last
 * poll; a directory of batch directories runs every new or changed
 * subdirectory that holds a MANIFEST.tsv, in name order (so a drop is taken
 * only once its manifest, written last, is there). Returns the worst result
 * of the batches run (a failure, else held, else EXT_DONE if any was
 * emitted, else EXT_NOOP); *ran (may be NULL) counts batches run. w may be
 * NULL (no memory: one-shot). With svc, the batches that stand failed or
 * held are published on the heartbeat (counters batches_failed,
 * batches_held; state DEGRADED while any is). */
ext_result_t ext_poll(ext_watch_t *w, osh_service_t *svc, const ext_sink_t *s,
                      const ext_run_opts_t *o, unsigned *ran);

/* ---- ledger (ledger.c) ---- */

/* 1 if every file hash of b is in the ledger at path, 0 if not, -1 on a
 * read error other than a missing ledger. */
int ext_ledger_has(const char *path, const ext_batch_t *b);
/* Appends b's files (hash, name, batch id) and a "#batch" line with its
 * record count, and fsyncs. 0 / -1. */
int ext_ledger_add(const char *path, const ext_batch_t *b, char *errstr, size_t errstr_size);
/* The last batch the ledger at path recorded: its id (into id) and record
 * count. 1 found, 0 none (or no ledger), -1 read error. */
int ext_ledger_last(const char *path, char *id, size_t id_size, uint64_t *records);

/* ---- fetch (fetch.c) ---- */

/* 1 if input is a URL the extractor fetches with libcurl. */
int ext_is_url(const char *input);
/* Downloads the manifest at url (or url + "MANIFEST.tsv" when it ends in
 * '/') and every file it lists into a new directory under spool_dir;
 * writes that directory's path to out (on failure too, when it was made:
 * the caller removes it; else out is ""). 0 / -1 with errstr. */
int ext_fetch(const char *url, const char *spool_dir, char *out, size_t out_size, char *errstr,
              size_t errstr_size);

#endif
