#include "oshirase/avro_json.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* Walks the JSON document and the avro value in parallel. The schema's own
 * JSON (sj) is walked alongside only to find field defaults. */
struct walk {
        char *errstr;
        size_t errstr_size;
};

static int fill(struct walk *w, json_t *j, json_t *sj, avro_value_t *v, const char *path);

static int bad(struct walk *w, const char *path, const char *what)
{
        snprintf(w->errstr, w->errstr_size, "%s: %s", path, what);
        return -1;
}

/* A schema JSON node worth descending into: a complex type or a union.
 * Named references (plain strings) carry no defaults of their own here. */
static json_t *schema_node(json_t *sj)
{
        return json_is_object(sj) || json_is_array(sj) ? sj : NULL;
}

static json_t *field_schema(json_t *sj, const char *name, json_t **def)
{
        json_t *fields = sj ? json_object_get(sj, "fields") : NULL;
        size_t i;
        json_t *f;

        *def = NULL;
        json_array_foreach(fields, i, f)
        {
                if (!strcmp(json_string_value(json_object_get(f, "name")) ?: "", name)) {
                        *def = json_object_get(f, "default");
                        return schema_node(json_object_get(f, "type"));
                }
        }
        return NULL;
}

static int fill_record(struct walk *w, json_t *j, json_t *sj, avro_value_t *v, const char *path)
{
        size_t n = 0;
        char sub[512];

        if (!json_is_object(j))
                return bad(w, path, "expected an object");
        avro_value_get_size(v, &n);
        for (size_t i = 0; i < n; i++) {
                avro_value_t fv;
                const char *name;
                json_t *def, *fsj = NULL;
                avro_value_get_by_index(v, i, &fv, &name);
                fsj = field_schema(sj, name, &def);
                json_t *fj = json_object_get(j, name);
                snprintf(sub, sizeof(sub), "%s.%s", path, name);
                if (!fj)
                        fj = def;
                if (!fj)
                        return bad(w, sub, "missing field without default");
                if (fill(w, fj, fsj, &fv, sub))
                        return -1;
        }
        return 0;
}

static int fill_array(struct walk *w, json_t *j, json_t *sj, avro_value_t *v, const char *path)
{
        json_t *item, *isj = sj ? schema_node(json_object_get(sj, "items")) : NULL;
        size_t i;
        char sub[512];

        if (!json_is_array(j))
                return bad(w, path, "expected an array");
        json_array_foreach(j, i, item)
        {
                avro_value_t e;
                snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
                if (avro_value_append(v, &e, NULL) || fill(w, item, isj, &e, sub))
                        return -1;
        }
        return 0;
}

static int fill_map(struct walk *w, json_t *j, json_t *sj, avro_value_t *v, const char *path)
{
        json_t *val, *vsj = sj ? schema_node(json_object_get(sj, "values")) : NULL;
        const char *k;
        char sub[512];

        if (!json_is_object(j))
                return bad(w, path, "expected an object");
        json_object_foreach(j, k, val)
        {
                avro_value_t e;
                snprintf(sub, sizeof(sub), "%s.%s", path, k);
                if (avro_value_add(v, k, &e, NULL, NULL) || fill(w, val, vsj, &e, sub))
                        return -1;
        }
        return 0;
}

/* Avro JSON: {"branch": value}, or null; or the bare value as a convenience. */
static int fill_union(struct walk *w, json_t *j, json_t *sj, avro_value_t *v, const char *path)
{
        avro_schema_t us = avro_value_get_schema(v);
        size_t n = avro_schema_union_size(us);
        json_t *branches = json_is_array(sj) ? sj : NULL;
        char quiet[8];
        struct walk q = {quiet, sizeof(quiet)};

        for (size_t i = 0; i < n; i++) {
                avro_value_t b;
                avro_schema_t bs = avro_schema_union_branch(us, (int)i);
                json_t *bsj = branches ? schema_node(json_array_get(branches, i)) : NULL;
                json_t *inner = j;
                if (json_is_object(j) && json_object_size(j) == 1 &&
                    json_object_get(j, avro_schema_type_name(bs)))
                        inner = json_object_get(j, avro_schema_type_name(bs));
                if (avro_value_set_branch(v, (int)i, &b))
                        continue;
                if (fill(&q, inner, bsj, &b, path) == 0)
                        return 0;
        }
        return bad(w, path, "no union branch accepts this value");
}

static int fill_bytes(struct walk *w, json_t *j, avro_value_t *v, const char *path, int fixed)
{
        const char *s = json_string_value(j);
        size_t n = json_string_length(j), out = 0;
        unsigned char buf[4096];

        if (!s)
                return bad(w, path, "expected a string of code points 0-255");
        /* Avro JSON maps each byte to the code point of the same value. */
        for (size_t i = 0; i < n && out < sizeof(buf); out++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x80) {
                        buf[out] = c;
                        i++;
                } else if ((c & 0xE0) == 0xC0 && c <= 0xC3 && i + 1 < n) {
                        buf[out] = (unsigned char)(((c & 0x03) << 6) | (s[i + 1] & 0x3F));
                        i += 2;
                } else {
                        return bad(w, path, "byte string has a code point above 255");
                }
        }
        if (fixed)
                return avro_value_set_fixed(v, buf, out) ? bad(w, path, "wrong fixed size") : 0;
        return avro_value_set_bytes(v, buf, out);
}

static int fill_number(struct walk *w, json_t *j, avro_value_t *v, avro_type_t t, const char *path)
{
        if (t == AVRO_FLOAT || t == AVRO_DOUBLE) {
                if (!json_is_number(j))
                        return bad(w, path, "expected a number");
                return t == AVRO_FLOAT ? avro_value_set_float(v, (float)json_number_value(j))
                                       : avro_value_set_double(v, json_number_value(j));
        }
        if (!json_is_integer(j))
                return bad(w, path, "expected an integer");
        json_int_t i = json_integer_value(j);
        if (t == AVRO_INT32) {
                if (i < INT32_MIN || i > INT32_MAX)
                        return bad(w, path, "integer out of int range");
                return avro_value_set_int(v, (int32_t)i);
        }
        return avro_value_set_long(v, (int64_t)i);
}

static int fill_enum(struct walk *w, json_t *j, avro_value_t *v, const char *path)
{
        const char *s = json_string_value(j);
        int idx = s ? avro_schema_enum_get_by_name(avro_value_get_schema(v), s) : -1;

        if (idx < 0)
                return bad(w, path, "not a symbol of the enum");
        return avro_value_set_enum(v, idx);
}

static int fill(struct walk *w, json_t *j, json_t *sj, avro_value_t *v, const char *path)
{
        avro_type_t t = avro_value_get_type(v);

        switch (t) {
        case AVRO_RECORD:
                return fill_record(w, j, sj, v, path);
        case AVRO_ARRAY:
                return fill_array(w, j, sj, v, path);
        case AVRO_MAP:
                return fill_map(w, j, sj, v, path);
        case AVRO_UNION:
                return fill_union(w, j, sj, v, path);
        case AVRO_NULL:
                return json_is_null(j) ? avro_value_set_null(v) : bad(w, path, "expected null");
        case AVRO_BOOLEAN:
                return json_is_boolean(j) ? avro_value_set_boolean(v, json_is_true(j))
                                          : bad(w, path, "expected true or false");
        case AVRO_STRING:
                if (!json_is_string(j))
                        return bad(w, path, "expected a string");
                return avro_value_set_string_len(v, json_string_value(j),
                                                 json_string_length(j) + 1);
        case AVRO_BYTES:
        case AVRO_FIXED:
                return fill_bytes(w, j, v, path, t == AVRO_FIXED);
        case AVRO_ENUM:
                return fill_enum(w, j, v, path);
        case AVRO_INT32:
        case AVRO_INT64:
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                return fill_number(w, j, v, t, path);
        default:
                return bad(w, path, "unsupported Avro type");
        }
}

int osh_avro_from_json(const char *json, size_t len, const char *schema_json, avro_value_t *out,
                       char *errstr, size_t errstr_size)
{
        json_error_t jerr;
        json_t *doc = json_loadb(json, len, JSON_ALLOW_NUL, &jerr);
        json_t *sdoc = schema_json ? json_loads(schema_json, 0, NULL) : NULL;
        struct walk w = {errstr, errstr_size};
        int rc = -1;

        if (!doc) {
                snprintf(errstr, errstr_size, "JSON line %d column %d: %s", jerr.line, jerr.column,
                         jerr.text);
                goto fail;
        }
        avro_value_reset(out);
        rc = fill(&w, doc, schema_node(sdoc), out, "$");
fail:
        json_decref(doc);
        json_decref(sdoc);
        return rc;
}

/* ---- Avro → JSON ---- */

static json_t *bytes_to_json(const void *p, size_t len)
{
        const unsigned char *b = p;
        char *s = malloc(len * 2 + 1), *o = s;
        json_t *j;

        if (!s)
                return NULL;
        for (size_t i = 0; i < len; i++) {
                if (b[i] < 0x80) {
                        *o++ = (char)b[i];
                } else {
                        *o++ = (char)(0xC0 | (b[i] >> 6));
                        *o++ = (char)(0x80 | (b[i] & 0x3F));
                }
        }
        j = json_stringn_nocheck(s, (size_t)(o - s));
        free(s);
        return j;
}

static json_t *compound_to_json(avro_value_t *v, avro_type_t t)
{
        json_t *j = t == AVRO_ARRAY ? json_array() : json_object();
        size_t n = 0;

        avro_value_get_size(v, &n);
        for (size_t i = 0; j && i < n; i++) {
                avro_value_t e;
                const char *name = NULL;
                avro_value_get_by_index(v, i, &e, &name);
                json_t *ej = osh_avro_to_json(&e);
                if (t == AVRO_ARRAY)
                        json_array_append_new(j, ej ? ej : json_null());
                else
                        json_object_set_new(j, name, ej ? ej : json_null());
        }
        return j;
}

static json_t *union_to_json(avro_value_t *v)
{
        avro_value_t b;

        if (avro_value_get_current_branch(v, &b))
                return NULL;
        if (avro_value_get_type(&b) == AVRO_NULL)
                return json_null();
        return json_pack("{s:o}", avro_schema_type_name(avro_value_get_schema(&b)),
                         osh_avro_to_json(&b));
}

json_t *osh_avro_to_json(avro_value_t *v)
{
        avro_type_t t = avro_value_get_type(v);
        const void *p = NULL;
        const char *s = NULL;
        size_t len = 0;
        int32_t i32 = 0;
        int64_t i64 = 0;
        double d = 0;
        float f = 0;
        int b = 0;

        switch (t) {
        case AVRO_RECORD:
        case AVRO_MAP:
        case AVRO_ARRAY:
                return compound_to_json(v, t);
        case AVRO_UNION:
                return union_to_json(v);
        case AVRO_NULL:
                return json_null();
        case AVRO_BOOLEAN:
                avro_value_get_boolean(v, &b);
                return json_boolean(b);
        case AVRO_INT32:
                avro_value_get_int(v, &i32);
                return json_integer(i32);
        case AVRO_INT64:
                avro_value_get_long(v, &i64);
                return json_integer((json_int_t)i64);
        case AVRO_FLOAT:
                avro_value_get_float(v, &f);
                return json_real(f);
        case AVRO_DOUBLE:
                avro_value_get_double(v, &d);
                return json_real(d);
        case AVRO_STRING:
                avro_value_get_string(v, &s, &len);
                return json_stringn(s ? s : "", len ? len - 1 : 0);
        case AVRO_BYTES:
                avro_value_get_bytes(v, &p, &len);
                return bytes_to_json(p, len);
        case AVRO_FIXED:
                avro_value_get_fixed(v, &p, &len);
                return bytes_to_json(p, len);
        case AVRO_ENUM:
                avro_value_get_enum(v, &i32);
                s = avro_schema_enum_get(avro_value_get_schema(v), i32);
                return s ? json_string(s) : NULL;
        default:
                return NULL;
        }
}
