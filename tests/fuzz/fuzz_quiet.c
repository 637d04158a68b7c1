/* libFuzzer target for the quiet-hours parser: whatever parses must stay
 * in one day, format and parse back to the same window, and end any hold
 * it reports after the moment asked about (within a day). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "oshirase/quiet.h"

#define DAY_MS (24LL * 60 * 60 * 1000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char spec[64], out[16];
        osh_quiet_t q, back;
        int64_t now, until;

        if (size < 8 || size - 8 >= sizeof(spec))
                return 0;
        memcpy(&now, data, 8);
        now = (int64_t)((uint64_t)now % (uint64_t)(4102444800000LL)); /* before 2100 */
        memcpy(spec, data + 8, size - 8);
        spec[size - 8] = '\0';
        if (osh_quiet_parse(spec, 540, &q))
                return 0;
        if (q.enabled &&
            (q.start_min < 0 || q.start_min > 1440 || q.end_min < 0 || q.end_min > 1440))
                __builtin_trap();
        osh_quiet_format(&q, out, sizeof(out));
        if (osh_quiet_parse(out, 540, &back) || back.enabled != q.enabled ||
            (q.enabled && (back.start_min != q.start_min || back.end_min != q.end_min)))
                __builtin_trap();
        until = osh_quiet_until(&q, now);
        if (until && (until <= now || until > now + DAY_MS))
                __builtin_trap();
        return 0;
}
