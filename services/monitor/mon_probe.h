/* The end-to-end probe (spec 10): POST a ProbeRequest to cloud-ingest's
 * /v1/probe over the same link and credentials as the relay's uplink, and
 * read the cloud's health from the ProbeResponse. */
#ifndef MON_PROBE_H
#define MON_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/http_client.h"
#include "oshirase/transfer.h"

#include "mon_model.h"

#define MON_PROBE_PATH "/v1/probe"

typedef struct mon_probe_opts {
        const char *url;    /* cloud-ingest base URL, e.g. https://cloud:8443 */
        const char *key_id; /* HMAC key id; NULL = no bearer token (mutual TLS) */
        const void *secret;
        size_t secret_len;
        osh_http_tls_t tls;
        int64_t timeout_ms;
        const char *source; /* "exchange/<instance>" */
} mon_probe_opts_t;

typedef struct mon_prober mon_prober_t;

/* Strings and the secret are copied. NULL with errstr. */
mon_prober_t *mon_prober_new(const mon_probe_opts_t *o, char *errstr, size_t errstr_size);
void mon_prober_destroy(mon_prober_t *p); /* NULL ok */

/* Sends one probe (blocking, at most timeout), fills r, and hands the
 * cloud's heartbeats to the model. Does not call mon_model_probe(). */
void mon_prober_run(mon_prober_t *p, int64_t now_ms, mon_probe_result_t *r, mon_model_t *m);

/* Reads a ProbeResponse into r (state OK) and its heartbeats into m (which
 * may be NULL). Fails (-1, detail set, state FAILED) when it does not echo
 * probe_id. */
int mon_probe_read(const Osh__ProbeResponse *resp, const char *probe_id, mon_probe_result_t *r,
                   mon_model_t *m);

/* Classifies a transport error text or an HTTP status (status 0 = no
 * response) into a probe state. */
mon_probe_state_t mon_probe_classify(long status, const char *transport_error);

#endif
