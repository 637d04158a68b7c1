/* The monitor's configuration table and service object (see monitor.h). */
#include <stdio.h>
#include <stdlib.h>

#include "oshirase/service.h"

#include "mon_kafka.h"
#include "mon_lag.h"
#include "monitor.h"

/* Longest accepted interval or timeout: a day (longer is a typo). */
#define MON_INTERVAL_MAX_MS (24 * 3600 * 1000LL)

/* The watch list parses as the run will parse it. */
static int mon_watch_check(const char *val, char *why, size_t why_size)
{
        mon_opts_t o = {.window = 2};
        mon_model_t *m = mon_model_new(&o);
        int rc;

        if (!m) {
                snprintf(why, why_size, "out of memory");
                return -1;
        }
        rc = mon_watch_parse(val, m, why, why_size);
        mon_model_destroy(m);
        return rc;
}

static const osh_cfg_entry_t mon_config_table[] = {
    {"watch", OSH_CFG_STR, NULL, "OSH_MONITOR_WATCH",
     "consumer groups to judge: group:topic[@service],... (service: whose heartbeat says the "
     "consumer is alive; default the group name)",
     .check = mon_watch_check},
    {"http.host", OSH_CFG_STR, "0.0.0.0", "OSH_MONITOR_HTTP_HOST", "address for the dashboard",
     .check = osh_cfg_check_ip},
    {"http.port", OSH_CFG_INT, "8090", "OSH_MONITOR_HTTP_PORT", "port (0: any free one)",
     .flags = OSH_CFG_RANGE, .min = 0, .max = 65535},
    {"http.port.file", OSH_CFG_STR, NULL, "OSH_MONITOR_HTTP_PORT_FILE",
     "write the bound port here"},
    {"heartbeat.expected", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_HEARTBEAT_EXPECTED",
     "heartbeat interval of the watched services", .flags = OSH_CFG_RANGE, .min = 1,
     .max = MON_INTERVAL_MAX_MS},
    {"stale.factor", OSH_CFG_INT, "3", "OSH_MONITOR_STALE_FACTOR",
     "a heartbeat older than factor x heartbeat.expected is stale", .flags = OSH_CFG_RANGE,
     .min = 1, .max = 1000},
    {"lag.interval", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_LAG_INTERVAL",
     "how often to sample committed offsets and watermarks", .flags = OSH_CFG_RANGE, .min = 1,
     .max = MON_INTERVAL_MAX_MS},
    {"lag.window", OSH_CFG_INT, "6", "OSH_MONITOR_LAG_WINDOW", "samples per lag window (2..32)",
     .flags = OSH_CFG_RANGE, .min = 2, .max = MON_LAG_WINDOW_MAX},
    {"evaluate.interval", OSH_CFG_DURATION_MS, "1s", "OSH_MONITOR_EVALUATE_INTERVAL",
     "how often to re-judge and look for transitions", .flags = OSH_CFG_RANGE, .min = 1,
     .max = MON_INTERVAL_MAX_MS},
    {"health.interval", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_HEALTH_INTERVAL",
     "how often to publish ops.health.v1 (also at once on a transition)", .flags = OSH_CFG_RANGE,
     .min = 1, .max = MON_INTERVAL_MAX_MS},
    {"probe.url", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_URL",
     "cloud-ingest base URL for POST /v1/probe (unset: no probe)", .check = osh_cfg_check_url},
    {"probe.interval", OSH_CFG_DURATION_MS, "10s", "OSH_MONITOR_PROBE_INTERVAL", "probe period",
     .flags = OSH_CFG_RANGE, .min = 1, .max = MON_INTERVAL_MAX_MS},
    {"probe.timeout", OSH_CFG_DURATION_MS, "3s", "OSH_MONITOR_PROBE_TIMEOUT", "one probe's limit",
     .flags = OSH_CFG_RANGE, .min = 1, .max = MON_INTERVAL_MAX_MS},
    {"probe.key.id", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_KEY_ID", "HMAC key id (unset: none)"},
    {"probe.secret", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_SECRET",
     "HMAC secret (prefer probe.secret.file)"},
    {"probe.secret.file", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_SECRET_FILE",
     "file holding the HMAC secret", .check = osh_cfg_check_file},
    {"probe.ca", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_CA", "CA file to trust",
     .check = osh_cfg_check_file},
    {"probe.cert", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_CERT", "client certificate (mTLS)",
     .check = osh_cfg_check_file},
    {"probe.cert.key", OSH_CFG_STR, NULL, "OSH_MONITOR_PROBE_CERT_KEY", "client key (mTLS)",
     .check = osh_cfg_check_file},
    {"snapshot.max.age", OSH_CFG_DURATION_MS, "192h", "OSH_MONITOR_SNAPSHOT_MAX_AGE",
     "WARN when the cloud serves an older extract (0: never)"},
    {"alert.url", OSH_CFG_STR, NULL, "OSH_MONITOR_ALERT_URL",
     "webhook for transitions (unset: none)", .check = osh_cfg_check_url},
    {"alert.secret", OSH_CFG_STR, NULL, "OSH_MONITOR_ALERT_SECRET", "HMAC secret for alerts"},
    {"alert.secret.file", OSH_CFG_STR, NULL, "OSH_MONITOR_ALERT_SECRET_FILE",
     "file holding the alert secret", .check = osh_cfg_check_file},
    {"alert.attempts", OSH_CFG_INT, "5", "OSH_MONITOR_ALERT_ATTEMPTS", "tries per alert",
     .flags = OSH_CFG_RANGE, .min = 1, .max = 100},
    {"alert.timeout", OSH_CFG_DURATION_MS, "5s", "OSH_MONITOR_ALERT_TIMEOUT", "one POST's limit",
     .flags = OSH_CFG_RANGE, .min = 1, .max = MON_INTERVAL_MAX_MS},
};

/* Reads the secrets now, so --check fails on an unreadable file or a key
 * id without a secret as the run would. */
static int mon_configure(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        mon_conf_t *mc = calloc(1, sizeof(*mc));
        const char *url = osh_config_str(svc->cfg, "probe.url");

        *conf = mc;
        if (!mc) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (osh_secret_load(svc->cfg, "probe.secret", &mc->probe_secret, errstr, errstr_size) ||
            osh_secret_load(svc->cfg, "alert.secret", &mc->alert_secret, errstr, errstr_size))
                return -1;
        if (url && *url && osh_config_str(svc->cfg, "probe.key.id") && !mc->probe_secret.data) {
                snprintf(errstr, errstr_size, "probe.key.id needs probe.secret(.file)");
                return -1;
        }
        return 0;
}

static void mon_unconfigure(void *conf)
{
        mon_conf_t *mc = conf;

        if (!mc)
                return;
        osh_secret_wipe(&mc->probe_secret);
        osh_secret_wipe(&mc->alert_secret);
        free(mc);
}

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
    .configure = mon_configure,
    .unconfigure = mon_unconfigure,
    .open = mon_open,
    .run = mon_run,
    .close = mon_close,
    .ready_after_open = 1,
};
