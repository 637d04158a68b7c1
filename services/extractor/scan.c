/* Scanning a chunk of an export file into rows (see scan.h). */
#include "scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/csv.h"
#include "oshirase/grow.h"

#define MAX_COLS   9
#define MAX_RECORD 65536
#define ARENA_MIN  65536

struct ext_arena_block {
        ext_arena_block_t *next;
        size_t used, cap;
        char data[];
};

typedef struct line {
        size_t n;
        const char *f[MAX_COLS]; /* decoded; not NUL-terminated */
        size_t len[MAX_COLS];
} line_t;

/* ---- chunk results ---- */

void ext_chunk_clear(ext_chunk_t *c)
{
        while (c->arena) {
                ext_arena_block_t *next = c->arena->next;
                free(c->arena);
                c->arena = next;
        }
        free(c->rows);
        free(c->rej);
        c->rows = NULL;
        c->rej = NULL;
        c->nrows = c->rows_cap = c->nrej = c->rej_cap = 0;
}

/* A copy of s that lives as long as the chunk's rows; NULL on OOM. */
static const char *keep(ext_chunk_t *c, const char *s, size_t n)
{
        ext_arena_block_t *a = c->arena;
        char *p;

        if (s >= c->f->data && s + n <= c->f->data + c->f->len)
                return s; /* already in the mapped file */
        if (!a || a->used + n > a->cap) {
                size_t cap = n > ARENA_MIN ? n : ARENA_MIN;
                if (!(a = malloc(sizeof(*a) + cap)))
                        return NULL;
                a->next = c->arena;
                a->used = 0;
                a->cap = cap;
                c->arena = a;
        }
        p = a->data + a->used;
        memcpy(p, s, n);
        a->used += n;
        return p;
}

static ext_row_t *new_row(ext_chunk_t *c, const osh_csv_record_t *rec)
{
        ext_row_t *r;

        if (osh_grow(&c->rows, &c->rows_cap, c->nrows, sizeof(*c->rows),
                     c->rows_hint ? c->rows_hint : 4096))
                return NULL;
        r = &c->rows[c->nrows++];
        memset(r, 0, sizeof(*r));
        r->raw = rec->raw;
        r->raw_len = (uint32_t)rec->raw_len;
        r->line = (uint32_t)rec->line;
        return r;
}

static int reject_at(ext_chunk_t *c, ext_row_t *row, int pre, unsigned col, size_t field_len,
                     ext_reason_t reason, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

/* Marks row rejected, naming the offending column (1-based; 0 = the line)
 * and its length, never its content. Returns 0, or -1 on OOM. */
static int reject_at(ext_chunk_t *c, ext_row_t *row, int pre, unsigned col, size_t field_len,
                     ext_reason_t reason, const char *fmt, ...)
{
        ext_reject_t *r;
        va_list ap;

        if (osh_grow(&c->rej, &c->rej_cap, c->nrej, sizeof(*c->rej), 16))
                return -1;
        r = &c->rej[c->nrej++];
        memset(r, 0, sizeof(*r));
        r->line = row->line;
        r->reason = reason;
        r->raw = row->raw;
        r->raw_len = row->raw_len;
        r->column = (uint16_t)col;
        r->field_len = (uint32_t)(field_len > UINT32_MAX ? UINT32_MAX : field_len);
        va_start(ap, fmt);
        vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
        va_end(ap);
        row->rej = (uint32_t)c->nrej;
        row->pre = (uint8_t)pre;
        return 0;
}

/* A field check failed: column col (1-based) of line l. */
#define REJECT(c, r, pre, l, col, reason, ...)                                                     \
        reject_at(c, r, pre, col, (l)->len[(col)-1], reason, __VA_ARGS__)

/* ---- field parsers ---- */

/* Nonzero unless each of the 8 bytes of w is '0'..'9': a byte b is a
 * digit when both b and b + 6 have 3 as their high nibble. A carry out of
 * a byte above 0xF9 only disturbs a neighbour of a byte that already
 * failed. */
static uint64_t not_digits8(uint64_t w)
{
        const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL, threes = 0x3030303030303030ULL;

        return ((w & hi) ^ threes) | (((w + 0x0606060606060606ULL) & hi) ^ threes);
}

static int all_digits(const char *s, size_t len)
{
        size_t i = 0;

        if (!len)
                return 0;
        for (uint64_t w; len - i >= 8; i += 8)
                if (memcpy(&w, s + i, 8), not_digits8(w))
                        return 0;
        for (; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return 0;
        return 1;
}

static int alnum(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* 被保険者番号 and the like: letters, digits and '-'. */
static int id_chars(const char *s, size_t len)
{
        for (size_t i = 0; i < len; i++)
                if (!alnum(s[i]) && s[i] != '-')
                        return 0;
        return 1;
}

/* 宛名番号 / 世帯番号: exactly 10 digits, not all zero. 0 = invalid. The
 * first eight digits are combined in pairs, fours and eights inside one
 * word (the first digit is the lowest byte: x86 and ARM are little-endian). */
static uint64_t parse_no(const char *s, size_t len)
{
        uint64_t w, v;

        if (len != 10)
                return 0;
        memcpy(&w, s, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (not_digits8(w) || s[8] < '0' || s[8] > '9' || s[9] < '0' || s[9] > '9')
                return 0;
        v = w - 0x3030303030303030ULL;
        v = (v * 10 + (v >> 8)) & 0x00FF00FF00FF00FFULL;
        v = (v * 100 + (v >> 16)) & 0x0000FFFF0000FFFFULL;
        v = (v * 10000 + (v >> 32)) & 0xFFFFFFFFULL;
        return v * 100 + (uint64_t)(s[8] - '0') * 10 + (uint64_t)(s[9] - '0');
#else
        (void)w;
        if (!all_digits(s, len))
                return 0;
        v = 0;
        for (size_t i = 0; i < len; i++)
                v = v * 10 + (uint64_t)(s[i] - '0');
        return v;
#endif
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

static int period_active(int32_t start, int has_end, int32_t end, int32_t ref)
{
        return start <= ref && (!has_end || ref < end);
}

/* ---- the line checks of each file type ---- */

static int categories(const line_t *l, uint8_t *cats)
{
        for (size_t i = 0; i < l->len[3];) {
                const char *p = l->f[3] + i, *semi = memchr(p, ';', l->len[3] - i);
                size_t n = semi ? (size_t)(semi - p) : l->len[3] - i;
                int c = parse_small(p, n, 1, 4);
                if (n != 2 || c < 0)
                        return -1;
                *cats |= (uint8_t)(1u << (c - 1));
                i += n + (semi != NULL);
        }
        return 0;
}

/* shinsei_nichiji YYYYMMDDhhmmss (JST) as epoch milliseconds; -1 if bad. */
static int applied_at(const char *s, size_t len, int64_t *ms)
{
        osh_date_t d;
        int hh, mm, ss;

        if (len != 14 || !all_digits(s, 14) || osh_jdate_parse(s, 8, OSH_JDATE_WESTERN, &d) ||
            (hh = parse_small(s + 8, 2, 0, 23)) < 0 || (mm = parse_small(s + 10, 2, 0, 59)) < 0 ||
            (ss = parse_small(s + 12, 2, 0, 59)) < 0)
                return -1;
        *ms = ((int64_t)osh_date_to_days(d.year, d.month, d.day) * 86400 + hh * 3600 + mm * 60 +
               ss - 9 * 3600) *
              1000;
        return 0;
}

static int s_applicant(ext_chunk_t *c, const line_t *l, ext_row_t *r)
{
        int doui = parse_small(l->f[2], l->len[2], 0, 1);

        if (!(r->u.app.atena = parse_no(l->f[0], l->len[0])))
                return REJECT(c, r, 1, l, 1, EXT_R_CODE, "atena_no: not 10 digits");
        if (l->len[1] && (l->len[1] < 4 || l->len[1] > 32))
                return REJECT(c, r, 1, l, 2, EXT_R_CODE, "riyosha_id: length");
        for (size_t i = 0; i < l->len[1]; i++)
                if (!alnum(l->f[1][i]))
                        return REJECT(c, r, 1, l, 2, EXT_R_CODE, "riyosha_id: not alphanumeric");
        if (doui < 0)
                return REJECT(c, r, 1, l, 3, EXT_R_CODE, "doui: not 0/1");
        if (categories(l, &r->u.app.cats))
                return REJECT(c, r, 1, l, 4, EXT_R_CODE, "bunya: unknown category");
        if (applied_at(l->f[4], l->len[4], &r->u.app.applied_ms))
                return REJECT(c, r, 1, l, 5, EXT_R_DATE, "shinsei_nichiji: not YYYYMMDDhhmmss");
        r->u.app.uid = l->f[1]; /* ASCII, so never converted: in the mapped file */
        r->u.app.uid_len = (uint8_t)l->len[1];
        r->u.app.doui = (uint8_t)doui;
        return 0;
}

static int s_resident(ext_chunk_t *c, const line_t *l, ext_row_t *r)
{
        static const int str_col[4] = {2, 3, 7, 8};
        int sex = parse_small(l->f[4], l->len[4], 1, 3),
            rel = parse_small(l->f[6], l->len[6], 1, 9);

        r->u.res.atena = parse_no(l->f[0], l->len[0]);
        r->u.res.setai = parse_no(l->f[1], l->len[1]);
        if (!r->u.res.atena)
                return REJECT(c, r, 1, l, 1, EXT_R_CODE, "atena_no: not 10 digits");
        if (!r->u.res.setai)
                return REJECT(c, r, 1, l, 2, EXT_R_CODE, "setai_no: not 10 digits");
        if (!l->len[2])
                return REJECT(c, r, 1, l, 3, EXT_R_MISSING, "shimei: empty");
        if (sex < 0)
                return REJECT(c, r, 1, l, 5, EXT_R_CODE, "seibetsu: unknown code");
        if (parse_date(l->f[5], l->len[5], &r->u.res.birth) != 1)
                return REJECT(c, r, 1, l, 6, EXT_R_DATE, "seinengappi: bad or missing date");
        if (r->u.res.birth > c->f->ref_days)
                return REJECT(c, r, 1, l, 6, EXT_R_DATE, "seinengappi: after the reference date");
        if (rel < 0 || l->len[6] != 2)
                return REJECT(c, r, 1, l, 7, EXT_R_CODE, "zokugara: unknown code");
        if (l->len[7] != 30 || !all_digits(l->f[7], 30))
                return REJECT(c, r, 1, l, 8, EXT_R_CODE, "jusho_code: not 30 digits");
        r->u.res.sex = (uint8_t)sex;
        r->u.res.rel = (uint8_t)rel;
        memcpy(r->u.res.rel_code, l->f[6], 2);
        for (int i = 0; i < 4; i++) {
                size_t n = l->len[str_col[i]];
                if (n > UINT16_MAX || !(r->u.res.s[i] = keep(c, l->f[str_col[i]], n)))
                        return -1;
                r->u.res.n[i] = (uint16_t)n;
        }
        return 0;
}

static int s_household(ext_chunk_t *c, const line_t *l, ext_row_t *r)
{
        r->u.hh.setai = parse_no(l->f[0], l->len[0]);
        r->u.hh.head = parse_no(l->f[1], l->len[1]);
        if (!r->u.hh.setai)
                return REJECT(c, r, 1, l, 1, EXT_R_CODE, "setai_no: not 10 digits");
        if (!r->u.hh.head)
                return REJECT(c, r, 1, l, 2, EXT_R_CODE, "setainushi_atena_no: not 10 digits");
        if (parse_small(l->f[2], l->len[2], 1, 99) < 0)
                return REJECT(c, r, 1, l, 3, EXT_R_CODE, "setaiin_su: not 1-99");
        if (l->len[3] != 30 || !all_digits(l->f[3], 30))
                return REJECT(c, r, 1, l, 4, EXT_R_CODE, "jusho_code: not 30 digits");
        return 0;
}

/* Tax: nendo, kazei_kubun. */
static int s_tax(ext_chunk_t *c, const line_t *l, ext_row_t *r)
{
        int fy = c->f->fy, v = parse_small(l->f[1], l->len[1], fy - 2, fy);

        if (v < 0 || l->len[1] != 4)
                return REJECT(c, r, 0, l, 2, EXT_R_CODE,
                              "nendo: not one of the three fiscal years");
        if (parse_small(l->f[2], l->len[2], 1, 2) < 0)
                return REJECT(c, r, 0, l, 3, EXT_R_CODE, "kazei_kubun: not 1/2");
        r->u.st.bit = (uint8_t)(1u << (fy - v));
        r->u.st.val = l->f[2][0];
        return 0;
}

/* Programmes: id or code, start, end; 公的扶助: start, end; extensions:
 * value, date. */
static int s_period(ext_chunk_t *c, const line_t *l, ext_row_t *r)
{
        ext_type_t t = c->f->type;
        int32_t start = 0, end = 0;
        int v = 0, de = 0;

        if (t == EXT_EXTENSION) {
                if (parse_small(l->f[1], l->len[1], 0, 1) < 0 || l->len[1] != 1)
                        return REJECT(c, r, 0, l, 2, EXT_R_CODE, "value: not 0/1");
                if (parse_date(l->f[2], l->len[2], &start) < 0)
                        return REJECT(c, r, 0, l, 3, EXT_R_DATE, "jisshi_bi: bad date");
                r->u.st.val = l->f[1][0];
                return 0;
        }
        if (t == EXT_PUBLIC_ASSISTANCE) {
                if (parse_date(l->f[1], l->len[1], &start) != 1)
                        return REJECT(c, r, 0, l, 2, EXT_R_DATE, "kaishi_bi: bad date");
                if ((de = parse_date(l->f[2], l->len[2], &end)) < 0)
                        return REJECT(c, r, 0, l, 3, EXT_R_DATE, "haishi_bi: bad date");
        } else {
                if (t == EXT_NHI || t == EXT_LATE_ELDERLY) {
                        if (!l->len[1] || l->len[1] > 16 || !id_chars(l->f[1], l->len[1]))
                                return REJECT(c, r, 0, l, 2, EXT_R_CODE, "number: malformed");
                } else if ((v = parse_small(l->f[1], l->len[1], 1,
                                            t == EXT_CHILD_REARING ? 3 : 20)) < 0) {
                        return REJECT(c, r, 0, l, 2, EXT_R_CODE, "count/kubun: unknown code");
                }
                if (parse_date(l->f[2], l->len[2], &start) != 1)
                        return REJECT(c, r, 0, l, 3, EXT_R_DATE, "start: bad date");
                if ((de = parse_date(l->f[3], l->len[3], &end)) < 0)
                        return REJECT(c, r, 0, l, 4, EXT_R_DATE, "end: bad date");
        }
        /* 支給区分 3: 全部停止, which is no allowance */
        r->u.st.active = (uint8_t)(period_active(start, de, end, c->f->ref_days) &&
                                   !(t == EXT_CHILD_REARING && v == 3));
        return 0;
}

static int s_status(ext_chunk_t *c, const line_t *l, ext_row_t *r)
{
        r->u.st.bit = 1;
        if (!(r->u.st.atena = parse_no(l->f[0], l->len[0])))
                return REJECT(c, r, 1, l, 1, EXT_R_CODE, "atena_no: not 10 digits");
        return c->f->type == EXT_TAX ? s_tax(c, l, r) : s_period(c, l, r);
}

static int by_type(ext_chunk_t *c, const line_t *l, ext_row_t *r)
{
        switch (c->f->type) {
        case EXT_APPLICANT:
                return s_applicant(c, l, r);
        case EXT_RESIDENT:
                return s_resident(c, l, r);
        case EXT_HOUSEHOLD:
                return s_household(c, l, r);
        default:
                return s_status(c, l, r);
        }
}

/* ---- lines ---- */

/* 1 when s holds ASCII without NUL only: text every decoder takes as it
 * is (osh_textdec_view), whatever the encoding. Eight bytes a step. */
static int ascii_clean(const char *s, size_t len)
{
        const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
        size_t i = 0;

        for (uint64_t w; len - i >= 8; i += 8)
                if (memcpy(&w, s + i, 8), (w & highs) || ((w - ones) & ~w & highs))
                        return 0;
        for (; i < len; i++)
                if (!s[i] || (unsigned char)s[i] >= 0x80)
                        return 0;
        return 1;
}

/* Decodes the record's fields. Clean text (nearly all of it) is used where
 * it lies; only converted fields are copied into out. 0, or the 1-based
 * column that holds an encoding error. */
static size_t decode_line(ext_chunk_t *c, osh_textdec_t *dec, const osh_csv_record_t *rec,
                          line_t *l, char *out, size_t out_size)
{
        size_t o = 0;

        l->n = rec->nfields;
        if (ascii_clean(rec->raw, rec->raw_len)) { /* every field is usable as it is */
                for (size_t i = 0; i < rec->nfields && i < MAX_COLS; i++) {
                        l->f[i] = rec->fields[i].ptr;
                        l->len[i] = rec->fields[i].len;
                }
                return 0;
        }
        for (size_t i = 0; i < rec->nfields && i < MAX_COLS; i++) {
                const char *s;
                size_t n;
                if (osh_textdec_view(dec, rec->fields[i].ptr, rec->fields[i].len, &s, &n,
                                     &c->gaiji))
                        return i + 1;
                l->f[i] = s;
                l->len[i] = n;
                if (s == rec->fields[i].ptr)
                        continue;
                if (o + n > out_size)
                        return i + 1;
                memcpy(out + o, s, n);
                l->f[i] = out + o;
                o += n;
        }
        return 0;
}

static int header_ok(const ext_scan_file_t *f, const line_t *l)
{
        char buf[256];
        size_t o = 0;

        for (size_t i = 0; i < l->n && o < sizeof(buf); i++)
                o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%.*s", i ? "," : "",
                                      (int)l->len[i], l->f[i]);
        return o < sizeof(buf) && !strcmp(buf, f->header);
}

/* Bytes of field col (0-based) of a raw record, quotes included: a
 * malformed record's fields are not kept by the reader. */
static size_t raw_field_len(const char *raw, size_t len, size_t col)
{
        size_t k = 0, start = 0;
        int quoted = 0;

        for (size_t i = 0; i < len; i++) {
                if (raw[i] == '"') {
                        quoted = !quoted;
                } else if (raw[i] == ',' && !quoted) {
                        if (k++ == col)
                                return i - start;
                        start = i + 1;
                }
        }
        return k == col ? len - start : 0;
}

/* A record the CSV reader refused: the field it stopped at, or the line. */
static int csv_reject(ext_chunk_t *c, ext_row_t *r, const osh_csv_record_t *rec)
{
        int too_long =
            rec->error == OSH_CSV_FIELD_TOO_LONG || rec->error == OSH_CSV_RECORD_TOO_LONG;
        int whole = rec->error == OSH_CSV_RECORD_TOO_LONG || rec->error == OSH_CSV_TOO_MANY_FIELDS;
        size_t col = whole ? 0 : rec->nfields + 1;

        return reject_at(c, r, 1, (unsigned)col,
                         col ? raw_field_len(rec->raw, rec->raw_len, col - 1) : rec->raw_len,
                         too_long ? EXT_R_TOO_LONG : EXT_R_PARSE, "%s",
                         osh_csv_error_name(rec->error));
}

/* One data line into a row: 0, or -1 on OOM. */
static int data_line(ext_chunk_t *c, osh_textdec_t *dec, const osh_csv_record_t *rec, char *out)
{
        ext_row_t *r = new_row(c, rec);
        line_t l;
        size_t bad;

        if (!r)
                return -1;
        c->read++;
        if (rec->error)
                return csv_reject(c, r, rec);
        if (rec->nfields != c->f->ncols)
                return reject_at(c, r, 1, 0, rec->raw_len, EXT_R_PARSE,
                                 "wrong column count: %zu, expected %zu", rec->nfields,
                                 c->f->ncols);
        if ((bad = decode_line(c, dec, rec, &l, out, MAX_RECORD * 3)))
                return reject_at(c, r, 1, (unsigned)bad, rec->fields[bad - 1].len, EXT_R_ENCODING,
                                 "invalid %s byte sequence", osh_textenc_name(c->f->enc));
        return by_type(c, &l, r);
}

/* 0 go on, 1 fatal (c->fatal set), -1 OOM. */
static int one_record(ext_chunk_t *c, osh_textdec_t *dec, const osh_csv_record_t *rec, char *out)
{
        line_t l;

        c->any = 1;
        c->last_terminated = rec->terminated;
        if (rec->raw_len == 0 && rec->nfields == 1 && !rec->error)
                return 0; /* blank line */
        if (rec->error == OSH_CSV_UNTERMINATED) {
                c->fatal = EXT_SCAN_TRUNCATED;
                c->fatal_line = rec->line;
                return 1;
        }
        if (c->first && !c->header_seen) {
                c->header_seen = 1;
                if (rec->error || decode_line(c, dec, rec, &l, out, MAX_RECORD * 3) ||
                    !header_ok(c->f, &l)) {
                        c->fatal = EXT_SCAN_BAD_HEADER;
                        return 1;
                }
                return 0;
        }
        return data_line(c, dec, rec, out);
}

int ext_scan(ext_chunk_t *c)
{
        const ext_scan_file_t *f = c->f;
        osh_csv_opts_t co = {.max_field = f->max_field, .max_fields = 64, .max_record = MAX_RECORD};
        osh_textdec_t *dec = osh_textdec_new(f->enc, f->gaiji_repl);
        osh_csv_reader_t *r = osh_csv_reader_new(f->data + c->start, f->len - c->start, &co);
        char *out = malloc(MAX_RECORD * 3 + 64);
        size_t span = c->end - c->start;
        osh_csv_record_t rec;
        int rc = 0;

        if (!dec || !r || !out) {
                c->fatal = EXT_SCAN_OOM;
                rc = -1;
                goto done;
        }
        while (osh_csv_offset(r) < span && (rc = osh_csv_next(r, &rec)) == 1 &&
               !(rc = one_record(c, dec, &rec, out)))
                ;
        if (rc < 0)
                c->fatal = EXT_SCAN_OOM;
        c->stop = c->start + osh_csv_offset(r);
        c->lines = osh_csv_line(r) - 1;
        rc = c->fatal ? -1 : 0;
done:
        osh_csv_reader_destroy(r);
        osh_textdec_destroy(dec);
        free(out);
        return rc;
}
