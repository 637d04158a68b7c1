/* Avro Parsing Canonical Form and the CRC-64-AVRO (Rabin) fingerprint, per
 * the "Schema Resolution / Parsing Canonical Form" section of the Avro 1.11
 * specification. avro-c has neither. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "oshirase/serde.h"

#define PCF_MAX_DEPTH 64

static uint64_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void)
{
        for (int i = 0; i < 256; i++) {
                uint64_t fp = (uint64_t)i;
                for (int j = 0; j < 8; j++)
                        fp = (fp >> 1) ^ (OSH_CRC64_EMPTY & -(fp & 1));
                crc_table[i] = fp;
        }
}

uint64_t osh_avro_crc64(const void *data, size_t len)
{
        const unsigned char *p = data;
        uint64_t fp = OSH_CRC64_EMPTY;

        pthread_once(&crc_once, crc_table_init);
        for (size_t i = 0; i < len; i++)
                fp = (fp >> 8) ^ crc_table[(fp ^ p[i]) & 0xff];
        return fp;
}

/* ---- output buffer ----------------------------------------------------- */

typedef struct {
        char *p;
        size_t len, cap;
        int oom;
        char *errstr;
        size_t errstr_size;
} pcf_buf_t;

static void buf_add(pcf_buf_t *b, const char *s, size_t n)
{
        if (b->oom)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *np = realloc(b->p, cap);
                if (!np) {
                        b->oom = 1;
                        return;
                }
                b->p = np;
                b->cap = cap;
        }
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void buf_str(pcf_buf_t *b, const char *s)
{
        buf_add(b, s, strlen(s));
}

/* STRINGS: escapes are resolved to UTF-8; only what JSON requires is
 * escaped again. */
static void buf_quoted(pcf_buf_t *b, const char *s)
{
        buf_add(b, "\"", 1);
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                char esc[8];
                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char)c;
                        buf_add(b, esc, 2);
                } else if (c < 0x20) {
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        buf_add(b, esc, 6);
                } else {
                        buf_add(b, s, 1);
                }
        }
        buf_add(b, "\"", 1);
}

/* ---- canonicalisation -------------------------------------------------- */

static const char *const primitives[] = {"null",  "boolean", "int",   "long",
                                         "float", "double",  "bytes", "string"};

static int is_primitive(const char *s)
{
        for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
                if (strcmp(s, primitives[i]) == 0)
                        return 1;
        return 0;
}

static int pcf_fail(pcf_buf_t *b, const char *msg)
{
        if (b->errstr_size)
                snprintf(b->errstr, b->errstr_size, "schema: %s", msg);
        return -1;
}

/* FULLNAMES: name with a dot is already full; otherwise qualify it with
 * the explicit or inherited namespace. Result is malloc()ed. */
static char *full_name(const char *name, const char *ns)
{
        size_t nl = strlen(name), sl = ns ? strlen(ns) : 0;
        char *out = malloc(nl + sl + 2);

        if (!out)
                return NULL;
        if (strchr(name, '.') || sl == 0)
                memcpy(out, name, nl + 1);
        else
                snprintf(out, nl + sl + 2, "%s.%s", ns, name);
        return out;
}

static int canon(pcf_buf_t *b, json_t *node, const char *ns, int depth);

static int canon_name_ref(pcf_buf_t *b, const char *name, const char *ns)
{
        if (is_primitive(name)) {
                buf_quoted(b, name);
                return 0;
        }
        char *fn = full_name(name, ns);
        if (!fn)
                return pcf_fail(b, "out of memory");
        buf_quoted(b, fn);
        free(fn);
        return 0;
}

static int canon_fields(pcf_buf_t *b, json_t *fields, const char *ns, int depth)
{
        size_t i;
        json_t *f;

        if (!json_is_array(fields))
                return pcf_fail(b, "record \"fields\" must be an array");
        buf_str(b, ",\"fields\":[");
        json_array_foreach(fields, i, f)
        {
                json_t *fname = json_object_get(f, "name");
                json_t *ftype = json_object_get(f, "type");
                if (!json_is_string(fname) || !ftype)
                        return pcf_fail(b, "record field needs a name and a type");
                buf_str(b, i ? ",{\"name\":" : "{\"name\":");
                buf_quoted(b, json_string_value(fname));
                buf_str(b, ",\"type\":");
                if (canon(b, ftype, ns, depth + 1) < 0)
                        return -1;
                buf_str(b, "}");
        }
        buf_str(b, "]");
        return 0;
}

static int canon_symbols(pcf_buf_t *b, json_t *symbols)
{
        size_t i;
        json_t *s;

        if (!json_is_array(symbols))
                return pcf_fail(b, "enum \"symbols\" must be an array");
        buf_str(b, ",\"symbols\":[");
        json_array_foreach(symbols, i, s)
        {
                if (!json_is_string(s))
                        return pcf_fail(b, "enum symbols must be strings");
                if (i)
                        buf_str(b, ",");
                buf_quoted(b, json_string_value(s));
        }
        buf_str(b, "]");
        return 0;
}

/* record, enum, fixed: {"name":<full>,"type":..., then their own key}. */
static int canon_named(pcf_buf_t *b, json_t *node, const char *type, const char *ns, int depth)
{
        json_t *jname = json_object_get(node, "name");
        json_t *jns = json_object_get(node, "namespace");
        int rc = -1;

        if (!json_is_string(jname))
                return pcf_fail(b, "named type without a string \"name\"");
        if (json_is_string(jns))
                ns = json_string_value(jns);
        char *fn = full_name(json_string_value(jname), ns);
        if (!fn)
                return pcf_fail(b, "out of memory");
        buf_str(b, "{\"name\":");
        buf_quoted(b, fn);
        buf_str(b, ",\"type\":");
        buf_quoted(b, type);
        if (strcmp(type, "enum") == 0) {
                rc = canon_symbols(b, json_object_get(node, "symbols"));
        } else if (strcmp(type, "fixed") == 0) {
                json_t *size = json_object_get(node, "size");
                char num[32];
                if (!json_is_integer(size) || json_integer_value(size) < 0) {
                        rc = pcf_fail(b, "fixed \"size\" must be a non-negative integer");
                } else {
                        /* INTEGERS: no leading zeros or signs. */
                        snprintf(num, sizeof(num), ",\"size\":%" JSON_INTEGER_FORMAT,
                                 json_integer_value(size));
                        buf_str(b, num);
                        rc = 0;
                }
        } else {
                /* Nested definitions inherit the record's namespace. */
                char *dot = strrchr(fn, '.');
                if (dot)
                        *dot = '\0';
                rc = canon_fields(b, json_object_get(node, "fields"), dot ? fn : "", depth);
        }
        free(fn);
        if (rc == 0)
                buf_str(b, "}");
        return rc;
}

static int canon_object(pcf_buf_t *b, json_t *node, const char *ns, int depth)
{
        json_t *jtype = json_object_get(node, "type");

        if (!jtype)
                return pcf_fail(b, "object without \"type\"");
        if (!json_is_string(jtype))
                return canon(b, jtype, ns, depth + 1);
        const char *type = json_string_value(jtype);
        /* PRIMITIVES (and STRIP: logicalType etc. vanish with the object). */
        if (is_primitive(type)) {
                buf_quoted(b, type);
                return 0;
        }
        if (!strcmp(type, "record") || !strcmp(type, "error") || !strcmp(type, "enum") ||
            !strcmp(type, "fixed"))
                return canon_named(b, node, type, ns, depth);
        if (!strcmp(type, "array") || !strcmp(type, "map")) {
                int arr = type[0] == 'a';
                json_t *sub = json_object_get(node, arr ? "items" : "values");
                if (!sub)
                        return pcf_fail(b,
                                        arr ? "array without \"items\"" : "map without \"values\"");
                buf_str(b,
                        arr ? "{\"type\":\"array\",\"items\":" : "{\"type\":\"map\",\"values\":");
                if (canon(b, sub, ns, depth + 1) < 0)
                        return -1;
                buf_str(b, "}");
                return 0;
        }
        return canon_name_ref(b, type, ns);
}

static int canon(pcf_buf_t *b, json_t *node, const char *ns, int depth)
{
        if (depth > PCF_MAX_DEPTH)
                return pcf_fail(b, "nested too deeply");
        if (json_is_string(node))
                return canon_name_ref(b, json_string_value(node), ns);
        if (json_is_object(node))
                return canon_object(b, node, ns, depth);
        if (json_is_array(node)) {
                size_t i;
                json_t *br;
                buf_str(b, "[");
                json_array_foreach(node, i, br)
                {
                        if (i)
                                buf_str(b, ",");
                        if (canon(b, br, ns, depth + 1) < 0)
                                return -1;
                }
                buf_str(b, "]");
                return 0;
        }
        return pcf_fail(b, "schema must be a string, object or array");
}

char *osh_avro_pcf(const char *json, size_t len, char *errstr, size_t errstr_size)
{
        pcf_buf_t b = {.errstr = errstr, .errstr_size = errstr_size};
        json_error_t jerr;
        json_t *root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

        if (!root) {
                snprintf(errstr, errstr_size, "schema JSON line %d: %s", jerr.line, jerr.text);
                return NULL;
        }
        if (canon(&b, root, "", 0) < 0)
                goto fail;
        if (b.oom) {
                pcf_fail(&b, "out of memory");
                goto fail;
        }
        json_decref(root);
        return b.p;
fail:
        json_decref(root);
        free(b.p);
        return NULL;
}
