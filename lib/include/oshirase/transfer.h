/* Glue for proto/transfer.proto: the envelope that carries Kafka records
 * from the exchange segment to the cloud over HTTPS (docs/architecture.md §4).
 *
 * Senders fill an osh_transfer_builder_t and pack it; receivers call
 * osh_transfer_unpack(), which checks size limits, field sanity and the
 * SHA-256, then read the generated Osh__TransferBatch directly:
 *
 *   for (i = 0; i < b->n_records; i++) {
 *           Osh__Record *r = b->records[i];
 *           r->topic, r->partition, r->offset, r->timestamp_ms
 *           r->key_opt_case == OSH__RECORD__KEY_OPT_KEY ? r->key : null key
 *           r->value_opt_case == OSH__RECORD__VALUE_OPT_VALUE ? r->value : tombstone
 *           r->headers[j]->key, ->value_opt_case / ->value (same convention)
 *   }
 *
 * Digest (payload_sha256) = SHA-256 of this byte string, which does not
 * depend on protobuf encoding (u32/u64/i32/i64 are fixed-width big-endian,
 * two's complement):
 *
 *   "osh.transfer.v1" 0x00
 *   str(source_segment) str(source_instance) str(target)
 *   u64(sequence) i64(created_ms) u64(number of records)
 *   then per record, in order:
 *     str(topic) i32(partition) i64(offset) i64(timestamp_ms)
 *     opt(key) opt(value) u64(number of headers)
 *     then per header, in order: str(key) opt(value)
 *
 *   str(s) = u64(strlen(s)) s          (no NUL)
 *   opt(b) = 0x00                      if null
 *          = 0x01 u64(len(b)) b        otherwise (empty is not null)
 *
 * Fields unknown to this version are not covered: a new field that matters
 * needs a new tag ("osh.transfer.v2").
 */
#ifndef OSHIRASE_TRANSFER_H
#define OSHIRASE_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "transfer.pb-c.h" /* generated into the build tree by protoc-c */

#define OSH_TRANSFER_DIGEST_TAG "osh.transfer.v1"

/* Defaults for osh_transfer_limits_t fields left 0. */
#define OSH_TRANSFER_DEFAULT_MAX_BYTES   (16u * 1024u * 1024u)
#define OSH_TRANSFER_DEFAULT_MAX_RECORDS 100000u
/* Size cap for Ack / ProbeRequest / ProbeResponse. */
#define OSH_TRANSFER_SMALL_MAX_BYTES (1024u * 1024u)

typedef struct osh_transfer_limits {
        size_t max_bytes;   /* packed size; 0 = OSH_TRANSFER_DEFAULT_MAX_BYTES */
        size_t max_records; /* 0 = OSH_TRANSFER_DEFAULT_MAX_RECORDS */
} osh_transfer_limits_t;

/* Borrowed views of one record for the builder; everything is copied. */
typedef struct osh_transfer_header {
        const char *key;   /* NUL-terminated */
        const void *value; /* NULL = null value */
        size_t value_len;
} osh_transfer_header_t;

typedef struct osh_transfer_record {
        const char *topic; /* must be a legal Kafka topic name */
        int32_t partition; /* >= 0 */
        int64_t offset;    /* >= 0 */
        int64_t timestamp_ms;
        const void *key; /* NULL = null key */
        size_t key_len;
        const void *value; /* NULL = null value (tombstone) */
        size_t value_len;
        const osh_transfer_header_t *headers;
        size_t header_cnt;
} osh_transfer_record_t;

typedef struct osh_transfer_builder osh_transfer_builder_t;

/* Strings are copied. source_segment and target must be non-empty;
 * source_instance may be NULL (= ""). NULL on OOM or empty strings.
 * Free with osh_transfer_builder_destroy(). */
osh_transfer_builder_t *osh_transfer_builder_new(const char *source_segment,
                                                 const char *source_instance, const char *target,
                                                 uint64_t sequence, int64_t created_ms);
/* Accepts NULL. */
void osh_transfer_builder_destroy(osh_transfer_builder_t *b);

/* Drops all records and sets a new sequence / creation time, keeping the
 * source and target, so one builder serves a stream of batches. */
void osh_transfer_builder_reset(osh_transfer_builder_t *b, uint64_t sequence, int64_t created_ms);

/* Appends a deep copy of rec. 0, or -1 (invalid topic/partition/offset, OOM)
 * with errstr filled; the builder is unchanged on failure. */
int osh_transfer_builder_add(osh_transfer_builder_t *b, const osh_transfer_record_t *rec,
                             char *errstr, size_t errstr_size);

/* Appends a consumed librdkafka message (topic, partition, offset, key,
 * value, headers, timestamp; -1 timestamp when the message has none).
 * The message stays owned by the caller. 0 / -1 as above. */
struct rd_kafka_message_s;
int osh_transfer_builder_add_message(osh_transfer_builder_t *b,
                                     const struct rd_kafka_message_s *msg, char *errstr,
                                     size_t errstr_size);

size_t osh_transfer_builder_count(const osh_transfer_builder_t *b);
/* Sum of topic, key, value and header bytes added so far: a cheap lower
 * bound of the packed size, for capping batches. */
size_t osh_transfer_builder_payload_bytes(const osh_transfer_builder_t *b);

/* Computes payload_sha256 and packs into a malloc'd buffer that the caller
 * frees with free(). On success *out / *out_len are set; -1 on OOM. */
int osh_transfer_builder_pack(osh_transfer_builder_t *b, uint8_t **out, size_t *out_len,
                              char *errstr, size_t errstr_size);

/* Unpacks and validates a TransferBatch: size limits (limits may be NULL for
 * defaults), protobuf well-formedness, non-empty source/target, legal topic
 * names, partition/offset >= 0, 32-byte payload_sha256 that matches the
 * digest. NULL with errstr on any failure. Free the result with
 * osh_transfer_batch_free(). */
Osh__TransferBatch *osh_transfer_unpack(const uint8_t *buf, size_t len,
                                        const osh_transfer_limits_t *limits, char *errstr,
                                        size_t errstr_size);
/* osh__transfer_batch__free_unpacked(); accepts NULL. */
void osh_transfer_batch_free(Osh__TransferBatch *batch);

/* The digest described above, over any batch (payload_sha256 is ignored).
 * 0 / -1 (libcrypto or OOM failure). */
int osh_transfer_digest(const Osh__TransferBatch *batch, uint8_t out[32]);

/* 1 if name is a legal Kafka topic name ([A-Za-z0-9._-], 1..249 chars). */
int osh_transfer_topic_valid(const char *name);

/* Packs any generated message (pass &ack.base etc.) into a malloc'd buffer
 * the caller free()s. 0 / -1 (OOM). */
int osh_transfer_pack_message(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len,
                              char *errstr, size_t errstr_size);

/* Unpack + validate the small messages (at most OSH_TRANSFER_SMALL_MAX_BYTES).
 * Ack: known non-UNSPECIFIED status, legal topics, partition >= 0,
 * through_offset >= 0. Probe messages: non-empty probe_id. NULL with errstr
 * on failure; free with the generated osh__*__free_unpacked(msg, NULL). */
Osh__Ack *osh_transfer_ack_unpack(const uint8_t *buf, size_t len, char *errstr, size_t errstr_size);
Osh__ProbeRequest *osh_transfer_probe_request_unpack(const uint8_t *buf, size_t len, char *errstr,
                                                     size_t errstr_size);
Osh__ProbeResponse *osh_transfer_probe_response_unpack(const uint8_t *buf, size_t len, char *errstr,
                                                       size_t errstr_size);

/* "OK", "DUPLICATE", "RETRY", "REJECTED", "UNSPECIFIED" or "UNKNOWN". */
const char *osh_transfer_ack_status_name(int status);

#endif
