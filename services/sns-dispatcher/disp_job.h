/* A decoded notify.dispatch.v1 record. */
#ifndef DISP_JOB_H
#define DISP_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "channels/channel.h"

typedef struct disp_job {
        char *dispatch_id, *campaign_id, *title, *text, *category, *template_name;
        disp_chan_kind_t channel;
        disp_rcpt_t *rcpt;
        size_t n_rcpt;    /* recipients to send to (valid and unique after screening) */
        size_t n_alloc;   /* entries of rcpt owned (screening moves refused ones past n_rcpt) */
        size_t n_invalid; /* refused account ids (FAILED_PERM) */
        const char *why_invalid; /* reason of the first refused id (static) */
        char **var_names, **var_values;
        size_t n_vars;
        int test, critical, resend;
        int64_t not_before_ms; /* 0: none */
        int64_t created_at_ms;
        char key[320]; /* ledger key: dispatch id, "#t" for a test send, "#r<created_at>" for a
                          resend */
} disp_job_t;

/* 0 / -1 with errstr. job is cleared first; free with disp_job_free() in
 * both cases. */
int disp_job_decode(const void *buf, size_t len, disp_job_t *job, char *errstr, size_t errstr_size);
void disp_job_free(disp_job_t *job);
/* Drops repeated account ids (the first occurrence stays) and moves the
 * ones check refuses out of the recipients to send to (n_rcpt), counting
 * them in n_invalid. Order of the kept recipients is preserved. */
void disp_job_screen(disp_job_t *job, osh_account_check_fn *check);
/* Value of variable name[0..len) or NULL. */
const char *disp_job_var(void *job, const char *name, size_t len);

#endif
