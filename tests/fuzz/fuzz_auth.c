/* The Authorization header is the first thing cloud-ingest parses from an
 * untrusted peer: any bytes must give a verdict, never a crash, and never
 * OK without the secret. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/auth.h"

static int lookup(void *opaque, const char *key_id, const void **secret)
{
        (void)opaque;
        *secret = "fuzz-secret";
        return key_id[0] == 'k' ? 11 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *hdr = malloc(size + 1);

        if (!hdr)
                return 0;
        memcpy(hdr, data, size);
        hdr[size] = '\0';
        osh_auth_verdict_t v = osh_auth_verify(hdr, lookup, NULL, "POST", "/v1/batches",
                                               1795000000000, 300000, data, size);
        if (v == OSH_AUTH_OK)
                __builtin_trap(); /* a forged signature over these very bytes */
        free(hdr);
        return 0;
}
