/* Message text helpers (pure): normalisation to the content standard
 * (half-width digits, displayable characters), length in characters and
 * splitting at sensible boundaries for channels with a text limit. */
#ifndef DISP_TEXT_H
#define DISP_TEXT_H

#include <stddef.h>

#define DISP_TEST_MARKER "■テスト送信■"

/* Bytes of the character at s (1..4; an invalid byte is one). */
size_t disp_text_char_len(const char *s);

/* Characters (code points) in s; an invalid byte counts as one. */
size_t disp_text_chars(const char *s);

/* How a provider measures text length. */
typedef enum {
        DISP_COUNT_CHARS = 0, /* code points (X, Messenger, SMS, e-mail) */
        DISP_COUNT_UTF16,     /* UTF-16 code units: outside the BMP counts 2 (LINE) */
} disp_count_t;

/* Length of s as count measures it. */
size_t disp_text_length(const char *s, disp_count_t count);

/* New string (caller frees): full-width digits U+FF10..U+FF19 become ASCII
 * digits, CRLF/CR become LF, private-use code points (外字) become 〓 and
 * invalid UTF-8 bytes become U+FFFD, so every channel can display it.
 * With test set, DISP_TEST_MARKER and a newline are prepended. NULL on OOM. */
char *disp_text_normalise(const char *s, int test);

typedef struct disp_parts {
        char **part; /* each malloc()ed, NUL-terminated */
        size_t n;
} disp_parts_t;

/* Splits s into at most max_parts parts of at most limit characters each,
 * preferring a paragraph break, then a line break, then 。/、/space, and
 * only then an arbitrary character boundary. Returns 0, or -1 with a reason
 * in err when the text needs more parts than allowed (or is empty). out is
 * freed with disp_parts_free() in both cases. */
int disp_text_split(const char *s, size_t limit, size_t max_parts, disp_parts_t *out, char *err,
                    size_t err_size);
/* The same, measuring limit as count says. */
int disp_text_split_count(const char *s, size_t limit, size_t max_parts, disp_count_t count,
                          disp_parts_t *out, char *err, size_t err_size);
void disp_parts_free(disp_parts_t *p);

#endif
