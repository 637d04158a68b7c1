/* Attribute dictionary (spec 14, hidden item names): what each position of
 * resident.abstracted.v1's `flags` bitset and `values` array means.
 *
 * File format (schemas/dictionary.tsv): UTF-8, one entry per line,
 * tab-separated `name type position label`; '#' starts a comment line;
 * "@layout<TAB>N" sets the layout version. Types:
 *   flag       bit <position> of flags (byte pos/8, mask 1 << (pos % 8))
 *   int        values[<position>], small integer
 *   yearmonth  values[<position>], YYYYMM, 0 = absent
 *   code       values[<position>], numeric code
 *   field      a named record field; position is the Avro field name
 * Loading validates: names [a-z][a-z0-9_]* and unique, known types,
 * positions unique among flags and among values, non-empty labels. */
#ifndef OSHIRASE_DICTIONARY_H
#define OSHIRASE_DICTIONARY_H

#include <stddef.h>
#include <stdint.h>

#define OSH_DICT_MAX_POSITION 65535

typedef enum {
        OSH_DICT_FLAG = 0,
        OSH_DICT_INT,
        OSH_DICT_YEARMONTH,
        OSH_DICT_CODE,
        OSH_DICT_FIELD,
} osh_dict_type_t;

typedef struct {
        const char *name;  /* logical name, e.g. "nhi" */
        const char *label; /* Japanese label, e.g. "国民健康保険" */
        osh_dict_type_t type;
        int position;      /* bit or values index; -1 for OSH_DICT_FIELD */
        const char *field; /* Avro field name for OSH_DICT_FIELD, else NULL */
        int line;          /* source line, for messages */
} osh_dict_entry_t;

typedef struct osh_dict osh_dict_t;

/* Loaders return a dictionary the caller frees with osh_dict_destroy(), or
 * NULL with errstr naming the origin and line. */
osh_dict_t *osh_dict_load(const char *path, char *errstr, size_t errstr_size);
osh_dict_t *osh_dict_parse(const char *text, size_t len, const char *origin, char *errstr,
                           size_t errstr_size);
/* Staff's protected copy (spec 14: the name mapping is kept encrypted).
 * A sealed file is "OSHDICT1" + 12-byte nonce + AES-256-GCM ciphertext of
 * the TSV + 16-byte tag, the magic authenticated too. key_file holds the
 * 32-byte key as 64 hex digits. Wrong key, tampering or truncation fail
 * with errstr; osh_dict_load() refuses a sealed file and says so. */
osh_dict_t *osh_dict_load_sealed(const char *path, const char *key_file, char *errstr,
                                 size_t errstr_size);
/* Seals text with key into a malloc()ed buffer (caller free()s). 0 / -1. */
int osh_dict_seal(const void *text, size_t len, const uint8_t key[32], uint8_t **out,
                  size_t *out_len, char *errstr, size_t errstr_size);
/* Reads a 64-hex-digit key file. 0 / -1. */
int osh_dict_read_key(const char *key_file, uint8_t key[32], char *errstr, size_t errstr_size);
/* The dictionary compiled in from schemas/dictionary.tsv. */
osh_dict_t *osh_dict_load_default(char *errstr, size_t errstr_size);
void osh_dict_destroy(osh_dict_t *d);

/* Entries are owned by d and live until osh_dict_destroy(). */
const osh_dict_entry_t *osh_dict_find(const osh_dict_t *d, const char *name);
size_t osh_dict_count(const osh_dict_t *d);
const osh_dict_entry_t *osh_dict_at(const osh_dict_t *d, size_t i); /* file order */
int osh_dict_layout(const osh_dict_t *d);                           /* @layout, default 1 */
size_t osh_dict_flag_count(const osh_dict_t *d);                    /* highest flag bit + 1 */
size_t osh_dict_value_count(const osh_dict_t *d);                   /* highest values index + 1 */
size_t osh_dict_flag_bytes(const osh_dict_t *d);                    /* bytes the bitset needs */

const char *osh_dict_type_name(osh_dict_type_t t);
int osh_dict_type_parse(const char *s, osh_dict_type_t *out); /* 0 / -1 */
int osh_dict_type_is_value(osh_dict_type_t t);                /* int, yearmonth, code */

/* Bitset access for `flags`; bits beyond len read as 0, set fails (-1). */
int osh_flags_get(const uint8_t *flags, size_t len, int bit);
int osh_flags_set(uint8_t *flags, size_t len, int bit, int on);

#endif
