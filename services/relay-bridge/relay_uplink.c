/* exchange -> cloud uplink.
 *
 * Every batch goes through the disk spool (write-ahead): records are
 * batched (count, bytes, linger; a batch ships early when the source went
 * quiet and no batch waits for an Ack), packed as a TransferBatch with the
 * spool's next sequence, appended to the spool, and the spool is sent
 * oldest first. Only an Ack removes an entry, and source offsets are
 * stored only through what the Ack confirms. While the cloud is down the
 * spool grows; above spool.alarm.bytes the relay turns DEGRADED, and when a
 * batch no longer fits it pauses its partitions (back-pressure, no loss).
 *
 * After a crash the spool still holds unacknowledged batches; records the
 * consumer reads again that are already spooled (offset <= the partition's
 * spool mark) are not batched twice, only tracked until their Ack.
 *
 * The batch just spooled is also kept in memory with its extents (highest
 * offset per partition), so its first send neither re-reads the file nor
 * unpacks and re-hashes it; only batches from before a restart take the
 * disk path. One batch is in flight at a time: cloud-ingest de-duplicates by
 * per-partition watermark, so a later batch landing first would make an
 * earlier one's records look like duplicates.
 *
 * Threads: the main thread consumes, batches and spools; a sender thread
 * POSTs the spool, so the link and the consumer overlap. u->mu guards the
 * spool, the tracker and the counters; nobody holds it during a request. */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/clock.h"
#include "oshirase/http_client.h"
#include "oshirase/log.h"
#include "oshirase/retry.h"
#include "oshirase/signal.h"
#include "oshirase/spool.h"
#include "oshirase/transfer.h"
#include "relay_batch.h"
#include "relay_common.h"
#include "relay_http.h"

#define RB_SENDER_IDLE_MS 50   /* the sender's nap when the spool is empty */
#define RB_SENDER_JOIN_MS 3000 /* shutdown waits this long for a request in flight */
#define RB_POLL_MS        100  /* longest poll: the batch linger and SIGTERM are checked */
#define RB_STATE_MS       200  /* spool alarm and pause are re-checked this often */
/* With nothing waiting for an Ack, an open batch ships once the source has
 * been quiet this long (not after batch.linger): see rb_uplink_run. Longer
 * than the gaps of a stream (producer linger 5 ms, fetch wait 20 ms), so a
 * stream still fills batches instead of shipping each fetch alone. */
#define RB_QUIET_MS 30

/* Highest offset a batch holds for one partition of the tracker. */
typedef struct extent {
        rb_tpart_t *part;
        int64_t max;
} extent_t;

/* A spooled batch as the sender needs it. */
typedef struct sendable {
        struct sendable *next;
        uint64_t seq;
        uint8_t *data; /* owned */
        size_t len, n_records, n_ext;
        extent_t *ext; /* owned */
} sendable_t;

typedef struct uplink {
        const rb_config_t *rc;
        osh_service_t *svc;
        osh_consumer_t *cons;
        rb_track_t *track;
        osh_spool_t *spool;
        osh_http_client_t *http;       /* sender thread's */
        osh_http_client_t *probe_http; /* main thread's */
        rb_batch_t *batch;
        extent_t *open_ext; /* extents of the open batch */
        size_t open_n, open_cap;
        sendable_t *mem_head, *mem_tail; /* spooled batches still in memory */
        pthread_t sender;
        pthread_mutex_t mu;
        pthread_cond_t cv; /* a batch was spooled, or stop */
        int sender_started, stop;
        rb_counts_t cnt;
        unsigned attempt, rnd;
        int64_t next_try_ms, next_probe_ms; /* osh_mono_ms() */
        int64_t batch_t0;                   /* osh_mono_ms() when the open batch started */
        int64_t last_rec_ms;                /* osh_mono_ms() of the last record polled */
        int paused, degraded, alarm, failing;
        uint64_t alarms, batches_ok, batches_dup, batches_retry, batches_rejected;
        char url[512], probe_url[512];
} uplink_t;

/* ---- sending ---------------------------------------------------------- */

static void sendable_free(sendable_t *sb)
{
        if (!sb)
                return;
        free(sb->data);
        free(sb->ext);
        free(sb);
}

/* Marks records of a finished batch done: through the Ack's offsets, never
 * past what the batch carried. ack NULL (refused for good): everything. */
static void finish_batch(uplink_t *u, const sendable_t *sb, const Osh__Ack *ack)
{
        for (size_t i = 0; i < sb->n_ext; i++) {
                rb_tpart_t *p = sb->ext[i].part;
                int64_t through = ack ? -1 : sb->ext[i].max;
                for (size_t j = 0; ack && j < ack->n_committed; j++) {
                        const Osh__CommittedOffset *c = ack->committed[j];
                        if (c->partition == rb_tpart_partition(p) &&
                            !strcmp(c->topic, rb_tpart_topic(p)))
                                through = c->through_offset < sb->ext[i].max ? c->through_offset
                                                                             : sb->ext[i].max;
                }
                if (through >= 0)
                        rb_store(u->cons, p, rb_track_done_through(p, through));
        }
}

static void backoff(uplink_t *u, int64_t retry_after_ms, int slow)
{
        int64_t d = osh_backoff_ms(slow ? 30 : u->attempt, u->rc->retry_base_ms,
                                   u->rc->retry_max_ms, retry_after_ms, &u->rnd);
        u->attempt++;
        u->next_try_ms = osh_mono_ms() + d;
        u->batches_retry++;
        if (!u->failing)
                osh_warn("cloud not accepting batches; spooling, retrying (next in %" PRId64 " ms)",
                         d);
        u->failing = 1;
}

/* The cloud's probe answered: a spool waiting out its back-off (up to
 * retry.max after a long outage) is sent now, not when the timer says. */
static void probe_answered(uplink_t *u)
{
        pthread_mutex_lock(&u->mu);
        if (u->failing && u->next_try_ms > osh_mono_ms()) {
                osh_info("uplink: the cloud's probe answers; sending the spool now");
                u->next_try_ms = 0;
                pthread_cond_signal(&u->cv);
        }
        pthread_mutex_unlock(&u->mu);
}

/* The head was refused for good: keep it in rejected/ for an operator and
 * let its offsets go, so one poisoned batch cannot block the link. */
static void reject_head(uplink_t *u, uint64_t seq, const sendable_t *b, const char *why)
{
        char errstr[256];

        osh_error("batch %" PRIu64 " refused by the cloud (%s): moved to spool rejected/", seq,
                  why);
        if (osh_spool_reject(u->spool, seq, errstr, sizeof(errstr)))
                osh_error("%s", errstr);
        u->batches_rejected++;
        osh_service_count(u->svc, OSH_CTR_ERRORS, 1);
        if (b)
                finish_batch(u, b, NULL);
}

static void acked(uplink_t *u, uint64_t seq, const sendable_t *b, const Osh__Ack *ack)
{
        char errstr[256];

        if (osh_spool_pop(u->spool, seq, errstr, sizeof(errstr))) {
                osh_error("%s", errstr);
                return;
        }
        finish_batch(u, b, ack);
        u->cnt.out += b->n_records;
        osh_service_count(u->svc, OSH_CTR_OUT, b->n_records);
        if (ack->status == OSH__ACK_STATUS__ACK_STATUS_DUPLICATE)
                u->batches_dup++;
        else
                u->batches_ok++;
        if (u->failing)
                osh_info("cloud accepting batches again (batch %" PRIu64 ")", seq);
        u->failing = 0;
        u->attempt = 0;
        u->next_try_ms = 0;
}

static void on_200(uplink_t *u, uint64_t seq, const sendable_t *b, const osh_http_response_t *r)
{
        char errstr[256];
        Osh__Ack *ack =
            osh_transfer_ack_unpack((const uint8_t *)r->body, r->body_len, errstr, sizeof(errstr));

        if (!ack || ack->sequence != seq) {
                osh_warn("batch %" PRIu64 ": unusable Ack (%s)", seq,
                         ack ? "sequence mismatch" : errstr);
                backoff(u, 0, 0);
        } else if (ack->status == OSH__ACK_STATUS__ACK_STATUS_OK ||
                   ack->status == OSH__ACK_STATUS__ACK_STATUS_DUPLICATE) {
                acked(u, seq, b, ack);
        } else if (ack->status == OSH__ACK_STATUS__ACK_STATUS_RETRY) {
                backoff(u, r->retry_after_ms, 0);
        } else {
                reject_head(u, seq, b, ack->error && *ack->error ? ack->error : "REJECTED");
        }
        if (ack)
                osh__ack__free_unpacked(ack, NULL);
}

static void classify(uplink_t *u, uint64_t seq, const sendable_t *b, const osh_http_response_t *r)
{
        long st = r->status;

        if (st == 200) {
                on_200(u, seq, b, r);
        } else if (osh_delivery_from_http(st) == OSH_DELIVERY_RETRY) {
                if (st)
                        osh_debug("batch %" PRIu64 ": HTTP %ld", seq, st);
                else
                        osh_debug("batch %" PRIu64 ": %s", seq, r->errstr);
                backoff(u, r->retry_after_ms, 0);
        } else if (st == 401 || st == 403 || st == 409) {
                /* Credentials or sequence state disagree: an operator must act;
                 * keep the data and retry slowly. */
                osh_error("batch %" PRIu64 ": HTTP %ld from the cloud: %.200s", seq, st,
                          r->body ? r->body : "");
                osh_service_count(u->svc, OSH_CTR_ERRORS, 1);
                backoff(u, r->retry_after_ms, 1);
        } else {
                char why[64];
                snprintf(why, sizeof(why), "HTTP %ld", st);
                reject_head(u, seq, b, why);
        }
}

/* A batch read back from the spool (written before a restart): unpacked,
 * checked, and its extents rebuilt. NULL with errstr if it is unusable. */
static sendable_t *from_disk(uplink_t *u, uint64_t seq, uint8_t *data, size_t len, char *errstr,
                             size_t errstr_size)
{
        Osh__TransferBatch *b = osh_transfer_unpack(data, len, NULL, errstr, errstr_size);
        rb_batch_extent_t ext[256];
        sendable_t *sb = b ? calloc(1, sizeof(*sb)) : NULL;
        size_t n = b ? rb_batch_extents(b, ext, sizeof(ext) / sizeof(ext[0])) : 0;

        if (sb && !(sb->ext = calloc(n + 1, sizeof(*sb->ext))))
                goto fail;
        for (size_t i = 0; sb && i < n; i++) {
                rb_tpart_t *p = rb_track_part(u->track, ext[i].topic, ext[i].partition);
                if (!p)
                        goto fail;
                sb->ext[sb->n_ext++] = (extent_t){p, ext[i].max_offset};
        }
        if (sb) {
                sb->seq = seq;
                sb->data = data;
                sb->len = len;
                sb->n_records = b->n_records;
        } else if (b) {
                snprintf(errstr, errstr_size, "out of memory");
        }
        osh_transfer_batch_free(b);
        return sb;
fail:
        snprintf(errstr, errstr_size, "out of memory");
        osh_transfer_batch_free(b);
        sendable_free(sb);
        return NULL;
}

/* The spool's head, from memory when it is the batch spooled last (no
 * re-read, no unpack + re-hash). Drops memory copies the spool no longer
 * holds. Lock held. 0 with *out set (*own: the caller frees it), 1 when
 * nothing is due, -1 after an unusable entry was handled. */
static int take_head(uplink_t *u, sendable_t **out, int *own)
{
        osh_spool_stats_t st;
        char errstr[256];
        uint8_t *data;
        size_t len;
        uint64_t seq;
        int rc;

        osh_spool_stats(u->spool, &st);
        while (u->mem_head && (!st.count || u->mem_head->seq < st.first_seq)) {
                sendable_t *old = u->mem_head;
                u->mem_head = old->next;
                sendable_free(old);
        }
        if (!u->mem_head)
                u->mem_tail = NULL;
        *own = 0;
        if (!st.count || osh_mono_ms() < u->next_try_ms)
                return 1;
        if (u->mem_head && u->mem_head->seq == st.first_seq) {
                *out = u->mem_head;
                return 0;
        }
        rc = osh_spool_peek(u->spool, &seq, &data, &len, errstr, sizeof(errstr));
        if (rc)
                return rc < 0 ? (osh_error("%s", errstr), 1) : 1;
        *out = from_disk(u, seq, data, len, errstr, sizeof(errstr));
        if (!*out) {
                reject_head(u, seq, NULL, errstr); /* cannot happen unless the disk lies */
                free(data);
                return -1;
        }
        *own = 1;
        return 0;
}

/* Sends the oldest spooled batch if one is due: 1 if it tried, 0 if not. */
static int send_one(uplink_t *u)
{
        osh_http_response_t resp;
        sendable_t *sb = NULL;
        int own, rc;

        pthread_mutex_lock(&u->mu);
        rc = take_head(u, &sb, &own);
        pthread_mutex_unlock(&u->mu);
        if (rc)
                return rc < 0;
        /* sb stays valid unlocked: only this thread frees memory copies. */
        rb_post(u->rc, u->http, u->url, "/v1/batches", sb->seq, sb->data, sb->len, &resp);
        pthread_mutex_lock(&u->mu);
        classify(u, sb->seq, sb, &resp);
        pthread_mutex_unlock(&u->mu);
        osh_http_response_free(&resp);
        if (own)
                sendable_free(sb);
        return 1;
}

static void *sender_main(void *opaque)
{
        uplink_t *u = opaque;
        struct timespec ts;

        while (!__atomic_load_n(&u->stop, __ATOMIC_ACQUIRE)) {
                if (send_one(u))
                        continue;
                ts = osh_wall_deadline(RB_SENDER_IDLE_MS); /* also re-checks a due retry */
                pthread_mutex_lock(&u->mu);
                if (!u->stop)
                        pthread_cond_timedwait(&u->cv, &u->mu, &ts);
                pthread_mutex_unlock(&u->mu);
        }
        return NULL;
}

/* ---- batching --------------------------------------------------------- */

/* Keeps a just-spooled batch in memory for its first send (buf passes to
 * it). Without memory the sender simply reads it back from the spool. */
static void keep(uplink_t *u, uint8_t *buf, size_t len)
{
        sendable_t *sb = calloc(1, sizeof(*sb));

        if (!sb || !(sb->ext = malloc((u->open_n + 1) * sizeof(*sb->ext)))) {
                free(sb);
                free(buf);
                return;
        }
        memcpy(sb->ext, u->open_ext, u->open_n * sizeof(*sb->ext));
        sb->n_ext = u->open_n;
        sb->seq = rb_batch_seq(u->batch);
        sb->data = buf;
        sb->len = len;
        sb->n_records = rb_batch_count(u->batch);
        if (u->mem_tail)
                u->mem_tail->next = sb;
        else
                u->mem_head = sb;
        u->mem_tail = sb;
}

/* Records offset as the open batch's highest for p. 0 / -1 on OOM. */
static int note_extent(uplink_t *u, rb_tpart_t *p, int64_t offset)
{
        extent_t *n;

        for (size_t i = 0; i < u->open_n; i++)
                if (u->open_ext[i].part == p) {
                        if (offset > u->open_ext[i].max)
                                u->open_ext[i].max = offset;
                        return 0;
                }
        if (u->open_n == u->open_cap) {
                size_t cap = u->open_cap ? u->open_cap * 2 : 16;
                if (!(n = realloc(u->open_ext, cap * sizeof(*n))))
                        return -1;
                u->open_ext = n;
                u->open_cap = cap;
        }
        u->open_ext[u->open_n++] = (extent_t){p, offset};
        return 0;
}

/* Packs the open batch into the spool. -1 when the spool is full (the
 * batch stays open; the caller pauses consumption). */
static int flush(uplink_t *u)
{
        char errstr[256] = "";
        uint8_t *buf = NULL;
        size_t len = 0;

        if (!rb_batch_count(u->batch))
                return 0;
        if (rb_batch_pack(u->batch, &buf, &len, errstr, sizeof(errstr)))
                goto fail;
        if (osh_spool_would_overflow(u->spool, len)) {
                free(buf);
                return -1; /* full: update_state() pauses consumption */
        }
        if (osh_spool_append(u->spool, rb_batch_seq(u->batch), buf, len, errstr, sizeof(errstr)))
                goto fail;
        keep(u, buf, len); /* takes buf */
        rb_batch_clear(u->batch);
        u->open_n = 0;
        pthread_cond_signal(&u->cv);
        return 0;
fail:
        osh_error("%s", errstr);
        free(buf);
        return -1;
}

static void handle(uplink_t *u, const rd_kafka_message_t *m)
{
        const char *topic = rd_kafka_topic_name(m->rkt);
        rb_tpart_t *p = rb_track_part(u->track, topic, m->partition);
        osh_allow_verdict_t v;
        char errstr[256];

        if (!p) {
                osh_error("out of memory");
                osh_shutdown_request();
                return;
        }
        rb_store(u->cons, p, rb_track_add(p, m->offset));
        if (m->offset <= rb_tpart_mark(p))
                return; /* already spooled before a restart: wait for its Ack */
        u->cnt.in++;
        osh_service_count(u->svc, OSH_CTR_IN, 1);
        v = osh_allowlist_check(u->rc->allow, topic, m->payload, m->len, u->rc->validate);
        if (v != OSH_ALLOW_OK) {
                rb_refused(u->rc, u->svc, &u->cnt, m, v);
                rb_store(u->cons, p, rb_track_done(p, m->offset));
                return;
        }
        if (rb_batch_would_exceed(u->batch, m))
                flush(u); /* full spool: the batch just grows past its limit for now */
        if (!rb_batch_count(u->batch)) {
                /* The envelope carries the wall time; linger counts elapsed time. */
                rb_batch_start(u->batch, osh_spool_next_seq(u->spool), osh_wall_ms());
                u->batch_t0 = osh_mono_ms();
        }
        snprintf(errstr, sizeof(errstr), "out of memory");
        if (note_extent(u, p, m->offset) || rb_batch_add(u->batch, m, errstr, sizeof(errstr))) {
                osh_error("%s", errstr);
                osh_shutdown_request();
                return;
        }
        rb_tpart_set_mark(p, m->offset);
        if (rb_batch_full(u->batch))
                flush(u);
}

/* ---- state ------------------------------------------------------------ */

static void set_paused(uplink_t *u, int pause)
{
        rd_kafka_topic_partition_list_t *a = NULL;
        rd_kafka_t *rk = osh_consumer_handle(u->cons);

        if (pause == u->paused || rd_kafka_assignment(rk, &a) || !a)
                return;
        if (pause)
                rd_kafka_pause_partitions(rk, a);
        else
                rd_kafka_resume_partitions(rk, a);
        rd_kafka_topic_partition_list_destroy(a);
        u->paused = pause;
        osh_log(pause ? OSH_LOG_WARN : OSH_LOG_INFO, "spool %s: consumption %s", u->rc->spool_dir,
                pause ? "paused (full)" : "resumed");
}

static void update_state(uplink_t *u)
{
        osh_spool_stats_t st;
        int alarm, degraded;

        osh_spool_stats(u->spool, &st);
        alarm = (int64_t)st.bytes > u->rc->spool_alarm;
        if (alarm && !u->alarm) {
                u->alarms++;
                osh_warn("spool %s above alarm threshold: %" PRIu64 " bytes in %" PRIu64
                         " batch(es)",
                         u->rc->spool_dir, st.bytes, st.count);
        }
        u->alarm = alarm;
        set_paused(u, rb_batch_count(u->batch) > 0 &&
                          osh_spool_would_overflow(u->spool, (size_t)u->rc->max_bytes));
        degraded = alarm || u->paused;
        if (degraded != u->degraded && u->svc->hb)
                osh_heartbeat_set_state(u->svc->hb,
                                        degraded ? OSH_STATE_DEGRADED : OSH_STATE_RUNNING);
        u->degraded = degraded;
        if (!u->svc->hb)
                return;
        rb_publish_counts(u->svc, u->cons, &u->cnt);
        osh_heartbeat_set_named(u->svc->hb, "spool_bytes", (int64_t)st.bytes);
        osh_heartbeat_set_named(u->svc->hb, "spool_batches", (int64_t)st.count);
        osh_heartbeat_set_named(u->svc->hb, "spool_alarms", (int64_t)u->alarms);
        osh_heartbeat_set_named(u->svc->hb, "batches_ok",
                                (int64_t)(u->batches_ok + u->batches_dup));
        osh_heartbeat_set_named(u->svc->hb, "batches_retry", (int64_t)u->batches_retry);
        osh_heartbeat_set_named(u->svc->hb, "batches_rejected", (int64_t)u->batches_rejected);
}

/* ---- life cycle ------------------------------------------------------- */

/* Spool marks: the highest offset per partition already spooled. */
static int mark_spooled(uint64_t seq, const uint8_t *data, size_t len, void *opaque)
{
        uplink_t *u = opaque;
        char errstr[256];
        Osh__TransferBatch *b = osh_transfer_unpack(data, len, NULL, errstr, sizeof(errstr));

        if (!b) {
                osh_warn("spool entry %" PRIu64 ": %s (it will be refused on send)", seq, errstr);
                return 0;
        }
        for (size_t i = 0; i < b->n_records; i++) {
                rb_tpart_t *p =
                    rb_track_part(u->track, b->records[i]->topic, b->records[i]->partition);
                if (!p)
                        return -1;
                if (b->records[i]->offset > rb_tpart_mark(p))
                        rb_tpart_set_mark(p, b->records[i]->offset);
        }
        osh_transfer_batch_free(b);
        return 0;
}

static int uplink_open(uplink_t *u, char *errstr, size_t errstr_size)
{
        osh_http_tls_t tls = {u->rc->ca_file, u->rc->cert_file, u->rc->key_file};
        osh_spool_stats_t st;

        snprintf(u->url, sizeof(u->url), "%s/v1/batches", u->rc->url);
        snprintf(u->probe_url, sizeof(u->probe_url), "%s/v1/probe", u->rc->url);
        u->rnd = (unsigned)osh_mono_ms();
        u->track = rb_track_new();
        u->batch =
            rb_batch_new(osh_segment_name(u->rc->from), osh_segment_name(u->rc->to),
                         u->rc->instance, (size_t)u->rc->max_records, (size_t)u->rc->max_bytes);
        u->http = osh_http_client_new(&tls);
        u->probe_http = osh_http_client_new(&tls);
        if (!u->track || !u->batch || !u->http || !u->probe_http) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        u->spool = osh_spool_open(u->rc->spool_dir, (uint64_t)u->rc->spool_max, u->rc->spool_fsync,
                                  errstr, errstr_size);
        if (!u->spool || osh_spool_foreach(u->spool, mark_spooled, u))
                return -1;
        osh_spool_stats(u->spool, &st);
        /* A brand-new spool (first start, or the old one was lost) numbers
         * from the clock, so it never reuses a sequence the cloud saw with
         * other content (409). */
        if (st.next_seq == 1 &&
            osh_spool_advance(u->spool, (uint64_t)osh_wall_ms(), errstr, errstr_size))
                return -1;
        if (st.count)
                osh_info("spool %s: %" PRIu64 " batch(es), %" PRIu64
                         " bytes waiting from before; sending them first",
                         u->rc->spool_dir, st.count, st.bytes);
        u->cons = rb_source_consumer(u->rc, u->svc, errstr, errstr_size);
        if (!u->cons)
                return -1;
        if (pthread_create(&u->sender, NULL, sender_main, u)) {
                snprintf(errstr, errstr_size, "cannot start the sender thread");
                return -1;
        }
        u->sender_started = 1;
        return 0;
}

/* Stops the sender, waiting a few seconds for a request in flight (a
 * shutdown must not hang for uplink.timeout on a silent network). Returns 1
 * if the sender is still busy: its batch simply stays in the spool. */
static int stop_sender(uplink_t *u)
{
        struct timespec ts;

        pthread_mutex_lock(&u->mu);
        __atomic_store_n(&u->stop, 1, __ATOMIC_RELEASE);
        pthread_cond_signal(&u->cv);
        pthread_mutex_unlock(&u->mu);
        ts = osh_wall_deadline(RB_SENDER_JOIN_MS);
        if (pthread_timedjoin_np(u->sender, NULL, &ts) == 0)
                return 0;
        osh_warn("a request to the cloud is still in flight at shutdown; its batch stays spooled");
        return 1;
}

/* Returns 1 if the sender was abandoned: u must then not be freed. */
static int uplink_close(uplink_t *u)
{
        int abandoned = 0;

        if (u->sender_started)
                abandoned = stop_sender(u);
        pthread_mutex_lock(&u->mu); /* an abandoned sender may still finish */
        if (u->spool && u->batch)
                flush(u); /* consumed but unsent: durable now, skipped on restart */
        if (u->cons && u->track)
                rb_store_flush(u->cons, u->track);
        pthread_mutex_unlock(&u->mu);
        osh_consumer_destroy(u->cons);
        if (abandoned)
                return 1; /* the sender still uses them; the process is exiting */
        osh_spool_close(u->spool);
        osh_http_client_destroy(u->http);
        osh_http_client_destroy(u->probe_http);
        rb_batch_destroy(u->batch);
        while (u->mem_head) {
                sendable_t *next = u->mem_head->next;
                sendable_free(u->mem_head);
                u->mem_head = next;
        }
        free(u->open_ext);
        rb_track_destroy(u->track);
        return 0;
}

/* Every spooled batch is acknowledged: the sender has nothing to do. Lock
 * held. */
static int link_idle(const uplink_t *u)
{
        osh_spool_stats_t st;

        osh_spool_stats(u->spool, &st);
        return st.count == 0;
}

static int poll_timeout(const uplink_t *u, int idle, int64_t now)
{
        int64_t t = RB_POLL_MS;

        if (rb_batch_count(u->batch)) {
                int64_t left = u->batch_t0 + u->rc->linger_ms - now;
                int64_t quiet = u->last_rec_ms + RB_QUIET_MS - now;
                t = left < t ? left : t;
                t = idle && quiet < t ? quiet : t;
        }
        return t < 0 ? 0 : (int)t;
}

int rb_uplink_run(const rb_config_t *rc, osh_service_t *svc)
{
        /* On the heap: a sender abandoned at shutdown may still touch it. */
        uplink_t *u = calloc(1, sizeof(*u));
        char errstr[512];
        int64_t next_state = 0, now;
        int abandoned, timeout = RB_POLL_MS;

        if (!u)
                return 2;
        u->rc = rc;
        u->svc = svc;
        pthread_mutex_init(&u->mu, NULL);
        pthread_cond_init(&u->cv, NULL);
        if (uplink_open(u, errstr, sizeof(errstr))) {
                osh_error("%s", errstr);
                if (!uplink_close(u))
                        free(u);
                return 2;
        }
        osh_service_ready(svc);
        while (!osh_shutdown_requested()) {
                rd_kafka_message_t *m = osh_consumer_poll(u->cons, timeout);
                pthread_mutex_lock(&u->mu);
                now = osh_mono_ms();
                if (m) {
                        handle(u, m);
                        u->last_rec_ms = now;
                }
                /* Linger only while the link is busy: once the source has
                 * been quiet for RB_QUIET_MS and no batch waits for an Ack,
                 * waiting cannot make the batch bigger sooner, only later
                 * (Nagle's rule); while a request is in flight batches keep
                 * filling up to their limits. */
                if (rb_batch_count(u->batch) &&
                    (now - u->batch_t0 >= rc->linger_ms ||
                     (!m && now - u->last_rec_ms >= RB_QUIET_MS && link_idle(u))))
                        flush(u);
                rb_store_flush(u->cons, u->track);
                if (now >= next_state) {
                        update_state(u);
                        next_state = now + RB_STATE_MS;
                }
                timeout = poll_timeout(u, link_idle(u), now);
                pthread_mutex_unlock(&u->mu);
                if (m)
                        rd_kafka_message_destroy(m);
                if (rc->probe_interval_ms > 0 && now >= u->next_probe_ms) {
                        if (rb_probe(rc, svc, u->probe_http, u->probe_url) == 0)
                                probe_answered(u);
                        u->next_probe_ms = osh_mono_ms() + rc->probe_interval_ms;
                }
        }
        abandoned = uplink_close(u);
        osh_info("uplink: %" PRIu64 " record(s) in, %" PRIu64 " acknowledged, %" PRIu64
                 " refused; batches ok %" PRIu64 ", duplicate %" PRIu64 ", retried %" PRIu64
                 ", rejected %" PRIu64,
                 u->cnt.in, u->cnt.out,
                 u->cnt.refused[1] + u->cnt.refused[2] + u->cnt.refused[3] + u->cnt.refused[4],
                 u->batches_ok, u->batches_dup, u->batches_retry, u->batches_rejected);
        if (!abandoned) {
                pthread_mutex_destroy(&u->mu);
                pthread_cond_destroy(&u->cv);
                free(u);
        }
        return 0;
}
