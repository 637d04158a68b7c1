/* One interface for every channel (fluent-bit out_* style): a pure
 * `format` that turns the rendered text into the channel's message parts
 * (splitting, or refusing with a reason), and a `send` that delivers one
 * dispatch over libcurl and classifies the outcome. */
#ifndef DISP_CHANNEL_H
#define DISP_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/account.h"
#include "oshirase/config.h"
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

/* A channel plugin: everything the dispatcher knows of one provider lives
 * in its file and is declared here; the core and the service only go
 * through the registry (disp_channels). Adding a channel is one new file
 * and one registry line in channel.c. */
typedef struct disp_channel {
        const char *name;      /* configuration key prefix: "line" gives line.url, ... */
        disp_chan_kind_t kind; /* the Channel enum value records carry */
        const char *symbol;    /* ... and its symbol, "LINE" */
        /* The channel's configuration keys (DISP_CHAN_KEYS and its own); a
         * "<name>.from" key fills conf->from, "<name>.secret" conf->secret. */
        const osh_cfg_entry_t *config;
        size_t nconfig;
        /* Chat channels have no subject: the title becomes a 【title】 first
         * line. E-mail and webhooks carry it apart. */
        int titled;
        /* The lib validator of this channel's account ids (oshirase/account.h):
         * an id it refuses is FAILED_PERM before any request is built. */
        osh_account_check_fn *check_account;
        /* Recipients one provider request can carry: 1 means the core calls
         * send once per recipient and settles each in the ledger, so a retry
         * skips the ones already done. */
        size_t max_rcpt;
        /* The provider drops a repeated request (LINE's X-Line-Retry-Key, the
         * webhook's Idempotency-Key), so a resend after a crash reaches nobody
         * twice. For the others the core makes every earlier ledger entry
         * durable before it sends (the crash window stays one poll batch). */
        int idempotent;
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

/* The standard keys of a channel: url, token, max_chars, max_parts, rate,
 * with the channel's defaults. */
#define DISP_CHAN_KEYS(ch, CH, url, chars, parts, rate)                                            \
        {#ch ".url", OSH_CFG_STR, url, "OSH_" #CH "_URL", #ch ": provider base URL (empty: off)"}, \
            {#ch ".token", OSH_CFG_STR, NULL, "OSH_" #CH "_TOKEN", #ch ": access token"},          \
            {#ch ".max_chars", OSH_CFG_INT, chars, NULL, #ch ": text units per message part"},     \
            {#ch ".max_parts", OSH_CFG_INT, parts, NULL,                                           \
             #ch ": message parts one notice may use"},                                            \
        {                                                                                          \
#ch ".rate", OSH_CFG_STR, rate, "OSH_" #CH "_RATE",                                \
                    #ch ": requests N/s|m|h|d[:burst], 0 = unlimited"                              \
        }
#define DISP_CHAN_CONFIG(arr) .config = arr, .nconfig = sizeof(arr) / sizeof(arr[0])

/* The registry, NULL-terminated (channels/channel.c). */
extern const disp_channel_t *const disp_channels[];
/* The registered channel of kind, or NULL. */
const disp_channel_t *disp_channel_of_kind(disp_chan_kind_t kind);
/* The Channel enum symbol of kind ("OTHER" when unregistered). */
const char *disp_channel_symbol(disp_chan_kind_t kind);
/* The kind whose symbol is sym, DISP_CH_OTHER if none is registered. */
disp_chan_kind_t disp_channel_kind(const char *sym);

extern const disp_channel_t disp_channel_line;
extern const disp_channel_t disp_channel_email;
extern const disp_channel_t disp_channel_webhook;
extern const disp_channel_t disp_channel_twitter;
extern const disp_channel_t disp_channel_facebook;
extern const disp_channel_t disp_channel_sms;

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
/* POSTs body (a jansson json_t *, consumed) with conf->token as bearer and
 * classifies the answer; the provider's message id (X dm_event_id,
 * Messenger message_id) goes to res->message_id if still empty. */
osh_delivery_t disp_channel_post_json(osh_http_client_t *http, const disp_chan_conf_t *conf,
                                      const char *url, void *body, disp_send_res_t *res);

#endif
