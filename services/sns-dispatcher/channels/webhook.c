/* Generic JSON webhook: one POST per recipient, signed with HMAC-SHA-256
 * over "<timestamp>.<body>" (X-Osh-Timestamp, X-Osh-Signature: sha256=hex)
 * and carrying an Idempotency-Key derived from the dispatch id, so a sink
 * can drop a retried or replayed delivery. Every POST goes to the configured
 * URL with the recipient's account id in the body: an account id that is a
 * URL is never fetched, so registered destinations cannot make the
 * dispatcher call arbitrary hosts. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "oshirase/sha256.h"

#include "channel.h"

static char *signed_headers(const disp_chan_conf_t *conf, const char *body, char ts[64],
                            char sig[128])
{
        uint8_t mac[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1], *msg;
        long long now = (long long)time(NULL);
        size_t len = strlen(body) + 32;
        const char *key = conf->secret ? conf->secret : "";

        msg = malloc(len);
        if (!msg)
                return NULL;
        snprintf(msg, len, "%lld.%s", now, body);
        osh_hmac_sha256(key, strlen(key), msg, strlen(msg), mac);
        osh_hex_encode(mac, sizeof(mac), hex);
        snprintf(ts, 64, "X-Osh-Timestamp: %lld", now);
        snprintf(sig, 128, "X-Osh-Signature: sha256=%s", hex);
        return msg;
}

static osh_delivery_t post_one(osh_http_client_t *http, const disp_chan_conf_t *conf,
                               const disp_send_req_t *req, const disp_rcpt_t *rc, const char *text,
                               unsigned n, disp_send_res_t *res)
{
        char ts[64], sig[128], idem[96], uuid[37];
        const char *hdr[] = {"Content-Type: application/json", ts, sig, idem, NULL};
        const char *url = conf->url;
        json_t *j =
            json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:b, s:b}", "dispatch_id", req->key,
                      "campaign_id", req->campaign_id, "recipient", "user_id", rc->user_id,
                      "account_id", rc->account_id, "title", req->title ? req->title : "", "text",
                      text, "test", req->test, "critical", req->critical);
        char *body = json_dumps(j, JSON_COMPACT), *msg;
        osh_http_response_t r;
        osh_delivery_t d = OSH_DELIVERY_RETRY;
        int rcode;

        json_decref(j);
        disp_channel_uuid(req->key, n, uuid);
        snprintf(idem, sizeof(idem), "Idempotency-Key: %s", uuid);
        msg = body ? signed_headers(conf, body, ts, sig) : NULL;
        if (msg) {
                rcode = osh_http_request(http, "POST", url, hdr, body, strlen(body),
                                         conf->timeout_ms, 4096, &r);
                d = disp_channel_http_result(&r, rcode, res);
                if (r.status == 409) { /* sink saw this idempotency key */
                        d = OSH_DELIVERY_OK;
                        snprintf(res->detail, sizeof(res->detail), "duplicate acknowledged");
                }
                osh_http_response_free(&r);
        }
        free(msg);
        free(body);
        return d;
}

static osh_delivery_t webhook_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                   const disp_send_req_t *req, const disp_parts_t *parts,
                                   disp_send_res_t *res)
{
        return post_one(http, conf, req, &req->rcpt[0], parts->part[0], (unsigned)req->rcpt_index,
                        res);
}

static const osh_cfg_entry_t webhook_config[] = {
    DISP_CHAN_KEYS(webhook, WEBHOOK, "", "10000", "1", "0"),
    {"webhook.secret", OSH_CFG_STR, NULL, "OSH_WEBHOOK_SECRET", "webhook HMAC-SHA-256 key"},
};

const disp_channel_t disp_channel_webhook = {
    .name = "webhook",
    .kind = DISP_CH_WEBHOOK,
    .symbol = "WEBHOOK",
    DISP_CHAN_CONFIG(webhook_config),
    .titled = 0,
    .idempotent = 1,
    .check_account = osh_account_check_https_url,
    .max_rcpt = 1,
    .max_parts = 1, /* one JSON document per notice */
    .send = webhook_send,
};
