/* The shared life of a service: configuration, logging, signals, schemas,
 * heartbeat, readiness. Every service has the same shape: its config table
 * and an osh_service_app_t in <name>_service.c (inside its _core library,
 * where tests reach them), and a main.c of a few lines:
 *
 *     int main(int argc, char **argv)
 *     {
 *             return osh_service_main(&monitor_app, argc, argv);
 *     }
 *
 * The phases are configure (parse and check everything the run would
 * refuse, so --check fails exactly when the run would), open (connect),
 * run, close, unconfigure. The pieces (osh_service_init, _check_done,
 * _ready, _fini) stay public for tests and tools.
 */
#ifndef OSHIRASE_SERVICE_H
#define OSHIRASE_SERVICE_H

#include "oshirase/config.h"
#include "oshirase/heartbeat.h"

typedef struct osh_service {
        const char *name;
        osh_config_t *cfg;
        osh_heartbeat_t *hb; /* NULL with --check or heartbeat.enable=false */
        osh_replay_t replay;
        /* What app->configure stored: the service's own parsed
         * configuration, owned by the service and freed by
         * app->unconfigure. NULL without a configure callback. */
        void *conf;
} osh_service_t;

/* Loads the configuration (table is borrowed for the service's lifetime;
 * a positional argument is an error),
 * starts logging, installs signal handlers, initialises the schema registry
 * and, unless --check, starts the heartbeat on the cluster that hb_prefix's
 * pass-through keys describe (e.g. "kafka."). Returns OSH_CONFIG_RUN,
 * OSH_CONFIG_EXIT (help/version printed, or --check passed) or
 * OSH_CONFIG_FAIL (reason logged). On anything but RUN the service is
 * already finalised. */
int osh_service_init(osh_service_t *svc, const char *name, const osh_cfg_entry_t *table, size_t n,
                     const char *hb_prefix, int argc, char **argv);
/* With --check: prints the effective configuration and returns 1 (the
 * caller then finalises and exits 0); otherwise 0. */
int osh_service_check_done(osh_service_t *svc);
/* Marks the service RUNNING and touches ready.file if configured. */
void osh_service_ready(osh_service_t *svc);
/* Counter shortcut that tolerates a NULL heartbeat. */
void osh_service_count(osh_service_t *svc, osh_counter_t ctr, uint64_t n);
/* Stops the heartbeat (final STOPPED record) and frees. Safe twice. */
void osh_service_fini(osh_service_t *svc);

/* One service: its configuration and the callbacks osh_service_main calls
 * in order. Error messages are logged as the callback wrote them, so a
 * callback adds its own prefix ("producer: ..."). */
typedef struct osh_service_app {
        const char *name;
        const osh_cfg_entry_t *table;
        size_t ntable;
        const char *hb_prefix; /* as for osh_service_init */
        /* Optional. Parses and checks what the table cannot, before --check
         * ends, so that --check refuses what a run would, and stores the
         * service's own configuration in *conf (it becomes svc->conf).
         * -1 with errstr: exit 2. */
        int (*configure)(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size);
        /* Optional. Frees what configure stored (also a half-built conf
         * after configure failed; NULL when it stored nothing). */
        void (*unconfigure)(void *conf);
        /* Builds the service (not with --check) from svc->cfg and
         * svc->conf. NULL with errstr: exit 1. */
        void *(*open)(osh_service_t *svc, char *errstr, size_t errstr_size);
        /* Runs until shutdown; returns the process exit code. */
        int (*run)(void *app);
        void (*close)(void *app); /* optional */
        /* osh_service_ready() between open and run; 0 where run says ready
         * itself (the segmenter only once its state has caught up). */
        int ready_after_open;
} osh_service_app_t;

/* The whole process: osh_service_init (exit 0 after --help, 2 on a bad
 * configuration), configure, --check (exit 0), open, ready, run, close,
 * unconfigure, osh_service_fini. Returns the exit code for main(). */
int osh_service_main(const osh_service_app_t *app, int argc, char **argv);

#endif
