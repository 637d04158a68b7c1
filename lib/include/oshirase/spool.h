/* A bounded, crash-safe FIFO of opaque entries on disk, numbered by a
 * sequence that never goes back (relay-bridge spools TransferBatches here
 * while the cloud is unreachable, and sends from it in order).
 *
 * Layout: one file per entry, DIR/<seq, 20 digits>.spl, written to a .tmp
 * file, fsync'd (unless disabled) and renamed, so a crash leaves either the
 * whole entry or none. Each file holds a 56-byte header
 *   "OSHSPL01" | u64 seq | u64 len | SHA-256(data)      (little-endian)
 * then the data. DIR/sequence keeps the highest sequence ever removed, so
 * numbering continues after the spool drained and the process restarted.
 * Entries that fail their check at open or peek are moved to DIR/corrupt/;
 * entries the receiver refused for good go to DIR/rejected/ (kept for an
 * operator, not counted against the bound).
 *
 * Not thread-safe; one process per directory. */
#ifndef OSHIRASE_SPOOL_H
#define OSHIRASE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct osh_spool osh_spool_t;

typedef struct osh_spool_stats {
        uint64_t count;     /* entries queued */
        uint64_t bytes;     /* their file sizes */
        uint64_t corrupt;   /* moved to corrupt/ since open */
        uint64_t rejected;  /* moved to rejected/ since open */
        uint64_t first_seq; /* oldest queued entry (0: empty) */
        uint64_t next_seq;  /* what osh_spool_next_seq() returns */
} osh_spool_stats_t;

/* Opens (creating) dir: queues valid entries in sequence order, removes
 * leftover .tmp files, quarantines corrupt ones. max_bytes bounds the
 * queued bytes (0 = unbounded). fsync_data=0 trades durability against
 * power loss for speed (a process crash is still safe). NULL with errstr.
 * Free with osh_spool_close(). */
osh_spool_t *osh_spool_open(const char *dir, uint64_t max_bytes, int fsync_data, char *errstr,
                            size_t errstr_size);
void osh_spool_close(osh_spool_t *sp); /* NULL ok */

/* The sequence the next entry should carry (> every sequence seen). */
uint64_t osh_spool_next_seq(const osh_spool_t *sp);

/* Raises the next sequence to at least seq and records it durably (a
 * brand-new spool can start above anything a lost one used, e.g. at the
 * current epoch milliseconds). 0 / -1 with errstr. */
int osh_spool_advance(osh_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size);

/* 1 if an entry of len data bytes would take the spool over its bound.
 * An empty spool accepts any single entry (so nothing waits forever). */
int osh_spool_would_overflow(const osh_spool_t *sp, size_t len);

/* Appends a durable copy of data as entry seq, which must be >= next_seq.
 * Fails (-1, errstr) on I/O errors, a smaller seq, or when the entry does
 * not fit the bound: the caller then holds back (back-pressure) and
 * retries after a pop; nothing is ever dropped. */
int osh_spool_append(osh_spool_t *sp, uint64_t seq, const void *data, size_t len, char *errstr,
                     size_t errstr_size);

/* Reads the oldest entry into a malloc'd buffer the caller free()s.
 * Returns 0, 1 when empty, -1 on an I/O error. A corrupt entry is
 * quarantined and the next one returned. */
int osh_spool_peek(osh_spool_t *sp, uint64_t *seq, uint8_t **data, size_t *len, char *errstr,
                   size_t errstr_size);

/* Removes the oldest entry, which must be seq (after its Ack). 0 / -1. */
int osh_spool_pop(osh_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size);
/* Moves the oldest entry (seq) to rejected/. 0 / -1. */
int osh_spool_reject(osh_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size);

/* Calls fn for every queued entry, oldest first (read from disk); stops at
 * the first non-zero return and returns it. Corrupt entries are skipped
 * (quarantined). */
int osh_spool_foreach(osh_spool_t *sp,
                      int (*fn)(uint64_t seq, const uint8_t *data, size_t len, void *opaque),
                      void *opaque);

void osh_spool_stats(const osh_spool_t *sp, osh_spool_stats_t *out);

#endif
