/* Internals of mon_model_t shared by mon_model.c (judgements) and
 * mon_render.c (JSON, Prometheus text, ops.health.v1). Callers hold
 * m->lock. */
#ifndef MON_MODEL_INT_H
#define MON_MODEL_INT_H

#include <pthread.h>

#include "mon_model.h"

typedef struct svc {
        char service[64], instance[MON_NAME_MAX], segment[16], state[16];
        char last_batch[MON_NAME_MAX];
        int from_probe;
        int64_t ts_ms, started_ms, in, out, rejected, errors, lag, lost;
        mon_lag_window_t win; /* (records_in, records_in + lag) per heartbeat */
        mon_lag_status_t lag_status;
        const char *health; /* static string, set by evaluate */
        char reported[16];
} svc_t;

typedef struct grp {
        char group[MON_NAME_MAX], topic[MON_NAME_MAX], service[64];
        int32_t nparts;
        mon_lag_window_t win[MON_MAX_PARTITIONS];
        mon_lag_status_t status;
        int64_t lag;
        int64_t lost; /* committed below the low watermark: removed unread */
        char reported[16];
} grp_t;

struct mon_model {
        pthread_mutex_t lock;
        mon_opts_t o;
        char instance[MON_NAME_MAX];
        svc_t svcs[MON_MAX_SERVICES];
        size_t nsvc;
        grp_t *grps; /* MON_MAX_GROUPS: large windows, so on the heap */
        size_t ngrp;
        mon_probe_result_t probe;
        int64_t probe_last_ok, probe_attempts, probe_failures;
        char probe_reported[16];
        mon_health_t overall;
        char overall_reported[16];
        int64_t eval_ms;
};

int mon_svc_fresh(const mon_model_t *m, const svc_t *s, int64_t now);
int mon_svc_watched(const mon_model_t *m, const char *service);

#endif
