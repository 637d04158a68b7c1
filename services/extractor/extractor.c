/* One batch through Kafka (see extractor.h). */
#include "extractor.h"

#include <dirent.h>
#include <malloc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oshirase/clock.h"
#include "oshirase/batch.h"
#include "oshirase/log.h"
#include "oshirase/signal.h"
#include "oshirase/topics.h"

#define FLUSH_MS 60000 /* delivery of a whole batch before it counts as failed */

/* Waits until sent records fit rate per second since t0 (osh_mono_ms). */
static void pace(int64_t rate, uint64_t sent, int64_t t0)
{
        int64_t due;

        if (rate <= 0)
                return;
        due = t0 + (int64_t)(sent * 1000 / (uint64_t)rate);
        osh_sleep_ms(due - osh_mono_ms());
}

static int kafka_send(void *opaque, const char *topic, const char *batch_id, const char *key,
                      const void *val, size_t len)
{
        rd_kafka_headers_t *h = NULL;
        osh_kafka_msg_t m = {topic, RD_KAFKA_PARTITION_UA, key, strlen(key), val, len, NULL, 0};

        if (osh_batch_header(&h, batch_id))
                return -1;
        m.headers = h;
        if (osh_producer_send(opaque, &m, NULL)) {
                rd_kafka_headers_destroy(h);
                return -1;
        }
        return 0;
}

static int kafka_marker(void *opaque, const osh_batch_marker_t *m, const char *instance)
{
        return osh_batch_marker_send(opaque, m, "extractor", instance);
}

static int kafka_flush(void *opaque)
{
        return osh_producer_flush(opaque, FLUSH_MS);
}

void ext_sink_kafka(ext_sink_t *s, osh_producer_t *p)
{
        s->send = kafka_send;
        s->marker = kafka_marker;
        s->flush = kafka_flush;
        s->opaque = p;
}

static int emit_records(osh_service_t *svc, const ext_sink_t *sk, ext_batch_t *b, int64_t rate,
                        osh_batch_sum_t *sum)
{
        int64_t t0 = osh_mono_ms();

        for (size_t i = 0; i < ext_batch_record_count(b); i++) {
                const char *key;
                const void *val;
                size_t len;
                uint64_t hash;
                if (ext_batch_record(b, i, &key, &val, &len, &hash)) {
                        osh_error("batch %s: record %zu: out of memory", ext_batch_id(b), i);
                        return -1;
                }
                if (osh_shutdown_requested() ||
                    sk->send(sk->opaque, OSH_TOPIC_RAW, ext_batch_id(b), key, val, len)) {
                        osh_error("batch %s: record %zu not sent: %s", ext_batch_id(b), i,
                                  osh_shutdown_requested() ? "shutdown"
                                                           : "the producer refused it");
                        return -1;
                }
                osh_batch_sum_add_hash(sum, hash);
                if (svc)
                        osh_service_count(svc, OSH_CTR_OUT, 1);
                pace(rate, i + 1, t0);
        }
        return 0;
}

static int emit_rejects(osh_service_t *svc, const ext_sink_t *sk, ext_batch_t *b)
{
        char errstr[256], key[96];
        int64_t now = osh_wall_ms(); /* the rejects' timestamp */

        for (size_t i = 0; i < ext_batch_reject_count(b); i++) {
                void *val = NULL;
                size_t len = 0;
                if (ext_batch_encode_reject(b, i, now, key, sizeof(key), &val, &len, errstr,
                                            sizeof(errstr))) {
                        osh_error("batch %s: the reject of %s not encoded: %s", ext_batch_id(b),
                                  key, errstr);
                        return -1;
                }
                if (sk->send(sk->opaque, OSH_TOPIC_REJECTS, ext_batch_id(b), key, val, len)) {
                        free(val);
                        osh_error("batch %s: the reject of %s (%zu bytes) not sent: %s",
                                  ext_batch_id(b), key, len,
                                  osh_shutdown_requested() ? "shutdown"
                                                           : "the producer refused it");
                        return -1;
                }
                free(val);
                if (svc)
                        osh_service_count(svc, OSH_CTR_REJECTED, 1);
        }
        return 0;
}

static void marker(osh_batch_marker_t *m, const ext_batch_t *b, int is_end, int64_t t)
{
        memset(m, 0, sizeof(*m));
        snprintf(m->batch_id, sizeof(m->batch_id), "%s", ext_batch_id(b));
        snprintf(m->topic, sizeof(m->topic), "%s", OSH_TOPIC_RAW);
        m->is_end = is_end;
        m->reference_date = ext_batch_reference_days(b);
        m->extract_time_ms = t;
        m->full_snapshot = 1;
}

/* Prints read = joined + not_applicant + rejected per file and in total. */
static void report(const ext_batch_t *b, uint64_t emitted)
{
        uint64_t t[4] = {0, 0, 0, 0};

        for (size_t i = 0; i < ext_batch_file_count(b); i++) {
                const ext_file_stats_t *s = ext_batch_file_stats(b, i);
                printf("file %-16s read=%" PRIu64 " joined=%" PRIu64 " not_applicant=%" PRIu64
                       " rejected=%" PRIu64 "\n",
                       s->name, s->read, s->joined, s->not_applicant, s->rejected);
                t[0] += s->read;
                t[1] += s->joined;
                t[2] += s->not_applicant;
                t[3] += s->rejected;
        }
        printf("total read=%" PRIu64 " joined=%" PRIu64 " not_applicant=%" PRIu64
               " rejected=%" PRIu64 " reconciled=%s\n",
               t[0], t[1], t[2], t[3], t[0] == t[1] + t[2] + t[3] ? "yes" : "NO");
        printf("batch %s emitted=%" PRIu64 " rejects=%zu gaiji=%" PRIu64 "\n", ext_batch_id(b),
               emitted, ext_batch_reject_count(b), ext_batch_gaiji(b));
        fflush(stdout);
        osh_info("batch %s: read %" PRIu64 " = joined %" PRIu64 " + not applicant %" PRIu64
                 " + rejected %" PRIu64 "; %" PRIu64 " records, %" PRIu64 " gaiji replaced",
                 ext_batch_id(b), t[0], t[1], t[2], t[3], emitted, ext_batch_gaiji(b));
}

static int emit_batch(osh_service_t *svc, const ext_sink_t *sk, ext_batch_t *b,
                      const ext_run_opts_t *o)
{
        osh_batch_sum_t sum = {0, 0};
        osh_batch_marker_t m;
        int64_t t = osh_wall_ms(); /* the markers' timestamp */
        const char *inst = o->instance ? o->instance : "extractor";

        marker(&m, b, 0, t);
        if (sk->marker(sk->opaque, &m, inst) || emit_records(svc, sk, b, o->emit_rate, &sum) ||
            emit_rejects(svc, sk, b) || sk->flush(sk->opaque)) {
                osh_error("batch %s failed: not every record was delivered; no END marker",
                          ext_batch_id(b));
                return -1;
        }
        marker(&m, b, 1, t);
        m.record_count = sum.count;
        osh_batch_sum_hex(&sum, m.checksum);
        if (sk->marker(sk->opaque, &m, inst) || sk->flush(sk->opaque)) {
                osh_error("batch %s: END marker not delivered", ext_batch_id(b));
                return -1;
        }
        return 0;
}

/* Removes a spool directory of fetched files (flat, made by ext_fetch). */
static void spool_remove(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        char path[EXT_PATH_MAX];

        while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.')
                        continue;
                int n = snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                if (n > 0 && (size_t)n < sizeof(path))
                        unlink(path);
        }
        if (d)
                closedir(d);
        if (rmdir(dir))
                osh_warn("spool %s not removed", dir);
}

/* 1 when the ledger has every file of b: nothing to do. */
static int already_ingested(const ext_run_opts_t *o, const ext_batch_t *b)
{
        if (!o->ledger || o->force || ext_ledger_has(o->ledger, b) != 1)
                return 0;
        osh_info("batch %s already ingested (ledger %s): nothing to do; use --force to re-emit",
                 ext_batch_id(b), o->ledger);
        printf("batch %s already ingested\n", ext_batch_id(b));
        fflush(stdout);
        return 1;
}

static uint64_t total_read(const ext_batch_t *b, uint64_t *rejected)
{
        uint64_t in = 0;

        *rejected = 0;
        for (size_t i = 0; i < ext_batch_file_count(b); i++) {
                in += ext_batch_file_stats(b, i)->read;
                *rejected += ext_batch_file_stats(b, i)->rejected;
        }
        return in;
}

/* 1 when b would empty the cloud and nobody confirmed it: its records fell
 * by more than the allowed share against the previous snapshot, or it
 * rejected more than the allowed share of its lines. Says why. */
static int held(const ext_run_opts_t *o, const ext_batch_t *b)
{
        uint64_t rej, in = total_read(b, &rej), prev = 0, now = ext_batch_record_count(b);
        char prev_id[64] = "", why[256] = "";

        if (o->hold_shrink_pct > 0 && o->ledger &&
            ext_ledger_last(o->ledger, prev_id, sizeof(prev_id), &prev) == 1 &&
            strcmp(prev_id, ext_batch_id(b)) && now * 100 < prev * (100 - o->hold_shrink_pct))
                snprintf(why, sizeof(why),
                         "%" PRIu64 " records, %" PRIu64 "%% fewer than the previous snapshot %s "
                         "(%" PRIu64 "; hold.shrink.percent %d)",
                         now, 100 - now * 100 / prev, prev_id, prev, o->hold_shrink_pct);
        else if (o->hold_reject_pct > 0 && in && rej * 100 > in * (uint64_t)o->hold_reject_pct)
                snprintf(why, sizeof(why),
                         "%" PRIu64 " of %" PRIu64 " lines rejected (more than "
                         "hold.reject.percent %d%%)",
                         rej, in, o->hold_reject_pct);
        if (!why[0])
                return 0;
        if (o->confirm && !strcmp(o->confirm, ext_batch_id(b))) {
                osh_warn("batch %s: %s; emitted as the operator confirmed it", ext_batch_id(b),
                         why);
                return 0;
        }
        osh_error("batch %s held: %s; nothing emitted. If it is right, run again with "
                  "--confirm.batch %s",
                  ext_batch_id(b), why, ext_batch_id(b));
        printf("batch %s held\n", ext_batch_id(b));
        fflush(stdout);
        return 1;
}

ext_result_t ext_run_once(osh_service_t *svc, const ext_sink_t *sk, const ext_run_opts_t *o)
{
        char errstr[EXT_ERRSTR_MAX], spool[EXT_PATH_MAX] = "";
        ext_opts_t eo = o->ext;
        ext_batch_t *b = NULL;
        ext_result_t res = EXT_FAILED;
        int declared, fetched = 0;
        int64_t t_open, t_parse, t_emit;

        eo.input = o->input;
        if (ext_is_url(o->input)) {
                if (ext_fetch(o->input, o->spool_dir ? o->spool_dir : "/tmp", spool, sizeof(spool),
                              errstr, sizeof(errstr))) {
                        osh_error("batch failed: %s", errstr);
                        if (spool[0])
                                spool_remove(spool);
                        return EXT_UNDELIVERED;
                }
                eo.input = spool;
                fetched = 1;
        }
        t_open = osh_mono_ms();
        b = ext_batch_open(&eo, errstr, sizeof(errstr));
        if (!b) {
                osh_error("batch failed: %s", errstr);
                goto out;
        }
        /* a manifest's hashes tell before the files are read */
        declared = ext_batch_declared(b);
        if (declared && already_ingested(o, b)) {
                res = EXT_NOOP;
                goto out;
        }
        t_parse = osh_mono_ms();
        if (ext_batch_parse(b, errstr, sizeof(errstr))) {
                osh_error("batch %s failed: %s; nothing emitted",
                          *ext_batch_id(b) ? ext_batch_id(b) : "(unverified)", errstr);
                goto out;
        }
        /* what the scanning threads freed stays in their malloc arenas:
         * given back before the producer's queue grows */
        malloc_trim(0);
        if (!declared && already_ingested(o, b)) {
                res = EXT_NOOP;
                goto out;
        }
        if (held(o, b)) {
                res = EXT_HELD;
                goto out;
        }
        if (svc && svc->hb)
                osh_heartbeat_set_batch(svc->hb, ext_batch_id(b));
        if (svc) {
                uint64_t rej;
                osh_service_count(svc, OSH_CTR_IN, total_read(b, &rej));
        }
        t_emit = osh_mono_ms();
        if (emit_batch(svc, sk, b, o)) {
                res = EXT_UNDELIVERED;
                goto out;
        }
        report(b, ext_batch_record_count(b));
        osh_info("batch %s: opened in %" PRId64 " ms, read, verified and joined in %" PRId64
                 " ms, emitted and delivered in %" PRId64 " ms",
                 ext_batch_id(b), t_parse - t_open, t_emit - t_parse, osh_mono_ms() - t_emit);
        if (o->ledger && ext_ledger_add(o->ledger, b, errstr, sizeof(errstr)))
                osh_warn("batch %s complete, but %s: a re-run will emit it again", ext_batch_id(b),
                         errstr);
        res = EXT_DONE;
out:
        ext_batch_destroy(b); /* unmaps before the spool goes */
        if (fetched)
                spool_remove(spool);
        return res;
}
