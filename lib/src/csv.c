/* Zero-copy CSV reader (see csv.h). */
#include "oshirase/csv.h"

#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

struct osh_csv_reader {
        const char *buf;
        size_t len, pos, line;
        osh_csv_opts_t o;
        osh_csv_field_t *fields;
        char *scratch; /* max_record bytes: unescaped text never exceeds the raw record */
        size_t sused;
        int quoted; /* the current record has a quoted field */
};

osh_csv_reader_t *osh_csv_reader_new(const char *buf, size_t len, const osh_csv_opts_t *opts)
{
        osh_csv_reader_t *r = calloc(1, sizeof(*r));

        if (!r)
                goto fail;
        r->buf = buf;
        r->len = len;
        r->line = 1;
        if (opts)
                r->o = *opts;
        if (!r->o.max_field)
                r->o.max_field = 4096;
        if (!r->o.max_fields)
                r->o.max_fields = 64;
        if (!r->o.max_record)
                r->o.max_record = 64 * 1024;
        r->fields = calloc(r->o.max_fields + 1, sizeof(*r->fields));
        r->scratch = malloc(r->o.max_record + 1);
        if (!r->fields || !r->scratch)
                goto fail;
        return r;
fail:
        osh_csv_reader_destroy(r);
        return NULL;
}

void osh_csv_reader_destroy(osh_csv_reader_t *r)
{
        if (!r)
                return;
        free(r->fields);
        free(r->scratch);
        free(r);
}

size_t osh_csv_offset(const osh_csv_reader_t *r)
{
        return r->pos;
}

size_t osh_csv_line(const osh_csv_reader_t *r)
{
        return r->line;
}

const char *osh_csv_error_name(osh_csv_error_t e)
{
        switch (e) {
        case OSH_CSV_OK:
                return "ok";
        case OSH_CSV_BAD_QUOTE:
                return "bad quote";
        case OSH_CSV_UNTERMINATED:
                return "unterminated quoted field";
        case OSH_CSV_FIELD_TOO_LONG:
                return "field too long";
        case OSH_CSV_TOO_MANY_FIELDS:
                return "too many fields";
        case OSH_CSV_RECORD_TOO_LONG:
                return "record too long";
        }
        return "?";
}

/* Counts line breaks in buf[a..b) so reported line numbers stay physical. */
static size_t count_lf(const char *buf, size_t a, size_t b)
{
        size_t n = 0;

        for (const char *p = buf + a; (p = memchr(p, '\n', (size_t)(buf + b - p))) != NULL; p++)
                n++;
        return n;
}

/* Parses a quoted field starting after its opening quote. Returns the
 * position after the closing quote, or len when unterminated. */
static size_t quoted_field(osh_csv_reader_t *r, size_t pos, osh_csv_field_t *f, int *err)
{
        const char *b = r->buf;
        size_t start = pos, out = r->sused;
        int copied = 0;

        for (;;) {
                const char *q = memchr(b + pos, '"', r->len - pos);
                size_t qi;
                if (!q) {
                        *err = OSH_CSV_UNTERMINATED;
                        return r->len;
                }
                qi = (size_t)(q - b);
                if (qi + 1 < r->len && b[qi + 1] == '"') {
                        /* "" is one quote: copy what we have plus a quote */
                        size_t n = qi + 1 - pos;
                        if (out + n > r->o.max_record) {
                                *err = OSH_CSV_RECORD_TOO_LONG;
                                return qi + 2;
                        }
                        memcpy(r->scratch + out, b + pos, n);
                        out += n;
                        copied = 1;
                        pos = qi + 2;
                        continue;
                }
                if (copied) {
                        size_t n = qi - pos;
                        if (out + n > r->o.max_record) {
                                *err = OSH_CSV_RECORD_TOO_LONG;
                                return qi + 1;
                        }
                        memcpy(r->scratch + out, b + pos, n);
                        out += n;
                        f->ptr = r->scratch + r->sused;
                        f->len = out - r->sused;
                        r->sused = out;
                } else {
                        f->ptr = b + start;
                        f->len = qi - start;
                }
                return qi + 1;
        }
}

/* Advances to just after the next LF (or the end); sets *terminated. */
static size_t skip_line(const osh_csv_reader_t *r, size_t pos, int *terminated)
{
        const char *nl = memchr(r->buf + pos, '\n', r->len - pos);

        *terminated = nl != NULL;
        return nl ? (size_t)(nl - r->buf) + 1 : r->len;
}

/* Nonzero in each byte of w that equals c (SWAR: no false positives below
 * the first match, which is all plain_run needs). */
static uint64_t bytes_eq(uint64_t w, unsigned char c)
{
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        uint64_t x = w ^ (ones * c);

        return (x - ones) & ~x & highs;
}

/* Position of the first ',', '\n' or '"' at or after i, or len: eight bytes
 * a step, as fields are mostly long runs of plain text. */
static size_t plain_run(const char *b, size_t i, size_t len)
{
#ifdef __SSE2__ /* every x86-64: sixteen bytes a step */
        const __m128i comma = _mm_set1_epi8(','), lf = _mm_set1_epi8('\n'),
                      quote = _mm_set1_epi8('"');
        while (len - i >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
                unsigned m = (unsigned)_mm_movemask_epi8(
                    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, comma), _mm_cmpeq_epi8(v, lf)),
                                 _mm_cmpeq_epi8(v, quote)));
                if (m)
                        return i + (size_t)__builtin_ctz(m);
                i += 16;
        }
#endif
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ /* the first match is the lowest byte */
        while (len - i >= 8) {
                uint64_t w, m;
                memcpy(&w, b + i, 8);
                m = bytes_eq(w, ',') | bytes_eq(w, '\n') | bytes_eq(w, '"');
                if (m)
                        return i + (size_t)(__builtin_ctzll(m) >> 3);
                i += 8;
        }
#endif
        while (i < len && b[i] != ',' && b[i] != '\n' && b[i] != '"')
                i++;
        return i;
}

/* One field at pos; returns the position of the byte that ended it. */
static size_t parse_field(osh_csv_reader_t *r, size_t pos, osh_csv_field_t *f, int *err)
{
        const char *b = r->buf;
        size_t i = pos;

        if (i < r->len && b[i] == '"') {
                r->quoted = 1;
                i = quoted_field(r, i + 1, f, err);
                if (!*err && i < r->len && b[i] != ',' && b[i] != '\n' &&
                    !(b[i] == '\r' && i + 1 < r->len && b[i + 1] == '\n'))
                        *err = OSH_CSV_BAD_QUOTE;
        } else {
                while ((i = plain_run(b, i, r->len)) < r->len && b[i] == '"') {
                        *err = OSH_CSV_BAD_QUOTE;
                        i++;
                }
                f->ptr = b + pos;
                f->len = i - pos;
                if (f->len && f->ptr[f->len - 1] == '\r' && i < r->len)
                        f->len--; /* CRLF */
        }
        if (!*err && f->len > r->o.max_field)
                *err = OSH_CSV_FIELD_TOO_LONG;
        if (!*err && i < r->len && b[i] == '\r')
                i++; /* the CR of CRLF after a closing quote */
        return i;
}

int osh_csv_next(osh_csv_reader_t *r, osh_csv_record_t *rec)
{
        size_t start = r->pos, pos = r->pos, end;
        int err = OSH_CSV_OK;

        if (pos >= r->len)
                return 0;
        memset(rec, 0, sizeof(*rec));
        rec->line = r->line;
        rec->fields = r->fields;
        r->sused = 0;
        r->quoted = 0;
        for (;;) {
                osh_csv_field_t f = {NULL, 0};
                pos = parse_field(r, pos, &f, &err);
                if (!err && rec->nfields >= r->o.max_fields)
                        err = OSH_CSV_TOO_MANY_FIELDS;
                if (!err && pos - start > r->o.max_record)
                        err = OSH_CSV_RECORD_TOO_LONG;
                if (err)
                        break;
                r->fields[rec->nfields++] = f;
                if (pos >= r->len || r->buf[pos] == '\n')
                        break;
                pos++; /* the comma */
        }
        if (err && err != OSH_CSV_UNTERMINATED) {
                /* resume at the next line: a bad record never eats the rest */
                int lf = 0;
                end = pos;
                if (end < r->len && r->buf[end] != '\n') {
                        end = skip_line(r, pos, &lf);
                        end -= lf; /* back onto the LF */
                }
        } else {
                end = pos;
        }
        rec->error = (osh_csv_error_t)err;
        rec->terminated = end < r->len && r->buf[end] == '\n';
        rec->raw = r->buf + start;
        rec->raw_len = end - start;
        if (rec->raw_len && rec->raw[rec->raw_len - 1] == '\r' && rec->terminated)
                rec->raw_len--;
        r->pos = rec->terminated ? end + 1 : r->len;
        /* only a quoted field can hold a line break of its own */
        r->line += r->quoted ? count_lf(r->buf, start, r->pos) : (size_t)rec->terminated;
        return 1;
}

int osh_csv_write_field(FILE *fp, const char *s, size_t len)
{
        int quote = 0;

        for (size_t i = 0; i < len && !quote; i++)
                quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
        if (!quote)
                return fwrite(s, 1, len, fp) == len ? 0 : -1;
        if (putc('"', fp) == EOF)
                return -1;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '"' && putc('"', fp) == EOF)
                        return -1;
                if (putc(s[i], fp) == EOF)
                        return -1;
        }
        return putc('"', fp) == EOF ? -1 : 0;
}
