/* Facebook Messenger Send API: POST /v17.0/me/messages with the page access
 * token, one text message per request (MESSAGE_TAG ACCOUNT_UPDATE: notices
 * outside the 24-hour window). No idempotency key: the sent-ledger keeps
 * replays from repeating a part. */
#include <stdio.h>

#include <jansson.h>

#include "channel.h"

static osh_delivery_t messenger_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                     const disp_send_req_t *req, const disp_parts_t *parts,
                                     disp_send_res_t *res)
{
        osh_delivery_t d = OSH_DELIVERY_OK;
        char url[768];

        snprintf(url, sizeof(url), "%s/v17.0/me/messages", conf->url);
        for (size_t p = 0; p < parts->n && d == OSH_DELIVERY_OK; p++)
                d = disp_channel_post_json(
                    http, conf, url,
                    json_pack("{s:{s:s}, s:s, s:s, s:{s:s}}", "recipient", "id",
                              req->rcpt[0].account_id, "messaging_type", "MESSAGE_TAG", "tag",
                              "ACCOUNT_UPDATE", "message", "text", parts->part[p]),
                    res);
        return d;
}

static const osh_cfg_entry_t messenger_config[] = {
    DISP_CHAN_KEYS(facebook, FACEBOOK, "https://graph.facebook.com", "500", "3", "0"),
};

const disp_channel_t disp_channel_facebook = {
    .name = "facebook",
    .kind = DISP_CH_FACEBOOK,
    .symbol = "FACEBOOK",
    DISP_CHAN_CONFIG(messenger_config),
    .titled = 1,
    .check_account = osh_account_check_facebook,
    .max_rcpt = 1,
    .send = messenger_send,
};
