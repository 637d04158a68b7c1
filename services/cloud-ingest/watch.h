/* What the probe (spec 10) reports about the cloud: a thread reads the cloud
 * cluster's batch.control.v1 + resident.abstracted.v1 (the latest complete
 * snapshot, judged by the lib batch tracker), ops.status.v1 (heartbeats) and
 * notify.status.v1 (FAILED_* per channel) from the beginning, without a
 * consumer group (state is rebuilt on every start, nothing is committed). */
#ifndef CI_WATCH_H
#define CI_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/config.h"
#include "oshirase/kafka.h"
#include "oshirase/transfer.h"

#define CI_WATCH_MAX_SERVICES 256

typedef struct ci_watch ci_watch_t;

/* Starts the thread. NULL with errstr. */
ci_watch_t *ci_watch_start(const osh_config_t *cfg, char *errstr, size_t errstr_size);
void ci_watch_stop(ci_watch_t *w); /* joins; NULL ok */

/* Feeds one record (the thread does this; tests call it directly). */
void ci_watch_feed(ci_watch_t *w, const char *topic, const rd_kafka_message_t *m);
/* A watch without a thread, for tests. */
ci_watch_t *ci_watch_new_detached(void);

/* Fills resp's services, snapshot and send_errors (now_ms for the age).
 * Free what it allocated with ci_watch_probe_free(). 0 / -1 (OOM). */
int ci_watch_probe(ci_watch_t *w, int64_t now_ms, Osh__ProbeResponse *resp);
void ci_watch_probe_free(Osh__ProbeResponse *resp);

#endif
