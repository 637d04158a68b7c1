/* Renderings of the monitor model: JSON for /status and the dashboard,
 * Prometheus text for /metrics, and the ops.health.v1 record. Labels are
 * service, instance, segment, group, topic and small fixed enums (status,
 * state, channel, kind): never anything that identifies a resident. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/serde.h"

#include "mon_model_int.h"

/* ---- JSON ---- */

static json_t *svc_json(const mon_model_t *m, const svc_t *s, int64_t now)
{
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:I, s:f, s:I, s:I, s:I, s:I, s:I}", "service",
            s->service, "instance", s->instance, "segment", s->segment, "state", s->state, "health",
            s->health ? s->health : "", "fresh", mon_svc_fresh(m, s, now), "source",
            s->from_probe ? "probe" : "heartbeat", "last_seen_ms", (json_int_t)s->ts_ms, "age_s",
            (now - s->ts_ms) / 1000.0, "records_in", (json_int_t)s->in, "records_out",
            (json_int_t)s->out, "records_rejected", (json_int_t)s->rejected, "errors",
            (json_int_t)s->errors, "records_lost", (json_int_t)s->lost);
        if (!o)
                return NULL;
        json_object_set_new(o, "lag", s->lag >= 0 ? json_integer(s->lag) : json_null());
        json_object_set_new(o, "lag_status",
                            json_string(s->lag >= 0 ? mon_lag_status_name(s->lag_status) : ""));
        json_object_set_new(o, "last_batch",
                            s->last_batch[0] ? json_string(s->last_batch) : json_null());
        return o;
}

static json_t *grp_json(const grp_t *g)
{
        return json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:i, s:I}", "group", g->group, "topic", g->topic, "service",
            g->service, "status", g->lost > 0 ? "DATA_LOST" : mon_lag_status_name(g->status), "lag",
            (json_int_t)g->lag, "partitions", (int)g->nparts, "records_lost", (json_int_t)g->lost);
}

static json_t *probe_json(const mon_model_t *m, int64_t now)
{
        const mon_probe_result_t *p = &m->probe;
        json_t *o, *ch = json_array();
        size_t i;

        for (i = 0; ch && i < p->n_channels; i++)
                json_array_append_new(
                    ch, json_pack("{s:s, s:I, s:I}", "channel", p->channels[i].channel,
                                  "failed_temp", (json_int_t)p->channels[i].failed_temp,
                                  "failed_perm", (json_int_t)p->channels[i].failed_perm));
        o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "state",
                      mon_probe_state_name(p->state), "detail", p->detail, "attempts",
                      (json_int_t)m->probe_attempts, "failures", (json_int_t)m->probe_failures,
                      "last_attempt_ms", (json_int_t)p->sent_ms, "round_trip_ms",
                      (json_int_t)p->rtt_ms, "send_errors", ch ? ch : json_array());
        if (!o)
                return NULL;
        json_object_set_new(o, "last_ok_ms",
                            m->probe_last_ok ? json_integer(m->probe_last_ok) : json_null());
        json_object_set_new(o, "snapshot",
                            p->has_snapshot
                                ? json_pack("{s:s, s:I, s:f, s:I}", "batch_id", p->snapshot_batch,
                                            "extract_ms", (json_int_t)p->snapshot_extract_ms,
                                            "age_s", (now - p->snapshot_extract_ms) / 1000.0,
                                            "records", (json_int_t)p->snapshot_records)
                                : json_null());
        json_object_set_new(o, "ingest",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "batches_ok",
                                      (json_int_t)p->ingest_ok, "batches_duplicate",
                                      (json_int_t)p->ingest_dup, "batches_rejected",
                                      (json_int_t)p->ingest_rejected, "records_published",
                                      (json_int_t)p->ingest_published, "last_batch_ms",
                                      (json_int_t)p->ingest_last_batch_ms));
        return o;
}

char *mon_model_status_json(mon_model_t *m, int64_t now_ms)
{
        json_t *root, *svcs = json_array(), *grps = json_array();
        char *out = NULL;
        size_t i;

        pthread_mutex_lock(&m->lock);
        for (i = 0; svcs && i < m->nsvc; i++)
                json_array_append_new(svcs, svc_json(m, &m->svcs[i], now_ms));
        for (i = 0; grps && i < m->ngrp; i++)
                json_array_append_new(grps, grp_json(&m->grps[i]));
        root = json_pack("{s:s, s:I, s:I, s:s, s:I, s:o, s:o, s:o}", "monitor", m->instance,
                         "generated_ms", (json_int_t)now_ms, "evaluated_ms", (json_int_t)m->eval_ms,
                         "overall", mon_health_name(m->overall), "stale_after_ms",
                         (json_int_t)m->o.stale_ms, "services", svcs ? svcs : json_array(),
                         "consumers", grps ? grps : json_array(), "probe", probe_json(m, now_ms));
        pthread_mutex_unlock(&m->lock);
        if (root)
                out = json_dumps(root, JSON_COMPACT);
        json_decref(root);
        return out;
}

/* ---- Prometheus text format 0.0.4 ---- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values escape backslash, double quote and newline. */
static void label(FILE *f, const char *sep, const char *name, const char *v)
{
        fprintf(f, "%s%s=\"", sep, name);
        for (; *v; v++) {
                if (*v == '\\' || *v == '"')
                        fputc('\\', f);
                if (*v == '\n') {
                        fputs("\\n", f);
                        continue;
                }
                fputc(*v, f);
        }
        fputc('"', f);
}

/* Integers exactly, fractions (ages, seconds) to the millisecond. */
static void number(FILE *f, double v)
{
        if (v == (double)(int64_t)v)
                fprintf(f, "%lld\n", (long long)v);
        else
                fprintf(f, "%.3f\n", v);
}

static void svc_series(FILE *f, const char *name, const svc_t *s, double v)
{
        fputs(name, f);
        label(f, "{", "service", s->service);
        label(f, ",", "instance", s->instance);
        label(f, ",", "segment", s->segment);
        fputs("} ", f);
        number(f, v);
}

typedef double(svc_value_fn)(const mon_model_t *m, const svc_t *s, int64_t now);

static double v_up(const mon_model_t *m, const svc_t *s, int64_t now)
{
        return s->health && !strcmp(s->health, "RUNNING");
}
static double v_age(const mon_model_t *m, const svc_t *s, int64_t now)
{
        return (now - s->ts_ms) / 1000.0;
}
static double v_in(const mon_model_t *m, const svc_t *s, int64_t now)
{
        return (double)s->in;
}
static double v_out(const mon_model_t *m, const svc_t *s, int64_t now)
{
        return (double)s->out;
}
static double v_rej(const mon_model_t *m, const svc_t *s, int64_t now)
{
        return (double)s->rejected;
}
static double v_err(const mon_model_t *m, const svc_t *s, int64_t now)
{
        return (double)s->errors;
}

static void svc_metrics(FILE *f, const mon_model_t *m, int64_t now)
{
        static const struct {
                const char *name, *type, *help;
                svc_value_fn *fn;
        } fams[] = {
            {"oshirase_service_up", "gauge", "1 when the instance's heartbeat is fresh and RUNNING",
             v_up},
            {"oshirase_service_heartbeat_age_seconds", "gauge", "time since the last heartbeat",
             v_age},
            {"oshirase_service_records_in_total", "counter", "records consumed", v_in},
            {"oshirase_service_records_out_total", "counter", "records produced", v_out},
            {"oshirase_service_records_rejected_total", "counter", "records rejected", v_rej},
            {"oshirase_service_errors_total", "counter", "errors", v_err},
        };
        size_t i, k;

        for (k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
                family(f, fams[k].name, fams[k].type, fams[k].help);
                for (i = 0; i < m->nsvc; i++)
                        svc_series(f, fams[k].name, &m->svcs[i], fams[k].fn(m, &m->svcs[i], now));
        }
        family(f, "oshirase_service_lag_messages", "gauge",
               "consumer lag the instance reports in its heartbeat");
        for (i = 0; i < m->nsvc; i++)
                if (m->svcs[i].lag >= 0)
                        svc_series(f, "oshirase_service_lag_messages", &m->svcs[i],
                                   (double)m->svcs[i].lag);
}

static void grp_series(FILE *f, const char *name, const grp_t *g, const char *status, double v)
{
        fputs(name, f);
        label(f, "{", "group", g->group);
        label(f, ",", "topic", g->topic);
        if (status)
                label(f, ",", "status", status);
        fputs("} ", f);
        number(f, v);
}

static void grp_metrics(FILE *f, const mon_model_t *m)
{
        size_t i;
        int st;

        family(f, "oshirase_consumer_lag_messages", "gauge",
               "high watermark minus committed offset, summed over partitions");
        for (i = 0; i < m->ngrp; i++)
                grp_series(f, "oshirase_consumer_lag_messages", &m->grps[i], NULL,
                           (double)m->grps[i].lag);
        family(f, "oshirase_consumer_status", "gauge",
               "1 for the group's current Burrow-style status");
        for (i = 0; i < m->ngrp; i++)
                for (st = MON_LAG_OK; st <= MON_LAG_UNKNOWN; st++)
                        grp_series(f, "oshirase_consumer_status", &m->grps[i],
                                   mon_lag_status_name((mon_lag_status_t)st),
                                   m->grps[i].status == (mon_lag_status_t)st);
}

static void probe_metrics(FILE *f, const mon_model_t *m, int64_t now)
{
        const mon_probe_result_t *p = &m->probe;
        size_t i;

        family(f, "oshirase_probe_up", "gauge", "1 when the last probe of the cloud succeeded");
        fprintf(f, "oshirase_probe_up %d\n", m->probe_attempts && p->state == MON_PROBE_OK);
        family(f, "oshirase_probe_round_trip_seconds", "gauge", "round trip of the last probe");
        fprintf(f, "oshirase_probe_round_trip_seconds %.3f\n", p->rtt_ms / 1000.0);
        family(f, "oshirase_probe_last_success_timestamp_seconds", "gauge",
               "when a probe last succeeded (0: never)");
        fprintf(f, "oshirase_probe_last_success_timestamp_seconds %.3f\n",
                m->probe_last_ok / 1000.0);
        family(f, "oshirase_probes_total", "counter", "probes sent");
        fprintf(f, "oshirase_probes_total %lld\n", (long long)m->probe_attempts);
        family(f, "oshirase_probe_failures_total", "counter", "probes that failed");
        fprintf(f, "oshirase_probe_failures_total %lld\n", (long long)m->probe_failures);
        family(f, "oshirase_snapshot_age_seconds", "gauge",
               "age of the extract the cloud currently serves");
        if (p->has_snapshot)
                fprintf(f, "oshirase_snapshot_age_seconds %.3f\n",
                        (now - p->snapshot_extract_ms) / 1000.0);
        family(f, "oshirase_send_failures_total", "counter",
               "failed sends reported by the cloud, per channel");
        for (i = 0; i < p->n_channels; i++) {
                fputs("oshirase_send_failures_total", f);
                label(f, "{", "channel", p->channels[i].channel);
                fprintf(f, ",kind=\"temp\"} %llu\n",
                        (unsigned long long)p->channels[i].failed_temp);
                fputs("oshirase_send_failures_total", f);
                label(f, "{", "channel", p->channels[i].channel);
                fprintf(f, ",kind=\"perm\"} %llu\n",
                        (unsigned long long)p->channels[i].failed_perm);
        }
}

char *mon_model_metrics(mon_model_t *m, int64_t now_ms)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int h;

        if (!f)
                return NULL;
        pthread_mutex_lock(&m->lock);
        family(f, "oshirase_pipeline_health", "gauge", "1 for the pipeline's overall state");
        for (h = MON_HEALTH_OK; h <= MON_HEALTH_UNKNOWN; h++)
                fprintf(f, "oshirase_pipeline_health{state=\"%s\"} %d\n", mon_health_name(h),
                        m->overall == (mon_health_t)h);
        svc_metrics(f, m, now_ms);
        grp_metrics(f, m);
        probe_metrics(f, m, now_ms);
        pthread_mutex_unlock(&m->lock);
        if (fclose(f)) {
                free(buf);
                return NULL;
        }
        return buf;
}

/* ---- ops.health.v1 ---- */

static int health_consumer(const osh_schema_t *sc, avro_value_t *arr, const char *cluster,
                           const char *group, const char *topic, mon_lag_status_t st, int64_t lag,
                           int parts)
{
        avro_value_t item;

        if (osh_value_append(sc, arr, &item))
                return -1;
        return osh_value_set_string(&item, "cluster", cluster) |
               osh_value_set_string(&item, "group", group) |
               osh_value_set_string(&item, "topic", topic) |
               osh_value_set_enum(&item, "status", mon_lag_status_name(st)) |
               osh_value_set_long(&item, "total_lag", lag) |
               osh_value_set_int(&item, "partitions", parts);
}

static int health_lists(const mon_model_t *m, const osh_schema_t *sc, avro_value_t *v, int64_t now)
{
        avro_value_t cons, svcs, item;
        size_t i;
        int rc = osh_value_field(v, "consumers", &cons) | osh_value_field(v, "services", &svcs);

        for (i = 0; !rc && i < m->ngrp; i++)
                rc = health_consumer(sc, &cons, "exchange", m->grps[i].group, m->grps[i].topic,
                                     m->grps[i].status, m->grps[i].lag, m->grps[i].nparts);
        for (i = 0; !rc && i < m->nsvc; i++) {
                const svc_t *s = &m->svcs[i];
                if (s->lag >= 0 && !mon_svc_watched(m, s->service))
                        rc = health_consumer(sc, &cons, s->segment, s->instance, "", s->lag_status,
                                             s->lag, 0);
                if (rc || osh_value_append(sc, &svcs, &item))
                        return -1;
                rc = osh_value_set_string(&item, "service", s->service) |
                     osh_value_set_string(&item, "instance", s->instance) |
                     osh_value_set_string(&item, "segment", s->segment) |
                     osh_value_set_string(&item, "state", s->health ? s->health : s->state) |
                     osh_value_set_long(&item, "last_seen", s->ts_ms) |
                     osh_value_set_bool(&item, "fresh", mon_svc_fresh(m, s, now));
        }
        return rc;
}

static int health_probe(const mon_model_t *m, avro_value_t *v, int64_t now)
{
        const mon_probe_result_t *p = &m->probe;
        avro_value_t pr;
        uint64_t errs = 0;
        size_t i;
        int rc;

        if (osh_value_field(v, "probe", &pr))
                return -1;
        for (i = 0; i < p->n_channels; i++)
                errs += p->channels[i].failed_temp + p->channels[i].failed_perm;
        rc = osh_value_set_enum(&pr, "state", mon_probe_state_name(p->state)) |
             osh_value_set_string(&pr, "detail", p->detail) |
             osh_value_set_long(&pr, "send_errors", (int64_t)errs);
        rc |= m->probe_last_ok ? osh_value_set_long(&pr, "last_ok", m->probe_last_ok)
                               : osh_value_set_null(&pr, "last_ok");
        rc |= m->probe_attempts ? osh_value_set_int(&pr, "round_trip_ms", (int32_t)p->rtt_ms)
                                : osh_value_set_null(&pr, "round_trip_ms");
        rc |= osh_value_set_string(&pr, "cloud_snapshot_batch_id",
                                   p->has_snapshot ? p->snapshot_batch : NULL);
        rc |= p->has_snapshot ? osh_value_set_long(&pr, "cloud_snapshot_age_s",
                                                   (now - p->snapshot_extract_ms) / 1000)
                              : osh_value_set_null(&pr, "cloud_snapshot_age_s");
        return rc;
}

int mon_model_health_value(mon_model_t *m, int64_t now_ms, avro_value_t *v)
{
        const osh_schema_t *sc = osh_schema_for_topic("ops.health.v1");
        int rc = -1;

        if (!sc)
                return -1;
        pthread_mutex_lock(&m->lock);
        if (osh_value_set_string(v, "monitor", m->instance) ||
            osh_value_set_long(v, "timestamp", now_ms) ||
            osh_value_set_enum(v, "overall", mon_health_name(m->overall)) ||
            health_lists(m, sc, v, now_ms) || health_probe(m, v, now_ms))
                goto done;
        rc = 0;
done:
        pthread_mutex_unlock(&m->lock);
        return rc;
}
