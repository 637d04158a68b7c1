/* cloud-ingest's batch path (POST /v1/batches) and its durable state.
 *
 * A batch that passed authentication is handled in this order, all or
 * nothing, one batch at a time:
 *   1. unpack + SHA-256 (lib transfer.h)                    → 400
 *   2. target is ours                                       → 400
 *   3. every record's (topic, fingerprint) is allowed       → 422, with the
 *      first offending record's index, topic and reason (authenticated and
 *      well-formed, but its content may not enter: 422 rather than 403, which
 *      is kept for credentials)
 *   4. sequence: a different payload under a sequence number already seen
 *      from the same sender                                → 409
 *   5. records at or below the source (topic, partition) watermark are
 *      dropped as duplicates; the rest are produced to the cloud cluster with
 *      the same topic, key, value, timestamp, headers (osh.src set to the
 *      batch's source coordinates) and, when it exists, partition
 *   6. wait for every delivery (failure or timeout         → 503, retry)
 *   7. checkpoint watermarks + sequence on ingest.offsets.v1 (compacted)
 *   8. 200 with a packed osh.Ack: OK (something published) or DUPLICATE,
 *      committed = the watermark of every (topic, partition) in the batch.
 *
 * Restart: ci_ingest_recover() reads ingest.offsets.v1, then scans the cloud
 * topics past the checkpointed positions for osh.src headers, so records
 * published just before a crash (checkpoint not yet written) still count. */
#ifndef CI_INGEST_H
#define CI_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/config.h"
#include "oshirase/heartbeat.h"
#include "oshirase/http_server.h"
#include "oshirase/kafka.h"
#include "oshirase/transfer.h"

#define CI_TOPIC_OFFSETS  "ingest.offsets.v1"
#define CI_MEDIA_PROTOBUF "application/x-protobuf"

typedef struct ci_ingest_opts {
        const osh_config_t *cfg; /* kafka.* pass-through for the cloud cluster */
        const char *allow;       /* allow-list spec (lib allowlist.h) */
        const char *target;      /* batches must be addressed to this ("cloud") */
        size_t max_batch_bytes;
        int64_t delivery_timeout_ms;
        osh_heartbeat_t *hb; /* counters; may be NULL */
} ci_ingest_opts_t;

typedef struct ci_ingest ci_ingest_t;

/* Creates the producer and parses the allow-list (refusing one that would
 * let personal data into the cloud). NULL with errstr. */
ci_ingest_t *ci_ingest_new(const ci_ingest_opts_t *o, char *errstr, size_t errstr_size);
void ci_ingest_destroy(ci_ingest_t *ci); /* flushes; NULL ok */

/* Rebuilds the de-dup state from the cloud cluster. 0 / -1. */
int ci_ingest_recover(ci_ingest_t *ci, char *errstr, size_t errstr_size);

/* Handles an authenticated batch body; fills rep (status and body). */
void ci_ingest_batch(ci_ingest_t *ci, const uint8_t *body, size_t len, osh_http_reply_t *rep);

/* Counts a batch refused before ci_ingest_batch (auth, size, type). */
void ci_ingest_count_reject(ci_ingest_t *ci);
/* Snapshot of the counters for the probe. */
void ci_ingest_counters(ci_ingest_t *ci, uint64_t *ok, uint64_t *dup, uint64_t *rejected,
                        uint64_t *published, int64_t *last_batch_ms);

/* Produces msgs (headers ownership passes) and waits for every delivery,
 * serialised with the batch path. 0 when all were delivered, -1 otherwise. */
int ci_ingest_publish(ci_ingest_t *ci, osh_kafka_msg_t *msgs, size_t n);

size_t ci_ingest_max_batch_bytes(const ci_ingest_t *ci);

/* The highest published source offset (tests), -1 when none. */
int64_t ci_ingest_watermark(ci_ingest_t *ci, const char *topic, int32_t partition);

#endif
