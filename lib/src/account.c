#include "oshirase/account.h"

#include <string.h>
#include <strings.h>

#define EMAIL_MAX       254 /* RFC 5321 §4.5.3.1.3 path minus the angle brackets */
#define EMAIL_LOCAL_MAX 64
#define DNS_LABEL_MAX   63
#define URL_MAX         2048

/* Locale-free character classes: ids are ASCII by definition. */
static int is_digit(int c)
{
        return c >= '0' && c <= '9';
}

static int is_alnum(int c)
{
        return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int all(const char *s, size_t n, int (*pred)(int))
{
        for (size_t i = 0; i < n; i++)
                if (!pred((unsigned char)s[i]))
                        return 0;
        return 1;
}

static int is_lhex(int c)
{
        return is_digit(c) || (c >= 'a' && c <= 'f');
}

const char *osh_account_check_line(const char *s, size_t n)
{
        return n == 33 && s[0] == 'U' && all(s + 1, 32, is_lhex)
                   ? NULL
                   : "account id is not a LINE user id (U + 32 lower-case hex digits)";
}

/* RFC 5322 atext. */
static int is_atext(int c)
{
        return is_alnum(c) || (c && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static int dot_atom(const char *s, size_t n)
{
        if (!n || s[0] == '.' || s[n - 1] == '.')
                return 0;
        for (size_t i = 0; i < n; i++)
                if (s[i] == '.' ? s[i + 1] == '.' : !is_atext((unsigned char)s[i]))
                        return 0;
        return 1;
}

static int is_ldh(int c)
{
        return is_alnum(c) || c == '-';
}

/* LDH labels separated by single dots, at least two of them. */
static int domain(const char *s, size_t n)
{
        size_t labels = 0, start = 0;

        for (size_t i = 0; i <= n; i++) {
                size_t len;
                if (i < n && s[i] != '.')
                        continue;
                len = i - start;
                if (len < 1 || len > DNS_LABEL_MAX || !all(s + start, len, is_ldh) ||
                    s[start] == '-' || s[i - 1] == '-')
                        return 0;
                labels++;
                start = i + 1;
        }
        return labels >= 2;
}

const char *osh_account_check_email(const char *s, size_t n)
{
        const char *at = n ? memchr(s, '@', n) : NULL;
        size_t local;

        if (!at || n > EMAIL_MAX)
                return "account id is not an e-mail address (local@domain, at most 254 "
                       "characters)";
        local = (size_t)(at - s);
        if (local > EMAIL_LOCAL_MAX || !dot_atom(s, local))
                return "e-mail local part must be 1-64 letters, digits, dots or "
                       "!#$%&'*+-/=?^_`{|}~ (no spaces, quotes, controls or angle brackets)";
        if (!domain(at + 1, n - local - 1))
                return "e-mail domain must be dot-separated labels of letters, digits and "
                       "hyphens";
        return NULL;
}

static int is_url_char(int c)
{
        return c > 0x20 && c < 0x7f && !strchr("\"<>\\^`{|}", c);
}

const char *osh_account_check_https_url(const char *s, size_t n)
{
        return n > 8 && n <= URL_MAX && !strncmp(s, "https://", 8) && all(s, n, is_url_char) &&
                       s[8] != '/' && s[8] != '?' && s[8] != '#'
                   ? NULL
                   : "account id is not an https:// URL (visible ASCII, at most 2048 "
                     "characters)";
}

const char *osh_account_check_x(const char *s, size_t n)
{
        return n >= 1 && n <= 20 && all(s, n, is_digit) ? NULL
                                                        : "account id is not an X user id "
                                                          "(1-20 digits)";
}

const char *osh_account_check_facebook(const char *s, size_t n)
{
        return n >= 5 && n <= 20 && all(s, n, is_digit)
                   ? NULL
                   : "account id is not a Facebook page-scoped id (5-20 digits)";
}

const char *osh_account_check_e164(const char *s, size_t n)
{
        return n >= 9 && n <= 16 && s[0] == '+' && s[1] != '0' && all(s + 1, n - 1, is_digit)
                   ? NULL
                   : "account id is not an E.164 phone number (+ then 8-15 digits)";
}

static const osh_account_channel_t channels[] = {
    {"line", "LINE", osh_account_check_line},
    {"email", "EMAIL", osh_account_check_email},
    {"webhook", "WEBHOOK", osh_account_check_https_url},
    {"x", "TWITTER", osh_account_check_x},
    {"facebook", "FACEBOOK", osh_account_check_facebook},
    {"sms", "SMS", osh_account_check_e164},
};
#define N_CHANNELS (sizeof(channels) / sizeof(channels[0]))

const osh_account_channel_t *osh_account_channel_by_name(const char *name, size_t n)
{
        for (size_t i = 0; i < N_CHANNELS; i++)
                if (strlen(channels[i].name) == n && !strncasecmp(channels[i].name, name, n))
                        return &channels[i];
        return NULL;
}

const osh_account_channel_t *osh_account_channel_by_symbol(const char *sym)
{
        for (size_t i = 0; sym && i < N_CHANNELS; i++)
                if (!strcmp(channels[i].symbol, sym))
                        return &channels[i];
        return NULL;
}

const char *osh_account_channel_names(void)
{
        return "line, email, webhook, x, facebook, sms";
}
