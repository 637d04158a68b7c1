/* The shared life of a service: configuration, logging, signals, schemas,
 * heartbeat, readiness. A service's main.c is then only
 *
 *     osh_service_t svc;
 *     int rc = osh_service_init(&svc, "extractor", table, n, argc, argv);
 *     if (rc != OSH_CONFIG_RUN) return rc == OSH_CONFIG_EXIT ? 0 : 2;
 *     ... create, osh_service_ready(&svc), run until osh_shutdown_requested() ...
 *     osh_service_fini(&svc);
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
} osh_service_t;

/* Loads the configuration (table is borrowed for the service's lifetime),
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

#endif
