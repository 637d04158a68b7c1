#define _GNU_SOURCE /* vasprintf */
#include "oshirase/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>

#include "oshirase/log.h"

struct osh_http_server {
        struct MHD_Daemon *d;
        osh_http_route_t *routes;
        size_t n;
        size_t max_body;
        int verify_peers;
        void *opaque;
        char *cert, *key, *ca; /* PEM text; MHD keeps pointers to them */
        char **headers;        /* opts.headers copied: name, value, ..., NULL */
        uint16_t port;
};

/* Per-request state between the access-handler calls. */
struct req_state {
        const osh_http_route_t *route;
        size_t limit;
        uint8_t *buf;
        size_t len, cap;
        int too_large; /* body went over the limit: drained, answered 413 */
};

int osh_http_tls_supported(void)
{
        return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

const char *osh_http_status_text(int status)
{
        static const struct {
                int code;
                const char *text;
        } t[] = {{200, "OK"},
                 {201, "Created"},
                 {202, "Accepted"},
                 {204, "No Content"},
                 {400, "Bad Request"},
                 {401, "Unauthorized"},
                 {403, "Forbidden"},
                 {404, "Not Found"},
                 {405, "Method Not Allowed"},
                 {409, "Conflict"},
                 {413, "Content Too Large"},
                 {415, "Unsupported Media Type"},
                 {422, "Unprocessable Content"},
                 {429, "Too Many Requests"},
                 {500, "Internal Server Error"},
                 {502, "Bad Gateway"},
                 {503, "Service Unavailable"}};

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
                if (t[i].code == status)
                        return t[i].text;
        return "Unknown";
}

/* ---- replies ----------------------------------------------------------- */

void osh_http_reply_take(osh_http_reply_t *rep, int status, const char *content_type, uint8_t *body,
                         size_t len)
{
        free(rep->body);
        rep->status = status;
        snprintf(rep->content_type, sizeof(rep->content_type), "%s",
                 content_type ? content_type : "application/octet-stream");
        rep->body = body;
        rep->body_len = body ? len : 0;
}

int osh_http_reply_set(osh_http_reply_t *rep, int status, const char *content_type,
                       const void *body, size_t len)
{
        uint8_t *copy = malloc(len ? len : 1);

        if (!copy) {
                osh_http_reply_take(rep, 500, "text/plain", NULL, 0);
                return -1;
        }
        if (len)
                memcpy(copy, body, len);
        osh_http_reply_take(rep, status, content_type, copy, len);
        return 0;
}

int osh_http_reply_text(osh_http_reply_t *rep, int status, const char *fmt, ...)
{
        char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0) {
                osh_http_reply_take(rep, 500, "text/plain", NULL, 0);
                return -1;
        }
        char *nl = realloc(s, (size_t)n + 2);
        if (!nl) {
                free(s);
                osh_http_reply_take(rep, 500, "text/plain", NULL, 0);
                return -1;
        }
        nl[n] = '\n';
        nl[n + 1] = '\0';
        osh_http_reply_take(rep, status, "text/plain; charset=utf-8", (uint8_t *)nl, (size_t)n + 1);
        return 0;
}

int osh_http_reply_error(osh_http_reply_t *rep, int status, const char *reason)
{
        json_t *o = json_pack("{s:s}", "error", reason ? reason : osh_http_status_text(status));
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        int rc;

        json_decref(o);
        if (!s) {
                osh_http_reply_take(rep, 500, "text/plain", NULL, 0);
                return -1;
        }
        rc = osh_http_reply_set(rep, status, "application/json", s, strlen(s));
        free(s);
        return rc;
}

int osh_http_reply_header(osh_http_reply_t *rep, const char *name, const char *value)
{
        if (rep->extra_cnt >= OSH_HTTP_MAX_EXTRA_HEADERS)
                return -1;
        snprintf(rep->extra[rep->extra_cnt][0], sizeof(rep->extra[0][0]), "%s", name);
        snprintf(rep->extra[rep->extra_cnt][1], sizeof(rep->extra[0][1]), "%s", value);
        rep->extra_cnt++;
        return 0;
}

static enum MHD_Result send_reply(const osh_http_server_t *s, struct MHD_Connection *conn,
                                  osh_http_reply_t *rep, int close)
{
        struct MHD_Response *r;
        enum MHD_Result ret;

        if (rep->status < 100 || rep->status > 599) {
                osh_error("http: handler left status %d; answering 500", rep->status);
                osh_http_reply_error(rep, 500, "internal error");
        }
        r = MHD_create_response_from_buffer(rep->body_len, rep->body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(rep->body);
                rep->body = NULL;
                return MHD_NO;
        }
        rep->body = NULL; /* MHD owns it now */
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rep->content_type);
        for (size_t i = 0; i < rep->extra_cnt; i++)
                MHD_add_response_header(r, rep->extra[i][0], rep->extra[i][1]);
        for (size_t i = 0; s->headers && s->headers[i]; i += 2)
                MHD_add_response_header(r, s->headers[i], s->headers[i + 1]);
        if (close)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
        ret = MHD_queue_response(conn, (unsigned)rep->status, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result send_error(const osh_http_server_t *s, struct MHD_Connection *conn,
                                  int status, const char *reason, const char *allow, int close)
{
        osh_http_reply_t rep = {0};

        osh_http_reply_error(&rep, status, reason);
        if (allow)
                osh_http_reply_header(&rep, "Allow", allow);
        return send_reply(s, conn, &rep, close);
}

/* ---- requests ---------------------------------------------------------- */

const char *osh_http_request_header(const osh_http_request_t *req, const char *name)
{
        return MHD_lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
}

const char *osh_http_request_arg(const osh_http_request_t *req, const char *name)
{
        return MHD_lookup_connection_value(req->conn_, MHD_GET_ARGUMENT_KIND, name);
}

const char *osh_http_request_remote(const osh_http_request_t *req, char *buf, size_t size)
{
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(req->conn_, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;

        snprintf(buf, size, "unknown");
        if (sa && sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
                          (socklen_t)size);
        else if (sa && sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
                          (socklen_t)size);
        return buf;
}

static int copy_headers(osh_http_server_t *s, const char *const *h)
{
        size_t n = 0;

        while (h && h[n] && h[n + 1])
                n += 2;
        if (!n)
                return 0;
        if (!(s->headers = calloc(n + 1, sizeof(*s->headers))))
                return -1;
        for (size_t i = 0; i < n; i++)
                if (!(s->headers[i] = strdup(h[i])))
                        return -1;
        return 0;
}

static osh_http_peer_t peer_status(const osh_http_server_t *s, struct MHD_Connection *conn)
{
        const union MHD_ConnectionInfo *ci;
        unsigned int n = 0, status = 0;

        if (!s->verify_peers)
                return OSH_HTTP_PEER_NONE;
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!ci || !ci->tls_session)
                return OSH_HTTP_PEER_NONE;
        if (!gnutls_certificate_get_peers(ci->tls_session, &n) || n == 0)
                return OSH_HTTP_PEER_NONE;
        if (gnutls_certificate_verify_peers2(ci->tls_session, &status) != GNUTLS_E_SUCCESS ||
            status != 0)
                return OSH_HTTP_PEER_INVALID;
        return OSH_HTTP_PEER_VERIFIED;
}

/* Media type without parameters, lower-cased into buf. */
static const char *media_type(struct MHD_Connection *conn, char *buf, size_t size)
{
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        size_t i = 0;

        if (!ct)
                return NULL;
        while (*ct == ' ' || *ct == '\t')
                ct++;
        for (; ct[i] && ct[i] != ';' && ct[i] != ' ' && ct[i] != '\t' && i + 1 < size; i++)
                buf[i] = (char)((ct[i] >= 'A' && ct[i] <= 'Z') ? ct[i] + 32 : ct[i]);
        buf[i] = '\0';
        return buf;
}

static int64_t content_length(struct MHD_Connection *conn)
{
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        char *end;
        long long v;

        if (!cl)
                return -1;
        errno = 0;
        v = strtoll(cl, &end, 10);
        if (errno || end == cl || v < 0)
                return -1;
        return v;
}

static void fill_request(osh_http_server_t *s, struct MHD_Connection *conn, const char *method,
                         const char *url, char *ct_buf, size_t ct_size, osh_http_request_t *req)
{
        memset(req, 0, sizeof(*req));
        req->method = method;
        req->path = url;
        req->content_type = media_type(conn, ct_buf, ct_size);
        req->content_length = content_length(conn);
        req->peer = peer_status(s, conn);
        req->conn_ = conn;
}

/* Exact match, or a prefix match when the route path ends in '*'
 * (e.g. "/2/dm_conversations/with/" + "*" for paths with an id inside). */
static int path_matches(const char *route, const char *url)
{
        size_t n = strlen(route);

        if (n && route[n - 1] == '*')
                return !strncmp(route, url, n - 1);
        return !strcmp(route, url);
}

/* Finds the route; on a miss answers 404 or 405 (listing allowed methods). */
static const osh_http_route_t *route_for(osh_http_server_t *s, const char *method, const char *url,
                                         char *allow, size_t allow_size)
{
        size_t used = 0;

        allow[0] = '\0';
        for (size_t i = 0; i < s->n; i++) {
                if (!path_matches(s->routes[i].path, url))
                        continue;
                if (!strcmp(s->routes[i].method, method))
                        return &s->routes[i];
                int w = snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "",
                                 s->routes[i].method);
                if (w > 0 && (size_t)w < allow_size - used)
                        used += (size_t)w;
        }
        return NULL;
}

static int append_body(struct req_state *st, const char *data, size_t len)
{
        if (st->too_large || st->len + len > st->limit) {
                st->too_large = 1; /* keep draining so the 413 reaches the client */
                return 0;
        }
        if (st->len + len > st->cap) {
                size_t cap = st->cap ? st->cap : 4096;
                while (cap < st->len + len)
                        cap *= 2;
                if (cap > st->limit)
                        cap = st->limit;
                uint8_t *nb = realloc(st->buf, cap);
                if (!nb)
                        return -1;
                st->buf = nb;
                st->cap = cap;
        }
        memcpy(st->buf + st->len, data, len);
        st->len += len;
        return 0;
}

/* First call for a request: route it, and let the pre-check or the size
 * limit answer before any body byte is read. */
static enum MHD_Result begin(osh_http_server_t *s, struct MHD_Connection *conn, const char *url,
                             const char *method, void **con_cls)
{
        char allow[128], ct[64];
        const osh_http_route_t *rt = route_for(s, method, url, allow, sizeof(allow));
        osh_http_request_t req;
        osh_http_reply_t rep = {0};
        struct req_state *st;

        if (!rt)
                return send_error(s, conn, allow[0] ? 405 : 404,
                                  allow[0] ? "method not allowed" : "no such path",
                                  allow[0] ? allow : NULL, 1);
        st = calloc(1, sizeof(*st));
        if (!st)
                return MHD_NO;
        st->route = rt;
        st->limit = rt->max_body ? rt->max_body : s->max_body;
        *con_cls = st;
        fill_request(s, conn, method, url, ct, sizeof(ct), &req);
        if (rt->precheck) {
                rt->precheck(s->opaque, &req, &rep);
                if (rep.status)
                        return send_reply(s, conn, &rep, 1);
                free(rep.body);
        }
        if (req.content_length >= 0 && (uint64_t)req.content_length > st->limit)
                return send_error(s, conn, 413, "request body too large", NULL, 1);
        return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
        osh_http_server_t *s = cls;
        struct req_state *st = *con_cls;
        osh_http_request_t req;
        osh_http_reply_t rep = {0};
        char ct[64];

        if (!st)
                return begin(s, conn, url, method, con_cls);
        if (*upload_data_size) {
                if (append_body(st, upload_data, *upload_data_size))
                        return MHD_NO;
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (st->too_large)
                return send_error(s, conn, 413, "request body too large", NULL, 1);
        fill_request(s, conn, method, url, ct, sizeof(ct), &req);
        req.body = st->buf ? st->buf : (const uint8_t *)"";
        req.body_len = st->len;
        st->route->handler(s->opaque, &req, &rep);
        return send_reply(s, conn, &rep, 0);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
        struct req_state *st = *con_cls;

        if (st) {
                free(st->buf);
                free(st);
                *con_cls = NULL;
        }
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
        char msg[512];

        vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        osh_debug("microhttpd: %s", msg);
}

/* ---- lifecycle --------------------------------------------------------- */

static char *slurp(const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        long n;

        if (!fp)
                goto fail;
        if (fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || n > (1 << 20) ||
            fseek(fp, 0, SEEK_SET))
                goto fail;
        buf = malloc((size_t)n + 1);
        if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n)
                goto fail;
        buf[n] = '\0';
        fclose(fp);
        return buf;
fail:
        snprintf(errstr, errstr_size, "cannot read %s: %s", path,
                 errno ? strerror(errno) : "too large");
        free(buf);
        if (fp)
                fclose(fp);
        return NULL;
}

static int load_tls(osh_http_server_t *s, const osh_http_server_opts_t *o, char *errstr,
                    size_t errstr_size)
{
        if (!o->cert_file != !o->key_file) {
                snprintf(errstr, errstr_size, "TLS needs both a certificate and a key file");
                return -1;
        }
        if (!o->cert_file) {
                if (o->client_ca_file) {
                        snprintf(errstr, errstr_size, "a client CA needs TLS (cert + key)");
                        return -1;
                }
                return 0;
        }
        if (!osh_http_tls_supported()) {
                snprintf(errstr, errstr_size, "libmicrohttpd was built without TLS");
                return -1;
        }
        if (!(s->cert = slurp(o->cert_file, errstr, errstr_size)) ||
            !(s->key = slurp(o->key_file, errstr, errstr_size)))
                return -1;
        if (o->client_ca_file && !(s->ca = slurp(o->client_ca_file, errstr, errstr_size)))
                return -1;
        s->verify_peers = s->ca != NULL;
        return 0;
}

static int parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, int *v6)
{
        struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

        memset(ss, 0, sizeof(*ss));
        *v6 = 0;
        if (!host || !*host || !strcmp(host, "0.0.0.0")) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons(port);
                a4->sin_addr.s_addr = htonl(INADDR_ANY);
                return 0;
        }
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
                a4->sin_family = AF_INET;
                a4->sin_port = htons(port);
                return 0;
        }
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons(port);
                *v6 = 1;
                return 0;
        }
        return -1;
}

static int copy_routes(osh_http_server_t *s, const osh_http_route_t *routes, size_t n, char *errstr,
                       size_t errstr_size)
{
        s->routes = calloc(n ? n : 1, sizeof(*routes));
        if (!s->routes) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                if (!routes[i].method || !routes[i].path || !routes[i].handler) {
                        snprintf(errstr, errstr_size, "route %zu lacks method, path or handler", i);
                        return -1;
                }
                s->routes[i] = routes[i];
        }
        s->n = n;
        return 0;
}

static struct MHD_Daemon *start_daemon(osh_http_server_t *s, const osh_http_server_opts_t *o,
                                       const struct sockaddr_storage *ss, int v6)
{
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        struct MHD_OptionItem opt[5];
        size_t k = 0;

        if (v6)
                flags |= MHD_USE_IPv6;
        if (s->cert) {
                flags |= MHD_USE_TLS;
                opt[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->cert};
                opt[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->key};
                if (s->ca)
                        opt[k++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca};
        }
        if (o->connection_threads) {
                flags |= MHD_USE_THREAD_PER_CONNECTION;
                opt[k++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                                   (intptr_t)o->connection_threads, NULL};
        } else {
                opt[k++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                                   (intptr_t)(o->threads ? o->threads : 2), NULL};
        }
        opt[k] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
        return MHD_start_daemon(
            flags, o->port, NULL, NULL, on_access, s, MHD_OPTION_SOCK_ADDR, ss,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->timeout_s ? o->timeout_s : 30),
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
            NULL, MHD_OPTION_ARRAY, opt, MHD_OPTION_END);
}

osh_http_server_t *osh_http_server_start(const osh_http_server_opts_t *opts,
                                         const osh_http_route_t *routes, size_t n, char *errstr,
                                         size_t errstr_size)
{
        osh_http_server_t *s = calloc(1, sizeof(*s));
        struct sockaddr_storage ss;
        const union MHD_DaemonInfo *di;
        int v6;

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->max_body = opts->max_body ? opts->max_body : OSH_HTTP_DEFAULT_MAX_BODY;
        s->opaque = opts->opaque;
        if (copy_headers(s, opts->headers)) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        if (copy_routes(s, routes, n, errstr, errstr_size) ||
            load_tls(s, opts, errstr, errstr_size))
                goto fail;
        if (parse_addr(opts->host, opts->port, &ss, &v6)) {
                snprintf(errstr, errstr_size, "not a numeric address: %s", opts->host);
                goto fail;
        }
        errno = 0;
        s->d = start_daemon(s, opts, &ss, v6);
        if (!s->d) {
                snprintf(errstr, errstr_size, "cannot listen on %s:%u%s%s",
                         opts->host && *opts->host ? opts->host : "*", opts->port,
                         errno ? ": " : " (bad certificate or key?)", errno ? strerror(errno) : "");
                goto fail;
        }
        di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
        s->port = di ? di->port : opts->port;
        return s;
fail:
        osh_http_server_stop(s);
        return NULL;
}

uint16_t osh_http_server_port(const osh_http_server_t *s)
{
        return s->port;
}

int osh_http_server_write_port(const osh_http_server_t *s, const char *path, char *errstr,
                               size_t errstr_size)
{
        char tmp[4096];
        FILE *fp;
        int ok;

        if (!path || !*path)
                return 0;
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        fp = fopen(tmp, "w");
        if (!fp)
                goto fail;
        ok = fprintf(fp, "%u\n", s->port) > 0;
        ok = (fclose(fp) == 0) && ok;
        if (ok && rename(tmp, path) == 0)
                return 0;
        unlink(tmp);
fail:
        snprintf(errstr, errstr_size, "port file %s: %s", path, strerror(errno));
        return -1;
}

void osh_http_server_stop(osh_http_server_t *s)
{
        if (!s)
                return;
        if (s->d)
                MHD_stop_daemon(s->d);
        free(s->routes);
        free(s->cert);
        free(s->key);
        free(s->ca);
        for (size_t i = 0; s->headers && s->headers[i]; i++)
                free(s->headers[i]);
        free(s->headers);
        free(s);
}
