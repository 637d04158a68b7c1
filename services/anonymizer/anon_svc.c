#include "anon_svc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anon_int.h"
#include "anon_prep.h"
#include "oshirase/clock.h"
#include "oshirase/log.h"
#include "oshirase/par.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"

const osh_cfg_entry_t anon_config_table[] = {
    {"anon.rules", OSH_CFG_STR, NULL, "OSH_ANON_RULES",
     "versioned rule file (required), e.g. services/anonymizer/rules/rules-v1.conf"},
    {"anon.dictionary", OSH_CFG_STR, NULL, "OSH_ANON_DICTIONARY",
     "attribute dictionary TSV (default: the one compiled in)"},
    {"anon.hmac.key.file", OSH_CFG_STR, NULL, "OSH_ANON_HMAC_KEY_FILE",
     "file holding the 利用者ID HMAC key as hex (>= 32 bytes); never leaves processing"},
    {"anon.hmac.key", OSH_CFG_STR, NULL, "OSH_ANON_HMAC_KEY",
     "the HMAC key as hex (prefer anon.hmac.key.file)"},
    {"anon.k.floor", OSH_CFG_INT, NULL, "OSH_ANON_K_FLOOR",
     "override the rule file's k_floor (smallest released quasi-identifier group)"},
    {"anon.extreme.age", OSH_CFG_INT, NULL, "OSH_ANON_EXTREME_AGE",
     "override the rule file's extreme_age (0: keep every birth year-month)"},
    {"anon.group.id", OSH_CFG_STR, "anonymizer", "OSH_ANON_GROUP_ID", "consumer group"},
    {"anon.dead.letter.topic", OSH_CFG_STR, OSH_TOPIC_REJECTS, "OSH_ANON_DEAD_LETTER_TOPIC",
     "records of bad shape go here, on the processing cluster"},
    {"anon.max.records", OSH_CFG_INT, "2000000", "OSH_ANON_MAX_RECORDS",
     "largest batch buffered; a larger batch is abandoned (error)"},
    {"anon.threads", OSH_CFG_INT, "2", "OSH_ANON_THREADS",
     "threads that judge a complete batch; the decisions do not depend on it",
     .flags = OSH_CFG_RANGE, .min = 1, .max = OSH_PAR_MAX},
};
const size_t anon_config_table_len = sizeof(anon_config_table) / sizeof(anon_config_table[0]);

/* ---- offsets: never past the first record of an unreleased batch ---- */

static int poff_note(anon_poff_t **arr, size_t *n, int topic, int32_t part, int64_t off, int min)
{
        anon_poff_t *p;

        for (size_t i = 0; i < *n; i++) {
                p = &(*arr)[i];
                if (p->topic == topic && p->part == part) {
                        if (min ? off < p->off : off > p->off)
                                p->off = off;
                        return 0;
                }
        }
        if (!(p = realloc(*arr, (*n + 1) * sizeof(*p))))
                return -1;
        *arr = p;
        p[*n] = (anon_poff_t){topic, part, off};
        (*n)++;
        return 0;
}

static void store_offsets(anon_t *a)
{
        rd_kafka_topic_partition_list_t *l;

        if (!a->nconsumed || rd_kafka_outq_len(osh_producer_handle(a->prod)) > 0)
                return; /* dead letters in flight: wait until they are acknowledged */
        l = rd_kafka_topic_partition_list_new((int)a->nconsumed);
        for (size_t i = 0; i < a->nconsumed; i++) {
                const anon_poff_t *c = &a->consumed[i];
                int64_t off = c->off;
                for (anon_open_t *ob = a->open; ob; ob = ob->next)
                        for (size_t j = 0; j < ob->nfirst; j++)
                                if (ob->first[j].topic == c->topic &&
                                    ob->first[j].part == c->part && ob->first[j].off < off)
                                        off = ob->first[j].off;
                rd_kafka_topic_partition_list_add(
                    l, c->topic == ANON_T_RAW ? OSH_TOPIC_RAW : OSH_TOPIC_BATCH, c->part)
                    ->offset = off;
        }
        rd_kafka_offsets_store(osh_consumer_handle(a->cons), l); /* unassigned: ignored */
        rd_kafka_topic_partition_list_destroy(l);
}

/* ---- open batches ---- */

static int is_done(const anon_t *a, const char *id)
{
        for (int i = 0; i < ANON_DONE_RING; i++)
                if (!strcmp(a->done[i], id))
                        return 1;
        return 0;
}

static void open_free(anon_open_t *ob)
{
        if (!ob)
                return;
        anon_batch_destroy(ob->buf);
        free(ob->first);
        free(ob);
}

static anon_open_t *open_get(anon_t *a, const char *id)
{
        anon_open_t *ob;

        for (ob = a->open; ob; ob = ob->next)
                if (!strcmp(ob->id, id))
                        return ob;
        if (!(ob = calloc(1, sizeof(*ob))) || !(ob->buf = anon_batch_new(a->rules))) {
                open_free(ob);
                return NULL;
        }
        snprintf(ob->id, sizeof(ob->id), "%s", id);
        ob->seen = osh_mono_s();
        ob->next = a->open;
        a->open = ob;
        osh_info("batch %s: first record seen, buffering", id);
        return ob;
}

/* Forgets a batch (released or abandoned) and lets offsets move past it. */
static void open_close(anon_t *a, anon_open_t *ob)
{
        anon_open_t **pp;

        for (pp = &a->open; *pp && *pp != ob; pp = &(*pp)->next)
                ;
        if (*pp)
                *pp = ob->next;
        snprintf(a->done[a->done_next], sizeof(a->done[0]), "%s", ob->id);
        a->done_next = (a->done_next + 1) % ANON_DONE_RING;
        osh_batch_tracker_forget(a->tracker, ob->id);
        open_free(ob);
}

static int check_complete(anon_t *a, anon_open_t *ob)
{
        osh_batch_state_t s = osh_batch_tracker_state(a->tracker, ob->id);

        if (s == OSH_BATCH_OPEN)
                return 0;
        if (s == OSH_BATCH_MISMATCH) {
                /* Releasing part of a snapshot would make residents vanish
                 * downstream; the operator re-sends the batch instead. */
                osh_error("batch %s: records do not match its END (count/checksum); abandoned, "
                          "nothing released",
                          ob->id);
                osh_service_count(a->svc, OSH_CTR_ERRORS, 1);
                open_close(a, ob);
                return 0;
        }
        if (anon_emit_batch(a, ob, osh_batch_tracker_end(a->tracker, ob->id)))
                return -1;
        a->batches++;
        if (a->svc->hb)
                osh_heartbeat_set_batch(a->svc->hb, ob->id);
        open_close(a, ob);
        store_offsets(a);
        osh_consumer_commit(a->cons);
        return 0;
}

/* ---- input ---- */

static int handle_marker(anon_t *a, const rd_kafka_message_t *m)
{
        osh_batch_marker_t mk;
        char errstr[256];
        anon_open_t *ob;

        if (osh_batch_marker_decode(m->payload, m->len, &mk, errstr, sizeof(errstr))) {
                osh_warn("batch.control.v1[%" PRId32 "]@%" PRId64 ": undecodable marker "
                         "ignored: %s",
                         m->partition, m->offset, errstr);
                osh_service_count(a->svc, OSH_CTR_ERRORS, 1);
                return 0;
        }
        if (strcmp(mk.topic, OSH_TOPIC_RAW) || is_done(a, mk.batch_id))
                return 0; /* other topics' batches (our own output too), or a redelivery */
        if (!(ob = open_get(a, mk.batch_id)) ||
            poff_note(&ob->first, &ob->nfirst, ANON_T_BATCH, m->partition, m->offset, 1) ||
            osh_batch_tracker_marker(a->tracker, &mk))
                return -1;
        return check_complete(a, ob);
}

static const char *reason_symbol(anon_verdict_t v)
{
        switch (v) {
        case ANON_REJECT_MISSING:
                return "MISSING_FIELD";
        case ANON_REJECT_BAD:
                return "BAD_CODE";
        default:
                return "PARSE_ERROR";
        }
}

static int reject(anon_t *a, anon_open_t *ob, const rd_kafka_message_t *m, anon_verdict_t v,
                  const char *why)
{
        rd_kafka_timestamp_type_t tt;
        int64_t ts = rd_kafka_message_timestamp(m, &tt);

        osh_warn("%s[%" PRId32 "]@%" PRId64 " rejected: %s", OSH_TOPIC_RAW, m->partition, m->offset,
                 why);
        osh_service_count(a->svc, OSH_CTR_REJECTED, 1);
        if (ob)
                ob->rejected++; /* totalled when the batch is released */
        else
                a->rejected++;
        return anon_emit_reject(a, ob ? ob->id : NULL, m->partition, m->offset, ts,
                                reason_symbol(v), why);
}

/* 0 buffered or rejected, 1 batch abandoned (ob freed), -1 error. */
static int buffer_raw(anon_t *a, anon_open_t *ob, const rd_kafka_message_t *m, const anon_prep_t *p)
{
        if (p->ruled != ANON_OK)
                return reject(a, ob, m, p->ruled, p->o.reason);
        if ((int64_t)anon_batch_count(ob->buf) >= a->max_records) {
                osh_error("batch %s: more than anon.max.records (%" PRId64 ") records; "
                          "abandoned",
                          ob->id, a->max_records);
                osh_service_count(a->svc, OSH_CTR_ERRORS, 1);
                open_close(a, ob);
                return 1;
        }
        return anon_batch_add(ob->buf, &p->o, m->partition, m->offset);
}

static int handle_raw(anon_t *a, const rd_kafka_message_t *m, const anon_prep_t *p)
{
        const anon_verdict_t vd = p->decoded;
        const char *id = p->has_id ? p->id : NULL;
        anon_open_t *ob = NULL;
        int rc, added;

        a->in++;
        osh_service_count(a->svc, OSH_CTR_IN, 1);
        if (!id) /* cannot belong to any batch: dead letter only */
                return reject(a, NULL, m, vd == ANON_OK ? ANON_REJECT_MISSING : vd,
                              vd == ANON_OK ? "no batch id" : p->why);
        if (is_done(a, id))
                return 0; /* redelivered after its batch was released */
        if (!(ob = open_get(a, id)) ||
            poff_note(&ob->first, &ob->nfirst, ANON_T_RAW, m->partition, m->offset, 1) ||
            (added = osh_batch_tracker_add_hashed(a->tracker, id, p->key_hash, p->rec_hash)) < 0)
                return -1;
        if (added == 0)
                return 0; /* a redelivery inside the batch: already counted */
        rc = vd == ANON_OK ? buffer_raw(a, ob, m, p) : reject(a, ob, m, vd, p->why);
        if (rc == 0)
                rc = check_complete(a, ob);
        return rc == 1 ? 0 : rc;
}

static int handle(anon_t *a, const rd_kafka_message_t *m, const anon_prep_t *p)
{
        int t = p->raw ? ANON_T_RAW : ANON_T_BATCH;

        if (poff_note(&a->consumed, &a->nconsumed, t, m->partition, m->offset + 1, 0))
                return -1;
        return t == ANON_T_RAW ? handle_raw(a, m, p) : handle_marker(a, m);
}

/* ---- set-up ---- */

static int int_override(const osh_config_t *cfg, const char *key, int lo, int hi, int *out,
                        char *errstr, size_t errstr_size)
{
        int64_t v;

        if (!osh_config_str(cfg, key))
                return 0;
        v = osh_config_int(cfg, key);
        if (v < lo || v > hi) {
                snprintf(errstr, errstr_size, "%s must be %d..%d", key, lo, hi);
                return -1;
        }
        *out = (int)v;
        return 0;
}

/* The 利用者ID key by the one secret rule (oshirase/secret.h). */
static int load_key(anon_t *a, const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        osh_secret_t sec;
        int rc = osh_secret_load(cfg, "anon.hmac.key", &sec, errstr, errstr_size);

        if (!rc)
                rc = anon_key_from_secret(&a->key, &sec, errstr, errstr_size);
        osh_secret_wipe(&sec);
        return rc;
}

static int load_rules(anon_t *a, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = a->svc->cfg;
        const char *rules = osh_config_str(cfg, "anon.rules");
        const char *dict = osh_config_str(cfg, "anon.dictionary");

        if (!rules) {
                snprintf(errstr, errstr_size, "anon.rules (the versioned rule file) is required");
                return -1;
        }
        a->dict = dict ? osh_dict_load(dict, errstr, errstr_size)
                       : osh_dict_load_default(errstr, errstr_size);
        if (!a->dict || !(a->rules = anon_rules_load(rules, a->dict, errstr, errstr_size)))
                return -1;
        if (int_override(cfg, "anon.k.floor", 0, 1000000, &a->rules->k_floor, errstr,
                         errstr_size) ||
            int_override(cfg, "anon.extreme.age", 0, 200, &a->rules->extreme_age, errstr,
                         errstr_size) ||
            int_override(cfg, "anon.threads", 1, OSH_PAR_MAX, &a->rules->threads, errstr,
                         errstr_size))
                return -1;
        return 0;
}

static int anon_setup(anon_t *a, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = a->svc->cfg;

        a->dlq_topic = osh_config_str(cfg, "anon.dead.letter.topic");
        a->max_records = osh_config_int(cfg, "anon.max.records");
        a->raw_s = osh_schema_for_topic(OSH_TOPIC_RAW);
        a->abs_s = osh_schema_for_topic(OSH_TOPIC_ABSTRACTED);
        a->rep_s = osh_schema_for_topic(OSH_TOPIC_PRIVACY);
        a->rej_s = osh_schema_for_topic(OSH_TOPIC_REJECTS);
        if (!a->raw_s || !a->abs_s || !a->rep_s || !a->rej_s) {
                snprintf(errstr, errstr_size, "compiled-in schemas missing");
                return -1;
        }
        if (load_rules(a, errstr, errstr_size) || load_key(a, cfg, errstr, errstr_size))
                return -1;
        return 0;
}

static int anon_connect(anon_t *a, char *errstr, size_t errstr_size)
{
        static const char *const topics[] = {OSH_TOPIC_RAW, OSH_TOPIC_BATCH};
        const char *const out[] = {OSH_TOPIC_ABSTRACTED, OSH_TOPIC_BATCH, OSH_TOPIC_PRIVACY,
                                   a->dlq_topic};
        const osh_config_t *cfg = a->svc->cfg;
        rd_kafka_conf_t *conf;

        conf = osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, errstr, errstr_size);
        if (!conf || !(a->prod = osh_producer_new(conf, errstr, errstr_size)))
                return -1;
        osh_producer_prepare(a->prod, out, a->dlq_topic && *a->dlq_topic ? 4 : 3, 10000);
        conf = osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_CONSUMER, NULL, errstr, errstr_size);
        if (!conf || !(a->tracker = osh_batch_tracker_new()))
                return conf ? -1 : (rd_kafka_conf_destroy(conf), -1);
        a->cons = osh_consumer_new(conf, osh_config_str(cfg, "anon.group.id"), topics, 2,
                                   &a->svc->replay, errstr, errstr_size);
        if (!a->cons)
                return -1;
        a->scan = osh_scan_new(cfg, "kafka.", errstr, errstr_size);
        if (a->scan && !(a->chunk = anon_chunk_new(a)))
                snprintf(errstr, errstr_size, "out of memory");
        return a->scan && a->chunk ? 0 : -1;
}

/* Open batches are dropped unreleased: their offsets were never stored, so
 * the next start re-reads them. Producer first, so dead letters land. */
static void anon_teardown(anon_t *a)
{
        if (a->prod && osh_producer_flush(a->prod, 30000) == 0 && a->cons)
                store_offsets(a);
        osh_producer_destroy(a->prod);
        anon_chunk_destroy(a->chunk); /* its messages first: the consumer waits for them */
        a->chunk = NULL;
        osh_consumer_destroy(a->cons);
        osh_scan_destroy(a->scan);
        while (a->open) {
                anon_open_t *ob = a->open;
                a->open = ob->next;
                open_free(ob);
        }
        osh_batch_tracker_destroy(a->tracker);
        free(a->consumed);
        anon_rules_destroy(a->rules);
        osh_dict_destroy(a->dict);
        anon_key_clear(&a->key);
}

static void publish(anon_t *a)
{
        if (!a->svc->hb)
                return;
        osh_heartbeat_set_lag(a->svc->hb, osh_consumer_lag(a->cons));
        osh_heartbeat_set_named(a->svc->hb, "suppressed", a->suppressed);
        osh_heartbeat_set_named(a->svc->hb, "batches", a->batches);
        osh_heartbeat_set_named(a->svc->hb, "resumed", a->resumed);
}

static int anon_loop(anon_t *a)
{
        int64_t next = 0, t;

        while (!osh_shutdown_requested()) {
                rd_kafka_message_t **m;
                anon_prep_t *p;
                size_t n = anon_chunk_poll(a->chunk, 100, &m, &p);
                int rc = 0;
                for (size_t i = 0; !rc && i < n; i++)
                        rc = handle(a, m[i], &p[i]);
                if (rc) {
                        osh_error("stopping: a batch could not be released; it is re-read on "
                                  "restart");
                        return 1;
                }
                osh_producer_poll(a->prod, 0);
                if ((t = osh_mono_ms()) >= next) {
                        store_offsets(a);
                        publish(a);
                        next = t + 1000;
                }
        }
        return 0;
}

/* Everything the run would refuse (rules, dictionary, key) is loaded here,
 * before --check ends, and kept for the run. */
static int anon_configure(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        anon_t *a = calloc(1, sizeof(*a));

        *conf = a;
        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        a->svc = svc;
        if (anon_setup(a, errstr, errstr_size)) {
                char why[512];
                snprintf(why, sizeof(why), "refusing to start: %s", errstr);
                snprintf(errstr, errstr_size, "%s", why);
                return -1;
        }
        osh_info("rules %s (layout %d): k_floor=%d extreme_age=%d", a->rules->version,
                 a->rules->layout, a->rules->k_floor, a->rules->extreme_age);
        return 0;
}

static void anon_unconfigure(void *conf)
{
        if (!conf)
                return;
        anon_teardown(conf);
        free(conf);
}

static void *anon_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        anon_t *a = svc->conf;

        return anon_connect(a, errstr, errstr_size) ? NULL : a;
}

static int anon_run(void *app)
{
        anon_t *a = app;
        int rc = anon_loop(a);

        osh_info("stopped: in=%" PRId64 " out=%" PRId64 " suppressed=%" PRId64 " rejected=%" PRId64
                 " batches=%" PRId64,
                 a->in, a->out, a->suppressed, a->rejected, a->batches);
        return rc;
}

const osh_service_app_t anon_app = {
    .name = "anonymizer",
    .table = anon_config_table,
    .ntable = sizeof(anon_config_table) / sizeof(anon_config_table[0]),
    .hb_prefix = "kafka.",
    .configure = anon_configure,
    .unconfigure = anon_unconfigure,
    .open = anon_open,
    .run = anon_run,
    .ready_after_open = 1,
};
