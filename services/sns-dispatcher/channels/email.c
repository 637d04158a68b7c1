/* E-mail over SMTP with libcurl's smtp:// support: one UTF-8 text/plain
 * message per recipient, base64 body, RFC 2047 subject, and a Message-ID
 * derived from the dispatch id so receivers can drop duplicates. A 4xx
 * reply or a lost connection is retried; 5xx (e.g. unknown mailbox) is
 * permanent. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "channel.h"

typedef struct reader {
        const char *p;
        size_t left;
} reader_t;

static size_t on_read(char *buf, size_t size, size_t n, void *opaque)
{
        reader_t *r = opaque;
        size_t len = size * n < r->left ? size * n : r->left;

        memcpy(buf, r->p, len);
        r->p += len;
        r->left -= len;
        return len;
}

/* base64 of s, wrapped at 76 columns with CRLF. Caller frees. */
static char *b64_wrapped(const char *s, size_t len)
{
        size_t enc = 4 * ((len + 2) / 3), cap = enc + 2 * (enc / 76 + 2) + 1;
        unsigned char *tmp = malloc(enc + 1);
        char *out = malloc(cap), *o = out;

        if (!tmp || !out) {
                free(tmp);
                free(out);
                return NULL;
        }
        EVP_EncodeBlock(tmp, (const unsigned char *)s, (int)len);
        for (size_t i = 0; i < enc; i += 76) {
                size_t n = enc - i < 76 ? enc - i : 76;
                memcpy(o, tmp + i, n);
                o += n;
                *o++ = '\r';
                *o++ = '\n';
        }
        *o = '\0';
        free(tmp);
        return out;
}

/* RFC 2047 §2: a line holding encoded-words is at most 76 characters.
 * 39 bytes of UTF-8 are 52 base64 characters, a 64-character encoded-word:
 * "Subject: " + one word fits, and so does each folded " " + word. */
#define SUBJECT_WORD_BYTES 39
#define SUBJECT_MAX_BYTES  4096

/* The Subject header's value: the title as the resident should read it
 * (half-width digits, controls turned into spaces), as several base64
 * encoded-words split on character boundaries and folded with CRLF SP.
 * Caller frees; NULL on OOM. */
static char *encode_subject(const char *title)
{
        char *t = disp_text_normalise(title && *title ? title : "お知らせ", 0), *out = NULL, *o;
        size_t len, words, i = 0;

        if (!t)
                return NULL;
        for (char *p = t; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = ' ';
        len = strlen(t) < SUBJECT_MAX_BYTES ? strlen(t) : SUBJECT_MAX_BYTES;
        words = len / (SUBJECT_WORD_BYTES - 3) + 2; /* a word holds >= 36 bytes but the last */
        out = malloc(4 * (len / 3 + words) + 16 * words + 1);
        if (out)
                *out = '\0';
        for (o = out; out && i < len;) {
                size_t n = 0, step;
                while (i + n < len &&
                       n + (step = disp_text_char_len(t + i + n)) <= SUBJECT_WORD_BYTES)
                        n += step;
                if (!n) /* cannot happen with valid UTF-8 (<= 4 bytes a character) */
                        n = 1;
                if (o != out)
                        o += sprintf(o, "\r\n ");
                o += sprintf(o, "=?UTF-8?B?");
                o += EVP_EncodeBlock((unsigned char *)o, (const unsigned char *)t + i, (int)n);
                o += sprintf(o, "?=");
                i += n;
        }
        free(t);
        return out;
}

static char *build_message(const disp_chan_conf_t *conf, const disp_send_req_t *req,
                           const disp_rcpt_t *rc, const char *text, size_t i)
{
        char *bsub = encode_subject(req->title), *body = b64_wrapped(text, strlen(text));
        char date[64], *msg = NULL;
        time_t now = time(NULL);
        struct tm tm;
        size_t cap;

        if (!bsub || !body)
                goto done;
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
        cap = strlen(bsub) + strlen(body) + strlen(rc->account_id) + strlen(req->key) + 512 +
              (conf->from ? strlen(conf->from) : 0);
        msg = malloc(cap);
        if (msg)
                snprintf(msg, cap,
                         "From: %s\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
                         "Message-ID: <%s.%zu@oshirase.invalid>\r\nMIME-Version: 1.0\r\n"
                         "Content-Type: text/plain; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: base64\r\n\r\n%s",
                         conf->from ? conf->from : "", rc->account_id, bsub, date, req->key, i,
                         body);
done:
        free(bsub);
        free(body);
        return msg;
}

static osh_delivery_t smtp_one(const disp_chan_conf_t *conf, const disp_send_req_t *req,
                               const disp_rcpt_t *rc, const char *text, size_t i,
                               disp_send_res_t *res)
{
        char *msg = build_message(conf, req, rc, text, i), rcpt[320];
        CURL *c = curl_easy_init();
        struct curl_slist *to = NULL;
        reader_t r = {msg, msg ? strlen(msg) : 0};
        long code = 0;
        CURLcode cc = CURLE_OUT_OF_MEMORY;

        snprintf(rcpt, sizeof(rcpt), "<%s>", rc->account_id);
        to = curl_slist_append(NULL, rcpt);
        if (msg && c && to) {
                curl_easy_setopt(c, CURLOPT_URL, conf->url);
                curl_easy_setopt(c, CURLOPT_MAIL_FROM, conf->from ? conf->from : "");
                curl_easy_setopt(c, CURLOPT_MAIL_RCPT, to);
                curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(c, CURLOPT_READDATA, &r);
                curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, conf->timeout_ms);
                curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
                cc = curl_easy_perform(c);
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        }
        curl_slist_free_all(to);
        if (c)
                curl_easy_cleanup(c);
        free(msg);
        snprintf(res->code, sizeof(res->code), "%ld", code);
        if (cc == CURLE_OK)
                return OSH_DELIVERY_OK;
        snprintf(res->detail, sizeof(res->detail), "smtp: %s", curl_easy_strerror(cc));
        return code >= 500 ? OSH_DELIVERY_FAIL : OSH_DELIVERY_RETRY;
}

static osh_delivery_t email_send(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                 const disp_send_req_t *req, const disp_parts_t *parts,
                                 disp_send_res_t *res)
{
        (void)http;
        return smtp_one(conf, req, &req->rcpt[0], parts->part[0], req->rcpt_index, res);
}

static const osh_cfg_entry_t email_config[] = {
    DISP_CHAN_KEYS(email, EMAIL, "", "100000", "1", "0"),
    {"email.from", OSH_CFG_STR, "noreply@city.example.lg.jp", "OSH_EMAIL_FROM", "e-mail From"},
};

const disp_channel_t disp_channel_email = {
    .name = "email",
    .kind = DISP_CH_EMAIL,
    .symbol = "EMAIL",
    DISP_CHAN_CONFIG(email_config),
    .titled = 0,
    .check_account = osh_account_check_email,
    .max_rcpt = 1,
    .max_parts = 1, /* one mail per notice */
    .send = email_send,
};
