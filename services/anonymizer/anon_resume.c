#include "anon_resume.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_int.h"
#include "oshirase/log.h"
#include "oshirase/provenance.h"
#include "oshirase/topics.h"

#define FROM_MAX 4096

/* The topics a release writes besides batch.control.v1. */
static size_t out_topics(const anon_t *a, const char *t[3])
{
        size_t n = 0;

        t[n++] = OSH_TOPIC_ABSTRACTED;
        t[n++] = OSH_TOPIC_PRIVACY;
        if (a->dlq_topic && *a->dlq_topic)
                t[n++] = a->dlq_topic;
        return n;
}

/* The output topics' high watermarks now (osh_scan_marks). */
rd_kafka_headers_t *anon_resume_start_headers(anon_t *a)
{
        const char *t[3];
        char from[FROM_MAX] = "", err[256];
        size_t n = out_topics(a, t);
        rd_kafka_headers_t *h;

        for (size_t i = 0; i < n; i++)
                if (osh_scan_marks(a->scan, t[i], from, sizeof(from), err, sizeof(err))) {
                        osh_error("cannot note where the release begins: %s", err);
                        return NULL;
                }
        if ((h = rd_kafka_headers_new(2)))
                rd_kafka_header_add(h, ANON_HDR_FROM, -1, from, -1);
        return h;
}

typedef struct find_ctx {
        anon_resume_t *r;
        const anon_open_t *ob;
        const char *id;
        int bad;
} find_ctx_t;

static int is_batch(const rd_kafka_message_t *m, const char *id)
{
        char b[OSH_BATCH_ID_MAX];

        return osh_kafka_header(m, OSH_HDR_BATCH_ID, b, sizeof(b)) && !strcmp(b, id);
}

/* batch.control.v1: our last START or END of the batch decides. */
static int on_marker(void *opaque, const rd_kafka_message_t *m)
{
        find_ctx_t *c = opaque;
        osh_batch_marker_t mk;
        char err[128];
        rd_kafka_headers_t *h;
        const void *v;
        size_t len;

        if (!is_batch(m, c->id) ||
            osh_batch_marker_decode(m->payload, m->len, &mk, err, sizeof(err)) ||
            strcmp(mk.topic, OSH_TOPIC_ABSTRACTED) || strcmp(mk.batch_id, c->id))
                return 0;
        free(c->r->from);
        c->r->from = NULL;
        c->r->state = mk.is_end ? ANON_RESUME_DONE : ANON_RESUME_PARTIAL;
        if (!mk.is_end && !rd_kafka_message_headers(m, &h) &&
            !rd_kafka_header_get_last(h, ANON_HDR_FROM, &v, &len) && v &&
            (c->r->from = malloc(len + 1))) {
                memcpy(c->r->from, v, len);
                c->r->from[len] = '\0';
        }
        return 1;
}

static int on_output(void *opaque, const rd_kafka_message_t *m)
{
        find_ctx_t *c = opaque;
        char k[OSH_SRC_TOPIC_MAX + 512];
        int n;

        if (!m->key || m->key_len > 500 || !is_batch(m, c->id))
                return 0;
        n = snprintf(k, sizeof(k), "%s\t%.*s", rd_kafka_topic_name(m->rkt), (int)m->key_len,
                     (const char *)m->key);
        if (osh_keyset_add(&c->r->have, k, (size_t)n))
                c->bad = 1;
        return 1;
}

/* The lowest offset of the batch's input markers on batch.control.v1[p]:
 * our START of this release cannot be before it. */
static int64_t marker_floor(void *opaque, const char *topic, int32_t p)
{
        const anon_open_t *ob = ((find_ctx_t *)opaque)->ob;
        int64_t lo = 0;

        for (size_t i = 0; i < ob->nfirst; i++)
                if (ob->first[i].topic == ANON_T_BATCH && ob->first[i].part == p)
                        lo = ob->first[i].off;
        return lo;
}

static int read_markers(anon_t *a, find_ctx_t *c, char *err, size_t size)
{
        return osh_scan_topic(a->scan, OSH_TOPIC_BATCH, marker_floor, on_marker, c, err, size);
}

/* Reads every output partition the START names, from where it says. */
static int read_outputs(anon_t *a, find_ctx_t *c, char *err, size_t size)
{
        return osh_scan_from_marks(a->scan, c->r->from, on_output, c, err, size) || c->bad ? -1 : 0;
}

int anon_resume_find(anon_t *a, const anon_open_t *ob, anon_resume_t *r)
{
        find_ctx_t c = {.r = r, .ob = ob, .id = ob->id};
        char err[512] = "out of memory";

        memset(r, 0, sizeof(*r));
        if (a->svc->replay.kind != OSH_REPLAY_NONE)
                return 0;
        if (read_markers(a, &c, err, sizeof(err)))
                goto fail;
        if (r->state == ANON_RESUME_PARTIAL && !r->from) {
                /* a START from before osh.anon.from: nothing to go by */
                osh_warn("batch %s: an earlier release began without %s; releasing it whole",
                         ob->id, ANON_HDR_FROM);
                r->state = ANON_RESUME_FRESH;
        }
        if (r->state == ANON_RESUME_PARTIAL && read_outputs(a, &c, err, sizeof(err)))
                goto fail;
        if (r->state != ANON_RESUME_FRESH)
                osh_info("batch %s: an earlier run %s; %zu of its records are out already", ob->id,
                         r->state == ANON_RESUME_DONE ? "released it whole" : "began releasing it",
                         r->have.n);
        return 0;
fail:
        osh_error("batch %s: cannot tell how far an earlier release got: %s", ob->id, err);
        anon_resume_clear(r);
        return -1;
}

int anon_resume_has(anon_resume_t *r, const char *topic, const char *key, size_t key_len)
{
        char k[OSH_SRC_TOPIC_MAX + 512];
        int n;

        if (r->state != ANON_RESUME_PARTIAL || key_len > 500)
                return 0;
        n = snprintf(k, sizeof(k), "%s\t%.*s", topic, (int)key_len, key);
        return osh_keyset_has(&r->have, k, (size_t)n);
}

void anon_resume_clear(anon_resume_t *r)
{
        osh_keyset_clear(&r->have);
        free(r->from);
        memset(r, 0, sizeof(*r));
}
