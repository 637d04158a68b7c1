/* libFuzzer: the account-id validators (oshirase/account.h). Whatever the
 * input, an id accepted by a validator never holds a byte that could end a
 * protocol line or field (CR, LF, NUL, space, angle brackets). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/account.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static osh_account_check_fn *const checks[] = {
            osh_account_check_line, osh_account_check_email,    osh_account_check_https_url,
            osh_account_check_x,    osh_account_check_facebook, osh_account_check_e164};
        const char *s = (const char *)data;

        for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
                if (checks[i](s, size))
                        continue;
                for (size_t j = 0; j < size; j++)
                        if (data[j] <= 0x20 || data[j] >= 0x7f || data[j] == '<' || data[j] == '>')
                                abort();
        }
        if (size && osh_account_channel_by_name(s, size) &&
            !osh_account_channel_by_symbol(osh_account_channel_by_name(s, size)->symbol))
                abort();
        return 0;
}
