/* cloud-ingest's HTTP side: the routes and their authentication, built on
 * lib http_server.h; the configuration table and the service object
 * (ci_app) are in ingest_service.c.
 *
 *   POST /v1/batches       osh.TransferBatch → osh.Ack            (ingest.h)
 *   POST /v1/probe         osh.ProbeRequest → osh.ProbeResponse   (watch.h)
 *   POST /v1/destinations  text/csv → JSON row report              (dest.h)
 *
 * Every route authenticates first (ingest_auth.h: 401/403), then the size
 * limit (413, before the body is read), then the media type (415). Errors
 * are JSON {"error": reason}; reasons never quote record contents. */
#ifndef CI_SERVER_H
#define CI_SERVER_H

#include <stddef.h>

#include "oshirase/config.h"
#include "oshirase/heartbeat.h"
#include "oshirase/service.h"

/* The cloud-ingest service, for osh_service_main. */
extern const osh_service_app_t ci_app;

typedef struct ci_server ci_server_t;

/* Builds everything from cfg, recovers the de-dup state, starts the watcher
 * and then the listener. NULL with errstr. */
ci_server_t *ci_server_start(const osh_config_t *cfg, osh_heartbeat_t *hb, char *errstr,
                             size_t errstr_size);
unsigned ci_server_port(const ci_server_t *s);
void ci_server_stop(ci_server_t *s); /* NULL ok */

#endif
