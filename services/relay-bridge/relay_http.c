#include "relay_http.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "oshirase/clock.h"
#include "oshirase/auth.h"
#include "oshirase/log.h"
#include "oshirase/transfer.h"
#include "relay_common.h"

int rb_post(const rb_config_t *rc, osh_http_client_t *http, const char *url, const char *path,
            uint64_t seq, const void *body, size_t len, osh_http_response_t *resp)
{
        char auth[OSH_AUTH_HEADER_MAX + 32] = "Authorization: ", seqh[48];
        const char *hdrs[4] = {"Content-Type: application/x-protobuf", NULL, NULL, NULL};
        size_t n = 1, pre = strlen(auth);

        if (rc->key_id) {
                if (osh_auth_sign(rc->key_id, rc->secret, rc->secret_len, "POST", path,
                                  osh_wall_ms(), body, len, auth + pre, sizeof(auth) - pre)) {
                        memset(resp, 0, sizeof(*resp));
                        snprintf(resp->errstr, sizeof(resp->errstr), "cannot sign request");
                        return -1;
                }
                hdrs[n++] = auth;
        }
        if (seq) {
                snprintf(seqh, sizeof(seqh), "X-Osh-Sequence: %" PRIu64, seq);
                hdrs[n++] = seqh;
        }
        return osh_http_request(http, "POST", url, hdrs, body, len, (long)rc->http_timeout_ms,
                                OSH_TRANSFER_SMALL_MAX_BYTES, resp);
}

static json_t *response_json(const Osh__ProbeResponse *pr)
{
        json_t *o = json_object(), *svcs = json_array(), *errs = json_array();

        json_object_set_new(o, "received_ms", json_integer(pr->received_ms));
        for (size_t i = 0; i < pr->n_services; i++) {
                const Osh__ServiceHeartbeat *h = pr->services[i];
                json_array_append_new(svcs, json_pack("{s:s,s:s,s:s,s:I}", "service", h->service,
                                                      "instance", h->instance, "state", h->state,
                                                      "last_seen_ms", (json_int_t)h->last_seen_ms));
        }
        json_object_set_new(o, "services", svcs);
        if (pr->snapshot)
                json_object_set_new(o, "snapshot",
                                    json_pack("{s:s,s:I,s:I,s:I}", "batch_id",
                                              pr->snapshot->batch_id, "extract_ms",
                                              (json_int_t)pr->snapshot->extract_ms, "age_ms",
                                              (json_int_t)pr->snapshot->age_ms, "record_count",
                                              (json_int_t)pr->snapshot->record_count));
        for (size_t i = 0; i < pr->n_send_errors; i++)
                json_array_append_new(
                    errs, json_pack("{s:s,s:I,s:I}", "channel", pr->send_errors[i]->channel,
                                    "failed_temp", (json_int_t)pr->send_errors[i]->failed_temp,
                                    "failed_perm", (json_int_t)pr->send_errors[i]->failed_perm));
        json_object_set_new(o, "send_errors", errs);
        if (pr->ingest)
                json_object_set_new(
                    o, "ingest",
                    json_pack("{s:I,s:I,s:I,s:I,s:I}", "batches_ok",
                              (json_int_t)pr->ingest->batches_ok, "batches_duplicate",
                              (json_int_t)pr->ingest->batches_duplicate, "batches_rejected",
                              (json_int_t)pr->ingest->batches_rejected, "records_published",
                              (json_int_t)pr->ingest->records_published, "last_batch_ms",
                              (json_int_t)pr->ingest->last_batch_ms));
        return o;
}

static void write_file(const char *path, json_t *doc)
{
        char tmp[4200];

        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        if (json_dump_file(doc, tmp, JSON_COMPACT) || rename(tmp, path))
                osh_warn("probe.file %s: cannot write", path);
}

static void record(const rb_config_t *rc, osh_service_t *svc, json_t *doc, int ok, int64_t rtt)
{
        json_object_set_new(doc, "ok", json_boolean(ok));
        json_object_set_new(doc, "rtt_ms", json_integer(rtt));
        if (svc->hb) {
                osh_heartbeat_set_named(svc->hb, "probe_ok", ok);
                osh_heartbeat_set_named(svc->hb, "probe_rtt_ms", rtt);
        }
        if (rc->probe_file)
                write_file(rc->probe_file, doc);
}

int rb_probe(const rb_config_t *rc, osh_service_t *svc, osh_http_client_t *http, const char *url)
{
        static uint64_t n;
        static int last_ok = 1; /* log transitions, not every failed probe */
        char id[128], source[128], errstr[256] = "";
        Osh__ProbeRequest req = OSH__PROBE_REQUEST__INIT;
        Osh__ProbeResponse *pr = NULL;
        osh_http_response_t resp;
        int64_t t0 = osh_mono_ms();
        uint8_t *buf = NULL;
        size_t len;
        json_t *doc = NULL;

        snprintf(id, sizeof(id), "%s-%" PRId64 "-%" PRIu64, rc->instance, t0, ++n);
        snprintf(source, sizeof(source), "%s/%s", osh_segment_name(rc->from), rc->instance);
        req.probe_id = id;
        req.sent_ms = t0;
        req.source = source;
        if (osh_transfer_pack_message(&req.base, &buf, &len, errstr, sizeof(errstr)))
                return -1;
        rb_post(rc, http, url, "/v1/probe", 0, buf, len, &resp);
        free(buf);
        if (resp.status == 200)
                pr = osh_transfer_probe_response_unpack((const uint8_t *)resp.body, resp.body_len,
                                                        errstr, sizeof(errstr));
        else if (resp.status)
                snprintf(errstr, sizeof(errstr), "HTTP %ld", resp.status);
        else
                snprintf(errstr, sizeof(errstr), "%s", resp.errstr);
        doc = pr ? response_json(pr) : json_object();
        json_object_set_new(doc, "probe_id", json_string(id));
        json_object_set_new(doc, "sent_ms", json_integer(t0));
        json_object_set_new(doc, "http_status", json_integer(resp.status));
        if (!pr) {
                json_object_set_new(doc, "error", json_string(errstr));
                if (last_ok)
                        osh_warn("probe %s failed: %s (logged again when it recovers)", id, errstr);
        } else if (!last_ok) {
                osh_info("probe %s answered again", id);
        }
        last_ok = pr != NULL;
        record(rc, svc, doc, pr != NULL, osh_mono_ms() - t0);
        json_decref(doc);
        osh_http_response_free(&resp);
        if (pr)
                osh__probe_response__free_unpacked(pr, NULL);
        return pr ? 0 : -1;
}
