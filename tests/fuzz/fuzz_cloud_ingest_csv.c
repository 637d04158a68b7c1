/* libFuzzer: the destinations CSV upload handler (validation + report),
 * without a broker. Any input must yield a 200/400 report, never a crash. */
#include <stdint.h>
#include <stdlib.h>

#include "dest.h"
#include "oshirase/serde.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static ci_dest_t *d;
        char err[128];
        osh_http_reply_t rep = {0};

        if (!d) {
                if (osh_serde_init(err, sizeof(err)))
                        abort();
                d = ci_dest_new(NULL, NULL, err, sizeof(err));
        }
        ci_dest_upload(d, data, size, &rep);
        if (rep.status != 200 && rep.status != 400)
                abort();
        free(rep.body);
        return 0;
}
