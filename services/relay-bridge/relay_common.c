#include "relay_common.h"

#include <inttypes.h>
#include <stdio.h>

#include "oshirase/log.h"

osh_consumer_t *rb_source_consumer(const rb_config_t *rc, const osh_service_t *svc, char *errstr,
                                   size_t errstr_size)
{
        const char *topics[64];
        size_t n = osh_allowlist_topic_count(rc->allow);
        rd_kafka_conf_t *conf;

        if (n > sizeof(topics) / sizeof(topics[0])) {
                snprintf(errstr, errstr_size, "allow: at most 64 topics");
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                topics[i] = osh_allowlist_topic(rc->allow, i);
        conf = osh_kafka_conf_new(svc->cfg, "kafka.source.", OSH_KAFKA_CONSUMER, NULL, errstr,
                                  errstr_size);
        if (!conf)
                return NULL;
        return osh_consumer_new(conf, rc->group_id, topics, n, &svc->replay, errstr, errstr_size);
}

void rb_store(osh_consumer_t *c, rb_tpart_t *p, int64_t next)
{
        (void)c;
        if (next >= 0)
                rb_tpart_defer_store(p, next);
}

static void add_store(rb_tpart_t *p, int64_t next, void *opaque)
{
        rd_kafka_topic_partition_list_add(opaque, rb_tpart_topic(p), rb_tpart_partition(p))
            ->offset = next;
}

void rb_store_flush(osh_consumer_t *c, rb_track_t *t)
{
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_resp_err_t err;

        if (!rb_track_has_stores(t))
                return; /* the common case per polled record: no list to build */
        l = rd_kafka_topic_partition_list_new(8);
        rb_track_take_stores(t, add_store, l);
        if (l->cnt) {
                err = rd_kafka_offsets_store(osh_consumer_handle(c), l);
                for (int i = 0; i < l->cnt; i++)
                        if (err || l->elems[i].err)
                                osh_debug("store %s[%" PRId32 "]@%" PRId64 ": %s",
                                          l->elems[i].topic, l->elems[i].partition,
                                          l->elems[i].offset,
                                          rd_kafka_err2str(err ? err : l->elems[i].err));
        }
        rd_kafka_topic_partition_list_destroy(l);
}

void rb_refused(const rb_config_t *rc, osh_service_t *svc, rb_counts_t *cnt,
                const rd_kafka_message_t *m, osh_allow_verdict_t v)
{
        (void)rc;
        cnt->refused[v]++;
        osh_service_count(svc, OSH_CTR_REJECTED, 1);
        osh_warn("refused %s[%" PRId32 "]@%" PRId64 ": %s not allowed (%zu value bytes)",
                 rd_kafka_topic_name(m->rkt), m->partition, m->offset, osh_allow_verdict_name(v),
                 m->len);
}

void rb_publish_counts(osh_service_t *svc, osh_consumer_t *c, const rb_counts_t *cnt)
{
        char name[32];

        if (!svc->hb)
                return;
        osh_heartbeat_set_lag(svc->hb, osh_consumer_lag(c));
        for (int v = 1; v < OSH_ALLOW__CNT; v++) {
                snprintf(name, sizeof(name), "refused_%s", osh_allow_verdict_name(v));
                osh_heartbeat_set_named(svc->hb, name, (int64_t)cnt->refused[v]);
        }
}
