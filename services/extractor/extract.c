/* Batch reading, validation and the join (see extract.h, docs/exports.md). */
#define _GNU_SOURCE /* CPU_COUNT */
#include "extract.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "oshirase/avro_bin.h"
#include "oshirase/batch.h"
#include "oshirase/csv.h"
#include "oshirase/grow.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"
#include "keyidx.h"
#include "pool.h"
#include "scan.h"

#define DEFAULT_CHUNK     (1u << 20)
#define MANIFEST_LINE_MAX 1024 /* a file line: name, type, rows, 64 hex digits */
#define MAX_THREADS       8
#define PREFETCH          16 /* rows ahead: enough to cover a memory access */

typedef struct ftype {
        const char *type, *file; /* manifest type, fixed file name */
        ext_type_t t;
        const char *header;
} ftype_t;

static const ftype_t FTYPES[] = {
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

/* bunya 01..04 by the names cloud-ingest's destinations use */
static const char *const CATEGORY[5] = {"", "childcare", "single_parent", "health_welfare",
                                        "safety_disaster"};

typedef struct xfile {
        const ftype_t *ft;
        int ext; /* 0..19 for extension files */
        char name[64];
        size_t name_len;
        char path[4200];
        char sha[OSH_SHA256_HEX_LEN + 1];
        int64_t manifest_rows; /* -1: no manifest */
        char *buf;
        size_t len;
        int hash_failed;
        uint64_t enc_rejected;                /* lines rejected for their encoding */
        char got_sha[OSH_SHA256_HEX_LEN + 1]; /* by a worker */
        ext_scan_file_t scan;
        ext_file_stats_t st;
        /* the join's place in the file */
        size_t next;      /* where the next accepted chunk must start */
        size_t line_base; /* physical line number at next */
        int header_seen, any, last_terminated;
} xfile_t;

typedef struct xperson {
        uint64_t atena, setai;
        int32_t birth;
        uint8_t rel;
        int32_t next; /* next member of the household, -1 */
        int32_t app;  /* consenting applicant index, -1 */
        uint32_t hh;  /* household index (after the register) */
} xperson_t;

typedef struct xapp {
        uint64_t atena;
        int32_t person;
        uint32_t file;
        uint64_t line;
        const char *raw;
        size_t raw_len;
        char user_id[33];
        uint8_t cats, sex;
        int64_t applied_ms;
        size_t s_name, s_kana, s_acode, s_atext; /* offsets into the arena */
        char rel_code[3];
        uint8_t tax[3]; /* 0 unknown, 1 taxed, 2 not taxed */
        uint8_t nhi, koki, ca, cr, pa;
        char ext[20];   /* 0 none, else the exported value's first byte */
        uint32_t files; /* bitmask of contributing files */
} xapp_t;

struct ext_batch {
        ext_opts_t o;
        char dir[4096];
        int have_manifest, enc_set;
        osh_textenc_t enc;
        osh_date_t ref;
        int32_t ref_days;
        int fy;
        char batch_id[64];
        xfile_t files[EXT_MAX_FILES];
        size_t nfiles;
        /* parse state */
        xperson_t *persons;
        size_t np, pcap;
        keyidx_t by_atena, by_setai, apps_by_atena; /* by_setai -> household */
        int32_t *hfirst;                            /* household -> first person */
        size_t nh;
        size_t cur_atena, cur_app, cur_setai; /* last hits: search hints */
        ext_chunk_t *chunks;
        size_t nchunks;
        ext_pool_t *pool;
        uint8_t *seen; /* per person or household: rows of the current file */
        xapp_t *apps;
        size_t napps, acap;
        uint32_t *order; /* emitted applicants, ascending 宛名番号 */
        size_t norder;
        char *arena;
        size_t alen, acap_bytes;
        ext_reject_t *rejects;
        size_t nrej, rcap;
        uint64_t gaiji;
        const osh_schema_t *raw_schema, *rej_schema;
        char keybuf[16];
        int verified; /* 1 the files are the manifest's, -1 not (verify_err) */
        char verify_err[200];
        osh_avro_buf_t wbuf; /* reused: one record at a time */
        osh_sha256_t *hasher;
        size_t nslices;
};

const char *ext_reason_symbol(ext_reason_t r)
{
        static const char *const s[] = {
            "PARSE_ERROR",    "ENCODING_ERROR", "BAD_DATE",      "BAD_CODE",       "MISSING_FIELD",
            "FIELD_TOO_LONG", "DUPLICATE",      "NOT_CONSENTED", "UNKNOWN_PERSON", "OTHER"};
        return (size_t)r < sizeof(s) / sizeof(s[0]) ? s[r] : "OTHER";
}

/* ---- opening ---------------------------------------------------------- */

static const ftype_t *ftype_by_type(const char *type, int *ext)
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

static int add_file(ext_batch_t *b, const ftype_t *ft, int ext, const char *name, int64_t rows,
                    const char *sha, char *errstr, size_t errstr_size)
{
        xfile_t *f;

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
        snprintf(f->sha, sizeof(f->sha), "%s", sha ? sha : "");
        return 0;
}

static int manifest_line(ext_batch_t *b, char *line, char *errstr, size_t errstr_size)
{
        char *tok[6], *save = NULL;
        int n = 0, ext;
        const ftype_t *ft;
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
        char path[4200], name[64];
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

static int map_file(xfile_t *f, char *errstr, size_t errstr_size)
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
        close(fd);
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

/* A worker's task: the file's SHA-256 into got_sha. */
static void hash_file(xfile_t *f)
{
        uint8_t d[OSH_SHA256_LEN];

        f->hash_failed = osh_sha256(f->buf, f->len, d) != 0;
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
                xfile_t *f = &b->files[i];
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
        const xfile_t *x = a, *y = b;

        /* FTYPES order: applicants, residents, households first; ext by number */
        if (x->ft != y->ft)
                return x->ft < y->ft ? -1 : 1;
        return x->ext - y->ext;
}

static int resolve_input(ext_batch_t *b, char *errstr, size_t errstr_size)
{
        struct stat st;
        char mpath[4200];

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
                        const ftype_t *ft = FTYPES;
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

/* ---- scanning in parallel --------------------------------------------- */

static size_t count_cols(const char *header)
{
        size_t n = 1;

        for (const char *p = header; *p; p++)
                n += *p == ',';
        return n;
}

/* What a scan of f needs, the encoding settled once per file. */
static void scan_setup(ext_batch_t *b, xfile_t *f)
{
        ext_scan_file_t *sf = &f->scan;
        size_t bom = f->len >= 3 && !memcmp(f->buf, OSH_TEXTENC_UTF8_BOM, 3) ? 3 : 0;

        sf->type = f->ft->t;
        sf->data = f->buf ? f->buf + bom : "";
        sf->len = f->len - bom;
        /* scanning the whole file is only needed when nothing says */
        if (bom)
                sf->enc = OSH_TEXTENC_UTF8;
        else
                sf->enc = b->enc_set ? b->enc : osh_textenc_detect(f->buf, f->len, NULL);
        sf->header = f->ft->header;
        sf->ncols = count_cols(f->ft->header);
        sf->max_field = b->o.max_field;
        sf->gaiji_repl = b->o.gaiji_repl;
        sf->fy = b->fy;
        sf->ref_days = b->ref_days;
        f->line_base = 1;
}

/* Chunk boundaries just after a line break near every chunk_bytes; the
 * join checks them (scan.h). */
static size_t add_chunks(ext_batch_t *b, uint32_t fi, ext_chunk_t *out)
{
        const ext_scan_file_t *sf = &b->files[fi].scan;
        size_t step = b->o.chunk_bytes ? b->o.chunk_bytes : DEFAULT_CHUNK, n = 0, at = 0;

        do {
                size_t end = at + step < sf->len ? at + step : sf->len;
                const char *nl = end < sf->len ? memchr(sf->data + end, '\n', sf->len - end) : NULL;
                end = nl ? (size_t)(nl - sf->data) + 1 : sf->len;
                if (out)
                        out[n] = (ext_chunk_t){
                            .f = sf, .file = fi, .start = at, .end = end, .first = at == 0};
                n++;
                at = end;
        } while (at < sf->len);
        return n;
}

static int plan_chunks(ext_batch_t *b)
{
        size_t n = 0;

        for (uint32_t i = 0; i < b->nfiles; i++) {
                scan_setup(b, &b->files[i]);
                n += add_chunks(b, i, NULL);
        }
        if (!(b->chunks = calloc(n, sizeof(*b->chunks))))
                return -1;
        for (uint32_t i = 0; i < b->nfiles; i++)
                b->nchunks += add_chunks(b, i, b->chunks + b->nchunks);
        return 0;
}

/* Tasks: hash every file, then scan every chunk. */
static void run_task(void *ctx, size_t i)
{
        ext_batch_t *b = ctx;

        if (i < b->nfiles)
                hash_file(&b->files[i]);
        else
                ext_scan(&b->chunks[i - b->nfiles]);
}

static size_t workers(const ext_batch_t *b)
{
        cpu_set_t set;
        /* the CPUs this process may run on (taskset, cpusets), not the host's */
        long cpus = sched_getaffinity(0, sizeof(set), &set) ? sysconf(_SC_NPROCESSORS_ONLN)
                                                            : CPU_COUNT(&set);
        size_t n = b->o.threads ? b->o.threads : cpus > 0 ? (size_t)cpus : 1;

        return n > MAX_THREADS ? MAX_THREADS : n;
}

static int start_workers(ext_batch_t *b)
{
        size_t n = workers(b);

        /* a few chunks in hand per worker bound memory, not speed */
        b->pool = ext_pool_start(b->nfiles + b->nchunks, n, b->nfiles, 3 * n + 2, run_task, b);
        return b->pool ? 0 : -1;
}

ext_batch_t *ext_batch_open(const ext_opts_t *o, char *errstr, size_t errstr_size)
{
        ext_batch_t *b = calloc(1, sizeof(*b));

        snprintf(errstr, errstr_size, "out of memory"); /* every other failure says why */
        if (!b)
                goto fail;
        b->o = *o;
        if (!b->o.max_field)
                b->o.max_field = 256;
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
        if (plan_chunks(b) || start_workers(b)) {
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
        for (size_t i = 0; i < b->nfiles; i++)
                if (b->files[i].buf)
                        munmap(b->files[i].buf, b->files[i].len);
        free(b->persons);
        free(b->apps);
        free(b->order);
        free(b->arena);
        free(b->rejects);
        keyidx_free(&b->by_atena);
        keyidx_free(&b->by_setai);
        keyidx_free(&b->apps_by_atena);
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

/* Rows of the file of type t: the manifest's count, else a guess from its
 * size; it only sizes tables that would otherwise grow (and rehash). */
static size_t expected_rows(const ext_batch_t *b, ext_type_t t)
{
        for (size_t i = 0; i < b->nfiles; i++) {
                const xfile_t *f = &b->files[i];
                /* a line takes 10+ bytes: a manifest claiming more rows
                 * than that is wrong (and reported so after the read) */
                size_t most = f->len / 10 + 1;
                if (f->ft->t == t)
                        return f->manifest_rows >= 0 && (size_t)f->manifest_rows < most
                                   ? (size_t)f->manifest_rows
                               : f->manifest_rows >= 0 ? most
                                                       : f->len / 64 + 1;
        }
        return 1024;
}

/* ---- joining ---------------------------------------------------------- */

/* Outcome of one row's join. */
enum { L_JOINED, L_NOT_APPLICANT, L_REJECTED, L_PENDING };

/* Where a reject points: the line, and the column (0: the line). */
typedef struct rej_at {
        uint32_t file;
        uint64_t line;
        const char *raw;
        size_t raw_len;
        unsigned column;
        size_t field_len;
} rej_at_t;

static int add_reject(ext_batch_t *b, const rej_at_t *at, ext_reason_t reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ext_reject_t *new_reject(ext_batch_t *b)
{
        if (osh_grow(&b->rejects, &b->rcap, b->nrej, sizeof(*b->rejects), 64))
                return NULL;
        return &b->rejects[b->nrej++];
}

static int add_reject(ext_batch_t *b, const rej_at_t *at, ext_reason_t reason, const char *fmt, ...)
{
        ext_reject_t *r = new_reject(b);
        va_list ap;

        if (!r)
                return -1;
        r->file = at->file;
        r->line = at->line;
        r->reason = reason;
        r->column = (uint16_t)at->column;
        r->field_len = (uint32_t)(at->field_len > UINT32_MAX ? UINT32_MAX : at->field_len);
        r->raw = at->raw;
        r->raw_len = at->raw_len;
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
        va_end(ap);
        b->files[at->file].st.rejected++;
        b->files[at->file].enc_rejected += reason == EXT_R_ENCODING;
        return L_REJECTED;
}

/* The join's view of the row being joined. */
typedef struct jrow {
        uint32_t fi;
        uint64_t line; /* physical, in the file */
        const ext_row_t *r;
        const ext_chunk_t *c;
} jrow_t;

/* A join check failed on the row's key (its first column: 10 digits). */
#define REJECT(b, j, reason, ...)                                                                  \
        add_reject(b, &(rej_at_t){(j)->fi, (j)->line, (j)->r->raw, (j)->r->raw_len, 1, 10},        \
                   reason, __VA_ARGS__)

/* The reject the scan found for this row. */
static int scan_reject(ext_batch_t *b, const jrow_t *j)
{
        const ext_reject_t *s = &j->c->rej[j->r->rej - 1];
        rej_at_t at = {j->fi, j->line, s->raw, s->raw_len, s->column, s->field_len};

        return add_reject(b, &at, s->reason, "%s", s->detail);
}

static size_t arena_add(ext_batch_t *b, const char *s, size_t len)
{
        size_t off = b->alen;

        if (b->alen + len + 1 > b->acap_bytes) {
                size_t ncap = b->acap_bytes ? b->acap_bytes * 2 : 1 << 16;
                char *n;
                while (ncap < b->alen + len + 1)
                        ncap *= 2;
                n = realloc(b->arena, ncap);
                if (!n)
                        return (size_t)-1;
                b->arena = n;
                b->acap_bytes = ncap;
        }
        memcpy(b->arena + b->alen, s, len);
        b->arena[b->alen + len] = '\0';
        b->alen += len + 1;
        return off;
}

static int j_applicant(ext_batch_t *b, const jrow_t *j)
{
        const ext_row_t *r = j->r;
        xapp_t *a;

        if (osh_grow(&b->apps, &b->acap, b->napps, sizeof(*b->apps), 1024))
                return -1;
        /* withdrawn consent: remembered for duplicate detection only */
        switch (keyidx_put(&b->apps_by_atena, r->u.app.atena,
                           r->u.app.doui ? (uint32_t)b->napps : UINT32_MAX)) {
        case -1:
                return -1;
        case 0:
                return REJECT(b, j, EXT_R_DUPLICATE, "atena_no listed twice");
        }
        if (!r->u.app.doui)
                return L_NOT_APPLICANT;
        a = &b->apps[b->napps++];
        memset(a, 0, sizeof(*a));
        a->atena = r->u.app.atena;
        a->person = -1;
        a->file = j->fi;
        a->line = j->line;
        a->raw = r->raw;
        a->raw_len = r->raw_len;
        memcpy(a->user_id, r->u.app.uid, r->u.app.uid_len);
        a->cats = r->u.app.cats;
        a->files = 1u << j->fi;
        a->applied_ms = r->u.app.applied_ms;
        return L_PENDING;
}

static int link_applicant(ext_batch_t *b, const jrow_t *j, xperson_t *p, uint32_t ai)
{
        const ext_row_t *r = j->r;
        xapp_t *a = &b->apps[ai];
        size_t *off[4] = {&a->s_name, &a->s_kana, &a->s_acode, &a->s_atext};

        p->app = (int32_t)ai;
        a->person = (int32_t)(p - b->persons);
        a->sex = r->u.res.sex;
        memcpy(a->rel_code, r->u.res.rel_code, 2);
        a->files |= 1u << j->fi;
        for (int i = 0; i < 4; i++)
                if ((*off[i] = arena_add(b, r->u.res.s[i], r->u.res.n[i])) == (size_t)-1)
                        return -1;
        return L_JOINED;
}

static int j_resident(ext_batch_t *b, const jrow_t *j)
{
        const ext_row_t *r = j->r;
        uint32_t *ap;
        xperson_t *p;

        switch (keyidx_put(&b->by_atena, r->u.res.atena, (uint32_t)b->np)) {
        case -1:
                return -1;
        case 0:
                return REJECT(b, j, EXT_R_DUPLICATE, "atena_no registered twice");
        }
        if (osh_grow(&b->persons, &b->pcap, b->np, sizeof(*b->persons), 4096))
                return -1;
        p = &b->persons[b->np++];
        *p = (xperson_t){r->u.res.atena, r->u.res.setai, r->u.res.birth, r->u.res.rel, -1, -1, 0};
        ap = keyidx_get(&b->apps_by_atena, r->u.res.atena, &b->cur_app);
        if (!ap || *ap == UINT32_MAX)
                return L_NOT_APPLICANT;
        return link_applicant(b, j, p, *ap);
}

/* Households numbered in 世帯番号 order, members chained in register order
 * (the order of household_members): one sort of everyone by 世帯番号. */
static int link_households(ext_batch_t *b)
{
        uint64_t *k = malloc((b->np + 1) * sizeof(*k));
        uint32_t *v = malloc((b->np + 1) * sizeof(*v));
        int rc = -1;

        if (!k || !v || keyidx_init(&b->by_setai, b->np / 2 + 16, 0) ||
            !(b->hfirst = malloc((b->np + 1) * sizeof(*b->hfirst))))
                goto done;
        for (size_t i = 0; i < b->np; i++) {
                k[i] = b->persons[i].setai;
                v[i] = (uint32_t)i;
        }
        if (keyidx_sort_pairs(k, v, b->np))
                goto done;
        for (size_t i = 0; i < b->np; i++) {
                xperson_t *p = &b->persons[v[i]];
                if (i && k[i] == k[i - 1]) { /* the same household, a later member */
                        b->persons[v[i - 1]].next = (int32_t)v[i];
                        p->hh = b->persons[v[i - 1]].hh;
                        continue;
                }
                if (keyidx_put(&b->by_setai, k[i], (uint32_t)b->nh) < 0)
                        goto done;
                p->hh = (uint32_t)b->nh;
                b->hfirst[b->nh++] = (int32_t)v[i];
        }
        rc = 0;
done:
        free(k);
        free(v);
        return rc;
}

/* After the register: link households and settle pending applicants. */
static int after_residents(ext_batch_t *b)
{
        if (link_households(b))
                return -1;
        for (size_t i = 0; i < b->napps; i++) {
                xapp_t *a = &b->apps[i];
                if (a->person >= 0)
                        b->files[a->file].st.joined++;
                else if (add_reject(b, &(rej_at_t){a->file, a->line, a->raw, a->raw_len, 1, 10},
                                    EXT_R_UNKNOWN_PERSON,
                                    "applicant not in the resident register") < 0)
                        return -1;
        }
        return 0;
}

static int j_household(ext_batch_t *b, const jrow_t *j)
{
        uint64_t setai = j->r->u.hh.setai;
        uint32_t *h = keyidx_get(&b->by_setai, setai, &b->cur_setai),
                 *hp = keyidx_get(&b->by_atena, j->r->u.hh.head, &b->cur_atena);
        int joined = 0;

        if (!h || !hp || b->persons[*hp].setai != setai)
                return REJECT(b, j, EXT_R_UNKNOWN_PERSON,
                              "household or its head not in the resident register");
        if (b->seen[*h])
                return REJECT(b, j, EXT_R_DUPLICATE, "setai_no listed twice");
        b->seen[*h] = 1;
        for (int32_t m = b->hfirst[*h]; m >= 0; m = b->persons[m].next)
                if (b->persons[m].app >= 0) {
                        b->apps[b->persons[m].app].files |= 1u << j->fi;
                        joined = 1;
                }
        return joined ? L_JOINED : L_NOT_APPLICANT; /* its applicants use the household */
}

static void apply_status(ext_batch_t *b, const xfile_t *f, xapp_t *a, const ext_row_t *r)
{
        uint8_t on = r->u.st.active;

        switch (f->ft->t) {
        case EXT_TAX: /* bit 1, 2, 4: this fiscal year, the last, the one before */
                a->tax[r->u.st.bit == 4 ? 2 : r->u.st.bit >> 1] = (uint8_t)(r->u.st.val - '0');
                break;
        case EXT_NHI:
                a->nhi = on;
                break;
        case EXT_LATE_ELDERLY:
                a->koki = on;
                break;
        case EXT_CHILD_ALLOWANCE:
                a->ca = on;
                break;
        case EXT_CHILD_REARING:
                a->cr = on;
                break;
        case EXT_PUBLIC_ASSISTANCE:
                a->pa = on;
                break;
        default:
                a->ext[f->ext] = r->u.st.val;
        }
}

/* Tax, programme and extension files: one row per person (tax: per year). */
static int j_status(ext_batch_t *b, const jrow_t *j)
{
        const ext_row_t *r = j->r;
        uint32_t *v = keyidx_get(&b->by_atena, r->u.st.atena, &b->cur_atena);
        uint32_t pi;

        if (!v)
                return REJECT(b, j, EXT_R_UNKNOWN_PERSON, "atena_no not in the resident register");
        if (r->rej)
                return scan_reject(b, j);
        pi = *v;
        if (b->seen[pi] & r->u.st.bit)
                return REJECT(b, j, EXT_R_DUPLICATE, "key listed twice");
        b->seen[pi] |= r->u.st.bit;
        if (b->persons[pi].app < 0)
                return L_NOT_APPLICANT;
        b->apps[b->persons[pi].app].files |= 1u << j->fi;
        apply_status(b, &b->files[j->fi], &b->apps[b->persons[pi].app], r);
        return L_JOINED;
}

static int join_row(ext_batch_t *b, const jrow_t *j)
{
        if (j->r->rej && j->r->pre)
                return scan_reject(b, j);
        switch (b->files[j->fi].ft->t) {
        case EXT_APPLICANT:
                return j_applicant(b, j);
        case EXT_RESIDENT:
                return j_resident(b, j);
        case EXT_HOUSEHOLD:
                return j_household(b, j);
        default:
                return j_status(b, j);
        }
}

/* A chunk that did not start where the previous one stopped (a quoted line
 * break across the boundary, or no header yet) is scanned again from there. */
static void accept_chunk(ext_chunk_t *c, const xfile_t *f)
{
        if (c->start == f->next && c->first == !f->header_seen)
                return;
        ext_chunk_clear(c);
        *c = (ext_chunk_t){.f = c->f,
                           .file = c->file,
                           .start = f->next,
                           .end = c->end > f->next ? c->end : f->next,
                           .first = !f->header_seen};
        ext_scan(c);
}

static int chunk_fatal(const ext_chunk_t *c, const xfile_t *f, char *errstr, size_t errstr_size)
{
        switch (c->fatal) {
        case EXT_SCAN_TRUNCATED:
                snprintf(errstr, errstr_size, "%s: truncated (open quote at line %zu)", f->name,
                         f->line_base + c->fatal_line - 1);
                break;
        case EXT_SCAN_BAD_HEADER:
                snprintf(errstr, errstr_size, "%s: header is not \"%s\"", f->name, f->ft->header);
                break;
        default:
                snprintf(errstr, errstr_size, "%s: out of memory", f->name);
        }
        return -1;
}

/* The hash slots a put a few rows on will probe (out-of-order keys). */
static void prefetch(const ext_batch_t *b, ext_type_t t, const ext_row_t *r)
{
        if (t == EXT_RESIDENT)
                keyidx_prefetch(&b->by_atena, r->u.res.atena);
        else if (t == EXT_APPLICANT)
                keyidx_prefetch(&b->apps_by_atena, r->u.app.atena);
}

static int join_chunk(ext_batch_t *b, ext_chunk_t *c, char *errstr, size_t errstr_size)
{
        xfile_t *f = &b->files[c->file];

        accept_chunk(c, f);
        if (c->fatal)
                return chunk_fatal(c, f, errstr, errstr_size);
        for (size_t i = 0; i < c->nrows; i++) {
                jrow_t j = {c->file, f->line_base + c->rows[i].line - 1, &c->rows[i], c};
                if (i + PREFETCH < c->nrows)
                        prefetch(b, f->ft->t, &c->rows[i + PREFETCH]);
                int res = join_row(b, &j);
                if (res < 0)
                        return chunk_fatal(&(ext_chunk_t){.fatal = EXT_SCAN_OOM}, f, errstr,
                                           errstr_size);
                f->st.joined += res == L_JOINED;
                f->st.not_applicant += res == L_NOT_APPLICANT;
        }
        f->st.read += c->read;
        b->gaiji += c->gaiji;
        f->next = c->stop;
        f->line_base += c->lines;
        f->header_seen |= c->header_seen;
        if (c->any) {
                f->any = 1;
                f->last_terminated = c->last_terminated;
        }
        return 0;
}

static int finish_file(const xfile_t *f, char *errstr, size_t errstr_size)
{
        if (!f->header_seen)
                snprintf(errstr, errstr_size, "%s: empty (no header)", f->name);
        else if (f->manifest_rows >= 0 && (int64_t)f->st.read != f->manifest_rows)
                snprintf(errstr, errstr_size, "%s: %llu rows, the manifest says %lld", f->name,
                         (unsigned long long)f->st.read, (long long)f->manifest_rows);
        else if (f->manifest_rows < 0 && f->any && !f->last_terminated)
                snprintf(errstr, errstr_size, "%s: truncated (last line has no line break)",
                         f->name);
        else
                return 0;
        return -1;
}

/* The files that follow look keys up in order: sort what the file just
 * read added out of order. */
static int seal_after(ext_batch_t *b, ext_type_t t)
{
        if (t == EXT_APPLICANT)
                return keyidx_seal(&b->apps_by_atena);
        return t == EXT_RESIDENT ? keyidx_seal(&b->by_atena) : 0;
}

/* Between files: indexes sealed, households linked once the register is
 * in, a fresh duplicate map. */
static int next_file(ext_batch_t *b, int prev, uint32_t fi, int *residents_done)
{
        if (prev >= 0 && seal_after(b, b->files[prev].ft->t))
                return -1;
        if (!*residents_done && b->files[fi].ft->t != EXT_APPLICANT &&
            b->files[fi].ft->t != EXT_RESIDENT) {
                if (after_residents(b))
                        return -1;
                *residents_done = 1;
        }
        free(b->seen);
        return (b->seen = calloc(b->np + 1, 1)) ? 0 : -1;
}

/* The joined applicants in ascending 宛名番号, the order records go out. */
static int emit_order(ext_batch_t *b)
{
        uint64_t *k = malloc((b->napps + 1) * sizeof(*k));
        int rc = -1;

        if (!k || !(b->order = malloc((b->napps + 1) * sizeof(*b->order))))
                goto done;
        for (size_t i = 0; i < b->napps; i++) {
                if (b->apps[i].person >= 0) {
                        k[b->norder] = b->apps[i].atena;
                        b->order[b->norder++] = (uint32_t)i;
                }
        }
        rc = keyidx_sort_pairs(k, b->order, b->norder);
done:
        free(k);
        return rc;
}

static int join_all(ext_batch_t *b, int *residents_done, char *errstr, size_t errstr_size)
{
        int cur = -1;

        for (size_t ci = 0; ci < b->nchunks; ci++) {
                ext_chunk_t *c = &b->chunks[ci];
                if ((int)c->file != cur) {
                        if (cur >= 0 && finish_file(&b->files[cur], errstr, errstr_size))
                                return -1;
                        if (next_file(b, cur, c->file, residents_done))
                                goto oom;
                        cur = (int)c->file;
                }
                ext_pool_wait(b->pool, b->nfiles + ci);
                if (join_chunk(b, c, errstr, errstr_size))
                        return -1;
                ext_chunk_clear(c);
                ext_pool_consumed(b->pool, b->nfiles + ci + 1);
        }
        if (cur >= 0 && (finish_file(&b->files[cur], errstr, errstr_size)))
                return -1;
        if (cur >= 0 && seal_after(b, b->files[cur].ft->t))
                goto oom;
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

int ext_batch_parse(ext_batch_t *b, char *errstr, size_t errstr_size)
{
        size_t residents = expected_rows(b, EXT_RESIDENT), apps = expected_rows(b, EXT_APPLICANT);
        int residents_done = 0;

        /* sized once from the manifest: growing means copying and rehashing */
        if (keyidx_init(&b->by_atena, residents, residents) ||
            keyidx_init(&b->apps_by_atena, apps, apps) ||
            osh_grow(&b->persons, &b->pcap, residents, sizeof(*b->persons), residents + 1) ||
            osh_grow(&b->apps, &b->acap, apps, sizeof(*b->apps), apps + 1))
                goto oom;
        if (join_all(b, &residents_done, errstr, errstr_size)) {
                /* an altered file explains a bad one better than its symptom */
                ext_batch_verify(b, errstr, errstr_size);
                return -1;
        }
        if (ext_batch_verify(b, errstr, errstr_size))
                return -1;
        if (!residents_done && after_residents(b))
                goto oom;
        if (emit_order(b))
                goto oom;
        for (size_t i = 0; i < b->nfiles; i++) {
                const ext_file_stats_t *s = &b->files[i].st;
                if (s->read != s->joined + s->not_applicant + s->rejected) {
                        snprintf(errstr, errstr_size, "%s: counts do not reconcile", s->name);
                        return -1;
                }
                /* not a bad line but a wrong declaration: the batch would
                 * empty the cloud */
                if (s->read && b->files[i].enc_rejected == s->read) {
                        snprintf(errstr, errstr_size,
                                 "%s: every line is invalid %s: the batch's encoding is wrong "
                                 "(manifest or --encoding)",
                                 s->name, osh_textenc_name(b->files[i].scan.enc));
                        return -1;
                }
        }
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

/* ---- encoding --------------------------------------------------------- */

/* A 宛名番号 or 世帯番号 (< 10^10) as its 10 digits. */
static void no10(char out[11], uint64_t v)
{
        for (int i = 9; i >= 0; i--, v /= 10)
                out[i] = (char)('0' + v % 10);
        out[10] = '\0';
}

/* Enum indexes of resident.raw.v1's Relationship and Sex by export code. */
static int rel_index(uint8_t code)
{
        return code >= 1 && code <= 8 ? code - 1 : 8; /* 09 and unknown: OTHER */
}

static int sex_index(uint8_t code)
{
        return code == 1 ? 0 : code == 2 ? 1 : 2; /* MALE, FEMALE, UNKNOWN */
}

static void put_members(ext_batch_t *b, osh_avro_buf_t *w, int32_t self)
{
        int32_t first = b->hfirst[b->persons[self].hh];
        int64_t n = 0;

        for (int32_t m = first; m >= 0; m = b->persons[m].next)
                n += m != self;
        if (n)
                osh_avro_put_long(w, n);
        for (int32_t m = n ? first : -1; m >= 0; m = b->persons[m].next) {
                if (m == self)
                        continue;
                osh_avro_put_long(w, rel_index(b->persons[m].rel));
                osh_avro_put_long(w, 1); /* birth_date: the int branch */
                osh_avro_put_long(w, b->persons[m].birth);
        }
        osh_avro_put_long(w, 0);
}

static void put_extensions(osh_avro_buf_t *w, const xapp_t *a)
{
        char key[] = "ext_00";
        int64_t n = 0;

        for (int e = 0; e < 20; e++)
                n += a->ext[e] != 0;
        if (n)
                osh_avro_put_long(w, n);
        for (int e = 0; e < 20; e++) {
                if (!a->ext[e])
                        continue;
                key[4] = (char)('0' + (e + 1) / 10);
                key[5] = (char)('0' + (e + 1) % 10);
                osh_avro_put_bytes(w, key, 6);
                osh_avro_put_bytes(w, &a->ext[e], 1);
        }
        osh_avro_put_long(w, 0);
}

static void put_applicant(osh_avro_buf_t *w, const xapp_t *a)
{
        int n = 0;

        osh_avro_put_long(w, a->user_id[0] ? 1 : 0);
        if (a->user_id[0])
                osh_avro_put_str(w, a->user_id);
        for (int c = 0; c < 4; c++)
                n += (a->cats >> c) & 1;
        if (n)
                osh_avro_put_long(w, n);
        for (int c = 1; c <= 4; c++)
                if (a->cats & (1u << (c - 1)))
                        osh_avro_put_str(w, CATEGORY[c]);
        osh_avro_put_long(w, 0);
        osh_avro_put_long(w, 1); /* applied_at: the long branch */
        osh_avro_put_long(w, a->applied_ms);
}

static void put_files(ext_batch_t *b, osh_avro_buf_t *w, const xapp_t *a)
{
        int64_t n = 0;

        for (size_t i = 0; i < b->nfiles; i++)
                n += (a->files >> i) & 1;
        if (n)
                osh_avro_put_long(w, n);
        for (size_t i = 0; i < b->nfiles; i++)
                if (a->files & (1u << i))
                        osh_avro_put_bytes(w, b->files[i].name, b->files[i].name_len);
        osh_avro_put_long(w, 0);
}

/* resident.raw.v1, field by field in schema order; test_extractor checks
 * every record against avro-c's decoder and canonical re-encoding. */
static void put_record(ext_batch_t *b, osh_avro_buf_t *w, const char *key, const xapp_t *a,
                       const xperson_t *p)
{
        char setai[16];

        no10(setai, p->setai);
        osh_avro_put_header(w, b->raw_schema);
        osh_avro_put_bytes(w, key, 10);
        osh_avro_put_str(w, b->batch_id);
        osh_avro_put_long(w, b->ref_days);
        osh_avro_put_str(w, b->arena + a->s_name);
        osh_avro_put_str(w, b->arena + a->s_kana);
        osh_avro_put_long(w, sex_index(a->sex));
        osh_avro_put_long(w, 1); /* birth_date: the int branch */
        osh_avro_put_long(w, p->birth);
        osh_avro_put_str(w, b->arena + a->s_acode);
        osh_avro_put_str(w, b->arena + a->s_atext);
        osh_avro_put_str(w, setai);
        osh_avro_put_long(w, rel_index(p->rel));
        osh_avro_put_str(w, a->rel_code);
        put_members(b, w, a->person);
        for (int y = 0; y < 3; y++) /* TaxStatus: UNKNOWN, TAXED, NOT_TAXED */
                osh_avro_put_long(w, a->tax[y]);
        osh_avro_put_bool(w, a->nhi);
        osh_avro_put_bool(w, a->koki);
        osh_avro_put_bool(w, a->ca);
        osh_avro_put_bool(w, a->cr);
        osh_avro_put_bool(w, a->pa);
        put_extensions(w, a);
        put_applicant(w, a);
        put_files(b, w, a);
}

int ext_batch_record(ext_batch_t *b, size_t i, const char **key, const void **val, size_t *len,
                     uint64_t *hash)
{
        const xapp_t *a = &b->apps[b->order[i]];

        no10(b->keybuf, a->atena);
        osh_avro_buf_reset(&b->wbuf);
        put_record(b, &b->wbuf, b->keybuf, a, &b->persons[a->person]);
        if (!osh_avro_buf_ok(&b->wbuf))
                return -1;
        *key = b->keybuf;
        *val = b->wbuf.p;
        *len = b->wbuf.len;
        if (hash && !b->hasher && !(b->hasher = osh_sha256_new()))
                return -1;
        if (hash) /* one digest context for all: a new one per record cost 0.4 us */
                *hash =
                    osh_batch_record_hash_with(b->hasher, b->keybuf, 10, b->wbuf.p, b->wbuf.len);
        return 0;
}

int ext_batch_encode_record(ext_batch_t *b, size_t i, const char **key, void **val, size_t *len,
                            char *errstr, size_t errstr_size)
{
        const void *v;

        if (ext_batch_record(b, i, key, &v, len, NULL) || !(*val = malloc(*len))) {
                snprintf(errstr, errstr_size, "record %zu: out of memory", i);
                return -1;
        }
        memcpy(*val, v, *len);
        return 0;
}

/* The header's name of 1-based column col ("" for 0 or past the end). */
static void column_name(const char *header, unsigned col, char *out, size_t size)
{
        const char *p = header;

        for (unsigned i = 1; col && i < col && p; i++)
                if ((p = strchr(p, ',')))
                        p++;
        snprintf(out, size, "%.*s", col && p ? (int)strcspn(p, ",") : 0, col && p ? p : "");
}

int ext_batch_encode_reject(ext_batch_t *b, size_t i, int64_t now_ms, char *keybuf,
                            size_t keybuf_size, void **val, size_t *len, char *errstr,
                            size_t errstr_size)
{
        const ext_reject_t *r = &b->rejects[i];
        size_t raw_len = r->raw_len < b->o.raw_max ? r->raw_len : b->o.raw_max;
        char field[64];
        avro_value_t rec;
        int rc = -1;

        snprintf(keybuf, keybuf_size, "%s:%llu", b->files[r->file].name,
                 (unsigned long long)r->line);
        column_name(b->files[r->file].ft->header, r->column, field, sizeof(field));
        if (osh_value_new(b->rej_schema, &rec)) {
                snprintf(errstr, errstr_size, "avro: cannot create a reject");
                return -1;
        }
        if (osh_value_set_string(&rec, "source_file", b->files[r->file].name) ||
            osh_value_set_long(&rec, "line", (int64_t)r->line) ||
            osh_value_set_enum(&rec, "reason", ext_reason_symbol(r->reason)) ||
            osh_value_set_string(&rec, "detail", r->detail) ||
            osh_value_set_bytes(&rec, "raw", r->raw ? r->raw : "", raw_len) ||
            osh_value_set_string(&rec, "batch_id", b->batch_id) ||
            osh_value_set_long(&rec, "rejected_at", now_ms) ||
            osh_value_set_int(&rec, "column", r->column) ||
            osh_value_set_string(&rec, "field", field) ||
            osh_value_set_long(&rec, "field_length", r->field_len) ||
            osh_value_set_long(&rec, "raw_length", (int64_t)r->raw_len)) {
                snprintf(errstr, errstr_size, "avro: cannot set a reject field");
                goto fail;
        }
        rc = osh_serde_encode_alloc(b->rej_schema, &rec, val, len, errstr, errstr_size);
fail:
        avro_value_decref(&rec);
        return rc;
}
