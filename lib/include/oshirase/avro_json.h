/* JSON → Avro value, for operator tools and tests (osh-ctl produce).
 * avro-c has avro_value_to_json() but nothing in the other direction.
 *
 * Accepts the Avro JSON encoding, plus two conveniences: a union may be
 * given as its bare value (the first branch that accepts it wins), and a
 * missing record field takes the schema's JSON default. */
#ifndef OSHIRASE_AVRO_JSON_H
#define OSHIRASE_AVRO_JSON_H

#include <stddef.h>

#include <avro.h>

/* Fills out, an already-initialised value of schema (e.g. from
 * avro_generic_value_new), from json (len bytes). 0 / -1 with errstr naming
 * the JSON path of the first problem. schema_json is the schema's own JSON
 * text, used for field defaults; NULL disables defaults. */
int osh_avro_from_json(const char *json, size_t len, const char *schema_json, avro_value_t *out,
                       char *errstr, size_t errstr_size);

/* Avro value → JSON (jansson), in the Avro JSON encoding: bytes and fixed
 * as strings of code points 0-255, a non-null union branch as
 * {"<type name>": value}. Unlike avro-c's avro_value_to_json(), zero bytes
 * inside bytes survive. Returns a new reference (json_decref) or NULL. */
struct json_t;
struct json_t *osh_avro_to_json(avro_value_t *v);

#endif
