/* 利用者ID: the id registered at application, or HMAC-SHA-256 of 宛名番号
 * under a key that never leaves the processing segment. A bare hash of
 * 宛名番号 is never used: 宛名番号 are short and guessable, so anyone could
 * hash them all and link the cloud's ids back to residents. */
#ifndef ANON_ID_H
#define ANON_ID_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/secret.h"
#include "oshirase/sha256.h"

#define ANON_UID_MAX 64 /* registered ids: 1..64 of [A-Za-z0-9_-] */
#define ANON_UID_HEX 32 /* HMAC ids: first 16 bytes of the MAC, lower-case hex */
#define ANON_KEY_MIN 32 /* bytes */
#define ANON_KEY_MAX 128

typedef struct anon_key {
        uint8_t k[ANON_KEY_MAX];
        size_t len;
        osh_hmac_t *mac; /* keyed once at load: the per-record HMAC skips the key schedule */
} anon_key_t;

/* Sets the key from a secret holding hex text (osh_secret_load of
 * "anon.hmac.key"; surrounding white space ignored). Refuses a missing,
 * malformed or short (< 32 bytes) key; errstr never shows it. sec is
 * borrowed (the caller wipes it). */
int anon_key_from_secret(anon_key_t *k, const osh_secret_t *sec, char *errstr, size_t errstr_size);
/* The same from the file at path when set (osh_secret_read_file), else
 * from hex text. For tests and tools. */
int anon_key_load(anon_key_t *k, const char *hex, const char *path, char *errstr,
                  size_t errstr_size);
/* dst gets src's key with a MAC context of its own (one per thread). 0 / -1. */
int anon_key_copy(anon_key_t *dst, const anon_key_t *src);
/* Wipes the key and frees its MAC context. Every loaded key needs it. */
void anon_key_clear(anon_key_t *k);

/* out gets ANON_UID_HEX hex digits + NUL. 0 / -1. */
int anon_uid_hmac(const anon_key_t *k, const char *atena, size_t len, char out[ANON_UID_MAX + 1]);
/* 1 if s[0..len) is an acceptable registered 利用者ID. */
int anon_uid_valid(const char *s, size_t len);

#endif
