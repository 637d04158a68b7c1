#define _GNU_SOURCE
#include "con_accounts.h"

#include <errno.h>
#include <fcntl.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oshirase/log.h"

#define HEADER    "# oshirase console accounts v1\n"
#define TOTP_STEP 30

typedef struct account {
        char name[CON_NAME_MAX + 1];
        con_role_t role;
        char totp[64]; /* base32, "" = none */
        char hash[crypto_pwhash_STRBYTES];
        int failures;
        int64_t locked_until_ms;
        int64_t last_step; /* last TOTP step accepted */
} account_t;

/* Which version of the file the list holds: a rename (the CLI's and our
 * own writes) changes the inode, an edit in place the times or size, a
 * chmod the change time. */
typedef struct file_id {
        dev_t dev;
        ino_t ino;
        struct timespec mtime, ctime;
        off_t size;
} file_id_t;

struct con_accounts {
        char *path;
        pthread_mutex_t mu;
        account_t *v;
        size_t n, cap;
        file_id_t loaded, refused;          /* refused: a version that failed to load */
        char dummy[crypto_pwhash_STRBYTES]; /* verified for unknown names: same cost */
};

static const char *const role_names[] = {"viewer", "author", "approver", "admin"};

const char *con_role_name(con_role_t r)
{
        return (unsigned)r < 4 ? role_names[r] : "?";
}

int con_role_parse(const char *s, con_role_t *out)
{
        for (int i = 0; s && i < 4; i++)
                if (!strcmp(s, role_names[i])) {
                        *out = (con_role_t)i;
                        return 0;
                }
        return -1;
}

int con_name_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > CON_NAME_MAX)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
                      name[i] == '.' || name[i] == '_' || name[i] == '-'))
                        return 0;
        return 1;
}

static account_t *find(con_accounts_t *a, const char *name)
{
        for (size_t i = 0; i < a->n; i++)
                if (!strcmp(a->v[i].name, name))
                        return &a->v[i];
        return NULL;
}

static int push(con_accounts_t *a, const account_t *acc)
{
        if (a->n == a->cap) {
                size_t cap = a->cap ? a->cap * 2 : 8;
                account_t *nv = realloc(a->v, cap * sizeof(*nv));
                if (!nv)
                        return -1;
                a->v = nv;
                a->cap = cap;
        }
        a->v[a->n++] = *acc;
        return 0;
}

/* One line: name role totp hash. */
static int parse_line(char *line, account_t *acc)
{
        char *f[4], *save = NULL, *p = line;

        memset(acc, 0, sizeof(*acc));
        for (int i = 0; i < 4; i++, p = NULL)
                if (!(f[i] = strtok_r(p, "\t\n", &save)))
                        return -1;
        if (strtok_r(NULL, "\t\n", &save) || !con_name_valid(f[0]) ||
            con_role_parse(f[1], &acc->role) || strlen(f[2]) >= sizeof(acc->totp) ||
            strlen(f[3]) >= sizeof(acc->hash) || strncmp(f[3], "$argon2id$", 10))
                return -1;
        snprintf(acc->name, sizeof(acc->name), "%s", f[0]);
        if (strcmp(f[2], "-"))
                snprintf(acc->totp, sizeof(acc->totp), "%s", f[2]);
        snprintf(acc->hash, sizeof(acc->hash), "%s", f[3]);
        return 0;
}

static int load(con_accounts_t *a, FILE *fp, char *errstr, size_t errstr_size)
{
        char *line = NULL;
        size_t cap = 0;
        int no = 0, rc = 0;
        account_t acc;

        while (getline(&line, &cap, fp) > 0) {
                no++;
                if (line[0] == '#' || line[0] == '\n')
                        continue;
                if (parse_line(line, &acc) || find(a, acc.name) || push(a, &acc)) {
                        snprintf(errstr, errstr_size, "%s line %d: malformed or duplicate account",
                                 a->path, no);
                        rc = -1;
                        break;
                }
        }
        free(line);
        return rc;
}

static void file_id(const struct stat *st, file_id_t *id)
{
        memset(id, 0, sizeof(*id));
        id->dev = st->st_dev;
        id->ino = st->st_ino;
        id->mtime = st->st_mtim;
        id->ctime = st->st_ctim;
        id->size = st->st_size;
}

static int same_file(const file_id_t *x, const file_id_t *y)
{
        return x->dev == y->dev && x->ino == y->ino && x->mtime.tv_sec == y->mtime.tv_sec &&
               x->mtime.tv_nsec == y->mtime.tv_nsec && x->ctime.tv_sec == y->ctime.tv_sec &&
               x->ctime.tv_nsec == y->ctime.tv_nsec && x->size == y->size;
}

/* Reads the file into out (empty, path set); id: the version read. A
 * missing file is ENOENT in *missing. 0 / -1 with errstr. */
static int read_file(con_accounts_t *out, file_id_t *id, int *missing, char *errstr,
                     size_t errstr_size)
{
        FILE *fp = fopen(out->path, "r");
        struct stat st = {0};
        int rc = -1;

        *missing = !fp && errno == ENOENT;
        if (!fp) {
                snprintf(errstr, errstr_size, "accounts file %s: %s", out->path, strerror(errno));
                return -1;
        }
        if (fstat(fileno(fp), &st) || (st.st_mode & 077))
                snprintf(errstr, errstr_size,
                         "accounts file %s: readable by group or others (chmod 600 it)", out->path);
        else if (load(out, fp, errstr, errstr_size) == 0)
                rc = 0;
        file_id(&st, id);
        fclose(fp);
        return rc;
}

/* With the lock held: takes in the file's accounts if it changed since
 * loaded (created or added by `console user add` while this process runs).
 * Failure counts, lock-outs and used TOTP steps stay with their names. A
 * version that does not load leaves the list as it was (logged once). */
static void refresh(con_accounts_t *a)
{
        con_accounts_t fresh = {.path = a->path};
        struct stat st;
        file_id_t id;
        char err[256];
        int missing;

        if (stat(a->path, &st))
                return; /* gone: keep who we know (rename is never seen as this) */
        file_id(&st, &id);
        if (same_file(&id, &a->loaded) || same_file(&id, &a->refused))
                return;
        if (read_file(&fresh, &id, &missing, err, sizeof(err))) {
                osh_warn("%s; keeping the %zu accounts loaded before", err, a->n);
                a->refused = id;
                goto fail;
        }
        for (size_t i = 0; i < fresh.n; i++) {
                account_t *old = find(a, fresh.v[i].name);
                if (old) {
                        fresh.v[i].failures = old->failures;
                        fresh.v[i].locked_until_ms = old->locked_until_ms;
                        fresh.v[i].last_step = old->last_step;
                }
        }
        osh_info("accounts file %s changed: %zu accounts (were %zu)", a->path, fresh.n, a->n);
        if (a->v)
                sodium_memzero(a->v, a->n * sizeof(*a->v));
        free(a->v);
        a->v = fresh.v;
        a->n = fresh.n;
        a->cap = fresh.cap;
        a->loaded = id;
        return;
fail:
        if (fresh.v)
                sodium_memzero(fresh.v, fresh.n * sizeof(*fresh.v));
        free(fresh.v);
}

con_accounts_t *con_accounts_open(const char *path, int create, char *errstr, size_t errstr_size)
{
        con_accounts_t *a = calloc(1, sizeof(*a));
        int missing = 0;

        if (!a || sodium_init() < 0 || oath_init() != OATH_OK || !(a->path = strdup(path))) {
                snprintf(errstr, errstr_size, "accounts: cannot initialise");
                goto fail;
        }
        pthread_mutex_init(&a->mu, NULL);
        if (crypto_pwhash_str(a->dummy, "dummy-password", 14, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE)) {
                snprintf(errstr, errstr_size, "accounts: out of memory hashing");
                goto fail;
        }
        if (read_file(a, &a->loaded, &missing, errstr, errstr_size) && !(missing && create))
                goto fail;
        return a;
fail:
        con_accounts_destroy(a);
        return NULL;
}

void con_accounts_destroy(con_accounts_t *a)
{
        if (!a)
                return;
        if (a->v)
                sodium_memzero(a->v, a->n * sizeof(*a->v));
        free(a->v);
        free(a->path);
        free(a);
}

/* Temporary file (0600), fsync, rename: a crash leaves the old or the new. */
static int save(con_accounts_t *a, char *errstr, size_t errstr_size)
{
        struct stat st;
        char *tmp = NULL;
        FILE *fp = NULL;
        int fd = -1;

        if (asprintf(&tmp, "%s.tmp", a->path) < 0) {
                tmp = NULL;
                goto fail;
        }
        if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 ||
            !(fp = fdopen(fd, "w")))
                goto fail;
        fd = -1;
        fputs(HEADER, fp);
        for (size_t i = 0; i < a->n; i++)
                fprintf(fp, "%s\t%s\t%s\t%s\n", a->v[i].name, con_role_name(a->v[i].role),
                        a->v[i].totp[0] ? a->v[i].totp : "-", a->v[i].hash);
        if (fflush(fp) || fsync(fileno(fp)) || fclose(fp)) {
                fp = NULL;
                goto fail;
        }
        fp = NULL;
        if (rename(tmp, a->path))
                goto fail;
        if (stat(a->path, &st) == 0)
                file_id(&st, &a->loaded); /* our own write: nothing to reload */
        free(tmp);
        return 0;
fail:
        snprintf(errstr, errstr_size, "cannot write %s: %s", a->path, strerror(errno));
        if (fp)
                fclose(fp);
        if (fd >= 0)
                close(fd);
        if (tmp)
                unlink(tmp);
        free(tmp);
        return -1;
}

static int new_totp(char *out, size_t size)
{
        unsigned char raw[20];
        char *b32 = NULL;
        size_t len = 0;

        randombytes_buf(raw, sizeof(raw));
        if (oath_base32_encode((const char *)raw, sizeof(raw), &b32, &len) != OATH_OK ||
            len >= size) {
                free(b32);
                return -1;
        }
        memcpy(out, b32, len);
        out[len] = '\0';
        free(b32);
        return 0;
}

/* Writers (the console's admins, `console user add`) take <path>.lock in
 * turn, so one's read-add-rewrite never drops another's account. The fd,
 * or -1 with errstr. */
static int file_lock(con_accounts_t *a, char *errstr, size_t errstr_size)
{
        char *p = NULL;
        int fd = -1;

        if (asprintf(&p, "%s.lock", a->path) < 0) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX)) {
                snprintf(errstr, errstr_size, "cannot lock %s: %s", p, strerror(errno));
                if (fd >= 0)
                        close(fd);
                fd = -1;
        }
        free(p);
        return fd;
}

int con_accounts_add(con_accounts_t *a, const char *name, const char *password, con_role_t role,
                     int totp, char *totp_out, size_t totp_size, char *errstr, size_t errstr_size)
{
        account_t acc = {.role = role};
        size_t plen = password ? strlen(password) : 0;
        int rc = -1, lock;

        if (!con_name_valid(name)) {
                snprintf(errstr, errstr_size, "account name must be 1-%d of a-z 0-9 . _ -",
                         CON_NAME_MAX);
                return -1;
        }
        if (plen < CON_PASSWORD_MIN || plen > CON_PASSWORD_MAX) {
                snprintf(errstr, errstr_size, "password must be %d-%d bytes", CON_PASSWORD_MIN,
                         CON_PASSWORD_MAX);
                return -1;
        }
        snprintf(acc.name, sizeof(acc.name), "%s", name);
        if (crypto_pwhash_str(acc.hash, password, plen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) ||
            (totp && new_totp(acc.totp, sizeof(acc.totp)))) {
                snprintf(errstr, errstr_size, "cannot hash the password (out of memory?)");
                return -1;
        }
        pthread_mutex_lock(&a->mu);
        if ((lock = file_lock(a, errstr, errstr_size)) >= 0) {
                refresh(a); /* keeps what another process added meanwhile */
                if (find(a, name))
                        snprintf(errstr, errstr_size, "account %s exists already", name);
                else if (push(a, &acc))
                        snprintf(errstr, errstr_size, "out of memory");
                else if (save(a, errstr, errstr_size))
                        a->n--;
                else
                        rc = 0;
                close(lock); /* releases the flock */
        }
        pthread_mutex_unlock(&a->mu);
        if (rc == 0 && totp && totp_out)
                snprintf(totp_out, totp_size, "%s", acc.totp);
        sodium_memzero(&acc, sizeof(acc));
        return rc;
}

/* The step the code matches (window ±1), or -1. */
static int64_t totp_step(const char *secret_b32, const char *otp, int64_t now_ms)
{
        char *raw = NULL;
        size_t len = 0;
        int pos;

        if (!otp || strlen(otp) != 6 ||
            oath_base32_decode(secret_b32, strlen(secret_b32), &raw, &len) != OATH_OK)
                return -1;
        pos = oath_totp_validate(raw, len, (time_t)(now_ms / 1000), TOTP_STEP, 0, 1, otp);
        sodium_memzero(raw, len);
        free(raw);
        if (pos < 0)
                return -1;
        /* oath_totp_validate gives the distance, not the direction: find it. */
        for (int d = -1; d <= 1; d++) {
                char code[7];
                int64_t step = now_ms / 1000 / TOTP_STEP + d;
                if (con_totp_code(secret_b32, step * TOTP_STEP * 1000, code) == 0 &&
                    !strcmp(code, otp))
                        return step;
        }
        return -1;
}

int con_totp_code(const char *secret_b32, int64_t now_ms, char out[7])
{
        char *raw = NULL;
        size_t len = 0;
        int rc;

        if (oath_base32_decode(secret_b32, strlen(secret_b32), &raw, &len) != OATH_OK)
                return -1;
        rc = oath_totp_generate(raw, len, (time_t)(now_ms / 1000), TOTP_STEP, 0, 6, out);
        free(raw);
        return rc == OATH_OK ? 0 : -1;
}

/* Called with the lock held; the hash check runs unlocked (it is slow). */
static con_login_t fail_locked(account_t *acc, int64_t now_ms, int max_failures, int64_t lock_ms)
{
        if (++acc->failures < max_failures)
                return CON_LOGIN_BAD;
        acc->failures = 0;
        acc->locked_until_ms = now_ms + lock_ms;
        return CON_LOGIN_NOW_LOCKED;
}

con_login_t con_accounts_login(con_accounts_t *a, const char *name, const char *password,
                               const char *otp, int64_t now_ms, int max_failures, int64_t lock_ms,
                               con_role_t *role)
{
        char hash[crypto_pwhash_STRBYTES], totp[64];
        account_t *acc;
        int ok, known;
        int64_t step = 0;
        con_login_t v;

        pthread_mutex_lock(&a->mu);
        refresh(a);
        acc = name ? find(a, name) : NULL;
        known = acc != NULL;
        if (acc && acc->locked_until_ms > now_ms) {
                pthread_mutex_unlock(&a->mu);
                return CON_LOGIN_LOCKED;
        }
        snprintf(hash, sizeof(hash), "%s", acc ? acc->hash : a->dummy);
        snprintf(totp, sizeof(totp), "%s", acc ? acc->totp : "");
        pthread_mutex_unlock(&a->mu);

        ok = password && crypto_pwhash_str_verify(hash, password, strlen(password)) == 0 && known;
        if (ok && totp[0])
                ok = (step = totp_step(totp, otp, now_ms)) >= 0;

        pthread_mutex_lock(&a->mu);
        acc = known ? find(a, name) : NULL;
        if (ok && acc && totp[0] && step <= acc->last_step)
                ok = 0; /* a code already used */
        if (!acc)
                v = CON_LOGIN_BAD;
        else if (!ok)
                v = fail_locked(acc, now_ms, max_failures, lock_ms);
        else {
                acc->failures = 0;
                if (totp[0])
                        acc->last_step = step;
                *role = acc->role;
                v = CON_LOGIN_OK;
        }
        pthread_mutex_unlock(&a->mu);
        sodium_memzero(hash, sizeof(hash));
        sodium_memzero(totp, sizeof(totp));
        return v;
}

size_t con_accounts_count(con_accounts_t *a)
{
        size_t n;

        pthread_mutex_lock(&a->mu);
        refresh(a);
        n = a->n;
        pthread_mutex_unlock(&a->mu);
        return n;
}
