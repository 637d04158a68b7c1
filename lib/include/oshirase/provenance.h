/* The provenance header a segment crossing stamps on every record it writes
 * (relay-bridge kafka mode, cloud-ingest), for downstream de-duplication:
 *
 *   osh.src = "<cluster>/<topic>/<partition>/<offset>"   e.g.
 *             "processing/resident.abstracted.v1/3/1207"
 *
 * One header instead of four: librdkafka's cost is per header, and it
 * dominated the relay's produce path. Topic names cannot hold '/', so the
 * value is parsed from the right and the cluster (free text) may. Records
 * written before this format carry osh.src.{cluster,topic,partition,offset};
 * osh_src_from_message() still reads those (recovery scans old data). */
#ifndef OSHIRASE_PROVENANCE_H
#define OSHIRASE_PROVENANCE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#define OSH_SRC_TOPIC_MAX 250 /* a Kafka topic name is at most 249 chars */

typedef struct osh_src {
        char topic[OSH_SRC_TOPIC_MAX];
        int32_t partition;
        int64_t offset;
} osh_src_t;

/* Writes the header value (no NUL counted) into out. Returns its length,
 * or -1 if it does not fit. */
int osh_src_format(char *out, size_t size, const char *cluster, const char *topic,
                   int32_t partition, int64_t offset);

/* Parses a header value. 0, or -1 when it is not "<cluster>/<topic>/<p>/<o>"
 * with a non-empty topic and non-negative numbers. */
int osh_src_parse(const void *val, size_t len, osh_src_t *out);

/* The record's source coordinates: the osh.src header, else the legacy
 * osh.src.topic/.partition/.offset trio. 0, or -1 when it has neither. */
int osh_src_from_message(const rd_kafka_message_t *m, osh_src_t *out);

/* 1 if name is a provenance header (osh.src or a legacy osh.src.*), which a
 * new hop replaces rather than keeps. */
int osh_src_is_header(const char *name);

/* Copies m's headers minus any provenance header and adds this hop's
 * osh.src (NULL cluster = ""). The caller owns the result (NULL on OOM or an
 * oversize value). */
rd_kafka_headers_t *osh_src_headers(const rd_kafka_message_t *m, const char *cluster);

#endif
