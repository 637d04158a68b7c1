#include "oshirase/auth.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/sha256.h"

static int compute(const void *secret, size_t secret_len, const char *method, const char *path,
                   int64_t ts, const void *body, size_t body_len, uint8_t mac[OSH_SHA256_LEN])
{
        uint8_t digest[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1], *msg;
        int n, rc;

        if (osh_sha256(body, body_len, digest))
                return -1;
        osh_hex_encode(digest, sizeof(digest), hex);
        n = snprintf(NULL, 0, "%s\n%s\n%" PRId64 "\n%s", method, path, ts, hex);
        msg = malloc((size_t)n + 1);
        if (!msg)
                return -1;
        snprintf(msg, (size_t)n + 1, "%s\n%s\n%" PRId64 "\n%s", method, path, ts, hex);
        rc = osh_hmac_sha256(secret, secret_len, msg, (size_t)n, mac);
        free(msg);
        return rc;
}

int osh_auth_sign(const char *key_id, const void *secret, size_t secret_len, const char *method,
                  const char *path, int64_t now_ms, const void *body, size_t body_len, char *out,
                  size_t out_size)
{
        uint8_t mac[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1];
        int n;

        if (strpbrk(key_id, ",= ") ||
            compute(secret, secret_len, method, path, now_ms, body, body_len, mac))
                return -1;
        osh_hex_encode(mac, sizeof(mac), hex);
        n = snprintf(out, out_size, OSH_AUTH_SCHEME " key=%s,ts=%" PRId64 ",sig=%s", key_id, now_ms,
                     hex);
        return n < 0 || (size_t)n >= out_size ? -1 : 0;
}

/* Parses "key=<id>,ts=<ms>,sig=<64 hex>" strictly: fixed order, no spaces. */
static int parse(const char *p, char *key_id, size_t key_size, int64_t *ts, uint8_t *sig)
{
        const char *comma;
        char *end;
        size_t len;

        if (strncmp(p, "key=", 4))
                return -1;
        p += 4;
        comma = strchr(p, ',');
        len = comma ? (size_t)(comma - p) : 0;
        if (!len || len >= key_size)
                return -1;
        memcpy(key_id, p, len);
        key_id[len] = '\0';
        p = comma + 1;
        if (strncmp(p, "ts=", 3))
                return -1;
        *ts = strtoll(p + 3, &end, 10);
        if (end == p + 3 || strncmp(end, ",sig=", 5) || strlen(end + 5) != OSH_SHA256_HEX_LEN)
                return -1;
        return osh_hex_decode(end + 5, sig, OSH_SHA256_LEN, NULL);
}

osh_auth_verdict_t osh_auth_verify(const char *header, osh_auth_key_lookup_t *lookup, void *opaque,
                                   const char *method, const char *path, int64_t now_ms,
                                   int64_t max_skew_ms, const void *body, size_t body_len)
{
        char key_id[64];
        uint8_t sig[OSH_SHA256_LEN], mac[OSH_SHA256_LEN];
        const void *secret = NULL;
        int64_t ts;
        int secret_len;

        if (!header || strncmp(header, OSH_AUTH_SCHEME " ", sizeof(OSH_AUTH_SCHEME)))
                return OSH_AUTH_MISSING;
        if (parse(header + sizeof(OSH_AUTH_SCHEME), key_id, sizeof(key_id), &ts, sig))
                return OSH_AUTH_MALFORMED;
        secret_len = lookup(opaque, key_id, &secret);
        if (secret_len < 0)
                return OSH_AUTH_UNKNOWN_KEY;
        if (compute(secret, (size_t)secret_len, method, path, ts, body, body_len, mac) ||
            !osh_ct_equal(mac, sig, sizeof(mac)))
                return OSH_AUTH_BAD_SIGNATURE;
        if (ts > now_ms + max_skew_ms || ts < now_ms - max_skew_ms)
                return OSH_AUTH_STALE;
        return OSH_AUTH_OK;
}

const char *osh_auth_verdict_str(osh_auth_verdict_t v)
{
        static const char *const names[] = {
            "ok",          "missing credentials", "malformed credentials",
            "unknown key", "bad signature",       "stale timestamp"};

        return (unsigned)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}
