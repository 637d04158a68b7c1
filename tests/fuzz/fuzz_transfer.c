/* libFuzzer target: every unpacker in transfer.h must reject or accept any
 * input without crashing, leaking or reading out of bounds. An accepted
 * batch must re-pack and re-verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/transfer.h"

static void repack_batch(const Osh__TransferBatch *b)
{
        char err[256];
        uint8_t *buf = NULL;
        size_t len = 0;
        Osh__TransferBatch *again;

        if (osh_transfer_pack_message(&b->base, &buf, &len, err, sizeof(err)) == -1)
                abort();
        again = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
        if (!again)
                abort(); /* a verified batch must stay verified after re-encoding */
        osh_transfer_batch_free(again);
        free(buf);
}

/* Random input almost never carries a matching SHA-256; fix it up so the
 * field checks behind the digest get exercised too. */
static void with_fixed_digest(const uint8_t *data, size_t size)
{
        Osh__TransferBatch *raw = osh__transfer_batch__unpack(NULL, size, data);
        uint8_t sha[32], *buf = NULL;
        ProtobufCBinaryData saved;
        char err[256];
        size_t len = 0;
        Osh__TransferBatch *b;

        if (!raw)
                return;
        saved = raw->payload_sha256;
        if (osh_transfer_digest(raw, sha) == 0) {
                raw->payload_sha256.data = sha;
                raw->payload_sha256.len = sizeof(sha);
                if (osh_transfer_pack_message(&raw->base, &buf, &len, err, sizeof(err)) == 0) {
                        b = osh_transfer_unpack(buf, len, NULL, err, sizeof(err));
                        if (!b && strstr(err, "mismatch"))
                                abort(); /* digest must survive re-encoding */
                        osh_transfer_batch_free(b);
                        free(buf);
                }
        }
        raw->payload_sha256 = saved; /* free_unpacked owns the original */
        osh__transfer_batch__free_unpacked(raw, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        osh_transfer_limits_t lim = {.max_bytes = 1 << 20, .max_records = 1000};
        char err[256];
        Osh__TransferBatch *b = osh_transfer_unpack(data, size, &lim, err, sizeof(err));
        Osh__Ack *a;
        Osh__ProbeRequest *rq;
        Osh__ProbeResponse *rs;

        if (b) {
                repack_batch(b);
                osh_transfer_batch_free(b);
        }
        if (size <= lim.max_bytes)
                with_fixed_digest(data, size);
        a = osh_transfer_ack_unpack(data, size, err, sizeof(err));
        if (a)
                osh__ack__free_unpacked(a, NULL);
        rq = osh_transfer_probe_request_unpack(data, size, err, sizeof(err));
        if (rq)
                osh__probe_request__free_unpacked(rq, NULL);
        rs = osh_transfer_probe_response_unpack(data, size, err, sizeof(err));
        if (rs)
                osh__probe_response__free_unpacked(rs, NULL);
        return 0;
}
