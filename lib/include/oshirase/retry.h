/* Delivery results and retry timing shared by everything that sends:
 * relay uplink, channels, alert webhooks. */
#ifndef OSHIRASE_RETRY_H
#define OSHIRASE_RETRY_H

#include <stdint.h>

typedef enum {
        OSH_DELIVERY_OK = 0,
        OSH_DELIVERY_RETRY, /* transient: back off and try again */
        OSH_DELIVERY_FAIL,  /* permanent: do not retry */
} osh_delivery_t;

/* Exponential backoff with full jitter: a random delay in
 * [base * 2^attempt / 2, base * 2^attempt], capped at max_ms. A server's
 * Retry-After (retry_after_ms > 0) wins when it asks for longer. rnd is a
 * caller-owned state for rand_r-style determinism in tests. */
int64_t osh_backoff_ms(unsigned attempt, int64_t base_ms, int64_t max_ms, int64_t retry_after_ms,
                       unsigned *rnd);

/* Classifies an HTTP status: 2xx OK; 408, 425, 429 and 5xx RETRY; other FAIL.
 * status 0 (no response: network error, timeout) is RETRY. */
osh_delivery_t osh_delivery_from_http(long status);

#endif
