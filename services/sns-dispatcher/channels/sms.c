/* SMS through Twilio's Programmable Messaging API:
 *   POST {url}/2010-04-01/Accounts/{AccountSid}/Messages.json
 * form-encoded To, From, Body, HTTP basic auth AccountSid:AuthToken
 * (sms.token holds "AccountSid:AuthToken", sms.from the sending number).
 * Twilio answers 201 with the message "sid"; 400 with a numeric code for a
 * number it refuses (21211) or a missing/over-long Body (21602, 21617); no
 * idempotency key exists, so one recipient per request and the sent-ledger
 * keep a retry from sending twice. Seed 003 caps a notice at 660 characters
 * in one message part. */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "channel.h"

#define SMS_TOKEN_MAX 256

/* "To=...&From=...&Body=..." (percent-encoded). Caller frees. */
static char *form(const char *to, const char *from, const char *body)
{
        char *t = curl_easy_escape(NULL, to, 0), *f = curl_easy_escape(NULL, from, 0),
             *b = curl_easy_escape(NULL, body, 0), *out = NULL;
        size_t n;

        if (t && f && b) {
                n = strlen(t) + strlen(f) + strlen(b) + 32;
                out = malloc(n);
                if (out)
                        snprintf(out, n, "To=%s&From=%s&Body=%s", t, f, b);
        }
        curl_free(t);
        curl_free(f);
        curl_free(b);
        return out;
}

static osh_delivery_t sms_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                               const disp_send_req_t *req, const disp_parts_t *parts,
                               disp_send_res_t *res)
{
        const char *tok = conf->token ? conf->token : "", *colon = strchr(tok, ':');
        char url[768], auth[32 + 4 * SMS_TOKEN_MAX / 3 + 8];
        const char *hdr[] = {"Content-Type: application/x-www-form-urlencoded", auth, NULL};
        char *body = form(req->rcpt[0].account_id, conf->from ? conf->from : "", parts->part[0]);
        osh_http_response_t r;
        osh_delivery_t d;
        int rc;

        if (!body || !colon || strlen(tok) > SMS_TOKEN_MAX) {
                free(body);
                snprintf(res->detail, sizeof(res->detail),
                         "sms.token must be AccountSid:AuthToken");
                return OSH_DELIVERY_FAIL;
        }
        snprintf(url, sizeof(url), "%s/2010-04-01/Accounts/%.*s/Messages.json", conf->url,
                 (int)(colon - tok), tok);
        snprintf(auth, sizeof(auth), "Authorization: Basic ");
        EVP_EncodeBlock((unsigned char *)auth + strlen(auth), (const unsigned char *)tok,
                        (int)strlen(tok));
        rc = osh_http_request(http, "POST", url, hdr, body, strlen(body), conf->timeout_ms, 8192,
                              &r);
        free(body);
        d = disp_channel_http_result(&r, rc, res);
        if (d == OSH_DELIVERY_OK && r.body) { /* {"sid": "SM...", ...} */
                json_t *j = json_loads(r.body, 0, NULL);
                const char *sid = json_string_value(json_object_get(j, "sid"));
                if (sid)
                        snprintf(res->message_id, sizeof(res->message_id), "%s", sid);
                json_decref(j);
        }
        osh_http_response_free(&r);
        return d;
}

static const osh_cfg_entry_t sms_config[] = {
    DISP_CHAN_KEYS(sms, SMS, "", "660", "1", "10/s"),
    {"sms.from", OSH_CFG_STR, NULL, "OSH_SMS_FROM", "sms: the sending number (E.164)"},
};

const disp_channel_t disp_channel_sms = {
    .name = "sms",
    .kind = DISP_CH_SMS,
    .symbol = "SMS",
    DISP_CHAN_CONFIG(sms_config),
    .titled = 1,
    .check_account = osh_account_check_e164,
    .max_rcpt = 1,
    .max_parts = 1, /* one message per notice (seed 003: 660 characters) */
    .send = sms_send,
};
