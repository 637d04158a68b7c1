#include "channel.h"

#include <stdio.h>
#include <string.h>

#include "oshirase/sha256.h"

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
