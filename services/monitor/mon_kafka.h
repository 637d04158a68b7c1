/* The monitor's Kafka side: decoding heartbeats from ops.status.v1, and
 * sampling watched groups' committed offsets and watermarks.
 *
 * Offsets come from rd_kafka_committed() on a consumer handle whose
 * group.id is the watched group; it never subscribes, so it never joins or
 * disturbs the group, and it never calls DescribeGroups / ListGroups (which
 * the librdkafka mock cluster does not support). */
#ifndef MON_KAFKA_H
#define MON_KAFKA_H

#include <stddef.h>

#include "oshirase/config.h"

#include "mon_model.h"

/* Decodes one ops.status.v1 value into the model. 0, or -1 with errstr
 * (the caller counts it as rejected and carries on). */
int mon_heartbeat_decode(const void *buf, size_t len, mon_model_t *m, char *errstr,
                         size_t errstr_size);

/* Parses "group:topic[@service],..." and declares each pair in the model.
 * 0 / -1 with errstr naming the bad entry. NULL or "" declares nothing. */
int mon_watch_parse(const char *spec, mon_model_t *m, char *errstr, size_t errstr_size);

typedef struct mon_sampler mon_sampler_t;

/* One handle per watched group, configured from cfg's "kafka." keys.
 * NULL with errstr. */
mon_sampler_t *mon_sampler_new(const osh_config_t *cfg, mon_model_t *m, int timeout_ms,
                               char *errstr, size_t errstr_size);
/* Samples every watched group once (blocking, bounded by the timeout per
 * request). A group that cannot be read this round gets no sample. */
void mon_sampler_run(mon_sampler_t *s, int64_t now_ms);
void mon_sampler_destroy(mon_sampler_t *s); /* NULL ok */

#endif
