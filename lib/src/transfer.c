/* proto/transfer.proto glue: batch builder, canonical digest, checked unpack.
 * The digest input is specified in oshirase/transfer.h. */
#include "oshirase/transfer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "oshirase/sha256.h"

#define KAFKA_TOPIC_MAX 249

struct osh_transfer_builder {
        Osh__TransferBatch batch; /* strings and each record block are owned */
        size_t cap;               /* capacity of batch.records */
        size_t payload_bytes;
        uint8_t sha[OSH_SHA256_LEN];
};

/* ---- digest ---------------------------------------------------------- */

/* Buffers the many small fixed-width fields so libcrypto sees few calls. */
typedef struct {
        osh_sha256_t *h;
        int err;
        size_t n;
        uint8_t buf[4096];
} dwriter_t;

static void dw_flush(dwriter_t *w)
{
        if (w->n && osh_sha256_update(w->h, w->buf, w->n) == -1)
                w->err = 1;
        w->n = 0;
}

static void dw_bytes(dwriter_t *w, const void *p, size_t len)
{
        if (len == 0)
                return; /* p may be NULL */
        if (len > sizeof(w->buf) - w->n) {
                dw_flush(w);
                if (len >= sizeof(w->buf)) {
                        if (osh_sha256_update(w->h, p, len) == -1)
                                w->err = 1;
                        return;
                }
        }
        memcpy(w->buf + w->n, p, len);
        w->n += len;
}

static void dw_u64(dwriter_t *w, uint64_t v)
{
        uint8_t b[8];
        int i;

        for (i = 7; i >= 0; i--, v >>= 8)
                b[i] = (uint8_t)(v & 0xff);
        dw_bytes(w, b, sizeof(b));
}

static void dw_i32(dwriter_t *w, int32_t v)
{
        uint32_t u = (uint32_t)v;
        uint8_t b[4] = {(uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u};

        dw_bytes(w, b, sizeof(b));
}

static void dw_str(dwriter_t *w, const char *s)
{
        size_t len = s ? strlen(s) : 0;

        dw_u64(w, len);
        dw_bytes(w, s, len);
}

static void dw_opt(dwriter_t *w, int present, const ProtobufCBinaryData *d)
{
        uint8_t flag = present ? 1 : 0;

        dw_bytes(w, &flag, 1);
        if (!present)
                return;
        dw_u64(w, d->len);
        dw_bytes(w, d->data, d->len);
}

static void dw_record(dwriter_t *w, const Osh__Record *r)
{
        size_t i;

        dw_str(w, r->topic);
        dw_i32(w, r->partition);
        dw_u64(w, (uint64_t)r->offset);
        dw_u64(w, (uint64_t)r->timestamp_ms);
        dw_opt(w, r->key_opt_case == OSH__RECORD__KEY_OPT_KEY, &r->key);
        dw_opt(w, r->value_opt_case == OSH__RECORD__VALUE_OPT_VALUE, &r->value);
        dw_u64(w, r->n_headers);
        for (i = 0; i < r->n_headers; i++) {
                const Osh__Header *h = r->headers[i];

                dw_str(w, h->key);
                dw_opt(w, h->value_opt_case == OSH__HEADER__VALUE_OPT_VALUE, &h->value);
        }
}

int osh_transfer_digest(const Osh__TransferBatch *batch, uint8_t out[32])
{
        dwriter_t *w = calloc(1, sizeof(*w));
        size_t i;
        int rc = -1;

        if (!w)
                return -1;
        w->h = osh_sha256_new();
        if (!w->h)
                goto fail;
        dw_bytes(w, OSH_TRANSFER_DIGEST_TAG, sizeof(OSH_TRANSFER_DIGEST_TAG)); /* with NUL */
        dw_str(w, batch->source_segment);
        dw_str(w, batch->source_instance);
        dw_str(w, batch->target);
        dw_u64(w, batch->sequence);
        dw_u64(w, (uint64_t)batch->created_ms);
        dw_u64(w, batch->n_records);
        for (i = 0; i < batch->n_records; i++)
                dw_record(w, batch->records[i]);
        dw_flush(w);
        if (w->err || osh_sha256_final(w->h, out) == -1)
                goto fail;
        rc = 0;
fail:
        osh_sha256_destroy(w->h);
        free(w);
        return rc;
}

/* ---- validation ------------------------------------------------------ */

int osh_transfer_topic_valid(const char *name)
{
        size_t i, len;

        if (!name)
                return 0;
        len = strlen(name);
        if (len == 0 || len > KAFKA_TOPIC_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
                return 0;
        for (i = 0; i < len; i++) {
                char c = name[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-'))
                        return 0;
        }
        return 1;
}

static int check_record(const char *topic, int32_t partition, int64_t offset, char *errstr,
                        size_t errstr_size)
{
        if (!osh_transfer_topic_valid(topic)) {
                snprintf(errstr, errstr_size, "invalid topic name");
                return -1;
        }
        if (partition < 0 || offset < 0) {
                snprintf(errstr, errstr_size,
                         "%s: negative partition %" PRId32 " or offset %" PRId64, topic, partition,
                         offset);
                return -1;
        }
        return 0;
}

/* ---- builder --------------------------------------------------------- */

static char *dup_str(const char *s)
{
        return strdup(s ? s : "");
}

osh_transfer_builder_t *osh_transfer_builder_new(const char *source_segment,
                                                 const char *source_instance, const char *target,
                                                 uint64_t sequence, int64_t created_ms)
{
        osh_transfer_builder_t *b;

        if (!source_segment || !*source_segment || !target || !*target)
                return NULL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        osh__transfer_batch__init(&b->batch);
        b->batch.source_segment = dup_str(source_segment);
        b->batch.source_instance = dup_str(source_instance);
        b->batch.target = dup_str(target);
        if (!b->batch.source_segment || !b->batch.source_instance || !b->batch.target)
                goto fail;
        b->batch.sequence = sequence;
        b->batch.created_ms = created_ms;
        return b;
fail:
        osh_transfer_builder_destroy(b);
        return NULL;
}

void osh_transfer_builder_reset(osh_transfer_builder_t *b, uint64_t sequence, int64_t created_ms)
{
        size_t i;

        /* Each record (with its headers and bytes) is one malloc block. */
        for (i = 0; i < b->batch.n_records; i++)
                free(b->batch.records[i]);
        b->batch.n_records = 0;
        b->payload_bytes = 0;
        b->batch.sequence = sequence;
        b->batch.created_ms = created_ms;
}

void osh_transfer_builder_destroy(osh_transfer_builder_t *b)
{
        if (!b)
                return;
        osh_transfer_builder_reset(b, 0, 0);
        free(b->batch.records);
        free(b->batch.source_segment);
        free(b->batch.source_instance);
        free(b->batch.target);
        free(b);
}

static size_t record_block_size(const osh_transfer_record_t *rec)
{
        size_t sz =
            sizeof(Osh__Record) + rec->header_cnt * (sizeof(Osh__Header *) + sizeof(Osh__Header));
        size_t i;

        sz += strlen(rec->topic) + 1 + rec->key_len + rec->value_len;
        for (i = 0; i < rec->header_cnt; i++)
                sz += strlen(rec->headers[i].key ? rec->headers[i].key : "") + 1 +
                      rec->headers[i].value_len;
        return sz;
}

/* Copies len bytes to *cursor, advancing it; returns the copy. */
static uint8_t *take(uint8_t **cursor, const void *src, size_t len)
{
        uint8_t *p = *cursor;

        if (len)
                memcpy(p, src, len);
        *cursor += len;
        return p;
}

static void set_bytes(ProtobufCBinaryData *d, uint8_t **cursor, const void *src, size_t len)
{
        d->data = take(cursor, src, len);
        d->len = len;
}

/* Lays out record, header pointers, headers, then bytes in one block so a
 * single free() releases it; struct parts come first to stay aligned. */
static Osh__Record *record_copy(const osh_transfer_record_t *rec, size_t *payload)
{
        size_t size = record_block_size(rec), i;
        Osh__Record *r = malloc(size);
        Osh__Header *hs;
        uint8_t *cur;

        if (!r)
                return NULL;
        osh__record__init(r);
        r->n_headers = rec->header_cnt;
        r->headers = rec->header_cnt ? (Osh__Header **)(void *)(r + 1) : NULL;
        hs = (Osh__Header *)(void *)((Osh__Header **)(void *)(r + 1) + rec->header_cnt);
        cur = (uint8_t *)(hs + rec->header_cnt);
        r->topic = (char *)take(&cur, rec->topic, strlen(rec->topic) + 1);
        r->partition = rec->partition;
        r->offset = rec->offset;
        r->timestamp_ms = rec->timestamp_ms;
        if (rec->key) {
                r->key_opt_case = OSH__RECORD__KEY_OPT_KEY;
                set_bytes(&r->key, &cur, rec->key, rec->key_len);
        }
        if (rec->value) {
                r->value_opt_case = OSH__RECORD__VALUE_OPT_VALUE;
                set_bytes(&r->value, &cur, rec->value, rec->value_len);
        }
        for (i = 0; i < rec->header_cnt; i++) {
                const osh_transfer_header_t *src = &rec->headers[i];
                const char *k = src->key ? src->key : "";

                osh__header__init(&hs[i]);
                hs[i].key = (char *)take(&cur, k, strlen(k) + 1);
                if (src->value) {
                        hs[i].value_opt_case = OSH__HEADER__VALUE_OPT_VALUE;
                        set_bytes(&hs[i].value, &cur, src->value, src->value_len);
                }
                r->headers[i] = &hs[i];
        }
        *payload = size - sizeof(Osh__Record) -
                   rec->header_cnt * (sizeof(Osh__Header *) + sizeof(Osh__Header));
        return r;
}

int osh_transfer_builder_add(osh_transfer_builder_t *b, const osh_transfer_record_t *rec,
                             char *errstr, size_t errstr_size)
{
        Osh__Record *r;
        size_t payload = 0;

        if (check_record(rec->topic, rec->partition, rec->offset, errstr, errstr_size) == -1)
                return -1;
        if (b->batch.n_records == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 64;
                Osh__Record **recs = realloc(b->batch.records, cap * sizeof(*recs));

                if (!recs)
                        goto oom;
                b->batch.records = recs;
                b->cap = cap;
        }
        r = record_copy(rec, &payload);
        if (!r)
                goto oom;
        b->batch.records[b->batch.n_records++] = r;
        b->payload_bytes += payload;
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory adding record to transfer batch");
        return -1;
}

int osh_transfer_builder_add_message(osh_transfer_builder_t *b,
                                     const struct rd_kafka_message_s *msg, char *errstr,
                                     size_t errstr_size)
{
        osh_transfer_record_t rec = {0};
        osh_transfer_header_t *hv = NULL;
        rd_kafka_headers_t *hdrs = NULL;
        rd_kafka_timestamp_type_t tstype;
        size_t i;
        int rc;

        if (msg->err || !msg->rkt) {
                snprintf(errstr, errstr_size, "message carries an error: %s",
                         rd_kafka_err2str(msg->err));
                return -1;
        }
        rec.topic = rd_kafka_topic_name(msg->rkt);
        rec.partition = msg->partition;
        rec.offset = msg->offset;
        rec.timestamp_ms = rd_kafka_message_timestamp(msg, &tstype);
        rec.key = msg->key;
        rec.key_len = msg->key ? msg->key_len : 0;
        rec.value = msg->payload;
        rec.value_len = msg->payload ? msg->len : 0;
        if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_cnt(hdrs) > 0) {
                rec.header_cnt = rd_kafka_header_cnt(hdrs);
                hv = calloc(rec.header_cnt, sizeof(*hv));
                if (!hv) {
                        snprintf(errstr, errstr_size, "out of memory copying headers");
                        return -1;
                }
                for (i = 0; i < rec.header_cnt; i++)
                        rd_kafka_header_get_all(hdrs, i, &hv[i].key, &hv[i].value,
                                                &hv[i].value_len);
                rec.headers = hv;
        }
        rc = osh_transfer_builder_add(b, &rec, errstr, errstr_size);
        free(hv);
        return rc;
}

size_t osh_transfer_builder_count(const osh_transfer_builder_t *b)
{
        return b->batch.n_records;
}

size_t osh_transfer_builder_payload_bytes(const osh_transfer_builder_t *b)
{
        return b->payload_bytes;
}

int osh_transfer_builder_pack(osh_transfer_builder_t *b, uint8_t **out, size_t *out_len,
                              char *errstr, size_t errstr_size)
{
        if (osh_transfer_digest(&b->batch, b->sha) == -1) {
                snprintf(errstr, errstr_size, "computing transfer batch digest failed");
                return -1;
        }
        b->batch.payload_sha256.data = b->sha;
        b->batch.payload_sha256.len = sizeof(b->sha);
        return osh_transfer_pack_message(&b->batch.base, out, out_len, errstr, errstr_size);
}

int osh_transfer_pack_message(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len,
                              char *errstr, size_t errstr_size)
{
        size_t len = protobuf_c_message_get_packed_size(msg);
        /* malloc(0) may return NULL; an all-default message packs to 0 bytes. */
        uint8_t *buf = malloc(len ? len : 1);

        if (!buf) {
                snprintf(errstr, errstr_size, "out of memory packing %zu bytes", len);
                return -1;
        }
        if (protobuf_c_message_pack(msg, buf) != len) {
                snprintf(errstr, errstr_size, "protobuf pack size mismatch");
                free(buf);
                return -1;
        }
        *out = buf;
        *out_len = len;
        return 0;
}

/* ---- unpack ---------------------------------------------------------- */

static int check_batch(const Osh__TransferBatch *b, size_t max_records, char *errstr,
                       size_t errstr_size)
{
        uint8_t want[OSH_SHA256_LEN];
        char why[160];
        size_t i;

        if (!*b->source_segment || !*b->target) {
                snprintf(errstr, errstr_size, "transfer batch lacks source_segment or target");
                return -1;
        }
        if (b->n_records > max_records) {
                snprintf(errstr, errstr_size, "transfer batch has %zu records, limit %zu",
                         b->n_records, max_records);
                return -1;
        }
        for (i = 0; i < b->n_records; i++) {
                const Osh__Record *r = b->records[i];

                if (check_record(r->topic, r->partition, r->offset, why, sizeof(why)) == -1) {
                        snprintf(errstr, errstr_size, "transfer batch record %zu: %s", i, why);
                        return -1;
                }
        }
        if (b->payload_sha256.len != OSH_SHA256_LEN) {
                snprintf(errstr, errstr_size, "transfer batch payload_sha256 is %zu bytes, want %d",
                         b->payload_sha256.len, OSH_SHA256_LEN);
                return -1;
        }
        if (osh_transfer_digest(b, want) == -1) {
                snprintf(errstr, errstr_size, "computing transfer batch digest failed");
                return -1;
        }
        if (!osh_ct_equal(want, b->payload_sha256.data, OSH_SHA256_LEN)) {
                snprintf(errstr, errstr_size,
                         "transfer batch payload_sha256 mismatch (corrupted or altered)");
                return -1;
        }
        return 0;
}

static int check_size(const char *what, size_t len, size_t max, char *errstr, size_t errstr_size)
{
        if (len <= max)
                return 0;
        snprintf(errstr, errstr_size, "%s of %zu bytes exceeds limit of %zu", what, len, max);
        return -1;
}

Osh__TransferBatch *osh_transfer_unpack(const uint8_t *buf, size_t len,
                                        const osh_transfer_limits_t *limits, char *errstr,
                                        size_t errstr_size)
{
        size_t max_bytes =
            limits && limits->max_bytes ? limits->max_bytes : OSH_TRANSFER_DEFAULT_MAX_BYTES;
        size_t max_records =
            limits && limits->max_records ? limits->max_records : OSH_TRANSFER_DEFAULT_MAX_RECORDS;
        Osh__TransferBatch *b;

        if (check_size("transfer batch", len, max_bytes, errstr, errstr_size) == -1)
                return NULL;
        b = osh__transfer_batch__unpack(NULL, len, buf);
        if (!b) {
                snprintf(errstr, errstr_size, "not a valid TransferBatch protobuf (%zu bytes)",
                         len);
                return NULL;
        }
        if (check_batch(b, max_records, errstr, errstr_size) == -1) {
                osh_transfer_batch_free(b);
                return NULL;
        }
        return b;
}

void osh_transfer_batch_free(Osh__TransferBatch *batch)
{
        if (batch)
                osh__transfer_batch__free_unpacked(batch, NULL);
}

const char *osh_transfer_ack_status_name(int status)
{
        switch (status) {
        case OSH__ACK_STATUS__ACK_STATUS_UNSPECIFIED:
                return "UNSPECIFIED";
        case OSH__ACK_STATUS__ACK_STATUS_OK:
                return "OK";
        case OSH__ACK_STATUS__ACK_STATUS_DUPLICATE:
                return "DUPLICATE";
        case OSH__ACK_STATUS__ACK_STATUS_RETRY:
                return "RETRY";
        case OSH__ACK_STATUS__ACK_STATUS_REJECTED:
                return "REJECTED";
        default:
                return "UNKNOWN";
        }
}

static int check_ack(const Osh__Ack *a, char *errstr, size_t errstr_size)
{
        size_t i;

        if (a->status < OSH__ACK_STATUS__ACK_STATUS_OK ||
            a->status > OSH__ACK_STATUS__ACK_STATUS_REJECTED) {
                snprintf(errstr, errstr_size, "ack has invalid status %d", (int)a->status);
                return -1;
        }
        for (i = 0; i < a->n_committed; i++) {
                const Osh__CommittedOffset *c = a->committed[i];
                char why[160];

                if (check_record(c->topic, c->partition, c->through_offset, why, sizeof(why)) ==
                    -1) {
                        snprintf(errstr, errstr_size, "ack committed entry %zu: %s", i, why);
                        return -1;
                }
        }
        return 0;
}

Osh__Ack *osh_transfer_ack_unpack(const uint8_t *buf, size_t len, char *errstr, size_t errstr_size)
{
        Osh__Ack *a;

        if (check_size("ack", len, OSH_TRANSFER_SMALL_MAX_BYTES, errstr, errstr_size) == -1)
                return NULL;
        a = osh__ack__unpack(NULL, len, buf);
        if (!a) {
                snprintf(errstr, errstr_size, "not a valid Ack protobuf (%zu bytes)", len);
                return NULL;
        }
        if (check_ack(a, errstr, errstr_size) == -1) {
                osh__ack__free_unpacked(a, NULL);
                return NULL;
        }
        return a;
}

Osh__ProbeRequest *osh_transfer_probe_request_unpack(const uint8_t *buf, size_t len, char *errstr,
                                                     size_t errstr_size)
{
        Osh__ProbeRequest *p;

        if (check_size("probe request", len, OSH_TRANSFER_SMALL_MAX_BYTES, errstr, errstr_size) ==
            -1)
                return NULL;
        p = osh__probe_request__unpack(NULL, len, buf);
        if (!p) {
                snprintf(errstr, errstr_size, "not a valid ProbeRequest protobuf (%zu bytes)", len);
                return NULL;
        }
        if (!*p->probe_id) {
                snprintf(errstr, errstr_size, "probe request lacks probe_id");
                osh__probe_request__free_unpacked(p, NULL);
                return NULL;
        }
        return p;
}

Osh__ProbeResponse *osh_transfer_probe_response_unpack(const uint8_t *buf, size_t len, char *errstr,
                                                       size_t errstr_size)
{
        Osh__ProbeResponse *p;

        if (check_size("probe response", len, OSH_TRANSFER_SMALL_MAX_BYTES, errstr, errstr_size) ==
            -1)
                return NULL;
        p = osh__probe_response__unpack(NULL, len, buf);
        if (!p) {
                snprintf(errstr, errstr_size, "not a valid ProbeResponse protobuf (%zu bytes)",
                         len);
                return NULL;
        }
        if (!*p->probe_id) {
                snprintf(errstr, errstr_size, "probe response lacks probe_id");
                osh__probe_response__free_unpacked(p, NULL);
                return NULL;
        }
        return p;
}
