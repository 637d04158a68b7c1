#include "mon_http.h"

#include <string.h>
#include <time.h>
#include "oshirase/clock.h"

static void no_cache(osh_http_reply_t *rep)
{
        osh_http_reply_header(rep, "Cache-Control", "no-store");
}

/* "/" is index.html; "/<name>" one of the other dashboard files. */
static void on_dashboard(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        static const struct {
                const char *ext, *type;
        } types[] = {{".html", "text/html; charset=utf-8"},
                     {".css", "text/css; charset=utf-8"},
                     {".js", "text/javascript; charset=utf-8"}};
        const char *name = strcmp(req->path, "/") ? req->path + 1 : "index.html";
        const struct osh_asset *a = osh_asset_find(mon_dashboard, name);
        const char *dot = a ? strrchr(a->name, '.') : NULL;

        for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++) {
                if (strcmp(dot, types[i].ext))
                        continue;
                osh_http_reply_set(rep, 200, types[i].type, a->text, a->len);
                no_cache(rep);
                return;
        }
        osh_http_reply_error(rep, 404, "no such page");
}

static void on_status(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        char *s = mon_model_status_json(opaque, osh_wall_ms());

        if (!s) {
                osh_http_reply_error(rep, 500, "out of memory");
                return;
        }
        osh_http_reply_take(rep, 200, "application/json", (uint8_t *)s, strlen(s));
        no_cache(rep);
}

static void on_metrics(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        char *s = mon_model_metrics(opaque, osh_wall_ms());

        if (!s) {
                osh_http_reply_error(rep, 500, "out of memory");
                return;
        }
        osh_http_reply_take(rep, 200, "text/plain; version=0.0.4; charset=utf-8", (uint8_t *)s,
                            strlen(s));
}

static void on_healthz(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        osh_http_reply_text(rep, 200, "ok");
}

osh_http_server_t *mon_http_start(mon_model_t *m, const char *host, uint16_t port, char *errstr,
                                  size_t errstr_size)
{
        static const osh_http_route_t routes[] = {
            {"GET", "/", on_dashboard, NULL, 0},
            {"GET", "/dashboard.css", on_dashboard, NULL, 0},
            {"GET", "/dashboard.js", on_dashboard, NULL, 0},
            {"GET", "/status", on_status, NULL, 0},
            {"GET", "/metrics", on_metrics, NULL, 0},
            {"GET", "/healthz", on_healthz, NULL, 0},
        };
        osh_http_server_opts_t opts = {
            .host = host, .port = port, .max_body = 4096, .threads = 2, .opaque = m};

        return osh_http_server_start(&opts, routes, sizeof(routes) / sizeof(routes[0]), errstr,
                                     errstr_size);
}
