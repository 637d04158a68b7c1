#include "oshirase/scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/grow.h"
#include "oshirase/kafka.h"
#include "oshirase/provenance.h"

#define SCAN_TIMEOUT_MS 30000
#define FIRST_WINDOW    64

struct osh_scan {
        rd_kafka_t *rk;
};

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
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
        free(s);
}

int osh_scan_partitions(osh_scan_t *s, const char *topic, char *errstr, size_t errstr_size)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(s->rk, topic, NULL);
        rd_kafka_resp_err_t err =
            rkt ? rd_kafka_metadata(s->rk, 0, rkt, &md, 10000) : RD_KAFKA_RESP_ERR__INVALID_ARG;
        int n = -1;

        if (!err && md->topic_cnt == 1)
                n = md->topics[0].err ? 0 : md->topics[0].partition_cnt;
        else
                snprintf(errstr, errstr_size, "metadata for %s: %s", topic, rd_kafka_err2str(err));
        if (md)
                rd_kafka_metadata_destroy(md);
        if (rkt)
                rd_kafka_topic_destroy(rkt);
        return n;
}

int osh_scan_watermarks(osh_scan_t *s, const char *topic, int32_t partition, int64_t *lo,
                        int64_t *hi, char *errstr, size_t errstr_size)
{
        rd_kafka_resp_err_t err =
            rd_kafka_query_watermark_offsets(s->rk, topic, partition, lo, hi, 10000);

        if (err)
                snprintf(errstr, errstr_size, "watermarks of %s[%d]: %s", topic, (int)partition,
                         rd_kafka_err2str(err));
        return err ? -1 : 0;
}

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads [from, to) of one partition (from >= low watermark, to <= high);
 * *matched is set when fn returned 1. */
static int read_range(osh_scan_t *s, const char *topic, int32_t partition, int64_t from, int64_t to,
                      osh_scan_fn *fn, void *opaque, int *matched, char *errstr, size_t errstr_size)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        int64_t deadline = mono_ms() + SCAN_TIMEOUT_MS, next = from;
        int rc = -1;

        rd_kafka_topic_partition_list_add(l, topic, partition)->offset = from;
        if (rd_kafka_assign(s->rk, l)) {
                snprintf(errstr, errstr_size, "cannot read %s[%d]", topic, (int)partition);
                goto out;
        }
        while (next < to) {
                rd_kafka_message_t *m;
                if (mono_ms() > deadline) {
                        snprintf(errstr, errstr_size, "timed out reading %s[%d] at %lld of %lld",
                                 topic, (int)partition, (long long)next, (long long)to);
                        goto out;
                }
                if (!(m = rd_kafka_consumer_poll(s->rk, 100)))
                        continue;
                if (m->partition == partition && m->offset >= next) {
                        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                next = to; /* fewer records than offsets (compaction) */
                        else if (!m->err && m->offset < to) {
                                *matched |= fn(opaque, m) == 1;
                                next = m->offset + 1;
                        } else if (!m->err) {
                                next = to;
                        }
                }
                rd_kafka_message_destroy(m);
        }
        rc = 0;
out:
        rd_kafka_assign(s->rk, NULL);
        rd_kafka_topic_partition_list_destroy(l);
        return rc;
}

int osh_scan_range(osh_scan_t *s, const char *topic, int32_t partition, int64_t from, int64_t to,
                   osh_scan_fn *fn, void *opaque, char *errstr, size_t errstr_size)
{
        int64_t lo, hi;
        int matched = 0;

        if (osh_scan_watermarks(s, topic, partition, &lo, &hi, errstr, errstr_size))
                return -1;
        if (from < lo)
                from = lo;
        if (to < 0 || to > hi)
                to = hi;
        if (from >= to)
                return 0;
        return read_range(s, topic, partition, from, to, fn, opaque, &matched, errstr, errstr_size);
}

int osh_scan_last(osh_scan_t *s, const char *topic, int32_t partition, osh_scan_fn *fn,
                  void *opaque, char *errstr, size_t errstr_size)
{
        int64_t lo, hi, end, start, window = FIRST_WINDOW;
        int matched = 0;

        if (osh_scan_watermarks(s, topic, partition, &lo, &hi, errstr, errstr_size))
                return -1;
        for (end = hi; end > lo && !matched; end = start, window *= 4) {
                start = end - window > lo ? end - window : lo;
                if (read_range(s, topic, partition, start, end, fn, opaque, &matched, errstr,
                               errstr_size))
                        return -1;
        }
        return matched;
}

int osh_scan_marks(osh_scan_t *s, const char *topic, char *out, size_t size, char *errstr,
                   size_t errstr_size)
{
        int parts = osh_scan_partitions(s, topic, errstr, errstr_size);
        size_t len = strnlen(out, size);

        for (int p = 0; p < parts; p++) {
                int64_t lo, hi;
                int w;
                if (osh_scan_watermarks(s, topic, p, &lo, &hi, errstr, errstr_size))
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
                if (osh_scan_range(s, src.topic, src.partition, src.offset, -1, fn, opaque, errstr,
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
