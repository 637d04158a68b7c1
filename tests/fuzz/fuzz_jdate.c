/* libFuzzer target for the date parser: whatever parses must be a real
 * day, and must format and parse back to the same day. */
#include <stddef.h>
#include <stdint.h>

#include "oshirase/jdate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        osh_date_t d, back;
        char w[9], e[8];

        if (osh_jdate_parse((const char *)data, size, OSH_JDATE_ANY, &d))
                return 0;
        if (!osh_date_valid(d.year, d.month, d.day))
                __builtin_trap();
        osh_date_format_western(&d, w);
        if (osh_jdate_parse(w, 8, OSH_JDATE_WESTERN, &back) || back.year != d.year ||
            back.month != d.month || back.day != d.day)
                __builtin_trap();
        if (osh_date_format_era(&d, e) == 0 &&
            (osh_jdate_parse(e, 7, OSH_JDATE_ERA, &back) || back.year != d.year ||
             back.month != d.month || back.day != d.day))
                __builtin_trap();
        return 0;
}
