/* The console's only way to the rest of the system: Kafka on the cloud
 * cluster (docs/architecture.md §10). It never reads
 * resident.abstracted.v1.
 *
 *   produces  campaign.requests.v1 (PREVIEW/SEND/CANCEL, key campaign id)
 *             staff.audit.v1 (one record per staff action, key actor)
 *   consumes  campaign.results.v1  replies (matched on the campaign id, the
 *                                  correlation id) and delivery progress
 *             staff.audit.v1       the audit log admins read
 *             batch.control.v1     which snapshot the cloud serves
 *             ops.status.v1        sns-dispatcher's heartbeat: its quiet
 *                                  hours (oshirase/quiet.h), as it runs
 *
 * The consumer uses a fresh group each start and reads from the beginning,
 * so results and the audit log are whole after a restart. */
#ifndef CON_LINK_H
#define CON_LINK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "oshirase/quiet.h"
#include "oshirase/service.h"

#include "con_api.h"

typedef struct con_link con_link_t;

/* Connects with svc->cfg's "kafka." keys and starts the consumer thread.
 * NULL with errstr. */
con_link_t *con_link_new(osh_service_t *svc, char *errstr, size_t errstr_size);
void con_link_destroy(con_link_t *l); /* NULL ok: stops the thread, flushes */

/* Sends a request for campaign id (action PREVIEW, SEND or CANCEL). With
 * wait_ms > 0, waits for the result of this id and action and returns it
 * (new reference, campaign.results.v1 as JSON); NULL with errstr on a
 * timeout or a failure to send. With wait_ms == 0 returns json_null(). */
json_t *con_link_request(con_link_t *l, const char *id, const char *action, const con_campaign_t *c,
                         int min_audience, const char *by, int wait_ms, char *errstr,
                         size_t errstr_size);

typedef struct con_audit {
        const char *actor, *role, *action, *target, *detail, *outcome, *remote;
} con_audit_t;
/* Appends one record to staff.audit.v1. 0 / -1 (logged). */
int con_link_audit(con_link_t *l, const con_audit_t *a);

/* Copies (new references) of what the consumer has seen. */
json_t *con_link_results(con_link_t *l); /* {id: result + "history": [[ms, sent], ...]} */
json_t *con_link_audit_log(con_link_t *l, const char *actor, const char *action, size_t limit);
json_t *con_link_snapshot(con_link_t *l); /* last END marker of resident.abstracted.v1, or null */
/* The quiet hours the dispatcher last announced on its heartbeat: 1 with
 * *q, its instance (into by, by_size) and the heartbeat's time; 0 while no
 * dispatcher has announced any. */
int con_link_quiet(con_link_t *l, osh_quiet_t *q, char *by, size_t by_size, int64_t *at_ms);
/* 1 once the consumer reached the end of its topics at least once. */
int con_link_caught_up(con_link_t *l);

#endif
