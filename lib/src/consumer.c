#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/grow.h"
#include "oshirase/clock.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"

/* Waits are cut into slices so a shutdown request is seen soon. */
#define POLL_SLICE_MS 100
/* A commit or a close never waits longer than these (and less during a
 * shutdown: osh_shutdown_budget_ms). */
#define COMMIT_TIMEOUT_MS 10000
#define CLOSE_TIMEOUT_MS  10000
/* A watermark query (offset reset, replay start) waits at most this. */
#define WATERMARK_TIMEOUT_MS 5000

/* Per-partition state: whether the replay point has been applied and passed,
 * and whether the partition is at its end. */
enum { PART_NEW = 0, PART_FILTERING, PART_LIVE };

struct part {
        char *topic;
        int32_t partition;
        int state;
        int assigned;
        int at_eof;
        int64_t replay_low; /* low watermark when a replay began here, -1 none */
        int64_t next;       /* offset expected next, -1 unknown */
};

/* Records removed by the broker before this process's consumers read them
 * (docs: "Silent loss"); the heartbeat reports it. */
static int64_t records_lost;

int64_t osh_kafka_records_lost(void)
{
        return __atomic_load_n(&records_lost, __ATOMIC_RELAXED);
}

static void count_lost(int64_t n)
{
        __atomic_add_fetch(&records_lost, n, __ATOMIC_RELAXED);
}

struct osh_consumer {
        rd_kafka_t *rk;
        osh_replay_kind_t replay;
        int64_t replay_ts_ms;
        char replay_batch[128];
        struct part *parts;
        size_t part_cnt;
        size_t part_cap;
};

static struct part *part_get(osh_consumer_t *c, const char *topic, int32_t partition)
{
        struct part *np;

        for (size_t i = 0; i < c->part_cnt; i++)
                if (c->parts[i].partition == partition && !strcmp(c->parts[i].topic, topic))
                        return &c->parts[i];
        if (osh_grow(&c->parts, &c->part_cap, c->part_cnt, sizeof(*c->parts), 16))
                return NULL;
        np = &c->parts[c->part_cnt];
        memset(np, 0, sizeof(*np));
        np->topic = strdup(topic);
        if (!np->topic)
                return NULL;
        np->partition = partition;
        np->replay_low = -1;
        np->next = -1;
        c->part_cnt++;
        return np;
}

/* Uses the broker's time index where it has one (real Kafka); the mock has
 * none, so we fall back to the beginning plus a client-side filter. */
static void seek_by_time(osh_consumer_t *c, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_copy(parts);
        rd_kafka_resp_err_t err;
        int i;

        for (i = 0; i < q->cnt; i++)
                q->elems[i].offset = c->replay_ts_ms;
        err = rd_kafka_offsets_for_times(c->rk, q, 5000);
        for (i = 0; i < parts->cnt; i++) {
                int ok = !err && !q->elems[i].err && q->elems[i].offset >= 0;
                parts->elems[i].offset = ok ? q->elems[i].offset : RD_KAFKA_OFFSET_BEGINNING;
        }
        if (err)
                osh_info("replay by time: broker lookup failed (%s), scanning from the start",
                         rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(q);
}

/* -1 when the broker does not answer in time. */
static int64_t low_watermark(osh_consumer_t *c, const char *topic, int32_t partition)
{
        int64_t lo, hi;

        if (rd_kafka_query_watermark_offsets(c->rk, topic, partition, &lo, &hi,
                                             WATERMARK_TIMEOUT_MS))
                return -1;
        return lo;
}

/* Where each assigned partition must go on: the group's committed offset
 * (0 for a group that never committed, which must read from the start).
 * Partitions a replay repositions are left to replay_check. */
static void expect_committed(osh_consumer_t *c, const rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *q = rd_kafka_topic_partition_list_new(parts->cnt);

        for (int i = 0; i < parts->cnt; i++) {
                struct part *p = part_get(c, parts->elems[i].topic, parts->elems[i].partition);
                if (p && p->replay_low < 0 && parts->elems[i].offset == RD_KAFKA_OFFSET_INVALID)
                        rd_kafka_topic_partition_list_add(q, p->topic, p->partition);
        }
        if (q->cnt > 0 && !rd_kafka_committed(c->rk, q, WATERMARK_TIMEOUT_MS)) {
                for (int i = 0; i < q->cnt; i++) {
                        struct part *p = part_get(c, q->elems[i].topic, q->elems[i].partition);
                        if (p && !q->elems[i].err)
                                p->next = q->elems[i].offset >= 0 ? q->elems[i].offset : 0;
                }
        }
        rd_kafka_topic_partition_list_destroy(q);
}

static void apply_replay(osh_consumer_t *c, rd_kafka_topic_partition_list_t *parts)
{
        rd_kafka_topic_partition_list_t *fresh = rd_kafka_topic_partition_list_new(parts->cnt);

        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                struct part *p = part_get(c, tp->topic, tp->partition);
                if (!p)
                        continue;
                p->assigned = 1;
                p->at_eof = 0;
                if (p->state != PART_NEW)
                        continue;
                p->state = c->replay == OSH_REPLAY_NONE ? PART_LIVE : PART_FILTERING;
                if (c->replay == OSH_REPLAY_NONE)
                        continue;
                p->replay_low = low_watermark(c, tp->topic, tp->partition);
                if (c->replay == OSH_REPLAY_EARLIEST)
                        p->state = PART_LIVE;
                rd_kafka_topic_partition_list_add(fresh, tp->topic, tp->partition);
        }
        if (fresh->cnt > 0) {
                if (c->replay == OSH_REPLAY_TS)
                        seek_by_time(c, fresh);
                else
                        for (int i = 0; i < fresh->cnt; i++)
                                fresh->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
                for (int i = 0; i < fresh->cnt; i++)
                        rd_kafka_topic_partition_list_find(parts, fresh->elems[i].topic,
                                                           fresh->elems[i].partition)
                            ->offset = fresh->elems[i].offset;
                osh_info("replay applied to %d partition(s)", fresh->cnt);
        }
        rd_kafka_topic_partition_list_destroy(fresh);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        osh_consumer_t *c = opaque;

        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                apply_replay(c, parts);
                expect_committed(c, parts);
                rd_kafka_assign(rk, parts);
                osh_info("assigned %d partition(s)", parts->cnt);
                return;
        }
        /* Revoke: commit what was processed so the next owner resumes there
         * (asynchronously when shutting down: the broker may be gone). */
        rd_kafka_commit(rk, NULL, osh_shutdown_requested());
        for (size_t i = 0; i < c->part_cnt; i++)
                c->parts[i].assigned = 0;
        rd_kafka_assign(rk, NULL);
}

/* librdkafka stops prefetching a partition at queued.min.messages (100000)
 * and refetches in small rounds after; a batch of ~190K records across 32
 * partitions was consumed in ~1.3 s instead of ~0.7 s (bench-onprem,
 * anonymizer). Memory stays bounded by queued.max.messages.kbytes. Only
 * the librdkafka default is raised: a configured kafka.queued.min.messages
 * stands. */
static int prefetch_default(rd_kafka_conf_t *conf, char *errstr, size_t errstr_size)
{
        char v[32];
        size_t n = sizeof(v);

        if (rd_kafka_conf_get(conf, "queued.min.messages", v, &n) != RD_KAFKA_CONF_OK ||
            strcmp(v, "100000"))
                return 0;
        return osh_kafka_conf_set(conf, "queued.min.messages", "1000000", errstr, errstr_size);
}

osh_consumer_t *osh_consumer_new(rd_kafka_conf_t *conf, const char *group_id,
                                 const char *const *topics, size_t topic_cnt,
                                 const osh_replay_t *replay, char *errstr, size_t errstr_size)
{
        osh_consumer_t *c = calloc(1, sizeof(*c));
        rd_kafka_topic_partition_list_t *subs = NULL;
        rd_kafka_resp_err_t err;

        if (!c || !group_id || !*group_id) {
                snprintf(errstr, errstr_size,
                         c ? "consumer group id is required" : "out of memory");
                goto fail;
        }
        if (replay && replay->kind == OSH_REPLAY_BATCH &&
            (!replay->batch_id || strlen(replay->batch_id) >= sizeof(c->replay_batch))) {
                snprintf(errstr, errstr_size, "replay: batch id missing or too long");
                goto fail;
        }
        if (replay) {
                c->replay = replay->kind;
                c->replay_ts_ms = replay->ts_ms;
                if (replay->kind == OSH_REPLAY_BATCH)
                        snprintf(c->replay_batch, sizeof(c->replay_batch), "%s", replay->batch_id);
        }
        if (osh_kafka_conf_set(conf, "group.id", group_id, errstr, errstr_size) ||
            prefetch_default(conf, errstr, errstr_size))
                goto fail;
        rd_kafka_conf_set_opaque(conf, c);
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
        conf = NULL; /* owned by rk, or destroyed below on failure */
        if (!c->rk)
                goto fail;
        rd_kafka_poll_set_consumer(c->rk);
        subs = rd_kafka_topic_partition_list_new((int)topic_cnt);
        for (size_t i = 0; i < topic_cnt; i++)
                rd_kafka_topic_partition_list_add(subs, topics[i], RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(c->rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (err) {
                snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
                goto fail;
        }
        return c;
fail:
        if (conf)
                rd_kafka_conf_destroy(conf);
        osh_consumer_destroy(c);
        return NULL;
}

static int replay_passes(const osh_consumer_t *c, const rd_kafka_message_t *m)
{
        char buf[sizeof(c->replay_batch)];
        const char *id;

        if (c->replay == OSH_REPLAY_TS)
                return rd_kafka_message_timestamp(m, NULL) >= c->replay_ts_ms;
        id = osh_kafka_header(m, OSH_HDR_BATCH_ID, buf, sizeof(buf));
        return id && !strcmp(id, c->replay_batch);
}

/* A replay that starts on the first record the broker still holds, when
 * that record is already part of what is replayed, cannot have found all
 * of it: the records before it were removed. Said once per partition. */
static void replay_check(osh_consumer_t *c, struct part *p, const rd_kafka_message_t *m)
{
        int64_t low = p->replay_low;

        p->replay_low = -1;
        if (low <= 0 || m->offset != low ||
            (c->replay != OSH_REPLAY_EARLIEST && !replay_passes(c, m)))
                return;
        osh_error("replay %s%s: %s[%" PRId32 "] starts at offset %" PRId64 ": the %" PRId64
                  " record(s) before it were removed by the broker, the replay is incomplete",
                  c->replay == OSH_REPLAY_BATCH ? "of batch " : "",
                  c->replay == OSH_REPLAY_BATCH ? c->replay_batch : "", p->topic, p->partition, low,
                  low);
        count_lost(low);
}

/* Offsets follow each other (no transactions, no compaction on these
 * topics), so a record after a hole, or a first record after the group's
 * committed offset, means the broker removed records before this group
 * read them: an alarm (osh_kafka_records_lost, heartbeat), never a silent
 * reset by auto.offset.reset. */
static void gap_check(struct part *p, const rd_kafka_message_t *m)
{
        if (p->next >= 0 && m->offset > p->next) {
                osh_error("%s[%" PRId32 "]: expected offset %" PRId64
                          ", the broker's next is %" PRId64 ": %" PRId64
                          " record(s) were removed before this consumer read them "
                          "(DATA LOST)",
                          p->topic, p->partition, p->next, m->offset, m->offset - p->next);
                count_lost(m->offset - p->next);
        }
        p->next = m->offset + 1;
}

/* Returns 1 if m must be skipped because it precedes the replay point. */
static int replay_skip(osh_consumer_t *c, const rd_kafka_message_t *m)
{
        struct part *p = part_get(c, rd_kafka_topic_name(m->rkt), m->partition);

        if (!p)
                return 0;
        p->at_eof = 0;
        if (p->replay_low >= 0)
                replay_check(c, p, m);
        gap_check(p, m);
        if (p->state != PART_FILTERING)
                return 0;
        if (replay_passes(c, m)) {
                p->state = PART_LIVE;
                return 0;
        }
        return 1;
}

static void mark_eof(osh_consumer_t *c, const rd_kafka_message_t *m)
{
        struct part *p = part_get(c, rd_kafka_topic_name(m->rkt), m->partition);

        if (p)
                p->at_eof = 1;
}

rd_kafka_message_t *osh_consumer_poll(osh_consumer_t *c, int timeout_ms)
{
        rd_kafka_message_t *m;

        while (!osh_shutdown_requested()) {
                m = rd_kafka_consumer_poll(c->rk, timeout_ms);
                if (!m)
                        return NULL;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        mark_eof(c, m);
                } else if (m->err) {
                        osh_warn("consume: %s", rd_kafka_message_errstr(m));
                } else if (replay_skip(c, m)) {
                        osh_consumer_store(c, m);
                } else {
                        return m;
                }
                rd_kafka_message_destroy(m);
                timeout_ms = 0;
        }
        return NULL;
}

int osh_consumer_store(osh_consumer_t *c, const rd_kafka_message_t *m)
{
        rd_kafka_resp_err_t err = rd_kafka_offset_store(m->rkt, m->partition, m->offset);

        if (err) {
                osh_warn("offset store %s[%" PRId32 "]@%" PRId64 ": %s",
                         rd_kafka_topic_name(m->rkt), m->partition, m->offset,
                         rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* Waits up to timeout_ms (cut to the shutdown budget) for the commit
 * result on q. RD_KAFKA_RESP_ERR__TIMED_OUT if none came. */
static rd_kafka_resp_err_t commit_wait(rd_kafka_queue_t *q, int timeout_ms)
{
        int64_t start = osh_mono_ms();
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;

        for (;;) {
                int left = osh_shutdown_budget_ms(timeout_ms - (int)(osh_mono_ms() - start));
                rd_kafka_event_t *ev;
                if (left <= 0)
                        return err;
                ev = rd_kafka_queue_poll(q, left < POLL_SLICE_MS ? left : POLL_SLICE_MS);
                if (!ev)
                        continue;
                if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_OFFSET_COMMIT) {
                        err = rd_kafka_event_error(ev);
                        rd_kafka_event_destroy(ev);
                        return err;
                }
                rd_kafka_event_destroy(ev);
        }
}

int osh_consumer_commit(osh_consumer_t *c)
{
        rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
        rd_kafka_resp_err_t err = rd_kafka_commit_queue(c->rk, NULL, q, NULL, NULL);

        if (!err)
                err = commit_wait(q, COMMIT_TIMEOUT_MS);
        rd_kafka_queue_destroy(q);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
                osh_warn("commit: %s", rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

int64_t osh_consumer_lag(osh_consumer_t *c)
{
        rd_kafka_topic_partition_list_t *a = NULL;
        int64_t lag = -1;

        if (rd_kafka_assignment(c->rk, &a) || !a)
                return -1;
        if (rd_kafka_position(c->rk, a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                for (int i = 0; i < a->cnt; i++) {
                        int64_t lo, hi;
                        if (rd_kafka_get_watermark_offsets(c->rk, a->elems[i].topic,
                                                           a->elems[i].partition, &lo, &hi))
                                continue;
                        int64_t pos = a->elems[i].offset >= 0 ? a->elems[i].offset : lo;
                        lag = (lag < 0 ? 0 : lag) + (hi > pos ? hi - pos : 0);
                }
        }
        rd_kafka_topic_partition_list_destroy(a);
        return lag;
}

int osh_consumer_at_end(osh_consumer_t *c)
{
        int any = 0;

        for (size_t i = 0; i < c->part_cnt; i++) {
                if (!c->parts[i].assigned)
                        continue;
                if (!c->parts[i].at_eof)
                        return 0;
                any = 1;
        }
        return any;
}

rd_kafka_t *osh_consumer_handle(osh_consumer_t *c)
{
        return c->rk;
}

/* Consumers whose close goes on on a thread of their own (see below). */
static pthread_mutex_t closing_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closing_done = PTHREAD_COND_INITIALIZER;
static int closing;

typedef struct closer {
        rd_kafka_t *rk;
        rd_kafka_queue_t *q; /* where the close's rebalance events come */
        void (*done)(void *arg);
        void *arg;
} closer_t;

/* One round of a close: the close forwards the consumer's queue to q, so
 * it brings records as well as the revoke; only the revoke needs an answer
 * (librdkafka commits the stored offsets itself when it unassigns). */
static void serve_close(rd_kafka_t *rk, rd_kafka_queue_t *q, int timeout_ms)
{
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms);

        if (!ev)
                return;
        if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
                const char *proto = rd_kafka_rebalance_protocol(rk);
                if (proto && !strcmp(proto, "COOPERATIVE"))
                        rd_kafka_error_destroy(rd_kafka_incremental_unassign(
                            rk, rd_kafka_event_topic_partition_list(ev)));
                else
                        rd_kafka_assign(rk, NULL);
        }
        rd_kafka_event_destroy(ev);
}

/* Serves the close until it ends, then frees everything. */
static void *closer_run(void *arg)
{
        closer_t *cl = arg;

        while (!rd_kafka_consumer_closed(cl->rk))
                serve_close(cl->rk, cl->q, POLL_SLICE_MS);
        rd_kafka_queue_destroy(cl->q);
        rd_kafka_destroy_flags(cl->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        if (cl->done)
                cl->done(cl->arg);
        free(cl);
        pthread_mutex_lock(&closing_lock);
        closing--;
        pthread_cond_broadcast(&closing_done);
        pthread_mutex_unlock(&closing_lock);
        return NULL;
}

/* A close whose commit waits for a coordinator that is gone takes
 * session.timeout.ms (librdkafka times the commit out only then), and
 * rd_kafka_destroy would wait for it. It goes on on a detached thread
 * instead, which osh_kafka_close_wait() gives what is left of the
 * shutdown time. */
static void close_in_background(closer_t *cl)
{
        pthread_t th;
        pthread_attr_t attr;
        int rc;

        pthread_mutex_lock(&closing_lock);
        closing++;
        pthread_mutex_unlock(&closing_lock);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&th, &attr, closer_run, cl);
        pthread_attr_destroy(&attr);
        if (rc)
                closer_run(cl);
}

/* osh_kafka_consumer_close; done(arg) runs once rk is destroyed (it frees
 * what the rebalance callback uses). */
static void close_handle(rd_kafka_t *rk, int timeout_ms, void (*done)(void *), void *arg)
{
        closer_t *cl = calloc(1, sizeof(*cl));
        rd_kafka_error_t *error = NULL;
        int64_t start = osh_mono_ms();

        if (cl) {
                cl->q = rd_kafka_queue_new(rk);
                error = rd_kafka_consumer_close_queue(rk, cl->q);
        }
        if (!cl || error) {
                osh_warn("consumer close: %s", error ? rd_kafka_error_string(error) : "no memory");
                rd_kafka_error_destroy(error);
                goto destroy;
        }
        while (!rd_kafka_consumer_closed(rk)) {
                int left = osh_shutdown_budget_ms(timeout_ms - (int)(osh_mono_ms() - start));
                if (left <= 0) {
                        osh_warn("consumer %s: not closed in time (broker unreachable?): offsets "
                                 "processed since the last commit are not committed and will "
                                 "be read again",
                                 rd_kafka_name(rk));
                        *cl = (closer_t){rk, cl->q, done, arg};
                        close_in_background(cl);
                        return;
                }
                serve_close(rk, cl->q, left < POLL_SLICE_MS ? left : POLL_SLICE_MS);
        }
destroy:
        if (cl && cl->q)
                rd_kafka_queue_destroy(cl->q);
        free(cl);
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        if (done)
                done(arg);
}

void osh_kafka_consumer_close(rd_kafka_t *rk, int timeout_ms)
{
        close_handle(rk, timeout_ms, NULL, NULL);
}

int osh_kafka_close_wait(int timeout_ms)
{
        struct timespec until;
        int left;

        until = osh_wall_deadline(timeout_ms);
        pthread_mutex_lock(&closing_lock);
        while (closing > 0 && pthread_cond_timedwait(&closing_done, &closing_lock, &until) == 0)
                ;
        left = closing;
        pthread_mutex_unlock(&closing_lock);
        if (left > 0)
                osh_warn("%d consumer(s) still closing: left behind", left);
        return left;
}

static void consumer_free(void *arg)
{
        osh_consumer_t *c = arg;

        for (size_t i = 0; i < c->part_cnt; i++)
                free(c->parts[i].topic);
        free(c->parts);
        free(c);
}

void osh_consumer_destroy(osh_consumer_t *c)
{
        if (!c)
                return;
        /* close commits stored offsets and leaves the group cleanly */
        if (c->rk)
                close_handle(c->rk, CLOSE_TIMEOUT_MS, consumer_free, c);
        else
                consumer_free(c);
}

const char *osh_kafka_header(const rd_kafka_message_t *m, const char *name, char *buf,
                             size_t buf_size)
{
        rd_kafka_headers_t *hdrs;
        const void *val;
        size_t size;

        if (rd_kafka_message_headers(m, &hdrs) ||
            rd_kafka_header_get_last(hdrs, name, &val, &size) || !val || size >= buf_size)
                return NULL;
        memcpy(buf, val, size);
        buf[size] = '\0';
        return buf;
}
