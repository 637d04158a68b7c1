/* Staff accounts (docs/architecture.md §10): a file of one line per
 * account, tab-separated
 *
 *   name  role  totp-secret-base32-or-"-"  argon2id-hash
 *
 * after a "# oshirase console accounts v1" line. Passwords are hashed with
 * libsodium's crypto_pwhash_str (argon2id); the file must be 0600 (it is
 * refused when group or others may read it) and is rewritten atomically
 * (temporary file, fsync, rename) under <path>.lock, so the console and
 * `console user add` never drop each other's accounts. A running console
 * rereads the file when it changed (checked at each sign-in): an account
 * the CLI adds can sign in at once. Failure counts and lock-outs live in
 * memory, kept across such rereads: a restart forgives them, the lock-out
 * time is short anyway. */
#ifndef CON_ACCOUNTS_H
#define CON_ACCOUNTS_H

#include <stddef.h>
#include <stdint.h>

#define CON_NAME_MAX     32 /* [a-z0-9._-]{1,32} */
#define CON_PASSWORD_MIN 10
#define CON_PASSWORD_MAX 256

typedef enum {
        CON_ROLE_VIEWER = 0,
        CON_ROLE_AUTHOR,
        CON_ROLE_APPROVER,
        CON_ROLE_ADMIN,
} con_role_t;

const char *con_role_name(con_role_t r);
int con_role_parse(const char *s, con_role_t *out); /* 0 / -1 */
int con_name_valid(const char *name);               /* 1 / 0 */

typedef enum {
        CON_LOGIN_OK = 0,
        CON_LOGIN_BAD,       /* unknown name, wrong password or wrong/replayed code */
        CON_LOGIN_LOCKED,    /* too many failures: refused without checking */
        CON_LOGIN_NOW_LOCKED /* this failure locked the account */
} con_login_t;

typedef struct con_accounts con_accounts_t;

/* Loads path. A missing file is an empty store when create is set (the
 * first admin creates it), else an error. Refuses a file group or others
 * can read, and a malformed line (naming its number). */
con_accounts_t *con_accounts_open(const char *path, int create, char *errstr, size_t errstr_size);
void con_accounts_destroy(con_accounts_t *a); /* NULL ok */

/* Adds an account and rewrites the file. With totp, a fresh secret is
 * written (base32) into totp_out (at least 40 bytes). Refuses a duplicate
 * name, a bad name and a password shorter than CON_PASSWORD_MIN. */
int con_accounts_add(con_accounts_t *a, const char *name, const char *password, con_role_t role,
                     int totp, char *totp_out, size_t totp_size, char *errstr, size_t errstr_size);

/* Checks a sign-in at now_ms. After max_failures consecutive failures the
 * account is locked for lock_ms. otp may be NULL or "" for accounts
 * without TOTP; a TOTP code is accepted once (no replay in its window).
 * Thread-safe. */
con_login_t con_accounts_login(con_accounts_t *a, const char *name, const char *password,
                               const char *otp, int64_t now_ms, int max_failures, int64_t lock_ms,
                               con_role_t *role);
size_t con_accounts_count(con_accounts_t *a);

/* The TOTP code (6 digits) of a base32 secret at now_ms, for tests and
 * the CLI. 0 / -1. */
int con_totp_code(const char *secret_b32, int64_t now_ms, char out[7]);

#endif
