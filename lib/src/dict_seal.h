/* Internal: AES-256-GCM sealing of the attribute dictionary (dictionary.h). */
#ifndef OSHIRASE_DICT_SEAL_H
#define OSHIRASE_DICT_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define DICT_SEAL_MAGIC     "OSHDICT1"
#define DICT_SEAL_MAGIC_LEN 8
#define DICT_SEAL_NONCE_LEN 12
#define DICT_SEAL_TAG_LEN   16

/* Decrypts and authenticates; *plain is malloc()ed (caller frees). 0 / -1. */
int osh_dict_unseal(const uint8_t *in, size_t len, const uint8_t key[32], uint8_t **plain,
                    size_t *plain_len);

#endif
