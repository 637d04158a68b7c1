#include "relay_batch.h"

#include <stdlib.h>
#include <string.h>

struct rb_batch {
        osh_transfer_builder_t *b;
        size_t max_records, max_bytes;
        uint64_t seq;
        int64_t started_ms;
};

rb_batch_t *rb_batch_new(const char *source, const char *target, const char *instance,
                         size_t max_records, size_t max_bytes)
{
        rb_batch_t *b = calloc(1, sizeof(*b));

        if (!b)
                return NULL;
        b->b = osh_transfer_builder_new(source, instance, target, 0, 0);
        if (!b->b) {
                free(b);
                return NULL;
        }
        b->max_records = max_records;
        b->max_bytes = max_bytes;
        return b;
}

void rb_batch_destroy(rb_batch_t *b)
{
        if (!b)
                return;
        osh_transfer_builder_destroy(b->b);
        free(b);
}

void rb_batch_start(rb_batch_t *b, uint64_t seq, int64_t now_ms)
{
        osh_transfer_builder_reset(b->b, seq, now_ms);
        b->seq = seq;
        b->started_ms = now_ms;
}

int rb_batch_add(rb_batch_t *b, const rd_kafka_message_t *m, char *errstr, size_t errstr_size)
{
        return osh_transfer_builder_add_message(b->b, m, errstr, errstr_size);
}

int rb_batch_add_record(rb_batch_t *b, const osh_transfer_record_t *r, char *errstr,
                        size_t errstr_size)
{
        return osh_transfer_builder_add(b->b, r, errstr, errstr_size);
}

size_t rb_message_bytes(const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h = NULL;
        size_t n = strlen(rd_kafka_topic_name(m->rkt)) + m->key_len + m->len;
        const char *name;
        const void *val;
        size_t vlen;

        if (!rd_kafka_message_headers(m, &h) && h)
                for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &vlen); i++)
                        n += strlen(name) + vlen;
        return n;
}

int rb_batch_would_exceed_bytes(const rb_batch_t *b, size_t record_bytes)
{
        size_t cur = osh_transfer_builder_payload_bytes(b->b);

        return osh_transfer_builder_count(b->b) > 0 && cur + record_bytes > b->max_bytes;
}

int rb_batch_would_exceed(const rb_batch_t *b, const rd_kafka_message_t *m)
{
        return rb_batch_would_exceed_bytes(b, rb_message_bytes(m));
}

int rb_batch_full(const rb_batch_t *b)
{
        return osh_transfer_builder_count(b->b) >= b->max_records ||
               osh_transfer_builder_payload_bytes(b->b) >= b->max_bytes;
}

size_t rb_batch_count(const rb_batch_t *b)
{
        return osh_transfer_builder_count(b->b);
}

size_t rb_batch_bytes(const rb_batch_t *b)
{
        return osh_transfer_builder_payload_bytes(b->b);
}

uint64_t rb_batch_seq(const rb_batch_t *b)
{
        return b->seq;
}

int64_t rb_batch_started(const rb_batch_t *b)
{
        return b->started_ms;
}

int rb_batch_pack(rb_batch_t *b, uint8_t **out, size_t *len, char *errstr, size_t errstr_size)
{
        return osh_transfer_builder_pack(b->b, out, len, errstr, errstr_size);
}

void rb_batch_clear(rb_batch_t *b)
{
        osh_transfer_builder_reset(b->b, b->seq, b->started_ms);
}

size_t rb_batch_extents(const Osh__TransferBatch *b, rb_batch_extent_t *out, size_t max)
{
        size_t n = 0, j;

        for (size_t i = 0; i < b->n_records; i++) {
                const Osh__Record *r = b->records[i];
                for (j = 0; j < n; j++)
                        if (out[j].partition == r->partition && !strcmp(out[j].topic, r->topic))
                                break;
                if (j == n) {
                        if (n == max)
                                continue;
                        out[n++] = (rb_batch_extent_t){r->topic, r->partition, r->offset};
                }
                if (r->offset > out[j].max_offset)
                        out[j].max_offset = r->offset;
        }
        return n;
}
