/* segmenter: targeting over the abstracted population (DESIGN.md §6). */
#include <stdio.h>

#include "oshirase/log.h"
#include "oshirase/service.h"
#include "segmenter.h"

int main(int argc, char **argv)
{
        osh_service_t svc;
        char errstr[512];
        segmenter_t *s;
        int rc = osh_service_init(&svc, "segmenter", seg_config_table, seg_config_table_len,
                                  "kafka.", argc, argv);

        if (rc != OSH_CONFIG_RUN)
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        if (osh_service_check_done(&svc)) {
                osh_service_fini(&svc);
                return 0;
        }
        s = segmenter_new(&svc, errstr, sizeof(errstr));
        if (!s) {
                osh_error("%s", errstr);
                osh_service_fini(&svc);
                return 1;
        }
        rc = segmenter_run(s);
        segmenter_destroy(s);
        osh_service_fini(&svc);
        return rc ? 1 : 0;
}
