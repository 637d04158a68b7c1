/* relay-bridge: moves an allow-list of topics one way across one segment
 * boundary, kafka -> kafka or (uplink) exchange -> cloud over HTTPS. */
#include <stdio.h>

#include "oshirase/service.h"
#include "relay.h"

/* Loaded before --check ends, so that --check refuses a relay that would
 * break the segment rule, and kept for the run: one relay a process. */
static rb_config_t rb_conf;

static int rb_configure(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        char err[512];

        if (!rb_config_load(&rb_conf, svc->cfg, err, sizeof(err)))
                return 0;
        snprintf(errstr, errstr_size, "refusing to start: %s", err);
        return -1;
}

static void rb_unconfigure(osh_service_t *svc)
{
        rb_config_fini(&rb_conf);
}

/* The relay's runs build their clients themselves. */
static void *rb_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        return svc;
}

static int rb_run(void *svc)
{
        return rb_conf.mode == RB_MODE_UPLINK ? rb_uplink_run(&rb_conf, svc)
                                              : rb_kafka_run(&rb_conf, svc);
}

int main(int argc, char **argv)
{
        /* Heartbeats go to the source cluster: every relay's source is where
         * its operators look (exchange for the uplink). */
        const osh_service_app_t app = {
            .name = "relay-bridge",
            .table = rb_config_table,
            .ntable = rb_config_table_len,
            .hb_prefix = "kafka.source.",
            .configure = rb_configure,
            .unconfigure = rb_unconfigure,
            .open = rb_open,
            .run = rb_run,
        };

        return osh_service_main(&app, argc, argv);
}
