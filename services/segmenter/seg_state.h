/* Frozen campaigns on disk, so a restart keeps scheduled sends and a
 * replayed request re-emits exactly the same list. One directory per
 * campaign under state.dir, named by SHA-256(campaign id) (ids are free
 * text): request.avro (the request as received), list.tsv (the frozen list,
 * seg_list_serialise bytes) and meta (key=value; written last, atomically:
 * a campaign is frozen once meta exists). Files hold 利用者IDs and account
 * ids only, like the topics. meta also records the request offset last
 * acted on and an emission under way, so that a restart resumes it and a
 * replayed request does not emit again. */
#ifndef SEG_STATE_H
#define SEG_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "seg_campaign.h"

typedef struct seg_frozen {
        char campaign_id[256];
        seg_state_t state; /* FROZEN (scheduled), DISPATCHING (emitted) or CANCELLED */
        int64_t created_at_ms, send_at_ms;
        int64_t certain, possible, suppressed, recipients;
        int64_t by_reason[SEG_WHY__CNT];
        seg_breakdown_t breakdown; /* as answered when frozen (withheld counts -1) */
        char checksum[65];
        char snapshot[128];
        int64_t req_offset; /* campaign.requests.v1 offset last acted on (-1: none) */
        /* An emission under way: begun (meta written before its first record)
         * and not yet flushed whole. emit_from holds notify.dispatch.v1's high
         * watermarks when it began ("/<topic>/<partition>/<offset>" ...), so a
         * restart reads back what is out and sends only the rest. */
        int emitting, emit_resend;
        char emit_from[1024];
} seg_frozen_t;

/* Saves request bytes, list bytes and meta. 0 / -1 with errstr. */
int seg_state_save(const char *dir, const seg_frozen_t *m, const void *req, size_t req_len,
                   const char *list, size_t list_len, char *errstr, size_t errstr_size);
/* Rewrites meta only (state changes). */
int seg_state_update(const char *dir, const seg_frozen_t *m, char *errstr, size_t errstr_size);
/* 1 found (outputs filled; *req and *list malloc()ed, caller frees; either
 * pointer may be NULL to skip), 0 not frozen, -1 error. The list is checked
 * against the checksum in meta. */
int seg_state_load(const char *dir, const char *campaign_id, seg_frozen_t *m, void **req,
                   size_t *req_len, char **list, size_t *list_len, char *errstr,
                   size_t errstr_size);
/* Calls fn for every frozen campaign (any state). 0 / -1. */
int seg_state_scan(const char *dir, void (*fn)(const seg_frozen_t *m, void *opaque), void *opaque);

#endif
