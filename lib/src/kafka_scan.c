#include "oshirase/kafka_scan.h"

#include <stdio.h>
#include <stdlib.h>

#include "oshirase/clock.h"

/* Each metadata or watermark request waits at most this long. */
#define SCAN_REQUEST_MS 5000
/* One poll of the scan: short, so the timeout is checked often. */
#define SCAN_POLL_MS 100

/* The count, or -1 with *topic_err set when the cluster answered but the
 * topic is missing or in error (0 when the request itself failed). */
static int count(rd_kafka_t *rk, const char *topic, int timeout_ms, rd_kafka_resp_err_t *topic_err,
                 char *errstr, size_t errstr_size)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err =
            rkt ? rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) : rd_kafka_last_error();
        int n = -1;

        *topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (!err && md->topic_cnt == 1 && !md->topics[0].err)
                n = md->topics[0].partition_cnt;
        else if (!err)
                *topic_err =
                    md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        if (n < 0)
                snprintf(errstr, errstr_size, "metadata for %s on %s: %s", topic, rd_kafka_name(rk),
                         rd_kafka_err2str(err ? err : *topic_err));
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        return n;
}

int osh_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                              size_t errstr_size)
{
        rd_kafka_resp_err_t topic_err;

        return count(rk, topic, timeout_ms, &topic_err, errstr, errstr_size);
}

/* Assigns every partition with something between its start and the high
 * watermark (hi[p]; -1 once nothing is left). The number assigned, or -1. */
static int assign_to_watermarks(rd_kafka_t *rk, const char *topic, int n, int64_t *hi,
                                osh_scan_start_fn *start, void *opaque, char *errstr,
                                size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        int remaining = 0;

        for (int32_t p = 0; p < n; p++) {
                int64_t lo, from;
                if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi[p], SCAN_REQUEST_MS)) {
                        snprintf(errstr, errstr_size, "no watermarks for %s [%d]", topic, p);
                        remaining = -1;
                        goto out;
                }
                from = start ? start(opaque, topic, p) : lo;
                from = from < lo ? lo : from;
                if (from >= hi[p]) {
                        hi[p] = -1;
                        continue;
                }
                rd_kafka_topic_partition_list_add(l, topic, p)->offset = from;
                remaining++;
        }
        if (remaining && rd_kafka_assign(rk, l)) {
                snprintf(errstr, errstr_size, "cannot assign %s", topic);
                remaining = -1;
        }
out:
        rd_kafka_topic_partition_list_destroy(l);
        return remaining;
}

int osh_kafka_scan(rd_kafka_t *rk, const char *topic, osh_scan_start_fn *start,
                   osh_scan_record_fn *record, void *opaque, int timeout_ms, char *errstr,
                   size_t errstr_size)
{
        rd_kafka_resp_err_t topic_err;
        int n = count(rk, topic, SCAN_REQUEST_MS, &topic_err, errstr, errstr_size);
        int64_t *hi = n > 0 ? calloc((size_t)n, sizeof(*hi)) : NULL;
        int64_t deadline = osh_mono_ms() + timeout_ms;
        int remaining = -1;

        if (n <= 0 || !hi) { /* a topic not (yet) there holds nothing to scan */
                free(hi);
                if (n > 0)
                        snprintf(errstr, errstr_size, "out of memory");
                return n == 0 || topic_err ? 0 : -1;
        }
        remaining = assign_to_watermarks(rk, topic, n, hi, start, opaque, errstr, errstr_size);
        while (remaining > 0) {
                rd_kafka_message_t *m;
                if (osh_mono_ms() > deadline) {
                        snprintf(errstr, errstr_size, "timed out reading %s", topic);
                        remaining = -1;
                        break;
                }
                if (!(m = rd_kafka_consumer_poll(rk, SCAN_POLL_MS)))
                        continue;
                int32_t p = m->partition;
                if (!m->err)
                        record(opaque, m);
                if ((!m->err || m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) && p >= 0 && p < n &&
                    hi[p] >= 0 && m->offset + (m->err ? 0 : 1) >= hi[p]) {
                        hi[p] = -1; /* this partition is done */
                        remaining--;
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(rk, NULL);
        free(hi);
        return remaining == 0 ? 0 : -1;
}
