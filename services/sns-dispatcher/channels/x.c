/* X (Twitter) direct messages: POST /2/dm_conversations/with/:participant_id/
 * messages, {"text": ...}, bearer token. No idempotency key exists, so each
 * part is one request; the dispatcher's sent-ledger keeps replays from
 * repeating them. X counts DM text in characters. */
#include <stdio.h>

#include <jansson.h>

#include "channel.h"

static osh_delivery_t x_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                             const disp_send_req_t *req, const disp_parts_t *parts,
                             disp_send_res_t *res)
{
        osh_delivery_t d = OSH_DELIVERY_OK;
        char url[768];

        snprintf(url, sizeof(url), "%s/2/dm_conversations/with/%s/messages", conf->url,
                 req->rcpt[0].account_id);
        for (size_t p = 0; p < parts->n && d == OSH_DELIVERY_OK; p++)
                d = disp_channel_post_json(http, conf, url,
                                           json_pack("{s:s}", "text", parts->part[p]), res);
        return d;
}

static const osh_cfg_entry_t x_config[] = {
    DISP_CHAN_KEYS(twitter, TWITTER, "https://api.twitter.com", "492", "1", "1000/d:50"),
};

const disp_channel_t disp_channel_twitter = {
    .name = "twitter",
    .kind = DISP_CH_TWITTER,
    .symbol = "TWITTER",
    DISP_CHAN_CONFIG(x_config),
    .titled = 1,
    .check_account = osh_account_check_x,
    .max_rcpt = 1,
    .send = x_send,
};
