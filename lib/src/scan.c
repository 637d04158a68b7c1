#include "oshirase/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/clock.h"
#include "oshirase/grow.h"
#include "oshirase/kafka.h"
#include "oshirase/provenance.h"

/* A read gives up when its stop offsets are not reached in this long. */
#define SCAN_TIMEOUT_MS 30000
/* Each metadata or watermark request waits at most this long. */
#define SCAN_REQUEST_MS 10000
/* One poll: short, so the timeout is checked often. */
#define SCAN_POLL_MS 100
/* Closing the reader (cut to the shutdown grace by osh_kafka_consumer_close). */
#define SCAN_CLOSE_MS 10000
/* osh_scan_last's first window, in offsets; each next one is 4 times wider. */
#define FIRST_WINDOW 64

struct osh_scan {
        rd_kafka_t *rk;
};

/* The count, or -1 with *topic_err set when the cluster answered but the
 * topic is missing or in error (left 0 when the request itself failed). */
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

int osh_scan_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                             size_t errstr_size)
{
        rd_kafka_resp_err_t topic_err;

        return count(rk, topic, timeout_ms, &topic_err, errstr, errstr_size);
}

/* Partitions to read: a topic the cluster does not have (yet) has none. */
static int partitions(osh_scan_t *s, const char *topic, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t topic_err;
        int n = count(s->rk, topic, SCAN_REQUEST_MS, &topic_err, errstr, errstr_size);

        return n < 0 && topic_err ? 0 : n;
}

osh_scan_t *osh_scan_new(const osh_config_t *cfg, const char *prefix, char *errstr,
                         size_t errstr_size)
{
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(cfg, prefix, OSH_KAFKA_CONSUMER, NULL, errstr, errstr_size);
        osh_scan_t *s = NULL;

        if (!conf)
                return NULL;
        /* assign() only: no group is joined and nothing is committed */
        if (osh_kafka_conf_set(conf, "group.id", "osh-recovery-scan", errstr, errstr_size) ||
            osh_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
            osh_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size) ||
            osh_kafka_conf_set(conf, "fetch.wait.max.ms", "20", errstr, errstr_size) ||
            osh_kafka_conf_set(conf, "fetch.error.backoff.ms", "20", errstr, errstr_size))
                goto fail;
        if (!(s = calloc(1, sizeof(*s)))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        if (!(s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size)))
                goto fail; /* conf is still ours */
        rd_kafka_poll_set_consumer(s->rk);
        return s;
fail:
        rd_kafka_conf_destroy(conf);
        free(s);
        return NULL;
}

void osh_scan_destroy(osh_scan_t *s)
{
        if (!s)
                return;
        osh_kafka_consumer_close(s->rk, SCAN_CLOSE_MS);
        free(s);
}

static int watermarks(osh_scan_t *s, const char *topic, int32_t partition, int64_t *lo, int64_t *hi,
                      char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(s->rk, topic, partition, lo, hi, SCAN_REQUEST_MS);

        if (err)
                snprintf(errstr, errstr_size, "watermarks of %s[%d]: %s", topic, (int)partition,
                         rd_kafka_err2str(err));
        return err ? -1 : 0;
}

/* One partition's share of a read: [next, to). */
typedef struct span {
        int32_t partition;
        int64_t next, to;
} span_t;

/* Gives the record m to fn if it is the next one of a span still open;
 * closes the span at its stop offset or at the partition's end (compaction
 * leaves fewer records than offsets). 1 when it closed the span. */
static int take(span_t *sp, int n, const rd_kafka_message_t *m, osh_scan_fn *fn, void *opaque,
                int *matched)
{
        span_t *s = NULL;

        for (int i = 0; i < n && !s; i++)
                if (sp[i].partition == m->partition)
                        s = &sp[i];
        if (!s || s->next >= s->to || m->offset < s->next)
                return 0; /* not ours, done, or left from an earlier assignment */
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                s->next = s->to;
        else if (!m->err && m->offset < s->to) {
                *matched |= fn(opaque, m) == 1;
                s->next = m->offset + 1;
        } else if (!m->err) {
                s->next = s->to;
        }
        return s->next >= s->to;
}

/* The one read loop: assigns every span of topic that holds something and
 * reads each to its stop offset. *matched is set when fn returned 1. The
 * reader is left unassigned. 0 / -1 with errstr. */
static int read_spans(osh_scan_t *s, const char *topic, span_t *sp, int n, osh_scan_fn *fn,
                      void *opaque, int *matched, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        int64_t deadline = osh_mono_ms() + SCAN_TIMEOUT_MS;
        int open = 0, rc = -1;

        for (int i = 0; i < n; i++)
                if (sp[i].next < sp[i].to && ++open)
                        rd_kafka_topic_partition_list_add(l, topic, sp[i].partition)->offset =
                            sp[i].next;
        if (open && rd_kafka_assign(s->rk, l)) {
                snprintf(errstr, errstr_size, "cannot read %s", topic);
                goto out;
        }
        while (open > 0) {
                rd_kafka_message_t *m;
                if (osh_mono_ms() > deadline) {
                        snprintf(errstr, errstr_size, "timed out reading %s (%d partition(s) left)",
                                 topic, open);
                        goto out;
                }
                if (!(m = rd_kafka_consumer_poll(s->rk, SCAN_POLL_MS)))
                        continue;
                open -= take(sp, n, m, fn, opaque, matched);
                rd_kafka_message_destroy(m);
        }
        rc = 0;
out:
        rd_kafka_assign(s->rk, NULL);
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

/* Reads topic[partition] from `from` (raised to the low watermark) up to
 * its high watermark now. */
static int read_partition(osh_scan_t *s, const char *topic, int32_t partition, int64_t from,
                          osh_scan_fn *fn, void *opaque, char *errstr, size_t errstr_size)
{
        span_t sp = {partition, 0, 0};
        int matched = 0;

        if (watermarks(s, topic, partition, &sp.next, &sp.to, errstr, errstr_size))
                return -1;
        if (from > sp.next)
                sp.next = from;
        return read_spans(s, topic, &sp, 1, fn, opaque, &matched, errstr, errstr_size);
}

int osh_scan_topic(osh_scan_t *s, const char *topic, osh_scan_start_fn *start, osh_scan_fn *fn,
                   void *opaque, char *errstr, size_t errstr_size)
{
        int n = partitions(s, topic, errstr, errstr_size), matched = 0, rc = -1;
        span_t *sp = n > 0 ? calloc((size_t)n, sizeof(*sp)) : NULL;

        if (n <= 0 || !sp) {
                free(sp);
                if (n > 0)
                        snprintf(errstr, errstr_size, "out of memory");
                return n == 0 ? 0 : -1;
        }
        for (int32_t p = 0; p < n; p++) {
                int64_t from;
                sp[p].partition = p;
                if (watermarks(s, topic, p, &sp[p].next, &sp[p].to, errstr, errstr_size))
                        goto out;
                from = start ? start(opaque, topic, p) : 0;
                if (from > sp[p].next)
                        sp[p].next = from;
        }
        rc = read_spans(s, topic, sp, n, fn, opaque, &matched, errstr, errstr_size);
out:
        free(sp);
        return rc;
}

int osh_scan_last(osh_scan_t *s, const char *topic, int32_t partition, osh_scan_fn *fn,
                  void *opaque, char *errstr, size_t errstr_size)
{
        int64_t lo, hi, end, start, window = FIRST_WINDOW;
        int matched = 0;

        if (watermarks(s, topic, partition, &lo, &hi, errstr, errstr_size))
                return -1;
        for (end = hi; end > lo && !matched; end = start, window *= 4) {
                start = end - window > lo ? end - window : lo;
                span_t sp = {partition, start, end};
                if (read_spans(s, topic, &sp, 1, fn, opaque, &matched, errstr, errstr_size))
                        return -1;
        }
        return matched;
}

int osh_scan_marks(osh_scan_t *s, const char *topic, char *out, size_t size, char *errstr,
                   size_t errstr_size)
{
        int parts = partitions(s, topic, errstr, errstr_size);
        size_t len = strnlen(out, size);

        for (int p = 0; p < parts; p++) {
                int64_t lo, hi;
                int w;
                if (watermarks(s, topic, p, &lo, &hi, errstr, errstr_size))
                        return -1;
                if (len + 1 >= size || (w = osh_src_format(out + len + (len > 0), size - len - 1,
                                                           "", topic, p, hi)) < 0) {
                        snprintf(errstr, errstr_size, "%s: too many partitions to note", topic);
                        return -1;
                }
                if (len)
                        out[len] = ' ';
                len += (size_t)w + (len > 0);
        }
        return parts < 0 ? -1 : 0;
}

int osh_scan_from_marks(osh_scan_t *s, const char *marks, osh_scan_fn *fn, void *opaque,
                        char *errstr, size_t errstr_size)
{
        const char *p = marks, *e;
        osh_src_t src;

        for (; *p; p = *e ? e + 1 : e) {
                e = strchr(p, ' ');
                if (!e)
                        e = p + strlen(p);
                if (e == p)
                        continue;
                if (osh_src_parse(p, (size_t)(e - p), &src)) {
                        snprintf(errstr, errstr_size, "unreadable mark \"%.*s\"", (int)(e - p), p);
                        return -1;
                }
                if (read_partition(s, src.topic, src.partition, src.offset, fn, opaque, errstr,
                                   errstr_size))
                        return -1;
        }
        return 0;
}

int osh_keyset_add(osh_keyset_t *s, const void *key, size_t len)
{
        char *k;

        if (osh_grow(&s->k, &s->cap, s->n, sizeof(*s->k), 256) || !(k = malloc(len + 1)))
                return -1;
        memcpy(k, key, len);
        k[len] = '\0';
        s->k[s->n++] = k;
        s->sorted = 0;
        return 0;
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

int osh_keyset_has(osh_keyset_t *s, const void *key, size_t len)
{
        char buf[512], *k;
        const char *kp;
        int found;

        if (!s->n || !(k = len < sizeof(buf) ? buf : malloc(len + 1)))
                return 0;
        kp = k;
        if (!s->sorted) {
                qsort(s->k, s->n, sizeof(*s->k), cmp_str);
                s->sorted = 1;
        }
        memcpy(k, key, len);
        k[len] = '\0';
        found = bsearch(&kp, s->k, s->n, sizeof(*s->k), cmp_str) != NULL;
        if (k != buf)
                free(k);
        return found;
}

void osh_keyset_clear(osh_keyset_t *s)
{
        for (size_t i = 0; i < s->n; i++)
                free(s->k[i]);
        free(s->k);
        memset(s, 0, sizeof(*s));
}
