#include "oshirase/http_client.h"

#include <ctype.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

struct osh_http_client {
        CURL *curl;
        char *ca_file, *cert_file, *key_file;
};

struct sink {
        osh_http_response_t *resp;
        size_t max;
};

osh_http_client_t *osh_http_client_new(const osh_http_tls_t *tls)
{
        osh_http_client_t *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        curl_global_init(CURL_GLOBAL_DEFAULT); /* reference counted since 7.84 */
        c->curl = curl_easy_init();
        if (!c->curl)
                goto fail;
        if (tls) {
                c->ca_file = tls->ca_file ? strdup(tls->ca_file) : NULL;
                c->cert_file = tls->cert_file ? strdup(tls->cert_file) : NULL;
                c->key_file = tls->key_file ? strdup(tls->key_file) : NULL;
        }
        return c;
fail:
        osh_http_client_destroy(c);
        return NULL;
}

void osh_http_client_destroy(osh_http_client_t *c)
{
        if (!c)
                return;
        if (c->curl) {
                curl_easy_cleanup(c->curl);
                curl_global_cleanup();
        }
        free(c->ca_file);
        free(c->cert_file);
        free(c->key_file);
        free(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *opaque)
{
        struct sink *s = opaque;
        osh_http_response_t *r = s->resp;
        size_t len = size * n, keep = len;
        char *nb;

        if (r->body_len + keep > s->max)
                keep = s->max > r->body_len ? s->max - r->body_len : 0;
        if (!keep)
                return len;
        nb = realloc(r->body, r->body_len + keep + 1);
        if (!nb)
                return 0;
        memcpy(nb + r->body_len, p, keep);
        r->body = nb;
        r->body_len += keep;
        r->body[r->body_len] = '\0';
        return len;
}

/* Retry-After is delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
static size_t on_header(char *p, size_t size, size_t n, void *opaque)
{
        struct sink *s = opaque;
        size_t len = size * n;
        char val[128];

        if (len > 12 && !strncasecmp(p, "Retry-After:", 12) && len - 12 < sizeof(val)) {
                memcpy(val, p + 12, len - 12);
                val[len - 12] = '\0';
                char *v = val;
                while (isspace((unsigned char)*v))
                        v++;
                if (isdigit((unsigned char)*v)) {
                        s->resp->retry_after_ms = strtoll(v, NULL, 10) * 1000;
                } else {
                        time_t t = curl_getdate(v, NULL);
                        time_t now = time(NULL);
                        if (t > now)
                                s->resp->retry_after_ms = (int64_t)(t - now) * 1000;
                }
        }
        return len;
}

static struct curl_slist *header_list(const char *const *headers)
{
        struct curl_slist *l = curl_slist_append(NULL, "Expect:"); /* no 100-continue stall */

        for (size_t i = 0; headers && headers[i]; i++)
                l = curl_slist_append(l, headers[i]);
        return l;
}

static void set_tls(osh_http_client_t *c)
{
        if (c->ca_file)
                curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->ca_file);
        if (c->cert_file)
                curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->cert_file);
        if (c->key_file)
                curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->key_file);
}

int osh_http_request(osh_http_client_t *c, const char *method, const char *url,
                     const char *const *headers, const void *body, size_t body_len, long timeout_ms,
                     size_t max_body, osh_http_response_t *resp)
{
        struct sink s = {resp, max_body};
        struct curl_slist *hl = header_list(headers);
        CURLcode rc;

        memset(resp, 0, sizeof(*resp));
        curl_easy_reset(c->curl);
        curl_easy_setopt(c->curl, CURLOPT_URL, url);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
        curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, &s);
        if (body) {
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
                curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        }
        set_tls(c);
        rc = curl_easy_perform(c->curl);
        curl_slist_free_all(hl);
        if (rc != CURLE_OK) {
                snprintf(resp->errstr, sizeof(resp->errstr), "%s", curl_easy_strerror(rc));
                resp->status = 0;
                return -1;
        }
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
        return 0;
}

void osh_http_response_free(osh_http_response_t *resp)
{
        free(resp->body);
        resp->body = NULL;
        resp->body_len = 0;
}
