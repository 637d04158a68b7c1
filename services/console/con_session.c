#include "con_session.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
        char id[CON_TOKEN_HEX + 1];
        con_session_info_t info;
        int64_t last_ms;
} slot_t;

struct con_sessions {
        pthread_mutex_t mu;
        int64_t idle_ms, max_ms;
        slot_t *v;
        size_t n;
};

con_sessions_t *con_sessions_new(int64_t idle_ms, int64_t max_ms)
{
        con_sessions_t *s = calloc(1, sizeof(*s));

        if (!s || sodium_init() < 0 || !(s->v = calloc(CON_SESSIONS_MAX, sizeof(*s->v)))) {
                free(s);
                return NULL;
        }
        pthread_mutex_init(&s->mu, NULL);
        s->idle_ms = idle_ms;
        s->max_ms = max_ms;
        return s;
}

void con_sessions_destroy(con_sessions_t *s)
{
        if (!s)
                return;
        sodium_memzero(s->v, CON_SESSIONS_MAX * sizeof(*s->v));
        free(s->v);
        pthread_mutex_destroy(&s->mu);
        free(s);
}

static void random_hex(char out[CON_TOKEN_HEX + 1])
{
        unsigned char raw[CON_TOKEN_HEX / 2];

        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(out, CON_TOKEN_HEX + 1, raw, sizeof(raw));
}

static int expired(const con_sessions_t *s, const slot_t *e, int64_t now_ms)
{
        return now_ms - e->last_ms > s->idle_ms || now_ms - e->info.created_ms > s->max_ms;
}

static void evict(con_sessions_t *s, int64_t now_ms)
{
        for (size_t i = 0; i < s->n;) {
                if (expired(s, &s->v[i], now_ms))
                        s->v[i] = s->v[--s->n];
                else
                        i++;
        }
}

int con_sessions_create(con_sessions_t *s, const char *user, con_role_t role, int64_t now_ms,
                        char id_out[CON_TOKEN_HEX + 1], con_session_info_t *info)
{
        slot_t e = {.last_ms = now_ms};
        int rc = -1;

        snprintf(e.info.user, sizeof(e.info.user), "%s", user);
        e.info.role = role;
        e.info.created_ms = now_ms;
        random_hex(e.id);
        random_hex(e.info.csrf);
        pthread_mutex_lock(&s->mu);
        evict(s, now_ms);
        if (s->n < CON_SESSIONS_MAX) {
                s->v[s->n++] = e;
                rc = 0;
        }
        pthread_mutex_unlock(&s->mu);
        if (rc == 0) {
                memcpy(id_out, e.id, sizeof(e.id));
                if (info)
                        *info = e.info;
        }
        return rc;
}

static slot_t *find(con_sessions_t *s, const char *id)
{
        if (!id || strlen(id) != CON_TOKEN_HEX)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                if (sodium_memcmp(s->v[i].id, id, CON_TOKEN_HEX) == 0)
                        return &s->v[i];
        return NULL;
}

int con_sessions_get(con_sessions_t *s, const char *id, int64_t now_ms, con_session_info_t *out)
{
        slot_t *e;
        int rc = -1;

        pthread_mutex_lock(&s->mu);
        e = find(s, id);
        if (e && expired(s, e, now_ms)) {
                *e = s->v[--s->n];
        } else if (e) {
                e->last_ms = now_ms;
                *out = e->info;
                rc = 0;
        }
        pthread_mutex_unlock(&s->mu);
        return rc;
}

void con_sessions_drop(con_sessions_t *s, const char *id)
{
        slot_t *e;

        pthread_mutex_lock(&s->mu);
        if ((e = find(s, id)))
                *e = s->v[--s->n];
        pthread_mutex_unlock(&s->mu);
}

int con_cookie_session(const char *cookie, char id_out[CON_TOKEN_HEX + 1])
{
        const char *p = cookie;
        size_t klen = strlen(CON_COOKIE);

        while (p && *p) {
                while (*p == ' ' || *p == ';')
                        p++;
                if (!strncmp(p, CON_COOKIE, klen) && p[klen] == '=') {
                        size_t n = strcspn(p + klen + 1, "; ");
                        if (n != CON_TOKEN_HEX)
                                return -1;
                        memcpy(id_out, p + klen + 1, n);
                        id_out[n] = '\0';
                        return 0;
                }
                p = strchr(p, ';');
        }
        return -1;
}

int con_csrf_ok(const char *expected, const char *given)
{
        if (!expected || !given || strlen(expected) != CON_TOKEN_HEX ||
            strlen(given) != CON_TOKEN_HEX)
                return 0;
        return sodium_memcmp(expected, given, CON_TOKEN_HEX) == 0;
}
