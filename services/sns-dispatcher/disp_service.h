/* sns-dispatcher wiring: configuration table and service object (disp_app), the notify.dispatch.v1
 * consumer, the notify.status.v1 / campaign.results.v1 producer, the
 * ledger and the core, and the run loop. */
#ifndef DISP_SERVICE_H
#define DISP_SERVICE_H

#include <stddef.h>

#include "oshirase/config.h"
#include "oshirase/service.h"

/* The service's keys followed by every registered channel's (built before
 * main from channels/channel.c's registry). */
extern osh_cfg_entry_t disp_config_table[];
extern size_t disp_config_table_len;

typedef struct disp_service disp_service_t;

/* The sns-dispatcher service, for osh_service_main. */
extern osh_service_app_t disp_app;

/* Validates what the generic loader cannot (rate specs, quiet hours).
 * 0 / -1 with errstr. */
int disp_service_validate(osh_service_t *svc, void **conf, char *errstr, size_t errstr_size);

/* svc must be initialised with disp_config_table. NULL with errstr. */
disp_service_t *disp_service_new(osh_service_t *svc, char *errstr, size_t errstr_size);
/* Runs until a shutdown is requested. 0, or -1 on a fatal error. */
int disp_service_run(disp_service_t *s);
/* Final report, flush, close. NULL ok. */
void disp_service_destroy(disp_service_t *s);

#endif
