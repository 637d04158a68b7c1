/* Secrets (HMAC keys, tokens) from the configuration, one rule for every
 * service and tool:
 *
 *   "<key>.file" when set names a file whose whole content is the secret
 *   (trailing CR/LF removed); otherwise "<key>" holds it inline. The file
 *   wins because it is the production form (a mounted Secret); the inline
 *   value is for tests and laptops, and --check prints it redacted.
 *
 * Every buffer that held the secret is zeroed before it is freed, on
 * success and on failure alike. */
#ifndef OSHIRASE_SECRET_H
#define OSHIRASE_SECRET_H

#include <stddef.h>

#include "oshirase/config.h"

/* Largest secret file read (a key file holds a few hundred bytes). */
#define OSH_SECRET_MAX 4096

typedef struct osh_secret {
        char *data;         /* owned, NUL-terminated; NULL when neither key is set */
        size_t len;         /* bytes before the NUL */
        const char *origin; /* for messages: the file's path, or the key; borrowed */
} osh_secret_t;

/* Reads the secret named key ("probe.secret": also reads "probe.secret.file")
 * by the rule above. Both keys must be in cfg's table. An empty file or
 * value counts as unset. 0 (out->data may be NULL) / -1 with errstr naming
 * the key. Free with osh_secret_wipe(). */
int osh_secret_load(const osh_config_t *cfg, const char *key, osh_secret_t *out, char *errstr,
                    size_t errstr_size);
/* The whole of file path as a secret (trailing CR/LF removed; at most
 * OSH_SECRET_MAX bytes, more is an error); origin = path. 0 / -1. */
int osh_secret_read_file(const char *path, osh_secret_t *out, char *errstr, size_t errstr_size);
/* Zeroes and frees out->data; NULL and an empty secret are fine. */
void osh_secret_wipe(osh_secret_t *s);

#endif
