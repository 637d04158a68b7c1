/* Heartbeats on ops.status.v1: every service publishes who it is, its state
 * and its counters every few seconds, from a thread of its own, through a
 * producer of its own (so a busy data path never delays it). Heartbeats
 * carry counts and ids of batches only, never personal data. */
#ifndef OSHIRASE_HEARTBEAT_H
#define OSHIRASE_HEARTBEAT_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

typedef enum {
        OSH_CTR_IN = 0,
        OSH_CTR_OUT,
        OSH_CTR_REJECTED,
        OSH_CTR_ERRORS,
        OSH_CTR__CNT,
} osh_counter_t;

/* States as published; the monitor judges on these. */
#define OSH_STATE_STARTING "STARTING"
#define OSH_STATE_RUNNING  "RUNNING"
#define OSH_STATE_DEGRADED "DEGRADED"
#define OSH_STATE_STOPPING "STOPPING"
#define OSH_STATE_STOPPED  "STOPPED"

/* Counter (in the record's counters map) of records the broker removed
 * before this process read them (osh_kafka_records_lost); present only
 * when non-zero, and the state then reads DEGRADED instead of RUNNING. */
#define OSH_HB_RECORDS_LOST "records_lost"

typedef struct osh_heartbeat_id {
        const char *service;
        const char *instance;
        const char *segment; /* NULL: "" */
} osh_heartbeat_id_t;

typedef struct osh_heartbeat osh_heartbeat_t;

/* Takes ownership of conf (also on failure); strings in id are copied.
 * Needs osh_serde_init() first. Does not start the thread. */
osh_heartbeat_t *osh_heartbeat_new(rd_kafka_conf_t *conf, const osh_heartbeat_id_t *id,
                                   int64_t interval_ms, char *errstr, size_t errstr_size);
/* Starts publishing every interval (the first one at once). 0 / -1. */
int osh_heartbeat_start(osh_heartbeat_t *hb);

/* Thread-safe setters, cheap enough for the data path. */
void osh_heartbeat_count(osh_heartbeat_t *hb, osh_counter_t ctr, uint64_t n);
uint64_t osh_heartbeat_counter(osh_heartbeat_t *hb, osh_counter_t ctr);
void osh_heartbeat_set_state(osh_heartbeat_t *hb, const char *state);    /* copied */
void osh_heartbeat_set_lag(osh_heartbeat_t *hb, int64_t lag);            /* -1 = unknown */
void osh_heartbeat_set_batch(osh_heartbeat_t *hb, const char *batch_id); /* copied */
/* A service-specific counter in the record's "counters" map (at most 16
 * names). 0 / -1 when full. */
int osh_heartbeat_set_named(osh_heartbeat_t *hb, const char *name, int64_t value);

/* After each published heartbeat, refresh path's modification time (the
 * service's ready file), so a file-age liveness probe sees a live loop, not
 * just a process that once got ready. NULL stops it. Copied. */
void osh_heartbeat_set_alive_file(osh_heartbeat_t *hb, const char *path);

/* Publishes one heartbeat now (also used by the thread). 0 / -1. */
int osh_heartbeat_emit(osh_heartbeat_t *hb);

/* Publishes a final STOPPED heartbeat, stops the thread, flushes and frees.
 * NULL ok. */
void osh_heartbeat_destroy(osh_heartbeat_t *hb);

#endif
