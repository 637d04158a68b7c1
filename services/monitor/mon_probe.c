#define _GNU_SOURCE /* strcasestr */
#include "mon_probe.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "oshirase/clock.h"
#include "oshirase/auth.h"
#include "oshirase/log.h"

struct mon_prober {
        char *url, *key_id, *source;
        void *secret;
        size_t secret_len;
        int64_t timeout_ms;
        uint64_t seq;
        osh_http_client_t *http;
};

void mon_prober_destroy(mon_prober_t *p)
{
        if (!p)
                return;
        osh_http_client_destroy(p->http);
        free(p->url);
        free(p->key_id);
        free(p->source);
        free(p->secret);
        free(p);
}

mon_prober_t *mon_prober_new(const mon_probe_opts_t *o, char *errstr, size_t errstr_size)
{
        mon_prober_t *p = calloc(1, sizeof(*p));

        if (!p)
                goto fail;
        p->url = malloc(strlen(o->url) + sizeof(MON_PROBE_PATH));
        p->source = strdup(o->source ? o->source : "");
        p->key_id = o->key_id ? strdup(o->key_id) : NULL;
        p->secret = o->secret_len ? malloc(o->secret_len) : NULL;
        p->http = osh_http_client_new(&o->tls);
        if (!p->url || !p->source || (o->key_id && !p->key_id) || (o->secret_len && !p->secret) ||
            !p->http)
                goto fail;
        /* base URL without a trailing slash, then the fixed path */
        strcpy(p->url, o->url);
        if (*p->url && p->url[strlen(p->url) - 1] == '/')
                p->url[strlen(p->url) - 1] = '\0';
        strcat(p->url, MON_PROBE_PATH);
        if (o->secret_len)
                memcpy(p->secret, o->secret, o->secret_len);
        p->secret_len = o->secret_len;
        p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
        return p;
fail:
        snprintf(errstr, errstr_size, "probe: out of memory or TLS setup failed");
        mon_prober_destroy(p);
        return NULL;
}

mon_probe_state_t mon_probe_classify(long status, const char *transport_error)
{
        if (status == 0)
                return transport_error && strcasestr(transport_error, "timeout") ? MON_PROBE_TIMEOUT
                                                                                 : MON_PROBE_FAILED;
        if (status == 401 || status == 403)
                return MON_PROBE_AUTH_ERROR;
        if (status == 408 || status == 504)
                return MON_PROBE_TIMEOUT;
        return status == 200 ? MON_PROBE_OK : MON_PROBE_FAILED;
}

static void read_channels(const Osh__ProbeResponse *resp, mon_probe_result_t *r)
{
        size_t i;

        r->n_channels = 0;
        for (i = 0; i < resp->n_send_errors && r->n_channels < MON_MAX_CHANNELS; i++) {
                const Osh__SendErrorCount *e = resp->send_errors[i];
                mon_channel_errors_t *c = &r->channels[r->n_channels++];
                snprintf(c->channel, sizeof(c->channel), "%s", e->channel);
                c->failed_temp = e->failed_temp;
                c->failed_perm = e->failed_perm;
        }
}

int mon_probe_read(const Osh__ProbeResponse *resp, const char *probe_id, mon_probe_result_t *r,
                   mon_model_t *m)
{
        size_t i;

        if (strcmp(resp->probe_id, probe_id)) {
                r->state = MON_PROBE_FAILED;
                snprintf(r->detail, sizeof(r->detail), "response for another probe");
                return -1;
        }
        r->state = MON_PROBE_OK;
        r->detail[0] = '\0';
        r->has_snapshot = resp->snapshot && resp->snapshot->batch_id[0];
        if (r->has_snapshot) {
                snprintf(r->snapshot_batch, sizeof(r->snapshot_batch), "%s",
                         resp->snapshot->batch_id);
                r->snapshot_extract_ms = resp->snapshot->extract_ms;
                r->snapshot_records = resp->snapshot->record_count;
        }
        read_channels(resp, r);
        if (resp->ingest) {
                r->ingest_ok = resp->ingest->batches_ok;
                r->ingest_dup = resp->ingest->batches_duplicate;
                r->ingest_rejected = resp->ingest->batches_rejected;
                r->ingest_published = resp->ingest->records_published;
                r->ingest_last_batch_ms = resp->ingest->last_batch_ms;
        }
        for (i = 0; m && i < resp->n_services; i++) {
                const Osh__ServiceHeartbeat *s = resp->services[i];
                mon_heartbeat_t hb = {.service = s->service,
                                      .instance = s->instance,
                                      .segment = "cloud",
                                      .state = s->state,
                                      .ts_ms = s->last_seen_ms,
                                      .records_in = s->records_in,
                                      .records_out = s->records_out,
                                      .records_rejected = s->records_rejected,
                                      .errors = s->errors,
                                      .lag = -1,
                                      .from_probe = 1};
                mon_model_heartbeat(m, &hb);
        }
        return 0;
}

static int sign(mon_prober_t *p, int64_t now_ms, const uint8_t *body, size_t len, char *hdr,
                size_t size)
{
        char token[OSH_AUTH_HEADER_MAX];

        hdr[0] = '\0';
        if (!p->key_id)
                return 0;
        if (osh_auth_sign(p->key_id, p->secret, p->secret_len, "POST", MON_PROBE_PATH, now_ms, body,
                          len, token, sizeof(token)))
                return -1;
        snprintf(hdr, size, "Authorization: %s", token);
        return 0;
}

static void answer(mon_prober_t *p, const osh_http_response_t *resp, const char *probe_id,
                   mon_probe_result_t *r, mon_model_t *m)
{
        char errstr[160];
        Osh__ProbeResponse *pr;

        r->state = mon_probe_classify(resp->status, resp->errstr);
        if (r->state != MON_PROBE_OK) {
                if (resp->status)
                        snprintf(r->detail, sizeof(r->detail), "HTTP %ld", resp->status);
                else
                        snprintf(r->detail, sizeof(r->detail), "%s", resp->errstr);
                return;
        }
        pr = osh_transfer_probe_response_unpack((const uint8_t *)resp->body, resp->body_len, errstr,
                                                sizeof(errstr));
        if (!pr) {
                r->state = MON_PROBE_FAILED;
                snprintf(r->detail, sizeof(r->detail), "bad probe response: %s", errstr);
                return;
        }
        mon_probe_read(pr, probe_id, r, m);
        osh__probe_response__free_unpacked(pr, NULL);
}

void mon_prober_run(mon_prober_t *p, int64_t now_ms, mon_probe_result_t *r, mon_model_t *m)
{
        Osh__ProbeRequest req = OSH__PROBE_REQUEST__INIT;
        osh_http_response_t resp;
        char id[64], auth[OSH_AUTH_HEADER_MAX + 32], errstr[256];
        const char *headers[] = {"Content-Type: application/x-protobuf", auth, NULL};
        uint8_t *body = NULL;
        size_t len = 0;
        int64_t t0 = osh_mono_ms();

        memset(r, 0, sizeof(*r));
        memset(&resp, 0, sizeof(resp));
        r->sent_ms = now_ms;
        snprintf(id, sizeof(id), "%s-%lld-%llu", p->source, (long long)now_ms,
                 (unsigned long long)++p->seq);
        req.probe_id = id;
        req.sent_ms = now_ms;
        req.source = p->source;
        if (osh_transfer_pack_message(&req.base, &body, &len, errstr, sizeof(errstr)) ||
            sign(p, now_ms, body, len, auth, sizeof(auth))) {
                r->state = MON_PROBE_FAILED;
                snprintf(r->detail, sizeof(r->detail), "cannot build the probe");
                goto done;
        }
        if (!auth[0])
                headers[1] = NULL;
        osh_http_request(p->http, "POST", p->url, headers, body, len, (long)p->timeout_ms,
                         OSH_TRANSFER_SMALL_MAX_BYTES, &resp);
        r->rtt_ms = osh_mono_ms() - t0;
        answer(p, &resp, id, r, m);
        if (r->state != MON_PROBE_OK)
                osh_debug("probe: %s (%s)", mon_probe_state_name(r->state), r->detail);
done:
        osh_http_response_free(&resp);
        free(body);
}
