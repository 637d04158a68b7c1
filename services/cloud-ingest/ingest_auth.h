/* Who may talk to cloud-ingest: an HMAC-signed token (lib auth.h) checked
 * against a key table, a client certificate verified by the TLS layer, or
 * either. A missing or garbled credential is 401, a wrong one 403. */
#ifndef CI_INGEST_AUTH_H
#define CI_INGEST_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/http_server.h"

typedef enum {
        CI_AUTH_HMAC = 0,
        CI_AUTH_MTLS,
        CI_AUTH_ANY, /* a verified client certificate, or else a valid token */
} ci_auth_mode_t;

typedef struct ci_auth ci_auth_t;

/* mode: "hmac", "mtls" or "any". keys: "id:secret[,id:secret...]" (may be
 * NULL); keys_file: lines "id secret" or "id:secret", '#' comments (may be
 * NULL). HMAC modes need at least one key. NULL with errstr. Secrets are
 * wiped on destroy. */
ci_auth_t *ci_auth_new(const char *mode, const char *keys, const char *keys_file,
                       int64_t max_skew_ms, char *errstr, size_t errstr_size);
void ci_auth_destroy(ci_auth_t *a); /* NULL ok */
ci_auth_mode_t ci_auth_mode(const ci_auth_t *a);
size_t ci_auth_key_count(const ci_auth_t *a);

/* Before the body: refuses what the headers alone condemn (no credential,
 * malformed token, unknown key, untrusted certificate). Fills rep (401/403)
 * and returns -1, else 0. */
int ci_auth_precheck(const ci_auth_t *a, const osh_http_request_t *req, osh_http_reply_t *rep);
/* With the body: the full verdict (signature over method, path, time, body).
 * 0, or -1 with rep filled. */
int ci_auth_check(const ci_auth_t *a, const osh_http_request_t *req, int64_t now_ms,
                  osh_http_reply_t *rep);

#endif
