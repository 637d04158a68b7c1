#include "disp_ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/clock.h"
#include "oshirase/grow.h"
#include "oshirase/sha256.h"
#include "oshirase/strutil.h"

typedef struct slot {
        char *key;
        char status[16]; /* "" while not final */
        long pend;       /* index into pending[], -1 none */
        int acked, channel, recipients, perm;
        char rcpt; /* per-recipient entry ("key\x1Findex"): 'S' or 'P' */
        char *campaign;
} slot_t;

/* The group-commit thread: fdatasyncs up to `want` appends while the
 * owner goes on; `done` appends are on disk. */
typedef struct syncer {
        pthread_t th;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        uint64_t want, done;
        int started, stop, failed;
        disp_ledger_stats_t st;
} syncer_t;

struct disp_ledger {
        char *path;
        int fd;
        uint64_t appended; /* entries written so far (tickets count these) */
        uint64_t synced;   /* of which known durable (owner's view) */
        disp_ledger_sync_t sync;
        syncer_t sy;
        slot_t *slots;
        size_t cap, used, finals;
        disp_pending_t *pending;
        size_t npend, pend_cap;
        struct expected {
                char *campaign;
                int64_t n;
        } * expected;
        size_t nexp, exp_cap;
};

static slot_t *find(disp_ledger_t *l, const char *key, int create);

static int grow(disp_ledger_t *l)
{
        slot_t *old = l->slots;
        size_t oldcap = l->cap;

        l->cap = oldcap ? oldcap * 2 : 1024;
        l->slots = calloc(l->cap, sizeof(slot_t));
        if (!l->slots) {
                l->slots = old;
                l->cap = oldcap;
                return -1;
        }
        l->used = 0;
        for (size_t i = 0; i < oldcap; i++) {
                if (!old[i].key)
                        continue;
                slot_t *s = find(l, old[i].key, 1);
                free(s->key);
                *s = old[i];
        }
        free(old);
        return 0;
}

/* Open addressing with linear probing; keys are never removed. */
static slot_t *find(disp_ledger_t *l, const char *key, int create)
{
        size_t i;

        if (create && (l->used + 1) * 2 > l->cap && grow(l) < 0)
                return NULL;
        if (!l->cap)
                return NULL;
        for (i = osh_str_hash(key) & (l->cap - 1); l->slots[i].key; i = (i + 1) & (l->cap - 1))
                if (!strcmp(l->slots[i].key, key))
                        return &l->slots[i];
        if (!create)
                return NULL;
        l->slots[i].key = strdup(key);
        if (!l->slots[i].key)
                return NULL;
        l->slots[i].pend = -1;
        l->used++;
        return &l->slots[i];
}

static void pend_free(disp_pending_t *p)
{
        free(p->key);
        free(p->rec);
}

static void drop_pending(disp_ledger_t *l, slot_t *s)
{
        size_t i = (size_t)s->pend, last = l->npend - 1;

        pend_free(&l->pending[i]);
        if (i != last) { /* move the last entry into the hole */
                l->pending[i] = l->pending[last];
                find(l, l->pending[i].key, 0)->pend = (long)i;
        }
        l->npend--;
        s->pend = -1;
}

static int mem_final(disp_ledger_t *l, const char *key, const char *status,
                     const disp_final_meta_t *m)
{
        slot_t *s = find(l, key, 1);

        if (!s)
                return -1;
        free(s->campaign);
        s->campaign = strdup(m && m->campaign_id ? m->campaign_id : "");
        s->channel = m ? m->channel : 0;
        s->recipients = m ? m->recipients : 0;
        s->perm = m ? m->perm : 0;
        s->acked = 0;
        if (s->pend >= 0)
                drop_pending(l, s);
        if (!s->status[0])
                l->finals++;
        snprintf(s->status, sizeof(s->status), "%s", status);
        return 0;
}

static int mem_pending(disp_ledger_t *l, const disp_pending_t *p)
{
        slot_t *s = find(l, p->key, 1);
        disp_pending_t c = *p;

        if (!s)
                return -1;
        c.key = strdup(p->key);
        c.rec = malloc(p->rec_len ? p->rec_len : 1);
        if (!c.key || !c.rec) {
                pend_free(&c);
                return -1;
        }
        memcpy(c.rec, p->rec, p->rec_len);
        if (s->pend >= 0) {
                pend_free(&l->pending[s->pend]);
                l->pending[s->pend] = c;
                return 0;
        }
        if (l->npend == l->pend_cap) {
                size_t cap = l->pend_cap ? l->pend_cap * 2 : 64;
                disp_pending_t *np = realloc(l->pending, cap * sizeof(*np));
                if (!np) {
                        pend_free(&c);
                        return -1;
                }
                l->pending = np;
                l->pend_cap = cap;
        }
        l->pending[l->npend] = c;
        s->pend = (long)l->npend++;
        return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
        while (len) {
                ssize_t n = write(fd, buf, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

static char *pending_line(const disp_pending_t *p, size_t *len)
{
        size_t cap = strlen(p->key) + p->rec_len * 2 + 96;
        char *line = malloc(cap);
        int n;

        if (!line)
                return NULL;
        n = snprintf(line, cap, "P\t%s\t%" PRId64 "\t%u\t%" PRId64 "\t", p->key, p->due_ms,
                     p->attempt, p->first_ms);
        osh_hex_encode(p->rec, p->rec_len, line + n);
        n += (int)(p->rec_len * 2);
        line[n++] = '\n';
        *len = (size_t)n;
        return line;
}

static int append(disp_ledger_t *l, const char *line, size_t len)
{
        if (write_all(l->fd, line, len) < 0)
                return -1;
        l->appended++;
        return l->sync == DISP_LEDGER_SYNC_EACH ? disp_ledger_sync(l) : 0;
}

static void *syncer_main(void *opaque)
{
        disp_ledger_t *l = opaque;
        syncer_t *sy = &l->sy;
        uint64_t target;

        pthread_mutex_lock(&sy->mu);
        for (;;) {
                while (!sy->stop && !sy->failed && sy->done >= sy->want)
                        pthread_cond_wait(&sy->cv, &sy->mu);
                if (sy->stop || sy->failed)
                        break;
                target = sy->want; /* everything written before this was asked for */
                pthread_mutex_unlock(&sy->mu);
                double t0 = osh_mono_s();
                int rc = fdatasync(l->fd);
                double ms = (osh_mono_s() - t0) * 1000.0;
                pthread_mutex_lock(&sy->mu);
                sy->st.syncs++;
                sy->st.sync_ms += ms;
                if (ms > sy->st.sync_ms_max)
                        sy->st.sync_ms_max = ms;
                if (rc < 0)
                        sy->failed = 1;
                else
                        sy->done = target;
                pthread_cond_broadcast(&sy->cv);
        }
        pthread_mutex_unlock(&sy->mu);
        return NULL;
}

uint64_t disp_ledger_commit(disp_ledger_t *l)
{
        syncer_t *sy = &l->sy;

        if (l->sync != DISP_LEDGER_SYNC_GROUP || l->synced >= l->appended) {
                l->synced = l->appended; /* nothing to wait for */
                return l->appended;
        }
        pthread_mutex_lock(&sy->mu);
        if (!sy->started && pthread_create(&sy->th, NULL, syncer_main, l) != 0)
                sy->failed = 1;
        sy->started = !sy->failed;
        if (sy->want < l->appended)
                sy->want = l->appended;
        pthread_cond_broadcast(&sy->cv);
        pthread_mutex_unlock(&sy->mu);
        return l->appended;
}

int disp_ledger_durable(disp_ledger_t *l, uint64_t ticket, int wait)
{
        syncer_t *sy = &l->sy;
        int rc;

        if (ticket <= l->synced)
                return 1;
        pthread_mutex_lock(&sy->mu);
        if (wait && !sy->failed && sy->done < ticket) {
                double t0 = osh_mono_s();
                while (!sy->failed && sy->done < ticket)
                        pthread_cond_wait(&sy->cv, &sy->mu);
                sy->st.waited_ms += (osh_mono_s() - t0) * 1000.0;
        }
        rc = sy->failed ? -1 : sy->done >= ticket;
        if (sy->done > l->synced)
                l->synced = sy->done;
        pthread_mutex_unlock(&sy->mu);
        return rc;
}

void disp_ledger_stats(disp_ledger_t *l, disp_ledger_stats_t *out)
{
        pthread_mutex_lock(&l->sy.mu);
        *out = l->sy.st;
        pthread_mutex_unlock(&l->sy.mu);
}

int disp_ledger_sync(disp_ledger_t *l)
{
        return disp_ledger_durable(l, disp_ledger_commit(l), 1) < 0 ? -1 : 0;
}

/* "F key status campaign channel recipients perm" (campaign already
 * tab-free; files from before perm have 6 fields). */
static int final_line(char *line, size_t size, const char *key, const char *status,
                      const char *campaign, int channel, int recipients, int perm)
{
        int n = snprintf(line, size, "F\t%s\t%s\t%s\t%d\t%d\t%d\n", key, status,
                         campaign ? campaign : "", channel, recipients, perm);

        return n < 0 || (size_t)n >= size ? -1 : n;
}

int disp_ledger_put_final(disp_ledger_t *l, const char *key, const char *status,
                          const disp_final_meta_t *meta)
{
        char line[512], camp[201];
        const char *c = meta && meta->campaign_id ? meta->campaign_id : "";
        disp_final_meta_t m = {camp, meta ? meta->channel : 0, meta ? meta->recipients : 0,
                               meta ? meta->perm : 0};
        int n;

        snprintf(camp, sizeof(camp), "%s", c);
        for (char *p = camp; *p; p++)
                if (*p == '\t' || *p == '\n')
                        *p = ' ';
        n = final_line(line, sizeof(line), key, status, camp, m.channel, m.recipients, m.perm);
        if (n < 0 || strchr(key, '\t') || strchr(key, '\n'))
                return -1;
        if (append(l, line, (size_t)n) < 0)
                return -1;
        return mem_final(l, key, status, &m);
}

int disp_ledger_put_acked(disp_ledger_t *l, const char *key)
{
        char line[512];
        slot_t *s = find(l, key, 0);
        int n = snprintf(line, sizeof(line), "A\t%s\n", key);

        if (!s || s->acked || n < 0 || (size_t)n >= sizeof(line))
                return 0;
        s->acked = 1;
        return write_all(l->fd, line, (size_t)n);
}

void disp_ledger_foreach_unacked(disp_ledger_t *l,
                                 void (*fn)(void *opaque, const char *key, const char *status,
                                            const disp_final_meta_t *meta),
                                 void *opaque)
{
        for (size_t i = 0; i < l->cap; i++) {
                slot_t *s = &l->slots[i];
                disp_final_meta_t m;
                if (!s->key || !s->status[0] || s->acked)
                        continue;
                m = (disp_final_meta_t){s->campaign, s->channel, s->recipients, s->perm};
                fn(opaque, s->key, s->status, &m);
        }
}

void disp_ledger_foreach_final(disp_ledger_t *l,
                               void (*fn)(void *opaque, const char *key, const char *status,
                                          const disp_final_meta_t *meta),
                               void *opaque)
{
        for (size_t i = 0; i < l->cap; i++) {
                slot_t *s = &l->slots[i];
                disp_final_meta_t m;
                if (!s->key || !s->status[0])
                        continue;
                m = (disp_final_meta_t){s->campaign, s->channel, s->recipients, s->perm};
                fn(opaque, s->key, s->status, &m);
        }
}

void disp_ledger_foreach_pending(disp_ledger_t *l,
                                 void (*fn)(void *opaque, const disp_pending_t *p), void *opaque)
{
        for (size_t i = 0; i < l->npend; i++)
                fn(opaque, &l->pending[i]);
}

size_t disp_ledger_unacked_count(const disp_ledger_t *l)
{
        size_t n = 0;

        for (size_t i = 0; i < l->cap; i++)
                n += l->slots[i].key && l->slots[i].status[0] && !l->slots[i].acked;
        return n;
}

static struct expected *find_expected(const disp_ledger_t *l, const char *campaign)
{
        for (size_t i = 0; i < l->nexp; i++)
                if (!strcmp(l->expected[i].campaign, campaign))
                        return &l->expected[i];
        return NULL;
}

static int mem_expected(disp_ledger_t *l, const char *campaign, int64_t n)
{
        struct expected *e = find_expected(l, campaign);

        if (!e) {
                char *c = strdup(campaign);
                if (!c || osh_grow(&l->expected, &l->exp_cap, l->nexp, sizeof(*e), 16) < 0) {
                        free(c);
                        return -1;
                }
                e = &l->expected[l->nexp++];
                e->campaign = c;
        }
        e->n = n;
        return 0;
}

int disp_ledger_put_expected(disp_ledger_t *l, const char *campaign_id, int64_t n)
{
        char line[320];
        int len;

        if (disp_ledger_expected(l, campaign_id) == n)
                return 0;
        len = snprintf(line, sizeof(line), "E\t%s\t%" PRId64 "\n", campaign_id, n);
        if (len < 0 || (size_t)len >= sizeof(line) || strpbrk(campaign_id, "\t\n") ||
            append(l, line, (size_t)len) < 0)
                return -1;
        return mem_expected(l, campaign_id, n);
}

int64_t disp_ledger_expected(const disp_ledger_t *l, const char *campaign_id)
{
        const struct expected *e = find_expected(l, campaign_id);

        return e ? e->n : -1;
}

#define RCPT_SEP '\x1F' /* dispatch ids never hold control characters */

static int mem_rcpt(disp_ledger_t *l, const char *key, size_t index, char outcome)
{
        char k[400];
        slot_t *s;

        snprintf(k, sizeof(k), "%s%c%zu", key, RCPT_SEP, index);
        s = find(l, k, 1);
        if (!s)
                return -1;
        s->rcpt = outcome;
        return 0;
}

int disp_ledger_put_rcpt(disp_ledger_t *l, const char *key, size_t index, char outcome)
{
        char line[400];
        int n = snprintf(line, sizeof(line), "R\t%s\t%zu\t%c\n", key, index, outcome);

        if (n < 0 || (size_t)n >= sizeof(line) || strpbrk(key, "\t\n") ||
            append(l, line, (size_t)n) < 0)
                return -1;
        return mem_rcpt(l, key, index, outcome);
}

char disp_ledger_rcpt(disp_ledger_t *l, const char *key, size_t index)
{
        char k[400];
        slot_t *s;

        snprintf(k, sizeof(k), "%s%c%zu", key, RCPT_SEP, index);
        s = find(l, k, 0);
        return s ? s->rcpt : 0;
}

/* A per-recipient entry whose dispatch is still open (kept by compaction). */
static int rcpt_open(disp_ledger_t *l, const slot_t *sl)
{
        char parent[400];
        const char *sep = strrchr(sl->key, RCPT_SEP);
        slot_t *p;

        if (!sl->rcpt || !sep || (size_t)(sep - sl->key) >= sizeof(parent))
                return 0;
        memcpy(parent, sl->key, (size_t)(sep - sl->key));
        parent[sep - sl->key] = '\0';
        p = find(l, parent, 0);
        return !p || !p->status[0];
}

int disp_ledger_put_pending(disp_ledger_t *l, const disp_pending_t *p)
{
        size_t len;
        char *line;
        int rc = -1;

        if (strchr(p->key, '\t') || strchr(p->key, '\n'))
                return -1;
        line = pending_line(p, &len);
        if (line && append(l, line, len) == 0)
                rc = mem_pending(l, p);
        free(line);
        return rc;
}

/* One line of the file into memory; malformed (torn) lines are skipped. */
static void load_line(disp_ledger_t *l, char *line)
{
        char *f[7];
        int n = 0;

        for (char *s = line, *t; n < 7 && s; s = t) {
                t = strchr(s, '\t');
                if (t)
                        *t++ = '\0';
                f[n++] = s;
        }
        if ((n == 6 || n == 7) && !strcmp(f[0], "F") && f[2][0]) {
                disp_final_meta_t m = {f[3], atoi(f[4]), atoi(f[5]), n == 7 ? atoi(f[6]) : 0};
                mem_final(l, f[1], f[2], &m);
        } else if (n == 3 && !strcmp(f[0], "E")) {
                mem_expected(l, f[1], strtoll(f[2], NULL, 10));
        } else if (n == 4 && !strcmp(f[0], "R") && (f[3][0] == 'S' || f[3][0] == 'P')) {
                mem_rcpt(l, f[1], strtoul(f[2], NULL, 10), f[3][0]);
        } else if (n == 2 && !strcmp(f[0], "A")) {
                slot_t *s = find(l, f[1], 0);
                if (s)
                        s->acked = 1;
        } else if (n == 6 && !strcmp(f[0], "P")) {
                disp_pending_t p = {f[1],
                                    strtoll(f[2], NULL, 10),
                                    strtoll(f[4], NULL, 10),
                                    (unsigned)strtoul(f[3], NULL, 10),
                                    NULL,
                                    0};
                size_t hl = strlen(f[5]);
                p.rec = malloc(hl / 2 + 1);
                if (p.rec && osh_hex_decode(f[5], p.rec, hl / 2 + 1, &p.rec_len) == 0)
                        mem_pending(l, &p);
                free(p.rec);
        }
}

static int load(disp_ledger_t *l, FILE *fp)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        while ((n = getline(&line, &cap, fp)) > 0) {
                if (line[n - 1] != '\n') /* torn by a crash mid-write */
                        break;
                line[n - 1] = '\0';
                load_line(l, line);
        }
        free(line);
        return 0;
}

/* Writes the current state to path.tmp and renames it over path. */
static int compact(disp_ledger_t *l, char *errstr, size_t errstr_size)
{
        size_t plen = strlen(l->path) + 5;
        char *tmp = malloc(plen);
        int fd = -1, rc = -1;

        if (!tmp)
                goto fail;
        snprintf(tmp, plen, "%s.tmp", l->path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                goto fail;
        for (size_t i = 0; i < l->cap; i++) {
                const slot_t *sl = &l->slots[i];
                char line[640];
                int n;
                if (sl->key && rcpt_open(l, sl)) {
                        const char *sep = strrchr(sl->key, RCPT_SEP);
                        n = snprintf(line, sizeof(line), "R\t%.*s\t%s\t%c\n", (int)(sep - sl->key),
                                     sl->key, sep + 1, sl->rcpt);
                        if (n < 0 || (size_t)n >= sizeof(line) ||
                            write_all(fd, line, (size_t)n) < 0)
                                goto fail;
                        continue;
                }
                if (!sl->key || !sl->status[0])
                        continue;
                n = final_line(line, sizeof(line), sl->key, sl->status, sl->campaign, sl->channel,
                               sl->recipients, sl->perm);
                if (n < 0 || write_all(fd, line, (size_t)n) < 0)
                        goto fail;
                if (sl->acked) {
                        n = snprintf(line, sizeof(line), "A\t%s\n", sl->key);
                        if (write_all(fd, line, (size_t)n) < 0)
                                goto fail;
                }
        }
        for (size_t i = 0; i < l->nexp; i++) {
                char line[320];
                int n = snprintf(line, sizeof(line), "E\t%s\t%" PRId64 "\n",
                                 l->expected[i].campaign, l->expected[i].n);
                if (n < 0 || (size_t)n >= sizeof(line) || write_all(fd, line, (size_t)n) < 0)
                        goto fail;
        }
        for (size_t i = 0; i < l->npend; i++) {
                size_t len;
                char *line = pending_line(&l->pending[i], &len);
                int w = line ? write_all(fd, line, len) : -1;
                free(line);
                if (w < 0)
                        goto fail;
        }
        if (fsync(fd) < 0 || rename(tmp, l->path) < 0)
                goto fail;
        rc = 0;
fail:
        if (rc < 0)
                snprintf(errstr, errstr_size, "ledger %s: compaction failed: %s", l->path,
                         strerror(errno));
        if (fd >= 0)
                close(fd);
        free(tmp);
        return rc;
}

disp_ledger_t *disp_ledger_open(const char *path, disp_ledger_sync_t sync, char *errstr,
                                size_t errstr_size)
{
        disp_ledger_t *l = calloc(1, sizeof(*l));
        FILE *fp;

        if (l) {
                pthread_mutex_init(&l->sy.mu, NULL);
                pthread_cond_init(&l->sy.cv, NULL);
        }
        if (!l || !(l->path = strdup(path)) || grow(l) < 0) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        l->fd = -1;
        l->sync = sync;

        fp = fopen(path, "r");
        if (fp) {
                load(l, fp);
                fclose(fp);
        } else if (errno != ENOENT) {
                snprintf(errstr, errstr_size, "ledger %s: %s", path, strerror(errno));
                goto fail;
        }
        if (compact(l, errstr, errstr_size) < 0)
                goto fail;
        l->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (l->fd < 0) {
                snprintf(errstr, errstr_size, "ledger %s: %s", path, strerror(errno));
                goto fail;
        }
        return l;
fail:
        disp_ledger_close(l);
        return NULL;
}

void disp_ledger_close(disp_ledger_t *l)
{
        if (!l)
                return;
        if (l->sy.started) {
                pthread_mutex_lock(&l->sy.mu);
                l->sy.stop = 1;
                pthread_cond_broadcast(&l->sy.cv);
                pthread_mutex_unlock(&l->sy.mu);
                pthread_join(l->sy.th, NULL);
        }
        pthread_mutex_destroy(&l->sy.mu);
        pthread_cond_destroy(&l->sy.cv);
        if (l->fd >= 0)
                close(l->fd);
        for (size_t i = 0; i < l->cap; i++) {
                free(l->slots[i].key);
                free(l->slots[i].campaign);
        }
        for (size_t i = 0; i < l->npend; i++)
                pend_free(&l->pending[i]);
        for (size_t i = 0; i < l->nexp; i++)
                free(l->expected[i].campaign);
        free(l->expected);
        free(l->slots);
        free(l->pending);
        free(l->path);
        free(l);
}

const char *disp_ledger_final(disp_ledger_t *l, const char *key)
{
        slot_t *s = find(l, key, 0);

        return s && s->status[0] ? s->status : NULL;
}

int disp_ledger_is_pending(disp_ledger_t *l, const char *key)
{
        slot_t *s = find(l, key, 0);

        return s && s->pend >= 0;
}

const disp_pending_t *disp_ledger_next(disp_ledger_t *l)
{
        const disp_pending_t *best = NULL;

        for (size_t i = 0; i < l->npend; i++)
                if (!best || l->pending[i].due_ms < best->due_ms)
                        best = &l->pending[i];
        return best;
}

size_t disp_ledger_pending_count(const disp_ledger_t *l)
{
        return l->npend;
}

size_t disp_ledger_final_count(const disp_ledger_t *l)
{
        return l->finals;
}
