#include "ingest.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ingest_state.h"
#include "ingest_store.h"
#include "oshirase/scan.h"
#include "oshirase/clock.h"
#include "oshirase/allowlist.h"
#include "oshirase/log.h"
#include "oshirase/provenance.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"

#define CI_METADATA_MS 5000 /* a partition count, asked once per topic */

struct part_count {
        char *topic;
        int count;
};

struct ci_ingest {
        osh_producer_t *p;
        osh_allowlist_t *al;
        ci_store_t *store;
        char *target;
        size_t max_batch_bytes;
        int64_t delivery_timeout_ms;
        osh_heartbeat_t *hb;
        pthread_mutex_t lock; /* one batch (or upload) at a time */
        struct part_count *pc;
        size_t pc_cnt;
        /* counters, under lock */
        uint64_t ok, dup, rejected, published;
        int64_t last_batch_ms;
};

/* One produced message's fate. */
typedef struct delivery {
        int done;
        rd_kafka_resp_err_t err;
        int32_t partition;
        int64_t offset;
} delivery_t;

static void on_delivery(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err, int32_t partition,
                        int64_t offset)
{
        delivery_t *d = msg_opaque;

        if (!d)
                return;
        d->done = 1;
        d->err = err;
        d->partition = partition;
        d->offset = offset;
}

static int publish_locked(ci_ingest_t *ci, osh_kafka_msg_t *msgs, delivery_t *dl, size_t n);
static int partition_count(ci_ingest_t *ci, const char *topic);

/* The store's checkpoints go through the batch path's producer (lock held). */
static int publish_cb(void *opaque, osh_kafka_msg_t *msgs, size_t n)
{
        delivery_t *dl = calloc(n ? n : 1, sizeof(*dl));
        int rc;

        if (!dl)
                return -1;
        rc = publish_locked(opaque, msgs, dl, n);
        free(dl);
        return rc;
}

ci_ingest_t *ci_ingest_new(const ci_ingest_opts_t *o, char *errstr, size_t errstr_size)
{
        ci_ingest_t *ci = calloc(1, sizeof(*ci));
        rd_kafka_conf_t *conf = NULL;
        char tmo[32];

        if (!ci) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        pthread_mutex_init(&ci->lock, NULL);
        ci->max_batch_bytes =
            o->max_batch_bytes ? o->max_batch_bytes : OSH_TRANSFER_DEFAULT_MAX_BYTES;
        ci->delivery_timeout_ms = o->delivery_timeout_ms > 0 ? o->delivery_timeout_ms : 30000;
        ci->hb = o->hb;
        ci->target = strdup(o->target ? o->target : "cloud");
        ci->al = osh_allowlist_parse(o->allow ? o->allow : "", errstr, errstr_size);
        if (!ci->target || !ci->al)
                goto fail;
        if (osh_allowlist_check_segments(ci->al, OSH_SEG_EXCHANGE, OSH_SEG_CLOUD, errstr,
                                         errstr_size))
                goto fail;
        conf = osh_kafka_conf_new(o->cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, errstr, errstr_size);
        snprintf(tmo, sizeof(tmo), "%" PRId64, ci->delivery_timeout_ms);
        if (!conf || osh_kafka_conf_set(conf, "message.timeout.ms", tmo, errstr, errstr_size))
                goto fail;
        ci->p = osh_producer_new(conf, errstr, errstr_size);
        conf = NULL;
        if (!ci->p)
                goto fail;
        osh_producer_set_delivery_cb(ci->p, on_delivery, ci);
        ci->store = ci_store_new(o->cfg, errstr, errstr_size);
        if (!ci->store)
                goto fail;
        ci_store_set_publisher(ci->store, publish_cb, ci);
        /* Warms the producer's metadata for the checkpoint topic: the first
         * checkpoint (and so the first Ack) would otherwise wait ~0.5 s. */
        partition_count(ci, CI_TOPIC_OFFSETS);
        return ci;
fail:
        if (conf)
                rd_kafka_conf_destroy(conf);
        ci_ingest_destroy(ci);
        return NULL;
}

void ci_ingest_destroy(ci_ingest_t *ci)
{
        if (!ci)
                return;
        osh_producer_destroy(ci->p);
        ci_store_destroy(ci->store);
        osh_allowlist_destroy(ci->al);
        for (size_t i = 0; i < ci->pc_cnt; i++)
                free(ci->pc[i].topic);
        free(ci->pc);
        free(ci->target);
        pthread_mutex_destroy(&ci->lock);
        free(ci);
}

int ci_ingest_recover(ci_ingest_t *ci, char *errstr, size_t errstr_size)
{
        int rc;

        pthread_mutex_lock(&ci->lock);
        rc = ci_store_recover(ci->store, ci->al, errstr, errstr_size);
        pthread_mutex_unlock(&ci->lock);
        return rc;
}

size_t ci_ingest_max_batch_bytes(const ci_ingest_t *ci)
{
        return ci->max_batch_bytes;
}

int64_t ci_ingest_watermark(ci_ingest_t *ci, const char *topic, int32_t partition)
{
        int64_t v;

        pthread_mutex_lock(&ci->lock);
        v = ci_state_offset(ci_store_state(ci->store), topic, partition);
        pthread_mutex_unlock(&ci->lock);
        return v;
}

void ci_ingest_count_reject(ci_ingest_t *ci)
{
        pthread_mutex_lock(&ci->lock);
        ci->rejected++;
        pthread_mutex_unlock(&ci->lock);
        if (ci->hb)
                osh_heartbeat_count(ci->hb, OSH_CTR_REJECTED, 1);
}

void ci_ingest_counters(ci_ingest_t *ci, uint64_t *ok, uint64_t *dup, uint64_t *rejected,
                        uint64_t *published, int64_t *last_batch_ms)
{
        pthread_mutex_lock(&ci->lock);
        *ok = ci->ok;
        *dup = ci->dup;
        *rejected = ci->rejected;
        *published = ci->published;
        *last_batch_ms = ci->last_batch_ms;
        pthread_mutex_unlock(&ci->lock);
}

/* ---- producing ---------------------------------------------------------- */

/* Waits for every delivery report. librdkafka reports each message within
 * message.timeout.ms, so this ends; leaving earlier would let a late report
 * write into freed memory. */
static int publish_locked(ci_ingest_t *ci, osh_kafka_msg_t *msgs, delivery_t *dl, size_t n)
{
        size_t sent = 0, pending;
        int failed = 0;

        for (; sent < n; sent++) {
                dl[sent] = (delivery_t){0};
                if (osh_producer_send(ci->p, &msgs[sent], &dl[sent])) {
                        if (msgs[sent].headers)
                                rd_kafka_headers_destroy(msgs[sent].headers);
                        dl[sent].done = 1;
                        dl[sent].err = RD_KAFKA_RESP_ERR__FAIL;
                        failed = 1;
                }
                msgs[sent].headers = NULL;
        }
        do {
                /* flush, not poll: the batch waits for these records anyway,
                 * so linger.ms would only add latency to every Ack. */
                rd_kafka_flush(osh_producer_handle(ci->p), 20);
                pending = 0;
                for (size_t i = 0; i < n; i++)
                        pending += !dl[i].done;
        } while (pending);
        for (size_t i = 0; i < n; i++)
                failed |= dl[i].err != RD_KAFKA_RESP_ERR_NO_ERROR;
        return failed ? -1 : 0;
}

int ci_ingest_publish(ci_ingest_t *ci, osh_kafka_msg_t *msgs, size_t n)
{
        delivery_t *dl = calloc(n ? n : 1, sizeof(*dl));
        int rc;

        if (!dl) {
                for (size_t i = 0; i < n; i++)
                        if (msgs[i].headers)
                                rd_kafka_headers_destroy(msgs[i].headers);
                return -1;
        }
        pthread_mutex_lock(&ci->lock);
        rc = publish_locked(ci, msgs, dl, n);
        pthread_mutex_unlock(&ci->lock);
        free(dl);
        return rc;
}

/* Partition count of a cloud topic (cached), 0 when unknown. */
static int partition_count(ci_ingest_t *ci, const char *topic)
{
        char why[256];
        int count;

        for (size_t i = 0; i < ci->pc_cnt; i++)
                if (!strcmp(ci->pc[i].topic, topic))
                        return ci->pc[i].count;
        count = osh_scan_partition_count(osh_producer_handle(ci->p), topic, CI_METADATA_MS, why,
                                         sizeof(why));
        if (count > 0) {
                struct part_count *n = realloc(ci->pc, (ci->pc_cnt + 1) * sizeof(*n));
                if (n && (n[ci->pc_cnt].topic = strdup(topic))) {
                        n[ci->pc_cnt++].count = count;
                }
                if (n)
                        ci->pc = n;
        }
        return count;
}

/* The record's own headers (minus earlier hops' provenance), then ours. */
static rd_kafka_headers_t *make_headers(const Osh__TransferBatch *b, const Osh__Record *r)
{
        rd_kafka_headers_t *h = rd_kafka_headers_new(r->n_headers + 1);
        char v[512];
        int n = osh_src_format(v, sizeof(v), b->source_segment, r->topic, r->partition, r->offset);

        for (size_t j = 0; j < r->n_headers; j++) {
                const Osh__Header *x = r->headers[j];
                int has = x->value_opt_case == OSH__HEADER__VALUE_OPT_VALUE;
                if (!osh_src_is_header(x->key))
                        rd_kafka_header_add(h, x->key, -1, has ? x->value.data : NULL,
                                            has ? (ssize_t)x->value.len : 0);
        }
        if (n >= 0) /* always fits: segment names and topics are short */
                rd_kafka_header_add(h, OSH_HDR_SRC, -1, v, n);
        return h;
}

static void fill_msg(ci_ingest_t *ci, const Osh__TransferBatch *b, const Osh__Record *r,
                     osh_kafka_msg_t *m)
{
        int parts = partition_count(ci, r->topic);

        memset(m, 0, sizeof(*m));
        m->topic = r->topic;
        m->partition = r->partition < parts ? r->partition : RD_KAFKA_PARTITION_UA;
        if (r->key_opt_case == OSH__RECORD__KEY_OPT_KEY) {
                m->key = r->key.data ? (const void *)r->key.data : "";
                m->key_len = r->key.len;
        }
        if (r->value_opt_case == OSH__RECORD__VALUE_OPT_VALUE) {
                m->value = r->value.data ? (const void *)r->value.data : "";
                m->value_len = r->value.len;
        }
        m->headers = make_headers(b, r);
        m->timestamp_ms = r->timestamp_ms > 0 ? r->timestamp_ms : 0;
}

/* ---- the batch path ----------------------------------------------------- */

static void reject(ci_ingest_t *ci, osh_http_reply_t *rep, int status, const char *reason)
{
        ci->rejected++;
        if (ci->hb)
                osh_heartbeat_count(ci->hb, OSH_CTR_REJECTED, 1);
        osh_http_reply_error(rep, status, reason);
}

/* Step 3: every record's topic and schema fingerprint. */
static int check_allowed(ci_ingest_t *ci, const Osh__TransferBatch *b, char *reason, size_t size)
{
        for (size_t i = 0; i < b->n_records; i++) {
                const Osh__Record *r = b->records[i];
                int has = r->value_opt_case == OSH__RECORD__VALUE_OPT_VALUE;
                osh_allow_verdict_t v = osh_allowlist_check(
                    ci->al, r->topic, has ? r->value.data : NULL, has ? r->value.len : 0, 1);
                if (v != OSH_ALLOW_OK) {
                        snprintf(reason, size, "record %zu (topic %s): not allowed (%s)", i,
                                 r->topic, osh_allow_verdict_name(v));
                        return -1;
                }
        }
        return 0;
}

static int same_part(const Osh__Record *a, const Osh__Record *b)
{
        return a->partition == b->partition && !strcmp(a->topic, b->topic);
}

/* Raises watermarks through the delivered prefix of each partition's records,
 * so a failed record is never skipped by a later retry. Failures are rare,
 * so the list of blocked partitions stays short: linear in practice.
 * blocked: room for n records, scratch. */
static void advance(ci_ingest_t *ci, const Osh__TransferBatch *b, const size_t *idx,
                    const delivery_t *dl, size_t n, const Osh__Record **blocked)
{
        ci_state_t *src = ci_store_state(ci->store);
        size_t nb = 0;

        for (size_t k = 0; k < n; k++) {
                const Osh__Record *r = b->records[idx[k]];
                int is_blocked = 0;
                for (size_t j = 0; j < nb && !is_blocked; j++)
                        is_blocked = same_part(blocked[j], r);
                if (dl[k].err && !is_blocked)
                        blocked[nb++] = r;
                if (dl[k].err || is_blocked)
                        continue;
                ci_state_offset_raise(src, r->topic, r->partition, r->offset);
                ci_store_dest_raise(ci->store, r->topic, dl[k].partition, dl[k].offset);
        }
}

/* Open-addressing set of records (by topic, partition, offset) for the
 * in-batch duplicate check: a batch holds thousands of records, so the
 * pairwise comparison it replaces was quadratic. */
typedef struct rec_set {
        const Osh__Record **slot;
        size_t mask;
} rec_set_t;

static int rec_set_init(rec_set_t *s, size_t n)
{
        size_t cap = 16;

        while (cap < 2 * n)
                cap *= 2;
        s->mask = cap - 1;
        s->slot = calloc(cap, sizeof(*s->slot));
        return s->slot ? 0 : -1;
}

static size_t rec_hash(const Osh__Record *r)
{
        uint64_t h = 1469598103934665603ULL; /* FNV-1a over the topic */

        for (const char *c = r->topic; *c; c++)
                h = (h ^ (unsigned char)*c) * 1099511628211ULL;
        h ^= (uint64_t)(uint32_t)r->partition * 0x9E3779B97F4A7C15ULL;
        h ^= (uint64_t)r->offset * 0xC2B2AE3D27D4EB4FULL;
        return (size_t)(h ^ (h >> 29));
}

/* 1 if r was already added, else adds it and returns 0. */
static int rec_set_seen(rec_set_t *s, const Osh__Record *r)
{
        for (size_t i = rec_hash(r) & s->mask;; i = (i + 1) & s->mask) {
                if (!s->slot[i]) {
                        s->slot[i] = r;
                        return 0;
                }
                if (s->slot[i]->offset == r->offset && same_part(s->slot[i], r))
                        return 1;
        }
}

/* Steps 5 and 6. Returns the number published, -1 on a delivery failure. */
static long publish_new(ci_ingest_t *ci, const Osh__TransferBatch *b)
{
        ci_state_t *src = ci_store_state(ci->store);
        osh_kafka_msg_t *msgs = calloc(b->n_records + 1, sizeof(*msgs));
        delivery_t *dl = calloc(b->n_records + 1, sizeof(*dl));
        size_t *idx = calloc(b->n_records + 1, sizeof(*idx));
        const Osh__Record **blocked = calloc(b->n_records + 1, sizeof(*blocked));
        rec_set_t seen = {0};
        size_t n = 0;
        long rc = -1;

        if (!msgs || !dl || !idx || !blocked || rec_set_init(&seen, b->n_records))
                goto out;
        for (size_t i = 0; i < b->n_records; i++) {
                const Osh__Record *r = b->records[i];
                if (r->offset <= ci_state_offset(src, r->topic, r->partition) ||
                    rec_set_seen(&seen, r)) /* repeated inside one batch */
                        continue;
                fill_msg(ci, b, r, &msgs[n]);
                idx[n++] = i;
        }
        int failed = publish_locked(ci, msgs, dl, n);
        advance(ci, b, idx, dl, n, blocked);
        rc = failed ? -1 : (long)n;
out:
        free(seen.slot);
        free(blocked);
        free(msgs);
        free(dl);
        free(idx);
        return rc;
}

static void reply_ack(ci_ingest_t *ci, const Osh__TransferBatch *b, int duplicate,
                      osh_http_reply_t *rep)
{
        ci_state_t *src = ci_store_state(ci->store);
        Osh__Ack ack = OSH__ACK__INIT;
        Osh__CommittedOffset *co = calloc(b->n_records + 1, sizeof(*co));
        Osh__CommittedOffset **cp = calloc(b->n_records + 1, sizeof(*cp));
        uint8_t *buf = NULL;
        size_t len = 0, n = 0;
        char err[128];

        if (!co || !cp)
                goto oom;
        for (size_t i = 0; i < b->n_records; i++) {
                const Osh__Record *r = b->records[i];
                int seen = 0;
                for (size_t j = 0; j < n && !seen; j++)
                        seen = co[j].partition == r->partition && !strcmp(co[j].topic, r->topic);
                if (seen)
                        continue;
                osh__committed_offset__init(&co[n]);
                co[n].topic = r->topic;
                co[n].partition = r->partition;
                co[n].through_offset = ci_state_offset(src, r->topic, r->partition);
                cp[n] = &co[n];
                n++;
        }
        ack.sequence = b->sequence;
        ack.status =
            duplicate ? OSH__ACK_STATUS__ACK_STATUS_DUPLICATE : OSH__ACK_STATUS__ACK_STATUS_OK;
        ack.n_committed = n;
        ack.committed = cp;
        if (osh_transfer_pack_message(&ack.base, &buf, &len, err, sizeof(err)))
                goto oom;
        osh_http_reply_take(rep, 200, CI_MEDIA_PROTOBUF, buf, len);
        free(co);
        free(cp);
        return;
oom:
        free(co);
        free(cp);
        osh_http_reply_error(rep, 503, "out of memory");
}

static void sender_name(const Osh__TransferBatch *b, char *out, size_t size)
{
        snprintf(out, size, "%s/%s", b->source_segment, b->source_instance);
}

/* Steps 4-8 under the lock. */
static void ingest_locked(ci_ingest_t *ci, const Osh__TransferBatch *b, osh_http_reply_t *rep)
{
        char sender[300];
        long published;

        sender_name(b, sender, sizeof(sender));
        if (ci_state_seq_check(ci_store_seqs(ci->store), sender, b->sequence,
                               b->payload_sha256.data) == CI_SEQ_CONFLICT) {
                osh_warn("batch %s#%" PRIu64 ": different payload under a sequence already seen",
                         sender, b->sequence);
                reject(ci, rep, 409,
                       "sequence conflict: a different batch was already received "
                       "under this sequence number");
                return;
        }
        published = publish_new(ci, b);
        if (published < 0) {
                osh_warn("batch %s#%" PRIu64 ": delivery to the cloud cluster failed; asking "
                         "for a retry",
                         sender, b->sequence);
                osh_http_reply_error(rep, 503, "delivery to the cloud cluster failed, retry");
                osh_http_reply_header(rep, "Retry-After", "1");
                if (ci->hb)
                        osh_heartbeat_count(ci->hb, OSH_CTR_ERRORS, 1);
                return;
        }
        ci_state_seq_record(ci_store_seqs(ci->store), sender, b->sequence, b->payload_sha256.data);
        if (ci_store_checkpoint(ci->store, sender, b->sequence, b->payload_sha256.data))
                osh_warn("checkpoint on %s failed; a restart rescans the cloud topics",
                         CI_TOPIC_OFFSETS);
        if (published) {
                ci->ok++;
                ci->published += (uint64_t)published;
        } else {
                ci->dup++;
        }
        ci->last_batch_ms = osh_wall_ms();
        if (ci->hb) {
                osh_heartbeat_count(ci->hb, OSH_CTR_IN, b->n_records);
                osh_heartbeat_count(ci->hb, OSH_CTR_OUT, (uint64_t)published);
        }
        osh_info("batch %s#%" PRIu64 ": %zu records, %ld published, %zu duplicates", sender,
                 b->sequence, b->n_records, published, b->n_records - (size_t)published);
        reply_ack(ci, b, published == 0 && b->n_records > 0, rep);
}

void ci_ingest_batch(ci_ingest_t *ci, const uint8_t *body, size_t len, osh_http_reply_t *rep)
{
        osh_transfer_limits_t lim = {ci->max_batch_bytes, 0};
        char err[256], reason[400];
        Osh__TransferBatch *b = osh_transfer_unpack(body, len, &lim, err, sizeof(err));

        pthread_mutex_lock(&ci->lock);
        if (!b) {
                snprintf(reason, sizeof(reason), "malformed batch: %s", err);
                reject(ci, rep, 400, reason);
        } else if (strcmp(b->target, ci->target)) {
                snprintf(reason, sizeof(reason), "batch is addressed to '%.64s', not '%s'",
                         b->target, ci->target);
                reject(ci, rep, 400, reason);
        } else if (check_allowed(ci, b, reason, sizeof(reason))) {
                osh_warn("batch refused: %s", reason);
                reject(ci, rep, 422, reason);
        } else {
                ingest_locked(ci, b, rep);
        }
        pthread_mutex_unlock(&ci->lock);
        osh_transfer_batch_free(b);
}
