/* console: the staff web application. `console create-admin NAME` and
 * `console user add NAME ROLE` manage accounts; anything else runs it. */
#include <string.h>

#include "console_service.h"

int main(int argc, char **argv)
{
        if (argc > 1 && (!strcmp(argv[1], "create-admin") || !strcmp(argv[1], "user")))
                return con_cli_main(argc - 1, argv + 1);
        return osh_service_main(&console_app, argc, argv);
}
