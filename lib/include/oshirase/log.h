/* Logging to stderr, as text or JSON lines.
 *
 * Text:  2026-11-23T13:45:01.123Z INFO service[instance]: message
 * JSON:  {"ts":"...","level":"info","service":"...","instance":"...","msg":"..."}
 *
 * Each line is written with a single fwrite under a mutex, so lines from
 * different threads never interleave. Control characters in messages are
 * escaped (a line is always one record); in JSON, invalid UTF-8 becomes
 * U+FFFD so the output stays parseable. Before osh_log_init() the logger
 * writes text at level info as service "oshirase".
 *
 * Policy: never pass record keys, values or any resident attribute to the
 * logger. Log counts, offsets, topics, file names and line numbers only. */
#ifndef OSHIRASE_LOG_H
#define OSHIRASE_LOG_H

#include <stdio.h>

typedef enum {
        OSH_LOG_DEBUG = 0,
        OSH_LOG_INFO,
        OSH_LOG_WARN,
        OSH_LOG_ERROR,
} osh_log_level_t;

/* Safe to call again (tests). service/instance are copied (truncated to 63
 * bytes); NULL service means "oshirase", NULL instance means none. */
void osh_log_init(const char *service, const char *instance, osh_log_level_t level, int json);
/* Redirect output (tests). fp stays owned by the caller; NULL restores stderr. */
void osh_log_set_stream(FILE *fp);
/* "debug", "info", "warn" (or "warning"), "error", case-insensitive. 0 / -1. */
int osh_log_level_parse(const char *s, osh_log_level_t *out);
/* "debug", "info", "warn", "error"; static string. */
const char *osh_log_level_name(osh_log_level_t level);
osh_log_level_t osh_log_level(void);

void osh_log(osh_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define osh_debug(...) osh_log(OSH_LOG_DEBUG, __VA_ARGS__)
#define osh_info(...)  osh_log(OSH_LOG_INFO, __VA_ARGS__)
#define osh_warn(...)  osh_log(OSH_LOG_WARN, __VA_ARGS__)
#define osh_error(...) osh_log(OSH_LOG_ERROR, __VA_ARGS__)

/* syslog level (0 emerg .. 7 debug) to ours: 0-3 error, 4 warn, 5-6 info,
 * 7 (and anything larger) debug. */
osh_log_level_t osh_log_level_from_syslog(int level);

/* Matches rd_kafka_conf_set_log_cb(): routes librdkafka's syslog levels in,
 * as "rdkafka <client name> <FAC>: <buf>" (rk may be NULL). */
struct rd_kafka_s;
void osh_log_rdkafka(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);

#endif
