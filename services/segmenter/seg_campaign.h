/* Campaign handling: a request (campaign.requests.v1) evaluated against the
 * current view gives counts (certain / possible / suppressed by reason) and,
 * for a send, the frozen recipient list with its SHA-256 checksum. Pure
 * functions over in-memory state; Kafka and files live elsewhere. */
#ifndef SEG_CAMPAIGN_H
#define SEG_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

#include <avro.h>

#include "oshirase/dictionary.h"
#include "seg_dest.h"
#include "seg_store.h"

typedef enum {
        SEG_ACT_PREVIEW = 0,
        SEG_ACT_SEND,
        SEG_ACT_CANCEL,
        SEG_ACT_RESEND,
} seg_action_t;

typedef enum {
        SEG_ST_PREVIEWED = 0,
        SEG_ST_FROZEN,
        SEG_ST_DISPATCHING,
        SEG_ST_DONE,
        SEG_ST_REJECTED,
        SEG_ST_CANCELLED,
} seg_state_t;
extern const char *const seg_action_names[4];
extern const char *const seg_state_names[6];

typedef enum {
        SEG_WHY_EXCLUDED = 0,   /* on the manual exclusion list (protected persons) */
        SEG_WHY_NO_DESTINATION, /* no destination (on the campaign's channels) */
        SEG_WHY_OPT_OUT,        /* withdrawn, or category not chosen */
        SEG_WHY_MIN_AUDIENCE,   /* audience below the minimum: nobody is sent anything */
        SEG_WHY__CNT,
} seg_reason_t;
extern const char *const seg_reason_names[SEG_WHY__CNT];

typedef struct seg_item {
        char *label, *value;
} seg_item_t;

typedef struct seg_request {
        char *campaign_id, *condition, *category, *requested_by;
        seg_action_t action;
        char *title, *body;
        seg_item_t *items;
        size_t nitems;
        char **links;
        size_t nlinks;
        unsigned channel_mask; /* bit per channel; 0 = any */
        int64_t send_at_ms;    /* 0 = now */
        int test, critical, include_possible;
        char **test_recipients;
        size_t ntest;
        int64_t max_recipients; /* -1 = no cap */
        int32_t min_audience;
        int64_t requested_at_ms;
} seg_request_t;

/* Fills r from a decoded CampaignRequest value. 0 / -1 with errstr. */
int seg_request_from_avro(avro_value_t *v, seg_request_t *r, char *errstr, size_t errstr_size);
void seg_request_clear(seg_request_t *r);

typedef struct seg_recipient {
        const char *user_id;    /* borrowed from the store / dests */
        const char *account_id; /* borrowed */
        int channel;
        int certain;
} seg_recipient_t;

/* Certain and possible targets by destination channel and by ward, counts
 * only. A count below `min` is withheld (-1), and so are the next smallest
 * of its column until the withheld counts add up to at least `min`: the
 * rows add up to the totals, so a lone withheld count could otherwise be
 * subtracted out (docs/architecture.md §6). Zero is shown: it is nobody. */

typedef struct seg_group_count {
        int32_t code;              /* channel index (SEG_CHAN_NONE: none) or municipality code */
        int64_t certain, possible; /* possible: possible but not certain; -1 withheld */
} seg_group_count_t;

typedef struct seg_breakdown {
        int64_t min; /* the floor applied; 0 = no breakdown */
        size_t nchan, nward;
        seg_group_count_t chan[SEG_CHANNEL_CNT + 1];
        seg_group_count_t ward[SEG_WARD_MAX + 1];
} seg_breakdown_t;

/* Withholds (sets to -1) the counts of v[0..n) that would reveal a group
 * below min, by the rule above. */
void seg_withhold_small(int64_t *const *v, size_t n, int64_t min);

typedef struct seg_outcome {
        seg_state_t state;
        int64_t certain, possible, suppressed;
        int64_t by_reason[SEG_WHY__CNT];
        seg_breakdown_t breakdown; /* empty (min 0) when the condition did not compile */
        char message[512];
        seg_recipient_t *list; /* send only: recipients in 利用者ID order */
        size_t nlist;
        char *text; /* send only: the list serialised (seg_list_serialise) */
        size_t text_len;
        char checksum[65]; /* SHA-256 hex of the serialised list */
} seg_outcome_t;

typedef struct seg_env {
        seg_view_t *view; /* synced to the current store */
        const osh_dict_t *dict;
        int32_t
            min_audience_floor; /* operator's guard; the larger of this and the request's wins */
        int64_t now_ms;
} seg_env_t;

/* Evaluates r. want_list: build the recipient list and checksum (send).
 * A bad condition or a guard gives state REJECTED with a message, not an
 * error; -1 only on OOM. Free with seg_outcome_clear(). */
int seg_campaign_evaluate(const seg_env_t *env, const seg_request_t *r, int want_list,
                          seg_outcome_t *out);
void seg_outcome_clear(seg_outcome_t *o);

/* One line per recipient: "user_id TAB CHANNEL TAB account_id TAB 1|0 LF".
 * The frozen-list file holds exactly these bytes; the checksum is their
 * SHA-256. Returns a malloc()ed buffer (caller frees) or NULL. */
char *seg_list_serialise(const seg_recipient_t *list, size_t n, size_t *len);

/* Deterministic dispatch id: lower-case hex SHA-256 of
 * campaign_id NUL user_id NUL channel-name. out holds 65 bytes. */
void seg_dispatch_id(const char *campaign_id, const char *user_id, const char *channel,
                     char out[65]);

/* Message text from the template: body, then one "【label】value" line per
 * item, then the links, separated by newlines. Caller frees. */
char *seg_render_text(const seg_request_t *r);

#endif
