#include "dest.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "oshirase/grow.h"
#include "oshirase/clock.h"
#include "oshirase/account.h"
#include "oshirase/csv.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define MAX_CATEGORIES 32
#define MAX_ERRORS     1000
#define FIELD_MAX      2048

struct ci_dest {
        ci_ingest_t *ingest;
        char *cats[MAX_CATEGORIES];
        size_t ncats;
};

ci_dest_t *ci_dest_new(ci_ingest_t *ingest, const char *categories, char *errstr,
                       size_t errstr_size)
{
        ci_dest_t *d = calloc(1, sizeof(*d));
        char *copy = strdup(categories ? categories : CI_DEST_DEFAULT_CATEGORIES), *save, *tok;

        if (!d || !copy) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        d->ingest = ingest;
        for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
                if (d->ncats == MAX_CATEGORIES || !(d->cats[d->ncats] = strdup(tok))) {
                        snprintf(errstr, errstr_size, "at most %d categories", MAX_CATEGORIES);
                        goto fail;
                }
                d->ncats++;
        }
        if (!d->ncats) {
                snprintf(errstr, errstr_size, "destinations.categories is empty");
                goto fail;
        }
        free(copy);
        return d;
fail:
        free(copy);
        ci_dest_destroy(d);
        return NULL;
}

void ci_dest_destroy(ci_dest_t *d)
{
        if (!d)
                return;
        for (size_t i = 0; i < d->ncats; i++)
                free(d->cats[i]);
        free(d);
}

/* ---- row validation ------------------------------------------------------ */

static int all(const char *s, size_t n, int (*pred)(int))
{
        for (size_t i = 0; i < n; i++)
                if (!pred((unsigned char)s[i]))
                        return 0;
        return 1;
}

static int is_sep(char c)
{
        return c == ';' || c == '|' || c == ',' || c == ' ';
}

/* Calls fn for each category token; stops at the first non-zero. */
static int each_category(const char *s, size_t n, int (*fn)(void *, const char *, size_t),
                         void *opaque)
{
        size_t i = 0;

        while (i < n) {
                while (i < n && is_sep(s[i]))
                        i++;
                size_t start = i;
                while (i < n && !is_sep(s[i]))
                        i++;
                if (i > start) {
                        int rc = fn(opaque, s + start, i - start);
                        if (rc)
                                return rc;
                }
        }
        return 0;
}

struct cat_check {
        const ci_dest_t *d;
        size_t count;
};

static int check_cat(void *opaque, const char *s, size_t n)
{
        struct cat_check *cc = opaque;

        for (size_t i = 0; i < cc->d->ncats; i++)
                if (strlen(cc->d->cats[i]) == n && !memcmp(cc->d->cats[i], s, n)) {
                        cc->count++;
                        return 0;
                }
        return 1;
}

/* 1 active, 0 withdrawn, -1 unparsable; absent/empty = active. */
static int parse_active(const char *s, size_t n)
{
        static const char *const yes[] = {"1", "true", "yes", "active"};
        static const char *const no[] = {"0", "false", "no", "withdrawn"};

        if (!n)
                return 1;
        for (size_t i = 0; i < 4; i++) {
                if (strlen(yes[i]) == n && !strncasecmp(yes[i], s, n))
                        return 1;
                if (strlen(no[i]) == n && !strncasecmp(no[i], s, n))
                        return 0;
        }
        return -1;
}

const char *ci_dest_check_row(const ci_dest_t *d, const char *const *f, const size_t *len, size_t n)
{
        struct cat_check cc = {d, 0};
        const osh_account_channel_t *ch;
        const char *why;

        if (n < 4 || n > 5)
                return "expected 4 or 5 fields: 利用者ID,channel,account id,categories[,active]";
        if (len[0] < 1 || len[0] > 64 || !all(f[0], len[0], isalnum))
                return "利用者ID must be 1-64 letters or digits";
        if (!(ch = osh_account_channel_by_name(f[1], len[1])))
                return "channel must be one of line, email, webhook, x, facebook, sms";
        if ((why = ch->check(f[2], len[2])))
                return why;
        if (each_category(f[3], len[3], check_cat, &cc))
                return "unknown category";
        if (!cc.count)
                return "no category";
        if (n == 5 && parse_active(f[4], len[4]) < 0)
                return "active must be 1/0, true/false, yes/no or active/withdrawn";
        return NULL;
}

/* ---- upload ------------------------------------------------------------- */

struct row_out {
        char key[65];
        void *val;
        size_t len;
};

/* Rows are validated, encoded and published a chunk at a time, so a
 * city-sized upload (a million rows) holds one chunk of encoded rows, not
 * the whole list, beside the request body. */
#define PUBLISH_CHUNK 8192

struct upload {
        ci_dest_t *d;
        struct row_out *rows; /* the current chunk */
        size_t n, cap;
        json_t *errors;
        size_t accepted, rejected, shaped;
        int failed; /* publishing a chunk failed: stop, answer 503 */
        int64_t now_ms;
        char source[48];
};

static int add_cat_value(void *opaque, const char *s, size_t n)
{
        avro_value_t *arr = opaque, item;
        char buf[128];

        if (n >= sizeof(buf) || avro_value_append(arr, &item, NULL))
                return 1;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return avro_value_set_string(&item, buf) ? 1 : 0;
}

static int encode_row(struct upload *u, const char *const *f, const size_t *len, size_t n)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_DESTINATIONS);
        char uid[65], acct[FIELD_MAX + 1], err[128];
        struct row_out *r;
        avro_value_t v, arr;
        int rc = -1;

        if (!s || len[2] > FIELD_MAX || osh_value_new(s, &v))
                return -1;
        memcpy(uid, f[0], len[0]);
        uid[len[0]] = '\0';
        memcpy(acct, f[2], len[2]);
        acct[len[2]] = '\0';
        if (osh_value_set_string(&v, "user_id", uid) ||
            osh_value_set_enum(&v, "channel", osh_account_channel_by_name(f[1], len[1])->symbol) ||
            osh_value_set_string(&v, "account_id", acct) ||
            osh_value_field(&v, "categories", &arr) ||
            each_category(f[3], len[3], add_cat_value, &arr) ||
            osh_value_set_enum(&v, "status",
                               n == 5 && !parse_active(f[4], len[4]) ? "WITHDRAWN" : "ACTIVE") ||
            osh_value_set_long(&v, "updated_at", u->now_ms) ||
            osh_value_set_string(&v, "source", u->source))
                goto out;
        if (osh_grow(&u->rows, &u->cap, u->n, sizeof(*u->rows), 64))
                goto out;
        r = &u->rows[u->n];
        snprintf(r->key, sizeof(r->key), "%s", uid);
        if (osh_serde_encode_alloc(s, &v, &r->val, &r->len, err, sizeof(err)))
                goto out;
        u->n++;
        rc = 0;
out:
        avro_value_decref(&v);
        return rc;
}

static void row_error(struct upload *u, size_t line, const char *reason)
{
        u->rejected++;
        if (json_array_size(u->errors) < MAX_ERRORS)
                json_array_append_new(
                    u->errors, json_pack("{s:I,s:s}", "line", (json_int_t)line, "reason", reason));
}

/* Publishes and frees the current chunk. 0 / -1. */
static int flush_rows(struct upload *u)
{
        osh_kafka_msg_t *msgs = calloc(u->n + 1, sizeof(*msgs));
        int rc;

        if (!msgs)
                return -1;
        for (size_t i = 0; i < u->n; i++)
                msgs[i] = (osh_kafka_msg_t){.topic = OSH_TOPIC_DESTINATIONS,
                                            .partition = RD_KAFKA_PARTITION_UA,
                                            .key = u->rows[i].key,
                                            .key_len = strlen(u->rows[i].key),
                                            .value = u->rows[i].val,
                                            .value_len = u->rows[i].len,
                                            .timestamp_ms = u->now_ms};
        rc = u->d->ingest && u->n ? ci_ingest_publish(u->d->ingest, msgs, u->n) : 0;
        free(msgs);
        for (size_t i = 0; i < u->n; i++)
                free(u->rows[i].val);
        u->n = 0;
        return rc;
}

static int is_header(const osh_csv_record_t *rec)
{
        const osh_csv_field_t *f = &rec->fields[0];
        static const char id[] = "利用者ID";

        return (f->len == strlen(id) && !memcmp(f->ptr, id, f->len)) ||
               (f->len == 7 && !strncasecmp(f->ptr, "user_id", 7));
}

static void one_record(struct upload *u, osh_csv_record_t *rec, int first)
{
        const char *f[5];
        size_t len[5];
        const char *why;

        if (rec->error) {
                row_error(u, rec->line, osh_csv_error_name(rec->error));
                return;
        }
        if (rec->nfields == 1 && rec->fields[0].len == 0)
                return; /* blank line */
        if (first && is_header(rec))
                return;
        for (size_t i = 0; i < rec->nfields && i < 5; i++) {
                f[i] = rec->fields[i].ptr;
                len[i] = rec->fields[i].len;
        }
        why = ci_dest_check_row(u->d, f, len, rec->nfields);
        if (rec->nfields == 4 || rec->nfields == 5)
                u->shaped++;
        if (why) {
                row_error(u, rec->line, why);
        } else if (encode_row(u, f, len, rec->nfields)) {
                row_error(u, rec->line, "cannot encode");
        } else {
                u->accepted++;
        }
        if (u->n == PUBLISH_CHUNK && flush_rows(u) < 0)
                u->failed = 1;
}

static int parse_upload(const uint8_t *body, size_t len, struct upload *u)
{
        osh_csv_opts_t o = {.max_field = FIELD_MAX, .max_fields = 16, .max_record = 8192};
        osh_csv_reader_t *r;
        osh_csv_record_t rec;
        int first = 1, rc;

        if (len >= 3 && !memcmp(body, "\xEF\xBB\xBF", 3)) { /* UTF-8 BOM */
                body += 3;
                len -= 3;
        }
        r = osh_csv_reader_new((const char *)body, len, &o);
        if (!r)
                return -1;
        while (!u->failed && (rc = osh_csv_next(r, &rec)) == 1) {
                one_record(u, &rec, first);
                first = 0;
        }
        osh_csv_reader_destroy(r);
        if (rc >= 0 && !u->failed && flush_rows(u) < 0)
                u->failed = 1;
        return rc;
}

static void reply_report(struct upload *u, osh_http_reply_t *rep)
{
        json_t *o = json_pack("{s:I,s:I,s:s,s:O}", "accepted", (json_int_t)u->accepted, "rejected",
                              (json_int_t)u->rejected, "upload", u->source, "errors", u->errors);
        char *s;

        if (o && u->rejected > MAX_ERRORS)
                json_object_set_new(o, "errors_truncated", json_true());
        s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!s) {
                osh_http_reply_error(rep, 503, "out of memory");
                return;
        }
        osh_http_reply_take(rep, 200, "application/json", (uint8_t *)s, strlen(s));
}

void ci_dest_upload(ci_dest_t *d, const uint8_t *body, size_t len, osh_http_reply_t *rep)
{
        struct upload u = {.d = d, .errors = json_array()};

        u.now_ms = osh_wall_ms();
        snprintf(u.source, sizeof(u.source), "upload-%" PRId64, u.now_ms);
        if (!u.errors || parse_upload(body, len, &u) < 0)
                osh_http_reply_error(rep, 503, "out of memory");
        else if (u.failed) /* rows are keyed by 利用者ID: uploading again is harmless */
                osh_http_reply_error(rep, 503, "writing destinations.v1 failed, upload again");
        else if (!u.shaped)
                osh_http_reply_error(rep, 400,
                                     "no destination rows found (expected CSV lines "
                                     "利用者ID,channel,account id,categories[,active])");
        else {
                osh_info("destinations %s: %zu accepted, %zu rejected", u.source, u.accepted,
                         u.rejected);
                reply_report(&u, rep);
        }
        for (size_t i = 0; i < u.n; i++)
                free(u.rows[i].val);
        free(u.rows);
        json_decref(u.errors);
}
