/* libFuzzer target for what relay-bridge reads from outside:
 *   input = allow-list spec, 0x00, record value bytes
 * The spec must parse or fail cleanly; a parsed list must judge the value
 * (with validation) without crashing, and a list that passes the segment
 * rule for a crossing beyond processing must never allow a raw record. The
 * value bytes are also read as an Ack and as a TransferBatch, as the uplink
 * does with cloud answers and spool entries. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/allowlist.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"
#include "oshirase/transfer.h"
#include "relay_batch.h"

static void judge(const char *spec, const uint8_t *val, size_t len)
{
        char err[256];
        osh_allowlist_t *al = osh_allowlist_parse(spec, err, sizeof(err));

        if (!al)
                return;
        for (size_t i = 0; i < osh_allowlist_topic_count(al); i++)
                (void)osh_allowlist_check(al, osh_allowlist_topic(al, i), val, len, 1);
        if (osh_allowlist_check_segments(al, OSH_SEG_PROCESSING, OSH_SEG_EXCHANGE, err,
                                         sizeof(err)) == 0 &&
            osh_allowlist_has_topic(al, OSH_TOPIC_RAW))
                abort(); /* the segment rule let raw data out */
        osh_allowlist_destroy(al);
}

static void answers(const uint8_t *val, size_t len)
{
        char err[256];
        rb_batch_extent_t ext[16];
        Osh__Ack *ack = osh_transfer_ack_unpack(val, len, err, sizeof(err));
        Osh__TransferBatch *b = osh_transfer_unpack(val, len, NULL, err, sizeof(err));

        if (ack)
                osh__ack__free_unpacked(ack, NULL);
        if (b) {
                size_t n = rb_batch_extents(b, ext, 16);
                for (size_t i = 0; i < n; i++)
                        if (ext[i].max_offset < 0)
                                abort();
                osh_transfer_batch_free(b);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int init;
        const uint8_t *nul = memchr(data, 0, size);
        size_t slen = nul ? (size_t)(nul - data) : size;
        char *spec = malloc(slen + 1);
        char err[256];

        if (!init && osh_serde_init(err, sizeof(err)) == 0)
                init = 1;
        if (!spec)
                return 0;
        memcpy(spec, data, slen);
        spec[slen] = '\0';
        judge(spec, nul ? nul + 1 : data + size, nul ? size - slen - 1 : 0);
        answers(nul ? nul + 1 : data, nul ? size - slen - 1 : size);
        free(spec);
        return 0;
}
