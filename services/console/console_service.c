#include "console_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/log.h"
#include "oshirase/signal.h"

#include "con_http.h"

#define CHIBA_WARDS "12101:中央区,12102:花見川区,12103:稲毛区,12104:若葉区,12105:緑区,12106:美浜区"

const osh_cfg_entry_t con_config_table[] = {
    {"listen.host", OSH_CFG_STR, "127.0.0.1", "OSH_CONSOLE_HOST", "numeric address to listen on"},
    {"listen.port", OSH_CFG_INT, "8445", "OSH_CONSOLE_PORT", "port (0: any free port)"},
    {"tls.cert", OSH_CFG_STR, NULL, "OSH_CONSOLE_TLS_CERT", "server certificate PEM (required)"},
    {"tls.key", OSH_CFG_STR, NULL, "OSH_CONSOLE_TLS_KEY", "server key PEM (required)"},
    {"http.connections", OSH_CFG_INT, "256", "OSH_CONSOLE_HTTP_CONNECTIONS",
     "connections served at once, each on its own thread (a preview waits for the segmenter; in a "
     "shared pool the sessions on its thread waited behind it)"},
    {"accounts.file", OSH_CFG_STR, "console.accounts", "OSH_CONSOLE_ACCOUNTS",
     "staff accounts (0600; create the first admin with `console create-admin`)"},
    {"state.file", OSH_CFG_STR, "console.state.json", "OSH_CONSOLE_STATE",
     "destination sets, templates and sends awaiting approval"},
    {"session.idle", OSH_CFG_DURATION_MS, "15m", NULL,
     "sign out after this long without a request"},
    {"session.max", OSH_CFG_DURATION_MS, "8h", NULL, "sign out this long after sign-in"},
    {"lockout.failures", OSH_CFG_INT, "5", NULL,
     "consecutive failed sign-ins that lock an account"},
    {"lockout.time", OSH_CFG_DURATION_MS, "15m", NULL, "how long a locked account stays locked"},
    {"approval.threshold", OSH_CFG_INT, "1000", "OSH_CONSOLE_APPROVAL",
     "a send to more recipients needs a second staff member's approval"},
    {"min.audience", OSH_CFG_INT, "10", "OSH_CONSOLE_MIN_AUDIENCE",
     "smaller counts are shown as \"fewer than N\" and such sends are refused"},
    {"preview.timeout", OSH_CFG_DURATION_MS, "5s", NULL, "wait for the segmenter's answer"},
    {"data.stale", OSH_CFG_DURATION_MS, "36h", NULL, "warn when the served snapshot is older"},
    {"wards", OSH_CFG_STR, CHIBA_WARDS, "OSH_CONSOLE_WARDS",
     "ward picker: municipality_code:label[,...]"},
    {"ingest.url", OSH_CFG_STR, NULL, "OSH_CONSOLE_INGEST_URL",
     "cloud-ingest base URL for destination uploads (unset: uploads off)"},
    {"ingest.key.id", OSH_CFG_STR, NULL, "OSH_CONSOLE_INGEST_KEY_ID",
     "HMAC key id at cloud-ingest"},
    {"ingest.key.file", OSH_CFG_STR, NULL, "OSH_CONSOLE_INGEST_KEY_FILE",
     "file holding that key's secret"},
    {"ingest.ca", OSH_CFG_STR, NULL, "OSH_CONSOLE_INGEST_CA", "CA PEM that signed cloud-ingest"},
    {"max.upload", OSH_CFG_SIZE, "256M", NULL, "largest destinations CSV accepted"},
    {"dictionary.file", OSH_CFG_STR, NULL, "OSH_CONSOLE_DICTIONARY",
     "sealed attribute dictionary (unset: the compiled-in one)"},
    {"dictionary.key", OSH_CFG_STR, NULL, "OSH_CONSOLE_DICTIONARY_KEY", "staff key of that file"},
};
const size_t con_config_table_len = sizeof(con_config_table) / sizeof(con_config_table[0]);

int con_wards_parse(const char *s, con_conf_t *conf, char *errstr, size_t errstr_size)
{
        const char *p = s;

        conf->nwards = 0;
        while (p && *p) {
                const char *end = strchr(p, ','), *colon = strchr(p, ':');
                size_t n = end ? (size_t)(end - p) : strlen(p);
                char *num_end;
                long code = colon ? strtol(p, &num_end, 10) : 0;
                con_ward_t *w = &conf->wards[conf->nwards];

                if (!colon || colon > p + n || num_end != colon || code <= 0 || code > 99999 ||
                    conf->nwards == CON_WARDS_MAX ||
                    (size_t)(p + n - colon - 1) >= sizeof(w->label) || p + n == colon + 1) {
                        snprintf(errstr, errstr_size,
                                 "wards: expected code:label[,...] near \"%.20s\"", p);
                        return -1;
                }
                w->code = (int)code;
                memcpy(w->label, colon + 1, (size_t)(p + n - colon - 1));
                w->label[p + n - colon - 1] = '\0';
                conf->nwards++;
                p = end ? end + 1 : NULL;
        }
        return 0;
}

static int read_secret(con_conf_t *c, const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        char buf[512];
        size_t n;

        if (!fp) {
                snprintf(errstr, errstr_size, "ingest.key.file %s: %s", path, strerror(errno));
                return -1;
        }
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
                n--;
        if (!n || !(c->ingest_secret = malloc(n))) {
                snprintf(errstr, errstr_size, "ingest.key.file %s: empty", path);
                return -1;
        }
        memcpy(c->ingest_secret, buf, n);
        c->ingest_secret_len = n;
        return 0;
}

static int check_ranges(const osh_config_t *cfg, con_conf_t *c, char *errstr, size_t errstr_size)
{
        int64_t port = osh_config_int(cfg, "listen.port"),
                conns = osh_config_int(cfg, "http.connections");
        int64_t fails = osh_config_int(cfg, "lockout.failures");
        int64_t minaud = osh_config_int(cfg, "min.audience");

        if (port < 0 || port > 65535 || conns < 1 || conns > 1024 || fails < 1 || fails > 100 ||
            minaud < 1 || minaud > 1000000 || osh_config_int(cfg, "approval.threshold") < 0) {
                snprintf(errstr, errstr_size,
                         "out of range: listen.port 0-65535, http.connections 1-1024, "
                         "lockout.failures 1-100, min.audience 1-1000000, approval.threshold >= 0");
                return -1;
        }
        c->port = (uint16_t)port;
        c->connections = (unsigned)conns;
        c->max_failures = (int)fails;
        c->min_audience = (int)minaud;
        if (!c->cert || !c->key) {
                snprintf(errstr, errstr_size,
                         "tls.cert and tls.key are required: session cookies are Secure");
                return -1;
        }
        if (c->idle_ms <= 0 || c->max_ms < c->idle_ms) {
                snprintf(errstr, errstr_size, "session.idle must be > 0 and <= session.max");
                return -1;
        }
        return 0;
}

int con_conf_parse(const osh_config_t *cfg, con_conf_t **out, char *errstr, size_t errstr_size)
{
        con_conf_t *c = calloc(1, sizeof(*c));
        const char *keyfile = osh_config_str(cfg, "ingest.key.file");

        *out = c;
        if (!c) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        c->host = osh_config_str(cfg, "listen.host");
        c->cert = osh_config_str(cfg, "tls.cert");
        c->key = osh_config_str(cfg, "tls.key");
        c->accounts_file = osh_config_str(cfg, "accounts.file");
        c->state_file = osh_config_str(cfg, "state.file");
        c->idle_ms = osh_config_int(cfg, "session.idle");
        c->max_ms = osh_config_int(cfg, "session.max");
        c->lock_ms = osh_config_int(cfg, "lockout.time");
        c->preview_timeout_ms = osh_config_int(cfg, "preview.timeout");
        c->stale_ms = osh_config_int(cfg, "data.stale");
        c->approval_threshold = osh_config_int(cfg, "approval.threshold");
        c->ingest_url = osh_config_str(cfg, "ingest.url");
        c->ingest_key_id = osh_config_str(cfg, "ingest.key.id");
        c->ingest_ca = osh_config_str(cfg, "ingest.ca");
        c->max_upload = (size_t)osh_config_int(cfg, "max.upload");
        c->dict_file = osh_config_str(cfg, "dictionary.file");
        c->dict_key = osh_config_str(cfg, "dictionary.key");
        if (check_ranges(cfg, c, errstr, errstr_size) ||
            con_wards_parse(osh_config_str(cfg, "wards"), c, errstr, errstr_size))
                return -1;
        if (c->ingest_url && strncmp(c->ingest_url, "https://", 8) &&
            strncmp(c->ingest_url, "http://", 7)) {
                snprintf(errstr, errstr_size, "ingest.url must be an http(s) URL");
                return -1;
        }
        if (c->ingest_url && (!c->ingest_key_id || !keyfile)) {
                snprintf(errstr, errstr_size, "ingest.url needs ingest.key.id and ingest.key.file");
                return -1;
        }
        if (keyfile && read_secret(c, keyfile, errstr, errstr_size))
                return -1;
        if (!!c->dict_file != !!c->dict_key) {
                snprintf(errstr, errstr_size, "dictionary.file and dictionary.key go together");
                return -1;
        }
        return 0;
}

void con_conf_free(void *conf)
{
        con_conf_t *c = conf;

        if (!c)
                return;
        if (c->ingest_secret)
                memset(c->ingest_secret, 0, c->ingest_secret_len);
        free(c->ingest_secret);
        free(c);
}

static int con_configure(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size)
{
        con_conf_t *c = NULL;
        int rc = con_conf_parse(svc->cfg, &c, errstr, errstr_size);

        *conf = c;
        return rc;
}

static void *con_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        console_t *c = console_new(svc, svc->conf, errstr, errstr_size);

        if (c)
                osh_info("listening on https://%s:%u/", ((con_conf_t *)svc->conf)->host,
                         console_port(c));
        return c;
}

/* The HTTP server and the consumer have their own threads. */
static int con_run(void *app)
{
        while (!osh_shutdown_requested())
                usleep(100 * 1000);
        return 0;
}

static void con_close(void *app)
{
        console_destroy(app);
}

const osh_service_app_t console_app = {
    .name = "console",
    .table = con_config_table,
    .ntable = sizeof(con_config_table) / sizeof(con_config_table[0]),
    .hb_prefix = "kafka.",
    .configure = con_configure,
    .unconfigure = con_conf_free,
    .open = con_open,
    .run = con_run,
    .close = con_close,
    .ready_after_open = 1,
};
