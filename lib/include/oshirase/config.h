/* Table-driven configuration: flags > environment > file > default.
 *
 * Every service declares a table of osh_cfg_entry_t. osh_config_new()
 * prepends the common entries:
 *
 *   config              OSH_CONFIG              path of a "key = value" file
 *   log.level           OSH_LOG_LEVEL           debug|info|warn|error (info)
 *   log.format          OSH_LOG_FORMAT          text|json (text)
 *   instance            OSH_INSTANCE            default: basename of prog
 *   segment             OSH_SEGMENT             core|processing|exchange|cloud
 *   heartbeat.interval  OSH_HEARTBEAT_INTERVAL  duration > 0 (5s)
 *   replay              OSH_REPLAY              earliest | ts:<epoch-ms> | batch:<id>
 *   ready.file          OSH_READY_FILE          path touched once the service is ready
 *
 * Keys are dotted ("log.level"); the flag is "--log.level=VALUE" or
 * "--log.level VALUE"; a bool flag may be bare ("--foo" = true; it never
 * consumes the next argument). "--" ends the options. Also: --help/-h,
 * --version (osh_config_load returns OSH_CONFIG_EXIT) and --check.
 *
 * The file has "key = value" lines, blank lines and '#' comments (whole-line,
 * or after whitespace following an unquoted value). Values may be quoted with
 * "..." (\" and \\ escapes) or '...' (literal). The file may not set "config".
 *
 * An empty environment variable counts as unset (compose files blank them).
 * Unknown OSH_* variables are ignored because environments are shared.
 *
 * Keys under "kafka." are passed through to librdkafka unvalidated here
 * (librdkafka validates them) from file, flags and environment; env
 * KAFKA_FOO_BAR becomes "kafka.foo.bar". */
#ifndef OSHIRASE_CONFIG_H
#define OSHIRASE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
        OSH_CFG_STR,
        OSH_CFG_INT,         /* int64, decimal */
        OSH_CFG_BOOL,        /* true/false/1/0/yes/no/on/off */
        OSH_CFG_DURATION_MS, /* "250ms", "5s", "2m", "1h" or bare ms */
        OSH_CFG_SIZE,        /* "512", "64k", "5M", "1G" (bytes, 1024-based) */
} osh_cfg_type_t;

/* Entry flags. */
#define OSH_CFG_REQUIRED 0x1u /* unset or empty fails the load */
#define OSH_CFG_RANGE    0x2u /* INT/DURATION/SIZE: min <= value <= max */
#define OSH_CFG_TARGET   0x4u /* osh_config_fill writes the value at offset */

/* One key. The first five fields are what every entry has; the rest are
 * optional declarative checks (zero = none), written with designated
 * initialisers:
 *
 *   {"lag.window", OSH_CFG_INT, "6", "OSH_MONITOR_LAG_WINDOW", "samples",
 *    .flags = OSH_CFG_RANGE | OSH_CFG_TARGET, .min = 2, .max = 32,
 *    .offset = offsetof(mon_conf_t, lag_window)},
 *
 * Every check runs on every source's value as it is set (so the error names
 * the key and where the value came from) and on the default; REQUIRED runs
 * once all sources are read. */
typedef struct osh_cfg_entry {
        const char *key; /* dotted, e.g. "relay.allow" */
        osh_cfg_type_t type;
        const char *def; /* default as text; NULL = unset */
        const char *env; /* environment variable, e.g. "OSH_RELAY_ALLOW"; NULL = none */
        const char *help;
        unsigned flags;      /* OSH_CFG_REQUIRED | OSH_CFG_RANGE | OSH_CFG_TARGET */
        const char *allowed; /* STR: the only accepted values, "a|b|c"; NULL = any */
        int64_t min, max;    /* with OSH_CFG_RANGE (ms for durations, bytes for sizes) */
        /* STR: checks a non-empty value (syntax of a list, a URL, ...);
         * 0, or -1 with why (no key: the loader adds it). NULL = none. */
        int (*check)(const char *val, char *why, size_t why_size);
        /* With OSH_CFG_TARGET: offsetof() the field osh_config_fill writes:
         * const char * (STR, owned by cfg), int64_t (INT/DURATION/SIZE) or
         * int (BOOL). */
        size_t offset;
} osh_cfg_entry_t;

typedef struct osh_config osh_config_t;

/* Result of osh_config_load(). */
#define OSH_CONFIG_RUN  0  /* carry on */
#define OSH_CONFIG_EXIT 1  /* --help or --version printed: exit 0 */
#define OSH_CONFIG_FAIL -1 /* errstr says which key, where from, and why */

/* table is borrowed and must outlive the config; prog is copied (its
 * basename is the default instance). A table key that duplicates a common
 * key is a programming error (abort). Returns NULL on OOM. Free with
 * osh_config_destroy(). */
osh_config_t *osh_config_new(const char *prog, const osh_cfg_entry_t *table, size_t n);
/* Accepts NULL. */
void osh_config_destroy(osh_config_t *cfg);

/* Applies file (--config / OSH_CONFIG), environment, then argv. Unknown
 * keys and unparsable values fail, naming the key and its origin. Non-option
 * arguments are collected as positionals. env may be NULL to use the process
 * environment (tests pass their own NULL-terminated "K=V" array). argv[0] is
 * the program name and is skipped. Call once per config. */
int osh_config_load(osh_config_t *cfg, int argc, char **argv, char *const *env, char *errstr,
                    size_t errstr_size);

/* Parses config-file text (len bytes, need not be NUL-terminated) as if read
 * from a file called name, with source "file". Used by osh_config_load(),
 * tests and the fuzzer. 0 / -1 with errstr. */
int osh_config_load_text(osh_config_t *cfg, const char *name, const char *text, size_t len,
                         char *errstr, size_t errstr_size);

/* True when --check was given: caller validates what it needs, then exits. */
int osh_config_check_only(const osh_config_t *cfg);

/* Typed getters. The key must be in the table with a matching type
 * (programming error → abort). Strings are owned by cfg. */
const char *osh_config_str(const osh_config_t *cfg, const char *key); /* NULL if unset; any type */
/* INT/DURATION/SIZE (ms for durations, bytes for sizes); 0 if unset. */
int64_t osh_config_int(const osh_config_t *cfg, const char *key);
/* BOOL; 0 if unset. */
int osh_config_bool(const osh_config_t *cfg, const char *key);
/* Where the effective value came from: "default", "file", "env" or "flag". */
const char *osh_config_source(const osh_config_t *cfg, const char *key);

/* Writes every table entry marked OSH_CFG_TARGET into conf at its offset
 * (see osh_cfg_entry_t). Strings stay owned by cfg. */
void osh_config_fill(const osh_config_t *cfg, void *conf);

/* Checkers for osh_cfg_entry_t.check. */
/* An http:// or https:// URL with a host, no whitespace or control bytes. */
int osh_cfg_check_url(const char *val, char *why, size_t why_size);
/* A numeric IPv4 or IPv6 address (listeners take no host names). */
int osh_cfg_check_ip(const char *val, char *why, size_t why_size);
/* A path that names a readable file (secrets, certificates, rules). */
int osh_cfg_check_file(const char *val, char *why, size_t why_size);

/* Positionals are owned by cfg; NULL when i is out of range. */
size_t osh_config_positional_count(const osh_config_t *cfg);
const char *osh_config_positional(const osh_config_t *cfg, size_t i);

/* Calls fn(key_without_prefix, value) once for every pass-through key that
 * starts with prefix ("kafka." or e.g. "kafka.source."), with its effective
 * value (flag > env > file), in order of first appearance. Returns the first
 * non-zero fn result, else 0. Strings are owned by cfg. */
int osh_config_foreach_prefixed(const osh_config_t *cfg, const char *prefix,
                                int (*fn)(const char *key, const char *val, void *opaque),
                                void *opaque);

/* Prints the generated help (all table entries + common ones, with env
 * names and defaults) to stdout / fp. */
void osh_config_print_help(const osh_config_t *cfg);
void osh_config_write_help(const osh_config_t *cfg, FILE *fp);
/* Prints "key = value  (source)" for every entry and pass-through key,
 * redacting keys that contain "secret", "password", "key" or "token".
 * For --check. To stdout / fp. */
void osh_config_dump(const osh_config_t *cfg);
void osh_config_write_dump(const osh_config_t *cfg, FILE *fp);

/* osh_log_init() from the common entries: service = prog basename,
 * instance, log.level, log.format. */
void osh_config_init_log(const osh_config_t *cfg);

/* Value parsers shared with the loader. All return 0 / -1 (garbage, sign,
 * or int64 overflow) and leave *out untouched on failure. */
int osh_config_parse_int(const char *s, int64_t *out);
int osh_config_parse_bool(const char *s, int *out);
int osh_config_parse_duration(const char *s, int64_t *out_ms); /* >= 0 */
int osh_config_parse_size(const char *s, int64_t *out_bytes);  /* >= 0 */

typedef enum {
        OSH_REPLAY_NONE = 0,
        OSH_REPLAY_EARLIEST,
        OSH_REPLAY_TS,    /* ts_ms */
        OSH_REPLAY_BATCH, /* batch_id */
} osh_replay_kind_t;

typedef struct osh_replay {
        osh_replay_kind_t kind;
        int64_t ts_ms;        /* OSH_REPLAY_TS: epoch milliseconds, >= 0 */
        const char *batch_id; /* OSH_REPLAY_BATCH: points into s (borrowed) */
} osh_replay_t;

/* "earliest", "ts:<epoch-ms>" or "batch:<id>" (id: [A-Za-z0-9._:-]+);
 * NULL gives OSH_REPLAY_NONE. 0 / -1. */
int osh_config_replay_parse(const char *s, osh_replay_t *out);

#endif
