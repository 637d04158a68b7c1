/* The synthetic city model of gen-residents: households and residents with
 * every status the exports carry, generated from a seed alone. */
#ifndef GEN_CITY_H
#define GEN_CITY_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/jdate.h"

enum { REL_HEAD = 1, REL_SPOUSE, REL_CHILD, REL_PARENT, REL_GRANDCHILD, REL_GRANDPARENT };

/* Period status: 0 none, else a row exists with these dates (days). */
typedef struct period {
        uint8_t has;
        int32_t start, end; /* end: INT32_MAX = open */
} period_t;

typedef struct person {
        uint32_t hh;    /* household index */
        uint8_t sex;    /* 1, 2 */
        uint8_t rel;    /* REL_* */
        int32_t birth;  /* days since epoch */
        uint8_t tax[3]; /* current, previous, before: 0 no row, 1 taxed, 2 not taxed */
        uint8_t gaiji_name, gaiji_addr;
        uint8_t kubun;     /* child-rearing 支給区分 */
        uint8_t ext[3];    /* 0 no row, 1 value 0, 2 value 1 */
        uint8_t applicant; /* 0 no, 1 applied without consent, 2 consents */
        uint8_t kids;      /* child allowance: children counted */
        uint8_t cats;      /* bitmask of bunya 01..04 */
        uint32_t given;    /* index into the given-name table */
        char user_id[16];
        int64_t applied; /* seconds since epoch, local */
        period_t nhi, koki, ca, cr, pa;
} person_t;

typedef struct household {
        uint32_t first, n; /* persons[first .. first+n) */
        uint8_t ward;      /* 0..5 */
        uint16_t town;     /* town index within the ward */
        uint8_t chome;
        uint16_t banchi, go;
        uint16_t surname;
} household_t;

typedef struct city_opts {
        uint64_t residents;
        uint64_t seed;
        double gaiji_rate;
        double applicant_share;
        osh_date_t ref;
} city_opts_t;

typedef struct city {
        city_opts_t o;
        int32_t ref; /* days */
        int fy;      /* fiscal year of the reference date */
        person_t *p;
        size_t np;
        household_t *h;
        size_t nh;
} city_t;

/* Builds the city. 0 / -1 (OOM). Free with city_free(). */
int city_build(city_t *c, const city_opts_t *o);
void city_free(city_t *c);

int city_age(const city_t *c, const person_t *p); /* completed years at ref */
/* 1 if the household lives inside a designated landslide-risk area: the
 * strip of chome 5, banchi 1-4 of the towns campaigns/04 lists (Table 52:
 * few households at risk inside towns that are targeted whole). */
int city_landslide_risk(const household_t *h);
int period_active(const period_t *pr, int32_t ref);

/* Text tables. */
extern const char *const WARD_NAME[6];
extern const int WARD_CODE[6];
const char *town_name(int ward, int town, char *buf, size_t size);
int town_count(int ward);
const char *surname(int i, int kana);
const char *given_name(uint32_t i, int sex, int kana);

/* 宛名番号 / 世帯番号 as 10 digits (bijective scramble of the index). */
void atena_no(size_t person, char out[11]);
void setai_no(size_t hh, char out[11]);

#endif
