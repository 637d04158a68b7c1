/* What may cross a segment boundary (docs/architecture.md §1, §5): an allow-list of
 * (topic, schema fingerprint) pairs for one direction, and the segment rule
 * that personal data never leaves the processing segment.
 *
 * Spec text (config key "allow"): comma-separated entries
 *
 *   topic@<16 hex digits>      one fingerprint, as `osh-ctl schemas` prints it
 *   topic@<schema full name>   every registered revision of that schema
 *   topic                      every registered revision of the topic's schema
 *
 * e.g. "resident.abstracted.v1@jp.oshirase.ResidentAbstracted,batch.control.v1".
 * Names resolve through the serde registry, so osh_serde_init() comes first.
 * Used by relay-bridge; cloud-ingest may reuse it for its own check. */
#ifndef OSHIRASE_ALLOWLIST_H
#define OSHIRASE_ALLOWLIST_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
        OSH_SEG_CORE = 0,
        OSH_SEG_PROCESSING,
        OSH_SEG_EXCHANGE,
        OSH_SEG_CLOUD,
        OSH_SEG__CNT,
} osh_segment_t;

/* "core", "processing", "exchange", "cloud". 0 / -1. */
int osh_segment_parse(const char *s, osh_segment_t *out);
const char *osh_segment_name(osh_segment_t seg);

/* Verdict of osh_allowlist_check(). */
typedef enum {
        OSH_ALLOW_OK = 0,
        OSH_ALLOW_TOPIC,       /* topic not on the list */
        OSH_ALLOW_NOT_AVRO,    /* null value, or no single-object header */
        OSH_ALLOW_FINGERPRINT, /* schema fingerprint not allowed for this topic */
        OSH_ALLOW_MALFORMED,   /* header fine, datum does not parse as that schema */
        OSH_ALLOW__CNT,
} osh_allow_verdict_t;

typedef struct osh_allowlist osh_allowlist_t;

/* Parses spec (see above). NULL with errstr on an empty list, a malformed
 * entry, an illegal topic name or an unknown schema name. Caller frees with
 * osh_allowlist_destroy(). */
osh_allowlist_t *osh_allowlist_parse(const char *spec, char *errstr, size_t errstr_size);
void osh_allowlist_destroy(osh_allowlist_t *al); /* NULL ok */

/* Refuses (-1, errstr) a crossing that is not one step downstream
 * (core→processing, processing→exchange, exchange→cloud), and any entry
 * that would carry personal data beyond processing: the topics
 * resident.raw.v1 / resident.rejects.v1, or a fingerprint of their schemas
 * under any topic name. */
int osh_allowlist_check_segments(const osh_allowlist_t *al, osh_segment_t from, osh_segment_t to,
                                 char *errstr, size_t errstr_size);

/* Judges one record. validate != 0 also walks the datum against the schema
 * (bounds-checked, no allocation), so garbage behind a valid header is
 * refused too. value may be NULL (tombstone: refused as NOT_AVRO). */
osh_allow_verdict_t osh_allowlist_check(const osh_allowlist_t *al, const char *topic,
                                        const void *value, size_t len, int validate);

/* 1 if the topic has at least one entry. */
int osh_allowlist_has_topic(const osh_allowlist_t *al, const char *topic);

/* The distinct topics, for subscribing; borrowed from al. */
size_t osh_allowlist_topic_count(const osh_allowlist_t *al);
const char *osh_allowlist_topic(const osh_allowlist_t *al, size_t i);

/* "ok", "topic", "not-avro", "fingerprint", "malformed". */
const char *osh_allow_verdict_name(osh_allow_verdict_t v);

#endif
