/* cloud-ingest: the cloud's HTTPS entry (docs/architecture.md §4). See server.h. */
#include "server.h"

int main(int argc, char **argv)
{
        return osh_service_main(&ci_app, argc, argv);
}
