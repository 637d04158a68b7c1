/* Pieces both relay modes share: the source consumer, refusal accounting
 * and offset storing. */
#ifndef RELAY_COMMON_H
#define RELAY_COMMON_H

#include <stdint.h>

#include "oshirase/kafka.h"
#include "relay.h"
#include "relay_track.h"

typedef struct rb_counts {
        uint64_t in, out, refused[OSH_ALLOW__CNT];
} rb_counts_t;

/* Subscribes to every allow-listed topic on the source cluster
 * (kafka.source.*). NULL with errstr. */
osh_consumer_t *rb_source_consumer(const rb_config_t *rc, const osh_service_t *svc, char *errstr,
                                   size_t errstr_size);

/* Marks next (the next offset to read) for storing on p's partition;
 * next < 0 is a no-op. rb_store_flush() hands everything marked to
 * librdkafka in one call (cheap when nothing is marked). Failures
 * (partition no longer assigned) only log at debug: the records are then
 * re-read and finish again. */
void rb_store(osh_consumer_t *c, rb_tpart_t *p, int64_t next);
void rb_store_flush(osh_consumer_t *c, rb_track_t *t);

/* Logs (topic, partition, offset and reason: never the payload) and counts
 * one refused record. */
void rb_refused(const rb_config_t *rc, osh_service_t *svc, rb_counts_t *cnt,
                const rd_kafka_message_t *m, osh_allow_verdict_t v);

/* Refreshes heartbeat counters and lag. */
void rb_publish_counts(osh_service_t *svc, osh_consumer_t *c, const rb_counts_t *cnt);

#endif
