/* The dispatcher's logic, free of Kafka: one notify.dispatch.v1 record in,
 * rendered, paced, sent through its channel, settled in the sent-ledger and
 * reported through a status callback. The service (disp_service.c) feeds it
 * records and turns the callbacks into notify.status.v1 and
 * campaign.results.v1; tests feed it directly with their own channels and
 * clock. Single-threaded. */
#ifndef DISP_CORE_H
#define DISP_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/quiet.h"

#include "channels/channel.h"
#include "disp_ledger.h"
#include "disp_limit.h"

typedef struct disp_status {
        const char *dispatch_id; /* ledger key (dispatch id, "#r<ts>" suffix for resends) */
        const char *campaign_id;
        disp_chan_kind_t channel;
        const char *status; /* QUEUED SENT DELIVERED FAILED_TEMP FAILED_PERM SUPPRESSED */
        const char *code;   /* provider/HTTP code, "" if none */
        const char *message_id;
        const char *detail;
        int recipients;
        int attempt;
        int64_t at_ms;
} disp_status_t;

typedef void(disp_status_fn)(void *opaque, const disp_status_t *st);
/* Delivery report of one campaign, rebuilt from the ledger after a restart. */
typedef struct disp_report {
        const char *campaign_id;
        const int64_t *counts; /* recipients per status (index as disp_status_names): final
                                  statuses, and QUEUED for those still pending (waiting for
                                  a retry, quiet hours, a schedule or the rate limit) */
        int64_t expected;      /* dispatches of the frozen list (segmenter's answer), -1 unknown */
        int64_t settled, pending; /* dispatches */
        int done; /* every expected dispatch settled, none pending: the final answer */
} disp_report_t;
typedef void(disp_report_fn)(void *opaque, const disp_report_t *r);

#define DISP_N_STATUS 6
extern const char *const disp_status_names[DISP_N_STATUS];

typedef struct disp_core_conf {
        disp_chan_conf_t chan[DISP_CH__CNT]; /* url NULL: channel disabled */
        const char *rate[DISP_CH__CNT];      /* token bucket spec, see disp_bucket_parse */
        const char *templates_dir;
        osh_quiet_t quiet;
        int64_t retry_base_ms, retry_max_ms, give_up_ms;
        /* Provider requests in flight at once, each on a kept-alive connection
         * of its own (a worker thread with its own libcurl handle; the calling
         * thread is one of them). 0 or 1: one, on the calling thread. */
        int concurrency;
} disp_core_conf_t;

typedef struct disp_core disp_core_t;

typedef struct disp_clock {
        int64_t (*now_ms)(void *opaque);
        void (*sleep_ms)(void *opaque, int64_t ms);
        void *opaque;
} disp_clock_t;

/* conf strings and ledger are borrowed and must outlive the core. clock may
 * be NULL (real time). The campaigns' delivery reports are rebuilt from the
 * ledger (final and pending entries). NULL with errstr (bad rate spec, OOM). */
disp_core_t *disp_core_new(const disp_core_conf_t *conf, disp_ledger_t *ledger,
                           const disp_clock_t *clock, disp_status_fn *status_fn, void *opaque,
                           char *errstr, size_t errstr_size);
void disp_core_destroy(disp_core_t *c); /* NULL ok */
/* Replaces a channel implementation (tests). */
void disp_core_set_channel(disp_core_t *c, disp_chan_kind_t kind, const disp_channel_t *ch);

/* Handles one record (single-object Avro; key is the Kafka key, used to
 * report undecodable records). Returns 0 once the outcome is in the ledger
 * (the caller may then store the offset), -1 if the ledger cannot be
 * written (the caller must not store it and should stop). */
int disp_core_handle(disp_core_t *c, const void *rec, size_t len, const char *key);

typedef struct disp_record {
        const void *rec;
        size_t len;
        const char *key;
} disp_record_t;
/* The same for n records (a poll batch): each is decoded, screened and
 * paced on this thread, their provider requests go out up to
 * conf->concurrency at a time, and the outcomes are settled in the ledger
 * and reported in record order. A 429 stops the batch's other requests to
 * that channel (they are held until the provider's window ends). A record
 * repeated inside the batch is sent once. The records are borrowed for the
 * call. 0 / -1 as disp_core_handle. */
int disp_core_handle_batch(disp_core_t *c, const disp_record_t *recs, size_t n);
/* Sends what became due (retries, quiet hours over, schedule reached), at
 * most max entries. Returns ms until the next pending entry is due, -1 when
 * nothing is pending, -2 on a ledger write failure. */
int64_t disp_core_tick(disp_core_t *c, int max);
/* Calls fn for every campaign whose counts changed since the last call
 * (all campaigns with all=1). */
void disp_core_report(disp_core_t *c, int all, disp_report_fn *fn, void *opaque);

/* Records how many dispatches campaign_id's frozen list holds (from the
 * segmenter's SEND answer on campaign.results.v1), in the ledger. 0 / -1. */
int disp_core_expect(disp_core_t *c, const char *campaign_id, int64_t dispatches);

typedef struct disp_core_stats {
        uint64_t in, sent, failed_perm, retries, duplicates, held;
} disp_core_stats_t;
void disp_core_stats(const disp_core_t *c, disp_core_stats_t *out);

#endif
