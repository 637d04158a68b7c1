/* libFuzzer target: arbitrary bytes into single-object decode. The first
 * byte picks a registered schema whose header is prepended, so most inputs
 * reach the datum walker instead of dying on an unknown fingerprint; the
 * input is also decoded verbatim, and fed to the PCF parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/dictionary.h"
#include "oshirase/serde.h"

static void try_decode(const uint8_t *buf, size_t len)
{
        avro_value_t v;
        char err[256];

        if (osh_serde_decode(NULL, buf, len, &v, NULL, err, sizeof(err)) == 0)
                avro_value_decref(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        char err[256];

        if (!ready) {
                if (osh_serde_init(err, sizeof(err)) != 0)
                        abort();
                ready = 1;
        }
        try_decode(data, size);
        if (size == 0)
                return 0;

        const osh_schema_t *s = osh_schema_at(data[0] % osh_schema_count());
        uint8_t *buf = malloc(size - 1 + OSH_SERDE_HEADER_LEN);
        if (!buf)
                return 0;
        buf[0] = OSH_SERDE_MAGIC0;
        buf[1] = OSH_SERDE_MAGIC1;
        for (int i = 0; i < 8; i++)
                buf[2 + i] = (uint8_t)(s->fingerprint >> (8 * i));
        memcpy(buf + OSH_SERDE_HEADER_LEN, data + 1, size - 1);
        try_decode(buf, size - 1 + OSH_SERDE_HEADER_LEN);
        free(buf);

        char *pcf = osh_avro_pcf((const char *)data, size, err, sizeof(err));
        free(pcf);
        osh_dict_destroy(osh_dict_parse((const char *)data, size, "fuzz", err, sizeof(err)));
        return 0;
}
