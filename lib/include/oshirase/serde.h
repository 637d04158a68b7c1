/* Avro serde: compiled-in schemas, Parsing Canonical Form, CRC-64-AVRO
 * fingerprints and single-object encoding (C3 01 + 8-byte little-endian
 * fingerprint + binary datum).
 *
 * Life cycle: osh_serde_init() once before use (reference counted: each
 * successful init needs one osh_serde_shutdown()). After init, lookups,
 * encode and decode are thread-safe. Schemas returned by lookups stay valid
 * until the last shutdown; never free them.
 *
 * Decode never trusts its input: every length, count, varint, union branch
 * and enum index is checked against the schema and the remaining bytes
 * before avro-c sees the datum. */
#ifndef OSHIRASE_SERDE_H
#define OSHIRASE_SERDE_H

#include <stddef.h>
#include <stdint.h>
#include <avro.h>

#define OSH_SERDE_MAGIC0     0xC3
#define OSH_SERDE_MAGIC1     0x01
#define OSH_SERDE_HEADER_LEN 10
#define OSH_CRC64_EMPTY      0xc15d213aa4d7a795ULL

typedef struct osh_schema {
        const char *name;     /* full name, e.g. "jp.oshirase.OpsStatus" */
        const char *file;     /* source file name, e.g. "ops.status.v1.avsc" */
        const char *topic;    /* "ops.status.v1"; NULL for older revisions */
        const char *pcf;      /* Parsing Canonical Form */
        const char *json;     /* the schema's own JSON text (keeps defaults and docs) */
        uint64_t fingerprint; /* CRC-64-AVRO of pcf */
        int current;          /* 1: the version services write; 0: older revision */
        avro_schema_t avro;
        avro_value_iface_t *iface; /* generic value class for avro */
        void *priv;
} osh_schema_t;

/* ---- registry ---------------------------------------------------------- */

/* Parses every compiled-in schema (schemas/ and schemas/compat/). Safe to
 * call more than once; pair each successful call with osh_serde_shutdown(). */
int osh_serde_init(char *errstr, size_t errstr_size);
void osh_serde_shutdown(void);

/* Registers an extra schema (tests, tools). current=1 makes it the version
 * returned by osh_schema_get() for its name. Call only while no other thread
 * uses the registry. The text is copied. Returns the registered schema or
 * NULL. */
const osh_schema_t *osh_serde_register(const char *json, size_t len, const char *file, int current,
                                       char *errstr, size_t errstr_size);

/* Lookups return NULL when unknown (or before init). */
const osh_schema_t *osh_schema_get(const char *full_name); /* current version */
const osh_schema_t *osh_schema_for_topic(const char *topic);
const osh_schema_t *osh_schema_by_fingerprint(uint64_t fingerprint);
size_t osh_schema_count(void);
const osh_schema_t *osh_schema_at(size_t i);

/* ---- encode / decode --------------------------------------------------- */

/* New generic value of schema s holding the schema's declared defaults
 * (fields without one: zero, "", first union branch, first enum symbol), so
 * callers set only what they have. Caller avro_value_decref()s. */
int osh_value_new(const osh_schema_t *s, avro_value_t *out);

/* Appends an element to array (or adds key to map) and sets it to its
 * declared defaults like osh_value_new() does; avro_value_append() alone
 * leaves unions unselected, which cannot be encoded. s is the top-level
 * schema the collection belongs to. *item is borrowed from the collection. */
int osh_value_append(const osh_schema_t *s, avro_value_t *array, avro_value_t *item);
int osh_value_add(const osh_schema_t *s, avro_value_t *map, const char *key, avro_value_t *item);

/* Single-object encoding of v (which must be a value of s) into buf.
 * *out_len receives the encoded size; when buf_size is too small the call
 * fails and *out_len tells how much is needed. */
int osh_serde_encode(const osh_schema_t *s, avro_value_t *v, void *buf, size_t buf_size,
                     size_t *out_len, char *errstr, size_t errstr_size);

/* Same, into a malloc()ed buffer the caller free()s. */
int osh_serde_encode_alloc(const osh_schema_t *s, avro_value_t *v, void **out, size_t *out_len,
                           char *errstr, size_t errstr_size);

/* Decodes single-object bytes into a new value of the reader schema. When
 * the writer is an older revision of the reader, fields are matched by name
 * and missing ones take the reader's declared defaults. reader may be NULL:
 * the current version of the writer's schema is used. On success the caller
 * avro_value_decref()s *out; *writer_out (optional) gets the writer schema. */
int osh_serde_decode(const osh_schema_t *reader, const void *buf, size_t len, avro_value_t *out,
                     const osh_schema_t **writer_out, char *errstr, size_t errstr_size);

/* Reads the fingerprint from the header without decoding. 0 / -1. */
int osh_serde_peek_fingerprint(const void *buf, size_t len, uint64_t *fingerprint);

/* Checks that buf[0..len) is exactly one well-formed datum of schema (every
 * length inside the buffer, no trailing bytes). Used by decode; exposed for
 * tests and the relay's allow-list checks. */
int osh_serde_validate_datum(avro_schema_t schema, const void *buf, size_t len, char *errstr,
                             size_t errstr_size);

/* ---- Parsing Canonical Form and fingerprint ---------------------------- */

/* Returns the PCF of a JSON schema text as a malloc()ed string (caller
 * free()s), or NULL with errstr filled. */
char *osh_avro_pcf(const char *json, size_t len, char *errstr, size_t errstr_size);
/* CRC-64-AVRO (Rabin) of data; osh_avro_crc64(NULL, 0) == OSH_CRC64_EMPTY. */
uint64_t osh_avro_crc64(const void *data, size_t len);

/* ---- record helpers ---------------------------------------------------- */
/* rec is a record value; field names a field of it. A field whose type is a
 * union containing null is "nullable": setters select the non-null branch
 * (the first branch of the matching type), osh_value_set_null selects null,
 * getters fail (-1) on null. All return 0 / -1 (missing field, wrong type).
 * Strings and bytes are copied in; getters return pointers owned by rec. */
int osh_value_field(avro_value_t *rec, const char *field, avro_value_t *out);
int osh_value_set_null(avro_value_t *rec, const char *field);
int osh_value_set_string(avro_value_t *rec, const char *field, const char *s); /* NULL -> null */
int osh_value_set_int(avro_value_t *rec, const char *field, int32_t v);
int osh_value_set_long(avro_value_t *rec, const char *field, int64_t v);
int osh_value_set_bool(avro_value_t *rec, const char *field, int v);
int osh_value_set_double(avro_value_t *rec, const char *field, double v);
int osh_value_set_bytes(avro_value_t *rec, const char *field, const void *p, size_t len);
int osh_value_set_enum(avro_value_t *rec, const char *field, const char *symbol);

int osh_value_is_null(avro_value_t *rec, const char *field); /* 1 null, 0 not, -1 error */
int osh_value_get_string(avro_value_t *rec, const char *field, const char **s, size_t *len);
int osh_value_get_int(avro_value_t *rec, const char *field, int32_t *v);
int osh_value_get_long(avro_value_t *rec, const char *field, int64_t *v); /* int promotes */
int osh_value_get_bool(avro_value_t *rec, const char *field, int *v);
int osh_value_get_double(avro_value_t *rec, const char *field, double *v);
int osh_value_get_bytes(avro_value_t *rec, const char *field, const void **p, size_t *len);
int osh_value_get_enum(avro_value_t *rec, const char *field, const char **symbol);

#endif
