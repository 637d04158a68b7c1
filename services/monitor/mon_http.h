/* The monitor's HTTP endpoints over lib http_server.h:
 *   GET /         the dashboard: services/monitor/dashboard/index.html, with
 *                 /dashboard.css and /dashboard.js (embedded at build time)
 *   GET /status   JSON (mon_model_status_json)
 *   GET /metrics  Prometheus text format 0.0.4
 *   GET /healthz  "ok" while the process serves */
#ifndef MON_HTTP_H
#define MON_HTTP_H

#include <stdint.h>

#include "oshirase/http_server.h"

#include "mon_model.h"

#include "oshirase/asset.h"

/* The files of services/monitor/dashboard/ (mon_dashboard_gen.c). */
extern const struct osh_asset mon_dashboard[];

/* Serves m (borrowed; must outlive the server) on host:port. NULL with errstr. */
osh_http_server_t *mon_http_start(mon_model_t *m, const char *host, uint16_t port, char *errstr,
                                  size_t errstr_size);

#endif
