/* The uplink's HTTPS requests: signed POSTs and the monitoring probe. */
#ifndef RELAY_HTTP_H
#define RELAY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/http_client.h"
#include "relay.h"

/* POSTs a protobuf body to url, signing path and body with the HMAC key if
 * one is configured; seq > 0 adds X-Osh-Sequence. Returns what
 * osh_http_request() returns; always osh_http_response_free(resp). */
int rb_post(const rb_config_t *rc, osh_http_client_t *http, const char *url, const char *path,
            uint64_t seq, const void *body, size_t len, osh_http_response_t *resp);

/* Sends one ProbeRequest to url and records the answer (or the failure):
 * heartbeat counters probe_ok / probe_rtt_ms, and, if probe.file is set,
 * a JSON file written atomically for the monitor. 0 if the cloud answered
 * with a valid ProbeResponse. */
int rb_probe(const rb_config_t *rc, osh_service_t *svc, osh_http_client_t *http, const char *url);

#endif
