/* cloud-ingest: the cloud's HTTPS entry (DESIGN §4). See server.h. */
#include <unistd.h>

#include "oshirase/log.h"
#include "oshirase/service.h"
#include "oshirase/signal.h"
#include "server.h"

int main(int argc, char **argv)
{
        osh_service_t svc;
        ci_server_t *srv;
        char err[512];
        int rc = osh_service_init(&svc, "cloud-ingest", ci_config_table, ci_config_table_len,
                                  "kafka.", argc, argv);

        if (rc != OSH_CONFIG_RUN)
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        if (osh_service_check_done(&svc)) {
                osh_service_fini(&svc);
                return 0;
        }
        srv = ci_server_start(svc.cfg, svc.hb, err, sizeof(err));
        if (!srv) {
                osh_error("cannot start: %s", err);
                osh_service_fini(&svc);
                return 1;
        }
        osh_info("listening on port %u", ci_server_port(srv));
        osh_service_ready(&svc);
        while (!osh_shutdown_requested())
                usleep(100 * 1000);
        ci_server_stop(srv);
        osh_service_fini(&svc);
        return 0;
}
