#include "disp_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (1..4) or 0, with its code point. */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
        static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
        size_t n = s[0] < 0x80         ? 1
                   : (s[0] >> 5) == 6  ? 2
                   : (s[0] >> 4) == 14 ? 3
                   : (s[0] >> 3) == 30 ? 4
                                       : 0;
        uint32_t c;

        if (n <= 1) {
                *cp = s[0];
                return n;
        }
        c = s[0] & (0x7F >> n);
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3F);
        }
        if (c < min[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                return 0;
        *cp = c;
        return n;
}

size_t disp_text_char_len(const char *s)
{
        uint32_t cp;
        size_t n = utf8_seq((const unsigned char *)s, &cp);

        return n ? n : 1;
}

size_t disp_text_chars(const char *s)
{
        size_t n = 0;

        while (*s) {
                s += disp_text_char_len(s);
                n++;
        }
        return n;
}

/* Units of the character at s as count measures it. */
static size_t units(const char *s, disp_count_t count)
{
        return count == DISP_COUNT_UTF16 && (unsigned char)s[0] >= 0xF0 &&
                       disp_text_char_len(s) == 4
                   ? 2
                   : 1;
}

size_t disp_text_length(const char *s, disp_count_t count)
{
        size_t n = 0;

        while (*s) {
                n += units(s, count);
                s += disp_text_char_len(s);
        }
        return n;
}

static int is_pua(uint32_t cp)
{
        return (cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000;
}

char *disp_text_normalise(const char *s, int test)
{
        size_t len = strlen(s), cap = len * 3 + sizeof(DISP_TEST_MARKER) + 2;
        char *out = malloc(cap), *o = out;
        const unsigned char *p = (const unsigned char *)s;

        if (!out)
                return NULL;
        if (test)
                o += sprintf(o, "%s\n", DISP_TEST_MARKER);
        while (*p) {
                uint32_t cp;
                size_t n = utf8_seq(p, &cp);

                if (n == 0) { /* invalid byte: U+FFFD */
                        memcpy(o, "\xEF\xBF\xBD", 3);
                        o += 3;
                        p++;
                } else if (cp >= 0xFF10 && cp <= 0xFF19) {
                        *o++ = (char)('0' + (cp - 0xFF10));
                        p += n;
                } else if (cp == '\r') {
                        *o++ = '\n';
                        p += p[1] == '\n' ? 2 : 1;
                } else if (is_pua(cp)) {
                        memcpy(o, "\xE3\x80\x93", 3); /* 〓 */
                        o += 3;
                        p += n;
                } else {
                        memcpy(o, p, n);
                        o += n;
                        p += n;
                }
        }
        *o = '\0';
        return out;
}

void disp_parts_free(disp_parts_t *p)
{
        for (size_t i = 0; p && i < p->n; i++)
                free(p->part[i]);
        if (p) {
                free(p->part);
                p->part = NULL;
                p->n = 0;
        }
}

/* Byte length of the best first part of s, given that s holds more than
 * limit characters: the last break of the best kind found in the second half
 * of the window, else a hard cut after limit characters. */
static size_t best_cut(const char *s, size_t limit, disp_count_t count)
{
        static const char *const brk[] = {"\n\n", "\n", "。", "、", " "};
        size_t off[5] = {0}, pos = 0, chars = 0;

        while (s[pos] && chars + units(s + pos, count) <= limit) {
                for (size_t k = 0; k < 5; k++) {
                        size_t bl = strlen(brk[k]);
                        if (chars >= limit / 2 && !strncmp(s + pos, brk[k], bl) &&
                            chars + (k == 0 ? 2 : 1) <= limit)
                                off[k] = pos + bl;
                }
                chars += units(s + pos, count);
                pos += disp_text_char_len(s + pos);
        }
        for (size_t k = 0; k < 5; k++)
                if (off[k])
                        return off[k];
        return pos ? pos : disp_text_char_len(s); /* limit 1, a 2-unit character */
}

static int push_part(disp_parts_t *out, const char *s, size_t len)
{
        char **np = realloc(out->part, (out->n + 1) * sizeof(*np));
        char *t;

        if (!np)
                return -1;
        out->part = np;
        t = malloc(len + 1);
        if (!t)
                return -1;
        memcpy(t, s, len);
        t[len] = '\0';
        while (len && t[len - 1] == '\n') /* a part never ends in blank lines */
                t[--len] = '\0';
        out->part[out->n++] = t;
        return 0;
}

int disp_text_split(const char *s, size_t limit, size_t max_parts, disp_parts_t *out, char *err,
                    size_t err_size)
{
        return disp_text_split_count(s, limit, max_parts, DISP_COUNT_CHARS, out, err, err_size);
}

int disp_text_split_count(const char *s, size_t limit, size_t max_parts, disp_count_t count,
                          disp_parts_t *out, char *err, size_t err_size)
{
        size_t total = disp_text_length(s, count);

        memset(out, 0, sizeof(*out));
        if (total == 0 || limit == 0) {
                snprintf(err, err_size, "empty message");
                goto fail;
        }
        while (disp_text_length(s, count) > limit) {
                size_t cut = best_cut(s, limit, count);
                if (push_part(out, s, cut) < 0)
                        goto oom;
                s += cut;
                while (*s == '\n')
                        s++;
        }
        if (*s && push_part(out, s, strlen(s)) < 0)
                goto oom;
        if (out->n > max_parts) {
                snprintf(err, err_size,
                         "text of %zu %s needs %zu messages of at most %zu; channel allows %zu",
                         total, count == DISP_COUNT_UTF16 ? "UTF-16 units" : "characters", out->n,
                         limit, max_parts);
                goto fail;
        }
        return 0;
oom:
        snprintf(err, err_size, "out of memory");
fail:
        return -1;
}
