#include "segmenter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "oshirase/clock.h"
#include "oshirase/batch.h"
#include "oshirase/dictionary.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/scan.h"
#include "oshirase/serde.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"
#include "seg_campaign.h"
#include "seg_dest.h"
#include "seg_expr.h"
#include "seg_state.h"
#include "seg_store.h"

#define MAX_OPEN_BATCHES 2
/* A campaign's dispatches wait this long for the broker; past it the campaign
 * stays FROZEN and is emitted again after a restart. */
#define DISPATCH_FLUSH_MS 30000
/* Flushes are cut into slices this long so that SIGTERM is seen soon. */
#define FLUSH_SLICE_MS 200
/* Learning the output topics' partitions at start-up. */
#define PREPARE_MS 5000
/* State records read in one go before the loop looks at requests and at
 * SIGTERM again. */
#define STATE_BURST 10000
/* Waiting for state while catching up, then for a request: short, so new
 * state is read before the next request is answered. */
#define STATE_POLL_MS   100
#define REQUEST_POLL_MS 50
/* Requests answered before one flush + commit: what arrived while the last
 * batch was answered (20 staff previewing at once), bounded so that state
 * is read again soon. */
#define REQUEST_BATCH 64
/* The request consumer's wait for data: a preview is a round trip, and the
 * project default (20 ms, for bulk stages) would be most of it. Operators
 * may still set kafka.fetch.wait.max.ms. */
#define REQUEST_FETCH_WAIT "5"

typedef struct open_batch {
        char id[OSH_BATCH_ID_MAX];
        seg_builder_t *b;
} open_batch_t;

typedef struct scheduled {
        char campaign_id[256];
        int64_t due_ms;
} scheduled_t;

struct segmenter {
        osh_service_t *svc;
        osh_dict_t *dict;
        const char *state_dir, *excl_path;
        osh_consumer_t *state_c, *req_c;
        osh_producer_t *prod;
        osh_scan_t *scan; /* reads our own topics back after a restart */
        osh_batch_tracker_t *tracker;
        open_batch_t open[MAX_OPEN_BATCHES];
        seg_store_t *store;
        int64_t store_extract_ms;
        seg_dests_t dests;
        seg_exclusions_t excl;
        uint64_t excl_generation;
        time_t excl_mtime;
        seg_view_t view;
        scheduled_t *sched;
        size_t nsched;
        int caught_up;
        const osh_schema_t *s_abs, *s_dest, *s_req, *s_res, *s_disp;
};

/* ---- snapshot building ---- */

static open_batch_t *open_batch(segmenter_t *s, const char *id, int create)
{
        open_batch_t *victim = &s->open[0];
        int i;

        for (i = 0; i < MAX_OPEN_BATCHES; i++)
                if (s->open[i].b && strcmp(s->open[i].id, id) == 0)
                        return &s->open[i];
        if (!create)
                return NULL;
        for (i = 0; i < MAX_OPEN_BATCHES; i++)
                if (!s->open[i].b)
                        victim = &s->open[i];
        if (victim->b) { /* a batch that never completed: give it up */
                osh_warn("abandoning incomplete batch %s", victim->id);
                osh_batch_tracker_forget(s->tracker, victim->id);
                seg_builder_destroy(victim->b);
        }
        victim->b = seg_builder_new(osh_dict_flag_count(s->dict), osh_dict_value_count(s->dict),
                                    osh_dict_layout(s->dict), id);
        snprintf(victim->id, sizeof(victim->id), "%s", id);
        return victim->b ? victim : NULL;
}

static void try_swap(segmenter_t *s, const char *id)
{
        osh_batch_state_t st = osh_batch_tracker_state(s->tracker, id);
        const osh_batch_marker_t *end = osh_batch_tracker_end(s->tracker, id);
        open_batch_t *ob = open_batch(s, id, 0);
        seg_store_t *ns;

        if (st == OSH_BATCH_MISMATCH) {
                osh_error("batch %s does not match its end marker: keeping the current snapshot",
                          id);
                osh_service_count(s->svc, OSH_CTR_ERRORS, 1);
        }
        if (st == OSH_BATCH_OPEN || !ob || !end)
                return;
        if (st == OSH_BATCH_COMPLETE && end->extract_time_ms >= s->store_extract_ms) {
                ns = seg_builder_finish(ob->b);
                ob->b = NULL;
                if (!ns) {
                        osh_error("batch %s: out of memory building the snapshot", id);
                        return;
                }
                /* the view points into the old store: drop it first (a new
                 * store may even reuse the old address) */
                seg_view_clear(&s->view);
                seg_store_destroy(s->store);
                s->store = ns;
                s->store_extract_ms = end->extract_time_ms;
                osh_info("snapshot %s: %zu residents", id, ns->n);
                if (s->svc->hb)
                        osh_heartbeat_set_batch(s->svc->hb, id);
        }
        seg_builder_destroy(ob->b);
        ob->b = NULL;
        osh_batch_tracker_forget(s->tracker, id);
}

/* Reads an int array, at most max entries; strict refuses a longer one
 * (a dropped range would turn a generalised value into a wrong certain). */
static int read_ints(avro_value_t *rec, const char *field, int strict, int32_t *out, size_t max,
                     size_t *n)
{
        avro_value_t arr, el;
        size_t cnt = 0, i;

        *n = 0;
        if (osh_value_field(rec, field, &arr) || avro_value_get_size(&arr, &cnt) ||
            (strict && cnt > max))
                return -1;
        for (i = 0; i < cnt && i < max; i++, (*n)++)
                if (avro_value_get_by_index(&arr, i, &el, NULL) || avro_value_get_int(&el, &out[i]))
                        return -1;
        return 0;
}

/* Adds one abstracted record to its batch. A record the builder refuses is
 * not counted either, so its batch never completes and the current snapshot
 * stays (docs/architecture.md §3: switch only when the counts match). */
static void handle_abstracted(segmenter_t *s, const rd_kafka_message_t *m)
{
        char err[256], bid[OSH_BATCH_ID_MAX];
        avro_value_t v;
        const char *uid = NULL, *b = NULL;
        const void *flags = NULL, *unk = NULL;
        size_t len, flen = 0, nval = 0, ulen = 0, nrange = 0;
        int32_t ref = 0, layout = 1, values[256], ranges[3 * 256];
        open_batch_t *ob;

        if (osh_serde_decode(s->s_abs, m->payload, m->len, &v, NULL, err, sizeof(err))) {
                osh_warn("%s [%" PRId32 "] @%" PRId64 ": %s", OSH_TOPIC_ABSTRACTED, m->partition,
                         m->offset, err);
                osh_service_count(s->svc, OSH_CTR_REJECTED, 1);
                return;
        }
        if (osh_value_get_string(&v, "user_id", &uid, &len) ||
            osh_value_get_string(&v, "batch_id", &b, &len) || len >= sizeof(bid) ||
            osh_value_get_int(&v, "reference_date", &ref) ||
            osh_value_get_int(&v, "layout_version", &layout) ||
            osh_value_get_bytes(&v, "flags", &flags, &flen) ||
            read_ints(&v, "values", 0, values, sizeof(values) / sizeof(values[0]), &nval) ||
            osh_value_get_bytes(&v, "unknown_flags", &unk, &ulen) ||
            read_ints(&v, "ranges", 1, ranges, sizeof(ranges) / sizeof(ranges[0]), &nrange))
                goto bad;
        /* the strings live in v: keep the batch id beyond the decref */
        snprintf(bid, sizeof(bid), "%s", b);
        if (!(ob = open_batch(s, bid, 1)) ||
            seg_builder_add(ob->b, uid, ref, layout, flags, flen, values, nval, err, sizeof(err)) ||
            seg_builder_generalise(ob->b, ranges, nrange / 3, unk, ulen, err, sizeof(err)) ||
            osh_batch_tracker_add(s->tracker, bid, m->key, m->key_len, m->payload, m->len) < 0)
                goto bad;
        osh_service_count(s->svc, OSH_CTR_IN, 1);
        avro_value_decref(&v);
        try_swap(s, bid);
        return;
bad:
        osh_warn("%s [%" PRId32 "] @%" PRId64 ": unusable record", OSH_TOPIC_ABSTRACTED,
                 m->partition, m->offset);
        osh_service_count(s->svc, OSH_CTR_REJECTED, 1);
        avro_value_decref(&v);
}

static void handle_marker(segmenter_t *s, const rd_kafka_message_t *m)
{
        osh_batch_marker_t mk;
        char err[256];

        if (osh_batch_marker_decode(m->payload, m->len, &mk, err, sizeof(err))) {
                osh_warn("%s @%" PRId64 ": %s", OSH_TOPIC_BATCH, m->offset, err);
                return;
        }
        if (strcmp(mk.topic, OSH_TOPIC_ABSTRACTED) != 0)
                return;
        osh_batch_tracker_marker(s->tracker, &mk);
        if (!mk.is_end)
                open_batch(s, mk.batch_id, 1);
        else
                try_swap(s, mk.batch_id);
}

static void handle_destination(segmenter_t *s, const rd_kafka_message_t *m)
{
        char err[256], key[256];
        avro_value_t v, arr, el;
        const char *uid, *acc, *status = "ACTIVE", *chan = "OTHER", *cats[64];
        size_t len, n = 0, i;

        if (!m->payload) { /* tombstone */
                if (m->key && m->key_len < sizeof(key)) {
                        memcpy(key, m->key, m->key_len);
                        key[m->key_len] = '\0';
                        seg_dests_delete(&s->dests, key);
                }
                return;
        }
        if (osh_serde_decode(s->s_dest, m->payload, m->len, &v, NULL, err, sizeof(err))) {
                osh_warn("%s @%" PRId64 ": %s", OSH_TOPIC_DESTINATIONS, m->offset, err);
                osh_service_count(s->svc, OSH_CTR_REJECTED, 1);
                return;
        }
        if (!osh_value_get_string(&v, "user_id", &uid, &len) &&
            !osh_value_get_string(&v, "account_id", &acc, &len) &&
            !osh_value_get_enum(&v, "channel", &chan) &&
            !osh_value_get_enum(&v, "status", &status) &&
            !osh_value_field(&v, "categories", &arr)) {
                avro_value_get_size(&arr, &n);
                for (i = 0; i < n && i < 64; i++)
                        if (avro_value_get_by_index(&arr, i, &el, NULL) ||
                            avro_value_get_string(&el, &cats[i], &len))
                                cats[i] = "";
                if (seg_dests_put(&s->dests, uid,
                                  seg_channel_parse(chan) < 0 ? 6 : seg_channel_parse(chan), acc,
                                  cats, n < 64 ? n : 64, strcmp(status, "ACTIVE") == 0))
                        osh_error("destinations: out of memory");
        }
        avro_value_decref(&v);
}

static void handle_state(segmenter_t *s, const rd_kafka_message_t *m)
{
        const char *topic = rd_kafka_topic_name(m->rkt);

        if (strcmp(topic, OSH_TOPIC_ABSTRACTED) == 0)
                handle_abstracted(s, m);
        else if (strcmp(topic, OSH_TOPIC_BATCH) == 0)
                handle_marker(s, m);
        else if (strcmp(topic, OSH_TOPIC_DESTINATIONS) == 0)
                handle_destination(s, m);
        osh_consumer_store(s->state_c, m);
}

/* ---- results and dispatch ---- */

static int produce(segmenter_t *s, const char *topic, const osh_schema_t *schema, avro_value_t *v,
                   const char *key)
{
        char err[256];
        void *buf = NULL;
        size_t len;
        osh_kafka_msg_t msg = {
            .topic = topic, .partition = RD_KAFKA_PARTITION_UA, .key = key, .key_len = strlen(key)};
        int rc;

        if (osh_serde_encode_alloc(schema, v, &buf, &len, err, sizeof(err))) {
                osh_error("%s: encode: %s", topic, err);
                return -1;
        }
        msg.value = buf;
        msg.value_len = len;
        rc = osh_producer_send(s->prod, &msg, NULL);
        free(buf);
        if (!rc)
                osh_service_count(s->svc, OSH_CTR_OUT, 1);
        return rc;
}

typedef struct result {
        const char *campaign_id;
        seg_action_t action;
        seg_state_t state;
        int64_t certain, possible, suppressed, recipients;
        const int64_t *by_reason;
        const char *checksum, *message;
        const seg_breakdown_t *breakdown; /* NULL: none */
} result_t;

/* by_channel and by_ward (docs/architecture.md §6): counts only. */
static int put_breakdown(segmenter_t *s, avro_value_t *v, const seg_breakdown_t *b)
{
        avro_value_t arr, el;
        size_t i;

        osh_value_set_long(v, "breakdown_min", b->min);
        if (osh_value_field(v, "by_channel", &arr))
                return -1;
        for (i = 0; i < b->nchan; i++) {
                int32_t c = b->chan[i].code;
                if (osh_value_append(s->s_res, &arr, &el) ||
                    osh_value_set_string(&el, "channel",
                                         c >= 0 && c < SEG_CHANNEL_CNT ? seg_channel_names[c]
                                                                       : "NONE") ||
                    osh_value_set_long(&el, "certain", b->chan[i].certain) ||
                    osh_value_set_long(&el, "possible", b->chan[i].possible))
                        return -1;
        }
        if (osh_value_field(v, "by_ward", &arr))
                return -1;
        for (i = 0; i < b->nward; i++)
                if (osh_value_append(s->s_res, &arr, &el) ||
                    osh_value_set_int(&el, "ward_code", b->ward[i].code) ||
                    osh_value_set_string(&el, "ward", seg_expr_ward_name(b->ward[i].code)) ||
                    osh_value_set_long(&el, "certain", b->ward[i].certain) ||
                    osh_value_set_long(&el, "possible", b->ward[i].possible))
                        return -1;
        return 0;
}

static int send_result(segmenter_t *s, const result_t *r)
{
        avro_value_t v, map, item;
        int i, rc = -1;

        if (osh_value_new(s->s_res, &v))
                return -1;
        osh_value_set_string(&v, "campaign_id", r->campaign_id);
        osh_value_set_enum(&v, "action", seg_action_names[r->action]);
        osh_value_set_enum(&v, "state", seg_state_names[r->state]);
        osh_value_set_long(&v, "certain", r->certain);
        osh_value_set_long(&v, "possible", r->possible);
        osh_value_set_long(&v, "suppressed", r->suppressed);
        osh_value_set_long(&v, "recipients", r->recipients);
        osh_value_set_string(&v, "recipient_list_checksum", r->checksum ? r->checksum : "");
        osh_value_set_string(&v, "snapshot_batch_id", s->store ? s->store->batch_id : "");
        osh_value_set_string(&v, "message", r->message ? r->message : "");
        osh_value_set_long(&v, "computed_at", osh_wall_ms());
        if (osh_value_field(&v, "suppressed_by_reason", &map))
                goto done;
        for (i = 0; r->by_reason && i < SEG_WHY__CNT; i++)
                if (osh_value_add(s->s_res, &map, seg_reason_names[i], &item) ||
                    avro_value_set_long(&item, r->by_reason[i]))
                        goto done;
        if (r->breakdown && put_breakdown(s, &v, r->breakdown))
                goto done;
        rc = produce(s, OSH_TOPIC_RESULTS, s->s_res, &v, r->campaign_id);
done:
        avro_value_decref(&v);
        return rc;
}

typedef struct last_answer {
        segmenter_t *s;
        const char *id;
        int state; /* -1: none */
} last_answer_t;

static int on_result(void *opaque, const rd_kafka_message_t *m)
{
        last_answer_t *c = opaque;
        const char *st = NULL;
        char err[128];
        avro_value_t v;

        if (!m->key || m->key_len != strlen(c->id) || memcmp(m->key, c->id, m->key_len) ||
            osh_serde_decode(c->s->s_res, m->payload, m->len, &v, NULL, err, sizeof(err)))
                return 0;
        if (!osh_value_get_enum(&v, "state", &st))
                for (int i = 0; i < 6; i++)
                        if (!strcmp(st, seg_state_names[i]))
                                c->state = i;
        avro_value_decref(&v);
        return 1;
}

/* The campaign's last answer on campaign.results.v1 (the dispatcher writes
 * DONE there), or -1. */
static int last_state(segmenter_t *s, const char *campaign_id)
{
        last_answer_t c = {s, campaign_id, -1};
        char err[256];

        if (osh_scan_last(s->scan, OSH_TOPIC_RESULTS, 0, on_result, &c, err, sizeof(err)) < 0)
                osh_warn("campaign.results.v1: %s", err);
        return c.state;
}

/* Answers for a frozen campaign; a campaign the dispatcher already reported
 * DONE is never answered with an earlier state (its state never goes back). */
static void frozen_result(segmenter_t *s, const seg_frozen_t *f, seg_action_t act, const char *msg)
{
        result_t r = {f->campaign_id, act,           f->state,      f->certain,
                      f->possible,    f->suppressed, f->recipients, f->by_reason,
                      f->checksum,    msg,           &f->breakdown};

        if ((f->state == SEG_ST_FROZEN || f->state == SEG_ST_DISPATCHING) &&
            last_state(s, f->campaign_id) == SEG_ST_DONE) {
                osh_info("campaign %s is DONE already: no %s answer after it", f->campaign_id,
                         seg_state_names[f->state]);
                return;
        }
        send_result(s, &r);
}

/* Sends one line of the frozen list unless its dispatch id is in out
 * (already on the topic): 1 skipped, 0 sent, -1 error. */
static int dispatch_one(segmenter_t *s, const seg_request_t *rq, const seg_frozen_t *f,
                        const char *text, char *line, int resend, osh_keyset_t *out)
{
        /* strsep keeps empty fields (an empty account id) */
        char *uid = strsep(&line, "\t"), *chan = strsep(&line, "\t"), *acc = strsep(&line, "\t"),
             *cert = strsep(&line, "\t"), id[65];
        avro_value_t v, arr, item;
        int rc = -1;

        if (!uid || !chan || !acc || !cert || osh_value_new(s->s_disp, &v))
                return -1;
        seg_dispatch_id(f->campaign_id, uid, chan, id);
        if (osh_keyset_has(out, id, strlen(id))) {
                avro_value_decref(&v);
                return 1;
        }
        osh_value_set_string(&v, "dispatch_id", id);
        osh_value_set_string(&v, "campaign_id", f->campaign_id);
        osh_value_set_enum(&v, "channel", chan);
        if (osh_value_field(&v, "recipients", &arr) || osh_value_append(s->s_disp, &arr, &item))
                goto done;
        osh_value_set_string(&item, "user_id", uid);
        osh_value_set_string(&item, "account_id", acc);
        osh_value_set_bool(&item, "certain", cert[0] == '1');
        osh_value_set_string(&v, "title", rq->title);
        osh_value_set_string(&v, "text", text);
        osh_value_set_string(&v, "category", rq->category);
        osh_value_set_bool(&v, "test", rq->test);
        osh_value_set_bool(&v, "critical", rq->critical);
        osh_value_set_bool(&v, "resend", resend);
        if (f->send_at_ms > 0)
                osh_value_set_long(&v, "not_before", f->send_at_ms);
        osh_value_set_long(&v, "created_at", f->created_at_ms);
        rc = produce(s, OSH_TOPIC_DISPATCH, s->s_disp, &v, id);
done:
        avro_value_decref(&v);
        return rc;
}

/* Waits up to timeout_ms for every queued record, in short slices so that
 * SIGTERM is not held up by a dead broker. 0 / -1 (then the campaign stays
 * FROZEN and is re-emitted after a restart). */
static int flush_dispatches(osh_producer_t *p, int timeout_ms)
{
        rd_kafka_t *rk = osh_producer_handle(p);

        for (; timeout_ms > 0 && rd_kafka_outq_len(rk) > 0 && !osh_shutdown_requested();
             timeout_ms -= FLUSH_SLICE_MS)
                rd_kafka_flush(rk, FLUSH_SLICE_MS);
        return osh_producer_flush(p, 0);
}

static int on_dispatch(void *opaque, const rd_kafka_message_t *m)
{
        if (m->key && osh_keyset_add(opaque, m->key, m->key_len))
                return -1;
        return 1;
}

/* Notes, before the first record, that an emission begins and where on
 * notify.dispatch.v1 (everything queued before is acknowledged first); or,
 * for one a killed run began, reads back the dispatch ids out since then. */
static int emit_begin(segmenter_t *s, seg_frozen_t *f, int resend, int64_t req_offset,
                      osh_keyset_t *out, char *err, size_t size)
{
        if (f->emitting) {
                if (osh_scan_from_marks(s->scan, f->emit_from, on_dispatch, out, err, size))
                        return -1;
                osh_info("campaign %s: resuming an emission a stopped run began: %zu of %" PRId64
                         " dispatch record(s) are out already",
                         f->campaign_id, out->n, f->recipients);
                return 0;
        }
        if (flush_dispatches(s->prod, DISPATCH_FLUSH_MS)) {
                snprintf(err, size, "earlier records not acknowledged");
                return -1;
        }
        f->emitting = 1;
        f->emit_resend = resend;
        f->emit_from[0] = '\0';
        if (req_offset >= 0)
                f->req_offset = req_offset;
        if (osh_scan_marks(s->scan, OSH_TOPIC_DISPATCH, f->emit_from, sizeof(f->emit_from), err,
                           size))
                return -1;
        return seg_state_update(s->state_dir, f, err, size);
}

/* Emits the frozen list of campaign_id exactly as stored (the same request
 * bytes and list give byte-identical records), once: an emission a killed
 * run began is resumed, not started again. req_offset: the request asking
 * for it (-1: a scheduled send). */
static int emit_frozen(segmenter_t *s, const char *campaign_id, int resend, int64_t req_offset,
                       seg_frozen_t *f)
{
        char err[256] = "", *list = NULL, *text = NULL, *line, *save = NULL;
        void *req = NULL;
        size_t req_len, list_len, n = 0, skipped = 0;
        avro_value_t v;
        seg_request_t rq = {0};
        osh_keyset_t out = {0};
        int rc = -1, decoded = 0, one;

        if (seg_state_load(s->state_dir, campaign_id, f, &req, &req_len, &list, &list_len, err,
                           sizeof(err)) != 1)
                goto done;
        if (osh_serde_decode(s->s_req, req, req_len, &v, NULL, err, sizeof(err)))
                goto done;
        decoded = 1;
        if (seg_request_from_avro(&v, &rq, err, sizeof(err)) || !(text = seg_render_text(&rq)) ||
            emit_begin(s, f, resend, req_offset, &out, err, sizeof(err)))
                goto done;
        for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
                if ((one = dispatch_one(s, &rq, f, text, line, f->emit_resend, &out)) < 0)
                        goto done;
                skipped += (size_t)one;
        }
        if (flush_dispatches(s->prod, DISPATCH_FLUSH_MS))
                goto done;
        f->state = SEG_ST_DISPATCHING;
        f->emitting = 0;
        f->emit_from[0] = '\0';
        rc = seg_state_update(s->state_dir, f, err, sizeof(err));
        osh_info("campaign dispatched: %zu records (%zu were out already)", n - skipped, skipped);
done:
        if (rc)
                osh_error("emitting a frozen campaign failed: %s", err);
        if (decoded)
                avro_value_decref(&v);
        osh_keyset_clear(&out);
        seg_request_clear(&rq);
        free(text);
        free(req);
        free(list);
        return rc;
}

static void schedule(segmenter_t *s, const char *campaign_id, int64_t due)
{
        scheduled_t *n = realloc(s->sched, (s->nsched + 1) * sizeof(*n));

        if (!n) {
                osh_error("schedule: out of memory");
                return;
        }
        s->sched = n;
        snprintf(n[s->nsched].campaign_id, sizeof(n[0].campaign_id), "%s", campaign_id);
        n[s->nsched++].due_ms = due;
}

static void unschedule(segmenter_t *s, const char *campaign_id)
{
        size_t i;

        for (i = 0; i < s->nsched; i++)
                if (strcmp(s->sched[i].campaign_id, campaign_id) == 0)
                        s->sched[i--] = s->sched[--s->nsched];
}

static void run_due(segmenter_t *s)
{
        int64_t now = osh_wall_ms();
        seg_frozen_t f;
        size_t i;

        for (i = 0; i < s->nsched; i++) {
                if (s->sched[i].due_ms > now)
                        continue;
                if (emit_frozen(s, s->sched[i].campaign_id, 0, -1, &f) == 0)
                        frozen_result(s, &f, SEG_ACT_SEND, "scheduled send dispatched");
                s->sched[i--] = s->sched[--s->nsched];
        }
}

static void on_frozen_found(const seg_frozen_t *m, void *opaque)
{
        if (m->emitting) /* a killed run was emitting it: finish now */
                schedule(opaque, m->campaign_id, 0);
        else if (m->state == SEG_ST_FROZEN) /* scheduled, or killed before it was emitted */
                schedule(opaque, m->campaign_id, m->send_at_ms);
}

/* ---- campaign requests ---- */

/* Reloads the exclusion list when its file changed, so staff can add a
 * protected person without a restart. */
static void sync_exclusions(segmenter_t *s)
{
        struct stat st;
        char err[256];

        if (!s->excl_path || stat(s->excl_path, &st) || st.st_mtime == s->excl_mtime)
                return;
        if (seg_exclusions_load(&s->excl, s->excl_path, err, sizeof(err))) {
                osh_error("exclusion list: %s", err);
                return;
        }
        s->excl_mtime = st.st_mtime;
        s->excl_generation++;
        osh_info("exclusion list: %zu entries", s->excl.n);
}

static int evaluate(segmenter_t *s, const seg_request_t *rq, int want_list, seg_outcome_t *o)
{
        seg_env_t env = {.view = &s->view,
                         .dict = s->dict,
                         .now_ms = osh_wall_ms(),
                         .min_audience_floor =
                             (int32_t)osh_config_int(s->svc->cfg, "min.audience")};

        sync_exclusions(s);
        if (seg_view_sync(&s->view, s->store, &s->dests, &s->excl, s->excl_generation))
                return -1;
        return seg_campaign_evaluate(&env, rq, want_list, o);
}

static void outcome_result(segmenter_t *s, const seg_request_t *rq, const seg_outcome_t *o,
                           const char *checksum)
{
        result_t r = {rq->campaign_id, rq->action,    o->state,          o->certain,
                      o->possible,     o->suppressed, (int64_t)o->nlist, o->by_reason,
                      checksum,        o->message,    &o->breakdown};
        send_result(s, &r);
}

static void freeze_and_send(segmenter_t *s, const seg_request_t *rq, const rd_kafka_message_t *m)
{
        seg_outcome_t o;
        seg_frozen_t f = {0};
        char err[256];
        int64_t now = osh_wall_ms();

        if (evaluate(s, rq, 1, &o)) {
                osh_error("campaign evaluation: out of memory");
                return;
        }
        if (o.state == SEG_ST_REJECTED) {
                outcome_result(s, rq, &o, NULL);
                goto done;
        }
        snprintf(f.campaign_id, sizeof(f.campaign_id), "%s", rq->campaign_id);
        f.state = SEG_ST_FROZEN;
        f.created_at_ms = now;
        f.send_at_ms = rq->send_at_ms;
        f.certain = o.certain;
        f.possible = o.possible;
        f.suppressed = o.suppressed;
        f.recipients = (int64_t)o.nlist;
        f.req_offset = m->offset;
        memcpy(f.by_reason, o.by_reason, sizeof(f.by_reason));
        f.breakdown = o.breakdown;
        memcpy(f.checksum, o.checksum, sizeof(f.checksum));
        snprintf(f.snapshot, sizeof(f.snapshot), "%s", s->store->batch_id);
        if (seg_state_save(s->state_dir, &f, m->payload, m->len, o.text, o.text_len, err,
                           sizeof(err))) {
                osh_error("freezing campaign: %s", err);
                goto done;
        }
        osh_info("campaign frozen: %zu recipients", o.nlist);
        if (rq->send_at_ms > now) {
                schedule(s, rq->campaign_id, rq->send_at_ms);
                frozen_result(s, &f, SEG_ACT_SEND, "scheduled");
        } else if (emit_frozen(s, rq->campaign_id, 0, m->offset, &f) == 0) {
                frozen_result(s, &f, SEG_ACT_SEND, "");
        }
done:
        seg_outcome_clear(&o);
}

static void reject_request(segmenter_t *s, const seg_request_t *rq, const char *msg)
{
        result_t r = {.campaign_id = rq->campaign_id,
                      .action = rq->action,
                      .state = SEG_ST_REJECTED,
                      .message = msg};
        send_result(s, &r);
}

/* A campaign that is already frozen is never evaluated again: replays and
 * resends use the stored list. A request at or before the offset last acted
 * on is a replay (a restart re-reads it): it never emits again; a SEND of a
 * campaign already emitted does not either, only a RESEND does. */
static void handle_frozen(segmenter_t *s, const seg_request_t *rq, seg_frozen_t *f, int64_t offset)
{
        int replayed = offset <= f->req_offset;

        if (rq->action == SEG_ACT_CANCEL) {
                if (f->state != SEG_ST_FROZEN || f->emitting) {
                        frozen_result(s, f, SEG_ACT_CANCEL, "already dispatched or cancelled");
                        return;
                }
                f->state = SEG_ST_CANCELLED;
                unschedule(s, f->campaign_id);
                seg_state_update(s->state_dir, f, (char[64]){0}, 64);
                frozen_result(s, f, SEG_ACT_CANCEL, "cancelled");
        } else if (rq->action == SEG_ACT_PREVIEW || f->state == SEG_ST_CANCELLED) {
                frozen_result(s, f, rq->action, "campaign already frozen");
        } else if (f->state == SEG_ST_FROZEN && !f->emitting && f->send_at_ms > osh_wall_ms()) {
                frozen_result(s, f, rq->action, "scheduled");
        } else if (f->emitting) {
                if (emit_frozen(s, f->campaign_id, f->emit_resend, -1, f) == 0) {
                        unschedule(s, f->campaign_id);
                        frozen_result(s, f, rq->action, "finished an interrupted emission");
                }
        } else if (f->state != SEG_ST_FROZEN && (replayed || rq->action != SEG_ACT_RESEND)) {
                frozen_result(s, f, rq->action,
                              replayed ? "request already acted on: not emitted again"
                                       : "already emitted: not emitted again (RESEND sends again)");
        } else if (emit_frozen(s, f->campaign_id, rq->action == SEG_ACT_RESEND, offset, f) == 0) {
                unschedule(s, f->campaign_id);
                frozen_result(s, f, rq->action,
                              rq->action == SEG_ACT_RESEND ? "re-emitted the frozen list" : "");
        }
}

static void handle_request(segmenter_t *s, const rd_kafka_message_t *m)
{
        char err[256];
        avro_value_t v;
        seg_request_t rq = {0};
        seg_outcome_t o;
        seg_frozen_t f;
        int found;

        osh_service_count(s->svc, OSH_CTR_IN, 1);
        if (!m->payload ||
            osh_serde_decode(s->s_req, m->payload, m->len, &v, NULL, err, sizeof(err))) {
                osh_warn("%s @%" PRId64 ": undecodable request", OSH_TOPIC_CAMPAIGNS, m->offset);
                osh_service_count(s->svc, OSH_CTR_REJECTED, 1);
                return;
        }
        if (seg_request_from_avro(&v, &rq, err, sizeof(err))) {
                osh_warn("%s @%" PRId64 ": %s", OSH_TOPIC_CAMPAIGNS, m->offset, err);
                osh_service_count(s->svc, OSH_CTR_REJECTED, 1);
                goto done;
        }
        found = seg_state_load(s->state_dir, rq.campaign_id, &f, NULL, NULL, NULL, NULL, err,
                               sizeof(err));
        if (found == 1) {
                handle_frozen(s, &rq, &f, m->offset);
        } else if (found < 0) {
                reject_request(s, &rq, "frozen list damaged; see the segmenter log");
                osh_error("%s", err);
        } else if (rq.action == SEG_ACT_CANCEL || rq.action == SEG_ACT_RESEND) {
                reject_request(s, &rq, "no frozen campaign with this id");
        } else if (!s->store) {
                reject_request(s, &rq, "no complete resident snapshot yet");
        } else if (rq.action == SEG_ACT_SEND) {
                freeze_and_send(s, &rq, m);
        } else if (evaluate(s, &rq, 0, &o) == 0) {
                outcome_result(s, &rq, &o, NULL);
                seg_outcome_clear(&o);
        }
done:
        seg_request_clear(&rq);
        avro_value_decref(&v);
}

/* ---- life cycle ---- */

static int is_fetch_wait(const char *key, const char *val, void *opaque)
{
        (void)val;
        (void)opaque;
        return strcmp(key, "fetch.wait.max.ms") == 0;
}

static osh_consumer_t *consumer(segmenter_t *s, const char *group, const char *const *topics,
                                size_t n, const osh_replay_t *replay, const char *fetch_wait,
                                char *errstr, size_t size)
{
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(s->svc->cfg, "kafka.", OSH_KAFKA_CONSUMER, NULL, errstr, size);

        if (conf && fetch_wait &&
            !osh_config_foreach_prefixed(s->svc->cfg, "kafka.", is_fetch_wait, NULL) &&
            osh_kafka_conf_set(conf, "fetch.wait.max.ms", fetch_wait, errstr, size)) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        return conf ? osh_consumer_new(conf, group, topics, n, replay, errstr, size) : NULL;
}

static int open_clients(segmenter_t *s, char *errstr, size_t size)
{
        static const char *const state_topics[] = {OSH_TOPIC_ABSTRACTED, OSH_TOPIC_BATCH,
                                                   OSH_TOPIC_DESTINATIONS};
        static const char *const req_topics[] = {OSH_TOPIC_CAMPAIGNS};
        static const char *const out_topics[] = {OSH_TOPIC_DISPATCH, OSH_TOPIC_RESULTS};
        osh_replay_t earliest = {.kind = OSH_REPLAY_EARLIEST};
        const char *group = osh_config_str(s->svc->cfg, "group.id");
        char state_group[300];
        rd_kafka_conf_t *pconf;

        /* the snapshot is in memory only: always rebuild it from the start */
        snprintf(state_group, sizeof(state_group), "%s-state", group);
        s->state_c = consumer(s, state_group, state_topics, 3, &earliest, NULL, errstr, size);
        if (!s->state_c)
                return -1;
        s->req_c =
            consumer(s, group, req_topics, 1, &s->svc->replay, REQUEST_FETCH_WAIT, errstr, size);
        if (!s->req_c)
                return -1;
        pconf = osh_kafka_conf_new(s->svc->cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, errstr, size);
        s->prod = pconf ? osh_producer_new(pconf, errstr, size) : NULL;
        if (!s->prod)
                return -1;
        /* the first campaign's records need not wait for metadata */
        osh_producer_prepare(s->prod, out_topics, 2, PREPARE_MS);
        s->scan = osh_scan_new(s->svc->cfg, "kafka.", errstr, size);
        return s->scan ? 0 : -1;
}

static int load_dictionary(segmenter_t *s, char *errstr, size_t size)
{
        const char *path = osh_config_str(s->svc->cfg, "dictionary.file");

        const char *key = osh_config_str(s->svc->cfg, "dictionary.key.file");

        if (!path || !*path)
                s->dict = osh_dict_load_default(errstr, size);
        else if (key && *key)
                s->dict = osh_dict_load_sealed(path, key, errstr, size);
        else
                s->dict = osh_dict_load(path, errstr, size);
        return s->dict ? 0 : -1;
}

segmenter_t *segmenter_new(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        segmenter_t *s = calloc(1, sizeof(*s));

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->svc = svc;
        s->state_dir = osh_config_str(svc->cfg, "state.dir");
        s->excl_path = osh_config_str(svc->cfg, "exclusion.file");
        s->s_abs = osh_schema_for_topic(OSH_TOPIC_ABSTRACTED);
        s->s_dest = osh_schema_for_topic(OSH_TOPIC_DESTINATIONS);
        s->s_req = osh_schema_for_topic(OSH_TOPIC_CAMPAIGNS);
        s->s_res = osh_schema_for_topic(OSH_TOPIC_RESULTS);
        s->s_disp = osh_schema_for_topic(OSH_TOPIC_DISPATCH);
        if (!s->s_abs || !s->s_dest || !s->s_req || !s->s_res || !s->s_disp) {
                snprintf(errstr, errstr_size, "schemas missing");
                goto fail;
        }
        if (!(s->tracker = osh_batch_tracker_new()) || load_dictionary(s, errstr, errstr_size) ||
            open_clients(s, errstr, errstr_size))
                goto fail;
        if (s->excl_path && *s->excl_path) {
                sync_exclusions(s);
                if (!s->excl_mtime) {
                        snprintf(errstr, errstr_size, "exclusion.file %s unreadable", s->excl_path);
                        goto fail;
                }
        } else {
                s->excl_path = NULL;
        }
        if (seg_state_scan(s->state_dir, on_frozen_found, s)) {
                snprintf(errstr, errstr_size, "state.dir %s unreadable", s->state_dir);
                goto fail;
        }
        return s;
fail:
        segmenter_destroy(s);
        return NULL;
}

/* Waits until every answer queued is on the broker: 1 when all were
 * delivered and none failed since `failed_before` (delivery failures so far). */
static int answers_delivered(segmenter_t *s, uint64_t failed_before)
{
        osh_producer_stats_t st;

        osh_producer_flush(s->prod, DISPATCH_FLUSH_MS); /* its -1 counts every failure ever */
        osh_producer_stats(s->prod, &st);
        return rd_kafka_outq_len(osh_producer_handle(s->prod)) == 0 && st.failed == failed_before;
}

/* Answers every request already fetched (up to REQUEST_BATCH), waits until
 * the answers are on the broker, and only then stores the offsets and
 * commits once (docs/architecture.md §3): a crash before that answers the
 * batch again after the restart, never not at all. Answers that could
 * not be delivered are made again (a frozen campaign is never emitted twice
 * by a repeated request: handle_frozen). */
static void answer_requests(segmenter_t *s)
{
        rd_kafka_message_t *batch[REQUEST_BATCH];
        osh_producer_stats_t st;
        size_t n = 0, i;
        int tries = 0, ok = 0;

        batch[0] = osh_consumer_poll(s->req_c, REQUEST_POLL_MS);
        while (batch[n] && ++n < REQUEST_BATCH)
                batch[n] = osh_consumer_poll(s->req_c, 0);
        if (!n)
                return;
        while (!ok && (!tries || !osh_shutdown_requested())) {
                if (tries++)
                        osh_error("%zu answer(s) not delivered: answering again", n);
                osh_producer_stats(s->prod, &st);
                for (i = 0; i < n; i++)
                        handle_request(s, batch[i]);
                ok = answers_delivered(s, st.failed);
        }
        for (i = 0; i < n; i++) {
                if (ok)
                        osh_consumer_store(s->req_c, batch[i]);
                rd_kafka_message_destroy(batch[i]);
        }
        if (!ok)
                return;
        osh_consumer_commit(s->req_c);
        if (n > 1)
                osh_info("answered %zu requests, one commit", n);
}

int segmenter_run(segmenter_t *s)
{
        rd_kafka_message_t *m;
        int burst;

        while (!osh_shutdown_requested()) {
                /* state first, so a request sees the newest snapshot */
                for (burst = 0; burst < STATE_BURST; burst++) {
                        if (!(m = osh_consumer_poll(s->state_c, s->caught_up ? 0 : STATE_POLL_MS)))
                                break;
                        handle_state(s, m);
                        rd_kafka_message_destroy(m);
                }
                if (!s->caught_up && osh_consumer_at_end(s->state_c)) {
                        s->caught_up = 1;
                        osh_info("state caught up: %zu residents, %zu destinations",
                                 s->store ? s->store->n : 0, s->dests.n);
                        osh_service_ready(s->svc);
                }
                if (s->caught_up)
                        answer_requests(s);
                run_due(s);
                osh_producer_poll(s->prod, 0);
        }
        return 0;
}

void segmenter_destroy(segmenter_t *s)
{
        int i;

        if (!s)
                return;
        osh_consumer_destroy(s->req_c);
        osh_consumer_destroy(s->state_c);
        osh_scan_destroy(s->scan);
        /* Bounded even with the broker gone: what is still queued is purged
         * and logged. Nothing is lost for good: a campaign is marked
         * DISPATCHING only after its records were flushed, so a restart
         * re-emits a FROZEN one. */
        osh_producer_destroy(s->prod);
        for (i = 0; i < MAX_OPEN_BATCHES; i++)
                seg_builder_destroy(s->open[i].b);
        osh_batch_tracker_destroy(s->tracker);
        seg_view_clear(&s->view);
        seg_store_destroy(s->store);
        seg_dests_clear(&s->dests);
        seg_exclusions_clear(&s->excl);
        osh_dict_destroy(s->dict);
        free(s->sched);
        free(s);
}
