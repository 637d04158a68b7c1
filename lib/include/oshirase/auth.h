/* HMAC-signed bearer tokens for the exchange → cloud link (the alternative
 * to mutual TLS). A request carries
 *
 *   Authorization: OSH-HMAC-SHA256 key=<key id>,ts=<epoch-ms>,sig=<hex>
 *
 * where sig = HMAC-SHA-256(secret, METHOD "\n" PATH "\n" ts "\n" hex(SHA-256(body))).
 * Binding method, path, time and body means a captured header cannot be
 * replayed for another request or, after the skew window, at all. */
#ifndef OSHIRASE_AUTH_H
#define OSHIRASE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#define OSH_AUTH_SCHEME     "OSH-HMAC-SHA256"
#define OSH_AUTH_HEADER_MAX 256

/* Writes the Authorization header value (without "Authorization: ") into
 * out. 0 / -1 (out too small or crypto failure). */
int osh_auth_sign(const char *key_id, const void *secret, size_t secret_len, const char *method,
                  const char *path, int64_t now_ms, const void *body, size_t body_len, char *out,
                  size_t out_size);

/* Verdicts of osh_auth_verify(): a missing/garbled header is 401, a
 * well-formed header with an unknown key, bad signature or stale time is 403. */
typedef enum {
        OSH_AUTH_OK = 0,
        OSH_AUTH_MISSING,   /* no header or not our scheme: 401 */
        OSH_AUTH_MALFORMED, /* our scheme but unparsable: 401 */
        OSH_AUTH_UNKNOWN_KEY,
        OSH_AUTH_BAD_SIGNATURE,
        OSH_AUTH_STALE, /* |now - ts| > max_skew_ms */
} osh_auth_verdict_t;

/* Looks up a key id's secret; returns its length or -1 if unknown. */
typedef int(osh_auth_key_lookup_t)(void *opaque, const char *key_id, const void **secret);

osh_auth_verdict_t osh_auth_verify(const char *header, osh_auth_key_lookup_t *lookup, void *opaque,
                                   const char *method, const char *path, int64_t now_ms,
                                   int64_t max_skew_ms, const void *body, size_t body_len);
const char *osh_auth_verdict_str(osh_auth_verdict_t v);

#endif
