/* Twitter/X direct messages (POST /2/dm_conversations/with/:participant_id/
 * messages) and the Facebook Messenger Send API (POST /v17.0/me/messages).
 * Neither offers an idempotency key, so each part of each recipient is one
 * request; the dispatcher's sent-ledger keeps replays from repeating them. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"

typedef json_t *(body_fn)(const char *account, const char *text);

static json_t *twitter_body(const char *account, const char *text)
{
        (void)account;
        return json_pack("{s:s}", "text", text);
}

static json_t *facebook_body(const char *account, const char *text)
{
        return json_pack("{s:{s:s}, s:s, s:s, s:{s:s}}", "recipient", "id", account,
                         "messaging_type", "MESSAGE_TAG", "tag", "ACCOUNT_UPDATE", "message",
                         "text", text);
}

static osh_delivery_t post_part(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                const char *url, json_t *body, disp_send_res_t *res)
{
        char auth[512];
        const char *hdr[] = {"Content-Type: application/json", auth, NULL};
        char *js = json_dumps(body, JSON_COMPACT);
        osh_http_response_t r;
        osh_delivery_t d;
        int rc;

        json_decref(body);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", conf->token ? conf->token : "");
        rc = osh_http_request(http, "POST", url, hdr, js, js ? strlen(js) : 0, conf->timeout_ms,
                              8192, &r);
        free(js);
        d = disp_channel_http_result(&r, rc, res);
        if (d == OSH_DELIVERY_OK && !res->message_id[0] && r.body) {
                json_t *j = json_loads(r.body, 0, NULL);
                const char *id = NULL;
                if (json_unpack(j, "{s:{s:s}}", "data", "dm_event_id", &id) < 0)
                        json_unpack(j, "{s:s}", "message_id", &id);
                if (id)
                        snprintf(res->message_id, sizeof(res->message_id), "%s", id);
                json_decref(j);
        }
        osh_http_response_free(&r);
        return d;
}

/* Every part of the one recipient, in order; stops at the first failure. */
static osh_delivery_t send_parts(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                 const disp_send_req_t *req, const disp_parts_t *parts,
                                 disp_send_res_t *res, int twitter)
{
        const char *acc = req->rcpt[0].account_id;
        osh_delivery_t d = OSH_DELIVERY_OK;
        char url[768];

        if (twitter)
                snprintf(url, sizeof(url), "%s/2/dm_conversations/with/%s/messages", conf->url,
                         acc);
        else
                snprintf(url, sizeof(url), "%s/v17.0/me/messages", conf->url);
        for (size_t p = 0; p < parts->n && d == OSH_DELIVERY_OK; p++)
                d = post_part(http, conf, url,
                              (twitter ? twitter_body : facebook_body)(acc, parts->part[p]), res);
        return d;
}

static osh_delivery_t twitter_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                   const disp_send_req_t *req, const disp_parts_t *parts,
                                   disp_send_res_t *res)
{
        return send_parts(http, conf, req, parts, res, 1);
}

static osh_delivery_t facebook_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                    const disp_send_req_t *req, const disp_parts_t *parts,
                                    disp_send_res_t *res)
{
        return send_parts(http, conf, req, parts, res, 0);
}

const disp_channel_t disp_channel_twitter = {
    .name = "twitter",
    .check_account = osh_account_check_x,
    .max_rcpt = 1,
    .send = twitter_send,
};
const disp_channel_t disp_channel_facebook = {
    .name = "facebook",
    .check_account = osh_account_check_facebook,
    .max_rcpt = 1,
    .send = facebook_send,
};
