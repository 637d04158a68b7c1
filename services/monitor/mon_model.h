/* The monitor's picture of the pipeline: service instances (from heartbeats
 * on ops.status.v1 and from the probe's cloud heartbeats), watched consumer
 * groups (offset samples), and the end-to-end probe. Every judgement is made
 * here from data plus an explicit `now`, so tests need no clock or broker.
 *
 * Thread safety: every mon_model_* function takes the model's mutex, so the
 * HTTP threads may render while the main loop updates. Nothing here ever
 * holds resident data: heartbeats and probes carry counts and ids of
 * services and batches only. */
#ifndef MON_MODEL_H
#define MON_MODEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <avro.h>

#include "mon_lag.h"

#define MON_MAX_SERVICES   256
#define MON_MAX_GROUPS     64
#define MON_MAX_PARTITIONS 64
#define MON_MAX_CHANNELS   16
#define MON_NAME_MAX       128

typedef struct mon_opts {
        const char *instance;    /* the monitor's own instance */
        int64_t stale_ms;        /* heartbeat older than this = stale */
        size_t window;           /* lag samples per window (full window) */
        int64_t snapshot_max_ms; /* cloud snapshot older than this = WARN; 0 = off */
        int64_t probe_stale_ms;  /* no successful probe for this long = ERROR */
} mon_opts_t;

/* One heartbeat, as decoded from ops.status.v1 or the probe. Borrowed. */
typedef struct mon_heartbeat {
        const char *service;
        const char *instance;
        const char *segment; /* e.g. "PROCESSING" or "cloud"; case is normalised */
        const char *state;   /* RUNNING, DEGRADED, STOPPED, ... */
        int64_t ts_ms;       /* when the service sent it */
        int64_t started_ms;  /* 0 = unknown */
        int64_t records_in, records_out, records_rejected, errors;
        int64_t lag;            /* -1 = not a consumer / unknown */
        int64_t records_lost;   /* removed by the broker before read (counter) */
        const char *last_batch; /* NULL = none */
        int from_probe;         /* 1: reported by the cloud through the probe */
} mon_heartbeat_t;

typedef enum {
        MON_PROBE_OK = 0,
        MON_PROBE_FAILED,
        MON_PROBE_TIMEOUT,
        MON_PROBE_AUTH_ERROR,
        MON_PROBE_UNKNOWN,
} mon_probe_state_t;

typedef struct mon_channel_errors {
        char channel[32];
        uint64_t failed_temp, failed_perm;
} mon_channel_errors_t;

/* Outcome of one probe, filled by mon_probe.c. */
typedef struct mon_probe_result {
        mon_probe_state_t state;
        char detail[256]; /* why it failed; "" when OK */
        int64_t sent_ms;
        int64_t rtt_ms;
        int has_snapshot;
        char snapshot_batch[MON_NAME_MAX];
        int64_t snapshot_extract_ms;
        uint64_t snapshot_records;
        size_t n_channels;
        mon_channel_errors_t channels[MON_MAX_CHANNELS];
        uint64_t ingest_ok, ingest_dup, ingest_rejected, ingest_published;
        int64_t ingest_last_batch_ms;
} mon_probe_result_t;

typedef enum {
        MON_HEALTH_OK = 0,
        MON_HEALTH_WARN,
        MON_HEALTH_ERROR,
        MON_HEALTH_UNKNOWN,
} mon_health_t;

/* A state change worth an alert. Strings are owned by the struct. */
typedef struct mon_transition {
        char kind[16]; /* "service", "consumer", "probe", "overall" */
        char subject[2 * MON_NAME_MAX + 2];
        char from[16], to[16];
} mon_transition_t;

typedef struct mon_model mon_model_t;

/* opts is copied (instance string too). NULL on OOM. */
mon_model_t *mon_model_new(const mon_opts_t *opts);
void mon_model_destroy(mon_model_t *m); /* NULL ok */

/* Records a heartbeat; a newer started_ms (restart) resets the instance's
 * heartbeat-derived lag window. Older heartbeats than the one held are
 * ignored (partitions may deliver out of order). 0, or -1 when the table is
 * full or names are empty. */
int mon_model_heartbeat(mon_model_t *m, const mon_heartbeat_t *hb);

/* Declares a watched (group, topic). service names the service (or the
 * instance) whose heartbeat says the consumer is alive (NULL: the group
 * name). 0 / -1. */
int mon_model_watch(mon_model_t *m, const char *group, const char *topic, const char *service);
size_t mon_model_watch_count(mon_model_t *m);
/* The i-th watched pair, copied into the caller's buffers. 0 / -1. */
int mon_model_watch_at(mon_model_t *m, size_t i, char *group, size_t gsize, char *topic,
                       size_t tsize);
/* Adds one sample per partition for the i-th watched pair (committed < 0:
 * the group has none, counted from low[p] instead). n partitions. */
void mon_model_lag_sample(mon_model_t *m, size_t i, int32_t n, const int64_t *committed,
                          const int64_t *low, const int64_t *hwm, int64_t now_ms);

/* Records a probe outcome (successful or not). The result's cloud heartbeats
 * are given separately to mon_model_heartbeat with from_probe = 1. */
void mon_model_probe(mon_model_t *m, const mon_probe_result_t *r);

/* Re-judges everything at now and appends state changes since the last
 * call to out (up to max; *n set). The first call reports no changes from
 * UNKNOWN to OK so a start-up is not an alert storm. Returns overall. */
mon_health_t mon_model_evaluate(mon_model_t *m, int64_t now_ms, mon_transition_t *out, size_t max,
                                size_t *n);

/* Renderings of the last evaluation (call mon_model_evaluate first).
 * Both return malloc'd NUL-terminated text the caller free()s; NULL on OOM. */
char *mon_model_status_json(mon_model_t *m, int64_t now_ms);
char *mon_model_metrics(mon_model_t *m, int64_t now_ms);
/* Fills an ops.health.v1 value made by osh_value_new(). 0 / -1. */
int mon_model_health_value(mon_model_t *m, int64_t now_ms, avro_value_t *v);

const char *mon_health_name(mon_health_t h);
const char *mon_probe_state_name(mon_probe_state_t s);

#endif
