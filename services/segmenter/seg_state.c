#include "seg_state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oshirase/sha256.h"

/* Paths under state.dir: a campaign directory (state.dir / 32 hex digits),
 * a file in it ("/request.avro" and the like), and that file's ".tmp". */
#define STATE_CDIR_MAX 4000
#define STATE_FILE_MAX 4096
#define STATE_TMP_MAX  4200

static void campaign_dir(const char *dir, const char *campaign_id, char *out, size_t size)
{
        uint8_t dig[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1];

        osh_sha256(campaign_id, strlen(campaign_id), dig);
        osh_hex_encode(dig, 16, hex);
        snprintf(out, size, "%s/%s", dir, hex);
}

/* tmp + fsync + rename, so a crash leaves the old file or the new one. */
static int write_atomic(const char *path, const void *data, size_t len, char *errstr,
                        size_t errstr_size)
{
        char tmp[STATE_TMP_MAX];
        int fd;
        const char *p = data;

        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
                goto fail;
        while (len) {
                ssize_t n = write(fd, p, len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        close(fd);
                        goto fail;
                }
                p += n;
                len -= (size_t)n;
        }
        if (fsync(fd) || close(fd) || rename(tmp, path))
                goto fail;
        return 0;
fail:
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
}

static int read_all(const char *path, char **out, size_t *len)
{
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        long sz;

        if (!fp)
                return -1;
        if (fseek(fp, 0, SEEK_END) || (sz = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) ||
            !(buf = malloc((size_t)sz + 1)) || fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
                free(buf);
                fclose(fp);
                return -1;
        }
        fclose(fp);
        buf[sz] = '\0';
        *out = buf;
        *len = (size_t)sz;
        return 0;
}

/* meta: a dozen fields, emit_from (1 KiB at most), the reasons and up to
 * SEG_WARD_MAX + 8 breakdown lines of under 64 bytes each */
#define META_MAX 16384

static const char *chan_name(int32_t code)
{
        return code >= 0 && code < SEG_CHANNEL_CNT ? seg_channel_names[code] : "NONE";
}

/* "breakdown_min=N", then "chan.LINE=certain,possible" and
 * "ward.12101=certain,possible" lines, appended at n; returns the length. */
static int breakdown_text(const seg_breakdown_t *b, char *s, int n)
{
        size_t i;

        if (n > 0 && n < META_MAX)
                n += snprintf(s + n, META_MAX - (size_t)n, "breakdown_min=%" PRId64 "\n", b->min);
        for (i = 0; i < b->nchan && n > 0 && n < META_MAX; i++)
                n += snprintf(s + n, META_MAX - (size_t)n, "chan.%s=%" PRId64 ",%" PRId64 "\n",
                              chan_name(b->chan[i].code), b->chan[i].certain, b->chan[i].possible);
        for (i = 0; i < b->nward && n > 0 && n < META_MAX; i++)
                n += snprintf(s + n, META_MAX - (size_t)n, "ward.%d=%" PRId64 ",%" PRId64 "\n",
                              b->ward[i].code, b->ward[i].certain, b->ward[i].possible);
        return n;
}

/* One "chan.X=c,p" or "ward.N=c,p" line (key without its prefix). */
static void breakdown_parse(seg_breakdown_t *b, const char *key, const char *v)
{
        seg_group_count_t g;
        char *end;

        g.certain = strtoll(v, &end, 10);
        g.possible = *end == ',' ? strtoll(end + 1, NULL, 10) : 0;
        if (!strncmp(key, "chan.", 5) && b->nchan <= SEG_CHANNEL_CNT) {
                int c = seg_channel_parse(key + 5);
                g.code = c < 0 ? SEG_CHAN_NONE : c;
                b->chan[b->nchan++] = g;
        } else if (!strncmp(key, "ward.", 5) && b->nward <= SEG_WARD_MAX) {
                g.code = (int32_t)strtol(key + 5, NULL, 10);
                b->ward[b->nward++] = g;
        } else if (!strcmp(key, "breakdown_min")) {
                b->min = strtoll(v, NULL, 10);
        }
}

static char *meta_text(const seg_frozen_t *m)
{
        char *s = malloc(META_MAX);
        int n;

        if (!s)
                return NULL;
        n = snprintf(s, META_MAX,
                     "campaign_id=%s\nstate=%s\ncreated_at=%" PRId64 "\nsend_at=%" PRId64
                     "\ncertain=%" PRId64 "\npossible=%" PRId64 "\nsuppressed=%" PRId64
                     "\nrecipients=%" PRId64 "\nchecksum=%s\nsnapshot=%s\nreq_offset=%" PRId64
                     "\nemitting=%d\nemit_resend=%d\nemit_from=%s\n",
                     m->campaign_id, seg_state_names[m->state], m->created_at_ms, m->send_at_ms,
                     m->certain, m->possible, m->suppressed, m->recipients, m->checksum,
                     m->snapshot, m->req_offset, m->emitting, m->emit_resend, m->emit_from);
        for (int i = 0; i < SEG_WHY__CNT && n > 0 && n < META_MAX; i++)
                n += snprintf(s + n, META_MAX - (size_t)n, "why.%s=%" PRId64 "\n",
                              seg_reason_names[i], m->by_reason[i]);
        n = breakdown_text(&m->breakdown, s, n);
        if (n <= 0 || n >= META_MAX) {
                free(s);
                return NULL;
        }
        return s;
}

int seg_state_update(const char *dir, const seg_frozen_t *m, char *errstr, size_t errstr_size)
{
        char path[STATE_FILE_MAX];
        char *text = meta_text(m);
        int rc;

        if (!text) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        campaign_dir(dir, m->campaign_id, path, sizeof(path) - 8);
        strcat(path, "/meta");
        rc = write_atomic(path, text, strlen(text), errstr, errstr_size);
        free(text);
        return rc;
}

int seg_state_save(const char *dir, const seg_frozen_t *m, const void *req, size_t req_len,
                   const char *list, size_t list_len, char *errstr, size_t errstr_size)
{
        char cdir[STATE_CDIR_MAX], path[STATE_FILE_MAX];

        campaign_dir(dir, m->campaign_id, cdir, sizeof(cdir));
        if ((mkdir(dir, 0700) && errno != EEXIST) || (mkdir(cdir, 0700) && errno != EEXIST)) {
                snprintf(errstr, errstr_size, "%s: %s", cdir, strerror(errno));
                return -1;
        }
        snprintf(path, sizeof(path), "%s/request.avro", cdir);
        if (write_atomic(path, req, req_len, errstr, errstr_size))
                return -1;
        snprintf(path, sizeof(path), "%s/list.tsv", cdir);
        if (write_atomic(path, list, list_len, errstr, errstr_size))
                return -1;
        return seg_state_update(dir, m, errstr, errstr_size);
}

static void meta_parse(char *text, seg_frozen_t *m)
{
        char *line, *save = NULL;
        int i;

        memset(m, 0, sizeof(*m));
        m->req_offset = -1; /* meta written before req_offset existed */
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *v = strchr(line, '=');
                if (!v)
                        continue;
                *v++ = '\0';
                if (!strcmp(line, "campaign_id"))
                        snprintf(m->campaign_id, sizeof(m->campaign_id), "%s", v);
                else if (!strcmp(line, "state"))
                        for (i = 0; i < 6; i++)
                                if (!strcmp(v, seg_state_names[i]))
                                        m->state = (seg_state_t)i;
                if (!strcmp(line, "created_at"))
                        m->created_at_ms = strtoll(v, NULL, 10);
                if (!strcmp(line, "send_at"))
                        m->send_at_ms = strtoll(v, NULL, 10);
                if (!strcmp(line, "certain"))
                        m->certain = strtoll(v, NULL, 10);
                if (!strcmp(line, "possible"))
                        m->possible = strtoll(v, NULL, 10);
                if (!strcmp(line, "suppressed"))
                        m->suppressed = strtoll(v, NULL, 10);
                if (!strcmp(line, "recipients"))
                        m->recipients = strtoll(v, NULL, 10);
                if (!strcmp(line, "checksum"))
                        snprintf(m->checksum, sizeof(m->checksum), "%s", v);
                if (!strcmp(line, "snapshot"))
                        snprintf(m->snapshot, sizeof(m->snapshot), "%s", v);
                if (!strcmp(line, "req_offset"))
                        m->req_offset = strtoll(v, NULL, 10);
                if (!strcmp(line, "emitting"))
                        m->emitting = v[0] == '1';
                if (!strcmp(line, "emit_resend"))
                        m->emit_resend = v[0] == '1';
                if (!strcmp(line, "emit_from"))
                        snprintf(m->emit_from, sizeof(m->emit_from), "%s", v);
                for (i = 0; i < SEG_WHY__CNT; i++)
                        if (!strncmp(line, "why.", 4) && !strcmp(line + 4, seg_reason_names[i]))
                                m->by_reason[i] = strtoll(v, NULL, 10);
                breakdown_parse(&m->breakdown, line, v);
        }
}

static int load_dir(const char *cdir, seg_frozen_t *m, void **req, size_t *req_len, char **list,
                    size_t *list_len, char *errstr, size_t errstr_size)
{
        char path[STATE_FILE_MAX], *meta = NULL, *l = NULL, *r = NULL, hex[OSH_SHA256_HEX_LEN + 1];
        size_t mlen, llen = 0, rlen = 0;
        uint8_t dig[OSH_SHA256_LEN];

        snprintf(path, sizeof(path), "%s/meta", cdir);
        if (read_all(path, &meta, &mlen))
                return 0;
        meta_parse(meta, m);
        free(meta);
        snprintf(path, sizeof(path), "%s/list.tsv", cdir);
        if (read_all(path, &l, &llen))
                goto fail;
        osh_sha256(l, llen, dig);
        osh_hex_encode(dig, sizeof(dig), hex);
        if (strcmp(hex, m->checksum) != 0)
                goto fail;
        snprintf(path, sizeof(path), "%s/request.avro", cdir);
        if (req && read_all(path, &r, &rlen))
                goto fail;
        if (list) {
                *list = l;
                *list_len = llen;
        } else
                free(l);
        if (req) {
                *req = r;
                *req_len = rlen;
        }
        return 1;
fail:
        snprintf(errstr, errstr_size, "%s: frozen list missing or checksum differs", cdir);
        free(l);
        free(r);
        return -1;
}

int seg_state_load(const char *dir, const char *campaign_id, seg_frozen_t *m, void **req,
                   size_t *req_len, char **list, size_t *list_len, char *errstr, size_t errstr_size)
{
        char cdir[STATE_CDIR_MAX];

        campaign_dir(dir, campaign_id, cdir, sizeof(cdir));
        return load_dir(cdir, m, req, req_len, list, list_len, errstr, errstr_size);
}

int seg_state_scan(const char *dir, void (*fn)(const seg_frozen_t *m, void *opaque), void *opaque)
{
        DIR *d = opendir(dir);
        struct dirent *de;
        char cdir[STATE_FILE_MAX], err[256];
        seg_frozen_t m;

        if (!d)
                return errno == ENOENT ? 0 : -1;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                snprintf(cdir, sizeof(cdir), "%s/%s", dir, de->d_name);
                if (load_dir(cdir, &m, NULL, NULL, NULL, NULL, err, sizeof(err)) == 1)
                        fn(&m, opaque);
        }
        closedir(d);
        return 0;
}
