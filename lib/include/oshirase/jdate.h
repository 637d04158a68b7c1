/* Dates as municipal exports write them: Western YYYYMMDD, or Japanese era
 * form "<era><yy><mm><dd>" with the era as a letter (M T S H R, either case)
 * or as the digit used by many core systems (1 Meiji .. 5 Reiwa), e.g.
 * "H280315", "R050401", "4280315". Era year 01 is 元年.
 *
 * Validation is strict: the day must exist in the Gregorian calendar, and
 * an era date must fall inside that era (H320101 and H310501 are rejected:
 * Heisei ended on 2019-04-30; S640108 is rejected: Showa ended 1989-01-07).
 * Meiji dates before the Gregorian calendar (1873-01-01) are rejected too,
 * because the lunisolar dates they would be cannot be converted exactly.
 *
 * Days are counted from 1970-01-01 (Avro's "date" logical type). */
#ifndef OSHIRASE_JDATE_H
#define OSHIRASE_JDATE_H

#include <stddef.h>
#include <stdint.h>

#define OSH_JDATE_MIN_YEAR 1873
#define OSH_JDATE_MAX_YEAR 9999

typedef struct osh_date {
        int year, month, day;
} osh_date_t;

typedef enum {
        OSH_JDATE_ANY = 0, /* accept Western and era forms */
        OSH_JDATE_WESTERN, /* only YYYYMMDD */
        OSH_JDATE_ERA,     /* only era forms */
} osh_jdate_form_t;

/* Parses len bytes (no NUL needed). Returns 0 and fills *out, or -1 when
 * the text is not a date of an accepted form or names an impossible day. */
int osh_jdate_parse(const char *s, size_t len, osh_jdate_form_t form, osh_date_t *out);

/* 1 if y-m-d is a real Gregorian day with OSH_JDATE_MIN_YEAR <= y <= MAX. */
int osh_date_valid(int y, int m, int d);
int osh_date_days_in_month(int y, int m);

/* Days since 1970-01-01 (negative before), and back. */
int32_t osh_date_to_days(int y, int m, int d);
void osh_date_from_days(int32_t days, osh_date_t *out);

/* Writes "YYYYMMDD" (9 bytes with NUL). */
void osh_date_format_western(const osh_date_t *d, char out[9]);
/* Writes the era letter form "H280315" (8 bytes with NUL). -1 when the date
 * lies before Meiji's Gregorian range or the era year would exceed 99. */
int osh_date_format_era(const osh_date_t *d, char out[8]);

/* Completed years of age at ref: the birthday counts on the day itself
 * (29 Feb birthdays count on 1 Mar in common years). -1 if ref < birth. */
int osh_date_age(const osh_date_t *birth, const osh_date_t *ref);

#endif
