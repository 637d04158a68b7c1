/* Batch reading, validation and the join (see extract.h, docs/exports.md). */
#define _GNU_SOURCE /* qsort_r */
#include "extract.h"

#include <errno.h>
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
#include "oshirase/csv.h"
#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "oshirase/topics.h"
#include "keyidx.h"

#define MAX_COLS 9

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
        char path[4200];
        char sha[OSH_SHA256_HEX_LEN + 1];
        int64_t manifest_rows; /* -1: no manifest */
        char *buf;
        size_t len;
        ext_file_stats_t st;
} xfile_t;

typedef struct xperson {
        uint64_t atena, setai;
        int32_t birth;
        uint8_t rel;
        int32_t next; /* next member of the household, -1 */
        int32_t app;  /* consenting applicant index, -1 */
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
        int32_t *hfirst, *hlast;                    /* household -> persons */
        size_t nh;
        size_t cur_atena, cur_app, cur_setai; /* last hits: search hints */
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

static int read_manifest(ext_batch_t *b, const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        char line[1024];
        int rc = 0;

        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
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
        uint8_t d[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1];
        struct stat st;
        int fd = open(f->path, O_RDONLY | O_CLOEXEC);

        if (fd < 0 || fstat(fd, &st)) {
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
        fd = -1;
        if (osh_sha256(f->buf, f->len, d))
                goto fail;
        osh_hex_encode(d, sizeof(d), hex);
        if (f->sha[0] && strcasecmp(f->sha, hex)) {
                snprintf(errstr, errstr_size,
                         "%s: SHA-256 differs from the manifest (truncated or altered file)",
                         f->name);
                goto fail;
        }
        memcpy(f->sha, hex, sizeof(hex));
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

        if (!b)
                goto fail;
        b->o = *o;
        if (!b->o.max_field)
                b->o.max_field = 256;
        if (resolve_input(b, errstr, errstr_size))
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
        free(b->hlast);
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

/* ---- parsing ---------------------------------------------------------- */

typedef struct line {
        const osh_csv_record_t *rec;
        size_t n;
        const char *f[MAX_COLS]; /* decoded; not NUL-terminated */
        size_t len[MAX_COLS];
} line_t;

/* Outcome of one line's handler. */
enum { L_JOINED, L_NOT_APPLICANT, L_REJECTED, L_PENDING };

static int add_reject(ext_batch_t *b, uint32_t file, const osh_csv_record_t *rec,
                      ext_reason_t reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int add_reject(ext_batch_t *b, uint32_t file, const osh_csv_record_t *rec,
                      ext_reason_t reason, const char *fmt, ...)
{
        ext_reject_t *r;
        va_list ap;

        if (b->nrej == b->rcap) {
                size_t ncap = b->rcap ? b->rcap * 2 : 64;
                ext_reject_t *n = realloc(b->rejects, ncap * sizeof(*n));
                if (!n)
                        return -1;
                b->rejects = n;
                b->rcap = ncap;
        }
        r = &b->rejects[b->nrej++];
        r->file = file;
        r->line = rec->line;
        r->reason = reason;
        r->raw = rec->raw;
        r->raw_len = rec->raw_len;
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
        va_end(ap);
        b->files[file].st.rejected++;
        return L_REJECTED;
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

static int all_digits(const char *s, size_t len)
{
        if (!len)
                return 0;
        for (size_t i = 0; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return 0;
        return 1;
}

/* 被保険者番号 and the like: letters, digits and '-'. */
static int id_chars(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      c == '-'))
                        return 0;
        }
        return 1;
}

/* 宛名番号 / 世帯番号: exactly 10 digits, not all zero. 0 = invalid. */
static uint64_t parse_no(const char *s, size_t len)
{
        uint64_t v = 0;

        if (len != 10 || !all_digits(s, len))
                return 0;
        for (size_t i = 0; i < len; i++)
                v = v * 10 + (uint64_t)(s[i] - '0');
        return v;
}

/* Small decimal in [lo, hi], else -1. */
static int parse_small(const char *s, size_t len, int lo, int hi)
{
        int v = 0;

        if (!len || len > 4 || !all_digits(s, len))
                return -1;
        for (size_t i = 0; i < len; i++)
                v = v * 10 + (s[i] - '0');
        return v >= lo && v <= hi ? v : -1;
}

/* A date column: 1 ok (*days set), 0 empty, -1 bad. */
static int parse_date(const char *s, size_t len, int32_t *days)
{
        osh_date_t d;

        if (!len)
                return 0;
        if (osh_jdate_parse(s, len, OSH_JDATE_ANY, &d))
                return -1;
        *days = osh_date_to_days(d.year, d.month, d.day);
        return 1;
}

static int person_of(ext_batch_t *b, const line_t *l, uint32_t fi, int32_t *pi)
{
        uint64_t atena = parse_no(l->f[0], l->len[0]);
        uint32_t *v;

        if (!atena)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "atena_no: not 10 digits");
        v = keyidx_get(&b->by_atena, atena, &b->cur_atena);
        if (!v)
                return add_reject(b, fi, l->rec, EXT_R_UNKNOWN_PERSON,
                                  "atena_no not in the resident register");
        *pi = (int32_t)*v;
        return 0;
}

static int h_applicant(ext_batch_t *b, uint32_t fi, const line_t *l)
{
        uint64_t atena = parse_no(l->f[0], l->len[0]);
        int doui = parse_small(l->f[2], l->len[2], 0, 1);
        uint8_t cats = 0;
        osh_date_t d;
        int hh, mm, ss;
        xapp_t *a;

        if (!atena)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "atena_no: not 10 digits");
        if (l->len[1] && (l->len[1] < 4 || l->len[1] > 32))
                return add_reject(b, fi, l->rec, EXT_R_CODE, "riyosha_id: length");
        for (size_t i = 0; i < l->len[1]; i++) {
                char c = l->f[1][i];
                if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
                        return add_reject(b, fi, l->rec, EXT_R_CODE,
                                          "riyosha_id: not alphanumeric");
        }
        if (doui < 0)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "doui: not 0/1");
        for (size_t i = 0; i < l->len[3];) {
                const char *p = l->f[3] + i, *semi = memchr(p, ';', l->len[3] - i);
                size_t n = semi ? (size_t)(semi - p) : l->len[3] - i;
                int c = parse_small(p, n, 1, 4);
                if (n != 2 || c < 0)
                        return add_reject(b, fi, l->rec, EXT_R_CODE, "bunya: unknown category");
                cats |= (uint8_t)(1u << (c - 1));
                i += n + (semi != NULL);
        }
        if (l->len[4] != 14 || !all_digits(l->f[4], 14) ||
            osh_jdate_parse(l->f[4], 8, OSH_JDATE_WESTERN, &d) ||
            (hh = parse_small(l->f[4] + 8, 2, 0, 23)) < 0 ||
            (mm = parse_small(l->f[4] + 10, 2, 0, 59)) < 0 ||
            (ss = parse_small(l->f[4] + 12, 2, 0, 59)) < 0)
                return add_reject(b, fi, l->rec, EXT_R_DATE, "shinsei_nichiji: not YYYYMMDDhhmmss");
        if (b->napps == b->acap) {
                size_t ncap = b->acap ? b->acap * 2 : 1024;
                xapp_t *n = realloc(b->apps, ncap * sizeof(*n));
                if (!n)
                        return -1;
                b->apps = n;
                b->acap = ncap;
        }
        a = &b->apps[b->napps];
        memset(a, 0, sizeof(*a));
        a->atena = atena;
        a->person = -1;
        a->file = fi;
        a->line = l->rec->line;
        a->raw = l->rec->raw;
        a->raw_len = l->rec->raw_len;
        memcpy(a->user_id, l->f[1], l->len[1]);
        a->cats = cats;
        a->files = 1u << fi;
        a->applied_ms = ((int64_t)osh_date_to_days(d.year, d.month, d.day) * 86400 + hh * 3600 +
                         mm * 60 + ss - 9 * 3600) *
                        1000; /* JST */
        /* withdrawn consent: remembered for duplicate detection only */
        switch (keyidx_put(&b->apps_by_atena, atena, doui ? (uint32_t)b->napps : UINT32_MAX,
                           &b->cur_app)) {
        case -1:
                return -1;
        case 0:
                return add_reject(b, fi, l->rec, EXT_R_DUPLICATE, "atena_no listed twice");
        }
        if (!doui)
                return L_NOT_APPLICANT;
        b->napps++;
        return L_PENDING;
}

static int h_resident(ext_batch_t *b, uint32_t fi, const line_t *l)
{
        uint64_t atena = parse_no(l->f[0], l->len[0]), setai = parse_no(l->f[1], l->len[1]);
        int sex = parse_small(l->f[4], l->len[4], 1, 3),
            rel = parse_small(l->f[6], l->len[6], 1, 9);
        int32_t birth = 0;
        uint32_t *ap;
        xperson_t *p;

        if (!atena || !setai)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "atena_no/setai_no: not 10 digits");
        if (!l->len[2])
                return add_reject(b, fi, l->rec, EXT_R_MISSING, "shimei: empty");
        if (sex < 0)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "seibetsu: unknown code");
        if (parse_date(l->f[5], l->len[5], &birth) != 1)
                return add_reject(b, fi, l->rec, EXT_R_DATE, "seinengappi: bad or missing date");
        if (rel < 0 || l->len[6] != 2)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "zokugara: unknown code");
        if (l->len[7] != 30 || !all_digits(l->f[7], 30))
                return add_reject(b, fi, l->rec, EXT_R_CODE, "jusho_code: not 30 digits");
        switch (keyidx_put(&b->by_atena, atena, (uint32_t)b->np, &b->cur_atena)) {
        case -1:
                return -1;
        case 0:
                return add_reject(b, fi, l->rec, EXT_R_DUPLICATE, "atena_no registered twice");
        }
        if (b->np == b->pcap) {
                size_t ncap = b->pcap ? b->pcap * 2 : 4096;
                xperson_t *n = realloc(b->persons, ncap * sizeof(*n));
                if (!n)
                        return -1;
                b->persons = n;
                b->pcap = ncap;
        }
        p = &b->persons[b->np];
        p->atena = atena;
        p->setai = setai;
        p->birth = birth;
        p->rel = (uint8_t)rel;
        p->next = -1;
        p->app = -1;
        ap = keyidx_get(&b->apps_by_atena, atena, &b->cur_app);
        b->np++;
        if (!ap || *ap == UINT32_MAX)
                return L_NOT_APPLICANT;
        {
                xapp_t *a = &b->apps[*ap];
                p->app = (int32_t)*ap;
                a->person = (int32_t)(b->np - 1);
                a->sex = (uint8_t)sex;
                a->s_name = arena_add(b, l->f[2], l->len[2]);
                a->s_kana = arena_add(b, l->f[3], l->len[3]);
                a->s_acode = arena_add(b, l->f[7], l->len[7]);
                a->s_atext = arena_add(b, l->f[8], l->len[8]);
                memcpy(a->rel_code, l->f[6], 2);
                if (a->s_atext == (size_t)-1 || a->s_name == (size_t)-1 ||
                    a->s_kana == (size_t)-1 || a->s_acode == (size_t)-1)
                        return -1;
                a->files |= 1u << fi;
        }
        return L_JOINED;
}

/* After the register: link households and settle pending applicants. */
static int after_residents(ext_batch_t *b)
{
        if (keyidx_init(&b->by_setai, b->np / 2 + 16) ||
            !(b->hfirst = malloc((b->np + 1) * sizeof(*b->hfirst))) ||
            !(b->hlast = malloc((b->np + 1) * sizeof(*b->hlast))))
                return -1;
        /* members in register order: the order of household_members */
        for (size_t i = 0; i < b->np; i++) {
                xperson_t *p = &b->persons[i];
                uint32_t *h = keyidx_get(&b->by_setai, p->setai, &b->cur_setai);
                if (h) {
                        b->persons[b->hlast[*h]].next = (int32_t)i;
                        b->hlast[*h] = (int32_t)i;
                        continue;
                }
                if (keyidx_put(&b->by_setai, p->setai, (uint32_t)b->nh, &b->cur_setai) < 0)
                        return -1;
                b->hfirst[b->nh] = b->hlast[b->nh] = (int32_t)i;
                b->nh++;
        }
        if (keyidx_seal(&b->by_setai))
                return -1;
        for (size_t i = 0; i < b->napps; i++) {
                xapp_t *a = &b->apps[i];
                osh_csv_record_t rec = {.line = a->line, .raw = a->raw, .raw_len = a->raw_len};
                if (a->person >= 0)
                        b->files[a->file].st.joined++;
                else if (add_reject(b, a->file, &rec, EXT_R_UNKNOWN_PERSON,
                                    "applicant not in the resident register") < 0)
                        return -1;
        }
        return 0;
}

static int h_household(ext_batch_t *b, uint32_t fi, const line_t *l, uint8_t *seen)
{
        uint64_t setai = parse_no(l->f[0], l->len[0]), head = parse_no(l->f[1], l->len[1]);
        int n = parse_small(l->f[2], l->len[2], 1, 99);
        uint32_t *h, *hp;
        int joined = 0;

        if (!setai || !head)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "setai_no/atena_no: not 10 digits");
        if (n < 0)
                return add_reject(b, fi, l->rec, EXT_R_CODE, "setaiin_su: not 1-99");
        if (l->len[3] != 30 || !all_digits(l->f[3], 30))
                return add_reject(b, fi, l->rec, EXT_R_CODE, "jusho_code: not 30 digits");
        h = keyidx_get(&b->by_setai, setai, &b->cur_setai);
        hp = keyidx_get(&b->by_atena, head, &b->cur_atena);
        if (!h || !hp || b->persons[*hp].setai != setai)
                return add_reject(b, fi, l->rec, EXT_R_UNKNOWN_PERSON,
                                  "household or its head not in the resident register");
        if (seen[*h])
                return add_reject(b, fi, l->rec, EXT_R_DUPLICATE, "setai_no listed twice");
        seen[*h] = 1;
        for (int32_t m = b->hfirst[*h]; m >= 0; m = b->persons[m].next)
                if (b->persons[m].app >= 0) {
                        b->apps[b->persons[m].app].files |= 1u << fi;
                        joined = 1;
                }
        return joined ? L_JOINED : L_NOT_APPLICANT; /* its applicants use the household */
}

static int period_active(int32_t start, int has_end, int32_t end, int32_t ref)
{
        return start <= ref && (!has_end || ref < end);
}

/* Tax, programme and extension files: one row per person (tax: per year). */
static int h_status(ext_batch_t *b, uint32_t fi, const line_t *l, uint8_t *seen)
{
        const xfile_t *f = &b->files[fi];
        int32_t pi = -1, start = 0, end = 0;
        int v = 0, de = 0, rc;
        uint8_t bit = 1;
        xapp_t *a;

        if ((rc = person_of(b, l, fi, &pi)))
                return rc;
        switch (f->ft->t) {
        case EXT_TAX:
                v = parse_small(l->f[1], l->len[1], b->fy - 2, b->fy);
                if (v < 0 || l->len[1] != 4)
                        return add_reject(b, fi, l->rec, EXT_R_CODE,
                                          "nendo: not one of the three fiscal years");
                bit = (uint8_t)(1u << (b->fy - v));
                if (parse_small(l->f[2], l->len[2], 1, 2) < 0)
                        return add_reject(b, fi, l->rec, EXT_R_CODE, "kazei_kubun: not 1/2");
                break;
        case EXT_EXTENSION:
                if (parse_small(l->f[1], l->len[1], 0, 1) < 0 || l->len[1] != 1)
                        return add_reject(b, fi, l->rec, EXT_R_CODE, "value: not 0/1");
                if (parse_date(l->f[2], l->len[2], &start) < 0)
                        return add_reject(b, fi, l->rec, EXT_R_DATE, "jisshi_bi: bad date");
                break;
        case EXT_PUBLIC_ASSISTANCE:
                if (parse_date(l->f[1], l->len[1], &start) != 1 ||
                    (de = parse_date(l->f[2], l->len[2], &end)) < 0)
                        return add_reject(b, fi, l->rec, EXT_R_DATE,
                                          "kaishi_bi/haishi_bi: bad date");
                break;
        default: /* id or code, start, end */
                if (f->ft->t == EXT_NHI || f->ft->t == EXT_LATE_ELDERLY) {
                        if (!l->len[1] || l->len[1] > 16 || !id_chars(l->f[1], l->len[1]))
                                return add_reject(b, fi, l->rec, EXT_R_CODE, "number: malformed");
                } else if ((v = parse_small(l->f[1], l->len[1], 1,
                                            f->ft->t == EXT_CHILD_REARING ? 3 : 20)) < 0) {
                        return add_reject(b, fi, l->rec, EXT_R_CODE, "count/kubun: unknown code");
                }
                if (parse_date(l->f[2], l->len[2], &start) != 1 ||
                    (de = parse_date(l->f[3], l->len[3], &end)) < 0)
                        return add_reject(b, fi, l->rec, EXT_R_DATE, "start/end: bad date");
        }
        if (seen[pi] & bit)
                return add_reject(b, fi, l->rec, EXT_R_DUPLICATE, "key listed twice");
        seen[pi] |= bit;
        if (b->persons[pi].app < 0)
                return L_NOT_APPLICANT;
        a = &b->apps[b->persons[pi].app];
        a->files |= 1u << fi;
        switch (f->ft->t) {
        case EXT_TAX:
                a->tax[b->fy - v] = (uint8_t)(l->f[2][0] - '0');
                break;
        case EXT_NHI:
                a->nhi = (uint8_t)period_active(start, de, end, b->ref_days);
                break;
        case EXT_LATE_ELDERLY:
                a->koki = (uint8_t)period_active(start, de, end, b->ref_days);
                break;
        case EXT_CHILD_ALLOWANCE:
                a->ca = (uint8_t)period_active(start, de, end, b->ref_days);
                break;
        case EXT_CHILD_REARING:
                a->cr = (uint8_t)(period_active(start, de, end, b->ref_days) && v != 3);
                break;
        case EXT_PUBLIC_ASSISTANCE:
                a->pa = (uint8_t)period_active(start, de, end, b->ref_days);
                break;
        default:
                a->ext[f->ext] = l->f[1][0];
        }
        return L_JOINED;
}

static size_t count_cols(const char *header)
{
        size_t n = 1;

        for (const char *p = header; *p; p++)
                n += *p == ',';
        return n;
}

/* Decodes the record's fields. Clean text (nearly all of it) is used where
 * it lies in the mapped file; only converted fields are copied into out.
 * Fields are not NUL-terminated. -1 on an encoding error. */
static int decode_line(ext_batch_t *b, osh_textdec_t *dec, const osh_csv_record_t *rec, line_t *l,
                       char *out, size_t out_size)
{
        size_t o = 0;

        l->rec = rec;
        l->n = rec->nfields;
        for (size_t i = 0; i < rec->nfields && i < MAX_COLS; i++) {
                const char *s;
                size_t n;
                if (osh_textdec_view(dec, rec->fields[i].ptr, rec->fields[i].len, &s, &n,
                                     &b->gaiji))
                        return -1;
                l->f[i] = s;
                l->len[i] = n;
                if (s == rec->fields[i].ptr)
                        continue;
                if (o + n > out_size)
                        return -1;
                memcpy(out + o, s, n);
                l->f[i] = out + o;
                o += n;
        }
        return 0;
}

static int check_header(const xfile_t *f, const line_t *l)
{
        char buf[256];
        size_t o = 0;

        for (size_t i = 0; i < l->n && o < sizeof(buf); i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%.*s", i ? "," : "",
                                      (int)l->len[i], l->f[i]);
        return o < sizeof(buf) && !strcmp(buf, f->ft->header) ? 0 : -1;
}

static int csv_reject(ext_batch_t *b, uint32_t fi, const osh_csv_record_t *rec)
{
        int too_long =
            rec->error == OSH_CSV_FIELD_TOO_LONG || rec->error == OSH_CSV_RECORD_TOO_LONG;

        return add_reject(b, fi, rec, too_long ? EXT_R_TOO_LONG : EXT_R_PARSE, "%s",
                          osh_csv_error_name(rec->error));
}

static int handle(ext_batch_t *b, uint32_t fi, const line_t *l, uint8_t *seen)
{
        switch (b->files[fi].ft->t) {
        case EXT_APPLICANT:
                return h_applicant(b, fi, l);
        case EXT_RESIDENT:
                return h_resident(b, fi, l);
        case EXT_HOUSEHOLD:
                return h_household(b, fi, l, seen);
        default:
                return h_status(b, fi, l, seen);
        }
}

static int parse_file(ext_batch_t *b, uint32_t fi, char *errstr, size_t errstr_size)
{
        xfile_t *f = &b->files[fi];
        osh_csv_opts_t co = {.max_field = b->o.max_field, .max_fields = 64, .max_record = 65536};
        size_t bom = f->len >= 3 && !memcmp(f->buf, OSH_TEXTENC_UTF8_BOM, 3) ? 3 : 0,
               ncols = count_cols(f->ft->header);
        /* scanning the whole file is only needed when nothing says */
        osh_textenc_t enc =
            b->enc_set || bom ? OSH_TEXTENC_UTF8 : osh_textenc_detect(f->buf, f->len, NULL);
        osh_textdec_t *dec = NULL;
        osh_csv_reader_t *r = NULL;
        uint8_t *seen = calloc(b->np + 1, 1);
        char *out = malloc(65536 * 3 + 64);
        osh_csv_record_t rec;
        line_t l;
        int rc = -1, header = 1, last_terminated = 1;

        if (b->enc_set)
                enc = bom ? OSH_TEXTENC_UTF8 : b->enc;
        dec = osh_textdec_new(enc, b->o.gaiji_repl);
        r = osh_csv_reader_new(f->buf ? f->buf + bom : "", f->len - bom, &co);
        if (!seen || !out || !dec || !r) {
                snprintf(errstr, errstr_size, "%s: out of memory", f->name);
                goto fail;
        }
        while (osh_csv_next(r, &rec) == 1) {
                int res;
                last_terminated = rec.terminated;
                if (rec.raw_len == 0 && rec.nfields == 1 && !rec.error)
                        continue; /* blank line */
                if (rec.error == OSH_CSV_UNTERMINATED) {
                        snprintf(errstr, errstr_size, "%s: truncated (open quote at line %zu)",
                                 f->name, rec.line);
                        goto fail;
                }
                if (header) {
                        header = 0;
                        if (rec.error || decode_line(b, dec, &rec, &l, out, 65536 * 3) ||
                            check_header(f, &l)) {
                                snprintf(errstr, errstr_size, "%s: header is not \"%s\"", f->name,
                                         f->ft->header);
                                goto fail;
                        }
                        continue;
                }
                f->st.read++;
                if (rec.error)
                        res = csv_reject(b, fi, &rec);
                else if (rec.nfields != ncols)
                        res =
                            add_reject(b, fi, &rec, EXT_R_PARSE,
                                       "wrong column count: %zu, expected %zu", rec.nfields, ncols);
                else if (decode_line(b, dec, &rec, &l, out, 65536 * 3))
                        res = add_reject(b, fi, &rec, EXT_R_ENCODING, "invalid %s byte sequence",
                                         osh_textenc_name(enc));
                else
                        res = handle(b, fi, &l, seen);
                if (res < 0) {
                        snprintf(errstr, errstr_size, "%s: out of memory", f->name);
                        goto fail;
                }
                f->st.joined += res == L_JOINED;
                f->st.not_applicant += res == L_NOT_APPLICANT;
        }
        if (header) {
                snprintf(errstr, errstr_size, "%s: empty (no header)", f->name);
                goto fail;
        }
        if (f->manifest_rows >= 0 && (int64_t)f->st.read != f->manifest_rows) {
                snprintf(errstr, errstr_size, "%s: %llu rows, the manifest says %lld", f->name,
                         (unsigned long long)f->st.read, (long long)f->manifest_rows);
                goto fail;
        }
        if (f->manifest_rows < 0 && !last_terminated) {
                snprintf(errstr, errstr_size, "%s: truncated (last line has no line break)",
                         f->name);
                goto fail;
        }
        rc = 0;
fail:
        osh_csv_reader_destroy(r);
        osh_textdec_destroy(dec);
        free(seen);
        free(out);
        return rc;
}

static int cmp_app(const void *x, const void *y, void *ctx)
{
        const xapp_t *apps = ctx;
        uint64_t a = apps[*(const uint32_t *)x].atena, b = apps[*(const uint32_t *)y].atena;

        return a < b ? -1 : a > b;
}

/* The files that follow look keys up in order: sort what the file just
 * read added out of order. */
static int seal_after(ext_batch_t *b, ext_type_t t)
{
        if (t == EXT_APPLICANT)
                return keyidx_seal(&b->apps_by_atena);
        return t == EXT_RESIDENT ? keyidx_seal(&b->by_atena) : 0;
}

int ext_batch_parse(ext_batch_t *b, char *errstr, size_t errstr_size)
{
        int residents_done = 0;

        if (keyidx_init(&b->by_atena, 1 << 16) || keyidx_init(&b->apps_by_atena, 1 << 14))
                goto oom;
        for (uint32_t fi = 0; fi < b->nfiles; fi++) {
                if (!residents_done && b->files[fi].ft->t != EXT_APPLICANT &&
                    b->files[fi].ft->t != EXT_RESIDENT) {
                        if (after_residents(b))
                                goto oom;
                        residents_done = 1;
                }
                if (parse_file(b, fi, errstr, errstr_size))
                        return -1;
                if (seal_after(b, b->files[fi].ft->t))
                        goto oom;
        }
        if (!residents_done && after_residents(b))
                goto oom;
        b->order = malloc((b->napps + 1) * sizeof(*b->order));
        if (!b->order)
                goto oom;
        for (size_t i = 0; i < b->napps; i++)
                if (b->apps[i].person >= 0)
                        b->order[b->norder++] = (uint32_t)i;
        qsort_r(b->order, b->norder, sizeof(*b->order), cmp_app, b->apps);
        for (size_t i = 0; i < b->nfiles; i++) {
                const ext_file_stats_t *s = &b->files[i].st;
                if (s->read != s->joined + s->not_applicant + s->rejected) {
                        snprintf(errstr, errstr_size, "%s: counts do not reconcile", s->name);
                        return -1;
                }
        }
        return 0;
oom:
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
}

/* ---- encoding --------------------------------------------------------- */

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
        uint32_t *h = keyidx_get(&b->by_setai, b->persons[self].setai, &b->cur_setai);
        int64_t n = 0;

        for (int32_t m = h ? b->hfirst[*h] : -1; m >= 0; m = b->persons[m].next)
                n += m != self;
        if (n)
                osh_avro_put_long(w, n);
        for (int32_t m = n ? b->hfirst[*h] : -1; m >= 0; m = b->persons[m].next) {
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
        char key[8];
        int64_t n = 0;

        for (int e = 0; e < 20; e++)
                n += a->ext[e] != 0;
        if (n)
                osh_avro_put_long(w, n);
        for (int e = 0; e < 20; e++) {
                if (!a->ext[e])
                        continue;
                snprintf(key, sizeof(key), "ext_%02d", e + 1);
                osh_avro_put_str(w, key);
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
                        osh_avro_put_str(w, b->files[i].name);
        osh_avro_put_long(w, 0);
}

/* resident.raw.v1, field by field in schema order; test_extractor checks
 * every record against avro-c's decoder and canonical re-encoding. */
static void put_record(ext_batch_t *b, osh_avro_buf_t *w, const xapp_t *a, const xperson_t *p)
{
        char setai[16];

        snprintf(setai, sizeof(setai), "%010llu", (unsigned long long)p->setai);
        osh_avro_put_header(w, b->raw_schema);
        osh_avro_put_str(w, b->keybuf);
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

int ext_batch_encode_record(ext_batch_t *b, size_t i, const char **key, void **val, size_t *len,
                            char *errstr, size_t errstr_size)
{
        const xapp_t *a = &b->apps[b->order[i]];
        osh_avro_buf_t w = {0};

        snprintf(b->keybuf, sizeof(b->keybuf), "%010llu", (unsigned long long)a->atena);
        put_record(b, &w, a, &b->persons[a->person]);
        if (!(*val = osh_avro_buf_take(&w, len))) {
                snprintf(errstr, errstr_size, "record %zu: out of memory", i);
                return -1;
        }
        *key = b->keybuf;
        return 0;
}

int ext_batch_encode_reject(ext_batch_t *b, size_t i, int64_t now_ms, char *keybuf,
                            size_t keybuf_size, void **val, size_t *len, char *errstr,
                            size_t errstr_size)
{
        const ext_reject_t *r = &b->rejects[i];
        avro_value_t rec;
        int rc = -1;

        snprintf(keybuf, keybuf_size, "%s:%llu", b->files[r->file].name,
                 (unsigned long long)r->line);
        if (osh_value_new(b->rej_schema, &rec)) {
                snprintf(errstr, errstr_size, "avro: cannot create a reject");
                return -1;
        }
        if (osh_value_set_string(&rec, "source_file", b->files[r->file].name) ||
            osh_value_set_long(&rec, "line", (int64_t)r->line) ||
            osh_value_set_enum(&rec, "reason", ext_reason_symbol(r->reason)) ||
            osh_value_set_string(&rec, "detail", r->detail) ||
            osh_value_set_bytes(&rec, "raw", r->raw ? r->raw : "", r->raw_len) ||
            osh_value_set_string(&rec, "batch_id", b->batch_id) ||
            osh_value_set_long(&rec, "rejected_at", now_ms)) {
                snprintf(errstr, errstr_size, "avro: cannot set a reject field");
                goto fail;
        }
        rc = osh_serde_encode_alloc(b->rej_schema, &rec, val, len, errstr, errstr_size);
fail:
        avro_value_decref(&rec);
        return rc;
}
