/* cloud-ingest's configuration table and service object (see server.h). */
#include <stdio.h>

#include "dest.h"
#include "ingest_auth.h"
#include "oshirase/clock.h"
#include "oshirase/allowlist.h"
#include "oshirase/log.h"
#include "oshirase/service.h"
#include "oshirase/signal.h"
#include "server.h"

#define CI_DURATION_MAX_MS  (24 * 3600 * 1000LL) /* a day: longer is a typo */
#define CI_BODY_MAX_BYTES   (1LL << 30)          /* the server buffers a body */
#define CI_HTTP_THREADS_MAX 256
#define CI_IDLE_SLICE_MS    1000 /* osh_sleep_ms wakes at once on a signal anyway */

/* The allow-list parses (against the schema registry, ready by configure)
 * and lets only exchange -> cloud records in, as the run requires. */
static int ci_allow_check(const char *val, char *why, size_t why_size)
{
        osh_allowlist_t *al = osh_allowlist_parse(val, why, why_size);
        int rc =
            al ? osh_allowlist_check_segments(al, OSH_SEG_EXCHANGE, OSH_SEG_CLOUD, why, why_size)
               : -1;

        osh_allowlist_destroy(al);
        return rc;
}

static const osh_cfg_entry_t ci_config_table[] = {
    {"listen.host", OSH_CFG_STR, "127.0.0.1", "OSH_INGEST_HOST", "numeric address to listen on",
     .check = osh_cfg_check_ip},
    {"listen.port", OSH_CFG_INT, "8443", "OSH_INGEST_PORT", "port (0: any free port)",
     .flags = OSH_CFG_RANGE, .min = 0, .max = 65535},
    {"listen.port.file", OSH_CFG_STR, NULL, "OSH_INGEST_PORT_FILE",
     "write the bound port here once listening (with listen.port 0)"},
    {"tls.cert", OSH_CFG_STR, NULL, "OSH_INGEST_TLS_CERT",
     "server certificate PEM (unset: plain HTTP)", .check = osh_cfg_check_file},
    {"tls.key", OSH_CFG_STR, NULL, "OSH_INGEST_TLS_KEY", "server key PEM",
     .check = osh_cfg_check_file},
    {"tls.client.ca", OSH_CFG_STR, NULL, "OSH_INGEST_TLS_CLIENT_CA",
     "CA PEM for client certificates (mutual TLS)", .check = osh_cfg_check_file},
    {"auth.mode", OSH_CFG_STR, "hmac", "OSH_INGEST_AUTH_MODE",
     "hmac | mtls | any (a verified client certificate, else a token)", .allowed = "hmac|mtls|any"},
    {"auth.keys", OSH_CFG_STR, NULL, "OSH_INGEST_KEYS",
     "HMAC keys id:secret[,id:secret] (prefer auth.keys.file)"},
    {"auth.keys.file", OSH_CFG_STR, NULL, "OSH_INGEST_KEYS_FILE", "file of 'id secret' lines",
     .check = osh_cfg_check_file},
    {"auth.max.skew", OSH_CFG_DURATION_MS, "5m", "OSH_INGEST_MAX_SKEW",
     "accepted clock difference of a token", .flags = OSH_CFG_RANGE, .min = 1,
     .max = CI_DURATION_MAX_MS},
    {"allow", OSH_CFG_STR, "resident.abstracted.v1,batch.control.v1", "OSH_INGEST_ALLOW",
     "(topic[@fingerprint|@schema]) that may enter the cloud"},
    {"target", OSH_CFG_STR, "cloud", "OSH_INGEST_TARGET",
     "the TransferBatch target this ingest accepts"},
    {"max.batch.bytes", OSH_CFG_SIZE, "16M", "OSH_INGEST_MAX_BATCH",
     "largest batch body (413 above)", .flags = OSH_CFG_RANGE, .min = 1, .max = CI_BODY_MAX_BYTES},
    {"max.csv.bytes", OSH_CFG_SIZE, "256M", "OSH_INGEST_MAX_CSV",
     "largest destinations upload (413 above; a city of 1M residents is about 80 MiB)",
     .flags = OSH_CFG_RANGE, .min = 1, .max = CI_BODY_MAX_BYTES},
    {"delivery.timeout", OSH_CFG_DURATION_MS, "30s", "OSH_INGEST_DELIVERY_TIMEOUT",
     "wait for the cloud cluster before answering 503", .flags = OSH_CFG_RANGE, .min = 1,
     .max = CI_DURATION_MAX_MS},
    {"http.threads", OSH_CFG_INT, "4", "OSH_INGEST_HTTP_THREADS", "HTTP worker threads",
     .flags = OSH_CFG_RANGE, .min = 1, .max = CI_HTTP_THREADS_MAX},
    {"destinations.categories", OSH_CFG_STR, CI_DEST_DEFAULT_CATEGORIES, "OSH_INGEST_CATEGORIES",
     "known notice categories"},
};

/* What the table cannot say: the keys parse, the mode has what it needs. */
static int ci_configure(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        const osh_config_t *cfg = svc->cfg;
        ci_auth_t *auth =
            ci_auth_new(osh_config_str(cfg, "auth.mode"), osh_config_str(cfg, "auth.keys"),
                        osh_config_str(cfg, "auth.keys.file"), osh_config_int(cfg, "auth.max.skew"),
                        errstr, errstr_size);
        int rc = auth ? 0 : -1;
        char why[256];

        if (auth && ci_allow_check(osh_config_str(cfg, "allow"), why, sizeof(why))) {
                snprintf(errstr, errstr_size, "allow: %s", why);
                rc = -1;
        } else if (auth && ci_auth_mode(auth) != CI_AUTH_HMAC &&
                   !osh_config_str(cfg, "tls.client.ca")) {
                snprintf(errstr, errstr_size, "auth.mode mtls/any needs tls.client.ca");
                rc = -1;
        }
        ci_auth_destroy(auth);
        return rc;
}

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
                osh_sleep_ms(CI_IDLE_SLICE_MS);
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
    .configure = ci_configure,
    .open = ci_open,
    .run = ci_run,
    .close = ci_close,
    .ready_after_open = 1,
};
