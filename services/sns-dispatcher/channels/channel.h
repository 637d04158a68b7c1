/* One interface for every channel (fluent-bit out_* style): a pure
 * `format` that turns the rendered text into the channel's message parts
 * (splitting, or refusing with a reason), and a `send` that delivers one
 * dispatch over libcurl and classifies the outcome. */
#ifndef DISP_CHANNEL_H
#define DISP_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/account.h"
#include "oshirase/http_client.h"
#include "oshirase/retry.h"

#include "disp_text.h"

/* Same order as the Channel enum of notify.dispatch.v1. */
typedef enum {
        DISP_CH_LINE = 0,
        DISP_CH_EMAIL,
        DISP_CH_WEBHOOK,
        DISP_CH_TWITTER,
        DISP_CH_FACEBOOK,
        DISP_CH_SMS,
        DISP_CH_OTHER,
        DISP_CH__CNT,
} disp_chan_kind_t;

typedef struct disp_chan_conf {
        const char *url;    /* provider base URL (smtp://host:port for e-mail) */
        const char *token;  /* bearer / page access token */
        const char *secret; /* webhook HMAC key */
        const char *from;   /* e-mail From address */
        size_t max_chars;   /* per message part */
        size_t max_parts;   /* parts the channel may send for one notice */
        long timeout_ms;
} disp_chan_conf_t;

typedef struct disp_rcpt {
        char *user_id;
        char *account_id;
} disp_rcpt_t;

/* What send needs of one dispatch. */
typedef struct disp_send_req {
        const char *key; /* ledger key: dispatch id (+ resend suffix) */
        const char *campaign_id;
        const char *title;
        const disp_rcpt_t *rcpt;
        size_t n_rcpt;     /* exactly 1 for channels with max_rcpt == 1 */
        size_t rcpt_index; /* place of rcpt[0] in the dispatch (idempotency keys) */
        int test, critical;
} disp_send_req_t;

typedef struct disp_send_res {
        size_t n_ok;          /* recipients accepted by the provider */
        size_t n_perm;        /* recipients refused for good (invalid account...) */
        char code[32];        /* HTTP status or provider error code */
        char message_id[128]; /* provider's id of the (first) message */
        char detail[256];     /* why, for staff; never message text */
        int64_t retry_after_ms;
} disp_send_res_t;

typedef struct disp_channel {
        const char *name;
        /* The lib validator of this channel's account ids (oshirase/account.h):
         * an id it refuses is FAILED_PERM before any request is built. */
        osh_account_check_fn *check_account;
        /* Recipients one provider request can carry: 1 means the core calls
         * send once per recipient and settles each in the ledger, so a retry
         * skips the ones already done. */
        size_t max_rcpt;
        /* Message parts one request can carry (LINE: 5); the pacing counts
         * requests from it. 0 means 1. */
        size_t parts_per_request;
        /* Text limits: how the provider counts length (conf->max_chars is in
         * these units) and the most message parts one notice may use whatever
         * conf->max_parts says (0: conf decides). */
        disp_count_t count;
        size_t max_parts;
        /* OK: every recipient settled (n_ok + n_perm == n_rcpt); RETRY: try the
         * whole request again later (idempotency keys make that safe); FAIL:
         * permanent for all. With max_rcpt == 1 the core does the counting:
         * send only classifies its one recipient (and fills code/detail). */
        osh_delivery_t (*send)(osh_http_client_t *http, const disp_chan_conf_t *conf,
                               const disp_send_req_t *req, const disp_parts_t *parts,
                               disp_send_res_t *res);
} disp_channel_t;

extern const disp_channel_t disp_channel_line;
extern const disp_channel_t disp_channel_email;
extern const disp_channel_t disp_channel_webhook;
extern const disp_channel_t disp_channel_twitter;
extern const disp_channel_t disp_channel_facebook;

/* Shared by channels. */
/* Splits text into the channel's message parts (disp_text_split_count with
 * conf->max_chars, the smaller of conf->max_parts and ch->max_parts, and
 * ch->count), or refuses it with a reason. 0 / -1 with err. */
int disp_channel_format(const disp_channel_t *ch, const disp_chan_conf_t *conf, const char *text,
                        disp_parts_t *out, char *err, size_t err_size);
/* Deterministic UUID (RFC 4122 layout, version 5 bits) from key and n, for
 * provider idempotency keys such as X-Line-Retry-Key. out: 37 bytes. */
void disp_channel_uuid(const char *key, unsigned n, char out[37]);
/* Classifies an HTTP answer into res (code, detail from body) and returns
 * the delivery result (osh_delivery_from_http). */
osh_delivery_t disp_channel_http_result(const osh_http_response_t *r, int rc, disp_send_res_t *res);

#endif
