/* The monitor service: wires heartbeats, lag sampling, the cloud probe,
 * judgements, ops.health.v1, HTTP and alerts into one loop. mon_service.c
 * holds the configuration table and the service object. */
#ifndef MONITOR_H
#define MONITOR_H

#include "oshirase/secret.h"
#include "oshirase/service.h"

typedef struct mon_app mon_app_t;

/* What configure parsed beyond the table (svc->conf). */
typedef struct mon_conf {
        osh_secret_t probe_secret; /* probe.secret(.file); data NULL: none */
        osh_secret_t alert_secret; /* alert.secret(.file) */
} mon_conf_t;

/* The monitor service, for osh_service_main. */
extern const osh_service_app_t mon_app;

/* Reads svc's configuration (keys in mon_service.c; svc->conf a
 * mon_conf_t, borrowed), connects, starts HTTP.
 * NULL with errstr. */
mon_app_t *mon_app_new(osh_service_t *svc, char *errstr, size_t errstr_size);
/* Runs until a shutdown is requested. 0, or -1 on a fatal error. */
int mon_app_run(mon_app_t *a);
/* Flushes the producer, closes the consumer, stops HTTP. NULL ok. */
void mon_app_destroy(mon_app_t *a);

#endif
