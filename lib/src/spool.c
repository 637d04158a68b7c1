#include "oshirase/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oshirase/log.h"
#include "oshirase/sha256.h"

#define SPOOL_MAGIC   "OSHSPL01"
#define SPOOL_HDR_LEN (8 + 8 + 8 + OSH_SHA256_LEN)
#define SPOOL_STATE   "sequence"

struct spool_entry {
        uint64_t seq;
        uint64_t size; /* file size */
};

struct osh_spool {
        char *dir;
        uint64_t max_bytes;
        int fsync_data;
        struct spool_entry *e; /* ring, oldest at head */
        size_t head, len, cap;
        uint64_t bytes, corrupt, rejected, next_seq;
};

#define AT(sp, i) (((sp)->head + (i)) % (sp)->cap)

static void put_u64(uint8_t *p, uint64_t v)
{
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
        uint64_t v = 0;

        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

static void entry_path(const osh_spool_t *sp, uint64_t seq, const char *sub, char *out, size_t size)
{
        snprintf(out, size, "%s/%s%s%020" PRIu64 ".spl", sp->dir, sub ? sub : "", sub ? "/" : "",
                 seq);
}

static int write_all(int fd, const void *p, size_t len)
{
        const uint8_t *b = p;

        while (len) {
                ssize_t n = write(fd, b, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                b += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Writes a file atomically: tmp, optional fsync, rename. */
static int write_atomic(const osh_spool_t *sp, const char *path, const void *a, size_t alen,
                        const void *b, size_t blen)
{
        char tmp[4200];
        int fd;

        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -1;
        if (write_all(fd, a, alen) || write_all(fd, b, blen) || (sp->fsync_data && fsync(fd))) {
                close(fd);
                unlink(tmp);
                return -1;
        }
        if (close(fd) || rename(tmp, path)) {
                unlink(tmp);
                return -1;
        }
        return 0;
}

static int push(osh_spool_t *sp, uint64_t seq, uint64_t size)
{
        if (sp->len == sp->cap) {
                size_t cap = sp->cap ? sp->cap * 2 : 64;
                struct spool_entry *ne = malloc(cap * sizeof(*ne));
                if (!ne)
                        return -1;
                for (size_t i = 0; i < sp->len; i++)
                        ne[i] = sp->e[AT(sp, i)];
                free(sp->e);
                sp->e = ne;
                sp->cap = cap;
                sp->head = 0;
        }
        sp->e[AT(sp, sp->len)] = (struct spool_entry){seq, size};
        sp->len++;
        sp->bytes += size;
        if (seq >= sp->next_seq)
                sp->next_seq = seq + 1;
        return 0;
}

static void drop_head(osh_spool_t *sp)
{
        sp->bytes -= sp->e[sp->head].size;
        sp->head = (sp->head + 1) % sp->cap;
        sp->len--;
}

/* Moves entry seq into DIR/sub/ (created on demand). */
static int move_to(osh_spool_t *sp, uint64_t seq, const char *sub)
{
        char from[4200], to[4200];

        snprintf(to, sizeof(to), "%s/%s", sp->dir, sub);
        if (mkdir(to, 0700) && errno != EEXIST)
                return -1;
        entry_path(sp, seq, NULL, from, sizeof(from));
        entry_path(sp, seq, sub, to, sizeof(to));
        return rename(from, to);
}

/* Reads and checks one entry file. 0 ok (data malloc'd), 1 corrupt, -1 I/O. */
static int read_entry(const osh_spool_t *sp, uint64_t seq, uint8_t **data, size_t *len)
{
        char path[4200];
        uint8_t hdr[SPOOL_HDR_LEN], sum[OSH_SHA256_LEN];
        FILE *fp;
        uint64_t n;
        int rc = 1;

        *data = NULL;
        entry_path(sp, seq, NULL, path, sizeof(path));
        fp = fopen(path, "rb");
        if (!fp)
                return -1;
        if (fread(hdr, 1, sizeof(hdr), fp) != sizeof(hdr) || memcmp(hdr, SPOOL_MAGIC, 8) ||
            get_u64(hdr + 8) != seq)
                goto done;
        n = get_u64(hdr + 16);
        if (n > ((uint64_t)1 << 34) || !(*data = malloc(n ? n : 1))) /* 16 GiB: garbage */
                goto done;
        if (fread(*data, 1, n, fp) != n || fgetc(fp) != EOF || osh_sha256(*data, n, sum) ||
            !osh_ct_equal(sum, hdr + 24, OSH_SHA256_LEN))
                goto done;
        *len = n;
        rc = 0;
done:
        fclose(fp);
        if (rc) {
                free(*data);
                *data = NULL;
        }
        return rc;
}

static void quarantine(osh_spool_t *sp, uint64_t seq)
{
        osh_error("spool %s: entry %" PRIu64 " is corrupt, moved to corrupt/", sp->dir, seq);
        if (move_to(sp, seq, "corrupt"))
                osh_error("spool %s: cannot move entry %" PRIu64 ": %s", sp->dir, seq,
                          strerror(errno));
        sp->corrupt++;
        if (seq >= sp->next_seq)
                sp->next_seq = seq + 1; /* never reuse a quarantined number */
}

static int cmp_entry(const void *a, const void *b)
{
        const struct spool_entry *x = a, *y = b;

        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static uint64_t read_state(const osh_spool_t *sp)
{
        char path[4200], buf[32] = "";
        FILE *fp;

        snprintf(path, sizeof(path), "%s/" SPOOL_STATE, sp->dir);
        fp = fopen(path, "r");
        if (!fp)
                return 0;
        if (!fgets(buf, sizeof(buf), fp))
                buf[0] = '\0';
        fclose(fp);
        return strtoull(buf, NULL, 10);
}

/* Collects DIR/<20 digits>.spl, drops *.tmp leftovers of a crash. */
static int scan(osh_spool_t *sp, struct spool_entry **out, size_t *n)
{
        DIR *d = opendir(sp->dir);
        struct dirent *de;
        struct spool_entry *v = NULL, *nv;
        size_t cnt = 0, cap = 0;
        char path[4200];
        struct stat st;

        if (!d)
                return -1;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                snprintf(path, sizeof(path), "%s/%s", sp->dir, de->d_name);
                if (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")) {
                        unlink(path);
                        continue;
                }
                if (l != 24 || strspn(de->d_name, "0123456789") != 20 ||
                    strcmp(de->d_name + 20, ".spl") || stat(path, &st))
                        continue;
                if (cnt == cap) {
                        cap = cap ? cap * 2 : 64;
                        nv = realloc(v, cap * sizeof(*v));
                        if (!nv)
                                break;
                        v = nv;
                }
                v[cnt].seq = strtoull(de->d_name, NULL, 10);
                v[cnt++].size = (uint64_t)st.st_size;
        }
        closedir(d);
        if (cnt > 1)
                qsort(v, cnt, sizeof(*v), cmp_entry);
        *out = v;
        *n = cnt;
        return 0;
}

/* Queues every entry whose header is sane; the SHA-256 is checked on read. */
static int load(osh_spool_t *sp)
{
        struct spool_entry *v = NULL;
        size_t n = 0;
        int rc = 0;

        if (scan(sp, &v, &n))
                return -1;
        for (size_t i = 0; i < n && !rc; i++) {
                if (v[i].size < SPOOL_HDR_LEN) {
                        quarantine(sp, v[i].seq);
                        continue;
                }
                rc = push(sp, v[i].seq, v[i].size);
        }
        free(v);
        return rc;
}

osh_spool_t *osh_spool_open(const char *dir, uint64_t max_bytes, int fsync_data, char *errstr,
                            size_t errstr_size)
{
        osh_spool_t *sp = calloc(1, sizeof(*sp));
        uint64_t state;

        if (!sp || !(sp->dir = strdup(dir))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        sp->max_bytes = max_bytes;
        sp->fsync_data = fsync_data;
        sp->next_seq = 1;
        if ((mkdir(dir, 0700) && errno != EEXIST) || load(sp)) {
                snprintf(errstr, errstr_size, "spool %s: %s", dir, strerror(errno));
                goto fail;
        }
        state = read_state(sp);
        if (state >= sp->next_seq)
                sp->next_seq = state + 1;
        return sp;
fail:
        osh_spool_close(sp);
        return NULL;
}

void osh_spool_close(osh_spool_t *sp)
{
        if (!sp)
                return;
        free(sp->dir);
        free(sp->e);
        free(sp);
}

uint64_t osh_spool_next_seq(const osh_spool_t *sp)
{
        return sp->next_seq;
}

static int write_state(const osh_spool_t *sp, uint64_t seq)
{
        char path[4200], num[32];
        int n = snprintf(num, sizeof(num), "%" PRIu64 "\n", seq);

        snprintf(path, sizeof(path), "%s/" SPOOL_STATE, sp->dir);
        return write_atomic(sp, path, num, (size_t)n, "", 0);
}

int osh_spool_advance(osh_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size)
{
        if (seq <= sp->next_seq)
                return 0;
        if (write_state(sp, seq - 1)) {
                snprintf(errstr, errstr_size, "spool %s: cannot record sequence: %s", sp->dir,
                         strerror(errno));
                return -1;
        }
        sp->next_seq = seq;
        return 0;
}

int osh_spool_would_overflow(const osh_spool_t *sp, size_t len)
{
        /* An empty spool takes any one entry, so a writer holding back for
         * space can never wait forever on an entry larger than the bound. */
        return sp->max_bytes && sp->len && sp->bytes + SPOOL_HDR_LEN + len > sp->max_bytes;
}

int osh_spool_append(osh_spool_t *sp, uint64_t seq, const void *data, size_t len, char *errstr,
                     size_t errstr_size)
{
        uint8_t hdr[SPOOL_HDR_LEN];
        char path[4200];

        if (seq < sp->next_seq) {
                snprintf(errstr, errstr_size, "spool: sequence %" PRIu64 " < next %" PRIu64, seq,
                         sp->next_seq);
                return -1;
        }
        if (osh_spool_would_overflow(sp, len)) {
                snprintf(errstr, errstr_size, "spool %s: full (%" PRIu64 " bytes)", sp->dir,
                         sp->bytes);
                return -1;
        }
        memcpy(hdr, SPOOL_MAGIC, 8);
        put_u64(hdr + 8, seq);
        put_u64(hdr + 16, len);
        if (osh_sha256(data, len, hdr + 24))
                goto fail;
        entry_path(sp, seq, NULL, path, sizeof(path));
        if (write_atomic(sp, path, hdr, sizeof(hdr), data, len) ||
            push(sp, seq, SPOOL_HDR_LEN + len))
                goto fail;
        return 0;
fail:
        snprintf(errstr, errstr_size, "spool %s: cannot write entry %" PRIu64 ": %s", sp->dir, seq,
                 strerror(errno));
        return -1;
}

int osh_spool_peek(osh_spool_t *sp, uint64_t *seq, uint8_t **data, size_t *len, char *errstr,
                   size_t errstr_size)
{
        while (sp->len) {
                uint64_t s = sp->e[sp->head].seq;
                int rc = read_entry(sp, s, data, len);
                if (rc == 0) {
                        *seq = s;
                        return 0;
                }
                if (rc < 0) {
                        snprintf(errstr, errstr_size, "spool %s: cannot read entry %" PRIu64 ": %s",
                                 sp->dir, s, strerror(errno));
                        return -1;
                }
                quarantine(sp, s);
                drop_head(sp);
        }
        return 1;
}

static int check_head(const osh_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size)
{
        if (sp->len && sp->e[sp->head].seq == seq)
                return 0;
        snprintf(errstr, errstr_size, "spool: %" PRIu64 " is not the oldest entry", seq);
        return -1;
}

int osh_spool_pop(osh_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size)
{
        char path[4200];

        if (check_head(sp, seq, errstr, errstr_size))
                return -1;
        /* Remember the sequence before the entry goes, so numbering survives
         * an empty spool and a restart. */
        if (write_state(sp, seq))
                goto fail;
        entry_path(sp, seq, NULL, path, sizeof(path));
        if (unlink(path) && errno != ENOENT)
                goto fail;
        drop_head(sp);
        return 0;
fail:
        snprintf(errstr, errstr_size, "spool %s: cannot remove entry %" PRIu64 ": %s", sp->dir, seq,
                 strerror(errno));
        return -1;
}

int osh_spool_reject(osh_spool_t *sp, uint64_t seq, char *errstr, size_t errstr_size)
{
        if (check_head(sp, seq, errstr, errstr_size))
                return -1;
        if (move_to(sp, seq, "rejected")) {
                snprintf(errstr, errstr_size, "spool %s: cannot move entry %" PRIu64 ": %s",
                         sp->dir, seq, strerror(errno));
                return -1;
        }
        drop_head(sp);
        sp->rejected++;
        return 0;
}

int osh_spool_foreach(osh_spool_t *sp,
                      int (*fn)(uint64_t seq, const uint8_t *data, size_t len, void *opaque),
                      void *opaque)
{
        size_t i = 0;

        while (i < sp->len) {
                uint64_t s = sp->e[AT(sp, i)].seq;
                uint8_t *data;
                size_t len;
                int rc = read_entry(sp, s, &data, &len);
                if (rc) {
                        /* Quarantine in place: shift the ring past it. */
                        if (rc > 0)
                                quarantine(sp, s);
                        sp->bytes -= sp->e[AT(sp, i)].size;
                        for (size_t j = i; j + 1 < sp->len; j++)
                                sp->e[AT(sp, j)] = sp->e[AT(sp, j + 1)];
                        sp->len--;
                        continue;
                }
                rc = fn(s, data, len, opaque);
                free(data);
                if (rc)
                        return rc;
                i++;
        }
        return 0;
}

void osh_spool_stats(const osh_spool_t *sp, osh_spool_stats_t *out)
{
        out->count = sp->len;
        out->bytes = sp->bytes;
        out->corrupt = sp->corrupt;
        out->rejected = sp->rejected;
        out->first_seq = sp->len ? sp->e[sp->head].seq : 0;
        out->next_seq = sp->next_seq;
}
