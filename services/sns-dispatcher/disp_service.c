#include "disp_service.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/clock.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"

#include "disp_core.h"

#define DISP_DURATION_MAX_MS (24 * 3600 * 1000LL)      /* a day: longer is a typo */
#define DISP_GIVE_UP_MAX_MS  (30 * 24 * 3600 * 1000LL) /* a month */
/* Learning the output topics' partitions at start-up. */
#define PREPARE_MS 5000
/* The run loop waits for records at most this long, so a retry or the end
 * of a quiet window is sent on time and SIGTERM is seen. */
#define LOOP_POLL_MS 200
/* Due entries sent per turn of the loop, so new records are not starved. */
#define TICK_MAX 64

/* The service's own keys; each channel's come from its plugin. */
static const osh_cfg_entry_t base_table[] = {
    {"group.id", OSH_CFG_STR, "sns-dispatcher", "OSH_GROUP_ID", "consumer group"},
    {"ledger.path", OSH_CFG_STR, "sns-dispatcher.ledger", "OSH_LEDGER_PATH",
     "sent-ledger file (survives restarts; never delete it to resend)"},
    {"ledger.fsync", OSH_CFG_BOOL, "true", NULL,
     "fdatasync the ledger before storing offsets (group commit)"},
    {"templates.dir", OSH_CFG_STR, "templates", "OSH_TEMPLATES_DIR", "message templates"},
    {"quiet.hours", OSH_CFG_STR, "", "OSH_QUIET_HOURS",
     "hold non-critical sends in this local window, e.g. 21:00-08:00"},
    {"quiet.utc_offset", OSH_CFG_INT, "540", NULL, "minutes east of UTC (Asia/Tokyo: 540)",
     .flags = OSH_CFG_RANGE, .min = -720, .max = 840},
    {"retry.base", OSH_CFG_DURATION_MS, "1s", NULL, "first retry delay (doubles, jittered)",
     .flags = OSH_CFG_RANGE, .min = 1, .max = DISP_DURATION_MAX_MS},
    {"retry.max", OSH_CFG_DURATION_MS, "5m", NULL, "longest retry delay", .flags = OSH_CFG_RANGE,
     .min = 1, .max = DISP_DURATION_MAX_MS},
    {"retry.give_up", OSH_CFG_DURATION_MS, "24h", NULL,
     "after this long a retryable failure becomes FAILED_PERM", .flags = OSH_CFG_RANGE, .min = 1,
     .max = DISP_GIVE_UP_MAX_MS},
    {"http.timeout", OSH_CFG_DURATION_MS, "10s", NULL, "per provider request",
     .flags = OSH_CFG_RANGE, .min = 1, .max = DISP_DURATION_MAX_MS},
    {"http.concurrency", OSH_CFG_INT, "8", NULL,
     "provider requests in flight at once, each on its own kept-alive connection",
     .flags = OSH_CFG_RANGE, .min = 1, .max = 64},
    {"report.interval", OSH_CFG_DURATION_MS, "5s", NULL, "delivery report period",
     .flags = OSH_CFG_RANGE, .min = 1, .max = DISP_DURATION_MAX_MS},
};

#define DISP_CONFIG_MAX 96

osh_service_app_t disp_app;

osh_cfg_entry_t disp_config_table[DISP_CONFIG_MAX];
size_t disp_config_table_len;

/* The whole table: the service's keys, then every registered channel's. */
__attribute__((constructor)) static void build_table(void)
{
        size_t n = sizeof(base_table) / sizeof(base_table[0]);

        memcpy(disp_config_table, base_table, sizeof(base_table));
        for (size_t i = 0; disp_channels[i]; i++)
                for (size_t k = 0; k < disp_channels[i]->nconfig; k++)
                        if (n < DISP_CONFIG_MAX) /* a unit test checks it all fits */
                                disp_config_table[n++] = disp_channels[i]->config[k];
        disp_config_table_len = disp_app.ntable = n;
}

#define GROUP_MAX 64
/* Poll groups whose ledger entries may still be syncing: their offsets
 * are stored once the entries are on disk. */
#define HELD_MAX 8

typedef struct held {
        rd_kafka_message_t *m[GROUP_MAX];
        int n;
        uint64_t ticket; /* disp_ledger_commit's */
} held_t;

struct disp_service {
        osh_service_t *svc;
        held_t held[HELD_MAX]; /* a ring: oldest at held_head */
        int held_head, held_n;
        disp_core_conf_t conf;
        disp_ledger_t *ledger;
        disp_core_t *core;
        osh_consumer_t *cons;
        osh_producer_t *prod;
        int64_t report_ms;
        disp_core_stats_t last;
};

/* msg_opaque (malloc()ed ledger key or NULL) goes to on_delivery. */
static void produce(disp_service_t *s, const char *topic, const char *key, avro_value_t *v,
                    const osh_schema_t *sch, char *msg_opaque)
{
        void *buf = NULL;
        size_t len;
        char err[256];
        osh_kafka_msg_t m = {topic, RD_KAFKA_PARTITION_UA, key, strlen(key), NULL, 0, NULL, 0};

        if (osh_serde_encode_alloc(sch, v, &buf, &len, err, sizeof(err)) < 0) {
                osh_error("encode %s: %s", topic, err);
                free(msg_opaque);
                return;
        }
        m.value = buf;
        m.value_len = len;
        if (osh_producer_send(s->prod, &m, msg_opaque) < 0) {
                osh_error("produce to %s failed", topic);
                free(msg_opaque);
        }
        free(buf);
}

/* A final status reached the broker: the ledger need not re-emit it. */
static void on_delivery(void *opaque, void *msg_opaque, rd_kafka_resp_err_t err, int32_t partition,
                        int64_t offset)
{
        disp_service_t *s = opaque;

        if (msg_opaque && !err)
                disp_ledger_put_acked(s->ledger, msg_opaque);
        free(msg_opaque);
}

static void on_status(void *opaque, const disp_status_t *st)
{
        disp_service_t *s = opaque;
        const osh_schema_t *sch = osh_schema_for_topic(OSH_TOPIC_STATUS);
        avro_value_t v;

        if (!sch || osh_value_new(sch, &v) < 0)
                return;
        osh_value_set_string(&v, "dispatch_id", st->dispatch_id);
        osh_value_set_string(&v, "campaign_id", st->campaign_id);
        osh_value_set_enum(&v, "channel", disp_channel_symbol(st->channel));
        osh_value_set_enum(&v, "status", st->status);
        osh_value_set_string(&v, "provider_code", st->code);
        if (st->message_id[0])
                osh_value_set_string(&v, "provider_message_id", st->message_id);
        osh_value_set_string(&v, "detail", st->detail);
        osh_value_set_int(&v, "recipients", st->recipients);
        osh_value_set_int(&v, "attempt", st->attempt);
        osh_value_set_long(&v, "at", st->at_ms);
        produce(s, OSH_TOPIC_STATUS, st->dispatch_id, &v, sch,
                !strcmp(st->status, "SENT") || !strcmp(st->status, "FAILED_PERM")
                    ? strdup(st->dispatch_id)
                    : NULL);
        avro_value_decref(&v);
        osh_service_count(s->svc,
                          !strcmp(st->status, "SENT")          ? OSH_CTR_OUT
                          : !strcmp(st->status, "FAILED_PERM") ? OSH_CTR_REJECTED
                                                               : OSH_CTR_ERRORS,
                          (uint64_t)st->recipients);
}

/* campaign.results.v1: DISPATCHING while anything is left, DONE only in
 * the final answer (every dispatch of the frozen list settled). */
static void on_report(void *opaque, const disp_report_t *r)
{
        disp_service_t *s = opaque;
        const osh_schema_t *sch = osh_schema_for_topic(OSH_TOPIC_RESULTS);
        const int64_t *counts = r->counts;
        avro_value_t v, map, item;
        char line[256];
        int n = 0;

        for (int i = 0; i < DISP_N_STATUS; i++)
                n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%" PRId64,
                              disp_status_names[i], counts[i]);
        osh_info("delivery report campaign %s:%s settled=%" PRId64 "/%" PRId64 "%s", r->campaign_id,
                 line, r->settled, r->expected, r->done ? " DONE" : "");
        if (!sch || osh_value_new(sch, &v) < 0)
                return;
        osh_value_set_string(&v, "campaign_id", r->campaign_id);
        osh_value_set_enum(&v, "action", "SEND");
        osh_value_set_enum(&v, "state", r->done ? "DONE" : "DISPATCHING");
        osh_value_set_long(&v, "recipients", counts[1] + counts[4] + counts[5]);
        osh_value_set_long(&v, "computed_at", (int64_t)time(NULL) * 1000);
        if (osh_value_field(&v, "delivery", &map) == 0)
                for (int i = 0; i < DISP_N_STATUS; i++)
                        if (osh_value_add(sch, &map, disp_status_names[i], &item) == 0)
                                avro_value_set_long(&item, counts[i]);
        produce(s, OSH_TOPIC_RESULTS, r->campaign_id, &v, sch, NULL);
        avro_value_decref(&v);
}

/* The segmenter's answer to a SEND (FROZEN or DISPATCHING, no delivery map:
 * the dispatcher's own answers carry one) says how many dispatches the
 * frozen list holds. 0 / -1 (ledger). */
static int on_result(disp_service_t *s, const rd_kafka_message_t *m)
{
        const osh_schema_t *sch = osh_schema_for_topic(OSH_TOPIC_RESULTS);
        const char *action = NULL, *state = NULL, *id = NULL;
        avro_value_t v, map;
        size_t len, nmap = 1;
        int64_t recipients = -1;
        char err[128];
        int rc = 0;

        if (!sch || osh_serde_decode(sch, m->payload, m->len, &v, NULL, err, sizeof(err)) < 0)
                return 0; /* not ours to judge */
        if (osh_value_get_enum(&v, "action", &action) == 0 &&
            osh_value_get_enum(&v, "state", &state) == 0 &&
            osh_value_get_string(&v, "campaign_id", &id, &len) == 0 &&
            osh_value_get_long(&v, "recipients", &recipients) == 0 &&
            osh_value_field(&v, "delivery", &map) == 0 && avro_value_get_size(&map, &nmap) == 0 &&
            !nmap && !strcmp(action, "SEND") &&
            (!strcmp(state, "FROZEN") || !strcmp(state, "DISPATCHING")) && id && *id &&
            recipients >= 0)
                rc = disp_core_expect(s->core, id, recipients);
        avro_value_decref(&v);
        return rc;
}

/* A key of ch's own table ending in suffix, or NULL. */
static const char *channel_key(const disp_channel_t *ch, const char *suffix)
{
        for (size_t k = 0; k < ch->nconfig; k++) {
                const char *key = ch->config[k].key, *dot = strchr(key, '.');
                if (dot && !strcmp(dot + 1, suffix))
                        return key;
        }
        return NULL;
}

static const char *channel_str(const osh_config_t *cfg, const disp_channel_t *ch,
                               const char *suffix)
{
        const char *key = channel_key(ch, suffix);

        return key ? osh_config_str(cfg, key) : NULL;
}

static void load_channel(const osh_config_t *cfg, const disp_channel_t *ch, disp_chan_conf_t *c,
                         const char **rate)
{
        c->url = channel_str(cfg, ch, "url");
        c->token = channel_str(cfg, ch, "token");
        c->from = channel_str(cfg, ch, "from");
        c->secret = channel_str(cfg, ch, "secret");
        c->max_chars = (size_t)osh_config_int(cfg, channel_key(ch, "max_chars"));
        c->max_parts = (size_t)osh_config_int(cfg, channel_key(ch, "max_parts"));
        c->timeout_ms = (long)osh_config_int(cfg, "http.timeout");
        *rate = channel_str(cfg, ch, "rate");
}

static void load_conf(disp_service_t *s)
{
        const osh_config_t *cfg = s->svc->cfg;

        for (size_t i = 0; disp_channels[i]; i++)
                load_channel(cfg, disp_channels[i], &s->conf.chan[disp_channels[i]->kind],
                             &s->conf.rate[disp_channels[i]->kind]);
        s->conf.templates_dir = osh_config_str(cfg, "templates.dir");
        s->conf.retry_base_ms = osh_config_int(cfg, "retry.base");
        s->conf.retry_max_ms = osh_config_int(cfg, "retry.max");
        s->conf.give_up_ms = osh_config_int(cfg, "retry.give_up");
        s->report_ms = osh_config_int(cfg, "report.interval");
        s->conf.concurrency = (int)osh_config_int(cfg, "http.concurrency");
}

/* A final status the previous run settled but whose record the broker
 * never acknowledged (crash): emit it again. */
static void reemit(void *opaque, const char *key, const char *status, const disp_final_meta_t *m)
{
        disp_status_t st = {key,
                            m->campaign_id,
                            m->channel >= 0 && m->channel < DISP_CH__CNT
                                ? (disp_chan_kind_t)m->channel
                                : DISP_CH_OTHER,
                            status,
                            "",
                            "",
                            "status re-emitted after restart",
                            m->recipients,
                            0,
                            (int64_t)time(NULL) * 1000};

        on_status(opaque, &st);
}

int disp_service_validate(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        osh_quiet_t q;
        disp_bucket_t b;

        if (osh_quiet_parse(osh_config_str(svc->cfg, "quiet.hours"), 0, &q) < 0) {
                snprintf(errstr, errstr_size, "quiet.hours: want HH:MM-HH:MM");
                return -1;
        }
        for (size_t i = 0; disp_channels[i]; i++) {
                const char *k = channel_key(disp_channels[i], "rate");
                if (disp_bucket_parse(osh_config_str(svc->cfg, k), &b, 0) < 0) {
                        snprintf(errstr, errstr_size, "%s: want N/s, N/m, N/h or N/d[:burst]", k);
                        return -1;
                }
        }
        return 0;
}

#define STATUS_SCAN_MS 30000
/* One poll of the status scan: short, so its deadline and SIGTERM are seen. */
#define STATUS_POLL_MS 200

/* One notify.status.v1 record: a final status of a ledger entry marks it
 * acknowledged. */
static void ack_status(disp_service_t *s, const rd_kafka_message_t *m)
{
        const osh_schema_t *sch = osh_schema_for_topic(OSH_TOPIC_STATUS);
        const char *id = NULL, *status = NULL;
        avro_value_t v;
        size_t len;
        char err[128];

        if (!sch || osh_serde_decode(sch, m->payload, m->len, &v, NULL, err, sizeof(err)) < 0)
                return;
        if (osh_value_get_string(&v, "dispatch_id", &id, &len) == 0 &&
            osh_value_get_enum(&v, "status", &status) == 0 &&
            (!strcmp(status, "SENT") || !strcmp(status, "FAILED_PERM")) &&
            disp_ledger_final(s->ledger, id))
                disp_ledger_put_acked(s->ledger, id);
        avro_value_decref(&v);
}

/* After a crash some final statuses may have reached the broker without
 * their acknowledgement reaching the ledger: read notify.status.v1 once
 * (own group, from the earliest offset to the end, at most 30 s) so that only the ones
 * really missing are emitted again, and each dispatch has one final
 * status. If the scan cannot finish in time, the rest is re-emitted (a
 * duplicate is better than a loss) and the log says so. */
static void ack_from_topic(disp_service_t *s)
{
        const char *topics[] = {OSH_TOPIC_STATUS};
        osh_replay_t earliest = {.kind = OSH_REPLAY_EARLIEST};
        int64_t deadline = osh_mono_ms() + STATUS_SCAN_MS;
        size_t before = disp_ledger_unacked_count(s->ledger);
        rd_kafka_conf_t *kc;
        osh_consumer_t *c;
        rd_kafka_message_t *m;
        char group[160], err[256];

        if (!before)
                return;
        snprintf(group, sizeof(group), "%s.status-scan", osh_config_str(s->svc->cfg, "group.id"));
        kc = osh_kafka_conf_new(s->svc->cfg, "kafka.", OSH_KAFKA_CONSUMER, NULL, err, sizeof(err));
        c = kc ? osh_consumer_new(kc, group, topics, 1, &earliest, err, sizeof(err)) : NULL;
        while (c && !osh_consumer_at_end(c) && osh_mono_ms() < deadline &&
               !osh_shutdown_requested())
                if ((m = osh_consumer_poll(c, STATUS_POLL_MS))) {
                        ack_status(s, m);
                        rd_kafka_message_destroy(m);
                }
        if (!c || !osh_consumer_at_end(c))
                osh_warn("status scan did not finish%s%s: re-emitting every unacknowledged final "
                         "status",
                         c ? "" : ": ", c ? "" : err);
        osh_info("status scan: %zu of %zu unacknowledged final statuses already on %s",
                 before - disp_ledger_unacked_count(s->ledger), before, OSH_TOPIC_STATUS);
        osh_consumer_destroy(c);
}

disp_service_t *disp_service_new(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        disp_service_t *s = calloc(1, sizeof(*s));
        const char *topics[] = {OSH_TOPIC_DISPATCH, OSH_TOPIC_RESULTS};
        static const char *const out_topics[] = {OSH_TOPIC_STATUS, OSH_TOPIC_RESULTS};
        rd_kafka_conf_t *kc;

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->svc = svc;
        load_conf(s);
        if (osh_quiet_parse(osh_config_str(svc->cfg, "quiet.hours"),
                            (int)osh_config_int(svc->cfg, "quiet.utc_offset"),
                            &s->conf.quiet) < 0) {
                snprintf(errstr, errstr_size, "quiet.hours: want HH:MM-HH:MM");
                goto fail;
        }
        if (svc->hb) { /* the console shows staff this window (oshirase/quiet.h) */
                const osh_quiet_t *q = &s->conf.quiet;
                osh_heartbeat_set_named(svc->hb, OSH_QUIET_HB_START,
                                        q->enabled ? q->start_min : -1);
                osh_heartbeat_set_named(svc->hb, OSH_QUIET_HB_END, q->enabled ? q->end_min : -1);
                osh_heartbeat_set_named(svc->hb, OSH_QUIET_HB_OFFSET, q->utc_offset_min);
        }
        s->ledger = disp_ledger_open(
            osh_config_str(svc->cfg, "ledger.path"),
            osh_config_bool(svc->cfg, "ledger.fsync") ? DISP_LEDGER_SYNC_GROUP : DISP_LEDGER_NOSYNC,
            errstr, errstr_size);
        if (!s->ledger)
                goto fail;
        s->core = disp_core_new(&s->conf, s->ledger, NULL, on_status, s, errstr, errstr_size);
        if (!s->core)
                goto fail;
        kc = osh_kafka_conf_new(svc->cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, errstr, errstr_size);
        if (!kc || !(s->prod = osh_producer_new(kc, errstr, errstr_size)))
                goto fail;
        osh_producer_prepare(s->prod, out_topics, 2, PREPARE_MS);
        osh_producer_set_delivery_cb(s->prod, on_delivery, s);
        ack_from_topic(s);
        disp_ledger_foreach_unacked(s->ledger, reemit, s);
        kc = osh_kafka_conf_new(svc->cfg, "kafka.", OSH_KAFKA_CONSUMER, NULL, errstr, errstr_size);
        if (!kc || !(s->cons = osh_consumer_new(kc, osh_config_str(svc->cfg, "group.id"), topics, 2,
                                                &svc->replay, errstr, errstr_size)))
                goto fail;
        osh_info("ledger: %zu settled, %zu pending", disp_ledger_final_count(s->ledger),
                 disp_ledger_pending_count(s->ledger));
        return s;
fail:
        disp_service_destroy(s);
        return NULL;
}

/* Stores the offsets of the held groups whose ledger entries are on disk
 * (all of them, waiting, with wait != 0), oldest first. 0 / -1 (an
 * fdatasync failed: nothing more is stored). */
static int release(disp_service_t *s, int wait)
{
        while (s->held_n) {
                held_t *h = &s->held[s->held_head];
                int d = disp_ledger_durable(s->ledger, h->ticket, wait);
                if (d <= 0)
                        return d;
                for (int i = 0; i < h->n; i++) {
                        osh_consumer_store(s->cons, h->m[i]);
                        rd_kafka_message_destroy(h->m[i]);
                }
                h->n = 0;
                s->held_head = (s->held_head + 1) % HELD_MAX;
                s->held_n--;
        }
        return 0;
}

/* Drops the held groups without storing their offsets (a failed ledger). */
static void drop_held(disp_service_t *s)
{
        for (; s->held_n; s->held_n--, s->held_head = (s->held_head + 1) % HELD_MAX) {
                held_t *h = &s->held[s->held_head];
                for (int i = 0; i < h->n; i++)
                        rd_kafka_message_destroy(h->m[i]);
                h->n = 0;
        }
}

/* Settles the dispatch records m[from..to) as one batch (their requests go
 * out in parallel). 0 / -1. */
static int flush_batch(disp_service_t *s, rd_kafka_message_t **m, int from, int to)
{
        disp_record_t r[GROUP_MAX];
        char keys[GROUP_MAX][320];

        for (int i = from; i < to; i++) {
                keys[i - from][0] = '\0';
                if (m[i]->key_len && m[i]->key_len < sizeof(keys[0])) {
                        memcpy(keys[i - from], m[i]->key, m[i]->key_len);
                        keys[i - from][m[i]->key_len] = '\0';
                }
                r[i - from] = (disp_record_t){m[i]->payload, m[i]->len, keys[i - from]};
        }
        return to > from ? disp_core_handle_batch(s->core, r, (size_t)(to - from)) : 0;
}

/* Settles up to GROUP_MAX records already waiting (the first one may be
 * waited for): the dispatch records between two campaign.results.v1
 * records form one batch. Their ledger entries are then committed without
 * waiting, and their offsets stored once the entries are on disk (group
 * commit, see release): the next group is sent while this one syncs.
 * 0 / -1. */
static int handle_group(disp_service_t *s, int timeout_ms)
{
        held_t *h;
        int n = 0, from = 0, rc = 0;

        if (s->held_n == HELD_MAX && release(s, 1) < 0)
                return -1;
        h = &s->held[(s->held_head + s->held_n) % HELD_MAX];
        while (n < GROUP_MAX && (h->m[n] = osh_consumer_poll(s->cons, n ? 0 : timeout_ms))) {
                if (!strcmp(rd_kafka_topic_name(h->m[n]->rkt), OSH_TOPIC_RESULTS)) {
                        if (flush_batch(s, h->m, from, n) < 0 || on_result(s, h->m[n]) < 0)
                                rc = -1;
                        from = n + 1;
                } else {
                        osh_service_count(s->svc, OSH_CTR_IN, 1);
                }
                n++;
                if (rc < 0 || osh_shutdown_requested())
                        break;
        }
        if (rc == 0 && flush_batch(s, h->m, from, n) < 0)
                rc = -1;
        h->n = n;
        if (n) {
                h->ticket = disp_ledger_commit(s->ledger);
                s->held_n++;
        }
        if (rc == 0)
                rc = release(s, 0);
        if (rc < 0) {
                drop_held(s);
                osh_error("ledger write failed: stopping without storing the offsets");
        }
        return rc;
}

/* Counts (never ids or text) when they changed: tests wait on "in=". */
static void log_stats(disp_service_t *s)
{
        disp_core_stats_t st;

        disp_core_stats(s->core, &st);
        if (!memcmp(&st, &s->last, sizeof(st)))
                return;
        s->last = st;
        if (s->svc->hb) { /* for the monitor: send errors and backlog */
                osh_heartbeat_set_named(s->svc->hb, "sent", (int64_t)st.sent);
                osh_heartbeat_set_named(s->svc->hb, "failed_perm", (int64_t)st.failed_perm);
                osh_heartbeat_set_named(s->svc->hb, "retries", (int64_t)st.retries);
                osh_heartbeat_set_named(s->svc->hb, "pending",
                                        (int64_t)disp_ledger_pending_count(s->ledger));
        }
        osh_info("stats: in=%" PRIu64 " sent=%" PRIu64 " failed_perm=%" PRIu64 " retries=%" PRIu64
                 " duplicates=%" PRIu64 " held=%" PRIu64 " pending=%zu",
                 st.in, st.sent, st.failed_perm, st.retries, st.duplicates, st.held,
                 disp_ledger_pending_count(s->ledger));
}

int disp_service_run(disp_service_t *s)
{
        int64_t next_report = osh_mono_ms() + s->report_ms, wait = 0;

        osh_service_ready(s->svc);
        while (!osh_shutdown_requested()) {
                int timeout = wait < 0 || wait > LOOP_POLL_MS ? LOOP_POLL_MS : (int)wait;
                int rc = handle_group(s, timeout);

                wait = disp_core_tick(s->core, TICK_MAX);
                if (rc < 0 || wait == -2)
                        return -1;
                disp_ledger_commit(s->ledger); /* what the retries wrote, in the background */
                osh_producer_poll(s->prod, 0);
                if (osh_mono_ms() >= next_report) {
                        disp_core_report(s->core, 0, on_report, s);
                        log_stats(s);
                        next_report = osh_mono_ms() + s->report_ms;
                }
        }
        if (release(s, 1) < 0) { /* the last groups' offsets, once their entries are on disk */
                drop_held(s);
                return -1;
        }
        return 0;
}

void disp_service_destroy(disp_service_t *s)
{
        if (!s)
                return;
        if (s->core && s->prod)
                disp_core_report(s->core, 0, on_report, s);
        drop_held(s); /* run() stored what was durable */
        osh_consumer_destroy(s->cons);
        osh_producer_destroy(s->prod);
        disp_core_destroy(s->core);
        disp_ledger_close(s->ledger);
        free(s);
}

static void *disp_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        return disp_service_new(svc, errstr, errstr_size);
}

static int disp_run(void *app)
{
        return disp_service_run(app) < 0 ? 1 : 0;
}

static void disp_close(void *app)
{
        disp_service_destroy(app);
}

/* disp_service_run says ready itself. */
osh_service_app_t disp_app = {
    .name = "sns-dispatcher",
    .table = disp_config_table,
    .ntable = 0, /* build_table sets it */
    .hb_prefix = "kafka.",
    .configure = disp_service_validate,
    .open = disp_open,
    .run = disp_run,
    .close = disp_close,
};
