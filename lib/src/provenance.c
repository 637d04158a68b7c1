#include "oshirase/provenance.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/topics.h"

/* Appends the decimal of v at out[*n], if it fits in size. */
static int put_num(char *out, size_t size, size_t *n, int64_t v)
{
        char tmp[24];
        size_t k = 0;
        uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

        do
                tmp[k++] = (char)('0' + u % 10);
        while (u /= 10);
        if (v < 0)
                tmp[k++] = '-';
        if (*n + k >= size)
                return -1;
        while (k)
                out[(*n)++] = tmp[--k];
        return 0;
}

static int put_str(char *out, size_t size, size_t *n, const char *s, char sep)
{
        size_t len = strlen(s);

        if (*n + len + 1 >= size)
                return -1;
        memcpy(out + *n, s, len);
        *n += len;
        out[(*n)++] = sep;
        return 0;
}

/* Hand-formatted: snprintf was ~1K instructions per relayed record
 * (callgrind, docs/performance.md). */
int osh_src_format(char *out, size_t size, const char *cluster, const char *topic,
                   int32_t partition, int64_t offset)
{
        size_t n = 0;

        if (put_str(out, size, &n, cluster ? cluster : "", '/') ||
            put_str(out, size, &n, topic, '/') || put_num(out, size, &n, partition) ||
            n + 1 >= size)
                return -1;
        out[n++] = '/';
        if (put_num(out, size, &n, offset))
                return -1;
        out[n] = '\0';
        return (int)n;
}

/* A non-negative decimal of s[0..len). -1 if not one. */
static int64_t parse_num(const char *s, size_t len)
{
        int64_t v = 0;

        if (!len || len > 18)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

/* Index of the last '/' in s[0..len), or -1. */
static long last_slash(const char *s, size_t len)
{
        while (len--)
                if (s[len] == '/')
                        return (long)len;
        return -1;
}

int osh_src_parse(const void *val, size_t len, osh_src_t *out)
{
        const char *s = val;
        long o, p, t;
        int64_t part, off;

        if (!s || (o = last_slash(s, len)) < 0 || (p = last_slash(s, (size_t)o)) < 0 ||
            (t = last_slash(s, (size_t)p)) < 0)
                return -1;
        off = parse_num(s + o + 1, len - (size_t)o - 1);
        part = parse_num(s + p + 1, (size_t)(o - p - 1));
        if (off < 0 || part < 0 || part > INT32_MAX || p - t - 1 <= 0 ||
            p - t - 1 >= OSH_SRC_TOPIC_MAX)
                return -1;
        memcpy(out->topic, s + t + 1, (size_t)(p - t - 1));
        out->topic[p - t - 1] = '\0';
        out->partition = (int32_t)part;
        out->offset = off;
        return 0;
}

/* The legacy four-header form (topic, partition, offset). */
static int legacy(rd_kafka_headers_t *h, osh_src_t *out)
{
        const void *t, *p, *o;
        size_t tl, pl, ol;
        int64_t part, off;

        if (rd_kafka_header_get_last(h, OSH_HDR_SRC_TOPIC, &t, &tl) ||
            rd_kafka_header_get_last(h, OSH_HDR_SRC_PARTITION, &p, &pl) ||
            rd_kafka_header_get_last(h, OSH_HDR_SRC_OFFSET, &o, &ol) || !t || !p || !o || !tl ||
            tl >= OSH_SRC_TOPIC_MAX)
                return -1;
        part = parse_num(p, pl);
        off = parse_num(o, ol);
        if (part < 0 || part > INT32_MAX || off < 0)
                return -1;
        memcpy(out->topic, t, tl);
        out->topic[tl] = '\0';
        out->partition = (int32_t)part;
        out->offset = off;
        return 0;
}

int osh_src_from_message(const rd_kafka_message_t *m, osh_src_t *out)
{
        rd_kafka_headers_t *h;
        const void *v;
        size_t len;

        if (rd_kafka_message_headers(m, &h))
                return -1;
        if (!rd_kafka_header_get_last(h, OSH_HDR_SRC, &v, &len))
                return osh_src_parse(v, len, out);
        return legacy(h, out);
}

int osh_src_is_header(const char *name)
{
        return !strncmp(name, OSH_HDR_SRC, sizeof(OSH_HDR_SRC) - 1) &&
               (name[sizeof(OSH_HDR_SRC) - 1] == '\0' || name[sizeof(OSH_HDR_SRC) - 1] == '.');
}

rd_kafka_headers_t *osh_src_headers(const rd_kafka_message_t *m, const char *cluster)
{
        rd_kafka_headers_t *src = NULL, *h;
        const char *name;
        const void *val;
        size_t vlen;
        char v[512];
        int n = osh_src_format(v, sizeof(v), cluster, rd_kafka_topic_name(m->rkt), m->partition,
                               m->offset);

        if (n < 0)
                return NULL;
        if (rd_kafka_message_headers(m, &src) || !src) {
                h = rd_kafka_headers_new(1);
        } else {
                /* Copy header by header: cheaper than copy + remove, and
                 * drops every earlier hop's provenance in one pass. */
                h = rd_kafka_headers_new(rd_kafka_header_cnt(src) + 1);
                for (size_t i = 0; !rd_kafka_header_get_all(src, i, &name, &val, &vlen); i++)
                        if (!osh_src_is_header(name))
                                rd_kafka_header_add(h, name, -1, val, val ? (ssize_t)vlen : 0);
        }
        if (h)
                rd_kafka_header_add(h, OSH_HDR_SRC, -1, v, n);
        return h;
}
