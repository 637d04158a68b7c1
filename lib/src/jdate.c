/* Western and Japanese-era date parsing (see jdate.h). */
#include "oshirase/jdate.h"

/* Era boundaries (Gregorian). Meiji is limited to the Gregorian era of
 * Japan, from 1873-01-01 (明治6年). */
static const struct {
        char letter;
        int base, fy, fm, fd, ly, lm, ld;
} ERAS[] = {
    {'M', 1868, 1873, 1, 1, 1912, 7, 29},  {'T', 1912, 1912, 7, 30, 1926, 12, 24},
    {'S', 1926, 1926, 12, 25, 1989, 1, 7}, {'H', 1989, 1989, 1, 8, 2019, 4, 30},
    {'R', 2019, 2019, 5, 1, 9999, 12, 31},
};
#define N_ERAS (sizeof(ERAS) / sizeof(ERAS[0]))

static int is_leap(int y)
{
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int osh_date_days_in_month(int y, int m)
{
        static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

        if (m < 1 || m > 12)
                return 0;
        return dim[m - 1] + (m == 2 && is_leap(y));
}

int osh_date_valid(int y, int m, int d)
{
        return y >= OSH_JDATE_MIN_YEAR && y <= OSH_JDATE_MAX_YEAR && d >= 1 &&
               d <= osh_date_days_in_month(y, m);
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
 * calendar, no tables, no overflow for our year range. */
int32_t osh_date_to_days(int y, int m, int d)
{
        int64_t yy = y - (m <= 2);
        int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
        int64_t yoe = yy - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        return (int32_t)(era * 146097 + doe - 719468);
}

void osh_date_from_days(int32_t days, osh_date_t *out)
{
        int64_t z = (int64_t)days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;
        int64_t m = mp + (mp < 10 ? 3 : -9);

        out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
        out->month = (int)m;
        out->year = (int)(yoe + era * 400 + (m <= 2));
}

static int digits(const char *s, size_t n, int *out)
{
        int v = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        *out = v;
        return 0;
}

static int era_index(char c)
{
        static const char letters[] = "MTSHR";

        if (c >= 'a' && c <= 'z')
                c = (char)(c - 'a' + 'A');
        if (c >= '1' && c <= '5')
                return c - '1';
        for (size_t i = 0; i < N_ERAS; i++)
                if (letters[i] == c)
                        return (int)i;
        return -1;
}

static int32_t era_days(size_t i, int last)
{
        return last ? osh_date_to_days(ERAS[i].ly, ERAS[i].lm, ERAS[i].ld)
                    : osh_date_to_days(ERAS[i].fy, ERAS[i].fm, ERAS[i].fd);
}

static int parse_era(const char *s, osh_date_t *out)
{
        int e = era_index(s[0]), yy, m, d;
        int32_t days;

        if (e < 0 || digits(s + 1, 2, &yy) || digits(s + 3, 2, &m) || digits(s + 5, 2, &d) ||
            yy < 1)
                return -1;
        out->year = ERAS[e].base + yy - 1;
        out->month = m;
        out->day = d;
        if (!osh_date_valid(out->year, m, d))
                return -1;
        days = osh_date_to_days(out->year, m, d);
        return days >= era_days((size_t)e, 0) && days <= era_days((size_t)e, 1) ? 0 : -1;
}

int osh_jdate_parse(const char *s, size_t len, osh_jdate_form_t form, osh_date_t *out)
{
        osh_date_t d;

        if (len == 8 && form != OSH_JDATE_ERA) {
                if (digits(s, 4, &d.year) || digits(s + 4, 2, &d.month) ||
                    digits(s + 6, 2, &d.day) || !osh_date_valid(d.year, d.month, d.day))
                        return -1;
        } else if (len == 7 && form != OSH_JDATE_WESTERN) {
                if (parse_era(s, &d))
                        return -1;
        } else {
                return -1;
        }
        *out = d;
        return 0;
}

/* Writes n decimal digits of v (v >= 0), zero-padded. */
static void put_digits(char *out, int n, int v)
{
        for (int i = n - 1; i >= 0; i--) {
                out[i] = (char)('0' + v % 10);
                v /= 10;
        }
}

void osh_date_format_western(const osh_date_t *d, char out[9])
{
        put_digits(out, 4, d->year);
        put_digits(out + 4, 2, d->month);
        put_digits(out + 6, 2, d->day);
        out[8] = '\0';
}

int osh_date_format_era(const osh_date_t *d, char out[8])
{
        int32_t days = osh_date_to_days(d->year, d->month, d->day);

        for (size_t i = N_ERAS; i-- > 0;) {
                int yy = d->year - ERAS[i].base + 1;
                if (days < era_days(i, 0))
                        continue;
                if (days > era_days(i, 1) || yy > 99)
                        return -1;
                out[0] = "MTSHR"[i];
                put_digits(out + 1, 2, yy);
                put_digits(out + 3, 2, d->month);
                put_digits(out + 5, 2, d->day);
                out[7] = '\0';
                return 0;
        }
        return -1;
}

int osh_date_age(const osh_date_t *birth, const osh_date_t *ref)
{
        int age = ref->year - birth->year;

        if (ref->month < birth->month || (ref->month == birth->month && ref->day < birth->day))
                age--;
        return age < 0 ? -1 : age;
}
