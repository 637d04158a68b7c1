/* gen-residents --destinations: the CSV for cloud-ingest's destinations
 * upload (user_id,channel,account_id,categories,active). */
#ifndef GEN_DESTINATIONS_H
#define GEN_DESTINATIONS_H

#include <stddef.h>
#include <stdint.h>

#include "city.h"

typedef struct dest_counts {
        uint64_t rows, withdrawn;
        uint64_t by_channel[3]; /* line, email, webhook */
} dest_counts_t;

/* Writes one row per applicant with a 利用者ID to path. 0 / -1 with errstr. */
int city_write_destinations(const city_t *c, const char *path, dest_counts_t *n, char *errstr,
                            size_t errstr_size);

#endif
