/* kafka -> kafka crossing. At-least-once: a source offset is stored only
 * after the target (or the dead-letter topic) acknowledged the record and
 * every record before it in that partition (relay_track). A delivery that
 * fails for good stops the relay without storing, so a restart re-reads.
 *
 * What a restart re-reads is not written twice: at start-up the relay reads
 * the tail of each target partition back for the last record it wrote from
 * that source partition (its osh.src header names the source offset; the
 * idempotent producer keeps a partition's records in order), and skips
 * source records up to that offset (docs/architecture.md, "Crash
 * recovery"). A replay (--replay) re-sends on purpose and skips nothing. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/clock.h"
#include "oshirase/log.h"
#include "oshirase/provenance.h"
#include "oshirase/scan.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"
#include "relay_common.h"

#define RB_HDR_REFUSED "osh.relay.refused" /* on dead-letter copies: the reason */
#define RB_METADATA_MS 10000               /* the start-up partition check */
/* At shutdown, the last deliveries wait this long (cut to the shutdown
 * grace); offsets of records not delivered are not committed. */
#define RB_CLOSE_FLUSH_MS 30000
/* One poll: short, so delivery reports, offsets and SIGTERM are seen. */
#define RB_POLL_MS 100
/* Counts go to the heartbeat this often. */
#define RB_COUNTS_MS 1000
/* While records stream in, the clock is read once per this many records. */
#define RB_CLOCK_EVERY 256

/* A record on its way to the target (the delivery report's opaque). */
typedef struct inflight {
        rb_tpart_t *part;
        int64_t offset;
        int dead_letter;
        struct inflight *next_free;
} inflight_t;

typedef struct k2k {
        const rb_config_t *rc;
        osh_service_t *svc;
        osh_consumer_t *cons;
        osh_producer_t *prod;
        osh_producer_t *dlq; /* on the source cluster; NULL without dead.letter.topic */
        rb_track_t *track;
        rb_counts_t cnt;
        uint64_t resumed;  /* re-read records the target held already: not sent again */
        inflight_t *spare; /* finished inflight_t, reused: no malloc per record */
        int failed;
} k2k_t;

static inflight_t *inflight_get(k2k_t *k)
{
        inflight_t *f = k->spare;

        if (!f)
                return calloc(1, sizeof(*f));
        k->spare = f->next_free;
        *f = (inflight_t){0};
        return f;
}

/* Delivery reports are served from the relay's own poll calls, on its one
 * thread, so the spare list needs no lock. */
static void inflight_put(k2k_t *k, inflight_t *f)
{
        f->next_free = k->spare;
        k->spare = f;
}

static void on_delivery(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err, int32_t partition,
                        int64_t offset)
{
        k2k_t *k = opaque;
        inflight_t *f = msg_opaque;

        (void)partition;
        (void)offset;
        if (err) {
                /* Nothing at or after this offset may be stored: stop, re-read on restart. */
                osh_error("delivery of %s[%" PRId32 "]@%" PRId64 " failed (%s): stopping",
                          rb_tpart_topic(f->part), rb_tpart_partition(f->part), f->offset,
                          rd_kafka_err2str(err));
                osh_service_count(k->svc, OSH_CTR_ERRORS, 1);
                k->failed = 1;
                osh_shutdown_request();
        } else {
                if (!f->dead_letter) {
                        k->cnt.out++;
                        osh_service_count(k->svc, OSH_CTR_OUT, 1);
                }
                if (!k->failed)
                        rb_store(k->cons, f->part, rb_track_done(f->part, f->offset));
        }
        inflight_put(k, f);
}

static int forward(k2k_t *k, const rd_kafka_message_t *m, inflight_t *f, osh_allow_verdict_t v)
{
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        osh_kafka_msg_t out = {
            .topic = f->dead_letter ? k->rc->dead_letter : rd_kafka_topic_name(m->rkt),
            .partition = f->dead_letter ? RD_KAFKA_PARTITION_UA : m->partition,
            .key = m->key,
            .key_len = m->key_len,
            .value = m->payload,
            .value_len = m->len,
            .headers = osh_src_headers(m, k->rc->src_cluster),
            .timestamp_ms = ts < 0 ? 0 : ts,
        };

        if (!out.headers)
                return -1;
        if (f->dead_letter)
                rd_kafka_header_add(out.headers, RB_HDR_REFUSED, -1, osh_allow_verdict_name(v), -1);
        if (osh_producer_send(f->dead_letter ? k->dlq : k->prod, &out, f)) {
                rd_kafka_headers_destroy(out.headers);
                return -1;
        }
        return 0;
}

/* 0 (and *sent 1 if it went to the target producer), -1 to stop. */
static int handle(k2k_t *k, const rd_kafka_message_t *m, int *sent)
{
        const char *topic = rd_kafka_topic_name(m->rkt);
        osh_allow_verdict_t v =
            osh_allowlist_check(k->rc->allow, topic, m->payload, m->len, k->rc->validate);
        rb_tpart_t *p = rb_track_part(k->track, topic, m->partition);
        inflight_t *f = inflight_get(k);

        if (!p || !f || rb_track_add(p, m->offset) == -2) {
                if (f)
                        inflight_put(k, f);
                osh_error("out of memory");
                return -1;
        }
        k->cnt.in++;
        osh_service_count(k->svc, OSH_CTR_IN, 1);
        if (v == OSH_ALLOW_OK && m->offset <= rb_tpart_mark(p)) { /* on the target (resume_point) */
                inflight_put(k, f);
                k->resumed++;
                rb_store(k->cons, p, rb_track_done(p, m->offset));
                return 0;
        }
        f->part = p;
        f->offset = m->offset;
        if (v != OSH_ALLOW_OK) {
                rb_refused(k->rc, k->svc, &k->cnt, m, v);
                if (!k->dlq) {
                        inflight_put(k, f);
                        rb_store(k->cons, p, rb_track_done(p, m->offset));
                        return 0;
                }
                f->dead_letter = 1;
        }
        if (forward(k, m, f, v)) {
                inflight_put(k, f);
                return -1;
        }
        *sent = !f->dead_letter;
        return 0;
}

/* Same partition number on both sides: a target with fewer partitions
 * cannot hold the source's layout, so refuse rather than remap. */
static int check_partitions(k2k_t *k, char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i < osh_allowlist_topic_count(k->rc->allow); i++) {
                const char *t = osh_allowlist_topic(k->rc->allow, i);
                int s = osh_scan_partition_count(osh_consumer_handle(k->cons), t, RB_METADATA_MS,
                                                 errstr, errstr_size);
                int d = s < 0 ? -1
                              : osh_scan_partition_count(osh_producer_handle(k->prod), t,
                                                         RB_METADATA_MS, errstr, errstr_size);
                if (s < 0 || d < 0)
                        return -1;
                if (d < s) {
                        snprintf(errstr, errstr_size,
                                 "%s has %d partition(s) on the target but %d on the source; "
                                 "records keep their partition number, so the target needs at "
                                 "least as many",
                                 t, d, s);
                        return -1;
                }
        }
        return 0;
}

typedef struct resume_ctx {
        char prefix[OSH_SRC_TOPIC_MAX + 300]; /* "<cluster>/<topic>/<partition>/" */
        size_t plen;
        int64_t last;
} resume_ctx_t;

/* A record this relay wrote from the source partition: its source offset. */
static int on_tail(void *opaque, const rd_kafka_message_t *m)
{
        resume_ctx_t *c = opaque;
        rd_kafka_headers_t *h;
        const void *v;
        size_t len;
        osh_src_t src;

        if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, OSH_HDR_SRC, &v, &len) ||
            !v || len <= c->plen || memcmp(v, c->prefix, c->plen) || osh_src_parse(v, len, &src))
                return 0;
        c->last = src.offset;
        return 1;
}

/* Marks, per source partition of topic t, the highest source offset the
 * target already holds from us. */
static int resume_point(k2k_t *k, osh_scan_t *sc, const char *t, int parts, char *errstr,
                        size_t errstr_size)
{
        for (int p = 0; p < parts; p++) {
                resume_ctx_t c = {.last = -1};
                rb_tpart_t *tp = rb_track_part(k->track, t, p);
                int n = snprintf(c.prefix, sizeof(c.prefix), "%s/%s/%d/",
                                 k->rc->src_cluster ? k->rc->src_cluster : "", t, p);
                if (!tp || n < 0 || (size_t)n >= sizeof(c.prefix)) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                c.plen = (size_t)n;
                if (osh_scan_last(sc, t, p, on_tail, &c, errstr, errstr_size) < 0)
                        return -1;
                rb_tpart_set_mark(tp, c.last);
                if (c.last >= 0)
                        osh_info("%s[%d]: the target holds up to source offset %" PRId64
                                 "; not sending those again",
                                 t, p, c.last);
        }
        return 0;
}

static int find_resume_points(k2k_t *k, char *errstr, size_t errstr_size)
{
        osh_scan_t *sc;
        int rc = 0;

        if (k->svc->replay.kind != OSH_REPLAY_NONE)
                return 0;
        if (!(sc = osh_scan_new(k->svc->cfg, "kafka.target.", errstr, errstr_size)))
                return -1;
        for (size_t i = 0; !rc && i < osh_allowlist_topic_count(k->rc->allow); i++) {
                const char *t = osh_allowlist_topic(k->rc->allow, i);
                int parts = osh_scan_partition_count(osh_consumer_handle(k->cons), t,
                                                     RB_METADATA_MS, errstr, errstr_size);
                rc = parts < 0 ? -1 : resume_point(k, sc, t, parts, errstr, errstr_size);
        }
        osh_scan_destroy(sc);
        return rc;
}

static int k2k_open(k2k_t *k, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf;

        k->track = rb_track_new();
        k->cons = rb_source_consumer(k->rc, k->svc, errstr, errstr_size);
        if (!k->track || !k->cons)
                return -1;
        conf = osh_kafka_conf_new(k->svc->cfg, "kafka.target.", OSH_KAFKA_PRODUCER, NULL, errstr,
                                  errstr_size);
        if (!conf || !(k->prod = osh_producer_new(conf, errstr, errstr_size)))
                return -1;
        osh_producer_set_delivery_cb(k->prod, on_delivery, k);
        if (k->rc->dead_letter) {
                conf = osh_kafka_conf_new(k->svc->cfg, "kafka.source.", OSH_KAFKA_PRODUCER, NULL,
                                          errstr, errstr_size);
                if (!conf || !(k->dlq = osh_producer_new(conf, errstr, errstr_size)))
                        return -1;
                osh_producer_set_delivery_cb(k->dlq, on_delivery, k);
        }
        return check_partitions(k, errstr, errstr_size) ||
                       find_resume_points(k, errstr, errstr_size)
                   ? -1
                   : 0;
}

/* Producers first: their last delivery reports store offsets, which the
 * consumer then commits as it closes. */
static void k2k_close(k2k_t *k)
{
        if (k->prod && osh_producer_flush(k->prod, RB_CLOSE_FLUSH_MS))
                k->failed = 1;
        osh_producer_destroy(k->prod);
        if (k->dlq && osh_producer_flush(k->dlq, RB_CLOSE_FLUSH_MS))
                k->failed = 1;
        osh_producer_destroy(k->dlq);
        if (k->cons && k->track && !k->failed)
                rb_store_flush(k->cons, k->track);
        osh_consumer_destroy(k->cons);
        rb_track_destroy(k->track);
        while (k->spare) {
                inflight_t *f = k->spare;
                k->spare = f->next_free;
                free(f);
        }
}

int rb_kafka_run(const rb_config_t *rc, osh_service_t *svc)
{
        k2k_t k = {.rc = rc, .svc = svc};
        char errstr[512];
        int64_t next_hb = 0;
        unsigned streak = 0; /* records since the clock was last read */

        if (k2k_open(&k, errstr, sizeof(errstr))) {
                osh_error("%s", errstr);
                k2k_close(&k);
                return 2;
        }
        osh_service_ready(svc);
        while (!osh_shutdown_requested()) {
                rd_kafka_message_t *m = osh_consumer_poll(k.cons, RB_POLL_MS);
                int sent = 0;
                if (m) {
                        if (handle(&k, m, &sent))
                                k.failed = 1, osh_shutdown_request();
                        rd_kafka_message_destroy(m);
                }
                if (!sent) /* a send already served the delivery reports */
                        osh_producer_poll(k.prod, 0);
                if (k.dlq)
                        osh_producer_poll(k.dlq, 0);
                rb_store_flush(k.cons, k.track);
                if (m && ++streak < RB_CLOCK_EVERY)
                        continue;
                streak = 0;
                if (osh_mono_ms() >= next_hb) {
                        rb_publish_counts(svc, k.cons, &k.cnt);
                        if (svc->hb)
                                osh_heartbeat_set_named(svc->hb, "resumed", (int64_t)k.resumed);
                        next_hb = osh_mono_ms() + RB_COUNTS_MS;
                }
        }
        k2k_close(&k);
        osh_info("relayed %" PRIu64 " of %" PRIu64 " record(s), %" PRIu64
                 " already on the target, refused %" PRIu64 " (topic %" PRIu64 ", not-avro %" PRIu64
                 ", fingerprint %" PRIu64 ", malformed %" PRIu64 ")",
                 k.cnt.out, k.cnt.in, k.resumed, k.cnt.in - k.cnt.out - k.resumed,
                 k.cnt.refused[OSH_ALLOW_TOPIC], k.cnt.refused[OSH_ALLOW_NOT_AVRO],
                 k.cnt.refused[OSH_ALLOW_FINGERPRINT], k.cnt.refused[OSH_ALLOW_MALFORMED]);
        return k.failed ? 1 : 0;
}
