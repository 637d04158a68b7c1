/* sns-dispatcher: renders and sends notify.dispatch.v1 over LINE, e-mail,
 * webhook, X DM and Messenger; every outcome to notify.status.v1. */
#include "disp_service.h"

int main(int argc, char **argv)
{
        return osh_service_main(&disp_app, argc, argv);
}
