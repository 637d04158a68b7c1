/* extractor: 統合DB exports → resident.raw.v1 (+ rejects, batch markers)
 * on the core cluster. One-shot (`extractor --input DIR`) or --watch. */
#include <malloc.h>
#include <stdio.h>
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

int main(int argc, char **argv)
{
        static const char *const outputs[] = {OSH_TOPIC_BATCH, OSH_TOPIC_RAW, OSH_TOPIC_REJECTS};
        osh_service_t svc;
        char errstr[512];
        osh_producer_t *p = NULL;
        rd_kafka_conf_t *conf;
        exr_opts_t o;
        exr_sink_t sink;
        exr_watch_t *w;
        const char *ledger;
        exr_result_t r = EXR_FAILED;
        int watch, rc;

        /* No fastbins: freeing librdkafka's ~0.5 KiB message copies by the
         * hundred thousand between large frees set off malloc_consolidate
         * again and again (0.1 s of a 1.4 s Chiba batch). */
        mallopt(M_MXFAST, 0);
        rc = osh_service_init(&svc, "extractor", table, N_TABLE, "kafka.", argc, argv);
        if (rc != OSH_CONFIG_RUN)
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        memset(&o, 0, sizeof(o));
        o.input = osh_config_str(svc.cfg, "input");
        ledger = osh_config_str(svc.cfg, "ledger");
        o.ledger = ledger && *ledger ? ledger : NULL;
        o.force = osh_config_bool(svc.cfg, "force") || svc.replay.kind != OSH_REPLAY_NONE;
        o.spool_dir = osh_config_str(svc.cfg, "spool.dir");
        o.emit_rate = osh_config_int(svc.cfg, "emit.rate");
        o.instance = osh_config_str(svc.cfg, "instance");
        o.ext.reference = osh_config_str(svc.cfg, "reference.date");
        o.ext.encoding = osh_config_str(svc.cfg, "encoding");
        o.ext.max_field = (size_t)osh_config_int(svc.cfg, "max.field");
        o.ext.threads =
            (size_t)(osh_config_int(svc.cfg, "threads") > 0 ? osh_config_int(svc.cfg, "threads")
                                                            : 0);
        o.ext.gaiji_repl = !strcmp(osh_config_str(svc.cfg, "gaiji.replacement"), "geta")
                               ? OSH_TEXTENC_REPL_GETA
                               : OSH_TEXTENC_REPL_FFFD;
        if (!o.input) {
                osh_error("input is required (--input DIR|MANIFEST|URL)");
                osh_service_fini(&svc);
                return 2;
        }
        if (osh_service_check_done(&svc)) {
                osh_service_fini(&svc);
                return 0;
        }
        conf =
            osh_kafka_conf_new(svc.cfg, "kafka.", OSH_KAFKA_PRODUCER, NULL, errstr, sizeof(errstr));
        p = conf ? osh_producer_new(conf, errstr, sizeof(errstr)) : NULL;
        if (!p) {
                osh_error("producer: %s", errstr);
                osh_service_fini(&svc);
                return 1;
        }
        /* while the batch is read, not after it is */
        osh_producer_prepare(p, outputs, 3, 10000);
        watch = osh_config_bool(svc.cfg, "watch");
        exr_sink_kafka(&sink, p);
        w = watch ? exr_watch_new() : NULL;
        osh_service_ready(&svc);
        do {
                r = exr_poll(w, &svc, &sink, &o, NULL);
                if (r == EXR_FAILED)
                        osh_service_count(&svc, OSH_CTR_ERRORS, 1);
                o.force = 0; /* a forced replay applies to the first poll only */
                if (watch)
                        sleep_ms(osh_config_int(svc.cfg, "poll.interval"));
        } while (watch && !osh_shutdown_requested());
        exr_watch_destroy(w);
        osh_producer_destroy(p);
        osh_service_fini(&svc);
        return r == EXR_FAILED && !watch ? 1 : 0;
}
