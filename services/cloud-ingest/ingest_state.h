/* cloud-ingest's de-duplication state (pure, no I/O; the caller persists it
 * on ingest.offsets.v1 and locks around it).
 *
 * - source offsets: per source (topic, partition), the highest offset already
 *   published to the cloud cluster; a record at or below it is a duplicate.
 *   The uplink reads each partition in order, so a watermark suffices.
 * - sequences: per sender (segment/instance), the digests of its most recent
 *   batches, so a resend of a batch is recognised and a different payload
 *   under a sequence number already seen is a conflict (409). */
#ifndef CI_INGEST_STATE_H
#define CI_INGEST_STATE_H

#include <stddef.h>
#include <stdint.h>

#define CI_SEQ_RING 256 /* batches remembered per sender */

typedef struct ci_state ci_state_t;

ci_state_t *ci_state_new(void);       /* NULL on OOM */
void ci_state_destroy(ci_state_t *s); /* NULL ok */

/* Highest published offset of (topic, partition), -1 when none. */
int64_t ci_state_offset(const ci_state_t *s, const char *topic, int32_t partition);
/* Raises the watermark (never lowers it). 0 / -1 (OOM). */
int ci_state_offset_raise(ci_state_t *s, const char *topic, int32_t partition, int64_t offset);

typedef enum {
        CI_SEQ_NEW = 0,  /* not seen (or forgotten): process it */
        CI_SEQ_RESEND,   /* same sequence, same digest: a retry */
        CI_SEQ_CONFLICT, /* same sequence, different digest: 409 */
} ci_seq_verdict_t;

/* Judges a batch's (sender, sequence, digest). */
ci_seq_verdict_t ci_state_seq_check(const ci_state_t *s, const char *sender, uint64_t seq,
                                    const uint8_t digest[32]);
/* Remembers it (after it was published). 0 / -1 (OOM). */
int ci_state_seq_record(ci_state_t *s, const char *sender, uint64_t seq, const uint8_t digest[32]);

/* Iteration for checkpoints and tests: i in [0, count). */
size_t ci_state_offset_count(const ci_state_t *s);
void ci_state_offset_at(const ci_state_t *s, size_t i, const char **topic, int32_t *partition,
                        int64_t *offset);

#endif
