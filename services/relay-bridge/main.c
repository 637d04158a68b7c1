/* relay-bridge: moves an allow-list of topics one way across one segment
 * boundary, kafka -> kafka or (uplink) exchange -> cloud over HTTPS. */
#include "oshirase/log.h"
#include "oshirase/service.h"
#include "relay.h"

int main(int argc, char **argv)
{
        osh_service_t svc;
        rb_config_t rc;
        char errstr[512];
        int rc_exit = 2;
        /* Heartbeats go to the source cluster: every relay's source is where
         * its operators look (exchange for the uplink). */
        int rc_init = osh_service_init(&svc, "relay-bridge", rb_config_table, rb_config_table_len,
                                       "kafka.source.", argc, argv);

        if (rc_init != OSH_CONFIG_RUN)
                return rc_init == OSH_CONFIG_EXIT ? 0 : 2;
        if (rb_config_load(&rc, svc.cfg, errstr, sizeof(errstr))) {
                osh_error("refusing to start: %s", errstr);
                goto done;
        }
        if (osh_service_check_done(&svc)) {
                rc_exit = 0;
                goto done;
        }
        rc_exit = rc.mode == RB_MODE_UPLINK ? rb_uplink_run(&rc, &svc) : rb_kafka_run(&rc, &svc);
done:
        rb_config_fini(&rc);
        osh_service_fini(&svc);
        return rc_exit;
}
