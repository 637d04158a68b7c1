/* Account ids of the notice channels (the account_id of destinations.v1 and
 * notify.dispatch.v1): one validator per id form, used by cloud-ingest when
 * staff upload destinations and again by sns-dispatcher before a provider
 * request is built, so an id that could smuggle a command into a protocol
 * (CR/LF into SMTP, a path into a URL) is refused at both boundaries.
 *
 * Every validator takes a byte span (not NUL-terminated; an embedded NUL is
 * refused) and returns NULL when the id is acceptable, else a static reason
 * that names the expected form and never echoes the id. */
#ifndef OSHIRASE_ACCOUNT_H
#define OSHIRASE_ACCOUNT_H

#include <stddef.h>

typedef const char *(osh_account_check_fn)(const char *s, size_t n);

/* LINE user id: "U" + 32 lower-case hex digits. */
const char *osh_account_check_line(const char *s, size_t n);
/* E-mail: an RFC 5321 Mailbox in dot-atom form, local@domain: local part of
 * atext (RFC 5322 §3.2.3) and dots (no leading, trailing or double dot,
 * <= 64 octets), domain of LDH labels (1-63 octets, no leading or trailing
 * hyphen, at least two labels), <= 254 octets in all. Quoted local parts,
 * address literals, spaces, controls (CR, LF, ...), angle brackets and
 * non-ASCII are refused. */
const char *osh_account_check_email(const char *s, size_t n);
/* Webhook: an https:// URL with a host, <= 2048 octets of visible ASCII
 * without quotes, angle brackets, backslash or spaces. */
const char *osh_account_check_https_url(const char *s, size_t n);
/* X (Twitter) user id: 1-20 digits. */
const char *osh_account_check_x(const char *s, size_t n);
/* Facebook Messenger page-scoped id: 5-20 digits. */
const char *osh_account_check_facebook(const char *s, size_t n);
/* SMS: an E.164 number, "+" then 8-15 digits, the first not 0. */
const char *osh_account_check_e164(const char *s, size_t n);

/* A channel as destinations are uploaded (name) and as records carry it
 * (symbol of the Channel enum), with its id validator. */
typedef struct osh_account_channel {
        const char *name;   /* CSV spelling: line, email, webhook, x, facebook, sms */
        const char *symbol; /* Channel enum symbol: LINE, EMAIL, ... */
        osh_account_check_fn *check;
} osh_account_channel_t;

/* The channel named name[0..n) (case-insensitive) or NULL. */
const osh_account_channel_t *osh_account_channel_by_name(const char *name, size_t n);
/* The channel whose enum symbol is sym, or NULL. */
const osh_account_channel_t *osh_account_channel_by_symbol(const char *sym);
/* "line, email, ..." for error messages (static). */
const char *osh_account_channel_names(void);

#endif
