/* Batch framing (docs/architecture.md §3): a batch is a full snapshot on one data
 * topic, framed by START and END records on batch.control.v1. The END
 * record carries the record count and an order-independent checksum, so a
 * consumer reading many partitions can tell when it holds the whole batch,
 * whatever order records arrived in, and only then switch snapshots.
 *
 * Checksum ("sum64-sha256"): the sum mod 2^64 of the first 8 bytes
 * (little-endian) of SHA-256(key || 0x00 || value) over the batch's distinct
 * records, as 16 hex digits. Duplicates from at-least-once delivery are
 * dropped by key before they are summed. */
#ifndef OSHIRASE_BATCH_H
#define OSHIRASE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/kafka.h"
#include "oshirase/sha256.h"

#define OSH_BATCH_ID_MAX       128
#define OSH_BATCH_CHECKSUM_ALG "sum64-sha256"

typedef struct osh_batch_marker {
        char batch_id[OSH_BATCH_ID_MAX];
        int is_end;
        char topic[128];        /* the data topic */
        int64_t record_count;   /* END only */
        char checksum[17];      /* END only: 16 hex digits */
        int32_t reference_date; /* days since 1970-01-01 */
        int64_t extract_time_ms;
        int full_snapshot;
} osh_batch_marker_t;

/* Running count + checksum of the records a producer writes. */
typedef struct osh_batch_sum {
        int64_t count;
        uint64_t sum;
} osh_batch_sum_t;

void osh_batch_sum_add(osh_batch_sum_t *s, const void *key, size_t key_len, const void *val,
                       size_t val_len);
void osh_batch_sum_hex(const osh_batch_sum_t *s, char out[17]);
/* One record's contribution to the sum: what osh_batch_sum_add() adds, for
 * callers that hash records on other threads. */
uint64_t osh_batch_record_hash(const void *key, size_t key_len, const void *val, size_t val_len);
void osh_batch_sum_add_hash(osh_batch_sum_t *s, uint64_t h);
/* osh_batch_record_hash() with the caller's hasher (osh_sha256_new()),
 * reused record after record: a fresh one per record allocates and
 * initialises a digest context each time. h is ready again on return. */
uint64_t osh_batch_record_hash_with(osh_sha256_t *h, const void *key, size_t key_len,
                                    const void *val, size_t val_len);

/* Encodes m as a batch.control.v1 record and produces it keyed by batch id
 * with the osh.batch.id header. producer/instance name the writer. 0 / -1. */
int osh_batch_marker_send(osh_producer_t *p, const osh_batch_marker_t *m, const char *producer,
                          const char *instance);
/* The same with extra headers (hdrs is taken over, also on failure; NULL
 * ok): e.g. the anonymizer's resume point on its START. */
int osh_batch_marker_send_hdrs(osh_producer_t *p, const osh_batch_marker_t *m, const char *producer,
                               const char *instance, rd_kafka_headers_t *hdrs);
/* Decodes a batch.control.v1 value. 0 / -1 with errstr. */
int osh_batch_marker_decode(const void *buf, size_t len, osh_batch_marker_t *out, char *errstr,
                            size_t errstr_size);

/* Adds the osh.batch.id header to hdrs (created if *hdrs is NULL). 0 / -1. */
int osh_batch_header(rd_kafka_headers_t **hdrs, const char *batch_id);

/* ---- consumer side: which batches are complete ---- */

typedef enum {
        OSH_BATCH_OPEN = 0, /* still receiving, or END not seen yet */
        OSH_BATCH_COMPLETE, /* END seen, count and checksum match */
        OSH_BATCH_MISMATCH, /* more records than END says, or checksum differs */
} osh_batch_state_t;

typedef struct osh_batch_tracker osh_batch_tracker_t;

osh_batch_tracker_t *osh_batch_tracker_new(void);
void osh_batch_tracker_destroy(osh_batch_tracker_t *t); /* NULL ok */
/* Records one data record of batch_id. Returns 1 if it was new, 0 if its key
 * was already seen in that batch (a redelivery), -1 on OOM. */
int osh_batch_tracker_add(osh_batch_tracker_t *t, const char *batch_id, const void *key,
                          size_t key_len, const void *val, size_t val_len);
/* The same with the two hashes computed by the caller (on another thread,
 * say): key_hash = osh_batch_record_hash_with(h, key, key_len, "", 0),
 * rec_hash = osh_batch_record_hash_with(h, key, key_len, val, val_len). */
int osh_batch_tracker_add_hashed(osh_batch_tracker_t *t, const char *batch_id, uint64_t key_hash,
                                 uint64_t rec_hash);
/* Records a START or END marker. */
int osh_batch_tracker_marker(osh_batch_tracker_t *t, const osh_batch_marker_t *m);
osh_batch_state_t osh_batch_tracker_state(osh_batch_tracker_t *t, const char *batch_id);
/* Distinct records received so far (0 if unknown batch). */
int64_t osh_batch_tracker_count(osh_batch_tracker_t *t, const char *batch_id);
/* The END marker, if seen (NULL otherwise); owned by t. */
const osh_batch_marker_t *osh_batch_tracker_end(osh_batch_tracker_t *t, const char *batch_id);
/* Forgets a batch (after it was swapped in or abandoned). */
void osh_batch_tracker_forget(osh_batch_tracker_t *t, const char *batch_id);

#endif
