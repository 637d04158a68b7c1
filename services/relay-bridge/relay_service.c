/* relay-bridge's service object: configure loads and checks the whole relay
 * (segments, allow-list, segment rule) before --check ends, so --check
 * refuses a relay that would break the segment rule; the run then uses that
 * same configuration. */
#include <stdio.h>
#include <stdlib.h>

#include "relay.h"

const osh_cfg_entry_t rb_config_table[] = {
    {"mode", OSH_CFG_STR, "kafka", "OSH_RELAY_MODE", "kafka (kafka -> kafka) or uplink (HTTPS)",
     .allowed = "kafka|uplink"},
    {"source.segment", OSH_CFG_STR, NULL, "OSH_RELAY_SOURCE_SEGMENT",
     "segment read from: core|processing|exchange"},
    {"target.segment", OSH_CFG_STR, NULL, "OSH_RELAY_TARGET_SEGMENT",
     "segment written to: processing|exchange|cloud (one step downstream)"},
    {"allow", OSH_CFG_STR, NULL, "OSH_RELAY_ALLOW",
     "allow-list: topic[@<fingerprint hex>|@<schema name>],... (nothing else crosses)"},
    {"validate", OSH_CFG_BOOL, "true", "OSH_RELAY_VALIDATE",
     "also check that each value parses as its schema"},
    {"group.id", OSH_CFG_STR, NULL, "OSH_RELAY_GROUP_ID",
     "source consumer group (default relay-bridge.<source>-<target>)"},
    {"source.cluster", OSH_CFG_STR, NULL, "OSH_RELAY_SOURCE_CLUSTER",
     "cluster part of the osh.src header (default: source.segment)"},
    {"dead.letter.topic", OSH_CFG_STR, NULL, "OSH_RELAY_DEAD_LETTER_TOPIC",
     "copy refused records to this topic on the SOURCE cluster (unset: skip only)"},
    {"uplink.url", OSH_CFG_STR, NULL, "OSH_UPLINK_URL", "cloud-ingest base URL (https://host:port)",
     .check = osh_cfg_check_url},
    {"uplink.key.id", OSH_CFG_STR, NULL, "OSH_UPLINK_KEY_ID", "HMAC key id (unset: no token)"},
    {"uplink.secret", OSH_CFG_STR, NULL, "OSH_UPLINK_SECRET", "HMAC secret (prefer secret.file)"},
    {"uplink.secret.file", OSH_CFG_STR, NULL, "OSH_UPLINK_SECRET_FILE", "file holding the secret",
     .check = osh_cfg_check_file},
    {"uplink.ca", OSH_CFG_STR, NULL, "OSH_UPLINK_CA", "CA file to trust (unset: system store)",
     .check = osh_cfg_check_file},
    {"uplink.cert", OSH_CFG_STR, NULL, "OSH_UPLINK_CERT", "client certificate (mutual TLS)",
     .check = osh_cfg_check_file},
    {"uplink.cert.key", OSH_CFG_STR, NULL, "OSH_UPLINK_CERT_KEY", "client certificate's key",
     .check = osh_cfg_check_file},
    {"uplink.timeout", OSH_CFG_DURATION_MS, "30s", "OSH_UPLINK_TIMEOUT", "one request's timeout"},
    {"batch.max.records", OSH_CFG_INT, "16000", "OSH_BATCH_MAX_RECORDS",
     "records per batch (cloud-ingest waits for every batch: big ones amortise that)"},
    {"batch.max.bytes", OSH_CFG_SIZE, "4M", "OSH_BATCH_MAX_BYTES", "payload bytes per batch"},
    {"batch.linger", OSH_CFG_DURATION_MS, "500ms", "OSH_BATCH_LINGER",
     "send a partial batch after this long"},
    {"spool.dir", OSH_CFG_STR, NULL, "OSH_SPOOL_DIR", "disk spool directory (uplink; required)"},
    {"spool.max.bytes", OSH_CFG_SIZE, "256M", "OSH_SPOOL_MAX_BYTES",
     "spool bound: consumption pauses when full (never drops)"},
    {"spool.alarm.bytes", OSH_CFG_SIZE, "64M", "OSH_SPOOL_ALARM_BYTES",
     "above this: DEGRADED + warning"},
    {"spool.fsync", OSH_CFG_BOOL, "true", "OSH_SPOOL_FSYNC",
     "fsync each spooled batch (off: survives a crash, not a power cut)"},
    {"retry.base", OSH_CFG_DURATION_MS, "200ms", "OSH_RETRY_BASE", "first retry delay"},
    {"retry.max", OSH_CFG_DURATION_MS, "30s", "OSH_RETRY_MAX", "longest retry delay"},
    {"probe.interval", OSH_CFG_DURATION_MS, "0", "OSH_PROBE_INTERVAL",
     "send a ProbeRequest this often (0: never)"},
    {"probe.file", OSH_CFG_STR, NULL, "OSH_PROBE_FILE", "write the last probe result here (JSON)"},
};
const size_t rb_config_table_len = sizeof(rb_config_table) / sizeof(rb_config_table[0]);

static int rb_configure(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        rb_config_t *rc = calloc(1, sizeof(*rc));
        char err[512];

        *conf = rc;
        if (!rc) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (!rb_config_load(rc, svc->cfg, err, sizeof(err)))
                return 0;
        snprintf(errstr, errstr_size, "refusing to start: %s", err);
        return -1;
}

static void rb_unconfigure(void *conf)
{
        if (!conf)
                return;
        rb_config_fini(conf);
        free(conf);
}

/* The relay's runs build their clients themselves. */
static void *rb_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        return svc;
}

static int rb_run(void *app)
{
        osh_service_t *svc = app;
        const rb_config_t *rc = svc->conf;

        return rc->mode == RB_MODE_UPLINK ? rb_uplink_run(rc, svc) : rb_kafka_run(rc, svc);
}

/* Heartbeats go to the source cluster: every relay's source is where its
 * operators look (exchange for the uplink). */
const osh_service_app_t rb_app = {
    .name = "relay-bridge",
    .table = rb_config_table,
    .ntable = sizeof(rb_config_table) / sizeof(rb_config_table[0]),
    .hb_prefix = "kafka.source.",
    .configure = rb_configure,
    .unconfigure = rb_unconfigure,
    .open = rb_open,
    .run = rb_run,
};
