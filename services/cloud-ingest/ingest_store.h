/* Where cloud-ingest's de-dup state lives: ingest.offsets.v1 on the cloud
 * cluster (schema jp.oshirase.IngestCheckpoint; compacted, so the latest
 * record per key is the state), plus a scan of the cloud topics themselves
 * at start-up for records published after the last checkpoint. */
#ifndef CI_INGEST_STORE_H
#define CI_INGEST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest_state.h"
#include "oshirase/allowlist.h"
#include "oshirase/config.h"
#include "oshirase/kafka.h"

typedef struct ci_store ci_store_t;

/* cfg's kafka.* keys describe the cloud cluster (cfg may be NULL: defaults).
 * No I/O yet. NULL with errstr. */
ci_store_t *ci_store_new(const osh_config_t *cfg, char *errstr, size_t errstr_size);
void ci_store_destroy(ci_store_t *st); /* NULL ok */

/* Source watermarks and sender sequences (owned by st). */
ci_state_t *ci_store_state(ci_store_t *st);
#define ci_store_seqs ci_store_state

/* Notes that a record was written at (topic, partition, offset) of the cloud
 * cluster. */
void ci_store_dest_raise(ci_store_t *st, const char *topic, int32_t partition, int64_t offset);

/* Publishes msgs and waits for their delivery: 0 / -1. Headers pass. */
typedef int(ci_publish_fn)(void *opaque, osh_kafka_msg_t *msgs, size_t n);
void ci_store_set_publisher(ci_store_t *st, ci_publish_fn *fn, void *opaque);

/* Writes every watermark changed since the last checkpoint, and the sender's
 * latest sequence + digest. 0 / -1. */
int ci_store_checkpoint(ci_store_t *st, const char *sender, uint64_t seq, const uint8_t digest[32]);

/* Reads ingest.offsets.v1 from the beginning, then the allow-listed cloud
 * topics past the checkpointed positions. 0 / -1 with errstr. */
int ci_store_recover(ci_store_t *st, const osh_allowlist_t *al, char *errstr, size_t errstr_size);

/* Checkpoint record codec (exposed for tests). kind: 's' source offset,
 * 'd' destination offset, 'q' sequence. */
typedef struct ci_checkpoint {
        char kind;
        char name[300];
        int32_t partition;
        int64_t value;
        uint8_t digest[32]; /* 'q' only */
} ci_checkpoint_t;
int ci_checkpoint_encode(const ci_checkpoint_t *c, void **out, size_t *out_len, char *key,
                         size_t key_size);
int ci_checkpoint_decode(const void *buf, size_t len, ci_checkpoint_t *out);

#endif
