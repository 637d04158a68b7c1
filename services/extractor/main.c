/* extractor: 統合DB exports → resident.raw.v1 (+ rejects, batch markers)
 * on the core cluster. One-shot (`extractor --input DIR`) or --watch. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/log.h"
#include "oshirase/signal.h"
#include "oshirase/textenc.h"
#include "oshirase/topics.h"
#include "extractor.h"

static const osh_cfg_entry_t table[] = {
    {"input", OSH_CFG_STR, NULL, "OSH_EXTRACTOR_INPUT",
     "batch: a directory, a MANIFEST.tsv, or an ftp:// ftps:// sftp:// file:// URL of one; or a "
     "directory of batch directories (each taken once its MANIFEST.tsv is there)"},
    {"watch", OSH_CFG_BOOL, "false", "OSH_EXTRACTOR_WATCH",
     "keep polling the input for new or changed batches"},
    {"poll.interval", OSH_CFG_DURATION_MS, "10s", "OSH_EXTRACTOR_POLL_INTERVAL",
     "watch mode: time between polls"},
    {"ledger", OSH_CFG_STR, "extractor.ledger", "OSH_EXTRACTOR_LEDGER",
     "file of ingested file hashes (empty: none)"},
    {"force", OSH_CFG_BOOL, "false", "OSH_EXTRACTOR_FORCE",
     "re-emit a batch the ledger already has (also implied by --replay)"},
    {"reference.date", OSH_CFG_STR, NULL, "OSH_EXTRACTOR_REFERENCE_DATE",
     "YYYYMMDD reference date (default: the manifest's, else today)"},
    {"encoding", OSH_CFG_STR, "auto", "OSH_EXTRACTOR_ENCODING",
     "auto (manifest, else detect) | utf8 | cp932"},
    {"gaiji.replacement", OSH_CFG_STR, "fffd", "OSH_EXTRACTOR_GAIJI_REPLACEMENT",
     "what replaces 外字: fffd (U+FFFD) | geta (〓)"},
    {"max.field", OSH_CFG_SIZE, "256", "OSH_EXTRACTOR_MAX_FIELD", "longest field accepted (bytes)"},
    {"threads", OSH_CFG_INT, "0", "OSH_EXTRACTOR_THREADS",
     "threads that hash and scan the files (0: one per CPU, at most 8)"},
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
#define N_TABLE (sizeof(table) / sizeof(table[0]))

static void sleep_ms(int64_t ms)
{
        while (ms > 0 && !osh_shutdown_requested()) {
                struct timespec ts = {0, 100 * 1000000L};
                nanosleep(&ts, NULL);
                ms -= 100;
        }
}

/* What open builds and run polls with. */
typedef struct exr_app {
        osh_service_t *svc;
        osh_producer_t *p;
        exr_sink_t sink;
        exr_watch_t *w; /* NULL unless watching */
        exr_opts_t o;
        int watch;
} exr_app_t;

static void read_opts(const osh_service_t *svc, exr_opts_t *o)
{
        const char *ledger = osh_config_str(svc->cfg, "ledger");
        int64_t threads = osh_config_int(svc->cfg, "threads");

        memset(o, 0, sizeof(*o));
        o->input = osh_config_str(svc->cfg, "input");
        o->ledger = ledger && *ledger ? ledger : NULL;
        o->force = osh_config_bool(svc->cfg, "force") || svc->replay.kind != OSH_REPLAY_NONE;
        o->spool_dir = osh_config_str(svc->cfg, "spool.dir");
        o->emit_rate = osh_config_int(svc->cfg, "emit.rate");
        o->instance = osh_config_str(svc->cfg, "instance");
        o->ext.reference = osh_config_str(svc->cfg, "reference.date");
        o->ext.encoding = osh_config_str(svc->cfg, "encoding");
        o->ext.max_field = (size_t)osh_config_int(svc->cfg, "max.field");
        o->ext.threads = (size_t)(threads > 0 ? threads : 0);
        o->hold_shrink_pct = (int)osh_config_int(svc->cfg, "hold.shrink.percent");
        o->hold_reject_pct = (int)osh_config_int(svc->cfg, "hold.reject.percent");
        o->confirm = osh_config_str(svc->cfg, "confirm.batch");
        o->ext.raw_max = osh_config_bool(svc->cfg, "rejects.raw")
                             ? (size_t)osh_config_int(svc->cfg, "rejects.raw.max")
                             : 0;
        o->ext.gaiji_repl = !strcmp(osh_config_str(svc->cfg, "gaiji.replacement"), "geta")
                                ? OSH_TEXTENC_REPL_GETA
                                : OSH_TEXTENC_REPL_FFFD;
}

/* The table has no required keys, so --check would pass without an input. */
static int exr_configure(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        if (osh_config_str(svc->cfg, "input"))
                return 0;
        snprintf(errstr, errstr_size, "input is required (--input DIR|MANIFEST|URL)");
        return -1;
}

static void *exr_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        static const char *const outputs[] = {OSH_TOPIC_BATCH, OSH_TOPIC_RAW, OSH_TOPIC_REJECTS};
        exr_app_t *a = calloc(1, sizeof(*a));
        rd_kafka_conf_t *conf;
        char err[512];

        if (!a) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        conf = osh_kafka_conf_new(svc->cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, err, sizeof(err));
        a->p = conf ? osh_producer_new(conf, err, sizeof(err)) : NULL;
        if (!a->p)
                goto fail;
        /* while the batch is read, not after it is */
        osh_producer_prepare(a->p, outputs, 3, 10000);
        a->svc = svc;
        read_opts(svc, &a->o);
        a->watch = osh_config_bool(svc->cfg, "watch");
        exr_sink_kafka(&a->sink, a->p);
        a->w = a->watch ? exr_watch_new() : NULL;
        return a;
fail:
        snprintf(errstr, errstr_size, "producer: %s", err);
        free(a);
        return NULL;
}

/* One-shot: the batch's result is the exit code. Watching: a failed batch
 * is counted and remembered (watch.c), and only a signal stops it. */
static int exr_run(void *app)
{
        exr_app_t *a = app;
        exr_result_t r;

        do {
                r = exr_poll(a->w, a->svc, &a->sink, &a->o, NULL);
                if (EXR_IS_FAILURE(r))
                        osh_service_count(a->svc, OSH_CTR_ERRORS, 1);
                a->o.force = 0; /* a forced replay applies to the first poll only */
                if (a->watch)
                        sleep_ms(osh_config_int(a->svc->cfg, "poll.interval"));
        } while (a->watch && !osh_shutdown_requested());
        return (EXR_IS_FAILURE(r) || r == EXR_HELD) && !a->watch ? 1 : 0;
}

static void exr_close(void *app)
{
        exr_app_t *a = app;

        exr_watch_destroy(a->w);
        osh_producer_destroy(a->p);
        free(a);
}

int main(int argc, char **argv)
{
        const osh_service_app_t app = {
            .name = "extractor",
            .table = table,
            .ntable = N_TABLE,
            .hb_prefix = "kafka.",
            .configure = exr_configure,
            .open = exr_open,
            .run = exr_run,
            .close = exr_close,
            .ready_after_open = 1,
        };

        /* No fastbins: freeing librdkafka's ~0.5 KiB message copies by the
         * hundred thousand between large frees set off malloc_consolidate
         * again and again (0.1 s of a 1.4 s Chiba batch). */
        mallopt(M_MXFAST, 0);
        return osh_service_main(&app, argc, argv);
}
