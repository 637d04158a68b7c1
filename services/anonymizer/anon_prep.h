/* Taking in raw records, chunk by chunk. What each record needs that does
 * not depend on the others (decoding, the rules with their HMAC, the batch
 * tracker's hashes, its batch id) is done for a chunk of polled messages on
 * anon.threads threads; anon_svc.c then takes the chunk's records in poll
 * order, so counts, offsets and dead letters are as if one by one; the
 * next chunk is prepared while this one is taken in, by a thread of its
 * own and then by the caller too. One record at a time,
 * the consume phase was bound by this one thread (docs/performance.md). */
#ifndef ANON_PREP_H
#define ANON_PREP_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "anon_xform.h"
#include "oshirase/batch.h"

#define ANON_CHUNK 1024 /* messages polled and prepared at once */

struct anon;

/* One polled message, prepared. */
typedef struct anon_prep {
        int raw;                /* resident.raw.v1 (else a marker: nothing prepared) */
        anon_verdict_t decoded; /* decoding's verdict */
        const char *why;        /* decoding's reason (static text) */
        int has_id;             /* id holds its batch (header, else decoded field) */
        char id[OSH_BATCH_ID_MAX];
        uint64_t key_hash, rec_hash; /* osh_batch_tracker_add_hashed's */
        anon_verdict_t ruled;        /* the rules' verdict, when decoded */
        anon_out_t o;                /* the rules' output, when decoded */
} anon_prep_t;

typedef struct anon_chunk anon_chunk_t;

/* For a's rules, key and threads (a->rules->threads). NULL on OOM. */
anon_chunk_t *anon_chunk_new(const struct anon *a);
void anon_chunk_destroy(anon_chunk_t *c); /* NULL ok */

/* The next chunk: up to ANON_CHUNK messages (waiting up to timeout_ms
 * when none are ready), prepared. Message i and its preparation are at
 * (*m)[i] and (*p)[i] until the next call; meanwhile the messages queued
 * after them are polled and prepared on a thread of their own. Messages
 * polled but not yet returned are freed unhandled by anon_chunk_destroy:
 * their offsets were never stored, so a restart reads them again. */
size_t anon_chunk_poll(anon_chunk_t *c, int timeout_ms, rd_kafka_message_t ***m, anon_prep_t **p);

#endif
