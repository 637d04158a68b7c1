/* Polling an input for batches (see extractor.h): a batch directory, or a
 * directory that batch directories are dropped into. */
#define _GNU_SOURCE /* scandir, alphasort */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oshirase/grow.h"
#include "oshirase/log.h"
#include "extractor.h"

#define MAX_BACKOFF_POLLS 256 /* an undelivered batch is tried at least this often */

/* What the last run of one batch (directory or URL) left behind. */
typedef struct seen {
        char *path;
        uint64_t sig;
        ext_result_t last;
        int retry;              /* tried again after a gap, not on a change */
        unsigned wait, backoff; /* polls still to skip, and the next gap */
} seen_t;

struct ext_watch {
        seen_t *v;
        size_t n, cap;
};

ext_watch_t *ext_watch_new(void)
{
        return calloc(1, sizeof(ext_watch_t));
}

void ext_watch_destroy(ext_watch_t *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < w->n; i++)
                free(w->v[i].path);
        free(w->v);
        free(w);
}

static seen_t *seen_find(ext_watch_t *w, const char *path)
{
        for (size_t i = 0; w && i < w->n; i++)
                if (!strcmp(w->v[i].path, path))
                        return &w->v[i];
        return NULL;
}

/* Best effort: without memory the batch is merely re-read next poll. */
static seen_t *seen_put(ext_watch_t *w, const char *path, uint64_t sig)
{
        seen_t *s = seen_find(w, path);

        if (!s && !osh_grow(&w->v, &w->cap, w->n, sizeof(*w->v), 16) &&
            (w->v[w->n] = (seen_t){.path = strdup(path), .last = EXT_NOOP}).path)
                s = &w->v[w->n++];
        if (s)
                s->sig = sig;
        return s;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
        h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
        return h * 0xBF58476D1CE4E5B9ULL;
}

/* dir + "/" + name into out; 0, or -1 if it does not fit. */
static int join(char *out, size_t size, const char *dir, const char *name)
{
        int n = snprintf(out, size, "%s/%s", dir, name);

        return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Order-independent signature of a directory's entries: any file added,
 * removed, rewritten or grown changes it. 0 / -1. */
static int dir_signature(const char *dir, uint64_t *sig)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        struct stat st;
        char path[EXT_PATH_MAX];
        uint64_t sum = 0;

        if (!d)
                return -1;
        while ((e = readdir(d))) {
                uint64_t h = 1469598103934665603ULL;
                if (e->d_name[0] == '.')
                        continue;
                if (join(path, sizeof(path), dir, e->d_name) || stat(path, &st))
                        continue;
                for (const char *c = e->d_name; *c; c++)
                        h = (h ^ (unsigned char)*c) * 1099511628211ULL;
                h = mix(mix(mix(h, (uint64_t)st.st_size), (uint64_t)st.st_mtim.tv_sec),
                        (uint64_t)st.st_mtim.tv_nsec);
                sum += h;
        }
        closedir(d);
        *sig = sum;
        return 0;
}

static int has_file(const char *dir, const char *name)
{
        char path[EXT_PATH_MAX];
        struct stat st;

        return !join(path, sizeof(path), dir, name) && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Polls to wait after the n-th retry in a row: 1, 2, 4 ... */
static unsigned next_gap(const seen_t *s)
{
        if (!s->retry || !s->backoff)
                return 1;
        return s->backoff * 2 > MAX_BACKOFF_POLLS ? MAX_BACKOFF_POLLS : s->backoff * 2;
}

/* Remembers how input's run ended. What may work later without a change
 * (not delivered; a URL, whose change only a fetch tells) is tried again
 * after a growing gap; the rest waits for its files to change. */
static void remember(ext_watch_t *w, const char *input, int have_sig, uint64_t sig, ext_result_t r)
{
        int retry = r == EXT_UNDELIVERED || (!have_sig && (r < 0 || r == EXT_HELD));
        seen_t *s = seen_find(w, input);
        unsigned gap;

        if (!s && !retry && !have_sig)
                return; /* a URL that went through: the ledger tells next time */
        gap = s && retry ? next_gap(s) : 1;
        if (!(s = seen_put(w, input, sig)))
                return;
        s->last = r;
        s->retry = retry;
        s->backoff = retry ? gap : 0;
        s->wait = retry ? gap : 0;
        if (retry)
                osh_warn("%s: %s; tried again in %u poll(s)", input,
                         r == EXT_UNDELIVERED ? "not fetched or not delivered" : "failed or held",
                         gap);
        else if (r < 0 || r == EXT_HELD)
                osh_warn("%s: %s; not read again until its files change", input,
                         r == EXT_HELD ? "held until an operator confirms it (--confirm.batch)"
                                       : "failed");
}

/* Runs one batch unless nothing changed since its last run: sigdir (NULL
 * for URLs) is the directory whose signature tells. */
static ext_result_t run_batch(ext_watch_t *w, osh_service_t *svc, const ext_sink_t *sk,
                              const ext_run_opts_t *o, const char *input, const char *sigdir,
                              unsigned *ran)
{
        ext_run_opts_t so = *o;
        uint64_t sig = 0;
        int have_sig = sigdir && !dir_signature(sigdir, &sig);
        seen_t *s = seen_find(w, input);
        ext_result_t r;

        if (s && s->retry && s->wait) {
                s->wait--;
                return EXT_NOOP;
        }
        if (s && !s->retry && have_sig && s->sig == sig)
                return EXT_NOOP;
        so.input = input;
        r = ext_run_once(svc, sk, &so);
        (*ran)++;
        if (w)
                remember(w, input, have_sig, sig, r);
        return r;
}

/* The batches that stand failed or held, on the heartbeat. */
static void report(ext_watch_t *w, osh_service_t *svc)
{
        int64_t failed = 0, held = 0;

        for (size_t i = 0; w && i < w->n; i++) {
                struct stat st;
                if (!ext_is_url(w->v[i].path) && stat(w->v[i].path, &st))
                        w->v[i].last = EXT_NOOP; /* removed: nothing stands failed */
                failed += w->v[i].last < 0;
                held += w->v[i].last == EXT_HELD;
        }
        if (!svc || !svc->hb)
                return;
        osh_heartbeat_set_named(svc->hb, "batches_failed", failed);
        osh_heartbeat_set_named(svc->hb, "batches_held", held);
        osh_heartbeat_set_state(svc->hb, failed || held ? OSH_STATE_DEGRADED : OSH_STATE_RUNNING);
}

static ext_result_t worse(ext_result_t a, ext_result_t b)
{
        if (a < 0 || b < 0)
                return a < b ? a : b;
        if (a == EXT_HELD || b == EXT_HELD)
                return EXT_HELD;
        return a == EXT_DONE || b == EXT_DONE ? EXT_DONE : EXT_NOOP;
}

static int subdir_filter(const struct dirent *e)
{
        return e->d_name[0] != '.';
}

/* A subdirectory of a drop directory without its manifest: said once
 * (the transfer job may still be copying it), never skipped silently. */
static void waiting(ext_watch_t *w, const char *path)
{
        seen_t *s = seen_find(w, path);

        if (s || !w)
                return;
        if ((s = seen_put(w, path, 0)))
                s->last = EXT_NOOP;
        osh_warn("%s: no MANIFEST.tsv%s: not a batch yet; taken once its manifest is there", path,
                 has_file(path, "JUMIN.csv") ? "" : " and no JUMIN.csv");
}

/* Every subdirectory holding a MANIFEST.tsv, in name order. */
static ext_result_t run_drop_dir(ext_watch_t *w, osh_service_t *svc, const ext_sink_t *sk,
                                 const ext_run_opts_t *o, unsigned *ran)
{
        struct dirent **names = NULL;
        char path[EXT_PATH_MAX];
        ext_result_t res = EXT_NOOP;
        int n = scandir(o->input, &names, subdir_filter, alphasort);

        if (n < 0) {
                osh_error("watch %s: cannot list it", o->input);
                return EXT_FAILED;
        }
        for (int i = 0; i < n; i++) {
                if (!join(path, sizeof(path), o->input, names[i]->d_name) && is_dir(path)) {
                        if (has_file(path, "MANIFEST.tsv"))
                                res = worse(res, run_batch(w, svc, sk, o, path, path, ran));
                        else
                                waiting(w, path);
                }
                free(names[i]);
        }
        free(names);
        return res;
}

/* 1 if dir holds a regular *.csv file: export files, so a batch. */
static int has_csv(const char *dir)
{
        DIR *d = opendir(dir);
        struct dirent *e;
        int found = 0;

        while (d && !found && (e = readdir(d))) {
                size_t n = strlen(e->d_name);
                found = n > 4 && !strcmp(e->d_name + n - 4, ".csv") && has_file(dir, e->d_name);
        }
        if (d)
                closedir(d);
        return found;
}

static ext_result_t poll_input(ext_watch_t *w, osh_service_t *svc, const ext_sink_t *sk,
                               const ext_run_opts_t *o, unsigned *ran)
{
        char dir[EXT_PATH_MAX];
        const char *slash;

        if (ext_is_url(o->input))
                return run_batch(w, svc, sk, o, o->input, NULL, ran);
        if (is_dir(o->input)) {
                ext_result_t r;
                /* export files without MANIFEST.tsv or JUMIN.csv: a batch
                 * that fails (and says why), not a drop directory */
                if (has_file(o->input, "MANIFEST.tsv") || has_file(o->input, "JUMIN.csv") ||
                    has_csv(o->input))
                        return run_batch(w, svc, sk, o, o->input, o->input, ran);
                r = run_drop_dir(w, svc, sk, o, ran);
                if (w || *ran)
                        return r;
                osh_error("%s: no batch: no MANIFEST.tsv or JUMIN.csv in it or in a subdirectory",
                          o->input);
                return EXT_FAILED;
        }
        slash = strrchr(o->input, '/');
        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - o->input) : 1,
                 slash ? o->input : ".");
        return run_batch(w, svc, sk, o, o->input, dir, ran);
}

ext_result_t ext_poll(ext_watch_t *w, osh_service_t *svc, const ext_sink_t *sk,
                      const ext_run_opts_t *o, unsigned *ran)
{
        unsigned dummy = 0;
        ext_result_t r = poll_input(w, svc, sk, o, ran ? ran : &dummy);

        report(w, svc);
        return r;
}
