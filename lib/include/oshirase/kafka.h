/* librdkafka lifecycle shared by every service.
 *
 * Producer: idempotent, delivery reports counted, back-pressure on a full
 * queue, flush + outq check at shutdown.
 * Consumer: group subscribe with manual offset store (a record's offset is
 * stored only once the caller has processed it; librdkafka's auto-commit
 * then commits stored offsets), clean close, and operator replay. */
#ifndef OSHIRASE_KAFKA_H
#define OSHIRASE_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "oshirase/config.h"

typedef enum {
        OSH_KAFKA_PRODUCER,
        OSH_KAFKA_CONSUMER,
} osh_kafka_role_t;

/* Builds a librdkafka configuration: project defaults for the role, then
 * bootstrap if non-NULL, then every pass-through key under prefix (e.g.
 * "kafka." or "kafka.source."; NULL = none) so operators can override
 * anything. Routes librdkafka's log into ours. cfg may be NULL. Caller owns
 * the result (rd_kafka_conf_destroy) until it is passed to a constructor. */
rd_kafka_conf_t *osh_kafka_conf_new(const osh_config_t *cfg, const char *prefix,
                                    osh_kafka_role_t role, const char *bootstrap, char *errstr,
                                    size_t errstr_size);
/* Sets one property, formatting the error with the key. 0 / -1. */
int osh_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val, char *errstr,
                       size_t errstr_size);

/* ---- producer ---- */

typedef struct osh_producer osh_producer_t;

typedef struct osh_producer_stats {
        uint64_t produced;  /* accepted into the local queue */
        uint64_t delivered; /* acknowledged by the broker */
        uint64_t failed;    /* permanently failed delivery reports */
} osh_producer_stats_t;

/* Called from osh_producer_poll()/flush() for every delivery report, with
 * the msg_opaque given to osh_producer_send(). err is 0 on success. */
typedef void(osh_delivery_cb_t)(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err,
                                int32_t partition, int64_t offset);

typedef struct osh_kafka_msg {
        const char *topic;
        int32_t partition; /* RD_KAFKA_PARTITION_UA: partition by key */
        const void *key;
        size_t key_len;
        const void *value;
        size_t value_len;
        rd_kafka_headers_t *headers; /* ownership passes on success; NULL ok */
        int64_t timestamp_ms;        /* 0: now */
} osh_kafka_msg_t;

/* Takes ownership of conf (also on failure). Enables idempotence unless the
 * configuration says otherwise. */
osh_producer_t *osh_producer_new(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size);
/* Learns the partitions of the topics p will write to now (waiting up to
 * timeout_ms). librdkafka otherwise looks a topic up only at its next 1 s
 * metadata tick after the first message to it, and holds every message
 * until then. At most 16 topics per producer (more are logged and left
 * to librdkafka). 0, or -1 (logged; sending still works, later). */
int osh_producer_prepare(osh_producer_t *p, const char *const *topics, size_t n, int timeout_ms);
void osh_producer_set_delivery_cb(osh_producer_t *p, osh_delivery_cb_t *cb, void *opaque);
/* Copies key and value. Blocks (serving delivery reports) while the local
 * queue is full. Returns -1 if the message cannot be queued or a shutdown was
 * requested while waiting; headers then stay with the caller. */
int osh_producer_send(osh_producer_t *p, const osh_kafka_msg_t *m, void *msg_opaque);
/* Serves delivery reports without blocking longer than timeout_ms. */
void osh_producer_poll(osh_producer_t *p, int timeout_ms);
/* Waits for every queued message, at most timeout_ms and never past the
 * shutdown grace once a shutdown was requested (osh_shutdown_budget_ms);
 * -1 (and logs) if any is still queued or if a delivery failed since
 * creation. */
int osh_producer_flush(osh_producer_t *p, int timeout_ms);
/* Drops every queued and in-flight message (their delivery reports say
 * purged), for a shutdown that must not wait on a dead broker; logs how
 * many records of which topics were not delivered. */
void osh_producer_purge(osh_producer_t *p);
void osh_producer_stats(const osh_producer_t *p, osh_producer_stats_t *out);
rd_kafka_t *osh_producer_handle(osh_producer_t *p);
/* Flushes (at most 10 s, less during a shutdown), purges and logs what
 * could still not be delivered, and frees. NULL ok. */
void osh_producer_destroy(osh_producer_t *p);

/* ---- consumer ---- */

/* Replay specs (osh_replay_t) are parsed by osh_config_replay_parse(). */

typedef struct osh_consumer osh_consumer_t;

/* Takes ownership of conf (also on failure). group_id is required. replay may
 * be NULL. The replay is applied once per partition, at its first
 * assignment in this process; a restart without replay resumes from the
 * committed offsets. */
osh_consumer_t *osh_consumer_new(rd_kafka_conf_t *conf, const char *group_id,
                                 const char *const *topics, size_t topic_cnt,
                                 const osh_replay_t *replay, char *errstr, size_t errstr_size);
/* Returns the next record or NULL on timeout/shutdown. Partition EOFs and
 * transient errors are handled here; an offset the broker no longer holds
 * is counted as lost (osh_kafka_records_lost) and reading resumes at the
 * first record held; records before the replay point are
 * skipped (and their offsets stored). Caller frees with
 * rd_kafka_message_destroy(). */
rd_kafka_message_t *osh_consumer_poll(osh_consumer_t *c, int timeout_ms);
/* Marks m as processed: its offset + 1 will be committed. */
int osh_consumer_store(osh_consumer_t *c, const rd_kafka_message_t *m);
/* Commits what was stored and waits for the result (at most 10 s, less
 * during a shutdown). 0 also when nothing to commit. */
int osh_consumer_commit(osh_consumer_t *c);
/* Sum over assigned partitions of high watermark - position, -1 unknown. */
int64_t osh_consumer_lag(osh_consumer_t *c);
/* Non-zero once every assigned partition reached its end (since the last
 * record returned). Useful for batch tools and tests. */
int osh_consumer_at_end(osh_consumer_t *c);
rd_kafka_t *osh_consumer_handle(osh_consumer_t *c);
/* Commits stored offsets, leaves the group and frees, within the shutdown
 * budget (osh_kafka_consumer_close). NULL ok. */
void osh_consumer_destroy(osh_consumer_t *c);
/* Closes consumer handle rk (commit, leave the group) waiting at most
 * timeout_ms, cut to what is left of the shutdown grace, then destroys it
 * without a second close. A close that did not finish is logged (what was
 * processed since the last commit will be read again) and its destroy,
 * which librdkafka holds up for session.timeout.ms, goes on in the
 * background. Takes rk. */
void osh_kafka_consumer_close(rd_kafka_t *rk, int timeout_ms);
/* Waits up to timeout_ms for the destroys left in the background; returns
 * how many still run (logged). osh_service_fini calls it. */
int osh_kafka_close_wait(int timeout_ms);

/* Records the broker removed before a consumer of this process read them:
 * an offset below the low watermark, or a replay that starts on the first
 * record still held. Each is logged as an error; the heartbeat reports the
 * sum (counter records_lost, state DEGRADED). */
int64_t osh_kafka_records_lost(void);

/* Returns the header value as a NUL-terminated copy in buf, or NULL. */
const char *osh_kafka_header(const rd_kafka_message_t *m, const char *name, char *buf,
                             size_t buf_size);

#endif
