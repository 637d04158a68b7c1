/* The sent-ledger: which dispatches reached a final state (so a replay
 * never sends twice) and which wait for a retry, quiet hours or their
 * scheduled time (with the record itself, so they survive a crash once the
 * consumer offset moved past them).
 *
 * An append-only local file of tab-separated lines, fsync()ed after every
 * entry or per group (see disp_ledger_sync_t) and compacted on open; a torn last line from a
 * kill -9 is ignored. Callers write an entry BEFORE storing the consumer
 * offset of the record it covers. Keys are dispatch ids (a resend gets its
 * own key). Not thread-safe (one thread calls it; the group-commit
 * fdatasync runs on a thread of its own). */
#ifndef DISP_LEDGER_H
#define DISP_LEDGER_H

#include <stddef.h>
#include <stdint.h>

typedef struct disp_ledger disp_ledger_t;

typedef struct disp_pending {
        char *key;
        int64_t due_ms;     /* do not send before */
        int64_t first_ms;   /* first attempt or receipt, for giving up */
        unsigned attempt;   /* failed attempts so far */
        unsigned char *rec; /* the notify.dispatch.v1 record (single-object Avro) */
        size_t rec_len;
} disp_pending_t;

typedef enum {
        DISP_LEDGER_NOSYNC = 0, /* tests, benchmarks of the rest */
        DISP_LEDGER_SYNC_EACH,  /* fdatasync after every entry */
        DISP_LEDGER_SYNC_GROUP, /* entries are durable after disp_ledger_sync() */
} disp_ledger_sync_t;

/* Opens (creating) and compacts path. NULL with errstr. */
disp_ledger_t *disp_ledger_open(const char *path, disp_ledger_sync_t sync, char *errstr,
                                size_t errstr_size);
/* Group commit: one fdatasync for everything appended since the last one.
 * Call before storing the offsets of the records the entries cover. 0 / -1. */
int disp_ledger_sync(disp_ledger_t *l);
/* The same without waiting: a background thread runs the fdatasync while
 * the caller goes on sending (with DISP_LEDGER_SYNC_GROUP; the other modes
 * are durable at once). Returns a ticket for disp_ledger_durable. */
uint64_t disp_ledger_commit(disp_ledger_t *l);
/* 1 when every entry appended before the commit that gave ticket is on
 * disk, 0 not yet, -1 when an fdatasync failed (the ledger is then unusable:
 * store no more offsets). wait != 0 blocks until it is not 0. */
int disp_ledger_durable(disp_ledger_t *l, uint64_t ticket, int wait);
/* What the group commit cost: fdatasync calls and their time, and how long
 * callers blocked in disp_ledger_durable(wait) (or _sync) for them. */
typedef struct disp_ledger_stats {
        uint64_t syncs;
        double sync_ms, sync_ms_max, waited_ms;
} disp_ledger_stats_t;
void disp_ledger_stats(disp_ledger_t *l, disp_ledger_stats_t *out);
void disp_ledger_close(disp_ledger_t *l); /* NULL ok */

/* The final status recorded for key ("SENT", "FAILED_PERM", ...) or NULL.
 * The string is owned by the ledger. */
const char *disp_ledger_final(disp_ledger_t *l, const char *key);
/* What a final entry remembers, so its notify.status.v1 record can be
 * re-emitted if the process died before the broker acknowledged it. */
typedef struct disp_final_meta {
        const char *campaign_id; /* tabs and newlines are replaced by spaces */
        int channel;
        int recipients; /* SENT: recipients sent; FAILED_PERM: all recipients */
        int perm;       /* SENT: recipients refused for good beside them */
} disp_final_meta_t;

/* Records a final status (and drops any pending entry). meta may be NULL.
 * 0 / -1 (I/O). */
int disp_ledger_put_final(disp_ledger_t *l, const char *key, const char *status,
                          const disp_final_meta_t *meta);
/* Notes that the status record of key reached the broker (no fsync: losing
 * it only re-emits a status). */
int disp_ledger_put_acked(disp_ledger_t *l, const char *key);
/* Calls fn for every final entry whose status was not acknowledged. */
void disp_ledger_foreach_unacked(disp_ledger_t *l,
                                 void (*fn)(void *opaque, const char *key, const char *status,
                                            const disp_final_meta_t *meta),
                                 void *opaque);
/* Per-recipient outcome inside a dispatch sent one recipient at a time
 * (e-mail, webhook, X, ...), so a retried dispatch skips the recipients
 * already settled. index is the recipient's place in the screened list
 * (deterministic for a record; no account id is written). outcome 'S'
 * (sent) or 'P' (refused for good). 0 / -1 (I/O). Entries of a dispatch
 * that reached its final status are dropped at the next compaction. */
int disp_ledger_put_rcpt(disp_ledger_t *l, const char *key, size_t index, char outcome);
/* 'S', 'P', or 0 when recipient index of key is not settled. */
char disp_ledger_rcpt(disp_ledger_t *l, const char *key, size_t index);

/* Calls fn for every final entry (the delivery report is rebuilt from
 * them after a restart). */
void disp_ledger_foreach_final(disp_ledger_t *l,
                               void (*fn)(void *opaque, const char *key, const char *status,
                                          const disp_final_meta_t *meta),
                               void *opaque);
/* Calls fn for every pending entry. */
void disp_ledger_foreach_pending(disp_ledger_t *l,
                                 void (*fn)(void *opaque, const disp_pending_t *p), void *opaque);
/* Dispatches a campaign's frozen list holds, as the segmenter answered
 * (so the report knows when the campaign is complete, across restarts).
 * 0 / -1 (I/O); an unchanged value writes nothing. */
int disp_ledger_put_expected(disp_ledger_t *l, const char *campaign_id, int64_t n);
/* The expected count of campaign_id, -1 when unknown. */
int64_t disp_ledger_expected(const disp_ledger_t *l, const char *campaign_id);
/* Unacknowledged final entries. */
size_t disp_ledger_unacked_count(const disp_ledger_t *l);

/* Records or replaces the pending entry p->key (everything is copied). */
int disp_ledger_put_pending(disp_ledger_t *l, const disp_pending_t *p);
/* 1 when key has a pending entry. */
int disp_ledger_is_pending(disp_ledger_t *l, const char *key);

/* The pending entry that is due earliest, or NULL. Borrowed: valid until
 * the next put. */
const disp_pending_t *disp_ledger_next(disp_ledger_t *l);
size_t disp_ledger_pending_count(const disp_ledger_t *l);
size_t disp_ledger_final_count(const disp_ledger_t *l);

#endif
