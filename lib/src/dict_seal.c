#include "dict_seal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "oshirase/dictionary.h"

/* One GCM pass either way; the magic is authenticated as AAD so a file
 * cannot be passed off as another format version. */
static int gcm(int enc, const uint8_t key[32], const uint8_t *nonce, const uint8_t *in, size_t len,
               uint8_t *out, uint8_t *tag)
{
        EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
        int n = 0, ok;

        ok = c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, nonce, enc) == 1 &&
             EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)DICT_SEAL_MAGIC, DICT_SEAL_MAGIC_LEN) ==
                 1 &&
             EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 &&
             (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, DICT_SEAL_TAG_LEN, tag) == 1) &&
             EVP_CipherFinal_ex(c, out + n, &n) == 1 &&
             (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, DICT_SEAL_TAG_LEN, tag) == 1);
        EVP_CIPHER_CTX_free(c);
        return ok ? 0 : -1;
}

int osh_dict_seal(const void *text, size_t len, const uint8_t key[32], uint8_t **out,
                  size_t *out_len, char *errstr, size_t errstr_size)
{
        size_t total = DICT_SEAL_MAGIC_LEN + DICT_SEAL_NONCE_LEN + len + DICT_SEAL_TAG_LEN;
        uint8_t *buf = malloc(total), *nonce, *body;

        if (!buf || len > (1u << 30)) {
                snprintf(errstr, errstr_size, "dictionary too large");
                goto fail;
        }
        memcpy(buf, DICT_SEAL_MAGIC, DICT_SEAL_MAGIC_LEN);
        nonce = buf + DICT_SEAL_MAGIC_LEN;
        body = nonce + DICT_SEAL_NONCE_LEN;
        if (RAND_bytes(nonce, DICT_SEAL_NONCE_LEN) != 1 ||
            gcm(1, key, nonce, text, len, body, body + len)) {
                snprintf(errstr, errstr_size, "encryption failed");
                goto fail;
        }
        *out = buf;
        *out_len = total;
        return 0;
fail:
        free(buf);
        return -1;
}

int osh_dict_unseal(const uint8_t *in, size_t len, const uint8_t key[32], uint8_t **plain,
                    size_t *plain_len)
{
        size_t overhead = DICT_SEAL_MAGIC_LEN + DICT_SEAL_NONCE_LEN + DICT_SEAL_TAG_LEN, n;
        uint8_t tag[DICT_SEAL_TAG_LEN], *out;

        if (len < overhead || memcmp(in, DICT_SEAL_MAGIC, DICT_SEAL_MAGIC_LEN))
                return -1;
        n = len - overhead;
        out = malloc(n + 1);
        if (!out)
                return -1;
        memcpy(tag, in + len - DICT_SEAL_TAG_LEN, sizeof(tag));
        if (gcm(0, key, in + DICT_SEAL_MAGIC_LEN, in + DICT_SEAL_MAGIC_LEN + DICT_SEAL_NONCE_LEN, n,
                out, tag)) {
                free(out);
                return -1;
        }
        *plain = out;
        *plain_len = n;
        return 0;
}
