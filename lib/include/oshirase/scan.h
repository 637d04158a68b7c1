/* Reading a topic outside any consumer group (assign only, nothing
 * committed): its partition count, and reads that stop at the watermarks
 * taken when they begin ("everything there is now", then stop). Recovery
 * uses them so that a restarted stage learns what an earlier incarnation of
 * itself already wrote and does not write it again (docs/architecture.md,
 * "Crash recovery"); tools and samplers count partitions. */
#ifndef OSHIRASE_SCAN_H
#define OSHIRASE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "oshirase/config.h"

/* Partitions of topic on rk's cluster now (one metadata request of up to
 * timeout_ms). rk is any client handle. -1 with errstr when unknown: no
 * metadata, or the topic is missing or in error. */
int osh_scan_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                             size_t errstr_size);

typedef struct osh_scan osh_scan_t;

/* A reader on the cluster that cfg's `prefix` keys (e.g. "kafka.") name.
 * NULL with errstr. Free with osh_scan_destroy() (NULL ok). */
osh_scan_t *osh_scan_new(const osh_config_t *cfg, const char *prefix, char *errstr,
                         size_t errstr_size);
void osh_scan_destroy(osh_scan_t *s);

/* Called once per record, in each partition's offset order (errors never
 * reach it). The return value is the caller's: osh_scan_last() takes 1 as
 * "this record matches". */
typedef int(osh_scan_fn)(void *opaque, const rd_kafka_message_t *m);
/* Where partition p's read starts; below the low watermark reads from it. */
typedef int64_t(osh_scan_start_fn)(void *opaque, const char *topic, int32_t partition);

/* Every read below stops at offsets taken when it begins (records written
 * since are not waited for), and fails with errstr after 30 s without
 * reaching them. */

/* Reads every partition of topic from start() (NULL: the beginning) up to
 * its high watermark. A topic the cluster does not have (yet) is an empty
 * read. 0 / -1 with errstr. */
int osh_scan_topic(osh_scan_t *s, const char *topic, osh_scan_start_fn *start, osh_scan_fn *fn,
                   void *opaque, char *errstr, size_t errstr_size);

/* Reads backwards from the high watermark in growing windows until a
 * window where fn returned 1 for some record: fn sees each window's records
 * in order, so the last record it accepted is the partition's last match.
 * Records are given to fn once each. 1 found, 0 none down to the low
 * watermark, -1 with errstr. */
int osh_scan_last(osh_scan_t *s, const char *topic, int32_t partition, osh_scan_fn *fn,
                  void *opaque, char *errstr, size_t errstr_size);

/* Where a writer's next records will go: appends "/<topic>/<partition>/<high
 * watermark>" for every partition of topic to the string out (entries
 * separated by spaces; the provenance format with an empty cluster). Taken
 * once the writer's earlier output was acknowledged, it bounds exactly what
 * the writer wrote since. 0 / -1 with errstr (also when out is too small). */
int osh_scan_marks(osh_scan_t *s, const char *topic, char *out, size_t size, char *errstr,
                   size_t errstr_size);
/* Reads every partition named in marks (osh_scan_marks) from its offset up
 * to its high watermark now. 0 / -1 with errstr. */
int osh_scan_from_marks(osh_scan_t *s, const char *marks, osh_scan_fn *fn, void *opaque,
                        char *errstr, size_t errstr_size);

/* A set of record keys met in a scan (e.g. what an earlier incarnation
 * already wrote), looked up while writing again. Zero-initialise; keys are
 * strings (cut at a NUL). Not thread-safe: a lookup sorts on first use. */
typedef struct osh_keyset {
        char **k;
        size_t n, cap;
        int sorted;
} osh_keyset_t;

int osh_keyset_add(osh_keyset_t *s, const void *key, size_t len); /* 0 / -1 (OOM) */
int osh_keyset_has(osh_keyset_t *s, const void *key, size_t len); /* 1 / 0 */
void osh_keyset_clear(osh_keyset_t *s);

#endif
