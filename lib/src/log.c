/* Line-oriented logger: one fwrite per line under a mutex. */
#include "oshirase/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define LOG_NAME_MAX 64

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
        char service[LOG_NAME_MAX];
        char instance[LOG_NAME_MAX];
        osh_log_level_t level;
        int json;
        FILE *fp; /* NULL = stderr */
} log_state = {"oshirase", "", OSH_LOG_INFO, 0, NULL};

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/* Growable output buffer; starts on the stack so short lines never malloc.
 * On OOM it stops growing and the line is truncated rather than lost. */
struct lbuf {
        char *p;
        size_t len, cap;
        int heap;
        char stack[1024];
};

static void lb_init(struct lbuf *b)
{
        b->p = b->stack;
        b->len = 0;
        b->cap = sizeof(b->stack);
        b->heap = 0;
}

static void lb_free(struct lbuf *b)
{
        if (b->heap)
                free(b->p);
}

/* Ensures room for n more bytes plus a NUL; 0 / -1 (OOM). */
static int lb_reserve(struct lbuf *b, size_t n)
{
        size_t want = b->len + n + 1, cap = b->cap;
        char *np;

        if (want <= cap)
                return 0;
        while (cap < want)
                cap *= 2;
        np = b->heap ? realloc(b->p, cap) : malloc(cap);
        if (!np)
                return -1;
        if (!b->heap)
                memcpy(np, b->p, b->len);
        b->p = np;
        b->cap = cap;
        b->heap = 1;
        return 0;
}

static void lb_put(struct lbuf *b, const char *s, size_t n)
{
        if (lb_reserve(b, n) < 0)
                n = b->cap - b->len - 1;
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static void lb_puts(struct lbuf *b, const char *s)
{
        lb_put(b, s, strlen(s));
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xBF;
        size_t len, i;

        if (c < 0x80)
                return 1;
        if (c >= 0xC2 && c <= 0xDF)
                len = 2;
        else if (c >= 0xE0 && c <= 0xEF)
                len = 3;
        else if (c >= 0xF0 && c <= 0xF4)
                len = 4;
        else
                return 0;
        if (c == 0xE0)
                lo = 0xA0; /* overlong */
        else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        else if (c == 0xF0)
                lo = 0x90; /* overlong */
        else if (c == 0xF4)
                hi = 0x8F; /* > U+10FFFF */
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (i = 2; i < len; i++)
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        return len;
}

/* JSON string body: escapes quotes, backslashes and control characters;
 * passes valid UTF-8 through and replaces invalid bytes with U+FFFD. */
static void lb_json_str(struct lbuf *b, const char *s)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t n = strlen(s), i = 0, len;
        char esc[8];

        while (i < n) {
                unsigned char c = u[i];
                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char)c;
                        lb_put(b, esc, 2);
                } else if (c < 0x20) {
                        const char *short_esc = c == '\n'   ? "\\n"
                                                : c == '\r' ? "\\r"
                                                : c == '\t' ? "\\t"
                                                : c == '\b' ? "\\b"
                                                : c == '\f' ? "\\f"
                                                            : NULL;
                        if (short_esc) {
                                lb_puts(b, short_esc);
                        } else {
                                snprintf(esc, sizeof(esc), "\\u%04x", c);
                                lb_puts(b, esc);
                        }
                } else if ((len = utf8_len(u + i, n - i)) > 0) {
                        lb_put(b, s + i, len);
                        i += len;
                        continue;
                } else {
                        lb_puts(b, "\\ufffd");
                }
                i++;
        }
}

/* Text body: keeps the record on one line by escaping control characters. */
static void lb_text_str(struct lbuf *b, const char *s)
{
        char esc[8];

        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if (c >= 0x20 && c != 0x7f) {
                        lb_put(b, s, 1);
                } else if (c == '\n') {
                        lb_puts(b, "\\n");
                } else if (c == '\r') {
                        lb_puts(b, "\\r");
                } else if (c == '\t') {
                        lb_puts(b, "\\t");
                } else {
                        snprintf(esc, sizeof(esc), "\\x%02x", c);
                        lb_puts(b, esc);
                }
        }
}

static void format_ts(char *out, size_t size)
{
        struct timespec ts;
        struct tm tm;
        size_t n;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* Formats fmt into b (growing it as needed). */
__attribute__((format(printf, 2, 0))) static void lb_vprintf(struct lbuf *b, const char *fmt,
                                                             va_list ap)
{
        va_list ap2;
        int n;

        va_copy(ap2, ap);
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
        va_end(ap2);
        if (n < 0)
                return;
        if ((size_t)n >= b->cap - b->len) {
                if (lb_reserve(b, (size_t)n) == 0)
                        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
                else
                        n = (int)(b->cap - b->len - 1);
        }
        b->len += (size_t)n;
}

static void build_line(struct lbuf *out, osh_log_level_t level, const char *msg)
{
        char ts[40];

        format_ts(ts, sizeof(ts));
        if (log_state.json) {
                lb_puts(out, "{\"ts\":\"");
                lb_puts(out, ts);
                lb_puts(out, "\",\"level\":\"");
                lb_puts(out, level_names[level]);
                lb_puts(out, "\",\"service\":\"");
                lb_json_str(out, log_state.service);
                lb_puts(out, "\",\"instance\":\"");
                lb_json_str(out, log_state.instance);
                lb_puts(out, "\",\"msg\":\"");
                lb_json_str(out, msg);
                lb_puts(out, "\"}\n");
                return;
        }
        lb_puts(out, ts);
        lb_puts(out, " ");
        lb_puts(out, level_upper[level]);
        lb_puts(out, " ");
        lb_text_str(out, log_state.service);
        if (log_state.instance[0]) {
                lb_puts(out, "[");
                lb_text_str(out, log_state.instance);
                lb_puts(out, "]");
        }
        lb_puts(out, ": ");
        lb_text_str(out, msg);
        lb_puts(out, "\n");
}

void osh_log(osh_log_level_t level, const char *fmt, ...)
{
        struct lbuf msg, line;
        va_list ap;
        FILE *fp;

        if ((unsigned)level > OSH_LOG_ERROR)
                level = OSH_LOG_ERROR;
        if (level < osh_log_level())
                return;
        lb_init(&msg);
        va_start(ap, fmt);
        lb_vprintf(&msg, fmt, ap);
        va_end(ap);
        lb_init(&line);
        pthread_mutex_lock(&log_lock);
        build_line(&line, level, msg.p);
        fp = log_state.fp ? log_state.fp : stderr;
        fwrite(line.p, 1, line.len, fp);
        fflush(fp);
        pthread_mutex_unlock(&log_lock);
        lb_free(&line);
        lb_free(&msg);
}

static void copy_name(char *dst, const char *src)
{
        snprintf(dst, LOG_NAME_MAX, "%s", src);
}

void osh_log_init(const char *service, const char *instance, osh_log_level_t level, int json)
{
        pthread_mutex_lock(&log_lock);
        copy_name(log_state.service, service ? service : "oshirase");
        copy_name(log_state.instance, instance ? instance : "");
        log_state.level = (unsigned)level > OSH_LOG_ERROR ? OSH_LOG_ERROR : level;
        log_state.json = json != 0;
        pthread_mutex_unlock(&log_lock);
}

void osh_log_set_stream(FILE *fp)
{
        pthread_mutex_lock(&log_lock);
        log_state.fp = fp;
        pthread_mutex_unlock(&log_lock);
}

int osh_log_level_parse(const char *s, osh_log_level_t *out)
{
        size_t i;

        if (!s)
                return -1;
        for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
                if (strcasecmp(s, level_names[i]) == 0) {
                        *out = (osh_log_level_t)i;
                        return 0;
                }
        }
        if (strcasecmp(s, "warning") == 0) {
                *out = OSH_LOG_WARN;
                return 0;
        }
        return -1;
}

const char *osh_log_level_name(osh_log_level_t level)
{
        if ((unsigned)level > OSH_LOG_ERROR)
                return "error";
        return level_names[level];
}

osh_log_level_t osh_log_level(void)
{
        osh_log_level_t level;

        pthread_mutex_lock(&log_lock);
        level = log_state.level;
        pthread_mutex_unlock(&log_lock);
        return level;
}

osh_log_level_t osh_log_level_from_syslog(int level)
{
        if (level <= 3)
                return OSH_LOG_ERROR;
        if (level == 4)
                return OSH_LOG_WARN;
        if (level <= 6)
                return OSH_LOG_INFO;
        return OSH_LOG_DEBUG;
}

void osh_log_rdkafka(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf)
{
        /* rd_kafka_name() takes a const handle; the cast only drops the
         * struct-tag spelling difference, not constness. */
        const char *name = rk ? rd_kafka_name((const rd_kafka_t *)rk) : NULL;

        osh_log(osh_log_level_from_syslog(level), "rdkafka%s%s %s: %s", name ? " " : "",
                name ? name : "", fac ? fac : "-", buf ? buf : "");
}
