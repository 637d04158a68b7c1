/* Writes a city as 統合DB-style exports (docs/exports.md), the manifest and
 * the ground truth. */
#ifndef GEN_WRITE_H
#define GEN_WRITE_H

#include "city.h"

typedef struct write_opts {
        const char *dir;
        int cp932; /* else UTF-8 */
        int bom;   /* UTF-8 BOM */
        int era;   /* era dates instead of YYYYMMDD */
        int crlf;  /* CRLF line ends */
} write_opts_t;

/* 0 / -1 with errstr. */
int city_write(const city_t *c, const write_opts_t *o, char *errstr, size_t errstr_size);

#endif
