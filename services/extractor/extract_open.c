/* Finding, opening and hashing a batch's files (see extract_int.h). */
#include "extract_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oshirase/batch.h"
#include "oshirase/topics.h"

#define MANIFEST_LINE_MAX 1024       /* a file line: name, type, rows, 64 hex digits */
#define HASH_BLOCK        (1u << 20) /* read() and hashed at a time */

static const ext_ftype_t FTYPES[] = {
    {"applicant", "SHINSEI.csv", EXT_APPLICANT, "atena_no,riyosha_id,doui,bunya,shinsei_nichiji"},
    {"resident", "JUMIN.csv", EXT_RESIDENT,
     "atena_no,setai_no,shimei,shimei_kana,seibetsu,seinengappi,zokugara,jusho_code,jusho"},
    {"household", "SETAI.csv", EXT_HOUSEHOLD, "setai_no,setainushi_atena_no,setaiin_su,jusho_code"},
    {"tax", "ZEI.csv", EXT_TAX, "atena_no,nendo,kazei_kubun"},
    {"nhi", "KOKUHO.csv", EXT_NHI, "atena_no,kigo_bango,shutoku_bi,soshitsu_bi"},
    {"late_elderly", "KOKI.csv", EXT_LATE_ELDERLY,
     "atena_no,hihokensha_bango,shutoku_bi,soshitsu_bi"},
    {"child_allowance", "JIDOTEATE.csv", EXT_CHILD_ALLOWANCE,
     "atena_no,taisho_jido_su,nintei_bi,shometsu_bi"},
    {"child_rearing", "JIDOFUYO.csv", EXT_CHILD_REARING,
     "atena_no,shikyu_kubun,nintei_bi,shometsu_bi"},
    {"public_assistance", "SEIHO.csv", EXT_PUBLIC_ASSISTANCE, "atena_no,kaishi_bi,haishi_bi"},
    {"ext_", "KAKUCHO_", EXT_EXTENSION, "atena_no,value,jisshi_bi"},
};
#define N_FTYPES (sizeof(FTYPES) / sizeof(FTYPES[0]))

/* ---- opening ---------------------------------------------------------- */

static const ext_ftype_t *ftype_by_type(const char *type, int *ext)
{
        *ext = 0;
        if (!strncmp(type, "ext_", 4) && strlen(type) == 6 && type[4] >= '0' && type[4] <= '2' &&
            type[5] >= '0' && type[5] <= '9') {
                *ext = (type[4] - '0') * 10 + (type[5] - '0') - 1;
                return *ext >= 0 && *ext < 20 ? &FTYPES[N_FTYPES - 1] : NULL;
        }
        for (size_t i = 0; i + 1 < N_FTYPES; i++)
                if (!strcmp(FTYPES[i].type, type))
                        return &FTYPES[i];
        return NULL;
}

static int add_file(ext_batch_t *b, const ext_ftype_t *ft, int ext, const char *name, int64_t rows,
                    const char *sha, char *errstr, size_t errstr_size)
{
        ext_xfile_t *f;

        if (b->nfiles >= EXT_MAX_FILES || strlen(name) >= sizeof(f->name) || strchr(name, '/')) {
                snprintf(errstr, errstr_size, "manifest: too many files or a bad file name");
                return -1;
        }
        for (size_t i = 0; i < b->nfiles; i++) {
                if (b->files[i].ft == ft && b->files[i].ext == ext) {
                        snprintf(errstr, errstr_size, "manifest: two files of one type (%s)", name);
                        return -1;
                }
        }
        f = &b->files[b->nfiles++];
        f->ft = ft;
        f->ext = ext;
        snprintf(f->name, sizeof(f->name), "%s", name);
        f->name_len = strlen(f->name);
        snprintf(f->st.name, sizeof(f->st.name), "%s", name);
        snprintf(f->path, sizeof(f->path), "%s/%s", b->dir, name);
        f->manifest_rows = rows;
        f->fd = -1;
        snprintf(f->sha, sizeof(f->sha), "%s", sha ? sha : "");
        return 0;
}

static int manifest_line(ext_batch_t *b, char *line, char *errstr, size_t errstr_size)
{
        char *tok[6], *save = NULL;
        int n = 0, ext;
        const ext_ftype_t *ft;
        char *end;
        long long rows;

        for (char *t = strtok_r(line, "\t", &save); t && n < 6; t = strtok_r(NULL, "\t", &save))
                tok[n++] = t;
        if (n == 2 && !strcmp(tok[0], "reference_date")) {
                if (osh_jdate_parse(tok[1], strlen(tok[1]), OSH_JDATE_WESTERN, &b->ref))
                        goto bad;
                return 0;
        }
        if (n == 2 && !strcmp(tok[0], "encoding")) {
                if (osh_textenc_parse(tok[1], &b->enc))
                        goto bad;
                b->enc_set = 1;
                return 0;
        }
        if (n != 5 || strcmp(tok[0], "file") || !(ft = ftype_by_type(tok[2], &ext)))
                goto bad;
        errno = 0;
        rows = strtoll(tok[3], &end, 10);
        if (errno || *end || rows < 0 || strlen(tok[4]) != OSH_SHA256_HEX_LEN)
                goto bad;
        return add_file(b, ft, ext, tok[1], rows, tok[4], errstr, errstr_size);
bad:
        snprintf(errstr, errstr_size, "manifest: bad line (%s)", n ? tok[0] : "empty");
        return -1;
}

static const char *file_kind(mode_t m)
{
        return S_ISFIFO(m)   ? "a named pipe"
               : S_ISDIR(m)  ? "a directory"
               : S_ISCHR(m)  ? "a character device"
               : S_ISBLK(m)  ? "a block device"
               : S_ISSOCK(m) ? "a socket"
                             : "not a regular file";
}

/* Opens path for reading only if it is a regular file: a named pipe
 * would block open() (and read) for ever, a device could do anything.
 * Checked before (stat, so no device is opened) and after (fstat on the
 * descriptor, so a swap in between is caught); O_NONBLOCK keeps open()
 * from waiting on a pipe that appears in between. fd, or -1 with errstr. */
static int open_regular(const char *path, const char *name, char *errstr, size_t errstr_size)
{
        struct stat st;
        const char *why = NULL;
        int fd = -1, refused = 0;

        if (stat(path, &st))
                why = strerror(errno);
        else if ((refused = !S_ISREG(st.st_mode)))
                why = file_kind(st.st_mode);
        else if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
                why = strerror(errno);
        else if ((refused = fstat(fd, &st) || !S_ISREG(st.st_mode)))
                why = file_kind(st.st_mode);
        if (!why) {
                /* back to blocking reads: a regular file never waits */
                fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
                return fd;
        }
        if (refused)
                snprintf(errstr, errstr_size, "%s: %s, refused: only regular files are read", name,
                         why);
        else
                snprintf(errstr, errstr_size, "%s: unreadable: %s", name, why);
        if (fd >= 0)
                close(fd);
        return -1;
}

static int read_manifest(ext_batch_t *b, const char *path, char *errstr, size_t errstr_size)
{
        int fd = open_regular(path, path, errstr, errstr_size);
        FILE *fp = fd >= 0 ? fdopen(fd, "r") : NULL;
        char line[MANIFEST_LINE_MAX];
        int rc = 0;

        if (!fp) {
                if (fd >= 0) {
                        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                        close(fd);
                }
                return -1;
        }
        while (!rc && fgets(line, sizeof(line), fp)) {
                line[strcspn(line, "\r\n")] = '\0';
                if (line[0] && line[0] != '#')
                        rc = manifest_line(b, line, errstr, errstr_size);
        }
        fclose(fp);
        if (!rc && !b->nfiles) {
                snprintf(errstr, errstr_size, "%s: lists no files", path);
                rc = -1;
        }
        return rc;
}

/* Without a manifest: the fixed names that exist. */
static int scan_dir(ext_batch_t *b, char *errstr, size_t errstr_size)
{
        char path[EXT_PATH_MAX], name[64];
        struct stat st;

        for (size_t i = 0; i < N_FTYPES; i++) {
                for (int e = 0; e < (FTYPES[i].t == EXT_EXTENSION ? 20 : 1); e++) {
                        if (FTYPES[i].t == EXT_EXTENSION)
                                snprintf(name, sizeof(name), "KAKUCHO_%02d.csv", e + 1);
                        else
                                snprintf(name, sizeof(name), "%s", FTYPES[i].file);
                        snprintf(path, sizeof(path), "%s/%s", b->dir, name);
                        if (stat(path, &st) == 0 &&
                            add_file(b, &FTYPES[i], e, name, -1, NULL, errstr, errstr_size))
                                return -1;
                }
        }
        if (!b->nfiles) {
                snprintf(errstr, errstr_size, "%s: no export files", b->dir);
                return -1;
        }
        return 0;
}

static int map_file(ext_xfile_t *f, char *errstr, size_t errstr_size)
{
        struct stat st;
        int fd = open_regular(f->path, f->name, errstr, errstr_size);

        if (fd < 0)
                return -1;
        if (fstat(fd, &st)) {
                snprintf(errstr, errstr_size, "%s: unreadable: %s", f->name, strerror(errno));
                goto fail;
        }
        f->len = (size_t)st.st_size;
        if (f->len) {
                f->buf = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
                if (f->buf == MAP_FAILED) {
                        f->buf = NULL;
                        snprintf(errstr, errstr_size, "%s: mmap: %s", f->name, strerror(errno));
                        goto fail;
                }
                madvise(f->buf, f->len, MADV_SEQUENTIAL);
        }
        f->fd = fd; /* the hash reads the same file (ext_hash_file) */
        return 0;
fail:
        if (fd >= 0)
                close(fd);
        return -1;
}

static void make_batch_id(ext_batch_t *b)
{
        osh_sha256_t *h = osh_sha256_new();
        uint8_t d[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1], ref[9];

        for (size_t i = 0; h && i < b->nfiles; i++) {
                osh_sha256_update(h, b->files[i].name, strlen(b->files[i].name) + 1);
                osh_sha256_update(h, b->files[i].sha, OSH_SHA256_HEX_LEN);
        }
        osh_date_format_western(&b->ref, ref);
        if (h)
                osh_sha256_update(h, ref, 8);
        if (!h || osh_sha256_final(h, d))
                memset(d, 0, sizeof(d));
        osh_sha256_destroy(h);
        osh_hex_encode(d, sizeof(d), hex);
        snprintf(b->batch_id, sizeof(b->batch_id), "B%s-%.16s", ref, hex);
}

/* Gives back the mapped pages wholly below upto: they count in the
 * process's memory until then (254 MB at Chiba scale). Only a read copy of
 * the file, so a later read faults them in again from the page cache;
 * nothing is lost. */
void ext_release(ext_xfile_t *f, size_t upto)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t from = (f->released + page - 1) / page * page;
        size_t to = upto == f->len ? upto : upto / page * page;

        if (upto <= f->released)
                return;
        if (f->buf && to > from)
                madvise(f->buf + from, to - from, MADV_DONTNEED);
        f->released = upto;
}

/* A worker's task: the file's SHA-256 into got_sha. Read with pread(),
 * not through the mapping: hashing the mapped pages (and giving them back
 * so that they would not count in memory) made the scanning threads and
 * the join fault them in again, a second and a third time. The mapping's
 * own descriptor; a file shorter than when it was mapped fails the hash. */
void ext_hash_file(ext_xfile_t *f)
{
        osh_sha256_t *h = osh_sha256_new();
        char *block = malloc(HASH_BLOCK);
        uint8_t d[OSH_SHA256_LEN];
        int bad = !h || !block || f->fd < 0;
        size_t off = 0;

        while (!bad && off < f->len) {
                size_t want = f->len - off < HASH_BLOCK ? f->len - off : HASH_BLOCK;
                ssize_t n = pread(f->fd, block, want, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                bad = n <= 0 || osh_sha256_update(h, block, (size_t)n) != 0;
                off += n > 0 ? (size_t)n : 0;
        }
        f->hash_failed = bad || osh_sha256_final(h, d) != 0;
        osh_sha256_destroy(h);
        free(block);
        osh_hex_encode(d, sizeof(d), f->got_sha);
}

/* After the hash tasks: every file as the manifest describes it. */
static int check_hashes(ext_batch_t *b, char *errstr, size_t errstr_size)
{
        if (b->verified)
                return b->verified > 0 ? 0
                                       : (snprintf(errstr, errstr_size, "%s", b->verify_err), -1);
        b->verified = -1;
        for (size_t i = 0; i < b->nfiles; i++) {
                ext_xfile_t *f = &b->files[i];
                ext_pool_wait(b->pool, i);
                if (f->hash_failed) {
                        snprintf(b->verify_err, sizeof(b->verify_err), "%s: cannot hash", f->name);
                        goto fail;
                }
                if (f->sha[0] && strcasecmp(f->sha, f->got_sha)) {
                        snprintf(b->verify_err, sizeof(b->verify_err),
                                 "%s: SHA-256 differs from the manifest (truncated or altered "
                                 "file)",
                                 f->name);
                        goto fail;
                }
                memcpy(f->sha, f->got_sha, sizeof(f->sha));
        }
        make_batch_id(b);
        b->verified = 1;
        return 0;
fail:
        snprintf(errstr, errstr_size, "%s", b->verify_err);
        return -1;
}

int ext_batch_verify(ext_batch_t *b, char *errstr, size_t errstr_size)
{
        return check_hashes(b, errstr, errstr_size);
}

int ext_batch_declared(const ext_batch_t *b)
{
        for (size_t i = 0; i < b->nfiles; i++)
                if (!b->files[i].sha[0])
                        return 0;
        return 1;
}

static int cmp_file_order(const void *a, const void *b)
{
        const ext_xfile_t *x = a, *y = b;

        /* FTYPES order: applicants, residents, households first; ext by number */
        if (x->ft != y->ft)
                return x->ft < y->ft ? -1 : 1;
        return x->ext - y->ext;
}

static int resolve_input(ext_batch_t *b, char *errstr, size_t errstr_size)
{
        struct stat st;
        char mpath[EXT_PATH_MAX];

        if (!b->o.input || stat(b->o.input, &st)) {
                snprintf(errstr, errstr_size, "input %s: %s", b->o.input ? b->o.input : "(unset)",
                         strerror(errno));
                return -1;
        }
        if (S_ISDIR(st.st_mode)) {
                snprintf(b->dir, sizeof(b->dir), "%s", b->o.input);
                snprintf(mpath, sizeof(mpath), "%s/MANIFEST.tsv", b->dir);
                if (stat(mpath, &st))
                        return scan_dir(b, errstr, errstr_size);
        } else {
                const char *slash = strrchr(b->o.input, '/');
                snprintf(b->dir, sizeof(b->dir), "%.*s", slash ? (int)(slash - b->o.input) : 1,
                         slash ? b->o.input : ".");
                snprintf(mpath, sizeof(mpath), "%s", b->o.input);
        }
        b->have_manifest = 1;
        return read_manifest(b, mpath, errstr, errstr_size);
}

/* Without residents or applicants a batch is empty, not a snapshot of no
 * one: it must not reach the segmenter as "everyone is gone". */
static int require_files(const ext_batch_t *b, char *errstr, size_t errstr_size)
{
        static const ext_type_t need[] = {EXT_RESIDENT, EXT_APPLICANT};

        for (size_t n = 0; n < sizeof(need) / sizeof(need[0]); n++) {
                size_t i = 0;
                while (i < b->nfiles && b->files[i].ft->t != need[n])
                        i++;
                if (i == b->nfiles) {
                        const ext_ftype_t *ft = FTYPES;
                        while (ft->t != need[n])
                                ft++;
                        snprintf(errstr, errstr_size, "%s: no %s (%s) in the batch: it is required",
                                 b->dir, ft->file, ft->type);
                        return -1;
                }
        }
        return 0;
}

static void today(osh_date_t *d)
{
        time_t t = time(NULL);
        struct tm tm;

        localtime_r(&t, &tm);
        d->year = tm.tm_year + 1900;
        d->month = tm.tm_mon + 1;
        d->day = tm.tm_mday;
}

ext_batch_t *ext_batch_open(const ext_opts_t *o, char *errstr, size_t errstr_size)
{
        ext_batch_t *b = calloc(1, sizeof(*b));

        snprintf(errstr, errstr_size, "out of memory"); /* every other failure says why */
        if (!b)
                goto fail;
        b->o = *o;
        if (!b->o.max_field)
                b->o.max_field = EXT_DEFAULT_MAX_FIELD;
        if (b->o.raw_max > EXT_REJECT_RAW_LIMIT)
                b->o.raw_max = EXT_REJECT_RAW_LIMIT;
        if (resolve_input(b, errstr, errstr_size) || require_files(b, errstr, errstr_size))
                goto fail;
        if (o->encoding && strcmp(o->encoding, "auto")) {
                if (osh_textenc_parse(o->encoding, &b->enc)) {
                        snprintf(errstr, errstr_size, "unknown encoding %s", o->encoding);
                        goto fail;
                }
                b->enc_set = 1;
        }
        if (o->reference) {
                if (osh_jdate_parse(o->reference, strlen(o->reference), OSH_JDATE_WESTERN,
                                    &b->ref)) {
                        snprintf(errstr, errstr_size, "bad reference date %s", o->reference);
                        goto fail;
                }
        } else if (!b->ref.year) {
                today(&b->ref);
        }
        b->ref_days = osh_date_to_days(b->ref.year, b->ref.month, b->ref.day);
        b->fy = b->ref.month >= 4 ? b->ref.year : b->ref.year - 1;
        qsort(b->files, b->nfiles, sizeof(b->files[0]), cmp_file_order);
        for (size_t i = 0; i < b->nfiles; i++)
                if (map_file(&b->files[i], errstr, errstr_size))
                        goto fail;
        if (ext_plan_chunks(b) || ext_start_workers(b)) {
                snprintf(errstr, errstr_size, "out of memory (or threads)");
                goto fail;
        }
        /* a manifest's hashes name the batch now; the files are checked
         * against them while being read (ext_batch_verify) */
        if (ext_batch_declared(b))
                make_batch_id(b);
        b->raw_schema = osh_schema_for_topic(OSH_TOPIC_RAW);
        b->rej_schema = osh_schema_for_topic(OSH_TOPIC_REJECTS);
        if (!b->raw_schema || !b->rej_schema) {
                snprintf(errstr, errstr_size, "schemas not loaded (osh_serde_init)");
                goto fail;
        }
        return b;
fail:
        ext_batch_destroy(b);
        return NULL;
}

void ext_batch_destroy(ext_batch_t *b)
{
        if (!b)
                return;
        ext_pool_stop(b->pool); /* before the files its workers read go */
        for (size_t i = 0; i < b->nchunks; i++)
                ext_chunk_clear(&b->chunks[i]);
        free(b->chunks);
        free(b->seen);
        osh_avro_buf_free(&b->wbuf);
        osh_sha256_destroy(b->hasher);
        for (size_t i = 0; i < b->nfiles; i++) {
                if (b->files[i].buf)
                        munmap(b->files[i].buf, b->files[i].len);
                if (b->files[i].fd >= 0)
                        close(b->files[i].fd);
        }
        free(b->persons);
        free(b->apps);
        free(b->order);
        free(b->arena);
        free(b->rejects);
        ext_keyidx_free(&b->by_atena);
        ext_keyidx_free(&b->by_setai);
        ext_keyidx_free(&b->apps_by_atena);
        free(b->hfirst);
        free(b);
}

const char *ext_batch_id(const ext_batch_t *b)
{
        return b->batch_id;
}

int32_t ext_batch_reference_days(const ext_batch_t *b)
{
        return b->ref_days;
}

size_t ext_batch_file_count(const ext_batch_t *b)
{
        return b->nfiles;
}

const char *ext_batch_file_name(const ext_batch_t *b, size_t i)
{
        return b->files[i].name;
}

const char *ext_batch_file_sha256(const ext_batch_t *b, size_t i)
{
        return b->files[i].sha;
}

size_t ext_batch_record_count(const ext_batch_t *b)
{
        return b->norder;
}

size_t ext_batch_reject_count(const ext_batch_t *b)
{
        return b->nrej;
}

const ext_reject_t *ext_batch_reject(const ext_batch_t *b, size_t i)
{
        return &b->rejects[i];
}

const ext_file_stats_t *ext_batch_file_stats(const ext_batch_t *b, size_t i)
{
        return &b->files[i].st;
}

uint64_t ext_batch_gaiji(const ext_batch_t *b)
{
        return b->gaiji;
}
