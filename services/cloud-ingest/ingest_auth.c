#include "ingest_auth.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/grow.h"
#include "oshirase/strutil.h"
#include "oshirase/auth.h"

struct key {
        char id[64];
        char *secret;
        size_t len;
};

struct ci_auth {
        ci_auth_mode_t mode;
        int64_t max_skew_ms;
        struct key *keys;
        size_t n, cap;
};

/* "id:secret" or "id secret". */
static int add_key(ci_auth_t *a, char *entry, char *errstr, size_t errstr_size)
{
        char *sep = entry + strcspn(entry, ": \t");
        char *id = entry, *secret;

        if (!*sep) {
                snprintf(errstr, errstr_size, "key entry without a secret");
                return -1;
        }
        *sep = '\0';
        id = osh_str_trim(id);
        secret = osh_str_trim(sep + 1);
        if (!*id || strlen(id) >= sizeof(a->keys[0].id) || !*secret) {
                snprintf(errstr, errstr_size, "key entry needs an id (< 64 chars) and a secret");
                return -1;
        }
        if (osh_grow(&a->keys, &a->cap, a->n, sizeof(*a->keys), 4))
                return -1;
        snprintf(a->keys[a->n].id, sizeof(a->keys[0].id), "%s", id);
        a->keys[a->n].secret = strdup(secret);
        if (!a->keys[a->n].secret)
                return -1;
        a->keys[a->n].len = strlen(secret);
        a->n++;
        return 0;
}

static int load_list(ci_auth_t *a, const char *keys, char *errstr, size_t errstr_size)
{
        char *copy = strdup(keys), *save = NULL, *tok;
        int rc = 0;

        if (!copy)
                return -1;
        for (tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
                tok = osh_str_trim(tok);
                if (*tok)
                        rc = add_key(a, tok, errstr, errstr_size);
        }
        memset(copy, 0, strlen(keys));
        free(copy);
        if (rc) {
                char why[256];
                snprintf(why, sizeof(why), "%s", errstr);
                snprintf(errstr, errstr_size, "auth.keys: %s", why);
        }
        return rc;
}

static int load_file(ci_auth_t *a, const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        char line[1024], *l;
        int rc = 0, lineno = 0;

        if (!fp) {
                snprintf(errstr, errstr_size, "auth.keys.file %s: cannot open", path);
                return -1;
        }
        while (!rc && fgets(line, sizeof(line), fp)) {
                lineno++;
                l = osh_str_trim(line);
                if (*l && *l != '#' && add_key(a, l, errstr, errstr_size)) {
                        snprintf(errstr, errstr_size, "auth.keys.file %s:%d: bad entry", path,
                                 lineno);
                        rc = -1;
                }
        }
        memset(line, 0, sizeof(line));
        fclose(fp);
        return rc;
}

ci_auth_t *ci_auth_new(const char *mode, const char *keys, const char *keys_file,
                       int64_t max_skew_ms, char *errstr, size_t errstr_size)
{
        ci_auth_t *a = calloc(1, sizeof(*a));

        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        a->max_skew_ms = max_skew_ms > 0 ? max_skew_ms : 300000;
        if (!mode || !strcmp(mode, "hmac"))
                a->mode = CI_AUTH_HMAC;
        else if (!strcmp(mode, "mtls"))
                a->mode = CI_AUTH_MTLS;
        else if (!strcmp(mode, "any"))
                a->mode = CI_AUTH_ANY;
        else {
                snprintf(errstr, errstr_size, "auth.mode must be hmac, mtls or any (got %s)", mode);
                goto fail;
        }
        if (keys && load_list(a, keys, errstr, errstr_size))
                goto fail;
        if (keys_file && load_file(a, keys_file, errstr, errstr_size))
                goto fail;
        if (a->mode != CI_AUTH_MTLS && !a->n) {
                snprintf(errstr, errstr_size,
                         "auth.mode %s needs keys (auth.keys or "
                         "auth.keys.file)",
                         mode ? mode : "hmac");
                goto fail;
        }
        return a;
fail:
        ci_auth_destroy(a);
        return NULL;
}

void ci_auth_destroy(ci_auth_t *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->n; i++) {
                memset(a->keys[i].secret, 0, a->keys[i].len);
                free(a->keys[i].secret);
        }
        free(a->keys);
        free(a);
}

ci_auth_mode_t ci_auth_mode(const ci_auth_t *a)
{
        return a->mode;
}

size_t ci_auth_key_count(const ci_auth_t *a)
{
        return a->n;
}

static int lookup(void *opaque, const char *key_id, const void **secret)
{
        const ci_auth_t *a = opaque;

        for (size_t i = 0; i < a->n; i++)
                if (!strcmp(a->keys[i].id, key_id)) {
                        *secret = a->keys[i].secret;
                        return (int)a->keys[i].len;
                }
        return -1;
}

static int verdict_reply(osh_auth_verdict_t v, osh_http_reply_t *rep)
{
        char reason[96];

        if (v == OSH_AUTH_OK)
                return 0;
        snprintf(reason, sizeof(reason), "authentication: %s", osh_auth_verdict_str(v));
        osh_http_reply_error(rep, v == OSH_AUTH_MISSING || v == OSH_AUTH_MALFORMED ? 401 : 403,
                             reason);
        if (v == OSH_AUTH_MISSING || v == OSH_AUTH_MALFORMED)
                osh_http_reply_header(rep, "WWW-Authenticate", OSH_AUTH_SCHEME);
        return -1;
}

/* A certificate decides alone in mtls mode, and wins in any mode. 1: decided
 * (ok = *ok), 0: fall through to the token. */
static int by_certificate(const ci_auth_t *a, const osh_http_request_t *req, osh_http_reply_t *rep,
                          int *ok)
{
        if (a->mode == CI_AUTH_HMAC)
                return 0;
        if (req->peer == OSH_HTTP_PEER_INVALID) {
                osh_http_reply_error(rep, 403, "authentication: client certificate not trusted");
                *ok = 0;
                return 1;
        }
        if (req->peer == OSH_HTTP_PEER_VERIFIED) {
                *ok = 1;
                return 1;
        }
        if (a->mode == CI_AUTH_MTLS) {
                osh_http_reply_error(rep, 401, "authentication: client certificate required");
                *ok = 0;
                return 1;
        }
        return 0;
}

int ci_auth_precheck(const ci_auth_t *a, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        const char *h = osh_http_request_header(req, "Authorization");
        osh_auth_verdict_t v;
        int ok;

        if (by_certificate(a, req, rep, &ok))
                return ok ? 0 : -1;
        /* Everything but the signature and the clock is decided by now. */
        v = osh_auth_verify(h, lookup, (void *)a, req->method, req->path, 0, 0, "", 0);
        if (v == OSH_AUTH_BAD_SIGNATURE || v == OSH_AUTH_STALE)
                return 0;
        return verdict_reply(v, rep);
}

int ci_auth_check(const ci_auth_t *a, const osh_http_request_t *req, int64_t now_ms,
                  osh_http_reply_t *rep)
{
        const char *h = osh_http_request_header(req, "Authorization");
        int ok;

        if (by_certificate(a, req, rep, &ok))
                return ok ? 0 : -1;
        return verdict_reply(osh_auth_verify(h, lookup, (void *)a, req->method, req->path, now_ms,
                                             a->max_skew_ms, req->body, req->body_len),
                             rep);
}
