/* libFuzzer target for the anonymizer's rule-file parser. Any bytes must
 * either be refused with a message that names the origin, or give a rule
 * set whose positions lie inside the dictionary's bitset and values array:
 * the accepted rules are then applied to one fixed raw record with buffers
 * of exactly flag_bytes / value_count, so an out-of-range position is an
 * ASan report. Seeds: tests/fuzz/seeds/fuzz_anonymizer_rules (rules-v1). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anon_raw.h"
#include "anon_rules.h"
#include "anon_xform.h"
#include "oshirase/dictionary.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

static osh_dict_t *dict;
static anon_key_t key;
static avro_value_t raw;
static anon_raw_t view; /* raw as the rules read it */

/* Process-lifetime objects, freed so LeakSanitizer sees only real leaks. */
static void fini(void)
{
        anon_key_clear(&key);
        avro_value_decref(&raw);
        osh_dict_destroy(dict);
        osh_serde_shutdown();
}

/* A head of household with a spouse and two children, every field set. */
static void init(void)
{
        char err[256];
        const osh_schema_t *s;
        avro_value_t arr, item, map;

        if (osh_serde_init(err, sizeof(err)) || !(dict = osh_dict_load_default(err, sizeof(err))) ||
            anon_key_load(&key, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
                          NULL, err, sizeof(err)) ||
            !(s = osh_schema_for_topic(OSH_TOPIC_RAW)) || osh_value_new(s, &raw)) {
                fprintf(stderr, "fuzz init: %s\n", err);
                abort();
        }
        atexit(fini);
        osh_value_set_string(&raw, "atena_no", "1000000001");
        osh_value_set_int(&raw, "reference_date", 19000);
        osh_value_set_int(&raw, "birth_date", -20000);
        osh_value_set_string(&raw, "address_code", "121010004200000000000000000099");
        osh_value_set_bool(&raw, "nhi", 1);
        osh_value_set_enum(&raw, "tax_current", "TAXED");
        osh_value_field(&raw, "household_members", &arr);
        for (int i = 0; i < 3; i++) {
                osh_value_append(s, &arr, &item);
                osh_value_set_enum(&item, "relationship", i ? "CHILD" : "SPOUSE");
                osh_value_set_int(&item, "birth_date", 5000 * i - 40000);
        }
        osh_value_field(&raw, "extensions", &map);
        osh_value_add(s, &map, "ext_01", &item);
        avro_value_set_string(&item, "1");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char err[512];
        anon_rules_t *r;
        anon_out_t o = {0};

        if (!dict)
                init();
        err[0] = 0;
        r = anon_rules_parse((const char *)data, size, "fuzz.conf", dict, err, sizeof(err));
        if (!r) {
                if (strncmp(err, "fuzz.conf:", 10))
                        __builtin_trap(); /* every refusal names the file (and line) */
                return 0;
        }
        if (r->nquasi < 1 || r->nquasi > ANON_MAX_QUASI || r->ntruthy < 1 ||
            r->flag_bytes != osh_dict_flag_bytes(dict) ||
            r->value_count != osh_dict_value_count(dict))
                __builtin_trap();
        for (int i = 0; i < r->nquasi; i++)
                if (r->quasi[i] < 0 || (size_t)r->quasi[i] >= r->value_count)
                        __builtin_trap();
        o.flags = malloc(r->flag_bytes);
        o.values = malloc(r->value_count * sizeof(int32_t));
        if (anon_raw_from_value(&r->raw, &raw, &view))
                __builtin_trap(); /* the fixed record is well-formed */
        if (o.flags && o.values && anon_xform(r, &key, &view, &o) == ANON_OK && !o.uid[0])
                __builtin_trap();
        free(o.flags);
        free(o.values);
        anon_rules_destroy(r);
        return 0;
}
