#include "oshirase/service.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/signal.h"

static int start_heartbeat(osh_service_t *svc, const char *hb_prefix)
{
        char errstr[512];
        rd_kafka_conf_t *conf;
        osh_heartbeat_id_t id = {
            .service = svc->name,
            .instance = osh_config_str(svc->cfg, "instance"),
            .segment = osh_config_str(svc->cfg, "segment"),
        };

        conf = osh_kafka_conf_new(svc->cfg, hb_prefix, OSH_KAFKA_PRODUCER, NULL, errstr,
                                  sizeof(errstr));
        if (!conf)
                goto fail;
        svc->hb = osh_heartbeat_new(conf, &id, osh_config_int(svc->cfg, "heartbeat.interval"),
                                    errstr, sizeof(errstr));
        if (!svc->hb || osh_heartbeat_start(svc->hb))
                goto fail;
        return 0;
fail:
        osh_error("heartbeat: %s", errstr);
        return -1;
}

int osh_service_init(osh_service_t *svc, const char *name, const osh_cfg_entry_t *table, size_t n,
                     const char *hb_prefix, int argc, char **argv)
{
        char errstr[512];
        int rc;

        memset(svc, 0, sizeof(*svc));
        svc->name = name;
        svc->cfg = osh_config_new(name, table, n);
        if (!svc->cfg)
                return OSH_CONFIG_FAIL;
        rc = osh_config_load(svc->cfg, argc, argv, NULL, errstr, sizeof(errstr));
        /* Services take options only: a stray word is a value that lost its
         * key (a bare bool flag never takes the next argument). */
        if (rc == OSH_CONFIG_RUN && osh_config_positional_count(svc->cfg)) {
                snprintf(errstr, sizeof(errstr), "unexpected argument \"%.64s\" (use --key=value)",
                         osh_config_positional(svc->cfg, 0));
                rc = OSH_CONFIG_FAIL;
        }
        if (rc != OSH_CONFIG_RUN) {
                if (rc == OSH_CONFIG_FAIL)
                        fprintf(stderr, "%s: %s\n", name, errstr);
                goto done;
        }
        osh_config_init_log(svc->cfg);
        osh_signal_install();
        osh_config_replay_parse(osh_config_str(svc->cfg, "replay"), &svc->replay);
        rc = OSH_CONFIG_FAIL;
        if (osh_serde_init(errstr, sizeof(errstr))) {
                osh_error("schemas: %s", errstr);
                goto done;
        }
        if (!osh_config_check_only(svc->cfg) && hb_prefix && start_heartbeat(svc, hb_prefix))
                goto done;
        osh_info("starting %s %s", name, OSH_VERSION);
        return OSH_CONFIG_RUN;
done:
        osh_service_fini(svc);
        return rc;
}

int osh_service_check_done(osh_service_t *svc)
{
        if (!osh_config_check_only(svc->cfg))
                return 0;
        osh_config_dump(svc->cfg);
        printf("%s: configuration ok\n", svc->name);
        return 1;
}

void osh_service_ready(osh_service_t *svc)
{
        const char *path = osh_config_str(svc->cfg, "ready.file");
        int fd;

        if (svc->hb)
                osh_heartbeat_set_state(svc->hb, OSH_STATE_RUNNING);
        osh_info("ready");
        if (!path || !*path)
                return;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
                osh_warn("ready.file %s: cannot create", path);
                return;
        }
        close(fd);
        if (svc->hb)
                osh_heartbeat_set_alive_file(svc->hb, path);
}

void osh_service_count(osh_service_t *svc, osh_counter_t ctr, uint64_t n)
{
        if (svc->hb)
                osh_heartbeat_count(svc->hb, ctr, n);
}

void osh_service_fini(osh_service_t *svc)
{
        if (svc->hb) {
                osh_heartbeat_set_state(svc->hb, OSH_STATE_STOPPING);
                osh_heartbeat_destroy(svc->hb);
                svc->hb = NULL;
        }
        osh_kafka_close_wait(osh_shutdown_left_ms(OSH_SHUTDOWN_EXIT_MS));
        if (svc->cfg) {
                int64_t took = osh_shutdown_elapsed_ms();
                if (took >= 0) /* operators size their stop timeouts by it */
                        osh_info("stopped, %" PRId64 " ms after the stop request", took);
                else
                        osh_info("stopped");
                osh_config_destroy(svc->cfg);
                svc->cfg = NULL;
        }
}

/* open, ready, run, close: the exit code */
static int open_and_run(const osh_service_app_t *app, osh_service_t *svc)
{
        char errstr[512] = "";
        void *a = app->open(svc, errstr, sizeof(errstr));
        int rc;

        if (!a) {
                osh_error("%s", errstr);
                return 1;
        }
        if (app->ready_after_open)
                osh_service_ready(svc);
        rc = app->run(a);
        if (app->close)
                app->close(a);
        return rc;
}

/* configure, then --check or the run: the exit code */
static int configure_and_run(const osh_service_app_t *app, osh_service_t *svc)
{
        char errstr[512] = "";
        int rc = 2;

        if (app->configure && app->configure(svc, &svc->conf, errstr, sizeof(errstr))) {
                osh_error("%s", errstr);
                goto done;
        }
        rc = osh_service_check_done(svc) ? 0 : open_and_run(app, svc);
done:
        if (app->unconfigure)
                app->unconfigure(svc->conf);
        svc->conf = NULL;
        return rc;
}

int osh_service_main(const osh_service_app_t *app, int argc, char **argv)
{
        osh_service_t svc;
        int rc =
            osh_service_init(&svc, app->name, app->table, app->ntable, app->hb_prefix, argc, argv);

        if (rc != OSH_CONFIG_RUN)
                return rc == OSH_CONFIG_EXIT ? 0 : 2;
        rc = configure_and_run(app, &svc);
        osh_service_fini(&svc);
        return rc;
}
