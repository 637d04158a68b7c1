/* Text decoding for municipal export files: UTF-8 (with or without BOM)
 * and CP932 (Windows Shift_JIS, via glibc iconv), always to UTF-8.
 *
 * 外字 (gaiji, characters a municipality defined for itself) arrive as
 * Unicode private-use code points (U+E000..U+F8FF, planes 15 and 16) in
 * UTF-8, and as the CP932 user-defined area 0xF040..0xF9FC (which iconv
 * maps to U+E000..U+E757). They cannot be shown outside the office, so the
 * decoder replaces each with a configurable replacement (default U+FFFD)
 * and counts it. Invalid byte sequences are an error, never guessed at. */
#ifndef OSHIRASE_TEXTENC_H
#define OSHIRASE_TEXTENC_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
        OSH_TEXTENC_UTF8 = 0,
        OSH_TEXTENC_CP932,
} osh_textenc_t;

#define OSH_TEXTENC_REPL_FFFD "\xEF\xBF\xBD" /* U+FFFD REPLACEMENT CHARACTER */
#define OSH_TEXTENC_REPL_GETA "\xE3\x80\x93" /* U+3013 〓 (geta mark) */
#define OSH_TEXTENC_UTF8_BOM  "\xEF\xBB\xBF"

/* "utf8"/"utf-8", "cp932"/"sjis"/"shift_jis"/"windows-31j" (any case). 0 / -1. */
int osh_textenc_parse(const char *name, osh_textenc_t *out);
const char *osh_textenc_name(osh_textenc_t enc); /* "utf8" or "cp932" */

/* Guesses the encoding of a whole file: a UTF-8 BOM means UTF-8 (*bom_len
 * = 3); otherwise UTF-8 if it holds at least as many valid multi-byte UTF-8
 * sequences as invalid bytes (CP932 text almost never forms valid UTF-8),
 * else CP932. Pure ASCII is UTF-8. bom_len may be NULL. */
osh_textenc_t osh_textenc_detect(const void *buf, size_t len, size_t *bom_len);

/* Length of the valid UTF-8 sequence at s (1..4; rejects overlongs,
 * surrogates and > U+10FFFF), or 0 if invalid. *cp gets the code point. */
size_t osh_utf8_decode1(const unsigned char *s, size_t len, uint32_t *cp);
/* 1 for private-use code points (gaiji). */
int osh_unicode_is_pua(uint32_t cp);

typedef struct osh_textdec osh_textdec_t;

/* repl is copied (NULL: U+FFFD). NULL on failure (iconv lacks CP932, OOM).
 * Free with osh_textdec_destroy() (NULL ok). */
osh_textdec_t *osh_textdec_new(osh_textenc_t enc, const char *repl);
void osh_textdec_destroy(osh_textdec_t *d);

/* Decodes len bytes to UTF-8. On success returns 0, *out points to a
 * NUL-terminated buffer owned by d (valid until the next call) and *out_len
 * is its length (strlen(*out) == *out_len always); *gaiji (may be NULL) is
 * incremented by the number of replaced gaiji. Returns -1 on an invalid or
 * truncated sequence or a NUL byte (corruption in a text field, in either
 * encoding); *out is then untouched. */
int osh_textdec_decode(osh_textdec_t *d, const char *in, size_t len, const char **out,
                       size_t *out_len, uint64_t *gaiji);

/* Same checks and result as osh_textdec_decode(), without a copy when the
 * text needs no change (clean UTF-8, or ASCII in CP932): *out then points
 * at in itself and is NOT NUL-terminated. Otherwise *out is the decoder's
 * buffer (NUL-terminated), valid until the next call. */
int osh_textdec_view(osh_textdec_t *d, const char *in, size_t len, const char **out,
                     size_t *out_len, uint64_t *gaiji);

#endif
