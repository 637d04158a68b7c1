#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/secret.h"
#include "oshirase/topics.h"
#include "relay.h"

static int load_segments(rb_config_t *rc, const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        const char *from = osh_config_str(cfg, "source.segment");
        const char *to = osh_config_str(cfg, "target.segment");

        if (osh_segment_parse(from, &rc->from) || osh_segment_parse(to, &rc->to)) {
                snprintf(errstr, errstr_size,
                         "source.segment and target.segment must be core, processing, exchange "
                         "or cloud (got %s -> %s)",
                         from ? from : "(unset)", to ? to : "(unset)");
                return -1;
        }
        if ((rc->mode == RB_MODE_UPLINK) != (rc->to == OSH_SEG_CLOUD)) {
                snprintf(errstr, errstr_size,
                         "mode %s cannot go to %s (uplink is the only way to "
                         "the cloud, and it goes nowhere else)",
                         rc->mode == RB_MODE_UPLINK ? "uplink" : "kafka", to);
                return -1;
        }
        return 0;
}

static int load_secret(rb_config_t *rc, const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        osh_secret_t sec;

        if (osh_secret_load(cfg, "uplink.secret", &sec, errstr, errstr_size))
                return -1;
        if (rc->key_id && !sec.data) {
                snprintf(errstr, errstr_size, "uplink.key.id needs uplink.secret(.file)");
                return -1;
        }
        rc->secret = sec.data; /* ownership passes; rb_config_fini wipes it */
        rc->secret_len = sec.len;
        return 0;
}

static int load_uplink(rb_config_t *rc, const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        rc->url = osh_config_str(cfg, "uplink.url");
        rc->key_id = osh_config_str(cfg, "uplink.key.id");
        rc->ca_file = osh_config_str(cfg, "uplink.ca");
        rc->cert_file = osh_config_str(cfg, "uplink.cert");
        rc->key_file = osh_config_str(cfg, "uplink.cert.key");
        rc->spool_dir = osh_config_str(cfg, "spool.dir");
        if (!rc->url || !rc->spool_dir) {
                snprintf(errstr, errstr_size, "uplink needs uplink.url and spool.dir");
                return -1;
        }
        if (!rc->key_id && !rc->cert_file) {
                snprintf(errstr, errstr_size,
                         "uplink needs an HMAC key (uplink.key.id) or a client certificate "
                         "(uplink.cert)");
                return -1;
        }
        if (rc->max_records <= 0 || rc->max_bytes <= 0 || rc->spool_max < rc->max_bytes) {
                snprintf(errstr, errstr_size,
                         "batch limits must be > 0 and spool.max.bytes >= batch.max.bytes");
                return -1;
        }
        return load_secret(rc, cfg, errstr, errstr_size);
}

int rb_config_load(rb_config_t *rc, const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        const char *mode = osh_config_str(cfg, "mode");
        static char group[96];

        memset(rc, 0, sizeof(*rc));
        if (strcmp(mode, "kafka") && strcmp(mode, "uplink")) {
                snprintf(errstr, errstr_size, "mode must be kafka or uplink (got %s)", mode);
                return -1;
        }
        rc->mode = strcmp(mode, "uplink") ? RB_MODE_KAFKA : RB_MODE_UPLINK;
        if (load_segments(rc, cfg, errstr, errstr_size))
                return -1;
        rc->allow = osh_allowlist_parse(osh_config_str(cfg, "allow"), errstr, errstr_size);
        if (!rc->allow ||
            osh_allowlist_check_segments(rc->allow, rc->from, rc->to, errstr, errstr_size))
                return -1;
        rc->validate = osh_config_bool(cfg, "validate");
        rc->instance = osh_config_str(cfg, "instance");
        rc->group_id = osh_config_str(cfg, "group.id");
        if (!rc->group_id) {
                snprintf(group, sizeof(group), "relay-bridge.%s-%s", osh_segment_name(rc->from),
                         osh_segment_name(rc->to));
                rc->group_id = group;
        }
        rc->src_cluster = osh_config_str(cfg, "source.cluster");
        if (!rc->src_cluster)
                rc->src_cluster = osh_segment_name(rc->from);
        rc->dead_letter = osh_config_str(cfg, "dead.letter.topic");
        if (rc->dead_letter && osh_allowlist_has_topic(rc->allow, rc->dead_letter)) {
                snprintf(errstr, errstr_size, "dead.letter.topic %s is itself on the allow-list",
                         rc->dead_letter);
                return -1;
        }
        rc->max_records = osh_config_int(cfg, "batch.max.records");
        rc->max_bytes = osh_config_int(cfg, "batch.max.bytes");
        rc->linger_ms = osh_config_int(cfg, "batch.linger");
        rc->spool_max = osh_config_int(cfg, "spool.max.bytes");
        rc->spool_alarm = osh_config_int(cfg, "spool.alarm.bytes");
        rc->spool_fsync = osh_config_bool(cfg, "spool.fsync");
        rc->retry_base_ms = osh_config_int(cfg, "retry.base");
        rc->retry_max_ms = osh_config_int(cfg, "retry.max");
        rc->http_timeout_ms = osh_config_int(cfg, "uplink.timeout");
        rc->probe_interval_ms = osh_config_int(cfg, "probe.interval");
        rc->probe_file = osh_config_str(cfg, "probe.file");
        if (rc->mode == RB_MODE_UPLINK)
                return load_uplink(rc, cfg, errstr, errstr_size);
        return 0;
}

void rb_config_fini(rb_config_t *rc)
{
        osh_allowlist_destroy(rc->allow);
        rc->allow = NULL;
        osh_secret_wipe(&(osh_secret_t){rc->secret, rc->secret_len, NULL});
        rc->secret = NULL;
}
