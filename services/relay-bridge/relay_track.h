/* Which source offsets may be stored: records finish out of order (target
 * delivery reports, refusals, Acks), but a partition's committed offset may
 * only move past a record once it and every record before it finished.
 * One tracker per consumer; not thread-safe (the relay is single-threaded:
 * delivery reports are served from its own poll calls). */
#ifndef RELAY_TRACK_H
#define RELAY_TRACK_H

#include <stdint.h>

typedef struct rb_track rb_track_t;
typedef struct rb_tpart rb_tpart_t;

/* NULL on OOM. Free with rb_track_destroy() (NULL ok). */
rb_track_t *rb_track_new(void);
void rb_track_destroy(rb_track_t *t);

/* The state of one (topic, partition), created on first use; owned by t and
 * stable for its lifetime. NULL on OOM. */
rb_tpart_t *rb_track_part(rb_track_t *t, const char *topic, int32_t partition);
const char *rb_tpart_topic(const rb_tpart_t *p);
int32_t rb_tpart_partition(const rb_tpart_t *p);

/* Registers a consumed record as pending. Offsets must increase per
 * partition (a lower one means the consumer rewound: the queue restarts
 * from it). An offset already covered by rb_track_done_through() finishes
 * at once. Returns the offset to store (next to read) if that advanced,
 * -1 if not, -2 on OOM. */
int64_t rb_track_add(rb_tpart_t *p, int64_t offset);
/* Marks one pending record finished. Same return as rb_track_add. */
int64_t rb_track_done(rb_tpart_t *p, int64_t offset);
/* Marks every record at or below through finished, including ones that
 * arrive later (e.g. a resent spool batch acked before the partition was
 * assigned). Same return. */
int64_t rb_track_done_through(rb_tpart_t *p, int64_t through);
/* A free per-partition mark for the caller (the uplink keeps the highest
 * offset already in its spool here); -1 until set. */
int64_t rb_tpart_mark(const rb_tpart_t *p);
void rb_tpart_set_mark(rb_tpart_t *p, int64_t mark);
/* Offsets waiting to be stored, batched so the hot path does not call
 * librdkafka per record: rb_tpart_defer_store() keeps the highest; then
 * rb_track_take_stores() calls fn once per partition that has one. */
void rb_tpart_defer_store(rb_tpart_t *p, int64_t next);
void rb_track_take_stores(rb_track_t *t, void (*fn)(rb_tpart_t *p, int64_t next, void *opaque),
                          void *opaque);
/* 1 if some partition has a deferred store (rb_track_take_stores() would
 * call fn), else 0: lets the hot path skip building an empty list. */
int rb_track_has_stores(const rb_track_t *t);
/* Pending records of the partition. */
uint64_t rb_tpart_pending(const rb_tpart_t *p);

#endif
