/* Alerts on state transitions: JSON POSTed to a webhook from a thread of
 * its own (the main loop never waits on a slow receiver), retried with
 * jittered backoff (lib retry.h) on 408/429/5xx/network errors.
 *
 * Body:  {"monitor":"mon-1","ts_ms":...,"kind":"consumer",
 *         "subject":"anonymizer/resident.raw.v1","from":"OK","to":"STALL"}
 * With a secret, two headers let the receiver check origin and freshness,
 * exactly as the sns-dispatcher's webhook channel signs:
 *   X-Osh-Timestamp: <epoch seconds>
 *   X-Osh-Signature: sha256=<hex HMAC-SHA-256(secret, timestamp "." body)> */
#ifndef MON_ALERT_H
#define MON_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "mon_model.h"

#define MON_ALERT_QUEUE_MAX 256

typedef struct mon_alert_opts {
        const char *url;
        const void *secret; /* NULL: unsigned */
        size_t secret_len;
        int64_t timeout_ms;
        unsigned max_attempts;
        int64_t backoff_base_ms, backoff_max_ms;
} mon_alert_opts_t;

typedef struct mon_alerter mon_alerter_t;

/* Copies opts and starts the sender thread. NULL with errstr. */
mon_alerter_t *mon_alerter_new(const mon_alert_opts_t *o, char *errstr, size_t errstr_size);
/* Queues one alert (the oldest is dropped when MON_ALERT_QUEUE_MAX wait). */
void mon_alerter_post(mon_alerter_t *a, const char *monitor, const mon_transition_t *t,
                      int64_t now_ms);
void mon_alerter_stats(mon_alerter_t *a, uint64_t *sent, uint64_t *failed);
/* Stops the thread (an alert in backoff is abandoned) and frees. NULL ok. */
void mon_alerter_destroy(mon_alerter_t *a);

/* The JSON body; caller free()s. NULL on OOM. */
char *mon_alert_body(const char *monitor, const mon_transition_t *t, int64_t now_ms);
/* hex HMAC-SHA-256(secret, ts_s "." body) into out[65]. 0 / -1. */
int mon_alert_sign(const void *secret, size_t secret_len, int64_t ts_s, const char *body,
                   char out[65]);

#endif
