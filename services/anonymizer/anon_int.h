/* Internal state of the anonymizer service, shared by anon_svc.c (consume,
 * offsets) and anon_emit.c (release of a batch, dead letters). */
#ifndef ANON_INT_H
#define ANON_INT_H

#include "anon_batch.h"
#include "anon_id.h"
#include "anon_rules.h"
#include "anon_xform.h"
#include "oshirase/avro_bin.h"
#include "oshirase/batch.h"
#include "oshirase/dictionary.h"
#include "oshirase/kafka.h"
#include "oshirase/scan.h"
#include "oshirase/serde.h"
#include "oshirase/service.h"

#define ANON_DONE_RING 16

enum { ANON_T_RAW = 0, ANON_T_BATCH = 1 };

/* A (topic, partition) offset: next to consume, or a batch's first. */
typedef struct anon_poff {
        int topic; /* ANON_T_* */
        int32_t part;
        int64_t off;
} anon_poff_t;

typedef struct anon_open {
        char id[OSH_BATCH_ID_MAX];
        anon_batch_t *buf;
        int64_t rejected; /* bad shape, already dead-lettered */
        anon_poff_t *first;
        size_t nfirst;
        double seen; /* osh_mono_s() at its first record */
        struct anon_open *next;
} anon_open_t;

typedef struct anon {
        osh_service_t *svc;
        osh_dict_t *dict;
        anon_rules_t *rules;
        anon_key_t key;
        const char *dlq_topic;
        int64_t max_records;
        osh_consumer_t *cons;
        osh_producer_t *prod;
        osh_scan_t *scan; /* reads our own output back after a restart (anon_resume.h) */
        osh_batch_tracker_t *tracker;
        anon_open_t *open;
        anon_poff_t *consumed;
        size_t nconsumed;
        char done[ANON_DONE_RING][OSH_BATCH_ID_MAX]; /* recently released */
        int done_next;
        struct anon_chunk *chunk; /* the messages being taken in (anon_prep.h) */
        const osh_schema_t *raw_s, *abs_s, *rep_s, *rej_s;
        int64_t in, out, rejected, suppressed, batches;
        int64_t resumed; /* records an earlier run had written, not written again */
} anon_t;

/* Dead-letters one raw record with its reason. The dead letter locates the
 * record (resident.raw.v1, partition, offset) and never copies it: the raw
 * record holds name, birth date and address, and stays where it is for an
 * operator to read. 0 / -1. */
int anon_emit_reject(anon_t *a, const char *batch_id, int32_t part, int64_t off, int64_t ts_ms,
                     const char *reason_sym, const char *detail);
/* Releases a complete batch: START, records, privacy report, flush, END,
 * flush. 0 / -1 (nothing may be committed then). */
int anon_emit_batch(anon_t *a, anon_open_t *ob, const osh_batch_marker_t *end);

#endif
