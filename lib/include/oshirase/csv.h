/* A CSV reader for export files (RFC 4180 plus what municipal exports do):
 * comma-separated, fields optionally in double quotes with "" for a quote,
 * quoted fields may hold commas and line breaks, records end in LF or CRLF,
 * the last record may lack its line break. It works on bytes, so it reads
 * UTF-8 and CP932 alike (no CP932 trail byte is ',', '"', CR or LF).
 *
 * The reader walks a caller-owned buffer (a mapped file) without copying,
 * except quoted fields holding "" which are unescaped into a scratch buffer.
 * A malformed record is reported with its line and the reader resumes at
 * the next line, so one bad line never hides the rest of a file. */
#ifndef OSHIRASE_CSV_H
#define OSHIRASE_CSV_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
        OSH_CSV_OK = 0,
        OSH_CSV_BAD_QUOTE,       /* a quote inside an unquoted field or after a closing quote */
        OSH_CSV_UNTERMINATED,    /* end of input inside a quoted field: the file is truncated */
        OSH_CSV_FIELD_TOO_LONG,  /* a field exceeds max_field bytes */
        OSH_CSV_TOO_MANY_FIELDS, /* more than max_fields fields */
        OSH_CSV_RECORD_TOO_LONG, /* a record exceeds max_record bytes */
} osh_csv_error_t;

typedef struct osh_csv_opts {
        size_t max_field;  /* bytes per field (0: 4096) */
        size_t max_fields; /* fields per record (0: 64) */
        size_t max_record; /* bytes per record including quotes/newlines (0: 64 KiB) */
} osh_csv_opts_t;

typedef struct osh_csv_field {
        const char *ptr; /* into the input, or into the reader's scratch buffer */
        size_t len;
} osh_csv_field_t;

typedef struct osh_csv_record {
        size_t line;     /* 1-based physical line where the record starts */
        const char *raw; /* the record's bytes in the input, without its line break */
        size_t raw_len;
        size_t nfields;
        osh_csv_field_t *fields; /* owned by the reader, valid until the next call */
        int terminated;          /* 1 if a line break ended the record */
        osh_csv_error_t error;   /* OSH_CSV_OK or why the record is malformed */
} osh_csv_record_t;

typedef struct osh_csv_reader osh_csv_reader_t;

/* buf is borrowed and must outlive the reader. opts may be NULL. NULL on
 * OOM. Free with osh_csv_reader_destroy() (NULL ok). */
osh_csv_reader_t *osh_csv_reader_new(const char *buf, size_t len, const osh_csv_opts_t *opts);
void osh_csv_reader_destroy(osh_csv_reader_t *r);

/* Reads the next record into *rec. Returns 1 when a record (well-formed or
 * not: see rec->error) was read, 0 at the end of input, -1 on OOM. A
 * malformed record's fields are unspecified; after it the reader resumes at
 * the next line break (for OSH_CSV_UNTERMINATED, at the end). An empty line
 * is a record with one empty field. */
int osh_csv_next(osh_csv_reader_t *r, osh_csv_record_t *rec);

/* Bytes consumed so far (offset of the next record). */
size_t osh_csv_offset(const osh_csv_reader_t *r);
/* Physical line (from 1) where the next record starts: a reader started
 * mid-file counts from there. */
size_t osh_csv_line(const osh_csv_reader_t *r);

const char *osh_csv_error_name(osh_csv_error_t e); /* "bad quote", ... */

/* Writes one field, quoted only when it holds ',', '"', CR or LF (quotes
 * doubled). Returns 0 / -1 (write error). */
int osh_csv_write_field(FILE *fp, const char *s, size_t len);

#endif
