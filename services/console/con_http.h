/* The console's HTTPS side: static assets and the JSON API (routes listed
 * in con_http.c), on lib http_server.h. Every response carries the
 * security headers (CSP without inline script, frame-ancestors 'none',
 * nosniff, no-referrer); API answers are no-store. Every /api/ route
 * except sign-in needs a session cookie; every POST needs the session's
 * CSRF token in X-CSRF-Token and a JSON (or, for uploads, CSV) body. */
#ifndef CON_HTTP_H
#define CON_HTTP_H

#include "oshirase/service.h"

#include "console_service.h"

typedef struct console console_t;

/* Opens the account and state files, the dictionary, the Kafka link, then
 * listens. Borrows svc and conf. NULL with errstr. */
console_t *console_new(osh_service_t *svc, const con_conf_t *conf, char *errstr,
                       size_t errstr_size);
unsigned console_port(const console_t *c);
void console_destroy(console_t *c); /* NULL ok */

/* Embedded web assets (generated at build time from services/console/web). */
typedef struct con_asset {
        const char *path; /* "/static/app.js" */
        const char *type;
        const unsigned char *data;
        size_t len;
} con_asset_t;
extern const con_asset_t con_assets[];
extern const size_t con_asset_count;

#endif
