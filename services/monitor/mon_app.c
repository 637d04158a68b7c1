#include "monitor.h"

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

#include "mon_alert.h"
#include "mon_http.h"
#include "mon_kafka.h"
#include "mon_probe.h"

#define MON_MAX_TRANSITIONS 64
#define MON_POLL_MS         100  /* heartbeat poll: the tick runs at least this often */
#define MON_FLUSH_MS        2000 /* the last health record at shutdown */

struct mon_app {
        osh_service_t *svc;
        const char *instance;
        mon_model_t *model;
        mon_sampler_t *sampler;
        mon_prober_t *prober;
        mon_alerter_t *alerter;
        osh_consumer_t *status;
        osh_producer_t *health;
        osh_http_server_t *http;
        int64_t lag_every, probe_every, eval_every, health_every;
        int64_t next_lag, next_probe, next_eval, next_health;
};

static int setup_model(mon_app_t *a, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = a->svc->cfg;
        mon_opts_t o = {
            .instance = a->instance,
            .stale_ms =
                osh_config_int(cfg, "heartbeat.expected") *
                (osh_config_int(cfg, "stale.factor") > 0 ? osh_config_int(cfg, "stale.factor") : 3),
            .window = (size_t)osh_config_int(cfg, "lag.window"),
            .snapshot_max_ms = osh_config_int(cfg, "snapshot.max.age"),
        };

        a->model = mon_model_new(&o);
        if (!a->model) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (mon_watch_parse(osh_config_str(cfg, "watch"), a->model, errstr, errstr_size))
                return -1;
        a->sampler = mon_sampler_new(cfg, a->model, 2000, errstr, errstr_size);
        return a->sampler ? 0 : -1;
}

static int setup_probe(mon_app_t *a, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = a->svc->cfg;
        char source[160];
        const char *url = osh_config_str(cfg, "probe.url");
        const osh_secret_t *secret = &((const mon_conf_t *)a->svc->conf)->probe_secret;

        if (!url || !*url)
                return 0;
        snprintf(source, sizeof(source), "exchange/%s", a->instance);
        mon_probe_opts_t o = {
            .url = url,
            .key_id = osh_config_str(cfg, "probe.key.id"),
            .secret = secret->data,
            .secret_len = secret->len,
            .tls = {osh_config_str(cfg, "probe.ca"), osh_config_str(cfg, "probe.cert"),
                    osh_config_str(cfg, "probe.cert.key")},
            .timeout_ms = osh_config_int(cfg, "probe.timeout"),
            .source = source,
        };
        a->prober = mon_prober_new(&o, errstr, errstr_size);
        return a->prober ? 0 : -1;
}

static int setup_alerts(mon_app_t *a, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = a->svc->cfg;
        const char *url = osh_config_str(cfg, "alert.url");
        const osh_secret_t *secret = &((const mon_conf_t *)a->svc->conf)->alert_secret;

        if (!url || !*url)
                return 0;
        mon_alert_opts_t o = {
            .url = url,
            .secret = secret->data,
            .secret_len = secret->len,
            .timeout_ms = osh_config_int(cfg, "alert.timeout"),
            .max_attempts = (unsigned)osh_config_int(cfg, "alert.attempts"),
        };
        a->alerter = mon_alerter_new(&o, errstr, errstr_size);
        return a->alerter ? 0 : -1;
}

static int setup_kafka(mon_app_t *a, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = a->svc->cfg;
        const char *topics[] = {OSH_TOPIC_OPS};
        char group[200];
        rd_kafka_conf_t *conf;

        /* Each monitor instance reads every heartbeat: a group of its own. */
        snprintf(group, sizeof(group), "monitor.%s", a->instance);
        conf = osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_CONSUMER, NULL, errstr, errstr_size);
        if (!conf)
                return -1;
        a->status = osh_consumer_new(conf, group, topics, 1, &a->svc->replay, errstr, errstr_size);
        if (!a->status)
                return -1;
        conf = osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, errstr, errstr_size);
        if (!conf)
                return -1;
        a->health = osh_producer_new(conf, errstr, errstr_size);
        return a->health ? 0 : -1;
}

static int setup_http(mon_app_t *a, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = a->svc->cfg;
        const char *port_file = osh_config_str(cfg, "http.port.file");
        int64_t port = osh_config_int(cfg, "http.port");

        if (port < 0 || port > 65535) {
                snprintf(errstr, errstr_size, "http.port: %lld out of range", (long long)port);
                return -1;
        }
        a->http = mon_http_start(a->model, osh_config_str(cfg, "http.host"), (uint16_t)port, errstr,
                                 errstr_size);
        if (!a->http)
                return -1;
        osh_info("dashboard on http://%s:%u/", osh_config_str(cfg, "http.host"),
                 osh_http_server_port(a->http));
        return osh_http_server_write_port(a->http, port_file, errstr, errstr_size);
}

mon_app_t *mon_app_new(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        mon_app_t *a = calloc(1, sizeof(*a));
        const osh_config_t *cfg = svc->cfg;

        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        a->svc = svc;
        a->instance = osh_config_str(cfg, "instance");
        a->lag_every = osh_config_int(cfg, "lag.interval");
        a->probe_every = osh_config_int(cfg, "probe.interval");
        a->eval_every = osh_config_int(cfg, "evaluate.interval");
        a->health_every = osh_config_int(cfg, "health.interval");
        if (setup_model(a, errstr, errstr_size) || setup_probe(a, errstr, errstr_size) ||
            setup_alerts(a, errstr, errstr_size) || setup_kafka(a, errstr, errstr_size) ||
            setup_http(a, errstr, errstr_size)) {
                mon_app_destroy(a);
                return NULL;
        }
        return a;
}

static void on_heartbeat(mon_app_t *a, rd_kafka_message_t *msg)
{
        char errstr[256];

        if (msg->err)
                return;
        if (mon_heartbeat_decode(msg->payload, msg->len, a->model, errstr, sizeof(errstr))) {
                osh_warn("ops.status.v1 [%d] offset %lld: %s", (int)msg->partition,
                         (long long)msg->offset, errstr);
                osh_service_count(a->svc, OSH_CTR_REJECTED, 1);
        } else {
                osh_service_count(a->svc, OSH_CTR_IN, 1);
        }
        osh_consumer_store(a->status, msg);
}

static void publish_health(mon_app_t *a, int64_t now)
{
        const osh_schema_t *sc = osh_schema_for_topic(OSH_TOPIC_HEALTH);
        char errstr[256];
        avro_value_t v;
        void *buf = NULL;
        size_t len;

        if (!sc || osh_value_new(sc, &v))
                return;
        if (mon_model_health_value(a->model, now, &v) ||
            osh_serde_encode_alloc(sc, &v, &buf, &len, errstr, sizeof(errstr))) {
                osh_error("ops.health.v1: cannot encode");
                osh_service_count(a->svc, OSH_CTR_ERRORS, 1);
                goto done;
        }
        osh_kafka_msg_t m = {.topic = OSH_TOPIC_HEALTH,
                             .partition = RD_KAFKA_PARTITION_UA,
                             .key = a->instance,
                             .key_len = strlen(a->instance),
                             .value = buf,
                             .value_len = len};
        if (osh_producer_send(a->health, &m, NULL) == 0)
                osh_service_count(a->svc, OSH_CTR_OUT, 1);
done:
        free(buf);
        avro_value_decref(&v);
}

static void evaluate(mon_app_t *a, int64_t now)
{
        mon_transition_t tr[MON_MAX_TRANSITIONS];
        size_t n = 0, i;

        mon_model_evaluate(a->model, now, tr, MON_MAX_TRANSITIONS, &n);
        for (i = 0; i < n; i++) {
                osh_info("%s %s: %s -> %s", tr[i].kind, tr[i].subject, tr[i].from, tr[i].to);
                if (a->alerter)
                        mon_alerter_post(a->alerter, a->instance, &tr[i], now);
        }
        if (n || now >= a->next_health) {
                publish_health(a, now);
                a->next_health = now + a->health_every;
        }
}

static void tick(mon_app_t *a)
{
        int64_t now = osh_wall_ms();
        mon_probe_result_t r;

        if (now >= a->next_lag) {
                mon_sampler_run(a->sampler, now);
                a->next_lag = now + a->lag_every;
        }
        if (a->prober && now >= a->next_probe) {
                mon_prober_run(a->prober, now, &r, a->model);
                mon_model_probe(a->model, &r);
                a->next_probe = now + a->probe_every;
        }
        now = osh_wall_ms();
        if (now >= a->next_eval) {
                evaluate(a, now);
                a->next_eval = now + a->eval_every;
        }
}

int mon_app_run(mon_app_t *a)
{
        rd_kafka_message_t *msg;

        while (!osh_shutdown_requested()) {
                msg = osh_consumer_poll(a->status, MON_POLL_MS);
                if (msg) {
                        on_heartbeat(a, msg);
                        rd_kafka_message_destroy(msg);
                }
                tick(a);
                osh_producer_poll(a->health, 0);
        }
        return 0;
}

void mon_app_destroy(mon_app_t *a)
{
        if (!a)
                return;
        osh_http_server_stop(a->http);
        mon_alerter_destroy(a->alerter);
        if (a->health)
                osh_producer_flush(a->health, MON_FLUSH_MS);
        osh_producer_destroy(a->health);
        osh_consumer_destroy(a->status);
        mon_prober_destroy(a->prober);
        mon_sampler_destroy(a->sampler);
        mon_model_destroy(a->model);
        free(a);
}
