/* SHA-256 / HMAC-SHA-256 over libcrypto's EVP interface. */
#include "oshirase/sha256.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>

struct osh_sha256 {
        EVP_MD_CTX *ctx;
};

/* With EVP_sha256(), OpenSSL 3 fetches the implementation again on every
 * digest init (a third of the cost of hashing a short record); fetched
 * once, it is shared by all threads for the life of the process. */
static EVP_MD *fetched_md;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_md(void)
{
        fetched_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

static const EVP_MD *sha256_md(void)
{
        pthread_once(&fetch_once, fetch_md);
        return fetched_md ? fetched_md : EVP_sha256();
}

int osh_sha256(const void *data, size_t len, uint8_t out[OSH_SHA256_LEN])
{
        unsigned int n = 0;
        static const uint8_t empty;

        if (!EVP_Digest(data ? data : &empty, len, out, &n, sha256_md(), NULL) ||
            n != OSH_SHA256_LEN) {
                memset(out, 0, OSH_SHA256_LEN);
                return -1;
        }
        return 0;
}

osh_sha256_t *osh_sha256_new(void)
{
        osh_sha256_t *h = calloc(1, sizeof(*h));

        if (!h)
                return NULL;
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || !EVP_DigestInit_ex(h->ctx, sha256_md(), NULL))
                goto fail;
        return h;
fail:
        osh_sha256_destroy(h);
        return NULL;
}

int osh_sha256_update(osh_sha256_t *h, const void *data, size_t len)
{
        if (len == 0)
                return 0;
        return EVP_DigestUpdate(h->ctx, data, len) ? 0 : -1;
}

int osh_sha256_final(osh_sha256_t *h, uint8_t out[OSH_SHA256_LEN])
{
        unsigned int n = 0;
        int ok = EVP_DigestFinal_ex(h->ctx, out, &n) && n == OSH_SHA256_LEN;

        /* Re-arm so the caller can reuse the handle either way. */
        if (!EVP_DigestInit_ex(h->ctx, sha256_md(), NULL))
                ok = 0;
        if (!ok)
                memset(out, 0, OSH_SHA256_LEN);
        return ok ? 0 : -1;
}

void osh_sha256_destroy(osh_sha256_t *h)
{
        if (!h)
                return;
        EVP_MD_CTX_free(h->ctx);
        free(h);
}

int osh_sha256_file(const char *path, uint8_t out[OSH_SHA256_LEN], char *errstr, size_t errstr_size)
{
        uint8_t buf[65536];
        osh_sha256_t *h = NULL;
        FILE *fp = fopen(path, "rb");
        size_t n;

        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        h = osh_sha256_new();
        if (!h) {
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                goto fail;
        }
        while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
                if (osh_sha256_update(h, buf, n) == -1) {
                        snprintf(errstr, errstr_size, "%s: digest failed", path);
                        goto fail;
                }
        }
        if (ferror(fp)) {
                snprintf(errstr, errstr_size, "%s: read error: %s", path, strerror(errno));
                goto fail;
        }
        if (osh_sha256_final(h, out) == -1) {
                snprintf(errstr, errstr_size, "%s: digest failed", path);
                goto fail;
        }
        osh_sha256_destroy(h);
        fclose(fp);
        return 0;
fail:
        osh_sha256_destroy(h);
        fclose(fp);
        return -1;
}

int osh_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    uint8_t out[OSH_SHA256_LEN])
{
        static const uint8_t empty;
        unsigned int n = 0;

        if (key_len > INT32_MAX)
                return -1;
        if (!HMAC(EVP_sha256(), key ? key : &empty, (int)key_len, data ? data : &empty, len, out,
                  &n) ||
            n != OSH_SHA256_LEN) {
                memset(out, 0, OSH_SHA256_LEN);
                return -1;
        }
        return 0;
}

struct osh_hmac {
        EVP_MAC_CTX *ctx;
};

osh_hmac_t *osh_hmac_new(const void *key, size_t key_len)
{
        static const uint8_t empty;
        char digest[] = "SHA2-256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        osh_hmac_t *h = calloc(1, sizeof(*h));

        if (!mac || !h || !(h->ctx = EVP_MAC_CTX_new(mac)) ||
            !EVP_MAC_init(h->ctx, key ? key : &empty, key_len, params))
                goto fail;
        EVP_MAC_free(mac); /* the context keeps its own reference */
        return h;
fail:
        EVP_MAC_free(mac);
        osh_hmac_destroy(h);
        return NULL;
}

int osh_hmac_run(osh_hmac_t *h, const void *data, size_t len, uint8_t out[OSH_SHA256_LEN])
{
        static const uint8_t empty;
        size_t n = 0;

        /* A NULL key re-initialises with the key already set. */
        if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) ||
            !EVP_MAC_update(h->ctx, data ? data : &empty, len) ||
            !EVP_MAC_final(h->ctx, out, &n, OSH_SHA256_LEN) || n != OSH_SHA256_LEN) {
                memset(out, 0, OSH_SHA256_LEN);
                return -1;
        }
        return 0;
}

void osh_hmac_destroy(osh_hmac_t *h)
{
        if (!h)
                return;
        EVP_MAC_CTX_free(h->ctx); /* cleanses the key schedule */
        free(h);
}

int osh_ct_equal(const void *a, const void *b, size_t len)
{
        return CRYPTO_memcmp(a, b, len) == 0;
}

void osh_hex_encode(const void *in, size_t len, char *out)
{
        static const char digits[] = "0123456789abcdef";
        const uint8_t *p = in;
        size_t i;

        for (i = 0; i < len; i++) {
                out[2 * i] = digits[p[i] >> 4];
                out[2 * i + 1] = digits[p[i] & 0x0f];
        }
        out[2 * len] = '\0';
}

static int hex_nibble(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int osh_hex_decode(const char *hex, uint8_t *out, size_t out_size, size_t *out_len)
{
        size_t len = strlen(hex);
        size_t i;

        if (len % 2 != 0 || len / 2 > out_size)
                return -1;
        for (i = 0; i < len / 2; i++) {
                int hi = hex_nibble(hex[2 * i]);
                int lo = hex_nibble(hex[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return -1;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        if (out_len)
                *out_len = len / 2;
        return 0;
}
