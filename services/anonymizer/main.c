/* anonymizer: resident.raw.v1 → resident.abstracted.v1 inside the
 * processing segment (Table 21 layout, Table 50 rules, k-floor, privacy
 * report). */
#include "anon_svc.h"
#include "oshirase/service.h"

int main(int argc, char **argv)
{
        osh_service_t svc;
        int rc = osh_service_init(&svc, "anonymizer", anon_config_table, anon_config_table_len,
                                  "kafka.", argc, argv);

        if (rc != OSH_CONFIG_RUN)
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        rc = anon_main(&svc);
        osh_service_fini(&svc);
        return rc;
}
