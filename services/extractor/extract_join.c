/* The join of a batch's files per 宛名番号 (see extract_int.h). */
#include "extract_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/grow.h"

#define PREFETCH 16 /* rows ahead: enough to cover a memory access */

/* Rows of the file of type t: the manifest's count, else a guess from its
 * size; it only sizes tables that would otherwise grow (and rehash). */
static size_t expected_rows(const ext_batch_t *b, ext_type_t t)
{
        for (size_t i = 0; i < b->nfiles; i++) {
                const ext_xfile_t *f = &b->files[i];
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
        ext_applicant_t *a;

        if (osh_grow(&b->apps, &b->acap, b->napps, sizeof(*b->apps), 1024))
                return -1;
        /* withdrawn consent: remembered for duplicate detection only */
        switch (ext_keyidx_put(&b->apps_by_atena, r->u.app.atena,
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

static int link_applicant(ext_batch_t *b, const jrow_t *j, ext_person_t *p, uint32_t ai)
{
        const ext_row_t *r = j->r;
        ext_applicant_t *a = &b->apps[ai];
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
        ext_person_t *p;

        switch (ext_keyidx_put(&b->by_atena, r->u.res.atena, (uint32_t)b->np)) {
        case -1:
                return -1;
        case 0:
                return REJECT(b, j, EXT_R_DUPLICATE, "atena_no registered twice");
        }
        if (osh_grow(&b->persons, &b->pcap, b->np, sizeof(*b->persons), 4096))
                return -1;
        p = &b->persons[b->np++];
        *p =
            (ext_person_t){r->u.res.atena, r->u.res.setai, r->u.res.birth, r->u.res.rel, -1, -1, 0};
        ap = ext_keyidx_get(&b->apps_by_atena, r->u.res.atena, &b->cur_app);
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

        if (!k || !v || ext_keyidx_init(&b->by_setai, b->np / 2 + 16, 0) ||
            !(b->hfirst = malloc((b->np + 1) * sizeof(*b->hfirst))))
                goto done;
        for (size_t i = 0; i < b->np; i++) {
                k[i] = b->persons[i].setai;
                v[i] = (uint32_t)i;
        }
        if (ext_keyidx_sort_pairs(k, v, b->np))
                goto done;
        for (size_t i = 0; i < b->np; i++) {
                ext_person_t *p = &b->persons[v[i]];
                if (i && k[i] == k[i - 1]) { /* the same household, a later member */
                        b->persons[v[i - 1]].next = (int32_t)v[i];
                        p->hh = b->persons[v[i - 1]].hh;
                        continue;
                }
                if (ext_keyidx_put(&b->by_setai, k[i], (uint32_t)b->nh) < 0)
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
                ext_applicant_t *a = &b->apps[i];
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
        uint32_t *h = ext_keyidx_get(&b->by_setai, setai, &b->cur_setai),
                 *hp = ext_keyidx_get(&b->by_atena, j->r->u.hh.head, &b->cur_atena);
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

static void apply_status(ext_batch_t *b, const ext_xfile_t *f, ext_applicant_t *a,
                         const ext_row_t *r)
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
        uint32_t *v = ext_keyidx_get(&b->by_atena, r->u.st.atena, &b->cur_atena);
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
static void accept_chunk(ext_chunk_t *c, const ext_xfile_t *f)
{
        if (c->start == f->next && c->first == !f->header_seen)
                return;
        ext_chunk_clear(c);
        *c = (ext_chunk_t){.f = c->f,
                           .file = c->file,
                           .start = f->next,
                           .end = c->end > f->next ? c->end : f->next,
                           .first = !f->header_seen,
                           .rows_hint = c->rows_hint};
        ext_scan(c);
}

static int chunk_fatal(const ext_chunk_t *c, const ext_xfile_t *f, char *errstr, size_t errstr_size)
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
        if (t == EXT_RESIDENT) {
                ext_keyidx_prefetch(&b->by_atena, r->u.res.atena);
                /* an applicant's name and address are copied from the line,
                 * which the scan read megabytes ago */
                for (uint32_t o = 0; o < r->raw_len; o += 64)
                        __builtin_prefetch(r->raw + o);
        } else if (t == EXT_APPLICANT)
                ext_keyidx_prefetch(&b->apps_by_atena, r->u.app.atena);
}

static int join_chunk(ext_batch_t *b, ext_chunk_t *c, char *errstr, size_t errstr_size)
{
        ext_xfile_t *f = &b->files[c->file];

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
        /* joined: the join copied what it keeps */
        if (f->buf)
                ext_release(f, (size_t)(f->scan.data - f->buf) + c->stop);
        f->line_base += c->lines;
        f->header_seen |= c->header_seen;
        if (c->any) {
                f->any = 1;
                f->last_terminated = c->last_terminated;
        }
        return 0;
}

static int finish_file(const ext_xfile_t *f, char *errstr, size_t errstr_size)
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
                return ext_keyidx_seal(&b->apps_by_atena);
        return t == EXT_RESIDENT ? ext_keyidx_seal(&b->by_atena) : 0;
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

/* Encoding needs the persons and households, not the indexes that found
 * them: gone before the records are (memory while emitting). */
static void drop_indexes(ext_batch_t *b)
{
        ext_keyidx_free(&b->by_atena);
        ext_keyidx_free(&b->by_setai);
        ext_keyidx_free(&b->apps_by_atena);
        free(b->seen);
        b->seen = NULL;
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
        rc = ext_keyidx_sort_pairs(k, b->order, b->norder);
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
        if (ext_keyidx_init(&b->by_atena, residents, residents) ||
            ext_keyidx_init(&b->apps_by_atena, apps, apps) ||
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
        drop_indexes(b);
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
