/* A small libcurl client: one reusable connection per object, full
 * response captured, Retry-After parsed. Not thread-safe: one per thread. */
#ifndef OSHIRASE_HTTP_CLIENT_H
#define OSHIRASE_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct osh_http_tls {
        const char *ca_file;   /* trust only this CA (NULL: system store) */
        const char *cert_file; /* client certificate for mutual TLS (NULL: none) */
        const char *key_file;
} osh_http_tls_t;

typedef struct osh_http_response {
        long status; /* 0 when no response arrived */
        char *body;  /* NUL-terminated; owned, see _free */
        size_t body_len;
        int64_t retry_after_ms; /* from Retry-After (seconds or HTTP date), else 0 */
        char errstr[256];       /* transport error when status == 0 */
} osh_http_response_t;

typedef struct osh_http_client osh_http_client_t;

/* tls may be NULL; its strings are copied. NULL on failure. */
osh_http_client_t *osh_http_client_new(const osh_http_tls_t *tls);
void osh_http_client_destroy(osh_http_client_t *c); /* NULL ok */

/* Sends one request. headers is a NULL-terminated list of "Name: value"
 * (may be NULL). Returns 0 when a response was received (any status) and -1
 * on a transport failure (resp->errstr says why). Always call
 * osh_http_response_free(resp) afterwards. max_body caps what is kept. */
int osh_http_request(osh_http_client_t *c, const char *method, const char *url,
                     const char *const *headers, const void *body, size_t body_len, long timeout_ms,
                     size_t max_body, osh_http_response_t *resp);
void osh_http_response_free(osh_http_response_t *resp);

#endif
