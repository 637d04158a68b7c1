#include "disp_job.h"

#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/serde.h"
#include "oshirase/strutil.h"
#include "oshirase/topics.h"

static char *dup_field(avro_value_t *v, const char *f)
{
        const char *s = NULL;
        size_t n;

        if (osh_value_get_string(v, f, &s, &n) < 0 || !s)
                s = "";
        return strdup(s);
}

static int get_recipients(avro_value_t *rec, disp_job_t *job)
{
        avro_value_t arr, item;
        size_t n = 0;

        if (osh_value_field(rec, "recipients", &arr) < 0 || avro_value_get_size(&arr, &n) != 0)
                return -1;
        job->rcpt = calloc(n ? n : 1, sizeof(*job->rcpt));
        if (!job->rcpt)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (avro_value_get_by_index(&arr, i, &item, NULL) != 0)
                        return -1;
                job->rcpt[i].user_id = dup_field(&item, "user_id");
                job->rcpt[i].account_id = dup_field(&item, "account_id");
                job->n_rcpt = job->n_alloc = i + 1;
                if (!job->rcpt[i].user_id || !job->rcpt[i].account_id)
                        return -1;
        }
        return 0;
}

static int get_vars(avro_value_t *rec, disp_job_t *job)
{
        avro_value_t map, item;
        size_t n = 0;

        if (osh_value_field(rec, "variables", &map) < 0 || avro_value_get_size(&map, &n) != 0)
                return -1;
        job->var_names = calloc(n ? n : 1, sizeof(char *));
        job->var_values = calloc(n ? n : 1, sizeof(char *));
        if (!job->var_names || !job->var_values)
                return -1;
        for (size_t i = 0; i < n; i++) {
                const char *name = NULL, *s = NULL;
                size_t sl;
                if (avro_value_get_by_index(&map, i, &item, &name) != 0 ||
                    avro_value_get_string(&item, &s, &sl) != 0)
                        return -1;
                job->var_names[i] = strdup(name);
                job->var_values[i] = strdup(s);
                job->n_vars = i + 1;
        }
        return 0;
}

static int get_flags(avro_value_t *rec, disp_job_t *job)
{
        const char *sym = NULL;

        if (osh_value_get_bool(rec, "test", &job->test) < 0 ||
            osh_value_get_bool(rec, "critical", &job->critical) < 0 ||
            osh_value_get_bool(rec, "resend", &job->resend) < 0 ||
            osh_value_get_long(rec, "created_at", &job->created_at_ms) < 0 ||
            osh_value_get_enum(rec, "channel", &sym) < 0)
                return -1;
        if (osh_value_is_null(rec, "not_before") == 0 &&
            osh_value_get_long(rec, "not_before", &job->not_before_ms) < 0)
                return -1;
        job->channel = disp_channel_kind(sym);
        return 0;
}

int disp_job_decode(const void *buf, size_t len, disp_job_t *job, char *errstr, size_t errstr_size)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_DISPATCH);
        avro_value_t rec;
        int rc = -1;

        memset(job, 0, sizeof(*job));
        if (!s || osh_serde_decode(s, buf, len, &rec, NULL, errstr, errstr_size) < 0)
                return -1;
        job->dispatch_id = dup_field(&rec, "dispatch_id");
        job->campaign_id = dup_field(&rec, "campaign_id");
        job->title = dup_field(&rec, "title");
        job->text = dup_field(&rec, "text");
        job->category = dup_field(&rec, "category");
        job->template_name = dup_field(&rec, "template");
        if (!job->dispatch_id || !job->campaign_id || !job->title || !job->text || !job->category ||
            !job->template_name || get_recipients(&rec, job) < 0 || get_vars(&rec, job) < 0 ||
            get_flags(&rec, job) < 0) {
                snprintf(errstr, errstr_size, "dispatch record: missing or bad field");
                goto fail;
        }
        if (!job->dispatch_id[0] || strpbrk(job->dispatch_id, "\t\n#") ||
            strlen(job->dispatch_id) > 256) {
                snprintf(errstr, errstr_size, "dispatch record: bad dispatch_id");
                goto fail;
        }
        /* A test send must not settle the real one (same campaign, user and
         * channel give the same dispatch id); a resend gets a key per request. */
        snprintf(job->key, sizeof(job->key), "%s%s", job->dispatch_id, job->test ? "#t" : "");
        if (job->resend)
                snprintf(job->key + strlen(job->key), sizeof(job->key) - strlen(job->key),
                         "#r%" PRId64, job->created_at_ms);
        rc = 0;
fail:
        avro_value_decref(&rec);
        return rc;
}

void disp_job_free(disp_job_t *job)
{
        free(job->dispatch_id);
        free(job->campaign_id);
        free(job->title);
        free(job->text);
        free(job->category);
        free(job->template_name);
        for (size_t i = 0; i < job->n_alloc; i++) {
                free(job->rcpt[i].user_id);
                free(job->rcpt[i].account_id);
        }
        free(job->rcpt);
        for (size_t i = 0; i < job->n_vars; i++) {
                free(job->var_names[i]);
                free(job->var_values[i]);
        }
        free(job->var_names);
        free(job->var_values);
        memset(job, 0, sizeof(*job));
}

const char *disp_job_var(void *opaque, const char *name, size_t len)
{
        const disp_job_t *job = opaque;

        for (size_t i = 0; i < job->n_vars; i++)
                if (strlen(job->var_names[i]) == len && !memcmp(job->var_names[i], name, len))
                        return job->var_values[i];
        if (len == 5 && !memcmp(name, "title", 5))
                return job->title;
        return NULL;
}

/* The account ids seen so far in a dispatch, for dropping repeats: a hash
 * set (a multicast carries up to 500; comparing each with all before it
 * was the costliest step of the dispatch). */
typedef struct seen {
        const char **tab; /* open addressing; cap a power of two >= 2n */
        size_t cap;
} seen_t;

/* 1 when acc was seen, else records it (the string is borrowed). */
static int seen_add(seen_t *s, const char *acc)
{
        size_t i = (size_t)osh_str_hash(acc) & (s->cap - 1);

        for (; s->tab[i]; i = (i + 1) & (s->cap - 1))
                if (!strcmp(s->tab[i], acc))
                        return 1;
        s->tab[i] = acc;
        return 0;
}

void disp_job_screen(disp_job_t *job, osh_account_check_fn *check)
{
        size_t keep = 0, bad = 0, n = job->n_rcpt;
        seen_t seen = {NULL, 16};

        while (seen.cap < 2 * n)
                seen.cap *= 2;
        seen.tab = calloc(seen.cap, sizeof(*seen.tab));
        if (!seen.tab) { /* no memory to tell repeats apart: refuse them all */
                job->why_invalid = "out of memory";
                job->n_invalid = n;
                job->n_rcpt = 0;
                return;
        }
        /* [0, keep): to send; [keep, keep + bad): refused ids; the rest:
         * duplicates. Entries are swapped, never dropped, so all stay owned. */
        for (size_t i = 0; i < n; i++) {
                disp_rcpt_t r = job->rcpt[i];
                const char *why;
                if (seen_add(&seen, r.account_id))
                        continue;
                why = check ? check(r.account_id, strlen(r.account_id)) : NULL;
                job->rcpt[i] = job->rcpt[keep + bad];
                if (why) {
                        if (!job->why_invalid)
                                job->why_invalid = why;
                        job->rcpt[keep + bad++] = r;
                } else {
                        job->rcpt[keep + bad] = job->rcpt[keep];
                        job->rcpt[keep++] = r;
                }
        }
        free(seen.tab);
        job->n_rcpt = keep;
        job->n_invalid = bad;
}
