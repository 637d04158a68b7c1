#include "anon_prep.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "anon_int.h"
#include "anon_raw.h"
#include "oshirase/par.h"
#include "oshirase/topics.h"

/* What a thread needs of its own: the HMAC and hash contexts are stateful. */
typedef struct prep_part {
        anon_key_t key;
        osh_sha256_t *h;
        anon_raw_t raw;
} prep_part_t;

/* Polled messages and their preparation. */
typedef struct slot {
        size_t n;
        rd_kafka_message_t *m[ANON_CHUNK];
        anon_prep_t p[ANON_CHUNK];
        int32_t *values; /* value_count per message */
        uint8_t *flags;  /* flag_bytes per message */
        size_t claim;    /* the next message to prepare, shared by two threads */
} slot_t;

/* Three slots turn: the one being taken in, the next (prepared meanwhile
 * on a thread of its own, helped by the caller once it has taken its
 * chunk in), and the last (freed by that thread first). */
struct anon_chunk {
        const anon_t *a;
        int nparts;
        slot_t slot[3];
        slot_t *cur, *next, *last;
        pthread_t th;
        int running;
        prep_part_t part[OSH_PAR_MAX];
};

static int slot_init(slot_t *s, const anon_rules_t *r)
{
        s->values = calloc(ANON_CHUNK * r->value_count + 1, sizeof(*s->values));
        s->flags = calloc(ANON_CHUNK * r->flag_bytes + 1, 1);
        if (!s->values || !s->flags)
                return -1;
        for (size_t i = 0; i < ANON_CHUNK; i++) {
                s->p[i].o.values = s->values + i * r->value_count;
                s->p[i].o.flags = s->flags + i * r->flag_bytes;
        }
        return 0;
}

anon_chunk_t *anon_chunk_new(const anon_t *a)
{
        anon_chunk_t *c = calloc(1, sizeof(*c));
        const anon_rules_t *r = a->rules;

        if (!c)
                return NULL;
        c->a = a;
        c->nparts = osh_par_parts(r->threads);
        c->cur = &c->slot[0], c->next = &c->slot[1], c->last = &c->slot[2];
        for (int i = 0; i < 3; i++)
                if (slot_init(&c->slot[i], r))
                        goto fail;
        for (int p = 0; p < c->nparts; p++)
                if (anon_key_copy(&c->part[p].key, &a->key) || !(c->part[p].h = osh_sha256_new()))
                        goto fail;
        return c;
fail:
        anon_chunk_destroy(c);
        return NULL;
}

static void release(slot_t *s)
{
        for (size_t i = 0; i < s->n; i++)
                rd_kafka_message_destroy(s->m[i]);
        s->n = 0;
}

static void wait_ahead(anon_chunk_t *c)
{
        if (c->running)
                pthread_join(c->th, NULL);
        c->running = 0;
}

void anon_chunk_destroy(anon_chunk_t *c)
{
        if (!c)
                return;
        wait_ahead(c);
        for (int i = 0; i < 3; i++) {
                release(&c->slot[i]);
                free(c->slot[i].values);
                free(c->slot[i].flags);
        }
        for (int p = 0; p < OSH_PAR_MAX; p++) {
                anon_key_clear(&c->part[p].key);
                osh_sha256_destroy(c->part[p].h);
        }
        free(c);
}

/* Classifies the bytes and fills raw for the rules. Records of the
 * revision anon_raw_decode() was written for (all of them in practice) are
 * read directly; any other resident.raw.v1 revision is decoded generically
 * with the reader's defaults into *v, which raw then points into (*owned:
 * the caller decrefs *v after the rules ran). */
static anon_verdict_t decode_raw(const anon_t *a, const rd_kafka_message_t *m, anon_raw_t *raw,
                                 avro_value_t *v, int *owned, const char **why)
{
        const osh_schema_t *w;
        uint64_t fp;
        char errstr[256];

        *owned = 0;
        if (osh_serde_peek_fingerprint(m->payload, m->len, &fp))
                return *why = "not an Avro single-object record", ANON_REJECT_DECODE;
        if (!(w = osh_schema_by_fingerprint(fp)))
                return *why = "unknown schema fingerprint", ANON_REJECT_SCHEMA;
        if (strcmp(w->name, a->raw_s->name))
                return *why = "schema is not resident.raw.v1", ANON_REJECT_SCHEMA;
        *why = "value does not decode as resident.raw.v1";
        if (fp == ANON_RAW_FINGERPRINT)
                return anon_raw_decode((const char *)m->payload + OSH_SERDE_HEADER_LEN,
                                       m->len - OSH_SERDE_HEADER_LEN, raw)
                           ? ANON_REJECT_DECODE
                           : ANON_OK;
        if (osh_serde_decode(a->raw_s, m->payload, m->len, v, NULL, errstr, sizeof(errstr)))
                return ANON_REJECT_DECODE;
        *owned = 1;
        return anon_raw_from_value(&a->rules->raw, v, raw) ? ANON_REJECT_DECODE : ANON_OK;
}

/* The batch a raw record belongs to: its osh.batch.id header, else the
 * decoded field (cut at a NUL). */
static int batch_of(const rd_kafka_message_t *m, const anon_raw_t *raw, int decoded, char *buf,
                    size_t size)
{
        const anon_str_t *b = &raw->batch_id;

        if (osh_kafka_header(m, OSH_HDR_BATCH_ID, buf, size))
                return 1;
        if (decoded && b->len > 0 && b->len < size) {
                memcpy(buf, b->p, strnlen(b->p, b->len));
                buf[strnlen(b->p, b->len)] = 0;
                return 1;
        }
        return 0;
}

static void prep_one(const anon_t *a, prep_part_t *pt, const rd_kafka_message_t *m, anon_prep_t *p)
{
        avro_value_t v;
        int owned;

        p->raw = !strcmp(rd_kafka_topic_name(m->rkt), OSH_TOPIC_RAW);
        if (!p->raw)
                return;
        p->decoded = decode_raw(a, m, &pt->raw, &v, &owned, &p->why);
        p->has_id = batch_of(m, &pt->raw, p->decoded == ANON_OK, p->id, sizeof(p->id));
        p->key_hash = osh_batch_record_hash_with(pt->h, m->key, m->key_len, "", 0);
        p->rec_hash = osh_batch_record_hash_with(pt->h, m->key, m->key_len, m->payload, m->len);
        if (p->decoded == ANON_OK)
                p->ruled = anon_xform(a->rules, &pt->key, &pt->raw, &p->o);
        if (owned)
                avro_value_decref(&v);
}

typedef struct prep_job {
        anon_chunk_t *c;
        slot_t *s;
} prep_job_t;

static void prep_part(void *arg, int part, int nparts)
{
        const prep_job_t *j = arg;
        slot_t *s = j->s;

        for (size_t i = osh_par_cut(s->n, part, nparts); i < osh_par_cut(s->n, part + 1, nparts);
             i++)
                prep_one(j->c->a, &j->c->part[part], s->m[i], &s->p[i]);
}

static void poll_into(anon_chunk_t *c, slot_t *s, int timeout_ms)
{
        while (s->n < ANON_CHUNK && (s->m[s->n] = osh_consumer_poll(c->a->cons, timeout_ms)))
                s->n++, timeout_ms = 0;
}

#define PREP_BLOCK 64 /* messages a thread claims at once */

/* Prepares s's unclaimed messages with pt's contexts, a block at a time,
 * until none is left: the thread ahead and the caller share a slot so
 * that neither waits while the other works (taking a chunk in is a
 * quarter of preparing it). */
static void prep_claimed(anon_chunk_t *c, slot_t *s, prep_part_t *pt)
{
        for (;;) {
                size_t i = __atomic_fetch_add(&s->claim, PREP_BLOCK, __ATOMIC_RELAXED),
                       end = i + PREP_BLOCK < s->n ? i + PREP_BLOCK : s->n;
                if (i >= s->n)
                        return;
                for (; i < end; i++)
                        prep_one(c->a, pt, s->m[i], &s->p[i]);
        }
}

/* The thread ahead: frees the last chunk and prepares the next with part
 * 0's contexts (the caller helps with part 1's). */
static void *ahead_main(void *arg)
{
        anon_chunk_t *c = arg;

        release(c->last);
        prep_claimed(c, c->next, &c->part[0]);
        return NULL;
}

size_t anon_chunk_poll(anon_chunk_t *c, int timeout_ms, rd_kafka_message_t ***m, anon_prep_t **p)
{
        slot_t *done = c->cur;

        if (c->running)
                prep_claimed(c, c->next, &c->part[1]);
        wait_ahead(c);
        c->cur = c->next, c->next = c->last, c->last = done;
        if (!c->cur->n) { /* nothing was ahead: wait for some, prepare them here */
                prep_job_t j = {c, c->cur};
                poll_into(c, c->cur, timeout_ms);
                osh_par_run(prep_part, &j, c->cur->n >= 64 ? c->nparts : 1);
        }
        if (c->nparts > 1 && c->cur->n) { /* what is queued already, prepared meanwhile */
                poll_into(c, c->next, 0);
                c->next->claim = 0;
                if (!(c->running = !pthread_create(&c->th, NULL, ahead_main, c)))
                        ahead_main(c); /* no thread: the same work here */
        } else {
                release(c->last);
        }
        *m = c->cur->m;
        *p = c->cur->p;
        return c->cur->n;
}
