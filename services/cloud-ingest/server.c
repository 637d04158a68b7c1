#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dest.h"
#include "ingest.h"
#include "ingest_auth.h"
#include "oshirase/clock.h"
#include "oshirase/http_server.h"
#include "oshirase/log.h"
#include "watch.h"

struct ci_server {
        ci_ingest_t *ingest;
        ci_auth_t *auth;
        ci_watch_t *watch;
        ci_dest_t *dest;
        osh_http_server_t *http;
};

static void precheck(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        ci_server_t *s = opaque;

        if (ci_auth_precheck(s->auth, req, rep) && !strcmp(req->path, "/v1/batches"))
                ci_ingest_count_reject(s->ingest);
}

/* Authentication with the body, then the media type. 0 = carry on. */
static int admit(ci_server_t *s, const osh_http_request_t *req, const char *media,
                 osh_http_reply_t *rep)
{
        char reason[128];

        if (ci_auth_check(s->auth, req, osh_wall_ms(), rep))
                return -1;
        if (!req->content_type || strcmp(req->content_type, media)) {
                snprintf(reason, sizeof(reason), "Content-Type must be %s", media);
                osh_http_reply_error(rep, 415, reason);
                return -1;
        }
        return 0;
}

static void on_batch(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        ci_server_t *s = opaque;

        if (admit(s, req, CI_MEDIA_PROTOBUF, rep)) {
                ci_ingest_count_reject(s->ingest);
                return;
        }
        ci_ingest_batch(s->ingest, req->body, req->body_len, rep);
}

static void on_probe(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        ci_server_t *s = opaque;
        Osh__ProbeResponse resp = OSH__PROBE_RESPONSE__INIT;
        Osh__IngestCounters ic = OSH__INGEST_COUNTERS__INIT;
        Osh__ProbeRequest *pr;
        uint8_t *buf = NULL;
        size_t len = 0;
        char err[256], reason[300];

        if (admit(s, req, CI_MEDIA_PROTOBUF, rep))
                return;
        pr = osh_transfer_probe_request_unpack(req->body, req->body_len, err, sizeof(err));
        if (!pr) {
                snprintf(reason, sizeof(reason), "malformed probe: %s", err);
                osh_http_reply_error(rep, 400, reason);
                return;
        }
        resp.probe_id = pr->probe_id;
        resp.received_ms = osh_wall_ms();
        ci_ingest_counters(s->ingest, &ic.batches_ok, &ic.batches_duplicate, &ic.batches_rejected,
                           &ic.records_published, &ic.last_batch_ms);
        resp.ingest = &ic;
        if (ci_watch_probe(s->watch, resp.received_ms, &resp) ||
            osh_transfer_pack_message(&resp.base, &buf, &len, err, sizeof(err)))
                osh_http_reply_error(rep, 503, "out of memory");
        else
                osh_http_reply_take(rep, 200, CI_MEDIA_PROTOBUF, buf, len);
        ci_watch_probe_free(&resp);
        osh__probe_request__free_unpacked(pr, NULL);
}

static void on_destinations(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        ci_server_t *s = opaque;

        if (admit(s, req, "text/csv", rep))
                return;
        ci_dest_upload(s->dest, req->body, req->body_len, rep);
}

static int start_http(ci_server_t *s, const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        osh_http_route_t routes[] = {
            {"POST", "/v1/batches", on_batch, precheck, ci_ingest_max_batch_bytes(s->ingest)},
            {"POST", "/v1/probe", on_probe, precheck, OSH_TRANSFER_SMALL_MAX_BYTES},
            {"POST", "/v1/destinations", on_destinations, precheck,
             (size_t)osh_config_int(cfg, "max.csv.bytes")},
        };
        osh_http_server_opts_t o = {
            .host = osh_config_str(cfg, "listen.host"),
            .port = (uint16_t)osh_config_int(cfg, "listen.port"),
            .cert_file = osh_config_str(cfg, "tls.cert"),
            .key_file = osh_config_str(cfg, "tls.key"),
            .client_ca_file = osh_config_str(cfg, "tls.client.ca"),
            .threads = (unsigned)osh_config_int(cfg, "http.threads"),
            .opaque = s,
        };
        int64_t port = osh_config_int(cfg, "listen.port");

        if (port < 0 || port > 65535) {
                snprintf(errstr, errstr_size, "listen.port out of range");
                return -1;
        }
        if (ci_auth_mode(s->auth) != CI_AUTH_HMAC && !o.client_ca_file) {
                snprintf(errstr, errstr_size, "auth.mode mtls/any needs tls.client.ca");
                return -1;
        }
        s->http = osh_http_server_start(&o, routes, sizeof(routes) / sizeof(routes[0]), errstr,
                                        errstr_size);
        if (!s->http)
                return -1;
        return osh_http_server_write_port(s->http, osh_config_str(cfg, "listen.port.file"), errstr,
                                          errstr_size);
}

ci_server_t *ci_server_start(const osh_config_t *cfg, osh_heartbeat_t *hb, char *errstr,
                             size_t errstr_size)
{
        ci_server_t *s = calloc(1, sizeof(*s));
        ci_ingest_opts_t io = {
            .cfg = cfg,
            .allow = osh_config_str(cfg, "allow"),
            .target = osh_config_str(cfg, "target"),
            .max_batch_bytes = (size_t)osh_config_int(cfg, "max.batch.bytes"),
            .delivery_timeout_ms = osh_config_int(cfg, "delivery.timeout"),
            .hb = hb,
        };

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->auth = ci_auth_new(osh_config_str(cfg, "auth.mode"), osh_config_str(cfg, "auth.keys"),
                              osh_config_str(cfg, "auth.keys.file"),
                              osh_config_int(cfg, "auth.max.skew"), errstr, errstr_size);
        if (!s->auth || !(s->ingest = ci_ingest_new(&io, errstr, errstr_size)) ||
            ci_ingest_recover(s->ingest, errstr, errstr_size))
                goto fail;
        s->dest = ci_dest_new(s->ingest, osh_config_str(cfg, "destinations.categories"), errstr,
                              errstr_size);
        if (!s->dest || !(s->watch = ci_watch_start(cfg, errstr, errstr_size)) ||
            start_http(s, cfg, errstr, errstr_size))
                goto fail;
        return s;
fail:
        ci_server_stop(s);
        return NULL;
}

unsigned ci_server_port(const ci_server_t *s)
{
        return osh_http_server_port(s->http);
}

void ci_server_stop(ci_server_t *s)
{
        if (!s)
                return;
        osh_http_server_stop(s->http); /* first: no handler runs after this */
        ci_watch_stop(s->watch);
        ci_dest_destroy(s->dest);
        ci_ingest_destroy(s->ingest);
        ci_auth_destroy(s->auth);
        free(s);
}
