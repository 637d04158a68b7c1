/* LINE Messaging API: push (one user) and multicast (up to 500 users per
 * call), up to 5 text messages per request, X-Line-Retry-Key derived from
 * the dispatch id so a retried or replayed request is accepted at most once
 * (LINE answers 409 to a key it already accepted: treated as sent). */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "channel.h"

#define LINE_MULTICAST_MAX 500
#define LINE_MAX_MESSAGES  5

static json_t *messages(const disp_parts_t *parts)
{
        json_t *a = json_array();

        for (size_t i = 0; i < parts->n; i++)
                json_array_append_new(
                    a, json_pack("{s:s, s:s}", "type", "text", "text", parts->part[i]));
        return a;
}

/* One request; body is consumed. */
static osh_delivery_t post(osh_http_client_t *http, const disp_chan_conf_t *conf, const char *path,
                           json_t *body, const char *retry_key, disp_send_res_t *res)
{
        char url[512], auth[512], rk[80];
        const char *hdr[] = {"Content-Type: application/json", auth, rk, NULL};
        osh_http_response_t r;
        char *js = json_dumps(body, JSON_COMPACT);
        osh_delivery_t d;
        int rc;

        json_decref(body);
        snprintf(url, sizeof(url), "%s%s", conf->url, path);
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", conf->token ? conf->token : "");
        snprintf(rk, sizeof(rk), "X-Line-Retry-Key: %s", retry_key);
        rc = osh_http_request(http, "POST", url, hdr, js, js ? strlen(js) : 0, conf->timeout_ms,
                              16384, &r);
        free(js);
        d = disp_channel_http_result(&r, rc, res);
        if (r.status == 409) { /* the retry key was accepted before */
                d = OSH_DELIVERY_OK;
                snprintf(res->detail, sizeof(res->detail), "retry key already accepted");
        } else if (d == OSH_DELIVERY_OK && !res->message_id[0] && r.body) {
                json_t *j = json_loads(r.body, 0, NULL);
                const char *id = NULL;
                json_unpack(j, "{s:[{s:s}]}", "sentMessages", "id", &id);
                if (id)
                        snprintf(res->message_id, sizeof(res->message_id), "%s", id);
                json_decref(j);
        }
        osh_http_response_free(&r);
        return d;
}

static osh_delivery_t push_one(osh_http_client_t *http, const disp_chan_conf_t *conf,
                               const disp_send_req_t *req, const disp_parts_t *parts, size_t i,
                               unsigned key_n, disp_send_res_t *res)
{
        char uuid[37];
        json_t *body = json_pack("{s:s, s:o, s:b}", "to", req->rcpt[i].account_id, "messages",
                                 messages(parts), "notificationDisabled", 0);

        disp_channel_uuid(req->key, key_n, uuid);
        return post(http, conf, "/v2/bot/message/push", body, uuid, res);
}

/* One multicast chunk; on 400 (an invalid id spoils the whole call) each
 * recipient is pushed alone so only the invalid ones fail. */
static osh_delivery_t multicast_chunk(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                      const disp_send_req_t *req, const disp_parts_t *parts,
                                      size_t from, size_t n, disp_send_res_t *res)
{
        json_t *to = json_array(), *body;
        char uuid[37];
        osh_delivery_t d;

        for (size_t i = from; i < from + n; i++)
                json_array_append_new(to, json_string(req->rcpt[i].account_id));
        body = json_pack("{s:o, s:o, s:b}", "to", to, "messages", messages(parts),
                         "notificationDisabled", 0);
        disp_channel_uuid(req->key, (unsigned)(from / LINE_MULTICAST_MAX) + 1, uuid);
        d = post(http, conf, "/v2/bot/message/multicast", body, uuid, res);
        if (d == OSH_DELIVERY_OK) {
                res->n_ok += n;
                return d;
        }
        if (d == OSH_DELIVERY_RETRY || strcmp(res->code, "400"))
                return d;
        for (size_t i = from; i < from + n; i++) {
                disp_send_res_t one = {0};
                d = push_one(http, conf, req, parts, i, (unsigned)(100000 + i), &one);
                if (d == OSH_DELIVERY_RETRY) {
                        *res = one;
                        return d;
                }
                if (d == OSH_DELIVERY_OK)
                        res->n_ok++;
                else
                        res->n_perm++;
        }
        snprintf(res->detail, sizeof(res->detail), "multicast refused: %zu of %zu ids invalid",
                 res->n_perm, n);
        return OSH_DELIVERY_OK;
}

static osh_delivery_t line_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                const disp_send_req_t *req, const disp_parts_t *parts,
                                disp_send_res_t *res)
{
        osh_delivery_t d = OSH_DELIVERY_OK;

        if (req->n_rcpt == 1) {
                d = push_one(http, conf, req, parts, 0, 0, res);
                if (d == OSH_DELIVERY_OK)
                        res->n_ok = 1;
                else if (d == OSH_DELIVERY_FAIL)
                        res->n_perm = 1;
                return d;
        }
        for (size_t from = 0; from < req->n_rcpt && d == OSH_DELIVERY_OK;
             from += LINE_MULTICAST_MAX) {
                size_t n = req->n_rcpt - from;
                d = multicast_chunk(http, conf, req, parts, from,
                                    n > LINE_MULTICAST_MAX ? LINE_MULTICAST_MAX : n, res);
        }
        if (d == OSH_DELIVERY_FAIL) /* whole chunks refused (e.g. 401): the rest fails too */
                res->n_perm = req->n_rcpt - res->n_ok;
        return d;
}

static const osh_cfg_entry_t line_config[] = {
    DISP_CHAN_KEYS(line, LINE, "https://api.line.me", "5000", "5", "2000/s"),
};

const disp_channel_t disp_channel_line = {
    .name = "line",
    .kind = DISP_CH_LINE,
    .symbol = "LINE",
    DISP_CHAN_CONFIG(line_config),
    .titled = 1,
    .idempotent = 1,
    .check_account = osh_account_check_line,
    .max_rcpt = LINE_MULTICAST_MAX,
    .count = DISP_COUNT_UTF16, /* LINE counts text in UTF-16 code units */
    .max_parts = LINE_MAX_MESSAGES,
    .parts_per_request = LINE_MAX_MESSAGES, /* the messages array of one call */
    .send = line_send,
};
