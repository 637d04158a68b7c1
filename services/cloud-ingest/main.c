/* cloud-ingest: the cloud's HTTPS entry (docs/architecture.md §4). See server.h. */
#include <stdio.h>
#include <unistd.h>

#include "oshirase/log.h"
#include "oshirase/service.h"
#include "oshirase/signal.h"
#include "server.h"

static void *ci_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        char err[512];
        ci_server_t *srv = ci_server_start(svc->cfg, svc->hb, err, sizeof(err));

        if (!srv) {
                snprintf(errstr, errstr_size, "cannot start: %s", err);
                return NULL;
        }
        osh_info("listening on port %u", ci_server_port(srv));
        return srv;
}

/* The server answers on its own threads; this one only waits for a signal. */
static int ci_run(void *srv)
{
        while (!osh_shutdown_requested())
                usleep(100 * 1000);
        return 0;
}

static void ci_close(void *srv)
{
        ci_server_stop(srv);
}

int main(int argc, char **argv)
{
        const osh_service_app_t app = {
            .name = "cloud-ingest",
            .table = ci_config_table,
            .ntable = ci_config_table_len,
            .hb_prefix = "kafka.",
            .open = ci_open,
            .run = ci_run,
            .close = ci_close,
            .ready_after_open = 1,
        };

        return osh_service_main(&app, argc, argv);
}
