/* segmenter: targeting over the abstracted population (docs/architecture.md §6). */
#include "oshirase/service.h"
#include "segmenter.h"

static void *seg_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        return segmenter_new(svc, errstr, errstr_size);
}

static int seg_run(void *app)
{
        return segmenter_run(app) ? 1 : 0;
}

static void seg_close(void *app)
{
        segmenter_destroy(app);
}

int main(int argc, char **argv)
{
        /* segmenter_run says ready once its state has caught up. */
        const osh_service_app_t app = {
            .name = "segmenter",
            .table = seg_config_table,
            .ntable = seg_config_table_len,
            .hb_prefix = "kafka.",
            .open = seg_open,
            .run = seg_run,
            .close = seg_close,
        };

        return osh_service_main(&app, argc, argv);
}
