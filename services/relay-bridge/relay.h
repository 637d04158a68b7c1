/* relay-bridge: the only thing that crosses a segment boundary (docs/architecture.md §1).
 *
 * mode = kafka:  consume the allow-listed topics from the source cluster
 *                (kafka.source.*), produce them to the target cluster
 *                (kafka.target.*) with key, headers, timestamp and the SAME
 *                partition number (start-up fails if a target topic has
 *                fewer partitions than its source). Source offsets are
 *                stored only once the target acknowledged the produce.
 * mode = uplink: exchange -> cloud over HTTPS: TransferBatch via a disk
 *                spool, offsets stored only through what the Ack confirms.
 *
 * Refused records (topic or fingerprint not allowed, not Avro, malformed)
 * are logged without payload, counted, optionally copied to a dead-letter
 * topic on the SOURCE cluster, and their offsets stored so they never block. */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/allowlist.h"
#include "oshirase/config.h"
#include "oshirase/service.h"

typedef enum { RB_MODE_KAFKA = 0, RB_MODE_UPLINK } rb_mode_t;

typedef struct rb_config {
        rb_mode_t mode;
        osh_segment_t from, to;
        osh_allowlist_t *allow; /* owned */
        const char *group_id;   /* strings borrowed from the osh_config_t */
        const char *src_cluster;
        const char *dead_letter;
        const char *instance;
        int validate;
        /* uplink */
        const char *url;
        const char *key_id;
        char *secret; /* owned; from uplink.secret or uplink.secret.file */
        size_t secret_len;
        const char *ca_file, *cert_file, *key_file;
        int64_t max_records, max_bytes, linger_ms;
        const char *spool_dir;
        int64_t spool_max, spool_alarm;
        int spool_fsync;
        int64_t retry_base_ms, retry_max_ms, http_timeout_ms;
        int64_t probe_interval_ms;
        const char *probe_file;
} rb_config_t;

extern const osh_cfg_entry_t rb_config_table[];
extern const size_t rb_config_table_len;

/* Reads and validates everything (segments, allow-list, segment rule, mode
 * requirements). Needs osh_serde_init(). 0 / -1 with errstr. Free with
 * rb_config_fini() (also after failure). */
int rb_config_load(rb_config_t *rc, const osh_config_t *cfg, char *errstr, size_t errstr_size);
void rb_config_fini(rb_config_t *rc);

/* Runs until shutdown is requested. Returns the process exit code (0 on a
 * clean stop). */
int rb_kafka_run(const rb_config_t *rc, osh_service_t *svc);
int rb_uplink_run(const rb_config_t *rc, osh_service_t *svc);

/* The service: configure loads an rb_config_t into svc->conf. */
extern const osh_service_app_t rb_app;

#endif
