#include "oshirase/retry.h"

#include <stdlib.h>

int64_t osh_backoff_ms(unsigned attempt, int64_t base_ms, int64_t max_ms, int64_t retry_after_ms,
                       unsigned *rnd)
{
        int64_t cap = base_ms, d;

        for (unsigned i = 0; i < attempt && cap < max_ms; i++)
                cap *= 2;
        if (cap > max_ms)
                cap = max_ms;
        d = cap / 2 + (cap > 1 ? rand_r(rnd) % (cap - cap / 2 + 1) : 0);
        return retry_after_ms > d ? retry_after_ms : d;
}

osh_delivery_t osh_delivery_from_http(long status)
{
        if (status >= 200 && status < 300)
                return OSH_DELIVERY_OK;
        if (status == 0 || status == 408 || status == 425 || status == 429 || status >= 500)
                return OSH_DELIVERY_RETRY;
        return OSH_DELIVERY_FAIL;
}
