#include "ingest_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest.h"
#include "oshirase/scan.h"
#include "oshirase/log.h"
#include "oshirase/provenance.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"

struct ci_store {
        const osh_config_t *cfg;
        ci_state_t *src;      /* source watermarks + sequences */
        ci_state_t *dst;      /* cloud positions covered */
        ci_state_t *src_done; /* what the last checkpoint wrote */
        ci_state_t *dst_done;
        ci_publish_fn *publish;
        void *publish_opaque;
};

ci_store_t *ci_store_new(const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        ci_store_t *st = calloc(1, sizeof(*st));

        if (!st || !(st->src = ci_state_new()) || !(st->dst = ci_state_new()) ||
            !(st->src_done = ci_state_new()) || !(st->dst_done = ci_state_new())) {
                snprintf(errstr, errstr_size, "out of memory");
                ci_store_destroy(st);
                return NULL;
        }
        st->cfg = cfg;
        return st;
}

void ci_store_destroy(ci_store_t *st)
{
        if (!st)
                return;
        ci_state_destroy(st->src);
        ci_state_destroy(st->dst);
        ci_state_destroy(st->src_done);
        ci_state_destroy(st->dst_done);
        free(st);
}

ci_state_t *ci_store_state(ci_store_t *st)
{
        return st->src;
}

void ci_store_dest_raise(ci_store_t *st, const char *topic, int32_t partition, int64_t offset)
{
        if (partition >= 0 && offset >= 0)
                ci_state_offset_raise(st->dst, topic, partition, offset);
}

void ci_store_set_publisher(ci_store_t *st, ci_publish_fn *fn, void *opaque)
{
        st->publish = fn;
        st->publish_opaque = opaque;
}

/* ---- codec ------------------------------------------------------------- */

static const char *kind_symbol(char kind)
{
        return kind == 's' ? "SOURCE_OFFSET" : kind == 'd' ? "DEST_OFFSET" : "SEQUENCE";
}

int ci_checkpoint_encode(const ci_checkpoint_t *c, void **out, size_t *out_len, char *key,
                         size_t key_size)
{
        const osh_schema_t *s = osh_schema_for_topic(CI_TOPIC_OFFSETS);
        char hex[OSH_SHA256_HEX_LEN + 1] = "", err[128];
        avro_value_t v;
        int rc = -1;

        if (!s || osh_value_new(s, &v))
                return -1;
        if (c->kind == 'q')
                osh_hex_encode(c->digest, 32, hex);
        if (osh_value_set_enum(&v, "kind", kind_symbol(c->kind)) ||
            osh_value_set_string(&v, "name", c->name) ||
            osh_value_set_int(&v, "partition", c->partition) ||
            osh_value_set_long(&v, "value", c->value) || osh_value_set_string(&v, "digest", hex) ||
            osh_value_set_long(&v, "updated_at", (int64_t)time(NULL) * 1000))
                goto out;
        rc = osh_serde_encode_alloc(s, &v, out, out_len, err, sizeof(err));
        if (c->kind == 'q')
                snprintf(key, key_size, "seq/%s", c->name);
        else
                snprintf(key, key_size, "%s/%s/%" PRId32, c->kind == 's' ? "src" : "dst", c->name,
                         c->partition);
out:
        avro_value_decref(&v);
        return rc;
}

int ci_checkpoint_decode(const void *buf, size_t len, ci_checkpoint_t *out)
{
        const osh_schema_t *s = osh_schema_for_topic(CI_TOPIC_OFFSETS);
        const char *kind = NULL, *name = NULL, *hex = NULL;
        size_t nlen = 0, hlen = 0;
        char err[128];
        avro_value_t v;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        if (!s || osh_serde_decode(s, buf, len, &v, NULL, err, sizeof(err)))
                return -1;
        if (osh_value_get_enum(&v, "kind", &kind) ||
            osh_value_get_string(&v, "name", &name, &nlen) ||
            osh_value_get_int(&v, "partition", &out->partition) ||
            osh_value_get_long(&v, "value", &out->value) ||
            osh_value_get_string(&v, "digest", &hex, &hlen))
                goto out;
        out->kind = !strcmp(kind, "SOURCE_OFFSET") ? 's' : !strcmp(kind, "DEST_OFFSET") ? 'd' : 'q';
        snprintf(out->name, sizeof(out->name), "%s", name);
        if (out->kind == 'q' && osh_hex_decode(hex, out->digest, 32, NULL))
                goto out;
        rc = 0;
out:
        avro_value_decref(&v);
        return rc;
}

/* ---- checkpoint -------------------------------------------------------- */

struct ckpt_batch {
        osh_kafka_msg_t *msgs;
        char (*keys)[320];
        size_t n, cap;
};

static int ckpt_add(struct ckpt_batch *cb, const ci_checkpoint_t *c)
{
        void *val = NULL;
        size_t len = 0;

        if (cb->n == cb->cap) {
                size_t cap = cb->cap ? cb->cap * 2 : 16;
                osh_kafka_msg_t *m = realloc(cb->msgs, cap * sizeof(*m));
                if (!m)
                        return -1;
                cb->msgs = m;
                char(*k)[320] = realloc(cb->keys, cap * sizeof(*k));
                if (!k)
                        return -1;
                cb->keys = k;
                cb->cap = cap;
                /* realloc may have moved the keys the queued messages point at */
                for (size_t i = 0; i < cb->n; i++)
                        cb->msgs[i].key = cb->keys[i];
        }
        if (ci_checkpoint_encode(c, &val, &len, cb->keys[cb->n], sizeof(cb->keys[0])))
                return -1;
        cb->msgs[cb->n] = (osh_kafka_msg_t){.topic = CI_TOPIC_OFFSETS,
                                            .partition = RD_KAFKA_PARTITION_UA,
                                            .key = cb->keys[cb->n],
                                            .key_len = strlen(cb->keys[cb->n]),
                                            .value = val,
                                            .value_len = len};
        cb->n++;
        return 0;
}

/* Adds an entry for every watermark of cur that differs from done. */
static int ckpt_changed(struct ckpt_batch *cb, ci_state_t *cur, ci_state_t *done, char kind)
{
        for (size_t i = 0; i < ci_state_offset_count(cur); i++) {
                ci_checkpoint_t c = {.kind = kind};
                const char *topic;
                ci_state_offset_at(cur, i, &topic, &c.partition, &c.value);
                if (ci_state_offset(done, topic, c.partition) == c.value)
                        continue;
                snprintf(c.name, sizeof(c.name), "%s", topic);
                if (ckpt_add(cb, &c))
                        return -1;
        }
        return 0;
}

static void mark_done(ci_state_t *cur, ci_state_t *done)
{
        for (size_t i = 0; i < ci_state_offset_count(cur); i++) {
                const char *topic;
                int32_t p;
                int64_t v;
                ci_state_offset_at(cur, i, &topic, &p, &v);
                ci_state_offset_raise(done, topic, p, v);
        }
}

int ci_store_checkpoint(ci_store_t *st, const char *sender, uint64_t seq, const uint8_t digest[32])
{
        struct ckpt_batch cb = {0};
        ci_checkpoint_t q = {.kind = 'q', .value = (int64_t)seq};
        int rc = -1;

        snprintf(q.name, sizeof(q.name), "%s", sender);
        memcpy(q.digest, digest, 32);
        if (!st->publish || ckpt_changed(&cb, st->src, st->src_done, 's') ||
            ckpt_changed(&cb, st->dst, st->dst_done, 'd') || ckpt_add(&cb, &q))
                goto out;
        rc = st->publish(st->publish_opaque, cb.msgs, cb.n);
        if (!rc) {
                mark_done(st->src, st->src_done);
                mark_done(st->dst, st->dst_done);
        }
out:
        for (size_t i = 0; i < cb.n; i++)
                free((void *)cb.msgs[i].value);
        free(cb.msgs);
        free(cb.keys);
        return rc;
}

/* ---- recovery ---------------------------------------------------------- */

/* Published records are read from past what the checkpoints covered. */
static int64_t after_checkpoint(void *opaque, const char *topic, int32_t partition)
{
        ci_store_t *st = opaque;

        return ci_state_offset(st->dst, topic, partition) + 1;
}

static int on_checkpoint(void *opaque, const rd_kafka_message_t *m)
{
        ci_store_t *st = opaque;
        ci_checkpoint_t c;

        if (!m->payload || ci_checkpoint_decode(m->payload, m->len, &c)) {
                osh_warn("%s [%" PRId32 "] @%" PRId64 ": not a checkpoint, ignored",
                         CI_TOPIC_OFFSETS, m->partition, m->offset);
                return 0;
        }
        if (c.kind == 's') {
                ci_state_offset_raise(st->src, c.name, c.partition, c.value);
                ci_state_offset_raise(st->src_done, c.name, c.partition, c.value);
        } else if (c.kind == 'd') {
                ci_state_offset_raise(st->dst, c.name, c.partition, c.value);
                ci_state_offset_raise(st->dst_done, c.name, c.partition, c.value);
        } else {
                ci_state_seq_record(st->src, c.name, (uint64_t)c.value, c.digest);
        }
        return 0;
}

/* A cloud record we published carries its source coordinates. */
static int on_published(void *opaque, const rd_kafka_message_t *m)
{
        ci_store_t *st = opaque;
        osh_src_t src;

        ci_state_offset_raise(st->dst, rd_kafka_topic_name(m->rkt), m->partition, m->offset);
        if (!osh_src_from_message(m, &src))
                ci_state_offset_raise(st->src, src.topic, src.partition, src.offset);
        return 0;
}

int ci_store_recover(ci_store_t *st, const osh_allowlist_t *al, char *errstr, size_t errstr_size)
{
        osh_scan_t *sc = osh_scan_new(st->cfg, "kafka.", errstr, errstr_size);
        int rc = -1;

        if (!sc)
                return -1;
        if (osh_scan_topic(sc, CI_TOPIC_OFFSETS, NULL, on_checkpoint, st, errstr, errstr_size))
                goto out;
        size_t ckpt = ci_state_offset_count(st->src);
        for (size_t i = 0; i < osh_allowlist_topic_count(al); i++)
                if (osh_scan_topic(sc, osh_allowlist_topic(al, i), after_checkpoint, on_published,
                                   st, errstr, errstr_size))
                        goto out;
        osh_info("recovered de-dup state: %zu source partitions (%zu from checkpoints)",
                 ci_state_offset_count(st->src), ckpt);
        rc = 0;
out:
        osh_scan_destroy(sc);
        return rc;
}
