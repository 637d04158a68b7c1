/* osh-fake-providers: stand-ins for the providers sns-dispatcher talks to,
 * built from their published API definitions (LINE's messaging-api.yml:
 * PushMessageRequest / MulticastRequest / ErrorResponse; X API v2 DM;
 * Graph API Send API; Twilio's Messages API for SMS). Each validates what the provider validates
 * (bearer token, JSON shape, id format, recipient and message counts, text length), enforces rate
 * limits with 429, honours X-Line-Retry-Key (409 for a key already accepted), injects failures by
 * configuration, and appends every accepted message to a JSON-lines log, one line per recipient, so
 * tests can assert exactly what each resident received. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "oshirase/config.h"
#include "oshirase/http_server.h"
#include "oshirase/log.h"
#include "oshirase/sha256.h"
#include "oshirase/signal.h"

#include "fake_state.h"

static const osh_cfg_entry_t table[] = {
    {"host", OSH_CFG_STR, "127.0.0.1", NULL, "address to bind"},
    {"port", OSH_CFG_INT, "0", NULL, "port (0: ephemeral, see port.file)"},
    {"port.file", OSH_CFG_STR, NULL, NULL, "write the bound port here"},
    {"log", OSH_CFG_STR, "fake-accepted.jsonl", NULL, "accepted messages, one JSON line each"},
    {"threads", OSH_CFG_INT, "4", NULL, "worker threads"},
    {"line.token", OSH_CFG_STR, "line-test-token", NULL, "channel access token to require"},
    {"twitter.token", OSH_CFG_STR, "twitter-test-token", NULL, "bearer token to require"},
    {"facebook.token", OSH_CFG_STR, "facebook-test-token", NULL, "page access token to require"},
    {"webhook.secret", OSH_CFG_STR, NULL, NULL, "verify X-Osh-Signature with this key"},
    {"line.max_chars", OSH_CFG_INT, "5000", NULL, "LINE text message limit"},
    {"twitter.max_chars", OSH_CFG_INT, "10000", NULL, "X DM text limit"},
    {"facebook.max_chars", OSH_CFG_INT, "2000", NULL, "Messenger text limit"},
    {"rate.push", OSH_CFG_INT, "2000", NULL, "LINE push requests/s"},
    {"rate.multicast", OSH_CFG_INT, "200", NULL, "LINE multicast requests/s"},
    {"rate.twitter", OSH_CFG_INT, "0", NULL, "X DM requests/s (0: unlimited)"},
    {"rate.facebook", OSH_CFG_INT, "0", NULL, "Messenger requests/s"},
    {"rate.webhook", OSH_CFG_INT, "0", NULL, "webhook requests/s"},
    {"fail.error_rate", OSH_CFG_STR, "0", NULL, "share of requests answered 500 (0..1)"},
    {"fail.ack_loss", OSH_CFG_STR, "0", NULL,
     "share of accepted requests (LINE, webhook) answered 500 anyway (0..1)"},
    {"fail.outage", OSH_CFG_STR, NULL, NULL, "FROM-TO seconds after start: 503"},
    {"fail.storm", OSH_CFG_STR, NULL, NULL, "FROM-TO seconds after start: 429 + Retry-After"},
    {"fail.invalid", OSH_CFG_STR, NULL, NULL, "comma-separated account ids that do not exist"},
    {"sms.sid", OSH_CFG_STR, "ACtest", NULL, "Twilio AccountSid to require"},
    {"sms.token", OSH_CFG_STR, "sms-test-token", NULL, "Twilio AuthToken to require"},
    {"sms.max_chars", OSH_CFG_INT, "1600", NULL, "Twilio's Body limit (characters)"},
    {"rate.sms", OSH_CFG_INT, "0", NULL, "SMS requests/s"},
    {"fail.throttle", OSH_CFG_STR, NULL, NULL,
     "N:S: the Nth LINE request gets 429 with Retry-After: S"},
    {"requests.log", OSH_CFG_STR, NULL, NULL,
     "every request past authentication, one JSON line (ms since start, api, status)"},
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

static void reply_json(osh_http_reply_t *rep, int status, json_t *j)
{
        char *s = json_dumps(j, JSON_COMPACT);

        json_decref(j);
        osh_http_reply_take(rep, status, "application/json", (uint8_t *)s, s ? strlen(s) : 0);
}

/* LINE's ErrorResponse: {"message": ..., "details": [{"message", "property"}]}. */
static void line_error(osh_http_reply_t *rep, int status, const char *msg, const char *detail,
                       const char *property)
{
        json_t *j = json_pack("{s:s}", "message", msg);

        if (detail)
                json_object_set_new(
                    j, "details",
                    json_pack("[{s:s, s:s}]", "message", detail, "property", property));
        reply_json(rep, status, j);
}

static int bearer_ok(const osh_http_request_t *req, const char *token)
{
        const char *a = osh_http_request_header(req, "Authorization");

        return a && !strncmp(a, "Bearer ", 7) && !strcmp(a + 7, token ? token : "");
}

static int line_user_id(const char *s)
{
        if (!s || strlen(s) != 33 || s[0] != 'U')
                return 0;
        for (int i = 1; i < 33; i++)
                if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
                        return 0;
        return 1;
}

static int uuid_ok(const char *s)
{
        if (!s || strlen(s) != 36)
                return 0;
        for (int i = 0; i < 36; i++)
                if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-'
                                                              : !isxdigit((unsigned char)s[i]))
                        return 0;
        return 1;
}

/* Validates "messages" (1..5 text messages within the limit); returns a
 * JSON array of the texts or NULL after answering 400. */
static json_t *line_messages(fake_state_t *st, json_t *body, osh_http_reply_t *rep)
{
        json_t *msgs = json_object_get(body, "messages"), *texts = json_array(), *m;
        char prop[64];
        size_t i;

        if (!json_is_array(msgs) || json_array_size(msgs) < 1 || json_array_size(msgs) > 5) {
                json_decref(texts);
                line_error(rep, 400, "The request body has 1 error(s)",
                           "Size must be between 1 and 5", "messages");
                return NULL;
        }
        json_array_foreach(msgs, i, m)
        {
                const char *type = json_string_value(json_object_get(m, "type"));
                const char *text = json_string_value(json_object_get(m, "text"));
                snprintf(prop, sizeof(prop), "messages[%zu].text", i);
                if (!type || strcmp(type, "text") || !text || !*text ||
                    fake_utf16_units(text) > fake_conf(st)->line_max_chars) {
                        json_decref(texts);
                        line_error(rep, 400, "The request body has 1 error(s)",
                                   !text || !*text ? "May not be empty"
                                                   : "Length must be between 0 and 5000",
                                   prop);
                        return NULL;
                }
                json_array_append_new(texts, json_string(text));
        }
        return texts;
}

static json_t *parse_body(const osh_http_request_t *req)
{
        return json_loadb((const char *)req->body, req->body_len, 0, NULL);
}

/* Common LINE front: auth, gate, JSON, retry key. NULL when answered. */
static json_t *line_front(fake_state_t *st, fake_api_t api, const osh_http_request_t *req,
                          osh_http_reply_t *rep, const char **rk)
{
        json_t *body;

        if (!bearer_ok(req, fake_conf(st)->line_token)) {
                line_error(rep, 401,
                           "Authentication failed due to the following reason: invalid token. "
                           "Confirm that the access token in the authorization header is valid.",
                           NULL, NULL);
                return NULL;
        }
        if (fake_gate(st, api, rep))
                return NULL;
        *rk = osh_http_request_header(req, "X-Line-Retry-Key");
        if (*rk && !uuid_ok(*rk)) {
                line_error(rep, 400, "The retry key is invalid", NULL, NULL);
                return NULL;
        }
        body = parse_body(req);
        if (!json_is_object(body)) {
                json_decref(body);
                line_error(rep, 400, "The request body has 1 error(s)", "must be a JSON object",
                           "body");
                return NULL;
        }
        return body;
}

/* 409 with the request id that was accepted under this retry key. */
static int line_dup(fake_state_t *st, const char *rk, const char *rid, osh_http_reply_t *rep)
{
        char prev[40];

        if (!fake_idem(st, rk, rid, prev, sizeof(prev)))
                return 0;
        osh_http_reply_header(rep, "x-line-accepted-request-id", prev);
        line_error(rep, 409, "The retry key is already accepted", NULL, NULL);
        return 1;
}

static void log_line(fake_state_t *st, const char *api, const char *to, const char *rk,
                     const char *rid, json_t *texts)
{
        fake_log(st,
                 json_pack("{s:s, s:s, s:s, s:s, s:s, s:O}", "provider", "line", "api", api, "to",
                           to, "retry_key", rk ? rk : "", "request_id", rid, "texts", texts));
}

static void on_push(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_state_t *st = opaque;
        const char *rk = NULL, *to;
        json_t *body = line_front(st, FAKE_API_PUSH, req, rep, &rk), *texts = NULL;
        char rid[40], mid[48];

        if (!body)
                return;
        to = json_string_value(json_object_get(body, "to"));
        if (!line_user_id(to) || fake_invalid(st, to)) {
                line_error(
                    rep, 400,
                    "The property, 'to', in the request body is invalid (line: -, column: -)", NULL,
                    NULL);
                goto done;
        }
        texts = line_messages(st, body, rep);
        if (!texts)
                goto done;
        fake_request_id(st, rid);
        if (line_dup(st, rk, rid, rep))
                goto done;
        log_line(st, "push", to, rk, rid, texts);
        if (fake_ack_lost(st)) {
                line_error(rep, 500, "An error occurred in the backend", NULL, NULL);
                goto done;
        }
        snprintf(mid, sizeof(mid), "m%s", rid + 4);
        osh_http_reply_header(rep, "x-line-request-id", rid);
        reply_json(rep, 200, json_pack("{s:[{s:s}]}", "sentMessages", "id", mid));
done:
        json_decref(texts);
        json_decref(body);
}

static void on_multicast(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_state_t *st = opaque;
        const char *rk = NULL;
        json_t *body = line_front(st, FAKE_API_MULTICAST, req, rep, &rk), *texts = NULL, *to, *v;
        char rid[40], prop[32];
        size_t i;

        if (!body)
                return;
        to = json_object_get(body, "to");
        if (!json_is_array(to) || json_array_size(to) < 1 || json_array_size(to) > 500) {
                line_error(rep, 400, "The request body has 1 error(s)",
                           "Size must be between 1 and 500", "to");
                goto done;
        }
        json_array_foreach(to, i, v)
        {
                if (!line_user_id(json_string_value(v)) || fake_invalid(st, json_string_value(v))) {
                        snprintf(prop, sizeof(prop), "to[%zu]", i);
                        line_error(rep, 400, "The request body has 1 error(s)", "invalid user ID",
                                   prop);
                        goto done;
                }
        }
        texts = line_messages(st, body, rep);
        if (!texts)
                goto done;
        fake_request_id(st, rid);
        if (line_dup(st, rk, rid, rep))
                goto done;
        json_array_foreach(to, i, v)
            log_line(st, "multicast", json_string_value(v), rk, rid, texts);
        if (fake_ack_lost(st)) {
                line_error(rep, 500, "An error occurred in the backend", NULL, NULL);
                goto done;
        }
        osh_http_reply_header(rep, "x-line-request-id", rid);
        reply_json(rep, 200, json_object());
done:
        json_decref(texts);
        json_decref(body);
}

/* POST /2/dm_conversations/with/:participant_id/messages */
static void on_twitter(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_state_t *st = opaque;
        const char *pfx = "/2/dm_conversations/with/", *id = req->path + strlen(pfx), *text;
        char who[32], rid[40];
        size_t n = strspn(id, "0123456789");
        json_t *body = NULL;

        if (n == 0 || n >= sizeof(who) || strcmp(id + n, "/messages")) {
                osh_http_reply_error(rep, 404, "Not Found");
                return;
        }
        memcpy(who, id, n);
        who[n] = '\0';
        if (!bearer_ok(req, fake_conf(st)->twitter_token)) {
                reply_json(rep, 401,
                           json_pack("{s:s, s:s, s:i}", "title", "Unauthorized", "detail",
                                     "Unauthorized", "status", 401));
                return;
        }
        if (fake_gate(st, FAKE_API_TWITTER, rep))
                return;
        body = parse_body(req);
        text = json_string_value(json_object_get(body, "text"));
        if (!text || !*text || fake_chars(text) > fake_conf(st)->twitter_max_chars) {
                reply_json(rep, 400,
                           json_pack("{s:[{s:s}], s:s}", "errors", "message",
                                     "text: invalid length", "title", "Invalid Request"));
        } else if (fake_invalid(st, who)) {
                reply_json(rep, 403,
                           json_pack("{s:s, s:s, s:s, s:i}", "detail",
                                     "You cannot send messages to this user.", "type",
                                     "about:blank", "title", "Forbidden", "status", 403));
        } else {
                fake_request_id(st, rid);
                fake_log(st, json_pack("{s:s, s:s, s:s, s:[s]}", "provider", "twitter", "to", who,
                                       "request_id", rid, "texts", text));
                reply_json(rep, 201,
                           json_pack("{s:{s:s, s:s}}", "data", "dm_conversation_id", who,
                                     "dm_event_id", rid));
        }
        json_decref(body);
}

/* POST /v17.0/me/messages (Graph API error shape). */
static void on_facebook(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_state_t *st = opaque;
        json_t *body = NULL;
        const char *to = NULL, *text = NULL, *mt = NULL;
        char rid[40];

        if (!bearer_ok(req, fake_conf(st)->facebook_token)) {
                reply_json(rep, 401,
                           json_pack("{s:{s:s, s:s, s:i}}", "error", "message",
                                     "Invalid OAuth access token.", "type", "OAuthException",
                                     "code", 190));
                return;
        }
        if (fake_gate(st, FAKE_API_FACEBOOK, rep))
                return;
        body = parse_body(req);
        json_unpack(body, "{s:{s:s}, s:{s:s}, s?s}", "recipient", "id", &to, "message", "text",
                    &text, "messaging_type", &mt);
        if (!to || !text || !mt || !*text || fake_chars(text) > fake_conf(st)->facebook_max_chars) {
                reply_json(rep, 400,
                           json_pack("{s:{s:s, s:s, s:i}}", "error", "message",
                                     "(#100) Invalid parameter", "type", "OAuthException", "code",
                                     100));
        } else if (fake_invalid(st, to)) {
                reply_json(rep, 400,
                           json_pack("{s:{s:s, s:s, s:i, s:i}}", "error", "message",
                                     "(#100) No matching user found", "type", "OAuthException",
                                     "code", 100, "error_subcode", 2018001));
        } else {
                fake_request_id(st, rid);
                fake_log(st, json_pack("{s:s, s:s, s:s, s:[s]}", "provider", "facebook", "to", to,
                                       "request_id", rid, "texts", text));
                reply_json(rep, 200,
                           json_pack("{s:s, s:s}", "recipient_id", to, "message_id", rid));
        }
        json_decref(body);
}

/* Verifies X-Osh-Signature = sha256=HMAC(secret, "<ts>.<body>"). */
static int webhook_sig_ok(fake_state_t *st, const osh_http_request_t *req)
{
        const char *secret = fake_conf(st)->webhook_secret;
        const char *ts = osh_http_request_header(req, "X-Osh-Timestamp");
        const char *sig = osh_http_request_header(req, "X-Osh-Signature");
        uint8_t mac[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1];
        size_t tl;
        char *msg;
        int ok;

        if (!secret)
                return 1;
        if (!ts || !sig || strncmp(sig, "sha256=", 7))
                return 0;
        tl = strlen(ts);
        msg = malloc(tl + 1 + req->body_len);
        if (!msg)
                return 0;
        memcpy(msg, ts, tl);
        msg[tl] = '.';
        memcpy(msg + tl + 1, req->body, req->body_len);
        osh_hmac_sha256(secret, strlen(secret), msg, tl + 1 + req->body_len, mac);
        free(msg);
        osh_hex_encode(mac, sizeof(mac), hex);
        ok =
            strlen(sig + 7) == OSH_SHA256_HEX_LEN && osh_ct_equal(hex, sig + 7, OSH_SHA256_HEX_LEN);
        return ok;
}

/* Generic sink: our signed webhook (recipient.account_id, text) and
 * Apprise's json:// (title, message) alike. */
static void on_webhook(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_state_t *st = opaque;
        const char *key = osh_http_request_header(req, "Idempotency-Key"), *to = "", *text = NULL;
        json_t *body;
        char rid[40], prev[40];

        if (fake_gate(st, FAKE_API_WEBHOOK, rep))
                return;
        if (!webhook_sig_ok(st, req)) {
                osh_http_reply_error(rep, 401, "bad signature");
                return;
        }
        body = parse_body(req);
        json_unpack(body, "{s:{s:s}}", "recipient", "account_id", &to);
        text = json_string_value(json_object_get(body, "text"));
        if (!text)
                text = json_string_value(json_object_get(body, "message"));
        if (!text) {
                osh_http_reply_error(rep, 400, "no text or message");
        } else if (fake_invalid(st, to)) {
                osh_http_reply_error(rep, 404, "unknown recipient");
        } else {
                fake_request_id(st, rid);
                if (fake_idem(st, key, rid, prev, sizeof(prev))) {
                        osh_http_reply_error(rep, 409, "duplicate idempotency key");
                } else {
                        fake_log(st, json_pack("{s:s, s:s, s:s, s:s, s:s, s:[s]}", "provider",
                                               "webhook", "path", req->path, "to", to, "key",
                                               key ? key : "", "request_id", rid, "texts", text));
                        if (fake_ack_lost(st))
                                osh_http_reply_error(rep, 500, "lost answer");
                        else
                                osh_http_reply_text(rep, 200, "ok");
                }
        }
        json_decref(body);
}

static int window(const char *spec, int64_t *from, int64_t *to)
{
        double a, b;

        *from = *to = -1;
        if (!spec)
                return 0;
        if (sscanf(spec, "%lf-%lf", &a, &b) != 2 || a < 0 || b < a)
                return -1;
        *from = (int64_t)(a * 1000);
        *to = (int64_t)(b * 1000);
        return 0;
}

/* ---- Twilio Messages API ------------------------------------------------ */

/* Value of name in an application/x-www-form-urlencoded body, decoded into
 * out. 1 found, 0 absent. */
static int form_get(const char *b, size_t len, const char *name, char *out, size_t out_size)
{
        size_t nl = strlen(name), i = 0;

        while (i < len) {
                size_t end = i;
                while (end < len && b[end] != '&')
                        end++;
                if (end - i > nl && !memcmp(b + i, name, nl) && b[i + nl] == '=') {
                        size_t o = 0;
                        for (size_t k = i + nl + 1; k < end && o + 1 < out_size; k++) {
                                unsigned v;
                                if (b[k] == '+') {
                                        out[o++] = ' ';
                                } else if (b[k] == '%' && k + 2 < end + 1 &&
                                           sscanf(b + k + 1, "%2x", &v) == 1) {
                                        out[o++] = (char)v;
                                        k += 2;
                                } else {
                                        out[o++] = b[k];
                                }
                        }
                        out[o] = '\0';
                        return 1;
                }
                i = end + 1;
        }
        return 0;
}

/* Twilio's error shape: {"code", "message", "more_info", "status"}. */
static void twilio_error(osh_http_reply_t *rep, int status, int code, const char *msg)
{
        char info[96];

        snprintf(info, sizeof(info), "https://www.twilio.com/docs/errors/%d", code);
        reply_json(rep, status,
                   json_pack("{s:i, s:s, s:s, s:i}", "code", code, "message", msg, "more_info",
                             info, "status", status));
}

static int e164(const char *s)
{
        size_t n = strlen(s);

        return n >= 9 && n <= 16 && s[0] == '+' && s[1] >= '1' && s[1] <= '9' &&
               strspn(s + 1, "0123456789") == n - 1;
}

/* Basic auth "AccountSid:AuthToken" for the AccountSid in the path. */
static int twilio_auth_ok(fake_state_t *st, const osh_http_request_t *req, const char *sid)
{
        const char *a = osh_http_request_header(req, "Authorization");
        char want[256], b64[400];

        snprintf(want, sizeof(want), "%s:%s", fake_conf(st)->sms_sid, fake_conf(st)->sms_token);
        EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)want, (int)strlen(want));
        return a && !strncmp(a, "Basic ", 6) && !strcmp(a + 6, b64) &&
               !strcmp(sid, fake_conf(st)->sms_sid);
}

/* POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded. */
static void on_sms(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        fake_state_t *st = opaque;
        const char *pfx = "/2010-04-01/Accounts/", *p = req->path + strlen(pfx);
        const char *b = (const char *)req->body;
        char sid[64], to[64], from[64], *body = malloc(req->body_len + 1), rid[40], msid[48];
        size_t n = strcspn(p, "/");

        if (!body || n == 0 || n >= sizeof(sid) || strcmp(p + n, "/Messages.json")) {
                free(body);
                twilio_error(rep, 404, 20404, "The requested resource was not found");
                return;
        }
        memcpy(sid, p, n);
        sid[n] = '\0';
        if (!twilio_auth_ok(st, req, sid)) {
                twilio_error(rep, 401, 20003, "Authenticate");
        } else if (fake_gate(st, FAKE_API_SMS, rep)) {
                /* answered */
        } else if (!form_get(b, req->body_len, "To", to, sizeof(to))) {
                twilio_error(rep, 400, 21604, "A 'To' phone number is required.");
        } else if (!e164(to)) {
                twilio_error(rep, 400, 21211, "Invalid 'To' Phone Number");
        } else if (!form_get(b, req->body_len, "From", from, sizeof(from)) || !*from) {
                twilio_error(rep, 400, 21603, "A 'From' phone number is required.");
        } else if (!form_get(b, req->body_len, "Body", body, req->body_len + 1) || !*body) {
                twilio_error(rep, 400, 21602, "Message body is required.");
        } else if (fake_chars(body) > fake_conf(st)->sms_max_chars) {
                twilio_error(rep, 400, 21617,
                             "The concatenated message body exceeds the 1600 character limit.");
        } else if (fake_invalid(st, to)) {
                twilio_error(rep, 400, 21614, "'To' number is not a valid mobile number");
        } else {
                fake_request_id(st, rid);
                snprintf(msid, sizeof(msid), "SM%.32s", rid);
                fake_log(st, json_pack("{s:s, s:s, s:s, s:s, s:[s]}", "provider", "sms", "to", to,
                                       "from", from, "request_id", rid, "texts", body));
                reply_json(rep, 201,
                           json_pack("{s:s, s:s, s:s, s:s, s:s}", "sid", msid, "account_sid", sid,
                                     "to", to, "from", from, "status", "queued"));
        }
        free(body);
}

static int load_conf(const osh_config_t *cfg, fake_conf_t *c)
{
        c->line_token = osh_config_str(cfg, "line.token");
        c->twitter_token = osh_config_str(cfg, "twitter.token");
        c->facebook_token = osh_config_str(cfg, "facebook.token");
        c->webhook_secret = osh_config_str(cfg, "webhook.secret");
        c->error_rate = strtod(osh_config_str(cfg, "fail.error_rate"), NULL);
        c->ack_loss = strtod(osh_config_str(cfg, "fail.ack_loss"), NULL);
        c->invalid = osh_config_str(cfg, "fail.invalid");
        c->line_max_chars = (size_t)osh_config_int(cfg, "line.max_chars");
        c->twitter_max_chars = (size_t)osh_config_int(cfg, "twitter.max_chars");
        c->facebook_max_chars = (size_t)osh_config_int(cfg, "facebook.max_chars");
        c->rate[FAKE_API_PUSH] = (double)osh_config_int(cfg, "rate.push");
        c->rate[FAKE_API_MULTICAST] = (double)osh_config_int(cfg, "rate.multicast");
        c->rate[FAKE_API_TWITTER] = (double)osh_config_int(cfg, "rate.twitter");
        c->rate[FAKE_API_FACEBOOK] = (double)osh_config_int(cfg, "rate.facebook");
        c->rate[FAKE_API_WEBHOOK] = (double)osh_config_int(cfg, "rate.webhook");
        c->rate[FAKE_API_SMS] = (double)osh_config_int(cfg, "rate.sms");
        c->sms_sid = osh_config_str(cfg, "sms.sid");
        c->sms_token = osh_config_str(cfg, "sms.token");
        c->sms_max_chars = (size_t)osh_config_int(cfg, "sms.max_chars");
        c->requests_log = osh_config_str(cfg, "requests.log");
        if (osh_config_str(cfg, "fail.throttle") &&
            (sscanf(osh_config_str(cfg, "fail.throttle"), "%ld:%ld", &c->throttle_nth,
                    &c->throttle_after_s) != 2 ||
             c->throttle_nth < 1 || c->throttle_after_s < 0))
                return -1;
        return window(osh_config_str(cfg, "fail.outage"), &c->outage_from_ms, &c->outage_to_ms) |
               window(osh_config_str(cfg, "fail.storm"), &c->storm_from_ms, &c->storm_to_ms);
}

static const osh_http_route_t routes[] = {
    {"POST", "/v2/bot/message/push", on_push, NULL, 1u << 20},
    {"POST", "/v2/bot/message/multicast", on_multicast, NULL, 2u << 20},
    {"POST", "/2/dm_conversations/with/*", on_twitter, NULL, 1u << 20},
    {"POST", "/v17.0/me/messages", on_facebook, NULL, 1u << 20},
    {"POST", "/hook*", on_webhook, NULL, 1u << 20},
    {"POST", "/2010-04-01/Accounts/*", on_sms, NULL, 64u << 10},
};

static int write_file(const char *path, const char *text)
{
        FILE *fp;

        if (!path)
                return 0;
        fp = fopen(path, "w");
        if (!fp)
                return -1;
        fputs(text, fp);
        return fclose(fp);
}

int main(int argc, char **argv)
{
        osh_config_t *cfg = osh_config_new(argv[0], table, N_TABLE);
        osh_http_server_opts_t opts = {0};
        osh_http_server_t *srv = NULL;
        fake_state_t *st = NULL;
        fake_conf_t fc = {0};
        char err[512], port[16];
        int rc = 2;

        if (!cfg)
                return 2;
        rc = osh_config_load(cfg, argc, argv, NULL, err, sizeof(err));
        if (rc != OSH_CONFIG_RUN) {
                if (rc == OSH_CONFIG_FAIL)
                        fprintf(stderr, "osh-fake-providers: %s\n", err);
                osh_config_destroy(cfg);
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        }
        rc = 1;
        osh_config_init_log(cfg);
        osh_signal_install();
        if (load_conf(cfg, &fc) < 0) {
                osh_error("fail.outage / fail.storm: want FROM-TO seconds");
                goto done;
        }
        st = fake_state_new(&fc, osh_config_str(cfg, "log"));
        if (!st) {
                osh_error("cannot open log %s", osh_config_str(cfg, "log"));
                goto done;
        }
        opts.host = osh_config_str(cfg, "host");
        opts.port = (uint16_t)osh_config_int(cfg, "port");
        opts.threads = (unsigned)osh_config_int(cfg, "threads");
        opts.opaque = st;
        srv = osh_http_server_start(&opts, routes, sizeof(routes) / sizeof(routes[0]), err,
                                    sizeof(err));
        if (!srv) {
                osh_error("%s", err);
                goto done;
        }
        snprintf(port, sizeof(port), "%u\n", osh_http_server_port(srv));
        if (write_file(osh_config_str(cfg, "port.file"), port) < 0 ||
            write_file(osh_config_str(cfg, "ready.file"), ""))
                osh_warn("cannot write port/ready file");
        osh_info("serving LINE, X DM, Messenger and webhook fakes on port %u",
                 osh_http_server_port(srv));
        while (!osh_shutdown_requested())
                usleep(50000);
        rc = 0;
done:
        osh_http_server_stop(srv);
        fake_state_destroy(st);
        osh_config_destroy(cfg);
        return rc;
}
