/* Attribute dictionary loader: TSV, validated line by line. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "dict_seal.h"
#include "oshirase/grow.h"
#include "oshirase/dictionary.h"
#include "oshirase/sha256.h"
#include "serde_internal.h"

#define DICT_MAX_FILE (4u << 20)

struct osh_dict {
        osh_dict_entry_t *e;
        size_t n, cap;
        int layout;
        size_t nflags, nvalues;
};

static const char *const type_names[] = {"flag", "int", "yearmonth", "code", "field"};

const char *osh_dict_type_name(osh_dict_type_t t)
{
        return (unsigned)t < sizeof(type_names) / sizeof(type_names[0]) ? type_names[t] : "?";
}

int osh_dict_type_parse(const char *s, osh_dict_type_t *out)
{
        for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
                if (strcmp(s, type_names[i]) == 0) {
                        *out = (osh_dict_type_t)i;
                        return 0;
                }
        }
        return -1;
}

int osh_dict_type_is_value(osh_dict_type_t t)
{
        return t == OSH_DICT_INT || t == OSH_DICT_YEARMONTH || t == OSH_DICT_CODE;
}

void osh_dict_destroy(osh_dict_t *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->n; i++) {
                free((char *)d->e[i].name);
                free((char *)d->e[i].label);
                free((char *)d->e[i].field);
        }
        free(d->e);
        free(d);
}

static int valid_name(const char *s)
{
        if (!(*s >= 'a' && *s <= 'z'))
                return 0;
        for (s++; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
                        return 0;
        return 1;
}

static int parse_position(const char *s, int *out)
{
        char *end;
        long v;

        if (!(*s >= '0' && *s <= '9'))
                return -1;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v > OSH_DICT_MAX_POSITION)
                return -1;
        *out = (int)v;
        return 0;
}

/* Splits a line in place on tabs; returns the number of columns. */
static int split_tabs(char *line, char **cols, int max)
{
        int n = 0;

        cols[n++] = line;
        for (char *p = line; *p && n < max; p++) {
                if (*p == '\t') {
                        *p = '\0';
                        cols[n++] = p + 1;
                }
        }
        return n;
}

static int check_unique(const osh_dict_t *d, const osh_dict_entry_t *e, char *err, size_t sz)
{
        for (size_t i = 0; i < d->n; i++) {
                const osh_dict_entry_t *o = &d->e[i];
                if (!strcmp(o->name, e->name)) {
                        snprintf(err, sz, "duplicate name \"%s\" (first on line %d)", e->name,
                                 o->line);
                        return -1;
                }
                int same_kind =
                    (o->type == OSH_DICT_FLAG && e->type == OSH_DICT_FLAG) ||
                    (osh_dict_type_is_value(o->type) && osh_dict_type_is_value(e->type));
                if (same_kind && o->position == e->position) {
                        snprintf(err, sz, "%s position %d already used by \"%s\" (line %d)",
                                 e->type == OSH_DICT_FLAG ? "flag" : "value", e->position, o->name,
                                 o->line);
                        return -1;
                }
                if (e->field && o->field && !strcmp(o->field, e->field)) {
                        snprintf(err, sz, "field \"%s\" already used by \"%s\" (line %d)", e->field,
                                 o->name, o->line);
                        return -1;
                }
        }
        return 0;
}

static int add_entry(osh_dict_t *d, char **cols, int line, char *err, size_t sz)
{
        osh_dict_entry_t e = {.line = line, .position = -1};

        if (!valid_name(cols[0])) {
                snprintf(err, sz, "bad name \"%s\" (want [a-z][a-z0-9_]*)", cols[0]);
                return -1;
        }
        if (osh_dict_type_parse(cols[1], &e.type) < 0) {
                snprintf(err, sz, "unknown type \"%s\"", cols[1]);
                return -1;
        }
        if (e.type == OSH_DICT_FIELD ? !valid_name(cols[2])
                                     : parse_position(cols[2], &e.position) < 0) {
                snprintf(err, sz, "bad position \"%s\" for type %s", cols[2], cols[1]);
                return -1;
        }
        if (!*cols[3]) {
                snprintf(err, sz, "empty label");
                return -1;
        }
        e.name = cols[0];
        e.field = e.type == OSH_DICT_FIELD ? cols[2] : NULL;
        if (check_unique(d, &e, err, sz) < 0)
                return -1;
        if (osh_grow(&d->e, &d->cap, d->n, sizeof(*d->e), 64))
                goto oom;
        e.name = strdup(cols[0]);
        e.label = strdup(cols[3]);
        e.field = e.field ? strdup(e.field) : NULL;
        d->e[d->n++] = e; /* owned by d from here, even if a strdup failed */
        if (!e.name || !e.label || (e.type == OSH_DICT_FIELD && !e.field))
                goto oom;
        if (e.type == OSH_DICT_FLAG && (size_t)e.position + 1 > d->nflags)
                d->nflags = (size_t)e.position + 1;
        if (osh_dict_type_is_value(e.type) && (size_t)e.position + 1 > d->nvalues)
                d->nvalues = (size_t)e.position + 1;
        return 0;
oom:
        snprintf(err, sz, "out of memory");
        return -1;
}

static int parse_line(osh_dict_t *d, char *line, int lineno, char *err, size_t sz)
{
        char *cols[5];
        size_t n = strlen(line);
        int ncols;

        if (n && line[n - 1] == '\r')
                line[--n] = '\0';
        if (n == 0 || line[0] == '#')
                return 0;
        ncols = split_tabs(line, cols, 5);
        if (strcmp(cols[0], "@layout") == 0) {
                if (ncols != 2 || parse_position(cols[1], &d->layout) < 0 || d->layout < 1) {
                        snprintf(err, sz, "bad @layout line");
                        return -1;
                }
                return 0;
        }
        if (ncols != 4) {
                snprintf(err, sz, "want 4 tab-separated columns, got %d", ncols);
                return -1;
        }
        return add_entry(d, cols, lineno, err, sz);
}

osh_dict_t *osh_dict_parse(const char *text, size_t len, const char *origin, char *errstr,
                           size_t errstr_size)
{
        osh_dict_t *d = calloc(1, sizeof(*d));
        char *copy = malloc(len + 1);
        char err[256] = "";
        int lineno = 0;

        if (!d || !copy) {
                snprintf(errstr, errstr_size, "%s: out of memory", origin);
                goto fail;
        }
        d->layout = 1;
        memcpy(copy, text, len);
        copy[len] = '\0';
        if (memchr(copy, '\0', len)) {
                snprintf(errstr, errstr_size, "%s: contains a NUL byte", origin);
                goto fail;
        }
        for (char *line = copy, *next; line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = '\0';
                lineno++;
                if (parse_line(d, line, lineno, err, sizeof(err)) < 0) {
                        snprintf(errstr, errstr_size, "%s:%d: %s", origin, lineno, err);
                        goto fail;
                }
        }
        if (d->n == 0) {
                snprintf(errstr, errstr_size, "%s: no entries", origin);
                goto fail;
        }
        free(copy);
        return d;
fail:
        free(copy);
        osh_dict_destroy(d);
        return NULL;
}

/* Reads a whole (small) file into a malloc()ed buffer. */
static char *read_small_file(const char *path, size_t *n, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;

        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        buf = malloc(DICT_MAX_FILE + 1);
        if (!buf) {
                snprintf(errstr, errstr_size, "%s: out of memory", path);
                goto fail;
        }
        *n = fread(buf, 1, DICT_MAX_FILE + 1, fp);
        if (ferror(fp) || *n > DICT_MAX_FILE) {
                snprintf(errstr, errstr_size, "%s: %s", path,
                         ferror(fp) ? "read error" : "larger than 4 MiB");
                free(buf);
                buf = NULL;
        }
fail:
        fclose(fp);
        return buf;
}

osh_dict_t *osh_dict_load(const char *path, char *errstr, size_t errstr_size)
{
        size_t n = 0;
        char *buf = read_small_file(path, &n, errstr, errstr_size);
        osh_dict_t *d = NULL;

        if (!buf)
                return NULL;
        if (n >= DICT_SEAL_MAGIC_LEN && !memcmp(buf, DICT_SEAL_MAGIC, DICT_SEAL_MAGIC_LEN))
                snprintf(errstr, errstr_size, "%s: sealed dictionary: a key file is needed", path);
        else
                d = osh_dict_parse(buf, n, path, errstr, errstr_size);
        free(buf);
        return d;
}

int osh_dict_read_key(const char *key_file, uint8_t key[32], char *errstr, size_t errstr_size)
{
        size_t n = 0, len = 0;
        char *buf = read_small_file(key_file, &n, errstr, errstr_size);
        int rc = -1;

        if (!buf)
                return -1;
        while (n > 0 && isspace((unsigned char)buf[n - 1]))
                n--;
        buf[n] = '\0';
        if (osh_hex_decode(buf, key, 32, &len) || len != 32)
                snprintf(errstr, errstr_size, "%s: not a 32-byte key in hex", key_file);
        else
                rc = 0;
        free(buf);
        return rc;
}

osh_dict_t *osh_dict_load_sealed(const char *path, const char *key_file, char *errstr,
                                 size_t errstr_size)
{
        uint8_t key[32], *plain = NULL;
        size_t n = 0, plain_len = 0;
        char *buf = NULL;
        osh_dict_t *d = NULL;

        if (osh_dict_read_key(key_file, key, errstr, errstr_size))
                return NULL;
        buf = read_small_file(path, &n, errstr, errstr_size);
        if (buf && osh_dict_unseal((const uint8_t *)buf, n, key, &plain, &plain_len) == 0)
                d = osh_dict_parse((const char *)plain, plain_len, path, errstr, errstr_size);
        else if (buf)
                snprintf(errstr, errstr_size, "%s: not a sealed dictionary, wrong key or altered",
                         path);
        OPENSSL_cleanse(key, sizeof(key));
        if (plain)
                OPENSSL_cleanse(plain, plain_len);
        free(plain);
        free(buf);
        return d;
}

osh_dict_t *osh_dict_load_default(char *errstr, size_t errstr_size)
{
        return osh_dict_parse(osh_embedded_dictionary, osh_embedded_dictionary_len,
                              "(built-in dictionary.tsv)", errstr, errstr_size);
}

const osh_dict_entry_t *osh_dict_find(const osh_dict_t *d, const char *name)
{
        for (size_t i = 0; d && name && i < d->n; i++)
                if (!strcmp(d->e[i].name, name))
                        return &d->e[i];
        return NULL;
}

size_t osh_dict_count(const osh_dict_t *d)
{
        return d ? d->n : 0;
}

const osh_dict_entry_t *osh_dict_at(const osh_dict_t *d, size_t i)
{
        return d && i < d->n ? &d->e[i] : NULL;
}

int osh_dict_layout(const osh_dict_t *d)
{
        return d ? d->layout : 0;
}

size_t osh_dict_flag_count(const osh_dict_t *d)
{
        return d ? d->nflags : 0;
}

size_t osh_dict_value_count(const osh_dict_t *d)
{
        return d ? d->nvalues : 0;
}

size_t osh_dict_flag_bytes(const osh_dict_t *d)
{
        return (osh_dict_flag_count(d) + 7) / 8;
}

int osh_flags_get(const uint8_t *flags, size_t len, int bit)
{
        if (!flags || bit < 0 || (size_t)bit / 8 >= len)
                return 0;
        return (flags[bit / 8] >> (bit % 8)) & 1;
}

int osh_flags_set(uint8_t *flags, size_t len, int bit, int on)
{
        if (!flags || bit < 0 || (size_t)bit / 8 >= len)
                return -1;
        if (on)
                flags[bit / 8] |= (uint8_t)(1u << (bit % 8));
        else
                flags[bit / 8] &= (uint8_t) ~(1u << (bit % 8));
        return 0;
}
