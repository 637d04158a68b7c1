#include "anon_id.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oshirase/sha256.h"

static int key_from_hex(anon_key_t *k, const char *text, const char *origin, char *errstr,
                        size_t errstr_size)
{
        char hex[2 * ANON_KEY_MAX + 1];
        size_t n;

        while (isspace((unsigned char)*text))
                text++;
        n = strlen(text);
        while (n && isspace((unsigned char)text[n - 1]))
                n--;
        if (n > 2 * ANON_KEY_MAX || n < 2 * ANON_KEY_MIN) {
                snprintf(errstr, errstr_size,
                         "HMAC key from %s must be %d..%d bytes as hex (got %zu hex digits)",
                         origin, ANON_KEY_MIN, ANON_KEY_MAX, n);
                return -1;
        }
        memcpy(hex, text, n);
        hex[n] = 0;
        if (osh_hex_decode(hex, k->k, sizeof(k->k), &k->len)) {
                memset(hex, 0, sizeof(hex));
                snprintf(errstr, errstr_size, "HMAC key from %s is not hex", origin);
                return -1;
        }
        memset(hex, 0, sizeof(hex));
        if (!(k->mac = osh_hmac_new(k->k, k->len))) {
                snprintf(errstr, errstr_size, "HMAC key from %s: cannot set up HMAC-SHA-256",
                         origin);
                return -1;
        }
        return 0;
}

int anon_key_from_secret(anon_key_t *k, const osh_secret_t *sec, char *errstr, size_t errstr_size)
{
        memset(k, 0, sizeof(*k));
        if (!sec->data) {
                snprintf(errstr, errstr_size,
                         "no HMAC key: set anon.hmac.key.file (or OSH_ANON_HMAC_KEY); the key "
                         "must stay in the processing segment");
                return -1;
        }
        return key_from_hex(k, sec->data, sec->origin, errstr, errstr_size);
}

int anon_key_load(anon_key_t *k, const char *hex, const char *path, char *errstr,
                  size_t errstr_size)
{
        osh_secret_t sec = {NULL, 0, "anon.hmac.key"};
        int rc;

        if (path && *path && osh_secret_read_file(path, &sec, errstr, errstr_size))
                return -1;
        if (!sec.data && hex && *hex)
                sec.data = strdup(hex);
        if (sec.data)
                sec.len = strlen(sec.data);
        rc = anon_key_from_secret(k, &sec, errstr, errstr_size);
        osh_secret_wipe(&sec);
        return rc;
}

int anon_key_copy(anon_key_t *dst, const anon_key_t *src)
{
        memcpy(dst->k, src->k, sizeof(dst->k));
        dst->len = src->len;
        dst->mac = src->len ? osh_hmac_new(dst->k, dst->len) : NULL;
        return src->len && !dst->mac ? -1 : 0;
}

void anon_key_clear(anon_key_t *k)
{
        volatile uint8_t *p = k->k;

        for (size_t i = 0; i < sizeof(k->k); i++)
                p[i] = 0;
        k->len = 0;
        osh_hmac_destroy(k->mac);
        k->mac = NULL;
}

int anon_uid_hmac(const anon_key_t *k, const char *atena, size_t len, char out[ANON_UID_MAX + 1])
{
        uint8_t mac[OSH_SHA256_LEN];

        if (!k->len || !k->mac || osh_hmac_run(k->mac, atena, len, mac))
                return -1;
        osh_hex_encode(mac, ANON_UID_HEX / 2, out);
        return 0;
}

int anon_uid_valid(const char *s, size_t len)
{
        if (len < 1 || len > ANON_UID_MAX)
                return 0;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
                        return 0;
        return 1;
}
