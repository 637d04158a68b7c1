/* Resuming a release an earlier incarnation left half done (kill -9 after
 * part of a batch's output was acknowledged, before its offsets were
 * committed), so that nothing already on the output topics is written again.
 *
 * Every release begins with a flushed START whose osh.anon.from header holds
 * the high watermarks of the output topics taken just before it (all earlier
 * output acknowledged). On release, batch.control.v1 is read from the batch's
 * first input marker: our END of the batch means it was released whole (only
 * the offsets were lost); a START without END means the records, report and
 * dead letters of the batch written after those watermarks are on the topics
 * already, and only the rest is written. The output of a batch is a function
 * of its input, so the END's count and checksum cover the whole batch either
 * way (docs/architecture.md, "Crash recovery"). */
#ifndef ANON_RESUME_H
#define ANON_RESUME_H

#include "oshirase/scan.h"

#define ANON_HDR_FROM "osh.anon.from" /* on our START: where the release began */

struct anon;
struct anon_open;

typedef enum {
        ANON_RESUME_FRESH = 0, /* nothing of the batch written yet */
        ANON_RESUME_PARTIAL,   /* START written: skip what resume_has() says */
        ANON_RESUME_DONE,      /* END written: the batch is out */
} anon_resume_state_t;

typedef struct anon_resume {
        anon_resume_state_t state;
        osh_keyset_t have; /* "<topic>\t<key>" of the batch's records already written */
        char *from;        /* the START's osh.anon.from (malloc'd) */
} anon_resume_t;

/* Fills r for batch ob (FRESH when a replay was asked for: the operator wants
 * the output again). 0 / -1 with a logged error (then nothing is released:
 * the batch is re-read after a restart). Free with anon_resume_clear(). */
int anon_resume_find(struct anon *a, const struct anon_open *ob, anon_resume_t *r);
/* 1 if the record (topic, key) of the batch is on its topic already. */
int anon_resume_has(anon_resume_t *r, const char *topic, const char *key, size_t key_len);
void anon_resume_clear(anon_resume_t *r);

/* Headers for a fresh START: osh.anon.from with the output topics' high
 * watermarks now. NULL with a logged error. */
rd_kafka_headers_t *anon_resume_start_headers(struct anon *a);

#endif
