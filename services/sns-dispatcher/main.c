/* sns-dispatcher: renders and sends notify.dispatch.v1 over LINE, e-mail,
 * webhook, X DM and Messenger; every outcome to notify.status.v1. */
#include "oshirase/service.h"

#include "disp_service.h"

static void *disp_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        return disp_service_new(svc, errstr, errstr_size);
}

static int disp_run(void *app)
{
        return disp_service_run(app) < 0 ? 1 : 0;
}

static void disp_close(void *app)
{
        disp_service_destroy(app);
}

int main(int argc, char **argv)
{
        /* disp_service_run says ready itself. */
        const osh_service_app_t app = {
            .name = "sns-dispatcher",
            .table = disp_config_table,
            .ntable = disp_config_table_len,
            .hb_prefix = "kafka.",
            .configure = disp_service_validate,
            .open = disp_open,
            .run = disp_run,
            .close = disp_close,
        };

        return osh_service_main(&app, argc, argv);
}
