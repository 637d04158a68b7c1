/* A thin HTTP(S) server over libmicrohttpd: a route table, full request
 * bodies collected under a size limit, and response helpers. Used by
 * cloud-ingest, the monitor and the provider fakes.
 *
 *   static const osh_http_route_t routes[] = {
 *           {"POST", "/v1/batches", on_batch, on_batch_headers, 32u << 20},
 *           {"GET", "/status", on_status, NULL, 0},
 *   };
 *   srv = osh_http_server_start(&opts, routes, 2, errstr, sizeof(errstr));
 *
 * The server answers on its own: 404 for an unknown path, 405 (with Allow)
 * for a known path with another method, 413 for a body over the route's
 * limit (at once when Content-Length says so, without reading the body),
 * 500 when a handler leaves no status. Handlers run on the server's thread
 * pool, so they must be thread-safe; they may block (the pool size bounds
 * concurrency).
 *
 * TLS (GnuTLS inside libmicrohttpd): cert_file + key_file enable HTTPS.
 * client_ca_file also asks every client for a certificate; the request then
 * says whether the client presented one that chains to that CA (peer), and
 * the handler decides what to do about it (mutual TLS is one of two ways to
 * authenticate, so a missing certificate is not a handshake failure). */
#ifndef OSHIRASE_HTTP_SERVER_H
#define OSHIRASE_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>

#define OSH_HTTP_DEFAULT_MAX_BODY  (16u * 1024u * 1024u)
#define OSH_HTTP_MAX_EXTRA_HEADERS 6

/* What the TLS layer knows about the client. */
typedef enum {
        OSH_HTTP_PEER_NONE = 0, /* plain HTTP, no client CA configured, or no certificate sent */
        OSH_HTTP_PEER_VERIFIED, /* certificate chains to client_ca_file and is in its validity */
        OSH_HTTP_PEER_INVALID,  /* a certificate was sent but did not verify */
} osh_http_peer_t;

typedef struct osh_http_request {
        const char *method;
        const char *path;         /* without the query string, %-decoded */
        const char *content_type; /* media type only (parameters cut), NULL if absent */
        int64_t content_length;   /* -1 when absent (chunked) */
        const uint8_t *body;      /* NULL in a pre-check; else the whole body (may be empty) */
        size_t body_len;
        osh_http_peer_t peer;
        void *conn_; /* internal */
} osh_http_request_t;

/* A handler's answer. Fill it with the helpers below; the server frees it. */
typedef struct osh_http_reply {
        int status; /* 0: not answered (pre-check: carry on reading the body) */
        char content_type[64];
        uint8_t *body; /* malloc'd, owned by the reply */
        size_t body_len;
        size_t extra_cnt;
        char extra[OSH_HTTP_MAX_EXTRA_HEADERS][2][160]; /* name, value */
} osh_http_reply_t;

/* Handler (body complete) or pre-check (headers only, body == NULL).
 * opaque is osh_http_server_opts_t.opaque. */
typedef void(osh_http_handler_t)(void *opaque, const osh_http_request_t *req,
                                 osh_http_reply_t *rep);

typedef struct osh_http_route {
        const char *method; /* "GET", "POST", ... */
        const char *path;   /* exact match; a trailing '*' matches any suffix */
        osh_http_handler_t *handler;
        osh_http_handler_t *precheck; /* optional: answer early (status != 0) before the body */
        size_t max_body;              /* 0: opts.max_body */
} osh_http_route_t;

typedef struct osh_http_server_opts {
        const char *host;           /* numeric address to bind; NULL or "" = all IPv4 */
        uint16_t port;              /* 0 = ephemeral (see osh_http_server_port) */
        const char *cert_file;      /* PEM; with key_file enables TLS */
        const char *key_file;       /* PEM */
        const char *client_ca_file; /* PEM; request and verify client certificates */
        size_t max_body;            /* 0: OSH_HTTP_DEFAULT_MAX_BODY */
        unsigned threads;           /* worker threads; 0: 2 */
        /* > 0: each connection on its own thread, at most this many at
         * once (threads is then unused). For handlers that wait on another
         * service: in a pool, the connections sharing a thread queue
         * behind a waiting one. */
        unsigned connection_threads;
        unsigned timeout_s; /* idle connection timeout; 0: 30 */
        void *opaque;       /* passed to handlers */
        /* Optional, copied: name, value, name, value, ..., NULL. Added to
         * every response, the 404/405/413 the server writes itself
         * included (security headers). */
        const char *const *headers;
} osh_http_server_opts_t;

typedef struct osh_http_server osh_http_server_t;

/* 1 if this libmicrohttpd was built with TLS. */
int osh_http_tls_supported(void);

/* Copies routes and option strings (files are read now). Starts serving at
 * once. NULL with errstr on a bad address, unreadable PEM, TLS unsupported
 * or a port in use. Stop with osh_http_server_stop(). */
osh_http_server_t *osh_http_server_start(const osh_http_server_opts_t *opts,
                                         const osh_http_route_t *routes, size_t n, char *errstr,
                                         size_t errstr_size);
/* The bound port (useful with port 0). */
uint16_t osh_http_server_port(const osh_http_server_t *s);
/* Writes the bound port and a newline to path (NULL or "" = nothing), via a
 * temporary file and rename, so whoever waits for the file reads a whole
 * number. Lets a test start a server on port 0 instead of picking a port
 * that another process may take before the server binds it. 0 / -1. */
int osh_http_server_write_port(const osh_http_server_t *s, const char *path, char *errstr,
                               size_t errstr_size);
/* Stops accepting, waits for running handlers, frees. NULL ok. */
void osh_http_server_stop(osh_http_server_t *s);

/* A request header (case-insensitive name), NULL if absent. Valid during
 * the handler call. */
const char *osh_http_request_header(const osh_http_request_t *req, const char *name);

/* A query-string argument (%-decoded), NULL if absent. Valid during the
 * handler call. */
const char *osh_http_request_arg(const osh_http_request_t *req, const char *name);
/* The client's numeric address written into buf ("unknown" if not known);
 * returns buf. */
const char *osh_http_request_remote(const osh_http_request_t *req, char *buf, size_t size);

/* Reply helpers: each replaces the body. 0 / -1 (OOM: the server then sends
 * 500). Bodies are copied. */
int osh_http_reply_set(osh_http_reply_t *rep, int status, const char *content_type,
                       const void *body, size_t len);
/* text/plain; charset=utf-8, printf-style, newline added. */
int osh_http_reply_text(osh_http_reply_t *rep, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* application/json: {"error": <reason>} with the reason JSON-escaped. */
int osh_http_reply_error(osh_http_reply_t *rep, int status, const char *reason);
/* Takes ownership of a malloc'd body. */
void osh_http_reply_take(osh_http_reply_t *rep, int status, const char *content_type, uint8_t *body,
                         size_t len);
/* Adds a response header (copied, truncated to 159 bytes). 0 / -1 when full. */
int osh_http_reply_header(osh_http_reply_t *rep, const char *name, const char *value);

/* The reason phrase of a status code ("Not Found"), "Unknown" otherwise. */
const char *osh_http_status_text(int status);

#endif
