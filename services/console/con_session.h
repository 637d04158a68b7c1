/* Staff sessions, in memory (a restart signs everybody out). A session id
 * and its CSRF token are 32 random bytes in hex; the id travels only in an
 * HttpOnly; Secure; SameSite=Strict cookie, the token in the X-CSRF-Token
 * header of every state-changing request. A session ends after idle_ms
 * without a request or max_ms after sign-in, whichever comes first. */
#ifndef CON_SESSION_H
#define CON_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "con_accounts.h"

#define CON_TOKEN_HEX    64
#define CON_COOKIE       "osh_console"
#define CON_SESSIONS_MAX 4096

typedef struct con_session_info {
        char user[CON_NAME_MAX + 1];
        con_role_t role;
        char csrf[CON_TOKEN_HEX + 1];
        int64_t created_ms;
} con_session_info_t;

typedef struct con_sessions con_sessions_t;

con_sessions_t *con_sessions_new(int64_t idle_ms, int64_t max_ms);
void con_sessions_destroy(con_sessions_t *s); /* NULL ok */

/* New session; id_out gets its id. Evicts expired sessions first; -1 when
 * CON_SESSIONS_MAX live sessions exist. */
int con_sessions_create(con_sessions_t *s, const char *user, con_role_t role, int64_t now_ms,
                        char id_out[CON_TOKEN_HEX + 1], con_session_info_t *info);
/* Looks a live session up and touches it. 0 / -1 (unknown or expired). */
int con_sessions_get(con_sessions_t *s, const char *id, int64_t now_ms, con_session_info_t *out);
void con_sessions_drop(con_sessions_t *s, const char *id);

/* The session id from a Cookie header value into id_out. 0 / -1. */
int con_cookie_session(const char *cookie, char id_out[CON_TOKEN_HEX + 1]);
/* Constant-time comparison of the expected token with the one sent. 1 / 0. */
int con_csrf_ok(const char *expected, const char *given);

#endif
