#include "relay.h"
int rb_uplink_run(const rb_config_t *rc, osh_service_t *svc)
{
        (void)rc;
        (void)svc;
        return 2;
}
