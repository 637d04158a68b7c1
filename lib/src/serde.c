/* Schema registry and single-object encode/decode. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serde_internal.h"

typedef struct {
        osh_schema_t **v;
        size_t n, cap;
        int refs;
} registry_t;

static registry_t reg;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static void schema_free(osh_schema_t *s)
{
        if (!s)
                return;
        osh_schema_priv_t *p = s->priv;
        if (p) {
                for (size_t i = 0; i < p->ndefs; i++)
                        free(p->defs[i].full_name);
                free(p->defs);
                json_decref(p->root);
                free(p->json);
                free(p);
        }
        if (s->iface)
                avro_value_iface_decref(s->iface);
        if (s->avro)
                avro_schema_decref(s->avro);
        free((char *)s->name);
        free((char *)s->file);
        free((char *)s->topic);
        free((char *)s->pcf);
        free(s);
}

/* The full name as the PCF spells it; unnamed schemas are named by their PCF. */
static char *schema_full_name(json_t *root, const char *pcf)
{
        json_t *name = json_object_get(root, "name");
        json_t *ns = json_object_get(root, "namespace");
        const char *n, *space;

        if (!json_is_object(root) || !json_is_string(name))
                return strdup(pcf);
        n = json_string_value(name);
        space = json_is_string(ns) ? json_string_value(ns) : "";
        if (strchr(n, '.') || !*space)
                return strdup(n);
        size_t sz = strlen(space) + strlen(n) + 2;
        char *out = malloc(sz);
        if (out)
                snprintf(out, sz, "%s.%s", space, n);
        return out;
}

static char *topic_from_file(const char *file)
{
        const char *slash = strrchr(file, '/');
        const char *base = slash ? slash + 1 : file;
        size_t n = strlen(base);

        if (n > 5 && strcmp(base + n - 5, ".avsc") == 0)
                n -= 5;
        return strndup(base, n);
}

static int oom(const char *file, char *errstr, size_t errstr_size)
{
        snprintf(errstr, errstr_size, "%s: out of memory", file ? file : "(inline)");
        return -1;
}

static osh_schema_t *schema_build(const char *json, size_t len, const char *file, int current,
                                  char *errstr, size_t errstr_size)
{
        osh_schema_t *s = calloc(1, sizeof(*s));
        osh_schema_priv_t *p = calloc(1, sizeof(*p));
        json_error_t jerr;
        char err[256];

        if (!s || !p) {
                free(p);
                oom(file, errstr, errstr_size);
                goto fail;
        }
        s->priv = p;
        s->current = current;
        s->file = strdup(file ? file : "(inline)");
        p->json = malloc(len + 1); /* avro-c reads len bytes: keep any NUL inside */
        if (p->json) {
                memcpy(p->json, json, len);
                p->json[len] = '\0';
        }
        s->json = p->json;
        if (!s->file || !p->json) {
                oom(file, errstr, errstr_size);
                goto fail;
        }
        s->pcf = osh_avro_pcf(json, len, err, sizeof(err));
        if (!s->pcf) {
                snprintf(errstr, errstr_size, "%s: %s", s->file, err);
                goto fail;
        }
        s->fingerprint = osh_avro_crc64(s->pcf, strlen(s->pcf));
        /* PCF parsed the text already: from here only memory can fail. */
        p->root = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        s->name = p->root ? schema_full_name(p->root, s->pcf) : NULL;
        if (!s->name || (current && !(s->topic = topic_from_file(s->file)))) {
                oom(file, errstr, errstr_size);
                goto fail;
        }
        if (osh_serde_index_named(p, err, sizeof(err)) < 0) {
                snprintf(errstr, errstr_size, "%s: %s", s->file, err);
                goto fail;
        }
        /* avro-c leaves a freed schema in its out-parameter on failure. */
        avro_schema_t as = NULL;
        if (avro_schema_from_json_length(p->json, len, &as) == 0)
                s->avro = as;
        if (!s->avro || !(s->iface = avro_generic_class_from_schema(s->avro))) {
                snprintf(errstr, errstr_size, "%s: avro: %s", s->file, avro_strerror());
                goto fail;
        }
        return s;
fail:
        schema_free(s);
        return NULL;
}

static int registry_add(osh_schema_t *s, char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i < reg.n; i++) {
                if (reg.v[i]->fingerprint == s->fingerprint) {
                        snprintf(errstr, errstr_size, "%s: same fingerprint as %s", s->file,
                                 reg.v[i]->file);
                        return -1;
                }
                if (s->current && reg.v[i]->current && !strcmp(reg.v[i]->name, s->name)) {
                        snprintf(errstr, errstr_size, "%s: %s already has a current version (%s)",
                                 s->file, s->name, reg.v[i]->file);
                        return -1;
                }
        }
        if (reg.n == reg.cap) {
                size_t cap = reg.cap ? reg.cap * 2 : 32;
                osh_schema_t **nv = realloc(reg.v, cap * sizeof(*nv));
                if (!nv) {
                        snprintf(errstr, errstr_size, "out of memory");
                        return -1;
                }
                reg.v = nv;
                reg.cap = cap;
        }
        reg.v[reg.n++] = s;
        return 0;
}

static void registry_clear(void)
{
        for (size_t i = 0; i < reg.n; i++)
                schema_free(reg.v[i]);
        free(reg.v);
        memset(&reg, 0, sizeof(reg));
}

static const osh_schema_t *register_locked(const char *json, size_t len, const char *file,
                                           int current, char *errstr, size_t errstr_size)
{
        osh_schema_t *s = schema_build(json, len, file, current, errstr, errstr_size);

        if (!s)
                return NULL;
        if (registry_add(s, errstr, errstr_size) < 0) {
                schema_free(s);
                return NULL;
        }
        return s;
}

int osh_serde_init(char *errstr, size_t errstr_size)
{
        int rc = 0;

        pthread_mutex_lock(&reg_lock);
        if (reg.refs == 0) {
                for (size_t i = 0; i < osh_embedded_schema_count; i++) {
                        const struct osh_embedded_file *f = &osh_embedded_schemas[i];
                        if (!register_locked(f->text, f->len, f->name, !f->compat, errstr,
                                             errstr_size)) {
                                registry_clear();
                                rc = -1;
                                break;
                        }
                }
        }
        if (rc == 0)
                reg.refs++;
        pthread_mutex_unlock(&reg_lock);
        return rc;
}

void osh_serde_shutdown(void)
{
        pthread_mutex_lock(&reg_lock);
        if (reg.refs > 0 && --reg.refs == 0)
                registry_clear();
        pthread_mutex_unlock(&reg_lock);
}

const osh_schema_t *osh_serde_register(const char *json, size_t len, const char *file, int current,
                                       char *errstr, size_t errstr_size)
{
        const osh_schema_t *s = NULL;

        pthread_mutex_lock(&reg_lock);
        if (reg.refs == 0)
                snprintf(errstr, errstr_size, "serde not initialised");
        else
                s = register_locked(json, len, file, current, errstr, errstr_size);
        pthread_mutex_unlock(&reg_lock);
        return s;
}

const osh_schema_t *osh_schema_get(const char *full_name)
{
        for (size_t i = 0; full_name && i < reg.n; i++)
                if (reg.v[i]->current && !strcmp(reg.v[i]->name, full_name))
                        return reg.v[i];
        return NULL;
}

const osh_schema_t *osh_schema_for_topic(const char *topic)
{
        for (size_t i = 0; topic && i < reg.n; i++)
                if (reg.v[i]->topic && !strcmp(reg.v[i]->topic, topic))
                        return reg.v[i];
        return NULL;
}

const osh_schema_t *osh_schema_by_fingerprint(uint64_t fingerprint)
{
        for (size_t i = 0; i < reg.n; i++)
                if (reg.v[i]->fingerprint == fingerprint)
                        return reg.v[i];
        return NULL;
}

size_t osh_schema_count(void)
{
        return reg.n;
}

const osh_schema_t *osh_schema_at(size_t i)
{
        return i < reg.n ? reg.v[i] : NULL;
}

/* ---- encode / decode --------------------------------------------------- */

int osh_value_new(const osh_schema_t *s, avro_value_t *out)
{
        char err[128];

        if (!s || !out || avro_generic_value_new(s->iface, out) != 0)
                return -1;
        if (osh_serde_init_value(s, out, err, sizeof(err)) < 0) {
                avro_value_decref(out);
                return -1;
        }
        return 0;
}

int osh_value_append(const osh_schema_t *s, avro_value_t *array, avro_value_t *item)
{
        char err[128];

        if (!s || avro_value_get_type(array) != AVRO_ARRAY ||
            avro_value_append(array, item, NULL) != 0)
                return -1;
        return osh_serde_init_value(s, item, err, sizeof(err));
}

int osh_value_add(const osh_schema_t *s, avro_value_t *map, const char *key, avro_value_t *item)
{
        char err[128];

        if (!s || !key || avro_value_get_type(map) != AVRO_MAP ||
            avro_value_add(map, key, item, NULL, NULL) != 0)
                return -1;
        return osh_serde_init_value(s, item, err, sizeof(err));
}

static void put_header(unsigned char *p, uint64_t fp)
{
        p[0] = OSH_SERDE_MAGIC0;
        p[1] = OSH_SERDE_MAGIC1;
        for (int i = 0; i < 8; i++)
                p[2 + i] = (unsigned char)(fp >> (8 * i));
}

static int encoded_size(const osh_schema_t *s, avro_value_t *v, size_t *need, char *errstr,
                        size_t errstr_size)
{
        avro_schema_t vs;
        size_t dsz;

        if (!s || !v) {
                snprintf(errstr, errstr_size, "encode: no schema or value");
                return -1;
        }
        vs = avro_value_get_schema(v);
        if (vs != s->avro && !avro_schema_equal(vs, s->avro)) {
                snprintf(errstr, errstr_size, "encode: value is not a %s", s->name);
                return -1;
        }
        if (avro_value_sizeof(v, &dsz) != 0) {
                snprintf(errstr, errstr_size, "encode %s: %s", s->name, avro_strerror());
                return -1;
        }
        *need = OSH_SERDE_HEADER_LEN + dsz;
        return 0;
}

int osh_serde_encode(const osh_schema_t *s, avro_value_t *v, void *buf, size_t buf_size,
                     size_t *out_len, char *errstr, size_t errstr_size)
{
        size_t need;
        avro_writer_t w;
        int rc;

        if (encoded_size(s, v, &need, errstr, errstr_size) < 0)
                return -1;
        if (out_len)
                *out_len = need;
        if (!buf || buf_size < need) {
                snprintf(errstr, errstr_size, "encode %s: buffer of %zu bytes, need %zu", s->name,
                         buf_size, need);
                return -1;
        }
        put_header(buf, s->fingerprint);
        w = avro_writer_memory((char *)buf + OSH_SERDE_HEADER_LEN,
                               (int64_t)(need - OSH_SERDE_HEADER_LEN));
        if (!w) {
                snprintf(errstr, errstr_size, "encode %s: out of memory", s->name);
                return -1;
        }
        rc = avro_value_write(w, v);
        avro_writer_free(w);
        if (rc != 0) {
                snprintf(errstr, errstr_size, "encode %s: %s", s->name, avro_strerror());
                return -1;
        }
        return 0;
}

int osh_serde_encode_alloc(const osh_schema_t *s, avro_value_t *v, void **out, size_t *out_len,
                           char *errstr, size_t errstr_size)
{
        size_t need;
        void *buf;

        *out = NULL;
        if (encoded_size(s, v, &need, errstr, errstr_size) < 0)
                return -1;
        buf = malloc(need);
        if (!buf) {
                snprintf(errstr, errstr_size, "encode %s: out of memory", s->name);
                return -1;
        }
        if (osh_serde_encode(s, v, buf, need, out_len, errstr, errstr_size) < 0) {
                free(buf);
                return -1;
        }
        *out = buf;
        return 0;
}

int osh_serde_peek_fingerprint(const void *buf, size_t len, uint64_t *fingerprint)
{
        const unsigned char *p = buf;
        uint64_t fp = 0;

        if (!buf || len < OSH_SERDE_HEADER_LEN || p[0] != OSH_SERDE_MAGIC0 ||
            p[1] != OSH_SERDE_MAGIC1)
                return -1;
        for (int i = 7; i >= 0; i--)
                fp = (fp << 8) | p[2 + i];
        *fingerprint = fp;
        return 0;
}

/* Reads the validated datum with the writer schema's class. */
static int read_datum(const osh_schema_t *w, const char *data, size_t len, avro_value_t *out,
                      char *errstr, size_t errstr_size)
{
        avro_reader_t r = avro_reader_memory(data, (int64_t)len);
        int rc;

        if (!r || avro_generic_value_new(w->iface, out) != 0) {
                if (r)
                        avro_reader_free(r);
                snprintf(errstr, errstr_size, "decode %s: out of memory", w->name);
                return -1;
        }
        rc = avro_value_read(r, out);
        avro_reader_free(r);
        if (rc != 0) {
                snprintf(errstr, errstr_size, "decode %s: %s", w->name, avro_strerror());
                avro_value_decref(out);
                return -1;
        }
        return 0;
}

int osh_serde_decode(const osh_schema_t *reader, const void *buf, size_t len, avro_value_t *out,
                     const osh_schema_t **writer_out, char *errstr, size_t errstr_size)
{
        const unsigned char *p = buf;
        const osh_schema_t *w;
        avro_value_t wv;
        uint64_t fp;
        char err[256];

        if (!buf || len < OSH_SERDE_HEADER_LEN) {
                snprintf(errstr, errstr_size, "decode: truncated header (%zu bytes)", len);
                return -1;
        }
        if (osh_serde_peek_fingerprint(buf, len, &fp) < 0) {
                snprintf(errstr, errstr_size, "decode: bad magic %02x %02x", p[0], p[1]);
                return -1;
        }
        w = osh_schema_by_fingerprint(fp);
        if (!w) {
                snprintf(errstr, errstr_size, "decode: unknown schema fingerprint %016" PRIx64, fp);
                return -1;
        }
        if (!reader)
                reader = osh_schema_get(w->name) ? osh_schema_get(w->name) : w;
        if (w != reader && strcmp(w->name, reader->name) != 0) {
                snprintf(errstr, errstr_size, "decode: record is %s, expected %s", w->name,
                         reader->name);
                return -1;
        }
        if (osh_serde_validate_datum(w->avro, p + OSH_SERDE_HEADER_LEN, len - OSH_SERDE_HEADER_LEN,
                                     err, sizeof(err)) < 0) {
                snprintf(errstr, errstr_size, "decode %s: %s", w->name, err);
                return -1;
        }
        if (read_datum(w, (const char *)p + OSH_SERDE_HEADER_LEN, len - OSH_SERDE_HEADER_LEN,
                       w == reader ? out : &wv, errstr, errstr_size) < 0)
                return -1;
        if (w != reader) {
                int rc = -1;
                /* Bare value: resolve sets every field, defaults included. */
                if (avro_generic_value_new(reader->iface, out) == 0) {
                        rc = osh_serde_resolve(reader, &wv, out, err, sizeof(err));
                        if (rc < 0) {
                                snprintf(errstr, errstr_size, "decode %s from %s: %s", reader->name,
                                         w->file, err);
                                avro_value_decref(out);
                        }
                } else {
                        snprintf(errstr, errstr_size, "decode %s: out of memory", reader->name);
                }
                avro_value_decref(&wv);
                if (rc < 0)
                        return -1;
        }
        if (writer_out)
                *writer_out = w;
        return 0;
}
