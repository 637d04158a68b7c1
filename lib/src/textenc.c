/* UTF-8 / CP932 decoding with gaiji replacement (see textenc.h). */
#include "oshirase/textenc.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct osh_textdec {
        osh_textenc_t enc;
        iconv_t cd;   /* CP932 -> UTF-8, (iconv_t)-1 for UTF-8 */
        char repl[8]; /* replacement for gaiji, UTF-8 */
        size_t repl_len;
        char *buf, *tmp; /* output and CP932 intermediate */
        size_t cap, tmp_cap;
};

int osh_textenc_parse(const char *name, osh_textenc_t *out)
{
        static const char *const cp932[] = {"cp932",     "sjis",        "shift_jis",
                                            "shift-jis", "windows-31j", "ms932"};

        if (!name)
                return -1;
        if (!strcasecmp(name, "utf8") || !strcasecmp(name, "utf-8")) {
                *out = OSH_TEXTENC_UTF8;
                return 0;
        }
        for (size_t i = 0; i < sizeof(cp932) / sizeof(cp932[0]); i++) {
                if (!strcasecmp(name, cp932[i])) {
                        *out = OSH_TEXTENC_CP932;
                        return 0;
                }
        }
        return -1;
}

const char *osh_textenc_name(osh_textenc_t enc)
{
        return enc == OSH_TEXTENC_CP932 ? "cp932" : "utf8";
}

size_t osh_utf8_decode1(const unsigned char *s, size_t len, uint32_t *cp)
{
        uint32_t c;
        size_t n;

        if (!len)
                return 0;
        if (s[0] < 0x80) {
                *cp = s[0];
                return 1;
        }
        if (s[0] >= 0xC2 && s[0] <= 0xDF) {
                n = 2;
                c = s[0] & 0x1F;
        } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
                n = 3;
                c = s[0] & 0x0F;
        } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
                n = 4;
                c = s[0] & 0x07;
        } else {
                return 0;
        }
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3F);
        }
        /* overlong, surrogate, beyond Unicode */
        if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || (c >= 0xD800 && c <= 0xDFFF) ||
            c > 0x10FFFF)
                return 0;
        *cp = c;
        return n;
}

int osh_unicode_is_pua(uint32_t cp)
{
        return (cp >= 0xE000 && cp <= 0xF8FF) || (cp >= 0xF0000 && cp <= 0xFFFFD) ||
               (cp >= 0x100000 && cp <= 0x10FFFD);
}

osh_textenc_t osh_textenc_detect(const void *buf, size_t len, size_t *bom_len)
{
        const unsigned char *s = buf;
        size_t good = 0, bad = 0;

        if (bom_len)
                *bom_len = 0;
        if (len >= 3 && !memcmp(s, OSH_TEXTENC_UTF8_BOM, 3)) {
                if (bom_len)
                        *bom_len = 3;
                return OSH_TEXTENC_UTF8;
        }
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n;
                if (s[i] < 0x80) {
                        i++;
                        continue;
                }
                n = osh_utf8_decode1(s + i, len - i, &cp);
                if (n) {
                        good++;
                        i += n;
                } else {
                        bad++;
                        i++;
                }
        }
        return good >= bad ? OSH_TEXTENC_UTF8 : OSH_TEXTENC_CP932;
}

osh_textdec_t *osh_textdec_new(osh_textenc_t enc, const char *repl)
{
        osh_textdec_t *d = calloc(1, sizeof(*d));

        if (!d)
                goto fail;
        d->enc = enc;
        d->cd = (iconv_t)-1;
        if (!repl)
                repl = OSH_TEXTENC_REPL_FFFD;
        d->repl_len = strlen(repl);
        if (d->repl_len >= sizeof(d->repl))
                goto fail;
        memcpy(d->repl, repl, d->repl_len + 1);
        if (enc == OSH_TEXTENC_CP932) {
                d->cd = iconv_open("UTF-8", "CP932");
                if (d->cd == (iconv_t)-1)
                        goto fail;
        }
        return d;
fail:
        osh_textdec_destroy(d);
        return NULL;
}

void osh_textdec_destroy(osh_textdec_t *d)
{
        if (!d)
                return;
        if (d->cd != (iconv_t)-1)
                iconv_close(d->cd);
        free(d->buf);
        free(d->tmp);
        free(d);
}

static int reserve(char **buf, size_t *cap, size_t need)
{
        char *nb;
        size_t ncap = *cap ? *cap : 256;

        if (need <= *cap)
                return 0;
        while (ncap < need)
                ncap *= 2;
        nb = realloc(*buf, ncap);
        if (!nb)
                return -1;
        *buf = nb;
        *cap = ncap;
        return 0;
}

/* Validates UTF-8 in[0..len) into d->buf, replacing private-use code points
 * and refusing NUL bytes.
 * The replacement is at most 7 bytes for a sequence of at least 3, so the
 * output never exceeds 7/3 of the input; reserve generously. */
static int utf8_filter(osh_textdec_t *d, const char *in, size_t len, size_t *out_len,
                       uint64_t *gaiji)
{
        const unsigned char *s = (const unsigned char *)in;
        size_t o = 0;
        uint64_t g = 0;

        if (reserve(&d->buf, &d->cap, len * 3 + 1))
                return -1;
        for (size_t i = 0; i < len;) {
                uint32_t cp;
                size_t n;
                if (s[i] && s[i] < 0x80) {
                        d->buf[o++] = (char)s[i++];
                        continue;
                }
                /* NUL is corruption in a text field, and would make the
                 * NUL-terminated output shorter than *out_len */
                n = s[i] ? osh_utf8_decode1(s + i, len - i, &cp) : 0;
                if (!n)
                        return -1;
                if (osh_unicode_is_pua(cp)) {
                        memcpy(d->buf + o, d->repl, d->repl_len);
                        o += d->repl_len;
                        g++;
                } else {
                        memcpy(d->buf + o, s + i, n);
                        o += n;
                }
                i += n;
        }
        d->buf[o] = '\0';
        *out_len = o;
        if (gaiji)
                *gaiji += g;
        return 0;
}

/* CP932 -> UTF-8 into d->tmp. One CP932 byte becomes at most 3 UTF-8 bytes. */
static int cp932_to_utf8(osh_textdec_t *d, const char *in, size_t len, size_t *out_len)
{
        char *ip = (char *)in, *op;
        size_t il = len, ol;

        if (reserve(&d->tmp, &d->tmp_cap, len * 3 + 1))
                return -1;
        op = d->tmp;
        ol = d->tmp_cap;
        iconv(d->cd, NULL, NULL, NULL, NULL);
        if (iconv(d->cd, &ip, &il, &op, &ol) == (size_t)-1 || il)
                return -1;
        if (iconv(d->cd, NULL, NULL, &op, &ol) == (size_t)-1)
                return -1;
        *out_len = (size_t)(op - d->tmp);
        return 0;
}

static int all_ascii(const char *in, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if ((unsigned char)in[i] >= 0x80)
                        return 0;
        return 1;
}

int osh_textdec_decode(osh_textdec_t *d, const char *in, size_t len, const char **out,
                       size_t *out_len, uint64_t *gaiji)
{
        size_t n;

        if (d->enc == OSH_TEXTENC_CP932 && !all_ascii(in, len)) {
                if (cp932_to_utf8(d, in, len, &n))
                        return -1;
                in = d->tmp;
                len = n;
        }
        if (utf8_filter(d, in, len, &n, gaiji))
                return -1;
        *out = d->buf;
        *out_len = n;
        return 0;
}

/* 3 when s starts with a well-formed three-byte sequence for U+1000 to
 * U+CFFF (kana and kanji: never overlong, a surrogate or a gaiji); else 0
 * and the general decoder decides. */
static size_t kanji3(const unsigned char *s, size_t len)
{
        return len >= 3 && s[0] >= 0xE1 && s[0] <= 0xEC && (s[1] & 0xC0) == 0x80 &&
                       (s[2] & 0xC0) == 0x80
                   ? 3
                   : 0;
}

/* Valid UTF-8 with neither NUL nor gaiji: the text is usable as it is.
 * Eight ASCII bytes at a time, as most exported fields are digits. */
static int utf8_clean(const unsigned char *s, size_t len)
{
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        size_t i = 0;

        while (i < len) {
                uint64_t w;
                uint32_t cp;
                size_t n;
                if (len - i >= 8 && (memcpy(&w, s + i, 8), !(w & highs)) &&
                    !((w - ones) & ~w & highs)) {
                        i += 8;
                        continue;
                }
                if (s[i] && s[i] < 0x80) {
                        i++;
                        continue;
                }
                if ((n = kanji3(s + i, len - i))) { /* the common case in Japanese text */
                        do /* kanji come in runs: stay here while they do */
                                i += n;
                        while ((n = kanji3(s + i, len - i)));
                        continue;
                }
                n = s[i] ? osh_utf8_decode1(s + i, len - i, &cp) : 0;
                if (!n || osh_unicode_is_pua(cp))
                        return 0;
                i += n;
        }
        return 1;
}

int osh_textdec_view(osh_textdec_t *d, const char *in, size_t len, const char **out,
                     size_t *out_len, uint64_t *gaiji)
{
        if ((d->enc == OSH_TEXTENC_UTF8 || all_ascii(in, len)) &&
            utf8_clean((const unsigned char *)in, len)) {
                *out = in;
                *out_len = len;
                return 0;
        }
        return osh_textdec_decode(d, in, len, out, out_len, gaiji);
}
