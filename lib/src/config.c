/* Table-driven configuration. Each key keeps one value per source (file,
 * env, flag) so precedence does not depend on the order sources are read,
 * and every value is validated when it is set, so a bad value is reported
 * with its origin even when a higher-precedence source overrides it. */
#include "oshirase/grow.h"
#include "oshirase/config.h"
#include "oshirase/log.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef OSH_VERSION
#define OSH_VERSION "0.0.0"
#endif

#define CFG_FILE_MAX (1024 * 1024) /* a config file is a few lines; refuse junk */
#define VAL_FMT      "\"%.64s\""   /* quote values in errors, bounded */

extern char **environ;

enum { SRC_DEFAULT, SRC_FILE, SRC_ENV, SRC_FLAG, SRC_N };
static const char *const src_names[SRC_N] = {"default", "file", "env", "flag"};

/* Parser results: syntax error vs. out of int64 range. */
enum { PARSE_OK = 0, PARSE_SYNTAX = -1, PARSE_RANGE = -2 };

static const osh_cfg_entry_t common[] = {
    {"config", OSH_CFG_STR, NULL, "OSH_CONFIG", "path of a \"key = value\" configuration file"},
    {"log.level", OSH_CFG_STR, "info", "OSH_LOG_LEVEL", "log level: debug, info, warn or error"},
    {"log.format", OSH_CFG_STR, "text", "OSH_LOG_FORMAT", "log format: text or json"},
    {"instance", OSH_CFG_STR, NULL, "OSH_INSTANCE",
     "instance name in logs and heartbeats (default: program name)"},
    {"segment", OSH_CFG_STR, NULL, "OSH_SEGMENT",
     "network segment: core, processing, exchange or cloud"},
    {"heartbeat.interval", OSH_CFG_DURATION_MS, "5s", "OSH_HEARTBEAT_INTERVAL",
     "interval between heartbeats on ops.status.v1"},
    {"replay", OSH_CFG_STR, NULL, "OSH_REPLAY",
     "reprocess from: earliest, ts:<epoch-ms> or batch:<id>"},
    {"ready.file", OSH_CFG_STR, NULL, "OSH_READY_FILE",
     "file the service touches once it is ready"},
};
#define N_COMMON (sizeof(common) / sizeof(common[0]))

struct slot {
        const osh_cfg_entry_t *e;
        const char *def;  /* e->def, or the prog basename for "instance" */
        char *val[SRC_N]; /* owned; [SRC_DEFAULT] unused */
        int src;          /* source of the effective value */
        int64_t num;      /* effective value of INT/BOOL/DURATION/SIZE */
};

struct kv { /* a kafka.* pass-through key */
        char *key;
        char *val[SRC_N];
};

struct osh_config {
        char *prog; /* basename */
        struct slot *slots;
        size_t nslots;
        struct kv *kv;
        size_t nkv, kv_cap;
        char **pos;
        size_t npos, pos_cap;
        int check_only;
};

/* ---- value parsers ---------------------------------------------------- */

/* Unsigned decimal digits at *sp; advances *sp past them. */
static int parse_digits(const char **sp, int64_t *out)
{
        const char *s = *sp;
        int64_t v = 0;

        if (!isdigit((unsigned char)*s))
                return PARSE_SYNTAX;
        for (; isdigit((unsigned char)*s); s++) {
                int d = *s - '0';
                if (v > (INT64_MAX - d) / 10)
                        return PARSE_RANGE;
                v = v * 10 + d;
        }
        *sp = s;
        *out = v;
        return PARSE_OK;
}

static int parse_int_rc(const char *s, int64_t *out)
{
        int neg = 0, rc;
        int64_t v;

        if (*s == '-' || *s == '+')
                neg = *s++ == '-';
        /* Parse the magnitude as negative-capable: INT64_MIN has no
         * positive counterpart, so special-case it. */
        if (neg && strcmp(s, "9223372036854775808") == 0) {
                *out = INT64_MIN;
                return PARSE_OK;
        }
        rc = parse_digits(&s, &v);
        if (rc != PARSE_OK)
                return rc;
        if (*s)
                return PARSE_SYNTAX;
        *out = neg ? -v : v;
        return PARSE_OK;
}

struct unit {
        const char *suffix;
        int64_t mult;
};

/* digits + optional unit from units (first match wins; "" = bare). */
static int parse_scaled(const char *s, const struct unit *units, size_t nunits, int64_t *out)
{
        int64_t v;
        size_t i;
        int rc = parse_digits(&s, &v);

        if (rc != PARSE_OK)
                return rc;
        for (i = 0; i < nunits; i++) {
                if (strcmp(s, units[i].suffix) != 0)
                        continue;
                if (v > INT64_MAX / units[i].mult)
                        return PARSE_RANGE;
                *out = v * units[i].mult;
                return PARSE_OK;
        }
        return PARSE_SYNTAX;
}

static const struct unit duration_units[] = {
    {"", 1}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 60 * 60 * 1000},
};

static const struct unit size_units[] = {
    {"", 1},
    {"k", INT64_C(1) << 10},
    {"K", INT64_C(1) << 10},
    {"m", INT64_C(1) << 20},
    {"M", INT64_C(1) << 20},
    {"g", INT64_C(1) << 30},
    {"G", INT64_C(1) << 30},
    {"t", INT64_C(1) << 40},
    {"T", INT64_C(1) << 40},
};

static int parse_duration_rc(const char *s, int64_t *out)
{
        return parse_scaled(s, duration_units, sizeof(duration_units) / sizeof(duration_units[0]),
                            out);
}

static int parse_size_rc(const char *s, int64_t *out)
{
        return parse_scaled(s, size_units, sizeof(size_units) / sizeof(size_units[0]), out);
}

int osh_config_parse_int(const char *s, int64_t *out)
{
        return s && parse_int_rc(s, out) == PARSE_OK ? 0 : -1;
}

int osh_config_parse_duration(const char *s, int64_t *out_ms)
{
        return s && parse_duration_rc(s, out_ms) == PARSE_OK ? 0 : -1;
}

int osh_config_parse_size(const char *s, int64_t *out_bytes)
{
        return s && parse_size_rc(s, out_bytes) == PARSE_OK ? 0 : -1;
}

int osh_config_parse_bool(const char *s, int *out)
{
        static const char *const yes[] = {"true", "1", "yes", "on"};
        static const char *const no[] = {"false", "0", "no", "off"};
        size_t i;

        if (!s)
                return -1;
        for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *out = 1;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *out = 0;
                        return 0;
                }
        }
        return -1;
}

static int batch_id_char(int c)
{
        return isalnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
}

int osh_config_replay_parse(const char *s, osh_replay_t *out)
{
        osh_replay_t r = {OSH_REPLAY_NONE, 0, NULL};
        const char *p;

        if (!s) {
                *out = r;
                return 0;
        }
        if (strcmp(s, "earliest") == 0) {
                r.kind = OSH_REPLAY_EARLIEST;
        } else if (strncmp(s, "ts:", 3) == 0) {
                p = s + 3;
                if (parse_digits(&p, &r.ts_ms) != PARSE_OK || *p)
                        return -1;
                r.kind = OSH_REPLAY_TS;
        } else if (strncmp(s, "batch:", 6) == 0) {
                for (p = s + 6; *p; p++)
                        if (!batch_id_char((unsigned char)*p))
                                return -1;
                if (p == s + 6)
                        return -1;
                r.kind = OSH_REPLAY_BATCH;
                r.batch_id = s + 6;
        } else {
                return -1;
        }
        *out = r;
        return 0;
}

/* ---- validation ------------------------------------------------------- */

static int one_of(const char *s, const char *const *choices)
{
        for (; *choices; choices++)
                if (strcmp(s, *choices) == 0)
                        return 1;
        return 0;
}

/* Extra rules for the common keys, which have known value sets. */
static int check_common(const struct slot *s, const char *v, int64_t num, char *why, size_t n)
{
        static const char *const formats[] = {"text", "json", NULL};
        static const char *const segments[] = {"core", "processing", "exchange", "cloud", NULL};
        const char *key = s->e->key;
        osh_log_level_t level;
        osh_replay_t replay;

        if (s->e < common || s->e >= common + N_COMMON)
                return 0;
        if (strcmp(key, "log.level") == 0 && osh_log_level_parse(v, &level) < 0)
                snprintf(why, n, "invalid log level " VAL_FMT " (debug|info|warn|error)", v);
        else if (strcmp(key, "log.format") == 0 && !one_of(v, formats))
                snprintf(why, n, "invalid log format " VAL_FMT " (text|json)", v);
        else if (strcmp(key, "segment") == 0 && !one_of(v, segments))
                snprintf(why, n, "invalid segment " VAL_FMT " (core|processing|exchange|cloud)", v);
        else if (strcmp(key, "replay") == 0 && osh_config_replay_parse(v, &replay) < 0)
                snprintf(why, n, "invalid replay " VAL_FMT " (earliest|ts:<epoch-ms>|batch:<id>)",
                         v);
        else if (strcmp(key, "heartbeat.interval") == 0 && num <= 0)
                snprintf(why, n, "must be greater than 0, got " VAL_FMT, v);
        else if (strcmp(key, "instance") == 0 && !*v)
                snprintf(why, n, "must not be empty");
        else
                return 0;
        return -1;
}

/* v is one of the '|'-separated words of list. */
static int in_list(const char *v, const char *list)
{
        size_t len = strlen(v);

        for (const char *p = list; p; p = strchr(p, '|'), p = p ? p + 1 : NULL)
                if (strncmp(p, v, len) == 0 && (p[len] == '|' || !p[len]))
                        return 1;
        return 0;
}

/* The entry's declared checks: allowed values, range, checker. */
static int check_declared(const osh_cfg_entry_t *e, const char *v, int64_t num, char *why, size_t n)
{
        if (e->allowed && !in_list(v, e->allowed)) {
                snprintf(why, n, "invalid value " VAL_FMT " (%s)", v, e->allowed);
                return -1;
        }
        if ((e->flags & OSH_CFG_RANGE) && e->type != OSH_CFG_STR &&
            (num < e->min || num > e->max)) {
                snprintf(why, n, VAL_FMT " is outside %" PRId64 "..%" PRId64, v, e->min, e->max);
                return -1;
        }
        if (e->check && *v)
                return e->check(v, why, n);
        return 0;
}

/* Parses v for slot s into *num. 0, or -1 with why filled. */
static int check_value(const struct slot *s, const char *v, int64_t *num, char *why, size_t n)
{
        static const char *const names[] = {"string", "integer", "bool", "duration", "size"};
        const char *hint = "";
        int rc = PARSE_OK, b = 0;

        *num = 0;
        switch (s->e->type) {
        case OSH_CFG_STR:
                break;
        case OSH_CFG_INT:
                rc = parse_int_rc(v, num);
                break;
        case OSH_CFG_BOOL:
                rc = osh_config_parse_bool(v, &b) == 0 ? PARSE_OK : PARSE_SYNTAX;
                *num = b;
                hint = " (true|false|yes|no|on|off|1|0)";
                break;
        case OSH_CFG_DURATION_MS:
                rc = parse_duration_rc(v, num);
                hint = " (e.g. 250ms, 5s, 2m, 1h; bare number = ms)";
                break;
        case OSH_CFG_SIZE:
                rc = parse_size_rc(v, num);
                hint = " (e.g. 512, 64k, 5M, 1G)";
                break;
        }
        if (rc == PARSE_SYNTAX) {
                snprintf(why, n, "invalid %s " VAL_FMT "%s", names[s->e->type], v, hint);
                return -1;
        }
        if (rc == PARSE_RANGE) {
                snprintf(why, n, "%s out of range " VAL_FMT, names[s->e->type], v);
                return -1;
        }
        if (check_declared(s->e, v, *num, why, n) < 0)
                return -1;
        return check_common(s, v, *num, why, n);
}

/* ---- storage ---------------------------------------------------------- */

static struct slot *find_slot(const osh_config_t *cfg, const char *key)
{
        size_t i;

        for (i = 0; i < cfg->nslots; i++)
                if (strcmp(cfg->slots[i].e->key, key) == 0)
                        return &cfg->slots[i];
        return NULL;
}

static int kafka_key_ok(const char *key)
{
        const char *p;

        if (strncmp(key, "kafka.", 6) != 0 || !key[6])
                return 0;
        for (p = key + 6; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
                        return 0;
        return 1;
}

static int replace_str(char **dst, const char *val)
{
        char *dup = strdup(val);

        if (!dup)
                return -1;
        free(*dst);
        *dst = dup;
        return 0;
}

static int kv_set(osh_config_t *cfg, const char *key, const char *val, int src)
{
        struct kv *kv;
        size_t i;

        for (i = 0; i < cfg->nkv; i++)
                if (strcmp(cfg->kv[i].key, key) == 0)
                        return replace_str(&cfg->kv[i].val[src], val);
        if (osh_grow(&cfg->kv, &cfg->kv_cap, cfg->nkv, sizeof(*cfg->kv), 8))
                return -1;
        kv = &cfg->kv[cfg->nkv];
        memset(kv, 0, sizeof(*kv));
        if (replace_str(&kv->key, key) < 0)
                return -1;
        if (replace_str(&kv->val[src], val) < 0) {
                free(kv->key);
                return -1;
        }
        cfg->nkv++;
        return 0;
}

static const char *kv_value(const struct kv *kv, int *src)
{
        int s;

        for (s = SRC_FLAG; s > SRC_DEFAULT; s--) {
                if (kv->val[s]) {
                        if (src)
                                *src = s;
                        return kv->val[s];
                }
        }
        return NULL;
}

/* Return codes of set_value(). */
enum { SET_OK = 0, SET_UNKNOWN = 1, SET_BAD = -1, SET_OOM = -2 };

/* Validates and stores key=val for src; why explains SET_UNKNOWN/SET_BAD. */
static int set_value(osh_config_t *cfg, const char *key, const char *val, int src, char *why,
                     size_t n)
{
        struct slot *s = find_slot(cfg, key);
        int64_t num;

        if (!s) {
                if (kafka_key_ok(key))
                        return kv_set(cfg, key, val, src) < 0 ? SET_OOM : SET_OK;
                snprintf(why, n, "unknown key " VAL_FMT, key);
                return SET_UNKNOWN;
        }
        if (check_value(s, val, &num, why, n) < 0)
                return SET_BAD;
        if (replace_str(&s->val[src], val) < 0) {
                snprintf(why, n, "out of memory");
                return SET_OOM;
        }
        return SET_OK;
}

static const char *slot_value(const struct slot *s)
{
        return s->src == SRC_DEFAULT ? s->def : s->val[s->src];
}

/* Picks each key's effective source and parses its value. Only defaults
 * (a bad table) and required keys left unset can fail here; other sources
 * were checked when set. */
static int resolve(osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        char why[256];
        size_t i;

        for (i = 0; i < cfg->nslots; i++) {
                struct slot *s = &cfg->slots[i];
                const char *v;
                s->src = SRC_DEFAULT;
                for (int src = SRC_FLAG; src > SRC_DEFAULT && s->src == SRC_DEFAULT; src--)
                        if (s->val[src])
                                s->src = src;
                v = slot_value(s);
                s->num = 0;
                if (v && check_value(s, v, &s->num, why, sizeof(why)) < 0) {
                        snprintf(errstr, errstr_size, "default of %s: %s", s->e->key, why);
                        return -1;
                }
                if ((s->e->flags & OSH_CFG_REQUIRED) && (!v || !*v)) {
                        snprintf(errstr, errstr_size, "%s: required%s%s", s->e->key,
                                 s->e->env ? ", set it or " : "", s->e->env ? s->e->env : "");
                        return -1;
                }
        }
        return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

static void slot_init(struct slot *s, const osh_cfg_entry_t *e)
{
        memset(s, 0, sizeof(*s));
        s->e = e;
        s->def = e->def;
}

osh_config_t *osh_config_new(const char *prog, const osh_cfg_entry_t *table, size_t n)
{
        const char *base = prog ? strrchr(prog, '/') : NULL;
        osh_config_t *cfg = calloc(1, sizeof(*cfg));
        size_t i;

        if (!cfg)
                return NULL;
        base = base ? base + 1 : prog;
        cfg->prog = strdup(base && *base ? base : "oshirase");
        cfg->slots = calloc(N_COMMON + n, sizeof(*cfg->slots));
        if (!cfg->prog || !cfg->slots)
                goto fail;
        for (i = 0; i < N_COMMON; i++) {
                slot_init(&cfg->slots[cfg->nslots++], &common[i]);
                if (strcmp(common[i].key, "instance") == 0)
                        cfg->slots[i].def = cfg->prog;
        }
        for (i = 0; i < n; i++) {
                if (find_slot(cfg, table[i].key)) {
                        fprintf(stderr, "osh_config_new: duplicate key \"%s\"\n", table[i].key);
                        abort();
                }
                slot_init(&cfg->slots[cfg->nslots++], &table[i]);
        }
        resolve(cfg, NULL, 0); /* getters work before load; errors surface in load */
        return cfg;
fail:
        osh_config_destroy(cfg);
        return NULL;
}

void osh_config_destroy(osh_config_t *cfg)
{
        size_t i;
        int s;

        if (!cfg)
                return;
        for (i = 0; cfg->slots && i < cfg->nslots; i++)
                for (s = 0; s < SRC_N; s++)
                        free(cfg->slots[i].val[s]);
        for (i = 0; i < cfg->nkv; i++) {
                free(cfg->kv[i].key);
                for (s = 0; s < SRC_N; s++)
                        free(cfg->kv[i].val[s]);
        }
        for (i = 0; i < cfg->npos; i++)
                free(cfg->pos[i]);
        free(cfg->pos);
        free(cfg->kv);
        free(cfg->slots);
        free(cfg->prog);
        free(cfg);
}

/* ---- file ------------------------------------------------------------- */

static int is_ws(char c)
{
        return c == ' ' || c == '\t';
}

static char *skip_ws(char *p)
{
        while (is_ws(*p))
                p++;
        return p;
}

/* Unquotes/trims the value at p in place. Returns NULL with *err set. */
static char *file_value(char *p, const char **err)
{
        char *out = p, *w, *c;
        char q = *p;

        if (q == '"' || q == '\'') {
                out = w = ++p;
                for (; *p != q; p++) {
                        if (!*p) {
                                *err = "unterminated quote";
                                return NULL;
                        }
                        if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
                                p++;
                        *w++ = *p;
                }
                p = skip_ws(p + 1);
                *w = '\0'; /* w trails p, so this cannot clobber what is checked next */
                if (*p && *p != '#') {
                        *err = "unexpected text after closing quote";
                        return NULL;
                }
                return out;
        }
        for (c = p; *c; c++) {
                if (*c == '#' && (c == p || is_ws(c[-1]))) {
                        *c = '\0';
                        break;
                }
        }
        for (c = p + strlen(p); c > p && is_ws(c[-1]); c--)
                c[-1] = '\0';
        return out;
}

static int file_line(osh_config_t *cfg, const char *name, size_t lineno, char *line, char *errstr,
                     size_t errstr_size)
{
        size_t len = strlen(line);
        char *p, *key, *kend, *val, why[256];
        const char *err = NULL;
        int rc;

        if (len && line[len - 1] == '\r')
                line[len - 1] = '\0';
        p = key = skip_ws(line);
        if (!*p || *p == '#')
                return 0;
        while (*p && *p != '=' && !is_ws(*p))
                p++;
        kend = p;
        p = skip_ws(p);
        if (*p != '=' || kend == key) {
                snprintf(errstr, errstr_size, "config file %s line %zu: expected \"key = value\"",
                         name, lineno);
                return -1;
        }
        p = skip_ws(p + 1);
        *kend = '\0';
        val = file_value(p, &err);
        if (!val) {
                snprintf(errstr, errstr_size, "config file %s line %zu: %s: %s", name, lineno, key,
                         err);
                return -1;
        }
        if (strcmp(key, "config") == 0) {
                snprintf(errstr, errstr_size,
                         "config file %s line %zu: \"config\" cannot be set in a config file", name,
                         lineno);
                return -1;
        }
        rc = set_value(cfg, key, val, SRC_FILE, why, sizeof(why));
        if (rc == SET_UNKNOWN || rc == SET_OOM)
                snprintf(errstr, errstr_size, "config file %s line %zu: %s", name, lineno, why);
        else if (rc == SET_BAD)
                snprintf(errstr, errstr_size, "config file %s line %zu: %s: %s", name, lineno, key,
                         why);
        return rc == SET_OK ? 0 : -1;
}

int osh_config_load_text(osh_config_t *cfg, const char *name, const char *text, size_t len,
                         char *errstr, size_t errstr_size)
{
        char *buf = NULL, *line, *nl;
        size_t lineno = 0;

        if (memchr(text, '\0', len)) {
                snprintf(errstr, errstr_size, "config file %s: contains a NUL byte", name);
                goto fail;
        }
        buf = malloc(len + 1);
        if (!buf) {
                snprintf(errstr, errstr_size, "config file %s: out of memory", name);
                goto fail;
        }
        memcpy(buf, text, len);
        buf[len] = '\0';
        for (line = buf; line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                        *nl = '\0';
                if (file_line(cfg, name, ++lineno, line, errstr, errstr_size) < 0)
                        goto fail;
        }
        free(buf);
        return resolve(cfg, errstr, errstr_size);
fail:
        free(buf);
        return -1;
}

static int load_file(osh_config_t *cfg, const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        size_t len;
        int rc = -1;

        if (!fp) {
                snprintf(errstr, errstr_size, "config file %s: %s", path, strerror(errno));
                return -1;
        }
        buf = malloc(CFG_FILE_MAX + 1);
        if (!buf) {
                snprintf(errstr, errstr_size, "config file %s: out of memory", path);
                goto out;
        }
        len = fread(buf, 1, CFG_FILE_MAX + 1, fp);
        if (ferror(fp))
                snprintf(errstr, errstr_size, "config file %s: read error", path);
        else if (len > CFG_FILE_MAX)
                snprintf(errstr, errstr_size, "config file %s: larger than %d bytes", path,
                         CFG_FILE_MAX);
        else
                rc = osh_config_load_text(cfg, path, buf, len, errstr, errstr_size);
out:
        free(buf);
        fclose(fp);
        return rc;
}

/* ---- environment ------------------------------------------------------ */

/* KAFKA_FOO_BAR → kafka.foo.bar; 0, or -1 when the name is not usable. */
static int kafka_env_key(const char *name, size_t nlen, char *out, size_t size)
{
        size_t i, o = 6;

        if (nlen <= 6 || 6 + (nlen - 6) + 1 > size)
                return -1;
        memcpy(out, "kafka.", 6);
        for (i = 6; i < nlen; i++) {
                unsigned char c = (unsigned char)name[i];
                if (!isalnum(c) && c != '_')
                        return -1;
                out[o++] = c == '_' ? '.' : (char)tolower(c);
        }
        out[o] = '\0';
        return 0;
}

static struct slot *find_slot_by_env(const osh_config_t *cfg, const char *name, size_t nlen)
{
        size_t i;

        for (i = 0; i < cfg->nslots; i++) {
                const char *env = cfg->slots[i].e->env;
                if (env && strlen(env) == nlen && strncmp(env, name, nlen) == 0)
                        return &cfg->slots[i];
        }
        return NULL;
}

static int load_env(osh_config_t *cfg, char *const *env, char *errstr, size_t errstr_size)
{
        char key[256], why[256];
        struct slot *s;
        int rc;

        for (; env && *env; env++) {
                const char *eq = strchr(*env, '=');
                size_t nlen;
                if (!eq || !eq[1])
                        continue; /* empty = unset */
                nlen = (size_t)(eq - *env);
                if (strncmp(*env, "KAFKA_", 6) == 0) {
                        if (kafka_env_key(*env, nlen, key, sizeof(key)) < 0)
                                continue;
                        rc = set_value(cfg, key, eq + 1, SRC_ENV, why, sizeof(why));
                } else if ((s = find_slot_by_env(cfg, *env, nlen)) != NULL) {
                        snprintf(key, sizeof(key), "%s", s->e->key);
                        rc = set_value(cfg, key, eq + 1, SRC_ENV, why, sizeof(why));
                } else {
                        continue; /* shared environments carry foreign OSH_* too */
                }
                if (rc != SET_OK) {
                        snprintf(errstr, errstr_size, "environment %.*s (%s): %s", (int)nlen, *env,
                                 key, why);
                        return -1;
                }
        }
        return 0;
}

/* ---- argv ------------------------------------------------------------- */

static int add_positional(osh_config_t *cfg, const char *arg)
{
        if (cfg->npos == cfg->pos_cap) {
                size_t cap = cfg->pos_cap ? cfg->pos_cap * 2 : 8;
                char **pos = realloc(cfg->pos, cap * sizeof(*pos));
                if (!pos)
                        return -1;
                cfg->pos = pos;
                cfg->pos_cap = cap;
        }
        cfg->pos[cfg->npos] = strdup(arg);
        if (!cfg->pos[cfg->npos])
                return -1;
        cfg->npos++;
        return 0;
}

/* Handles "--key[=value]" at argv[*i], consuming argv[*i + 1] if needed. */
static int load_flag(osh_config_t *cfg, int argc, char **argv, int *i, char *errstr,
                     size_t errstr_size)
{
        const char *name = argv[*i] + 2, *eq = strchr(name, '='), *val;
        char *key = eq ? strndup(name, (size_t)(eq - name)) : strdup(name);
        char why[256];
        struct slot *s;
        int rc = -1;

        if (!key) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        s = find_slot(cfg, key);
        if (!s && !kafka_key_ok(key)) {
                snprintf(errstr, errstr_size, "unknown flag \"--%.64s\"", key);
                goto out;
        }
        if (eq) {
                val = eq + 1;
        } else if (s && s->e->type == OSH_CFG_BOOL) {
                val = "true"; /* bare bool never eats the next argument */
        } else if (*i + 1 >= argc || strncmp(argv[*i + 1], "--", 2) == 0) {
                snprintf(errstr, errstr_size, "--%s: missing value", key);
                goto out;
        } else {
                val = argv[++*i];
        }
        if (set_value(cfg, key, val, SRC_FLAG, why, sizeof(why)) != SET_OK)
                snprintf(errstr, errstr_size, "--%s: %s", key, why);
        else
                rc = 0;
out:
        free(key);
        return rc;
}

static int load_argv(osh_config_t *cfg, int argc, char **argv, char *errstr, size_t errstr_size)
{
        int i, only_pos = 0;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (only_pos || a[0] != '-' || a[1] == '\0') {
                        if (add_positional(cfg, a) < 0) {
                                snprintf(errstr, errstr_size, "out of memory");
                                return -1;
                        }
                } else if (strcmp(a, "--") == 0) {
                        only_pos = 1;
                } else if (strcmp(a, "--check") == 0) {
                        cfg->check_only = 1;
                } else if (a[1] != '-') {
                        snprintf(errstr, errstr_size, "unknown flag \"%.64s\"", a);
                        return -1;
                } else if (load_flag(cfg, argc, argv, &i, errstr, errstr_size) < 0) {
                        return -1;
                }
        }
        return 0;
}

/* --help / --version win over everything else, even a broken config. */
static int help_or_version(const osh_config_t *cfg, int argc, char **argv)
{
        int i;

        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
                if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        osh_config_print_help(cfg);
                        return 1;
                }
                if (strcmp(argv[i], "--version") == 0) {
                        printf("%s %s\n", cfg->prog, OSH_VERSION);
                        fflush(stdout);
                        return 1;
                }
        }
        return 0;
}

int osh_config_load(osh_config_t *cfg, int argc, char **argv, char *const *env, char *errstr,
                    size_t errstr_size)
{
        const struct slot *conf = find_slot(cfg, "config");
        const char *path;

        if (help_or_version(cfg, argc, argv))
                return OSH_CONFIG_EXIT;
        if (load_env(cfg, env ? env : environ, errstr, errstr_size) < 0 ||
            load_argv(cfg, argc, argv, errstr, errstr_size) < 0)
                return OSH_CONFIG_FAIL;
        path = conf->val[SRC_FLAG] ? conf->val[SRC_FLAG] : conf->val[SRC_ENV];
        if (path && load_file(cfg, path, errstr, errstr_size) < 0)
                return OSH_CONFIG_FAIL;
        return resolve(cfg, errstr, errstr_size) < 0 ? OSH_CONFIG_FAIL : OSH_CONFIG_RUN;
}

/* ---- getters ---------------------------------------------------------- */

static const struct slot *need_slot(const osh_config_t *cfg, const char *key, const char *what,
                                    int ok)
{
        const struct slot *s = find_slot(cfg, key);

        if (!s || !ok) {
                fprintf(stderr, "osh_config_%s(\"%s\"): %s\n", what, key,
                        s ? "wrong type" : "key not in table");
                abort();
        }
        return s;
}

static int type_of(const osh_config_t *cfg, const char *key)
{
        const struct slot *s = find_slot(cfg, key);

        return s ? (int)s->e->type : -1;
}

int osh_config_check_only(const osh_config_t *cfg)
{
        return cfg->check_only;
}

const char *osh_config_str(const osh_config_t *cfg, const char *key)
{
        return slot_value(need_slot(cfg, key, "str", 1));
}

int64_t osh_config_int(const osh_config_t *cfg, const char *key)
{
        int t = type_of(cfg, key);
        int ok = t == OSH_CFG_INT || t == OSH_CFG_DURATION_MS || t == OSH_CFG_SIZE;

        return need_slot(cfg, key, "int", ok)->num;
}

int osh_config_bool(const osh_config_t *cfg, const char *key)
{
        return need_slot(cfg, key, "bool", type_of(cfg, key) == OSH_CFG_BOOL)->num != 0;
}

const char *osh_config_source(const osh_config_t *cfg, const char *key)
{
        return src_names[need_slot(cfg, key, "source", 1)->src];
}

void osh_config_fill(const osh_config_t *cfg, void *conf)
{
        for (size_t i = 0; i < cfg->nslots; i++) {
                const struct slot *s = &cfg->slots[i];
                char *at = (char *)conf + s->e->offset;
                if (!(s->e->flags & OSH_CFG_TARGET))
                        continue;
                if (s->e->type == OSH_CFG_STR)
                        *(const char **)(void *)at = slot_value(s);
                else if (s->e->type == OSH_CFG_BOOL)
                        *(int *)(void *)at = s->num != 0;
                else
                        *(int64_t *)(void *)at = s->num;
        }
}

int osh_cfg_check_url(const char *val, char *why, size_t why_size)
{
        const char *host = NULL;

        if (strncmp(val, "http://", 7) == 0)
                host = val + 7;
        else if (strncmp(val, "https://", 8) == 0)
                host = val + 8;
        if (!host || !*host || *host == '/' || *host == ':') {
                snprintf(why, why_size, "invalid URL " VAL_FMT " (http[s]://host[:port][/path])",
                         val);
                return -1;
        }
        for (const char *p = val; *p; p++) {
                if ((unsigned char)*p <= ' ' || *p == 0x7f) {
                        snprintf(why, why_size, "URL " VAL_FMT " holds a space or control byte",
                                 val);
                        return -1;
                }
        }
        return 0;
}

int osh_cfg_check_ip(const char *val, char *why, size_t why_size)
{
        unsigned char addr[sizeof(struct in6_addr)];

        if (inet_pton(AF_INET, val, addr) == 1 || inet_pton(AF_INET6, val, addr) == 1)
                return 0;
        snprintf(why, why_size, "invalid address " VAL_FMT " (a numeric IPv4 or IPv6 address)",
                 val);
        return -1;
}

int osh_cfg_check_file(const char *val, char *why, size_t why_size)
{
        FILE *fp = fopen(val, "r");

        if (!fp) {
                snprintf(why, why_size, "cannot read " VAL_FMT ": %s", val, strerror(errno));
                return -1;
        }
        fclose(fp);
        return 0;
}

size_t osh_config_positional_count(const osh_config_t *cfg)
{
        return cfg->npos;
}

const char *osh_config_positional(const osh_config_t *cfg, size_t i)
{
        return i < cfg->npos ? cfg->pos[i] : NULL;
}

int osh_config_foreach_prefixed(const osh_config_t *cfg, const char *prefix,
                                int (*fn)(const char *key, const char *val, void *opaque),
                                void *opaque)
{
        size_t plen = strlen(prefix), i;
        int rc;

        for (i = 0; i < cfg->nkv; i++) {
                const char *key = cfg->kv[i].key;
                if (strncmp(key, prefix, plen) != 0 || !key[plen])
                        continue;
                rc = fn(key + plen, kv_value(&cfg->kv[i], NULL), opaque);
                if (rc)
                        return rc;
        }
        return 0;
}

void osh_config_init_log(const osh_config_t *cfg)
{
        osh_log_level_t level = OSH_LOG_INFO;

        osh_log_level_parse(osh_config_str(cfg, "log.level"), &level);
        osh_log_init(cfg->prog, osh_config_str(cfg, "instance"), level,
                     strcmp(osh_config_str(cfg, "log.format"), "json") == 0);
}

/* ---- help and dump ---------------------------------------------------- */

static const char *type_name(osh_cfg_type_t t)
{
        static const char *const names[] = {"string", "int", "bool", "duration", "size"};

        return names[t];
}

void osh_config_write_help(const osh_config_t *cfg, FILE *fp)
{
        size_t i;

        fprintf(fp, "Usage: %s [OPTIONS] [ARGS...]\n\n", cfg->prog);
        fprintf(fp, "Options (precedence: flag > environment > config file > default):\n");
        fprintf(fp, "  --help, -h\n        print this help and exit\n");
        fprintf(fp, "  --version\n        print the version and exit\n");
        fprintf(fp, "  --check\n        validate the configuration and exit\n");
        for (i = 0; i < cfg->nslots; i++) {
                const struct slot *s = &cfg->slots[i];
                const osh_cfg_entry_t *e = s->e;
                if (e->type == OSH_CFG_BOOL)
                        fprintf(fp, "  --%s[=<bool>]\n", e->key);
                else
                        fprintf(fp, "  --%s=<%s>\n", e->key, type_name(e->type));
                fprintf(fp, "        %s", e->help ? e->help : "");
                if (e->env)
                        fprintf(fp, " [env %s]", e->env);
                if (s->def)
                        fprintf(fp, " [default %s]", s->def);
                fputc('\n', fp);
        }
        fprintf(fp, "  --kafka.<property>=<value>\n        librdkafka property, passed through "
                    "[env KAFKA_<PROPERTY>, '.' written as '_']\n");
        fflush(fp);
}

void osh_config_print_help(const osh_config_t *cfg)
{
        osh_config_write_help(cfg, stdout);
}

static int is_sensitive(const char *key)
{
        static const char *const words[] = {"secret", "password", "key", "token"};
        char low[256];
        size_t i;

        for (i = 0; key[i] && i < sizeof(low) - 1; i++)
                low[i] = (char)tolower((unsigned char)key[i]);
        low[i] = '\0';
        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
                if (strstr(low, words[i]))
                        return 1;
        return 0;
}

static void dump_line(FILE *fp, const char *key, const char *val, int src)
{
        if (val && is_sensitive(key))
                val = "<redacted>";
        fprintf(fp, "%s = %s  (%s)\n", key, val ? val : "(unset)", src_names[src]);
}

void osh_config_write_dump(const osh_config_t *cfg, FILE *fp)
{
        size_t i;
        int src = SRC_DEFAULT;

        for (i = 0; i < cfg->nslots; i++)
                dump_line(fp, cfg->slots[i].e->key, slot_value(&cfg->slots[i]), cfg->slots[i].src);
        for (i = 0; i < cfg->nkv; i++) {
                const char *v = kv_value(&cfg->kv[i], &src);
                dump_line(fp, cfg->kv[i].key, v, src);
        }
        fflush(fp);
}

void osh_config_dump(const osh_config_t *cfg)
{
        osh_config_write_dump(cfg, stdout);
}
