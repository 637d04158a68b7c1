/* The monitor's configuration table and service object (see monitor.h). */
#include "oshirase/service.h"

#include "monitor.h"

static const osh_cfg_entry_t mon_config_table[] = {
    {"watch", OSH_CFG_STR, NULL, "OSH_MONITOR_WATCH",
     "consumer groups to judge: group:topic[@service],... (service: whose heartbeat says the "
     "consumer is alive; default the group name)"},
    {"http.host", OSH_CFG_STR, "0.0.0.0", "OSH_MONITOR_HTTP_HOST", "address for the dashboard"},
    {"http.port", OSH_CFG_INT, "8090", "OSH_MONITOR_HTTP_PORT", "port (0: any free one)"},
    {"http.port.file", OSH_CFG_STR, NULL, "OSH_MONITOR_HTTP_PORT_FILE",
     "write the bound port here"},
    {"heartbeat.expected", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_HEARTBEAT_EXPECTED",
     "heartbeat interval of the watched services"},
    {"stale.factor", OSH_CFG_INT, "3", "OSH_MONITOR_STALE_FACTOR",
     "a heartbeat older than factor x heartbeat.expected is stale"},
    {"lag.interval", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_LAG_INTERVAL",
     "how often to sample committed offsets and watermarks"},
    {"lag.window", OSH_CFG_INT, "6", "OSH_MONITOR_LAG_WINDOW", "samples per lag window (2..32)"},
    {"evaluate.interval", OSH_CFG_DURATION_MS, "1s", "OSH_MONITOR_EVALUATE_INTERVAL",
     "how often to re-judge and look for transitions"},
    {"health.interval", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_HEALTH_INTERVAL",
     "how often to publish ops.health.v1 (also at once on a transition)"},
    {"probe.url", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_URL",
     "cloud-ingest base URL for POST /v1/probe (unset: no probe)"},
    {"probe.interval", OSH_CFG_DURATION_MS, "10s", "OSH_MONITOR_PROBE_INTERVAL", "probe period"},
    {"probe.timeout", OSH_CFG_DURATION_MS, "3s", "OSH_MONITOR_PROBE_TIMEOUT", "one probe's limit"},
    {"probe.key.id", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_KEY_ID", "HMAC key id (unset: none)"},
    {"probe.secret", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_SECRET",
     "HMAC secret (prefer probe.secret.file)"},
    {"probe.secret.file", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_SECRET_FILE",
     "file holding the HMAC secret"},
    {"probe.ca", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_CA", "CA file to trust"},
    {"probe.cert", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_CERT", "client certificate (mTLS)"},
    {"probe.cert.key", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_CERT_KEY", "client key (mTLS)"},
    {"snapshot.max.age", OSH_CFG_DURATION_MS, "192h", "OSH_MONITOR_SNAPSHOT_MAX_AGE",
     "WARN when the cloud serves an older extract (0: never)"},
    {"alert.url", OSH_CFG_STR, NULL, "OSH_MONITOR_ALERT_URL",
     "webhook for transitions (unset: none)"},
    {"alert.secret", OSH_CFG_STR, NULL, "OSH_MONITOR_ALERT_SECRET", "HMAC secret for alerts"},
    {"alert.secret.file", OSH_CFG_STR, NULL, "OSH_MONITOR_ALERT_SECRET_FILE",
     "file holding the alert secret"},
    {"alert.attempts", OSH_CFG_INT, "5", "OSH_MONITOR_ALERT_ATTEMPTS", "tries per alert"},
    {"alert.timeout", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_ALERT_TIMEOUT", "one POST's limit"},
};

static void *mon_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        return mon_app_new(svc, errstr, errstr_size);
}

static int mon_run(void *app)
{
        return mon_app_run(app) ? 1 : 0;
}

static void mon_close(void *app)
{
        mon_app_destroy(app);
}

const osh_service_app_t mon_app = {
    .name = "monitor",
    .table = mon_config_table,
    .ntable = sizeof(mon_config_table) / sizeof(mon_config_table[0]),
    .hb_prefix = "kafka.",
    .open = mon_open,
    .run = mon_run,
    .close = mon_close,
    .ready_after_open = 1,
};
