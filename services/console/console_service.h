/* console: the staff web application (docs/architecture.md §10). Its
 * configuration table, parsed configuration and app object; main.c only
 * calls osh_service_main(&console_app, ...). */
#ifndef CONSOLE_SERVICE_H
#define CONSOLE_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/config.h"
#include "oshirase/service.h"

#define CON_WARDS_MAX 64

typedef struct con_ward {
        int code;
        char label[64];
} con_ward_t;

/* Everything configure checked; svc->conf of the console. */
typedef struct con_conf {
        const char *host, *cert, *key;
        uint16_t port;
        unsigned connections;
        const char *accounts_file, *state_file;
        int64_t idle_ms, max_ms, lock_ms, preview_timeout_ms, stale_ms;
        int max_failures, min_audience;
        int64_t approval_threshold;
        con_ward_t wards[CON_WARDS_MAX];
        size_t nwards;
        const char *ingest_url, *ingest_key_id, *ingest_ca;
        char *ingest_secret; /* read from ingest.key.file */
        size_t ingest_secret_len;
        size_t max_upload;
        const char *dict_file, *dict_key;
} con_conf_t;

extern const osh_cfg_entry_t con_config_table[];
extern const size_t con_config_table_len;
extern const osh_service_app_t console_app;

/* The configure step, public for tests: parses cfg into a new conf.
 * -1 with errstr (and *out possibly half-built: con_conf_free it). */
int con_conf_parse(const osh_config_t *cfg, con_conf_t **out, char *errstr, size_t errstr_size);
void con_conf_free(void *conf); /* NULL ok */
/* "12101:中央区,12102:花見川区" into conf->wards. 0 / -1. */
int con_wards_parse(const char *s, con_conf_t *conf, char *errstr, size_t errstr_size);

/* `console user add|create-admin ...`: account management from the
 * command line (password on stdin). Returns the exit code. */
int con_cli_main(int argc, char **argv);

#endif
