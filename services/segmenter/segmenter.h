/* The segmenter service: keeps the latest complete resident snapshot and
 * the destinations in memory, answers campaign requests on
 * campaign.results.v1 and emits notify.dispatch.v1 for sends.
 *
 * Two consumers on the cloud cluster: a state consumer that always re-reads
 * resident.abstracted.v1, batch.control.v1 and destinations.v1 from the
 * beginning (the snapshot lives in memory only), and a request consumer
 * (committed group offsets) that starts once the state has caught up. */
#ifndef SEGMENTER_H
#define SEGMENTER_H

#include <stddef.h>

#include "oshirase/service.h"

/* The segmenter service (table and callbacks in seg_service.c), for
 * osh_service_main. */
extern const osh_service_app_t seg_app;

typedef struct segmenter segmenter_t;

/* Borrows svc (config, heartbeat) for its lifetime. NULL with errstr. */
segmenter_t *segmenter_new(osh_service_t *svc, char *errstr, size_t errstr_size);
/* Runs until shutdown is requested. 0 / -1 (fatal). */
int segmenter_run(segmenter_t *s);
void segmenter_destroy(segmenter_t *s); /* NULL ok; flushes and closes */

#endif
