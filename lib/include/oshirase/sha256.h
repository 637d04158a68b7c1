/* SHA-256, HMAC-SHA-256 and hex helpers over OpenSSL libcrypto (EVP).
 *
 * Digests are raw 32-byte arrays; use osh_hex_encode() to print them. */
#ifndef OSHIRASE_SHA256_H
#define OSHIRASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define OSH_SHA256_LEN     32
#define OSH_SHA256_HEX_LEN 64 /* without the terminating NUL */

/* One-shot digest of len bytes (data may be NULL when len is 0).
 * Returns 0, or -1 if libcrypto fails (out is then zeroed). */
int osh_sha256(const void *data, size_t len, uint8_t out[OSH_SHA256_LEN]);

/* Streaming digest. Free with osh_sha256_destroy() (accepts NULL). */
typedef struct osh_sha256 osh_sha256_t;
osh_sha256_t *osh_sha256_new(void); /* NULL on OOM */
int osh_sha256_update(osh_sha256_t *h, const void *data, size_t len);
/* Writes the digest and resets h, so it can hash another message. */
int osh_sha256_final(osh_sha256_t *h, uint8_t out[OSH_SHA256_LEN]);
void osh_sha256_destroy(osh_sha256_t *h);

/* Digest of a whole file, read in chunks. errstr names the file and errno. */
int osh_sha256_file(const char *path, uint8_t out[OSH_SHA256_LEN], char *errstr,
                    size_t errstr_size);

/* One-shot HMAC-SHA-256 (RFC 2104). Any key length. 0 / -1. */
int osh_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[OSH_SHA256_LEN]);

/* Keyed HMAC-SHA-256 for many messages under one key: the key schedule is
 * done once (the one-shot call redoes it, with allocations, per message).
 * Same output as osh_hmac_sha256(). Free with osh_hmac_destroy() (NULL ok);
 * it wipes the key material. */
typedef struct osh_hmac osh_hmac_t;
osh_hmac_t *osh_hmac_new(const void *key, size_t key_len); /* NULL on error */
int osh_hmac_run(osh_hmac_t *h, const void *data, size_t len, uint8_t out[OSH_SHA256_LEN]);
void osh_hmac_destroy(osh_hmac_t *h);

/* Constant-time comparison (for MACs and tokens): 1 if equal, else 0. */
int osh_ct_equal(const void *a, const void *b, size_t len);

/* Lower-case hex of len bytes into out, which must hold 2*len + 1 chars
 * (NUL-terminated). */
void osh_hex_encode(const void *in, size_t len, char *out);

/* Decodes hex (either case) of exactly strlen(hex) chars. Fails (-1) on an
 * odd length, a non-hex char, or more than out_size bytes; *out_len gets the
 * byte count on success (may be NULL). */
int osh_hex_decode(const char *hex, uint8_t *out, size_t out_size, size_t *out_len);

#endif
