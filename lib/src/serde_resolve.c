/* Schema resolution with reader defaults. avro-c's resolved writer cannot
 * fill a reader field the writer lacks, so records written by an older
 * revision are first decoded with their own schema, then copied here into a
 * value of the reader schema: fields by name, enums by symbol, numeric
 * promotions, and missing fields from the reader JSON's "default". */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serde_internal.h"

#define RESOLVE_MAX_DEPTH 64

typedef struct {
        const osh_schema_priv_t *priv;
        char *errstr;
        size_t errstr_size;
} rctx_t;

__attribute__((format(printf, 2, 3))) static int rfail(rctx_t *c, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->errstr, c->errstr_size, fmt, ap);
        va_end(ap);
        return -1;
}

/* ---- named-type index (JSON side) -------------------------------------- */

static char *qualify(const char *name, const char *ns)
{
        size_t sz = strlen(name) + strlen(ns) + 2;
        char *out = malloc(sz);

        if (!out)
                return NULL;
        if (strchr(name, '.') || !*ns)
                snprintf(out, sz, "%s", name);
        else
                snprintf(out, sz, "%s.%s", ns, name);
        return out;
}

static int index_node(osh_schema_priv_t *p, json_t *node, const char *ns, int depth);

static int index_named(osh_schema_priv_t *p, json_t *node, const char *ns, int depth)
{
        json_t *jns = json_object_get(node, "namespace");
        json_t *fields = json_object_get(node, "fields");
        char *fn = qualify(json_string_value(json_object_get(node, "name")),
                           json_is_string(jns) ? json_string_value(jns) : ns);
        osh_named_def_t *nd = realloc(p->defs, (p->ndefs + 1) * sizeof(*nd));
        size_t i;
        json_t *f;

        if (!fn || !nd) {
                free(fn);
                if (nd)
                        p->defs = nd;
                return -1;
        }
        p->defs = nd;
        p->defs[p->ndefs].full_name = fn;
        p->defs[p->ndefs++].node = node;
        char *child_ns = strdup(fn);
        if (!child_ns)
                return -1;
        char *dot = strrchr(child_ns, '.');
        *(dot ? dot : child_ns) = '\0';
        int rc = 0;
        json_array_foreach(fields, i, f)
        {
                if (rc == 0)
                        rc = index_node(p, json_object_get(f, "type"), child_ns, depth + 1);
        }
        free(child_ns);
        return rc;
}

static int index_node(osh_schema_priv_t *p, json_t *node, const char *ns, int depth)
{
        size_t i;
        json_t *br;

        if (depth > RESOLVE_MAX_DEPTH)
                return -1;
        if (json_is_array(node)) {
                json_array_foreach(node, i, br)
                {
                        if (index_node(p, br, ns, depth + 1) < 0)
                                return -1;
                }
                return 0;
        }
        if (!json_is_object(node))
                return 0;
        if (json_is_string(json_object_get(node, "name")) &&
            json_is_string(json_object_get(node, "type")))
                return index_named(p, node, ns, depth);
        if (json_object_get(node, "items"))
                return index_node(p, json_object_get(node, "items"), ns, depth + 1);
        if (json_object_get(node, "values"))
                return index_node(p, json_object_get(node, "values"), ns, depth + 1);
        if (json_is_object(json_object_get(node, "type")))
                return index_node(p, json_object_get(node, "type"), ns, depth + 1);
        return 0;
}

int osh_serde_index_named(osh_schema_priv_t *p, char *errstr, size_t errstr_size)
{
        if (index_node(p, p->root, "", 0) < 0) {
                snprintf(errstr, errstr_size, "cannot index named types");
                return -1;
        }
        return 0;
}

/* JSON definition of a named avro schema: by full name, then by short name
 * (avro-c does not always record an inherited namespace). */
static json_t *find_def(const osh_schema_priv_t *p, avro_schema_t s)
{
        const char *name = avro_schema_name(s);
        const char *ns = avro_schema_namespace(s);
        char *fn;

        if (!name)
                return NULL;
        fn = qualify(name, ns ? ns : "");
        for (size_t i = 0; fn && i < p->ndefs; i++) {
                if (!strcmp(p->defs[i].full_name, fn)) {
                        free(fn);
                        return p->defs[i].node;
                }
        }
        free(fn);
        for (size_t i = 0; i < p->ndefs; i++) {
                const char *dot = strrchr(p->defs[i].full_name, '.');
                if (!strcmp(dot ? dot + 1 : p->defs[i].full_name, name))
                        return p->defs[i].node;
        }
        return NULL;
}

static json_t *field_default(const osh_schema_priv_t *p, avro_schema_t rec, const char *field)
{
        json_t *fields = json_object_get(find_def(p, rec), "fields");
        size_t i;
        json_t *f;

        json_array_foreach(fields, i, f)
        {
                if (json_is_string(json_object_get(f, "name")) &&
                    !strcmp(json_string_value(json_object_get(f, "name")), field))
                        return json_object_get(f, "default");
        }
        return NULL;
}

/* ---- defaults from JSON ------------------------------------------------ */

static int from_json(rctx_t *c, avro_value_t *v, json_t *j, int depth);

/* Avro encodes bytes/fixed defaults as strings of code points 0-255. */
static int json_bytes(rctx_t *c, json_t *j, unsigned char **out, size_t *len)
{
        const unsigned char *s = (const unsigned char *)json_string_value(j);
        size_t n = json_string_length(j), k = 0;
        unsigned char *b = malloc(n + 1);

        if (!b)
                return rfail(c, "out of memory");
        for (size_t i = 0; i < n; i++) {
                if (s[i] < 0x80) {
                        b[k++] = s[i];
                } else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n) {
                        b[k++] = (unsigned char)(((s[i] & 0x03) << 6) | (s[i + 1] & 0x3f));
                        i++;
                } else {
                        free(b);
                        return rfail(c, "bytes default has a code point above 255");
                }
        }
        *out = b;
        *len = k;
        return 0;
}

static int from_json_record(rctx_t *c, avro_value_t *v, json_t *j, int depth)
{
        avro_schema_t s = avro_value_get_schema(v);
        size_t n = avro_schema_record_size(s);

        if (!json_is_object(j))
                return rfail(c, "default for record %s is not an object", avro_schema_name(s));
        for (size_t i = 0; i < n; i++) {
                const char *name = avro_schema_record_field_name(s, (int)i);
                json_t *fj = json_object_get(j, name);
                avro_value_t fv;
                if (!fj)
                        fj = field_default(c->priv, s, name);
                if (!fj)
                        return rfail(c, "no default for field %s", name);
                if (avro_value_get_by_index(v, i, &fv, NULL) != 0 ||
                    from_json(c, &fv, fj, depth + 1) < 0)
                        return -1;
        }
        return 0;
}

static int from_json_collection(rctx_t *c, avro_value_t *v, json_t *j, int depth)
{
        avro_value_t child;
        const char *key;
        size_t i;
        json_t *item;

        if (avro_value_get_type(v) == AVRO_ARRAY) {
                if (!json_is_array(j))
                        return rfail(c, "array default is not an array");
                json_array_foreach(j, i, item)
                {
                        if (avro_value_append(v, &child, NULL) != 0 ||
                            from_json(c, &child, item, depth + 1) < 0)
                                return -1;
                }
                return 0;
        }
        if (!json_is_object(j))
                return rfail(c, "map default is not an object");
        json_object_foreach(j, key, item)
        {
                if (avro_value_add(v, key, &child, NULL, NULL) != 0 ||
                    from_json(c, &child, item, depth + 1) < 0)
                        return -1;
        }
        return 0;
}

static int from_json_binary(rctx_t *c, avro_value_t *v, json_t *j)
{
        unsigned char *b;
        size_t n;
        int rc;

        if (!json_is_string(j) || json_bytes(c, j, &b, &n) < 0)
                return rfail(c, "bad bytes/fixed default");
        if (avro_value_get_type(v) == AVRO_FIXED) {
                if ((int64_t)n != avro_schema_fixed_size(avro_value_get_schema(v)))
                        rc = rfail(c, "fixed default has the wrong size");
                else
                        rc = avro_value_set_fixed(v, b, n);
        } else {
                rc = avro_value_set_bytes(v, b, n);
        }
        free(b);
        return rc == 0 ? 0 : -1;
}

static int from_json(rctx_t *c, avro_value_t *v, json_t *j, int depth)
{
        avro_value_t br;
        int rc = -1;

        if (depth > RESOLVE_MAX_DEPTH)
                return rfail(c, "default nested too deeply");
        switch (avro_value_get_type(v)) {
        case AVRO_NULL:
                rc = json_is_null(j) ? avro_value_set_null(v) : -1;
                break;
        case AVRO_BOOLEAN:
                rc = json_is_boolean(j) ? avro_value_set_boolean(v, json_is_true(j)) : -1;
                break;
        case AVRO_INT32:
                if (json_is_integer(j) && json_integer_value(j) >= INT32_MIN &&
                    json_integer_value(j) <= INT32_MAX)
                        rc = avro_value_set_int(v, (int32_t)json_integer_value(j));
                break;
        case AVRO_INT64:
                rc = json_is_integer(j) ? avro_value_set_long(v, json_integer_value(j)) : -1;
                break;
        case AVRO_FLOAT:
                rc = json_is_number(j) ? avro_value_set_float(v, (float)json_number_value(j)) : -1;
                break;
        case AVRO_DOUBLE:
                rc = json_is_number(j) ? avro_value_set_double(v, json_number_value(j)) : -1;
                break;
        case AVRO_STRING:
                rc = json_is_string(j) ? avro_value_set_string(v, json_string_value(j)) : -1;
                break;
        case AVRO_BYTES:
        case AVRO_FIXED:
                return from_json_binary(c, v, j);
        case AVRO_ENUM: {
                int idx = json_is_string(j) ? avro_schema_enum_get_by_name(avro_value_get_schema(v),
                                                                           json_string_value(j))
                                            : -1;
                rc = idx >= 0 ? avro_value_set_enum(v, idx) : -1;
                break;
        }
        case AVRO_ARRAY:
        case AVRO_MAP:
                return from_json_collection(c, v, j, depth);
        case AVRO_RECORD:
                return from_json_record(c, v, j, depth);
        case AVRO_UNION: /* a union's default belongs to its first branch */
                if (avro_value_set_branch(v, 0, &br) != 0)
                        return rfail(c, "cannot select union branch");
                return from_json(c, &br, j, depth + 1);
        default:
                break;
        }
        if (rc != 0)
                return rfail(c, "default does not match type %s",
                             avro_schema_type_name(avro_value_get_schema(v)));
        return 0;
}

/* ---- writer value -> reader value -------------------------------------- */

static avro_schema_t unlink_schema(avro_schema_t s)
{
        while (s && avro_typeof(s) == AVRO_LINK)
                s = avro_schema_link_target(s);
        return s;
}

/* 2: same type (and name); 1: writer promotes to reader; 0: no match. */
static int match(avro_schema_t w, avro_schema_t r)
{
        avro_type_t wt = avro_typeof(w), rt = avro_typeof(r);

        if (wt == rt) {
                if (wt == AVRO_RECORD || wt == AVRO_ENUM || wt == AVRO_FIXED)
                        return strcmp(avro_schema_name(w), avro_schema_name(r)) == 0 ? 2 : 0;
                return 2;
        }
        switch (rt) {
        case AVRO_INT64:
                return wt == AVRO_INT32;
        case AVRO_FLOAT:
                return wt == AVRO_INT32 || wt == AVRO_INT64;
        case AVRO_DOUBLE:
                return wt == AVRO_INT32 || wt == AVRO_INT64 || wt == AVRO_FLOAT;
        case AVRO_STRING:
                return wt == AVRO_BYTES;
        case AVRO_BYTES:
                return wt == AVRO_STRING;
        default:
                return 0;
        }
}

static int copy(rctx_t *c, avro_value_t *w, avro_value_t *r, int depth);

static int copy_into_union(rctx_t *c, avro_value_t *w, avro_value_t *r, int depth)
{
        avro_schema_t ru = avro_value_get_schema(r);
        avro_schema_t ws = unlink_schema(avro_value_get_schema(w));
        int best = -1, best_q = 0;
        avro_value_t br;

        for (size_t i = 0; i < avro_schema_union_size(ru); i++) {
                int q = match(ws, unlink_schema(avro_schema_union_branch(ru, (int)i)));
                if (q > best_q) {
                        best_q = q;
                        best = (int)i;
                }
        }
        if (best < 0)
                return rfail(c, "no reader union branch for writer type %s",
                             avro_schema_type_name(ws));
        if (avro_value_set_branch(r, best, &br) != 0)
                return rfail(c, "cannot select union branch");
        return copy(c, w, &br, depth + 1);
}

static int copy_record(rctx_t *c, avro_value_t *w, avro_value_t *r, int depth)
{
        avro_schema_t rs = avro_value_get_schema(r);
        size_t n = avro_schema_record_size(rs);

        for (size_t i = 0; i < n; i++) {
                const char *name = avro_schema_record_field_name(rs, (int)i);
                avro_value_t wf, rf;
                json_t *def;
                if (avro_value_get_by_index(r, i, &rf, NULL) != 0)
                        return rfail(c, "cannot reach reader field %s", name);
                if (avro_value_get_by_name(w, name, &wf, NULL) == 0) {
                        if (copy(c, &wf, &rf, depth + 1) < 0)
                                return -1;
                        continue;
                }
                def = field_default(c->priv, rs, name);
                if (!def)
                        return rfail(c, "writer lacks field %s and reader has no default", name);
                if (from_json(c, &rf, def, depth + 1) < 0)
                        return -1;
        }
        return 0;
}

static int copy_collection(rctx_t *c, avro_value_t *w, avro_value_t *r, int depth)
{
        size_t n;
        avro_value_t wi, ri;
        const char *key;

        if (avro_value_get_size(w, &n) != 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (avro_value_get_by_index(w, i, &wi, &key) != 0)
                        return -1;
                int rc = avro_value_get_type(r) == AVRO_ARRAY
                             ? avro_value_append(r, &ri, NULL)
                             : avro_value_add(r, key, &ri, NULL, NULL);
                if (rc != 0 || copy(c, &wi, &ri, depth + 1) < 0)
                        return -1;
        }
        return 0;
}

static int copy_enum(rctx_t *c, avro_value_t *w, avro_value_t *r)
{
        avro_schema_t rs = avro_value_get_schema(r);
        int wi, ri;
        const char *sym;
        json_t *def;

        if (avro_value_get_enum(w, &wi) != 0)
                return -1;
        sym = avro_schema_enum_get(avro_value_get_schema(w), wi);
        ri = sym ? avro_schema_enum_get_by_name(rs, sym) : -1;
        if (ri < 0) {
                /* Unknown symbol: the reader enum's own "default", if any. */
                def = json_object_get(find_def(c->priv, rs), "default");
                ri = json_is_string(def) ? avro_schema_enum_get_by_name(rs, json_string_value(def))
                                         : -1;
        }
        if (ri < 0)
                return rfail(c, "enum symbol %s unknown to reader", sym ? sym : "?");
        return avro_value_set_enum(r, ri) == 0 ? 0 : -1;
}

static int copy_number(avro_value_t *w, avro_value_t *r)
{
        int32_t i32 = 0;
        int64_t i64 = 0;
        float f = 0;
        double d = 0;

        switch (avro_value_get_type(w)) {
        case AVRO_INT32:
                avro_value_get_int(w, &i32);
                i64 = i32;
                d = i32;
                break;
        case AVRO_INT64:
                avro_value_get_long(w, &i64);
                d = (double)i64;
                break;
        case AVRO_FLOAT:
                avro_value_get_float(w, &f);
                d = f;
                break;
        default:
                avro_value_get_double(w, &d);
                break;
        }
        switch (avro_value_get_type(r)) {
        case AVRO_INT32:
                return avro_value_set_int(r, i32);
        case AVRO_INT64:
                return avro_value_set_long(r, i64);
        case AVRO_FLOAT:
                return avro_value_set_float(r, avro_value_get_type(w) == AVRO_FLOAT ? f : (float)d);
        default:
                return avro_value_set_double(r, d);
        }
}

static int copy_binary(avro_value_t *w, avro_value_t *r)
{
        const void *p;
        const char *s;
        size_t n;

        if (avro_value_get_type(w) == AVRO_STRING) {
                if (avro_value_get_string(w, &s, &n) != 0)
                        return -1;
                if (avro_value_get_type(r) == AVRO_STRING)
                        return avro_value_set_string_len(r, s, n);
                return avro_value_set_bytes(r, (void *)s, n ? n - 1 : 0);
        }
        if (avro_value_get_type(w) == AVRO_FIXED) {
                if (avro_value_get_fixed(w, &p, &n) != 0)
                        return -1;
                return avro_value_set_fixed(r, (void *)p, n);
        }
        if (avro_value_get_bytes(w, &p, &n) != 0)
                return -1;
        if (avro_value_get_type(r) == AVRO_BYTES)
                return avro_value_set_bytes(r, (void *)p, n);
        char *z = malloc(n + 1);
        if (!z)
                return -1;
        memcpy(z, p, n);
        z[n] = '\0';
        int rc = avro_value_set_string_len(r, z, n + 1);
        free(z);
        return rc;
}

static int copy(rctx_t *c, avro_value_t *w, avro_value_t *r, int depth)
{
        avro_value_t wb;
        avro_type_t rt = avro_value_get_type(r);

        if (depth > RESOLVE_MAX_DEPTH)
                return rfail(c, "value nested too deeply");
        if (avro_value_get_type(w) == AVRO_UNION) {
                if (avro_value_get_current_branch(w, &wb) != 0)
                        return rfail(c, "writer union has no branch");
                return copy(c, &wb, r, depth + 1);
        }
        if (rt == AVRO_UNION)
                return copy_into_union(c, w, r, depth);
        if (!match(unlink_schema(avro_value_get_schema(w)),
                   unlink_schema(avro_value_get_schema(r))))
                return rfail(c, "writer type %s does not resolve to reader",
                             avro_schema_type_name(avro_value_get_schema(w)));
        switch (rt) {
        case AVRO_NULL:
                return avro_value_set_null(r) == 0 ? 0 : -1;
        case AVRO_BOOLEAN: {
                int b;
                return avro_value_get_boolean(w, &b) == 0 && avro_value_set_boolean(r, b) == 0 ? 0
                                                                                               : -1;
        }
        case AVRO_INT32:
        case AVRO_INT64:
        case AVRO_FLOAT:
        case AVRO_DOUBLE:
                return copy_number(w, r) == 0 ? 0 : -1;
        case AVRO_STRING:
        case AVRO_BYTES:
        case AVRO_FIXED:
                return copy_binary(w, r) == 0 ? 0 : -1;
        case AVRO_ENUM:
                return copy_enum(c, w, r);
        case AVRO_ARRAY:
        case AVRO_MAP:
                return copy_collection(c, w, r, depth);
        case AVRO_RECORD:
                return copy_record(c, w, r, depth);
        default:
                return rfail(c, "unsupported reader type %s",
                             avro_schema_type_name(avro_value_get_schema(r)));
        }
}

/* ---- fresh values ------------------------------------------------------ */

/* Declared defaults where the schema has them; otherwise the first union
 * branch, enum symbol 0, zeros. */
static int init_value(rctx_t *c, avro_value_t *v, int depth)
{
        avro_schema_t s = avro_value_get_schema(v);
        avro_value_t child;

        if (depth > RESOLVE_MAX_DEPTH)
                return rfail(c, "schema nested too deeply");
        switch (avro_value_get_type(v)) {
        case AVRO_UNION:
                if (avro_value_set_branch(v, 0, &child) != 0)
                        return rfail(c, "cannot select union branch");
                return init_value(c, &child, depth + 1);
        case AVRO_BYTES: /* avro-c cannot write a never-set (NULL) bytes value */
                return avro_value_set_bytes(v, (void *)"", 0) == 0 ? 0 : rfail(c, "out of memory");
        case AVRO_FIXED: {
                size_t n = (size_t)avro_schema_fixed_size(s);
                void *z = calloc(1, n ? n : 1);
                int rc = z ? avro_value_set_fixed(v, z, n) : -1;
                free(z);
                return rc == 0 ? 0 : rfail(c, "out of memory");
        }
        case AVRO_RECORD:
                for (size_t i = 0; i < avro_schema_record_size(s); i++) {
                        json_t *def =
                            field_default(c->priv, s, avro_schema_record_field_name(s, (int)i));
                        if (avro_value_get_by_index(v, i, &child, NULL) != 0)
                                return -1;
                        if (def ? from_json(c, &child, def, depth + 1)
                                : init_value(c, &child, depth + 1))
                                return -1;
                }
                return 0;
        default:
                return 0;
        }
}

int osh_serde_init_value(const osh_schema_t *s, avro_value_t *v, char *errstr, size_t errstr_size)
{
        rctx_t c = {.priv = s->priv, .errstr = errstr, .errstr_size = errstr_size};

        return init_value(&c, v, 0);
}

int osh_serde_resolve(const osh_schema_t *reader, avro_value_t *w, avro_value_t *r, char *errstr,
                      size_t errstr_size)
{
        rctx_t c = {.priv = reader->priv, .errstr = errstr, .errstr_size = errstr_size};

        return copy(&c, w, r, 0);
}
