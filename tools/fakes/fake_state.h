/* Shared state of the provider fakes: credentials, limits, failure
 * injection, the idempotency-key store and the log of accepted messages.
 * All functions are thread-safe (handlers run on the server's pool). */
#ifndef FAKE_STATE_H
#define FAKE_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "oshirase/http_server.h"

typedef enum {
        FAKE_API_PUSH,
        FAKE_API_MULTICAST,
        FAKE_API_TWITTER,
        FAKE_API_FACEBOOK,
        FAKE_API_WEBHOOK,
        FAKE_API_SMS,
        FAKE_API__CNT
} fake_api_t;

typedef struct fake_conf {
        const char *line_token, *twitter_token, *facebook_token, *webhook_secret;
        double error_rate;                    /* share of requests answered 500 */
        double ack_loss;                      /* share of ACCEPTED requests answered 500 anyway */
        int64_t outage_from_ms, outage_to_ms; /* since start: 503 */
        int64_t storm_from_ms, storm_to_ms;   /* since start: 429 + Retry-After */
        double rate[FAKE_API__CNT];           /* requests per second, 0 = unlimited */
        size_t line_max_chars, twitter_max_chars, facebook_max_chars, sms_max_chars;
        const char *sms_sid, *sms_token; /* Twilio AccountSid and AuthToken to require */
        const char *invalid;             /* comma-separated account ids that do not exist */
        long throttle_nth;               /* the Nth LINE request gets 429 (0: never) */
        long throttle_after_s;           /* ... with this Retry-After */
        const char *requests_log;        /* every gated request: {"ms","api","status"} */
} fake_conf_t;

typedef struct fake_state fake_state_t;

fake_state_t *fake_state_new(const fake_conf_t *conf, const char *log_path);
void fake_state_destroy(fake_state_t *st);
const fake_conf_t *fake_conf(const fake_state_t *st);

/* Injected failures and rate limits, in that order. Answers rep and
 * returns 1 when the request must not go on. */
int fake_gate(fake_state_t *st, fake_api_t api, osh_http_reply_t *rep);
/* 1 when an accepted request should be answered 500 (lost answer). */
int fake_ack_lost(fake_state_t *st);
/* 1 when acc is on the invalid list. */
int fake_invalid(fake_state_t *st, const char *acc);
/* Idempotency: returns the request id already accepted under key (copied
 * to out) or "" after remembering new_id for it. key NULL/"": no-op. */
int fake_idem(fake_state_t *st, const char *key, const char *new_id, char *out, size_t out_size);
/* Appends one JSON line (object consumed) to the accepted log. */
void fake_log(fake_state_t *st, void *json_obj);
/* A fresh request id. */
void fake_request_id(fake_state_t *st, char out[40]);
/* UTF-8 characters in s. */
size_t fake_chars(const char *s);
/* UTF-16 code units in s (how LINE measures text: outside the BMP is 2). */
size_t fake_utf16_units(const char *s);

#endif
