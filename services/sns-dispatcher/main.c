/* sns-dispatcher: renders and sends notify.dispatch.v1 over LINE, e-mail,
 * webhook, X DM and Messenger; every outcome to notify.status.v1. */
#include "oshirase/log.h"
#include "oshirase/service.h"

#include "disp_service.h"

int main(int argc, char **argv)
{
        osh_service_t svc;
        disp_service_t *s;
        char err[512];
        int rc = osh_service_init(&svc, "sns-dispatcher", disp_config_table, disp_config_table_len,
                                  "kafka.", argc, argv);

        if (rc != OSH_CONFIG_RUN)
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        if (disp_service_validate(&svc, err, sizeof(err)) < 0) {
                osh_error("%s", err);
                osh_service_fini(&svc);
                return 2;
        }
        if (osh_service_check_done(&svc)) {
                osh_service_fini(&svc);
                return 0;
        }
        s = disp_service_new(&svc, err, sizeof(err));
        if (!s) {
                osh_error("%s", err);
                osh_service_fini(&svc);
                return 1;
        }
        rc = disp_service_run(s) < 0 ? 1 : 0;
        disp_service_destroy(s);
        osh_service_fini(&svc);
        return rc;
}
