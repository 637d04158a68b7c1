/* cloud-ingest's configuration table and service object (see server.h). */
#include <stdio.h>
#include <unistd.h>

#include "dest.h"
#include "oshirase/log.h"
#include "oshirase/service.h"
#include "oshirase/signal.h"
#include "server.h"

static const osh_cfg_entry_t ci_config_table[] = {
    {"listen.host", OSH_CFG_STR, "127.0.0.1", "OSH_INGEST_HOST", "numeric address to listen on"},
    {"listen.port", OSH_CFG_INT, "8443", "OSH_INGEST_PORT", "port (0: any free port)"},
    {"tls.cert", OSH_CFG_STR, NULL, "OSH_INGEST_TLS_CERT",
     "server certificate PEM (unset: plain HTTP)"},
    {"tls.key", OSH_CFG_STR, NULL, "OSH_INGEST_TLS_KEY", "server key PEM"},
    {"tls.client.ca", OSH_CFG_STR, NULL, "OSH_INGEST_TLS_CLIENT_CA",
     "CA PEM for client certificates (mutual TLS)"},
    {"auth.mode", OSH_CFG_STR, "hmac", "OSH_INGEST_AUTH_MODE",
     "hmac | mtls | any (a verified client certificate, else a token)"},
    {"auth.keys", OSH_CFG_STR, NULL, "OSH_INGEST_KEYS",
     "HMAC keys id:secret[,id:secret] (prefer auth.keys.file)"},
    {"auth.keys.file", OSH_CFG_STR, NULL, "OSH_INGEST_KEYS_FILE", "file of 'id secret' lines"},
    {"auth.max.skew", OSH_CFG_DURATION_MS, "5m", "OSH_INGEST_MAX_SKEW",
     "accepted clock difference of a token"},
    {"allow", OSH_CFG_STR, "resident.abstracted.v1,batch.control.v1", "OSH_INGEST_ALLOW",
     "(topic[@fingerprint|@schema]) that may enter the cloud"},
    {"target", OSH_CFG_STR, "cloud", "OSH_INGEST_TARGET",
     "the TransferBatch target this ingest accepts"},
    {"max.batch.bytes", OSH_CFG_SIZE, "16M", "OSH_INGEST_MAX_BATCH",
     "largest batch body (413 above)"},
    {"max.csv.bytes", OSH_CFG_SIZE, "256M", "OSH_INGEST_MAX_CSV",
     "largest destinations upload (413 above; a city of 1M residents is about 80 MiB)"},
    {"delivery.timeout", OSH_CFG_DURATION_MS, "30s", "OSH_INGEST_DELIVERY_TIMEOUT",
     "wait for the cloud cluster before answering 503"},
    {"http.threads", OSH_CFG_INT, "4", "OSH_INGEST_HTTP_THREADS", "HTTP worker threads"},
    {"destinations.categories", OSH_CFG_STR, CI_DEST_DEFAULT_CATEGORIES, "OSH_INGEST_CATEGORIES",
     "known notice categories"},
};

static void *ci_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        char err[512];
        ci_server_t *srv = ci_server_start(svc->cfg, svc->hb, err, sizeof(err));

        if (!srv) {
                snprintf(errstr, errstr_size, "cannot start: %s", err);
                return NULL;
        }
        osh_info("listening on port %u", ci_server_port(srv));
        return srv;
}

/* The server answers on its own threads; this one only waits for a signal. */
static int ci_run(void *srv)
{
        while (!osh_shutdown_requested())
                usleep(100 * 1000);
        return 0;
}

static void ci_close(void *srv)
{
        ci_server_stop(srv);
}

const osh_service_app_t ci_app = {
    .name = "cloud-ingest",
    .table = ci_config_table,
    .ntable = sizeof(ci_config_table) / sizeof(ci_config_table[0]),
    .hb_prefix = "kafka.",
    .open = ci_open,
    .run = ci_run,
    .close = ci_close,
    .ready_after_open = 1,
};
