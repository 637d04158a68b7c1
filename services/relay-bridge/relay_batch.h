/* Uplink batching: records into one TransferBatch until a count, byte or
 * time limit (the caller times the linger; the stamp here is the envelope's wall time). */
#ifndef RELAY_BATCH_H
#define RELAY_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "oshirase/transfer.h"

typedef struct rb_batch rb_batch_t;

/* source/target segment names and instance are copied. NULL on OOM.
 * Free with rb_batch_destroy() (NULL ok). */
rb_batch_t *rb_batch_new(const char *source, const char *target, const char *instance,
                         size_t max_records, size_t max_bytes);
void rb_batch_destroy(rb_batch_t *b);

/* Opens a new batch (must be empty) with the sequence it will carry. */
void rb_batch_start(rb_batch_t *b, uint64_t seq, int64_t now_ms);
int rb_batch_add(rb_batch_t *b, const rd_kafka_message_t *m, char *errstr, size_t errstr_size);
int rb_batch_add_record(rb_batch_t *b, const osh_transfer_record_t *r, char *errstr,
                        size_t errstr_size);

/* 1 if adding a record of this many payload bytes would pass max_bytes
 * (never for an empty batch: one oversize record travels alone). */
int rb_batch_would_exceed_bytes(const rb_batch_t *b, size_t record_bytes);
int rb_batch_would_exceed(const rb_batch_t *b, const rd_kafka_message_t *m);
/* 1 once max_records or max_bytes is reached. */
int rb_batch_full(const rb_batch_t *b);
size_t rb_batch_count(const rb_batch_t *b);
size_t rb_batch_bytes(const rb_batch_t *b);
uint64_t rb_batch_seq(const rb_batch_t *b);
int64_t rb_batch_started(const rb_batch_t *b);

/* Packs (SHA-256 included) into a malloc'd buffer the caller free()s. The
 * batch stays until rb_batch_clear(). 0 / -1. */
int rb_batch_pack(rb_batch_t *b, uint8_t **out, size_t *len, char *errstr, size_t errstr_size);
void rb_batch_clear(rb_batch_t *b);

/* Highest offset per (topic, partition) in a batch. Topics are borrowed
 * from b. Returns the number written (at most max). */
typedef struct rb_batch_extent {
        const char *topic;
        int32_t partition;
        int64_t max_offset;
} rb_batch_extent_t;
size_t rb_batch_extents(const Osh__TransferBatch *b, rb_batch_extent_t *out, size_t max);

/* Payload bytes of a Kafka message as the builder counts them. */
size_t rb_message_bytes(const rd_kafka_message_t *m);

#endif
