/* anonymizer: resident.raw.v1 → resident.abstracted.v1 inside the
 * processing segment (Table 21 layout, Table 50 rules, k-floor, privacy
 * report). */
#include <malloc.h>

#include "anon_svc.h"
#include "oshirase/service.h"

int main(int argc, char **argv)
{
        osh_service_t svc;
        int rc;

        /* The consumer decompresses every fetch into fresh ~1 MiB buffers;
         * above glibc's mmap threshold each was mapped, faulted in page by
         * page and unmapped again (a sixth of the process's CPU in the
         * bench). Kept in the heap and not trimmed, they are reused. */
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 256 << 20);
        rc = osh_service_init(&svc, "anonymizer", anon_config_table, anon_config_table_len,
                              "kafka.", argc, argv);

        if (rc != OSH_CONFIG_RUN)
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        rc = anon_main(&svc);
        osh_service_fini(&svc);
        return rc;
}
