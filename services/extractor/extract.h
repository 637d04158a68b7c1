/* The extractor's batch logic, free of Kafka: reads one batch of 統合DB
 * export files (docs/exports.md), validates every line, joins the files per
 * 宛名番号 for consenting applicants and encodes resident.raw.v1 and
 * resident.rejects.v1 values (extract_open.c, _plan.c, _join.c, _avro.c;
 * their shared insides in extract_int.h). extractor.c sends them. */
#ifndef EXTRACTOR_EXTRACT_H
#define EXTRACTOR_EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/jdate.h"
#include "oshirase/textenc.h"

#define EXT_MAX_FILES 32
/* Buffers: a batch directory, a path in it (the directory plus a file
 * name), an error message. */
#define EXT_DIR_MAX    4096
#define EXT_PATH_MAX   4400
#define EXT_ERRSTR_MAX 512
/* Longest field accepted unless max.field says otherwise (docs/exports.md). */
#define EXT_DEFAULT_MAX_FIELD 256

typedef enum {
        EXT_RESIDENT = 0,
        EXT_HOUSEHOLD,
        EXT_TAX,
        EXT_NHI,
        EXT_LATE_ELDERLY,
        EXT_CHILD_ALLOWANCE,
        EXT_CHILD_REARING,
        EXT_PUBLIC_ASSISTANCE,
        EXT_EXTENSION, /* ext_01..ext_20 */
        EXT_APPLICANT,
        EXT__TYPES
} ext_type_t;

/* resident.rejects.v1 reasons (the RejectReason enum's symbols). */
typedef enum {
        EXT_R_PARSE = 0,
        EXT_R_ENCODING,
        EXT_R_DATE,
        EXT_R_CODE,
        EXT_R_MISSING,
        EXT_R_TOO_LONG,
        EXT_R_DUPLICATE,
        EXT_R_NOT_CONSENTED,
        EXT_R_UNKNOWN_PERSON,
        EXT_R_OTHER,
} ext_reason_t;

const char *ext_reason_symbol(ext_reason_t r);

typedef struct ext_opts {
        const char *input;      /* a directory, or the path of a MANIFEST.tsv */
        const char *encoding;   /* NULL / "auto": the manifest's, else detect; or utf8|cp932 */
        const char *reference;  /* YYYYMMDD; NULL: the manifest's, else today */
        const char *gaiji_repl; /* UTF-8 replacement; NULL: U+FFFD */
        size_t max_field;       /* 0: 256 */
        size_t threads;         /* scanning threads; 0: one per CPU (at most 8) */
        size_t chunk_bytes;     /* scanned at a time; 0: 1 MiB */
        size_t raw_max;         /* raw line bytes a reject carries; 0: none (the default) */
} ext_opts_t;

/* The longest field max_field may allow: the CSV reader's record limit. */
#define EXT_MAX_FIELD_LIMIT 65536

/* The most raw_max may be: a reject stays far below a Kafka message. */
#define EXT_REJECT_RAW_LIMIT 65536

typedef struct ext_file_stats {
        char name[64];
        uint64_t read, joined, not_applicant, rejected;
} ext_file_stats_t;

typedef struct ext_reject {
        uint32_t file; /* index into the batch's files */
        uint64_t line;
        ext_reason_t reason;
        uint16_t column;    /* 1-based column of the offending field; 0: the line */
        uint32_t field_len; /* its length in bytes as read (the line's when column is 0) */
        char detail[96];    /* never personal data: column names and codes only */
        const char *raw;    /* into the mapped file: sent only if raw_max allows */
        size_t raw_len;
} ext_reject_t;

typedef struct ext_batch ext_batch_t;

/* Finds the files (manifest or fixed names), maps them and starts the
 * threads that hash and scan them. NULL with errstr when the batch cannot
 * be read as a whole (missing/unreadable file, bad manifest). Free with
 * ext_batch_destroy() (NULL ok). */
ext_batch_t *ext_batch_open(const ext_opts_t *o, char *errstr, size_t errstr_size);
/* Waits for the files' SHA-256 and checks them against the manifest, which
 * makes the batch id final. ext_batch_parse() does it too. 0, or -1 with
 * errstr (an altered or truncated file: nothing of the batch may be used). */
int ext_batch_verify(ext_batch_t *b, char *errstr, size_t errstr_size);
/* 1 when a manifest gave every file's hash: the batch id and the file
 * hashes are then known (as declared) before ext_batch_verify(). */
int ext_batch_declared(const ext_batch_t *b);
void ext_batch_destroy(ext_batch_t *b);

/* Deterministic: "B<YYYYMMDD>-<16 hex of SHA-256 over file names + hashes>";
 * "" until known (ext_batch_declared / ext_batch_verify). */
const char *ext_batch_id(const ext_batch_t *b);
int32_t ext_batch_reference_days(const ext_batch_t *b);
/* Number of files, each file's name and content hash (hex). */
size_t ext_batch_file_count(const ext_batch_t *b);
const char *ext_batch_file_name(const ext_batch_t *b, size_t i);
const char *ext_batch_file_sha256(const ext_batch_t *b, size_t i);

/* Parses and joins every file, and verifies them (ext_batch_verify). -1
 * with errstr when the batch is incomplete (an altered or truncated file, a
 * row count that differs from the manifest, a wrong header): then nothing
 * of it may be emitted. */
int ext_batch_parse(ext_batch_t *b, char *errstr, size_t errstr_size);

/* Emitted records, in ascending 宛名番号 order. key is the 宛名番号. */
size_t ext_batch_record_count(const ext_batch_t *b);
/* Encodes record i as single-object Avro into a malloc()ed *val (caller
 * free()s); *key points into b. 0 / -1 with errstr. */
int ext_batch_encode_record(ext_batch_t *b, size_t i, const char **key, void **val, size_t *len,
                            char *errstr, size_t errstr_size);

/* Record i encoded into memory b reuses for the next call: key (the
 * 宛名番号, a string), value and, if hash is not NULL, its
 * osh_batch_record_hash(). 0, or -1 when out of memory. */
int ext_batch_record(ext_batch_t *b, size_t i, const char **key, const void **val, size_t *len,
                     uint64_t *hash);

size_t ext_batch_reject_count(const ext_batch_t *b);
const ext_reject_t *ext_batch_reject(const ext_batch_t *b, size_t i);
/* Encodes a reject as resident.rejects.v1 (caller free()s *val); key is
 * "FILE:LINE" written into keybuf. It locates the problem (file, line,
 * column, field name, length, reason) and carries the raw line only up to
 * o->raw_max bytes, so no reject holds personal data by default and none
 * can outgrow a message. */
int ext_batch_encode_reject(ext_batch_t *b, size_t i, int64_t now_ms, char *keybuf,
                            size_t keybuf_size, void **val, size_t *len, char *errstr,
                            size_t errstr_size);

/* Per-file counts (after parse). read == joined + not_applicant + rejected. */
const ext_file_stats_t *ext_batch_file_stats(const ext_batch_t *b, size_t i);
uint64_t ext_batch_gaiji(const ext_batch_t *b);

#endif
