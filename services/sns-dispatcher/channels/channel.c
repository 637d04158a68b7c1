#include "channel.h"

#include <jansson.h>

#include <stdio.h>
#include <string.h>

#include "oshirase/sha256.h"

/* Every channel the dispatcher can send through: one line each. */
const disp_channel_t *const disp_channels[] = {
    &disp_channel_line,
    &disp_channel_email,
    &disp_channel_webhook,
    &disp_channel_twitter,
    &disp_channel_facebook,
    &disp_channel_sms,
    NULL,
};

const disp_channel_t *disp_channel_of_kind(disp_chan_kind_t kind)
{
        for (size_t i = 0; disp_channels[i]; i++)
                if (disp_channels[i]->kind == kind)
                        return disp_channels[i];
        return NULL;
}

const char *disp_channel_symbol(disp_chan_kind_t kind)
{
        const disp_channel_t *ch = disp_channel_of_kind(kind);

        return ch ? ch->symbol : "OTHER";
}

disp_chan_kind_t disp_channel_kind(const char *sym)
{
        for (size_t i = 0; sym && disp_channels[i]; i++)
                if (!strcmp(disp_channels[i]->symbol, sym))
                        return disp_channels[i]->kind;
        return DISP_CH_OTHER;
}

int disp_channel_format(const disp_channel_t *ch, const disp_chan_conf_t *conf, const char *text,
                        disp_parts_t *out, char *err, size_t err_size)
{
        size_t parts = conf->max_parts ? conf->max_parts : 1;

        if (ch->max_parts && (parts > ch->max_parts || !conf->max_parts))
                parts = ch->max_parts;
        return disp_text_split_count(text, conf->max_chars, parts, ch->count, out, err, err_size);
}

void disp_channel_uuid(const char *key, unsigned n, char out[37])
{
        uint8_t d[OSH_SHA256_LEN];
        char hex[OSH_SHA256_LEN * 2 + 1], in[512];
        int len = snprintf(in, sizeof(in), "%s#%u", key, n);

        osh_sha256(in, (size_t)len < sizeof(in) ? (size_t)len : sizeof(in) - 1, d);
        d[6] = (uint8_t)((d[6] & 0x0F) | 0x50); /* name-based */
        d[8] = (uint8_t)((d[8] & 0x3F) | 0x80); /* RFC 4122 variant */
        osh_hex_encode(d, 16, hex);
        snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

osh_delivery_t disp_channel_http_result(const osh_http_response_t *r, int rc, disp_send_res_t *res)
{
        if (rc < 0) {
                snprintf(res->code, sizeof(res->code), "transport");
                snprintf(res->detail, sizeof(res->detail), "%s", r->errstr);
                return OSH_DELIVERY_RETRY;
        }
        snprintf(res->code, sizeof(res->code), "%ld", r->status);
        res->retry_after_ms = r->retry_after_ms;
        if (r->status >= 300 && r->body) /* provider error bodies name the cause */
                snprintf(res->detail, sizeof(res->detail), "%.200s", r->body);
        return osh_delivery_from_http(r->status);
}

osh_delivery_t disp_channel_post_json(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                      const char *url, void *body_json, disp_send_res_t *res)
{
        json_t *body = body_json;
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
                if (json_unpack(j, "{s:{s:s}}", "data", "dm_event_id", &id) < 0 &&
                    json_unpack(j, "{s:s}", "message_id", &id) < 0)
                        json_unpack(j, "{s:s}", "sid", &id);
                if (id)
                        snprintf(res->message_id, sizeof(res->message_id), "%s", id);
                json_decref(j);
        }
        osh_http_response_free(&r);
        return d;
}
