/* Reading a topic without a consumer group: its partition count, and an
 * assign-mode scan up to the high watermarks taken when it starts (what
 * recovery, tools and samplers need: "everything there is now", then stop).
 * The handle is any consumer rd_kafka_t (enable.partition.eof on or off);
 * it is left unassigned afterwards. */
#ifndef OSHIRASE_KAFKA_SCAN_H
#define OSHIRASE_KAFKA_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Partitions of topic on rk's cluster now (one metadata request of up to
 * timeout_ms). -1 with errstr when unknown: no metadata, or the topic is
 * missing or in error. */
int osh_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                              size_t errstr_size);

/* Where partition p's scan starts; below the low watermark reads from it. */
typedef int64_t osh_scan_start_fn(void *opaque, const char *topic, int32_t partition);
/* One record of the scan (errors never reach it). */
typedef void osh_scan_record_fn(void *opaque, const rd_kafka_message_t *m);

/* Reads every partition of topic from start() (NULL: the beginning) up to
 * the high watermark it had when the scan began, calling record() in each
 * partition's order. Gives up after timeout_ms. 0, or -1 with errstr
 * (no metadata or watermarks, cannot assign, timed out). A topic the
 * cluster does not have (yet), or nothing past start, is an empty scan. */
int osh_kafka_scan(rd_kafka_t *rk, const char *topic, osh_scan_start_fn *start,
                   osh_scan_record_fn *record, void *opaque, int timeout_ms, char *errstr,
                   size_t errstr_size);

#endif
