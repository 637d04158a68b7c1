/* What staff may see of the segmenter's answers: counts only, and a count
 * below the minimum audience as {"lt": N} ("fewer than N"), never the
 * number itself. Pure functions, unit-tested. */
#ifndef CON_VIEW_H
#define CON_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A count as staff see it: the integer, or {"lt": min} below min. */
json_t *con_view_count(int64_t n, int min);
/* A breakdown cell (by_channel / by_ward): as con_view_count, and the
 * segmenter's withheld -1 (a small group, or one that would let a small
 * group be subtracted out) as {"withheld": true}. */
json_t *con_view_cell(int64_t n, int min);
/* A campaign.results.v1 answer (JSON) as staff see it: state, message,
 * certain, possible, suppressed, suppressed_by_reason, recipients,
 * delivery, snapshot_batch_id, computed_at, by_channel [{channel, certain,
 * possible}], by_ward [{ward_code, ward, certain, possible}]; every count
 * redacted. */
json_t *con_view_result(json_t *result, int min);
/* Who receives a send, from a preview answer (before redaction). */
int64_t con_view_audience(json_t *result, int include_possible);
/* CSV (UTF-8, CRLF) of the campaigns' aggregates, redacted the same way.
 * campaigns: the console's campaign objects with "result" merged in.
 * malloc()ed, NUL-terminated; NULL on OOM. */
char *con_view_csv(json_t *campaigns, int min, size_t *len);

#endif
