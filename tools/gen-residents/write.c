/* Export writer (see write.h, docs/exports.md). */
#include "write.h"

#include <errno.h>
#include <iconv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/sha256.h"

typedef struct out {
        FILE *fp;
        char name[32];
        const char *type;
        uint64_t rows;
        char path[4096];
} out_t;

typedef struct wctx {
        const city_t *c;
        const write_opts_t *o;
        iconv_t cd;
        char *conv;
        size_t conv_cap;
        FILE *manifest;
        char *errstr;
        size_t errstr_size;
        int failed;
} wctx_t;

static int out_open(wctx_t *w, out_t *f, const char *name, const char *type, const char *header)
{
        memset(f, 0, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%s", name);
        snprintf(f->path, sizeof(f->path), "%s/%s", w->o->dir, name);
        f->type = type;
        f->fp = fopen(f->path, "wb");
        if (!f->fp) {
                snprintf(w->errstr, w->errstr_size, "%s: %s", f->path, strerror(errno));
                return -1;
        }
        setvbuf(f->fp, NULL, _IOFBF, 1 << 20);
        if (w->o->bom && !w->o->cp932)
                fputs("\xEF\xBB\xBF", f->fp);
        fputs(header, f->fp);
        fputs(w->o->crlf ? "\r\n" : "\n", f->fp);
        return 0;
}

/* Writes one data line given in UTF-8, converted to the output encoding. */
static void out_line(wctx_t *w, out_t *f, const char *line, size_t len)
{
        if (w->o->cp932) {
                char *ip = (char *)line, *op;
                size_t il = len, ol;
                if (w->conv_cap < len * 2 + 16) {
                        w->conv_cap = len * 2 + 16;
                        w->conv = realloc(w->conv, w->conv_cap);
                }
                op = w->conv;
                ol = w->conv_cap;
                iconv(w->cd, NULL, NULL, NULL, NULL);
                if (!w->conv || iconv(w->cd, &ip, &il, &op, &ol) == (size_t)-1) {
                        w->failed = 1;
                        return;
                }
                fwrite(w->conv, 1, (size_t)(op - w->conv), f->fp);
        } else {
                fwrite(line, 1, len, f->fp);
        }
        fputs(w->o->crlf ? "\r\n" : "\n", f->fp);
        f->rows++;
}

static int out_close(wctx_t *w, out_t *f)
{
        uint8_t d[OSH_SHA256_LEN];
        char hex[OSH_SHA256_HEX_LEN + 1];

        if (fclose(f->fp) || w->failed) {
                snprintf(w->errstr, w->errstr_size, "%s: write failed", f->path);
                return -1;
        }
        f->fp = NULL;
        if (osh_sha256_file(f->path, d, w->errstr, w->errstr_size))
                return -1;
        osh_hex_encode(d, sizeof(d), hex);
        fprintf(w->manifest, "file\t%s\t%s\t%" PRIu64 "\t%s\n", f->name, f->type, f->rows, hex);
        return 0;
}

static const char *fmt_date(const wctx_t *w, int32_t days, char buf[9])
{
        osh_date_t d;

        if (days == INT32_MAX) {
                buf[0] = '\0';
                return buf;
        }
        osh_date_from_days(days, &d);
        if (w->o->era && osh_date_format_era(&d, buf) == 0)
                return buf;
        osh_date_format_western(&d, buf);
        return buf;
}

/* U+E000 + k as UTF-8 (k < 0x758: the range CP932 maps to F040..F9FC). */
static void pua_utf8(unsigned k, char out[3])
{
        unsigned cp = 0xE000 + k % 0x758;

        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
}

static void address_text(const city_t *c, const household_t *h, int gaiji, unsigned k, char *buf,
                         size_t size)
{
        char town[64];
        int n;

        town_name(h->ward, h->town, town, sizeof(town));
        if (gaiji)
                pua_utf8(k, town); /* every town name starts with a 3-byte character */
        n = snprintf(buf, size, "千葉県千葉市%s%s%d丁目%d番%d号", WARD_NAME[h->ward], town,
                     h->chome, h->banchi, h->go);
        (void)n;
}

static void address_code(const household_t *h, char out[40])
{
        snprintf(out, 40, "%05u%03u%02u%04u%04u000000000000",
                 (unsigned)WARD_CODE[h->ward] % 100000u, (h->town + 1u) % 1000u, h->chome % 100u,
                 h->banchi % 10000u, h->go % 10000u);
}

static const char *const ZOKUGARA[] = {"09", "01", "02", "03", "04", "05", "06", "07"};

static int write_residents(wctx_t *w)
{
        const city_t *c = w->c;
        out_t f, s;
        char line[1024], an[11], sn[11], addr[256], code[40], bd[9], sur[64];

        if (out_open(
                w, &f, "JUMIN.csv", "resident",
                "atena_no,setai_no,shimei,shimei_kana,seibetsu,seinengappi,zokugara,jusho_code,"
                "jusho") ||
            out_open(w, &s, "SETAI.csv", "household",
                     "setai_no,setainushi_atena_no,setaiin_su,jusho_code"))
                return -1;
        for (size_t hi = 0; hi < c->nh; hi++) {
                const household_t *h = &c->h[hi];
                int n;
                setai_no(hi, sn);
                address_code(h, code);
                atena_no(h->first, an);
                n = snprintf(line, sizeof(line), "%s,%s,%u,%s", sn, an, h->n, code);
                out_line(w, &s, line, (size_t)n);
                for (uint32_t i = 0; i < h->n; i++) {
                        size_t pi = h->first + i;
                        const person_t *p = &c->p[pi];
                        snprintf(sur, sizeof(sur), "%s", surname(h->surname, 0));
                        if (p->gaiji_name)
                                pua_utf8((unsigned)pi, sur);
                        address_text(c, h, p->gaiji_addr, (unsigned)(pi * 31), addr, sizeof(addr));
                        atena_no(pi, an);
                        n = snprintf(line, sizeof(line), "%s,%s,%s　%s,%s %s,%u,%s,%s,%s,%s", an,
                                     sn, sur, given_name(p->given, p->sex, 0),
                                     surname(h->surname, 1), given_name(p->given, p->sex, 1),
                                     p->sex, fmt_date(w, p->birth, bd), ZOKUGARA[p->rel % 8], code,
                                     addr);
                        out_line(w, &f, line, (size_t)n);
                }
        }
        return out_close(w, &f) || out_close(w, &s) ? -1 : 0;
}

/* One row per person with the period: atena, <extra>, start, end. */
static int write_periods(wctx_t *w, const char *name, const char *type, const char *header,
                         size_t off, int extra)
{
        const city_t *c = w->c;
        out_t f;
        char line[256], an[11], d1[9], d2[9], ex[32];

        if (out_open(w, &f, name, type, header))
                return -1;
        for (size_t i = 0; i < c->np; i++) {
                const person_t *p = &c->p[i];
                const period_t *pr = (const period_t *)((const char *)p + off);
                int n;
                if (!pr->has)
                        continue;
                atena_no(i, an);
                switch (extra) {
                case 1: /* NHI symbol-number */
                        snprintf(ex, sizeof(ex), ",K-%08zu", i % 100000000);
                        break;
                case 2: /* late-elderly insured number */
                        snprintf(ex, sizeof(ex), ",%08zu", (i * 7) % 100000000);
                        break;
                case 3: /* children counted */
                        snprintf(ex, sizeof(ex), ",%u", p->kids);
                        break;
                case 4: /* 支給区分 */
                        snprintf(ex, sizeof(ex), ",%u", p->kubun);
                        break;
                default:
                        ex[0] = '\0';
                }
                n = snprintf(line, sizeof(line), "%s%s,%s,%s", an, ex, fmt_date(w, pr->start, d1),
                             fmt_date(w, pr->end, d2));
                out_line(w, &f, line, (size_t)n);
        }
        return out_close(w, &f);
}

static int write_tax(wctx_t *w)
{
        const city_t *c = w->c;
        out_t f;
        char line[64], an[11];

        if (out_open(w, &f, "ZEI.csv", "tax", "atena_no,nendo,kazei_kubun"))
                return -1;
        for (size_t i = 0; i < c->np; i++) {
                atena_no(i, an);
                for (int y = 0; y < 3; y++) {
                        if (c->p[i].tax[y]) {
                                int n = snprintf(line, sizeof(line), "%s,%d,%u", an, c->fy - y,
                                                 c->p[i].tax[y]);
                                out_line(w, &f, line, (size_t)n);
                        }
                }
        }
        return out_close(w, &f);
}

static int write_ext(wctx_t *w, int k)
{
        const city_t *c = w->c;
        out_t f;
        char name[32], type[16], line[64], an[11], d[9];

        snprintf(name, sizeof(name), "KAKUCHO_%02d.csv", k + 1);
        snprintf(type, sizeof(type), "ext_%02d", k + 1);
        if (out_open(w, &f, name, type, "atena_no,value,jisshi_bi"))
                return -1;
        for (size_t i = 0; i < c->np; i++) {
                int v = c->p[i].ext[k], n;
                if (!v)
                        continue;
                atena_no(i, an);
                n = snprintf(line, sizeof(line), "%s,%d,%s", an, v - 1,
                             v == 2 ? fmt_date(w, c->ref - 1 - (int32_t)(i % 200), d) : "");
                out_line(w, &f, line, (size_t)n);
        }
        return out_close(w, &f);
}

static void cats_text(unsigned cats, char *buf, size_t size)
{
        size_t o = 0;

        buf[0] = '\0';
        for (int b = 0; b < 4; b++)
                if (cats & (1u << b))
                        o += (size_t)snprintf(buf + o, size - o, "%s0%d", o ? ";" : "", b + 1);
}

static int write_applicants(wctx_t *w)
{
        const city_t *c = w->c;
        out_t f;
        char line[128], an[11], cats[16], ts[16];

        if (out_open(w, &f, "SHINSEI.csv", "applicant",
                     "atena_no,riyosha_id,doui,bunya,shinsei_nichiji"))
                return -1;
        for (size_t i = 0; i < c->np; i++) {
                const person_t *p = &c->p[i];
                time_t t = (time_t)p->applied;
                struct tm tm;
                int n;
                if (!p->applicant)
                        continue;
                atena_no(i, an);
                cats_text(p->cats, cats, sizeof(cats));
                gmtime_r(&t, &tm);
                strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &tm);
                n = snprintf(line, sizeof(line), "%s,%s,%d,%s,%s", an, p->user_id,
                             p->applicant == 2, cats, ts);
                out_line(w, &f, line, (size_t)n);
        }
        return out_close(w, &f);
}

/* ---- ground truth ---- */

static uint64_t atena_num(size_t i)
{
        char an[11];

        atena_no(i, an);
        return strtoull(an, NULL, 10);
}

static int cmp_u64pair(const void *a, const void *b)
{
        const uint64_t *x = a, *y = b;

        return x[0] < y[0] ? -1 : x[0] > y[0];
}

static int cmp_i32(const void *a, const void *b)
{
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

        return x < y ? -1 : x > y;
}

static void truth_row(const city_t *c, FILE *fp, size_t i)
{
        const person_t *p = &c->p[i];
        const household_t *h = &c->h[p->hh];
        char an[11];
        int spouse = 0, nk = 0, first = 1;
        int32_t kids[128];
        osh_date_t b;

        atena_no(i, an);
        osh_date_from_days(p->birth, &b);
        fprintf(fp, "%s\t%s\t%u\t%04d%02d%02d\t%d\t%03d%02d", an, p->user_id[0] ? p->user_id : "-",
                p->sex, b.year, b.month, b.day, WARD_CODE[h->ward], h->town + 1, h->chome);
        for (int y = 0; y < 3; y++)
                fprintf(fp, "\t%d", p->tax[y] == 1);
        fprintf(fp, "\t%d\t%d\t%d\t%d\t%d", period_active(&p->nhi, c->ref),
                period_active(&p->koki, c->ref), period_active(&p->ca, c->ref),
                period_active(&p->cr, c->ref) && p->kubun != 3, period_active(&p->pa, c->ref));
        for (int k = 0; k < 3; k++)
                fprintf(fp, "\t%d", p->ext[k] == 2);
        for (uint32_t m = 0; m < h->n; m++)
                spouse |= c->p[h->first + m].rel == REL_SPOUSE;
        fprintf(fp, "\t%d\t", spouse);
        for (uint32_t m = 0; m < h->n; m++) {
                const person_t *q = &c->p[h->first + m];
                if (h->first + m == i)
                        continue;
                fprintf(fp, "%s%d", first ? "" : ",", city_age(c, q));
                first = 0;
                if (q->rel == REL_CHILD && nk < 128)
                        kids[nk++] = q->birth;
        }
        fputs(first ? "-\t" : "\t", fp);
        qsort(kids, (size_t)nk, sizeof(kids[0]), cmp_i32);
        for (int k = 0; k < nk; k++) {
                osh_date_from_days(kids[k], &b);
                fprintf(fp, "%s%04d%02d", k ? "," : "", b.year, b.month);
        }
        fprintf(fp, "%s\t%u\t%d\n", nk ? "" : "-", p->cats, city_landslide_risk(h));
}

static int write_truth(wctx_t *w)
{
        const city_t *c = w->c;
        char path[4096];
        uint64_t(*ix)[2] = NULL, n = 0, cnt[16] = {0};
        FILE *fp = NULL;
        int rc = -1;

        snprintf(path, sizeof(path), "%s/truth.tsv", w->o->dir);
        fp = fopen(path, "w");
        ix = calloc(c->np + 1, sizeof(*ix));
        if (!fp || !ix)
                goto fail;
        fputs("#atena_no\tuser_id\tsex\tbirth\tmunicipality\ttown\ttax_current\ttax_previous\t"
              "tax_before_previous\tnhi\tlate_elderly\tchild_allowance\tchild_rearing_allowance\t"
              "public_assistance\text_01\text_02\text_03\tspouse\tmember_ages\tchildren_ym\t"
              "categories\tlandslide_risk\n",
              fp);
        for (size_t i = 0; i < c->np; i++) {
                const person_t *p = &c->p[i];
                if (p->applicant == 2) {
                        ix[n][0] = atena_num(i);
                        ix[n++][1] = i;
                }
                cnt[0] += p->applicant != 0;
                cnt[1] += p->applicant == 2 && p->user_id[0];
                cnt[2] += (uint64_t)p->gaiji_name + p->gaiji_addr;
                cnt[3] += (uint64_t)period_active(&p->nhi, c->ref);
                cnt[4] += (uint64_t)period_active(&p->koki, c->ref);
                cnt[5] += (uint64_t)period_active(&p->ca, c->ref);
                cnt[6] += (uint64_t)(period_active(&p->cr, c->ref) && p->kubun != 3);
                cnt[7] += (uint64_t)period_active(&p->pa, c->ref);
                cnt[8] += city_age(c, p) < 15;
                cnt[9] += city_age(c, p) >= 75;
        }
        for (size_t h = 0; h < c->nh; h++)
                cnt[10] += (uint64_t)city_landslide_risk(&c->h[h]);
        qsort(ix, (size_t)n, sizeof(*ix), cmp_u64pair);
        for (uint64_t k = 0; k < n; k++)
                truth_row(c, fp, (size_t)ix[k][1]);
        if (fclose(fp))
                goto fail;
        fp = NULL;
        snprintf(path, sizeof(path), "%s/truth_summary.tsv", w->o->dir);
        fp = fopen(path, "w");
        if (!fp)
                goto fail;
        fprintf(fp,
                "residents\t%zu\nhouseholds\t%zu\napplicant_rows\t%" PRIu64 "\nconsenting\t%" PRIu64
                "\nconsenting_with_user_id\t%" PRIu64 "\ngaiji_chars\t%" PRIu64
                "\nnhi_active\t%" PRIu64 "\nlate_elderly_active\t%" PRIu64
                "\nchild_allowance_receiving\t%" PRIu64 "\nchild_rearing_receiving\t%" PRIu64
                "\npublic_assistance_active\t%" PRIu64 "\nunder_15\t%" PRIu64
                "\naged_75_plus\t%" PRIu64 "\nfiscal_year\t%d\nlandslide_risk_households\t%" PRIu64
                "\n",
                c->np, c->nh, cnt[0], n, cnt[1], cnt[2], cnt[3], cnt[4], cnt[5], cnt[6], cnt[7],
                cnt[8], cnt[9], c->fy, cnt[10]);
        rc = fclose(fp) ? -1 : 0;
        fp = NULL;
fail:
        if (rc)
                snprintf(w->errstr, w->errstr_size, "%s: %s", path, strerror(errno));
        if (fp)
                fclose(fp);
        free(ix);
        return rc;
}

int city_write(const city_t *c, const write_opts_t *o, char *errstr, size_t errstr_size)
{
        wctx_t w = {c, o, (iconv_t)-1, NULL, 0, NULL, errstr, errstr_size, 0};
        char path[4096], ref[9];
        osh_date_t rd;
        int rc = -1;

        snprintf(path, sizeof(path), "%s/MANIFEST.tsv", o->dir);
        if (o->cp932 && (w.cd = iconv_open("CP932", "UTF-8")) == (iconv_t)-1) {
                snprintf(errstr, errstr_size, "iconv: no UTF-8 -> CP932");
                goto fail;
        }
        w.manifest = fopen(path, "w");
        if (!w.manifest) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                goto fail;
        }
        osh_date_from_days(c->ref, &rd);
        osh_date_format_western(&rd, ref);
        fprintf(w.manifest, "# oshirase export manifest v1\nreference_date\t%s\nencoding\t%s\n",
                ref, o->cp932 ? "cp932" : "utf8");
        if (write_residents(&w) || write_tax(&w) ||
            write_periods(&w, "KOKUHO.csv", "nhi", "atena_no,kigo_bango,shutoku_bi,soshitsu_bi",
                          offsetof(person_t, nhi), 1) ||
            write_periods(&w, "KOKI.csv", "late_elderly",
                          "atena_no,hihokensha_bango,shutoku_bi,soshitsu_bi",
                          offsetof(person_t, koki), 2) ||
            write_periods(&w, "JIDOTEATE.csv", "child_allowance",
                          "atena_no,taisho_jido_su,nintei_bi,shometsu_bi", offsetof(person_t, ca),
                          3) ||
            write_periods(&w, "JIDOFUYO.csv", "child_rearing",
                          "atena_no,shikyu_kubun,nintei_bi,shometsu_bi", offsetof(person_t, cr),
                          4) ||
            write_periods(&w, "SEIHO.csv", "public_assistance", "atena_no,kaishi_bi,haishi_bi",
                          offsetof(person_t, pa), 0) ||
            write_ext(&w, 0) || write_ext(&w, 1) || write_ext(&w, 2) || write_applicants(&w) ||
            write_truth(&w))
                goto fail;
        rc = 0;
fail:
        if (w.manifest && fclose(w.manifest) && !rc) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                rc = -1;
        }
        if (w.cd != (iconv_t)-1)
                iconv_close(w.cd);
        free(w.conv);
        return rc;
}
