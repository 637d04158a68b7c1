/* The extractor's configuration table and service object (see
 * extractor.h): configure parses every key the run would refuse, so
 * --check fails exactly when the run would; run is the one-shot batch or
 * the --watch loop. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "oshirase/clock.h"
#include "oshirase/jdate.h"
#include "oshirase/log.h"
#include "oshirase/signal.h"
#include "oshirase/textenc.h"
#include "oshirase/topics.h"
#include "extractor.h"

#define PREPARE_MS  10000 /* to learn the output topics' partitions at start */
#define MAX_THREADS 8     /* as extract_plan.c caps them */

static const osh_cfg_entry_t ext_config_table[] = {
    {"input", OSH_CFG_STR, NULL, "OSH_EXTRACTOR_INPUT",
     "batch: a directory, a MANIFEST.tsv, or an ftp:// ftps:// sftp:// file:// URL of one; or a "
     "directory of batch directories (each taken once its MANIFEST.tsv is there)"},
    {"watch", OSH_CFG_BOOL, "false", "OSH_EXTRACTOR_WATCH",
     "keep polling the input for new or changed batches"},
    {"poll.interval", OSH_CFG_DURATION_MS, "10s", "OSH_EXTRACTOR_POLL_INTERVAL",
     "watch mode: time between polls"},
    {"ledger", OSH_CFG_STR, "extractor.ledger", "OSH_EXTRACTOR_LEDGER",
     "file of ingested file hashes and batch sizes (empty: none)"},
    {"force", OSH_CFG_BOOL, "false", "OSH_EXTRACTOR_FORCE",
     "re-emit a batch the ledger already has (also implied by --replay)"},
    {"reference.date", OSH_CFG_STR, NULL, "OSH_EXTRACTOR_REFERENCE_DATE",
     "YYYYMMDD reference date (default: the manifest's, else today)"},
    {"encoding", OSH_CFG_STR, "auto", "OSH_EXTRACTOR_ENCODING",
     "auto (manifest, else detect) | utf8 | cp932"},
    {"gaiji.replacement", OSH_CFG_STR, "fffd", "OSH_EXTRACTOR_GAIJI_REPLACEMENT",
     "what replaces 外字: fffd (U+FFFD) | geta (〓)"},
    {"max.field", OSH_CFG_SIZE, "256", "OSH_EXTRACTOR_MAX_FIELD",
     "longest field accepted (bytes, at most 64 KiB)"},
    {"threads", OSH_CFG_INT, "0", "OSH_EXTRACTOR_THREADS",
     "threads that hash and scan the files (0: one per CPU; at most 8)"},
    {"spool.dir", OSH_CFG_STR, "/tmp", "OSH_EXTRACTOR_SPOOL_DIR",
     "where URL batches are fetched to"},
    {"emit.rate", OSH_CFG_INT, "0", "OSH_EXTRACTOR_EMIT_RATE",
     "records per second at most (0: unlimited)"},
    {"hold.shrink.percent", OSH_CFG_INT, "50", "OSH_EXTRACTOR_HOLD_SHRINK_PERCENT",
     "hold a snapshot with this % fewer records than the ledger's previous one (0: never)"},
    {"hold.reject.percent", OSH_CFG_INT, "10", "OSH_EXTRACTOR_HOLD_REJECT_PERCENT",
     "hold a batch that rejects more than this % of its lines (0: never)"},
    {"confirm.batch", OSH_CFG_STR, NULL, "OSH_EXTRACTOR_CONFIRM_BATCH",
     "id of a held batch an operator checked: it is emitted despite the hold"},
    {"rejects.raw", OSH_CFG_BOOL, "false", "OSH_EXTRACTOR_REJECTS_RAW",
     "copy the rejected line into resident.rejects.v1's raw (personal data: off unless needed)"},
    {"rejects.raw.max", OSH_CFG_SIZE, "1024", "OSH_EXTRACTOR_REJECTS_RAW_MAX",
     "with rejects.raw: bytes of the line kept at most (up to 64 KiB; the rest is cut)"},
};

/* What configure stores in svc->conf. */
typedef struct ext_conf {
        ext_run_opts_t o;
        int watch;
        int64_t poll_ms;
} ext_conf_t;

/* What open builds and run polls with. */
typedef struct ext_service {
        osh_service_t *svc;
        osh_producer_t *p;
        ext_sink_t sink;
        ext_watch_t *w; /* NULL unless watching */
        ext_run_opts_t o;
        const ext_conf_t *conf;
} ext_service_t;

#define BAD(...) (snprintf(errstr, errstr_size, __VA_ARGS__), -1)

/* value must be one of the NULL-terminated words. */
static int one_of(const char *key, const char *value, const char *const *words, char *errstr,
                  size_t errstr_size)
{
        for (const char *const *w = words; *w; w++)
                if (!strcmp(value, *w))
                        return 0;
        return BAD("%s: unknown value \"%s\"", key, value);
}

static int in_range(const osh_config_t *cfg, const char *key, int64_t lo, int64_t hi, char *errstr,
                    size_t errstr_size)
{
        int64_t v = osh_config_int(cfg, key);

        if (v >= lo && v <= hi)
                return 0;
        return BAD("%s: %lld is not in %lld..%lld", key, (long long)v, (long long)lo,
                   (long long)hi);
}

/* The input exists (or is a URL the extractor fetches). */
static int check_input(const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        const char *in = osh_config_str(cfg, "input"), *spool = osh_config_str(cfg, "spool.dir");
        struct stat st;

        if (!in || !*in)
                return BAD("input is required (--input DIR|MANIFEST|URL)");
        if (strstr(in, "://") && !ext_is_url(in))
                return BAD("input %s: not an ftp:// ftps:// sftp:// or file:// URL", in);
        if (!ext_is_url(in) && stat(in, &st))
                return BAD("input %s: no such file or directory", in);
        if (ext_is_url(in) && (stat(spool, &st) || !S_ISDIR(st.st_mode)))
                return BAD("spool.dir %s: not a directory", spool);
        return 0;
}

/* Dates, words and numbers the run would refuse. */
static int check_values(const osh_config_t *cfg, char *errstr, size_t errstr_size)
{
        static const char *const enc[] = {"auto", "utf8", "cp932", NULL};
        static const char *const gaiji[] = {"fffd", "geta", NULL};
        const char *ref = osh_config_str(cfg, "reference.date"),
                   *confirm = osh_config_str(cfg, "confirm.batch");
        osh_date_t d;

        if (ref && (strlen(ref) != 8 || osh_jdate_parse(ref, 8, OSH_JDATE_WESTERN, &d)))
                return BAD("reference.date: \"%s\" is not a YYYYMMDD date", ref);
        if (confirm && (strlen(confirm) != 26 || confirm[0] != 'B' || confirm[9] != '-'))
                return BAD("confirm.batch: \"%s\" is not a batch id (B<YYYYMMDD>-<16 hex>)",
                           confirm);
        if (one_of("encoding", osh_config_str(cfg, "encoding"), enc, errstr, errstr_size) ||
            one_of("gaiji.replacement", osh_config_str(cfg, "gaiji.replacement"), gaiji, errstr,
                   errstr_size) ||
            in_range(cfg, "max.field", 1, EXT_MAX_FIELD_LIMIT, errstr, errstr_size) ||
            in_range(cfg, "threads", 0, MAX_THREADS, errstr, errstr_size) ||
            in_range(cfg, "emit.rate", 0, INT64_MAX, errstr, errstr_size) ||
            in_range(cfg, "poll.interval", 1, INT64_MAX, errstr, errstr_size) ||
            in_range(cfg, "hold.shrink.percent", 0, 100, errstr, errstr_size) ||
            in_range(cfg, "hold.reject.percent", 0, 100, errstr, errstr_size) ||
            in_range(cfg, "rejects.raw.max", 1, EXT_REJECT_RAW_LIMIT, errstr, errstr_size))
                return -1;
        return 0;
}

static void read_opts(const osh_service_t *svc, ext_run_opts_t *o)
{
        const osh_config_t *cfg = svc->cfg;
        const char *ledger = osh_config_str(cfg, "ledger");

        memset(o, 0, sizeof(*o));
        o->input = osh_config_str(cfg, "input");
        o->ledger = ledger && *ledger ? ledger : NULL;
        o->force = osh_config_bool(cfg, "force") || svc->replay.kind != OSH_REPLAY_NONE;
        o->spool_dir = osh_config_str(cfg, "spool.dir");
        o->emit_rate = osh_config_int(cfg, "emit.rate");
        o->instance = osh_config_str(cfg, "instance");
        o->hold_shrink_pct = (int)osh_config_int(cfg, "hold.shrink.percent");
        o->hold_reject_pct = (int)osh_config_int(cfg, "hold.reject.percent");
        o->confirm = osh_config_str(cfg, "confirm.batch");
        o->ext.reference = osh_config_str(cfg, "reference.date");
        o->ext.encoding = osh_config_str(cfg, "encoding");
        o->ext.max_field = (size_t)osh_config_int(cfg, "max.field");
        o->ext.threads = (size_t)osh_config_int(cfg, "threads");
        o->ext.gaiji_repl = !strcmp(osh_config_str(cfg, "gaiji.replacement"), "geta")
                                ? OSH_TEXTENC_REPL_GETA
                                : OSH_TEXTENC_REPL_FFFD;
        o->ext.raw_max = osh_config_bool(cfg, "rejects.raw")
                             ? (size_t)osh_config_int(cfg, "rejects.raw.max")
                             : 0;
}

static int ext_configure(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        ext_conf_t *c;

        if (check_input(svc->cfg, errstr, errstr_size) ||
            check_values(svc->cfg, errstr, errstr_size))
                return -1;
        if (!(c = calloc(1, sizeof(*c))))
                return BAD("out of memory");
        read_opts(svc, &c->o);
        c->watch = osh_config_bool(svc->cfg, "watch");
        c->poll_ms = osh_config_int(svc->cfg, "poll.interval");
        *conf = c;
        return 0;
}

static void ext_unconfigure(void *conf)
{
        free(conf);
}

static void *ext_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        static const char *const outputs[] = {OSH_TOPIC_BATCH, OSH_TOPIC_RAW, OSH_TOPIC_REJECTS};
        ext_service_t *a = calloc(1, sizeof(*a));
        rd_kafka_conf_t *conf;
        char err[EXT_ERRSTR_MAX];

        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        /* No fastbins: freeing librdkafka's ~0.5 KiB message copies by the
         * hundred thousand between large frees set off malloc_consolidate
         * again and again (0.1 s of a 1.4 s Chiba batch). */
        mallopt(M_MXFAST, 0);
        conf = osh_kafka_conf_new(svc->cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, err, sizeof(err));
        a->p = conf ? osh_producer_new(conf, err, sizeof(err)) : NULL;
        if (!a->p)
                goto fail;
        /* while the batch is read, not after it is */
        osh_producer_prepare(a->p, outputs, 3, PREPARE_MS);
        a->svc = svc;
        a->conf = svc->conf;
        a->o = a->conf->o;
        ext_sink_kafka(&a->sink, a->p);
        a->w = a->conf->watch ? ext_watch_new() : NULL;
        return a;
fail:
        snprintf(errstr, errstr_size, "producer: %s", err);
        free(a);
        return NULL;
}

/* One-shot: the batch's result is the exit code. Watching: a failed batch
 * is counted and remembered (watch.c), and only a signal stops it. */
static int ext_run(void *app)
{
        ext_service_t *a = app;
        ext_result_t r;

        do {
                r = ext_poll(a->w, a->svc, &a->sink, &a->o, NULL);
                if (EXT_IS_FAILURE(r))
                        osh_service_count(a->svc, OSH_CTR_ERRORS, 1);
                a->o.force = 0; /* a forced replay applies to the first poll only */
                if (a->conf->watch)
                        osh_sleep_ms(a->conf->poll_ms);
        } while (a->conf->watch && !osh_shutdown_requested());
        return (EXT_IS_FAILURE(r) || r == EXT_HELD) && !a->conf->watch ? 1 : 0;
}

static void ext_close(void *app)
{
        ext_service_t *a = app;

        ext_watch_destroy(a->w);
        osh_producer_destroy(a->p);
        free(a);
}

const osh_service_app_t ext_service_app = {
    .name = "extractor",
    .table = ext_config_table,
    .ntable = sizeof(ext_config_table) / sizeof(ext_config_table[0]),
    .hb_prefix = "kafka.",
    .configure = ext_configure,
    .unconfigure = ext_unconfigure,
    .open = ext_open,
    .run = ext_run,
    .close = ext_close,
    .ready_after_open = 1,
};
