/* monitor: pipeline health for the exchange segment (docs/architecture.md §7). */
#include "monitor.h"

int main(int argc, char **argv)
{
        return osh_service_main(&mon_app, argc, argv);
}
