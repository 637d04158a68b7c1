/* relay-bridge: moves an allow-list of topics one way across one segment
 * boundary, kafka -> kafka or (uplink) exchange -> cloud over HTTPS. */
#include "relay.h"

int main(int argc, char **argv)
{
        return osh_service_main(&rb_app, argc, argv);
}
