#include "oshirase/batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"

static uint64_t le64(const uint8_t *p)
{
        uint64_t v = 0;

        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

uint64_t osh_batch_record_hash_with(osh_sha256_t *h, const void *key, size_t key_len,
                                    const void *val, size_t val_len)
{
        uint8_t d[OSH_SHA256_LEN];
        static const uint8_t sep = 0;

        osh_sha256_update(h, key, key_len);
        osh_sha256_update(h, &sep, 1);
        osh_sha256_update(h, val, val_len);
        osh_sha256_final(h, d); /* also re-arms h for the next record */
        return le64(d);
}

uint64_t osh_batch_record_hash(const void *key, size_t key_len, const void *val, size_t val_len)
{
        osh_sha256_t *h = osh_sha256_new();
        uint64_t r;

        if (!h)
                return 0;
        r = osh_batch_record_hash_with(h, key, key_len, val, val_len);
        osh_sha256_destroy(h);
        return r;
}

void osh_batch_sum_add(osh_batch_sum_t *s, const void *key, size_t key_len, const void *val,
                       size_t val_len)
{
        s->count++;
        s->sum += osh_batch_record_hash(key, key_len, val, val_len);
}

void osh_batch_sum_add_hash(osh_batch_sum_t *s, uint64_t h)
{
        s->count++;
        s->sum += h;
}

void osh_batch_sum_hex(const osh_batch_sum_t *s, char out[17])
{
        snprintf(out, 17, "%016" PRIx64, s->sum);
}

int osh_batch_header(rd_kafka_headers_t **hdrs, const char *batch_id)
{
        if (!*hdrs)
                *hdrs = rd_kafka_headers_new(4);
        return rd_kafka_header_add(*hdrs, OSH_HDR_BATCH_ID, -1, batch_id, -1) ? -1 : 0;
}

static int fill_marker(avro_value_t *v, const osh_batch_marker_t *m, const char *producer,
                       const char *instance)
{
        int rc = 0;
        avro_value_t f;

        rc |= osh_value_set_string(v, "batch_id", m->batch_id);
        rc |= osh_value_set_enum(v, "kind", m->is_end ? "END" : "START");
        rc |= osh_value_set_string(v, "topic", m->topic);
        rc |= osh_value_set_long(v, "record_count", m->is_end ? m->record_count : 0);
        rc |= osh_value_set_string(v, "checksum", m->is_end ? m->checksum : "");
        rc |= osh_value_set_string(v, "checksum_algorithm", OSH_BATCH_CHECKSUM_ALG);
        rc |= osh_value_field(v, "reference_date", &f) || avro_value_set_int(&f, m->reference_date);
        rc |= osh_value_set_long(v, "extract_time", m->extract_time_ms);
        rc |= osh_value_set_bool(v, "full_snapshot", m->full_snapshot);
        rc |= osh_value_set_string(v, "producer", producer ? producer : "");
        rc |= osh_value_set_string(v, "instance", instance ? instance : "");
        return rc ? -1 : 0;
}

int osh_batch_marker_send(osh_producer_t *p, const osh_batch_marker_t *m, const char *producer,
                          const char *instance)
{
        return osh_batch_marker_send_hdrs(p, m, producer, instance, NULL);
}

int osh_batch_marker_send_hdrs(osh_producer_t *p, const osh_batch_marker_t *m, const char *producer,
                               const char *instance, rd_kafka_headers_t *hdrs)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_BATCH);
        char errstr[256];
        avro_value_t v;
        void *buf = NULL;
        size_t len;
        int rc = -1;

        if (!s || osh_value_new(s, &v)) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                return -1;
        }
        if (fill_marker(&v, m, producer, instance) ||
            osh_serde_encode_alloc(s, &v, &buf, &len, errstr, sizeof(errstr))) {
                osh_error("batch marker %s: cannot encode", m->batch_id);
                goto done;
        }
        osh_kafka_msg_t msg = {.topic = OSH_TOPIC_BATCH,
                               .partition = RD_KAFKA_PARTITION_UA,
                               .key = m->batch_id,
                               .key_len = strlen(m->batch_id),
                               .value = buf,
                               .value_len = len,
                               .headers = hdrs};
        hdrs = NULL;
        if (osh_batch_header(&msg.headers, m->batch_id) == 0)
                rc = osh_producer_send(p, &msg, NULL);
        if (rc && msg.headers)
                rd_kafka_headers_destroy(msg.headers);
done:
        if (hdrs)
                rd_kafka_headers_destroy(hdrs);
        free(buf);
        avro_value_decref(&v);
        return rc;
}

static int copy_str(avro_value_t *v, const char *field, char *out, size_t size)
{
        const char *s;
        size_t len;

        if (osh_value_get_string(v, field, &s, &len) || len > size)
                return -1;
        snprintf(out, size, "%s", s);
        return 0;
}

int osh_batch_marker_decode(const void *buf, size_t len, osh_batch_marker_t *out, char *errstr,
                            size_t errstr_size)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_BATCH);
        const char *kind = NULL;
        avro_value_t v;
        int rc = 0;

        memset(out, 0, sizeof(*out));
        if (osh_serde_decode(s, buf, len, &v, NULL, errstr, errstr_size))
                return -1;
        rc |= copy_str(&v, "batch_id", out->batch_id, sizeof(out->batch_id));
        rc |= copy_str(&v, "topic", out->topic, sizeof(out->topic));
        rc |= copy_str(&v, "checksum", out->checksum, sizeof(out->checksum));
        rc |= osh_value_get_enum(&v, "kind", &kind);
        rc |= osh_value_get_long(&v, "record_count", &out->record_count);
        rc |= osh_value_get_int(&v, "reference_date", &out->reference_date);
        rc |= osh_value_get_long(&v, "extract_time", &out->extract_time_ms);
        rc |= osh_value_get_bool(&v, "full_snapshot", &out->full_snapshot);
        out->is_end = kind && !strcmp(kind, "END");
        avro_value_decref(&v);
        if (rc)
                snprintf(errstr, errstr_size, "batch marker: field too long or missing");
        return rc ? -1 : 0;
}

/* ---- tracker ---- */

struct tracked {
        char batch_id[OSH_BATCH_ID_MAX];
        uint64_t *keys; /* open addressing, 0 = empty */
        size_t cap, used;
        osh_batch_sum_t sum;
        int have_end;
        osh_batch_marker_t end;
        struct tracked *next;
};

struct osh_batch_tracker {
        struct tracked *head;
        struct tracked *last; /* of the previous lookup: records come batch by batch */
        osh_sha256_t *h;      /* reused for every record: a fresh one allocates */
};

osh_batch_tracker_t *osh_batch_tracker_new(void)
{
        osh_batch_tracker_t *t = calloc(1, sizeof(osh_batch_tracker_t));

        if (t && !(t->h = osh_sha256_new())) {
                free(t);
                return NULL;
        }
        return t;
}

static void tracked_free(struct tracked *b)
{
        free(b->keys);
        free(b);
}

void osh_batch_tracker_destroy(osh_batch_tracker_t *t)
{
        if (!t)
                return;
        while (t->head) {
                struct tracked *n = t->head->next;
                tracked_free(t->head);
                t->head = n;
        }
        osh_sha256_destroy(t->h);
        free(t);
}

static struct tracked *find(osh_batch_tracker_t *t, const char *id, int create)
{
        struct tracked *b;

        if (t->last && !strcmp(t->last->batch_id, id))
                return t->last;
        for (b = t->head; b; b = b->next)
                if (!strcmp(b->batch_id, id))
                        return t->last = b;
        if (!create || strlen(id) >= OSH_BATCH_ID_MAX || !(b = calloc(1, sizeof(*b))))
                return NULL;
        snprintf(b->batch_id, sizeof(b->batch_id), "%s", id);
        b->next = t->head;
        t->head = b;
        return t->last = b;
}

/* Returns 1 if inserted, 0 if present, -1 on OOM. */
static int key_insert(struct tracked *b, uint64_t k)
{
        if (!k)
                k = 1; /* 0 marks an empty slot */
        if ((b->used + 1) * 2 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 1024;
                uint64_t *nk = calloc(cap, sizeof(*nk)), *old = b->keys;
                if (!nk)
                        return -1;
                for (size_t i = 0; i < b->cap; i++)
                        for (size_t j = old[i] & (cap - 1); old[i]; j = (j + 1) & (cap - 1))
                                if (!nk[j]) {
                                        nk[j] = old[i];
                                        break;
                                }
                free(old);
                b->keys = nk;
                b->cap = cap;
        }
        for (size_t j = k & (b->cap - 1);; j = (j + 1) & (b->cap - 1)) {
                if (b->keys[j] == k)
                        return 0;
                if (!b->keys[j]) {
                        b->keys[j] = k;
                        b->used++;
                        return 1;
                }
        }
}

int osh_batch_tracker_add(osh_batch_tracker_t *t, const char *batch_id, const void *key,
                          size_t key_len, const void *val, size_t val_len)
{
        uint64_t kh = osh_batch_record_hash_with(t->h, key, key_len, "", 0);

        return osh_batch_tracker_add_hashed(
            t, batch_id, kh, osh_batch_record_hash_with(t->h, key, key_len, val, val_len));
}

int osh_batch_tracker_add_hashed(osh_batch_tracker_t *t, const char *batch_id, uint64_t key_hash,
                                 uint64_t rec_hash)
{
        struct tracked *b = find(t, batch_id, 1);
        int rc;

        if (!b)
                return -1;
        if ((rc = key_insert(b, key_hash)) == 1)
                osh_batch_sum_add_hash(&b->sum, rec_hash);
        return rc;
}

int osh_batch_tracker_marker(osh_batch_tracker_t *t, const osh_batch_marker_t *m)
{
        struct tracked *b = find(t, m->batch_id, 1);

        if (!b)
                return -1;
        if (m->is_end) {
                b->end = *m;
                b->have_end = 1;
        }
        return 0;
}

osh_batch_state_t osh_batch_tracker_state(osh_batch_tracker_t *t, const char *batch_id)
{
        struct tracked *b = find(t, batch_id, 0);
        char hex[17];

        if (!b || !b->have_end)
                return OSH_BATCH_OPEN;
        if (b->sum.count > b->end.record_count)
                return OSH_BATCH_MISMATCH;
        if (b->sum.count < b->end.record_count)
                return OSH_BATCH_OPEN;
        osh_batch_sum_hex(&b->sum, hex);
        return strcmp(hex, b->end.checksum) ? OSH_BATCH_MISMATCH : OSH_BATCH_COMPLETE;
}

int64_t osh_batch_tracker_count(osh_batch_tracker_t *t, const char *batch_id)
{
        struct tracked *b = find(t, batch_id, 0);

        return b ? b->sum.count : 0;
}

const osh_batch_marker_t *osh_batch_tracker_end(osh_batch_tracker_t *t, const char *batch_id)
{
        struct tracked *b = find(t, batch_id, 0);

        return b && b->have_end ? &b->end : NULL;
}

void osh_batch_tracker_forget(osh_batch_tracker_t *t, const char *batch_id)
{
        for (struct tracked **pp = &t->head; *pp; pp = &(*pp)->next) {
                if (!strcmp((*pp)->batch_id, batch_id)) {
                        struct tracked *b = *pp;
                        *pp = b->next;
                        if (t->last == b)
                                t->last = NULL;
                        tracked_free(b);
                        return;
                }
        }
}
