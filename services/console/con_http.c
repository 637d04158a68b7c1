#define _GNU_SOURCE
#include "con_http.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/auth.h"
#include "oshirase/dictionary.h"
#include "oshirase/http_client.h"
#include "oshirase/http_server.h"
#include "oshirase/log.h"
#include "oshirase/quiet.h"

#include "con_accounts.h"
#include "con_api.h"
#include "con_link.h"
#include "con_session.h"
#include "con_store.h"
#include "con_view.h"

#define MAX_JSON (256u * 1024u)

struct console {
        osh_service_t *svc;
        const con_conf_t *conf;
        con_accounts_t *acc;
        con_sessions_t *ses;
        con_store_t *store;
        con_link_t *link;
        osh_dict_t *dict;
        osh_http_server_t *http;
};

/* What one API call knows about its caller. */
typedef struct call {
        console_t *c;
        const osh_http_request_t *req;
        osh_http_reply_t *rep;
        con_session_info_t s;
        char remote[64];
} call_t;

static const char *const security_headers[] = {
    "Content-Security-Policy",
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options",
    "nosniff",
    "X-Frame-Options",
    "DENY",
    "Referrer-Policy",
    "no-referrer",
    "Strict-Transport-Security",
    "max-age=31536000",
    NULL};

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- replies and audit ---- */

static void reply_json(osh_http_reply_t *rep, int status, json_t *j)
{
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

        json_decref(j);
        if (!s) {
                osh_http_reply_error(rep, 500, "out of memory");
        } else {
                osh_http_reply_take(rep, status, "application/json; charset=utf-8", (uint8_t *)s,
                                    strlen(s));
        }
        osh_http_reply_header(rep, "Cache-Control", "no-store");
}

static void reply_error(osh_http_reply_t *rep, int status, const char *reason)
{
        osh_http_reply_error(rep, status, reason);
        osh_http_reply_header(rep, "Cache-Control", "no-store");
}

static void audit(call_t *k, const char *actor, const char *action, const char *target,
                  const char *detail, const char *outcome)
{
        con_audit_t a = {actor ? actor : k->s.user,
                         k->s.user[0] ? con_role_name(k->s.role) : "",
                         action,
                         target,
                         detail,
                         outcome,
                         k->remote};

        con_link_audit(k->c->link, &a);
}

/* ---- the gate every API call passes ---- */

static int gate(call_t *k, con_role_t min, const char *media, const char *what)
{
        const osh_http_request_t *req = k->req;
        const char *cookie = osh_http_request_header(req, "Cookie");
        char id[CON_TOKEN_HEX + 1], msg[160];
        int post = strcmp(req->method, "GET") != 0;

        if (!cookie || con_cookie_session(cookie, id) ||
            con_sessions_get(k->c->ses, id, now_ms(), &k->s)) {
                memset(&k->s, 0, sizeof(k->s));
                reply_error(k->rep, 401, "not signed in (or the session expired)");
                return -1;
        }
        if (post && !con_csrf_ok(k->s.csrf, osh_http_request_header(req, "X-CSRF-Token"))) {
                reply_error(k->rep, 403, "missing or wrong CSRF token");
                audit(k, NULL, "REFUSED", req->path, "missing or wrong CSRF token", "DENIED");
                return -1;
        }
        if (post && (!req->content_type || strcmp(req->content_type, media))) {
                snprintf(msg, sizeof(msg), "Content-Type must be %s", media);
                reply_error(k->rep, 415, msg);
                return -1;
        }
        if (k->s.role < min) {
                snprintf(msg, sizeof(msg), "role %s may not %s (needs %s)",
                         con_role_name(k->s.role), what, con_role_name(min));
                reply_error(k->rep, 403, msg);
                audit(k, NULL, "REFUSED", req->path, msg, "DENIED");
                return -1;
        }
        return 0;
}

#define CALL(opaque, req, rep)                                                                     \
        call_t k = {.c = (opaque), .req = (req), .rep = (rep)};                                    \
        osh_http_request_remote((req), k.remote, sizeof(k.remote))

/* ---- static assets ---- */

static void on_asset(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        const char *path = strcmp(req->path, "/") ? req->path : "/static/index.html";

        for (size_t i = 0; i < con_asset_count; i++)
                if (!strcmp(con_assets[i].path, path)) {
                        osh_http_reply_set(rep, 200, con_assets[i].type, con_assets[i].data,
                                           con_assets[i].len);
                        osh_http_reply_header(rep, "Cache-Control", "no-cache");
                        return;
                }
        reply_error(rep, 404, "no such file");
}

/* ---- sign-in ---- */

static void session_cookie(call_t *k, const char *id, int64_t max_age_s)
{
        char v[160];

        snprintf(v, sizeof(v), "%s=%s; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=%lld",
                 CON_COOKIE, id, (long long)max_age_s);
        osh_http_reply_header(k->rep, "Set-Cookie", v);
}

static json_t *session_json(const console_t *c, const con_session_info_t *s)
{
        return json_pack("{s:s,s:s,s:s,s:i,s:I}", "user", s->user, "role", con_role_name(s->role),
                         "csrf", s->csrf, "min_audience", c->conf->min_audience,
                         "approval_threshold", (json_int_t)c->conf->approval_threshold);
}

static void on_login(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        con_login_req_t lr;
        con_role_t role;
        char err[160], id[CON_TOKEN_HEX + 1];
        con_login_t v;
        const char *who;

        if (!req->content_type || strcmp(req->content_type, "application/json"))
                return reply_error(rep, 415, "Content-Type must be application/json");
        if (con_api_parse_login(req->body, req->body_len, &lr, err, sizeof(err)))
                return reply_error(rep, 400, err);
        who = con_name_valid(lr.user) ? lr.user : "(invalid name)";
        v = con_accounts_login(k.c->acc, lr.user, lr.password, lr.otp, now_ms(),
                               k.c->conf->max_failures, k.c->conf->lock_ms, &role);
        if (v == CON_LOGIN_OK &&
            con_sessions_create(k.c->ses, lr.user, role, now_ms(), id, &k.s) == 0) {
                session_cookie(&k, id, k.c->conf->max_ms / 1000);
                reply_json(rep, 200, session_json(k.c, &k.s));
                audit(&k, NULL, "SIGN_IN", "", "", "OK");
        } else if (v == CON_LOGIN_OK) {
                reply_error(rep, 503, "too many sessions");
        } else if (v == CON_LOGIN_BAD) {
                reply_error(rep, 401, "wrong name, password or code");
                audit(&k, who, "SIGN_IN_FAILED", "", "wrong name, password or code", "DENIED");
        } else {
                reply_error(rep, 429, "account locked after repeated failures; try again later");
                audit(&k, who, v == CON_LOGIN_NOW_LOCKED ? "LOCKED_OUT" : "SIGN_IN_FAILED", "",
                      "account locked", "DENIED");
        }
        con_login_req_clear(&lr);
}

static void on_logout(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        char id[CON_TOKEN_HEX + 1];

        if (gate(&k, CON_ROLE_VIEWER, "application/json", "sign out"))
                return;
        if (!con_cookie_session(osh_http_request_header(req, "Cookie"), id))
                con_sessions_drop(k.c->ses, id);
        session_cookie(&k, "", 0);
        reply_json(rep, 200, json_pack("{s:b}", "ok", 1));
        audit(&k, NULL, "SIGN_OUT", "", "", "OK");
}

static void on_session(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);

        if (gate(&k, CON_ROLE_VIEWER, NULL, "read"))
                return;
        reply_json(rep, 200, session_json(k.c, &k.s));
}

/* Attribute labels come from the dictionary; ward labels from the config. */
static void on_dictionary(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        json_t *attrs = json_array(), *wards = json_array();

        if (gate(&k, CON_ROLE_VIEWER, NULL, "read"))
                return;
        for (size_t i = 0; i < osh_dict_count(k.c->dict); i++) {
                const osh_dict_entry_t *e = osh_dict_at(k.c->dict, i);
                if (e->type != OSH_DICT_FIELD)
                        json_array_append_new(attrs, json_pack("{s:s,s:s,s:s}", "name", e->name,
                                                               "label", e->label, "type",
                                                               osh_dict_type_name(e->type)));
        }
        for (size_t i = 0; i < k.c->conf->nwards; i++)
                json_array_append_new(wards,
                                      json_pack("{s:i,s:s}", "code", k.c->conf->wards[i].code,
                                                "label", k.c->conf->wards[i].label));
        /* Per-channel limits: the dispatcher's LINE and e-mail defaults, SMS
         * and +メッセージ (RCS) from seed 003 §6. */
        reply_json(rep, 200,
                   json_pack("{s:o,s:o,s:[{s:s,s:i},{s:s,s:i},{s:s,s:i},{s:s,s:i}]}", "attributes",
                             attrs, "wards", wards, "channels", "name", "LINE", "limit", 5000,
                             "name", "EMAIL", "limit", 100000, "name", "SMS", "limit", 660, "name",
                             "RCS", "limit", 2730));
}

/* ---- preview ---- */

static void random_id(const char *prefix, char *out, size_t size)
{
        unsigned char raw[8];
        char hex[17];
        time_t t = time(NULL);
        struct tm tm;

        randombytes_buf(raw, sizeof(raw));
        sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
        gmtime_r(&t, &tm);
        snprintf(out, size, "%s-%04d%02d%02d-%s", prefix, tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, hex);
}

/* Asks the segmenter; NULL after answering the error. */
static json_t *preview(call_t *k, const con_campaign_t *cp)
{
        char id[64], err[160];
        json_t *r;

        random_id("pv", id, sizeof(id));
        r = con_link_request(k->c->link, id, "PREVIEW", cp, k->c->conf->min_audience, k->s.user,
                             (int)k->c->conf->preview_timeout_ms, err, sizeof(err));
        if (!r)
                reply_error(k->rep, 504, err);
        return r;
}

static void on_preview(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        con_campaign_t cp;
        char err[200];
        json_t *r, *view;
        int64_t t0 = now_ms();

        if (gate(&k, CON_ROLE_VIEWER, "application/json", "preview"))
                return;
        if (con_api_parse_preview(req->body, req->body_len, &cp, err, sizeof(err)))
                return reply_error(rep, 400, err);
        if ((r = preview(&k, &cp))) {
                view = con_view_result(r, k.c->conf->min_audience);
                json_object_set_new(view, "audience",
                                    con_view_count(con_view_audience(r, cp.include_possible),
                                                   k.c->conf->min_audience));
                json_object_set_new(view, "elapsed_ms", json_integer(now_ms() - t0));
                snprintf(err, sizeof(err), "%s", json_string_value(json_object_get(r, "state")));
                reply_json(rep, 200, view);
                audit(&k, NULL, "PREVIEW", cp.condition, err, "OK");
                json_decref(r);
        }
        con_campaign_clear(&cp);
}

/* ---- sets and templates ---- */

/* A versioned kind of the store: what a POST body becomes. */
typedef struct kind {
        const char *name, *what, *action; /* "sets", "save destination sets", "SAVE_SET" */
        /* The body as the stored version (new reference) and its name
         * (malloc()ed); NULL with err. */
        json_t *(*parse)(const void *body, size_t len, char **name, char *err, size_t err_size);
} kind_t;

static json_t *parse_set(const void *body, size_t len, char **name, char *err, size_t err_size)
{
        con_campaign_t cp;
        json_t *v;

        if (con_api_parse_set(body, len, &cp, err, err_size))
                return NULL;
        v = json_pack("{s:s,s:s,s:b}", "condition", cp.condition, "category",
                      cp.category ? cp.category : "", "include_possible", cp.include_possible);
        *name = cp.set_name;
        cp.set_name = NULL;
        con_campaign_clear(&cp);
        return v;
}

static json_t *parse_template(const void *body, size_t len, char **name, char *err, size_t err_size)
{
        con_template_t t;
        json_t *v;

        if (con_api_parse_template(body, len, &t, err, err_size))
                return NULL;
        v = con_template_json(&t);
        *name = t.name;
        t.name = NULL;
        con_template_clear(&t);
        return v;
}

static const kind_t kind_sets = {"sets", "save destination sets", "SAVE_SET", parse_set};
static const kind_t kind_templates = {"templates", "save templates", "SAVE_TEMPLATE",
                                      parse_template};

/* GET lists every version (viewers); POST saves a new one (authors). */
static void on_versioned(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep,
                         const kind_t *kd)
{
        CALL(opaque, req, rep);
        json_t *root, *v;
        char err[200], *name = NULL;
        int n;

        if (gate(&k, strcmp(req->method, "GET") ? CON_ROLE_AUTHOR : CON_ROLE_VIEWER,
                 "application/json", strcmp(req->method, "GET") ? kd->what : "read"))
                return;
        if (!strcmp(req->method, "GET"))
                return reply_json(rep, 200, con_store_copy(k.c->store, kd->name));
        if (!(v = kd->parse(req->body, req->body_len, &name, err, sizeof(err))))
                return reply_error(rep, 400, err);
        json_object_set_new(v, "by", json_string(k.s.user));
        json_object_set_new(v, "at", json_integer(now_ms()));
        root = con_store_lock(k.c->store);
        n = con_store_add_version(root, kd->name, name, v);
        if (con_store_unlock(k.c->store, 1)) {
                reply_error(rep, 500, "cannot write the state file");
        } else {
                snprintf(err, sizeof(err), "version %d", n);
                reply_json(rep, 200, json_pack("{s:s,s:i}", "name", name, "version", n));
                audit(&k, NULL, kd->action, name, err, "OK");
        }
        free(name);
}

static void on_sets(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        on_versioned(opaque, req, rep, &kind_sets);
}

static void on_templates(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        on_versioned(opaque, req, rep, &kind_templates);
}

/* ---- quiet hours: the dispatcher's, as its heartbeat announces them ---- */

/* Whether a send at at_ms falls in the quiet hours. */
static json_t *quiet_view(console_t *c, int64_t at_ms)
{
        osh_quiet_t q;
        char by[64], hours[16];
        int64_t reported = 0, until;

        if (!con_link_quiet(c->link, &q, by, sizeof(by), &reported))
                return json_pack("{s:b,s:I,s:n}", "known", 0, "at", (json_int_t)at_ms, "in_quiet");
        osh_quiet_format(&q, hours, sizeof(hours));
        until = osh_quiet_until(&q, at_ms);
        return json_pack("{s:b,s:s,s:i,s:s,s:I,s:I,s:b,s:o}", "known", 1, "hours", hours,
                         "utc_offset_min", q.utc_offset_min, "source", by, "reported_at",
                         (json_int_t)reported, "at", (json_int_t)at_ms, "in_quiet", until != 0,
                         "until", until ? json_integer(until) : json_null());
}

static void on_quiet(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        const char *at = osh_http_request_arg(req, "at");
        char *end = NULL;
        long long ms = at ? strtoll(at, &end, 10) : now_ms();

        if (gate(&k, CON_ROLE_VIEWER, NULL, "read"))
                return;
        if (at && (!*at || *end || ms < 0 || ms > 4102444800000LL))
                return reply_error(rep, 400, "at must be epoch milliseconds before 2100");
        reply_json(rep, 200, quiet_view(k.c, ms));
}

/* ---- sends ---- */

static void release(call_t *k, const char *id, const char *body)
{
        con_campaign_t cp;
        char err[200];
        json_t *r;

        if (con_api_parse_campaign(body, strlen(body), &cp, err, sizeof(err))) {
                osh_error("campaign %s: stored request no longer parses: %s", id, err);
                return;
        }
        r = con_link_request(k->c->link, id, "SEND", &cp, k->c->conf->min_audience, k->s.user, 0,
                             err, sizeof(err));
        if (!r)
                osh_error("campaign %s: %s", id, err);
        json_decref(r);
        con_campaign_clear(&cp);
}

static int create_checks(call_t *k, const con_campaign_t *cp, json_t *r, int64_t audience)
{
        const char *state = json_string_value(json_object_get(r, "state"));

        if (cp->critical && k->s.role < CON_ROLE_APPROVER) {
                reply_error(k->rep, 403, "only approvers may mark a send critical");
                audit(k, NULL, "REFUSED", "", "critical flag needs approver", "DENIED");
                return -1;
        }
        if (!cp->test && (!state || !strcmp(state, "REJECTED"))) {
                json_t *v = con_view_result(r, k->c->conf->min_audience);
                char msg[300];
                snprintf(msg, sizeof(msg), "the segmenter refuses this send: %s",
                         json_string_value(json_object_get(v, "message")));
                json_decref(v);
                reply_error(k->rep, 422, msg);
                return -1;
        }
        if (!cp->test && audience < k->c->conf->min_audience) {
                reply_error(k->rep, 422, "below the minimum audience");
                return -1;
        }
        return 0;
}

static void on_campaign_new(call_t *k)
{
        con_campaign_t cp;
        char err[200], id[64], detail[96];
        json_t *r = NULL, *root, *rec;
        int64_t audience;
        int pending;

        if (con_api_parse_campaign(k->req->body, k->req->body_len, &cp, err, sizeof(err)))
                return reply_error(k->rep, 400, err);
        if (!(r = preview(k, &cp)))
                goto done;
        audience = cp.test ? (int64_t)cp.ntests : con_view_audience(r, cp.include_possible);
        if (create_checks(k, &cp, r, audience))
                goto done;
        pending = !cp.test && audience > k->c->conf->approval_threshold;
        random_id("con", id, sizeof(id));
        rec =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:b,s:b,s:I,s:I,s:s%}", "id", id, "title",
                      cp.tpl.title ? cp.tpl.title : "", "set_name", cp.set_name ? cp.set_name : "",
                      "state", pending ? "PENDING_APPROVAL" : "REQUESTED", "author", k->s.user,
                      "approver", "", "audience", (json_int_t)audience, "test", cp.test, "critical",
                      cp.critical, "send_at", (json_int_t)cp.send_at_ms, "created_at",
                      (json_int_t)now_ms(), "request", k->req->body, k->req->body_len);
        root = con_store_lock(k->c->store);
        json_object_set_new(json_object_get(root, "campaigns"), id, rec);
        if (con_store_unlock(k->c->store, 1)) {
                reply_error(k->rep, 500, "cannot write the state file");
                goto done;
        }
        if (!pending)
                release(k, id, json_string_value(json_object_get(rec, "request")));
        snprintf(detail, sizeof(detail), "%s%s", pending ? "awaiting approval" : "released",
                 cp.test ? " (test send)" : "");
        reply_json(k->rep, 200,
                   json_pack("{s:s,s:s,s:o,s:o}", "id", id, "state",
                             pending ? "PENDING_APPROVAL" : "REQUESTED", "audience",
                             con_view_count(audience, cp.test ? 1 : k->c->conf->min_audience),
                             "quiet", quiet_view(k->c, cp.send_at_ms ? cp.send_at_ms : now_ms())));
        audit(k, NULL, "SEND_REQUEST", id, detail, "OK");
done:
        json_decref(r);
        con_campaign_clear(&cp);
}

static void on_campaigns(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        json_t *all, *res, *c, *out;
        const char *id;
        int min = k.c->conf->min_audience;

        if (strcmp(req->method, "GET")) {
                if (gate(&k, CON_ROLE_AUTHOR, "application/json", "request sends") == 0)
                        on_campaign_new(&k);
                return;
        }
        if (gate(&k, CON_ROLE_VIEWER, NULL, "read"))
                return;
        all = con_store_copy(k.c->store, "campaigns");
        res = con_link_results(k.c->link);
        out = json_array();
        json_object_foreach(all, id, c)
        {
                json_t *r = json_object_get(res, id);
                json_t *view = r ? con_view_result(r, min) : json_null();
                if (r)
                        json_object_set(view, "history", json_object_get(r, "history"));
                json_object_del(c, "request");
                json_object_set_new(
                    c, "audience",
                    con_view_count(json_integer_value(json_object_get(c, "audience")),
                                   json_is_true(json_object_get(c, "test")) ? 1 : min));
                json_object_set_new(c, "result", view);
                json_array_append(out, c);
        }
        json_decref(all);
        json_decref(res);
        reply_json(rep, 200, out);
}

/* The gate, the {"id"} body and that campaign, with the store locked;
 * NULL after answering (the store unlocked). */
static json_t *campaign_call(call_t *k, con_role_t min, const char *what, char *id, size_t id_size)
{
        char err[200];
        json_t *rec;

        if (gate(k, min, "application/json", what))
                return NULL;
        if (con_api_parse_id(k->req->body, k->req->body_len, id, id_size, err, sizeof(err))) {
                reply_error(k->rep, 400, err);
                return NULL;
        }
        rec = json_object_get(json_object_get(con_store_lock(k->c->store), "campaigns"), id);
        if (!rec) {
                con_store_unlock(k->c->store, 0);
                reply_error(k->rep, 404, "no such send");
        }
        return rec;
}

static void on_approve(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        char id[CON_MAX_SHORT + 1];
        json_t *rec;
        char *body = NULL;
        const char *deny = NULL;

        if (!(rec = campaign_call(&k, CON_ROLE_APPROVER, "approve sends", id, sizeof(id))))
                return;
        if (strcmp(json_string_value(json_object_get(rec, "state")), "PENDING_APPROVAL"))
                deny = "this send is not awaiting approval";
        else if (!strcmp(json_string_value(json_object_get(rec, "author")), k.s.user))
                deny = "the author cannot approve their own send";
        if (!deny) {
                json_object_set_new(rec, "state", json_string("REQUESTED"));
                json_object_set_new(rec, "approver", json_string(k.s.user));
                body = strdup(json_string_value(json_object_get(rec, "request")));
        }
        if (con_store_unlock(k.c->store, !deny)) {
                free(body);
                return reply_error(rep, 500, "cannot write the state file");
        }
        if (deny) {
                reply_error(rep, !strncmp(deny, "the author", 10) ? 403 : 409, deny);
                audit(&k, NULL, "APPROVE", id, deny, "DENIED");
                return;
        }
        if (body)
                release(&k, id, body);
        free(body);
        reply_json(rep, 200, json_pack("{s:s,s:s}", "id", id, "state", "REQUESTED"));
        audit(&k, NULL, "APPROVE", id, "released", "OK");
}

/* Pending: cancelled here. Released: the segmenter cancels it while it
 * has not started (its answer says which). */
static void on_cancel(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        char id[CON_MAX_SHORT + 1], err[200];
        json_t *root, *rec, *r;
        con_campaign_t none = {.condition = "true"};
        const char *state, *seg_state;
        int local;

        if (!(rec = campaign_call(&k, CON_ROLE_AUTHOR, "cancel sends", id, sizeof(id))))
                return;
        state = json_string_value(json_object_get(rec, "state"));
        if (k.s.role < CON_ROLE_APPROVER &&
            strcmp(json_string_value(json_object_get(rec, "author")), k.s.user)) {
                con_store_unlock(k.c->store, 0);
                audit(&k, NULL, "CANCEL", id, "not the author", "DENIED");
                return reply_error(rep, 403, "only the author or an approver may cancel a send");
        }
        local = !strcmp(state, "PENDING_APPROVAL");
        if (local)
                json_object_set_new(rec, "state", json_string("CANCELLED"));
        con_store_unlock(k.c->store, local);
        if (local) {
                reply_json(rep, 200, json_pack("{s:s,s:s}", "id", id, "state", "CANCELLED"));
                audit(&k, NULL, "CANCEL", id, "cancelled before approval", "OK");
                return;
        }
        if (strcmp(state, "REQUESTED"))
                return reply_error(rep, 409, "this send cannot be cancelled");
        if (!(r = con_link_request(k.c->link, id, "CANCEL", &none, k.c->conf->min_audience,
                                   k.s.user, (int)k.c->conf->preview_timeout_ms, err, sizeof(err))))
                return reply_error(rep, 504, err);
        seg_state = json_string_value(json_object_get(r, "state"));
        if (seg_state && !strcmp(seg_state, "CANCELLED")) {
                root = con_store_lock(k.c->store);
                if ((rec = json_object_get(json_object_get(root, "campaigns"), id)))
                        json_object_set_new(rec, "state", json_string("CANCELLED"));
                con_store_unlock(k.c->store, 1);
                reply_json(rep, 200, json_pack("{s:s,s:s}", "id", id, "state", "CANCELLED"));
                audit(&k, NULL, "CANCEL", id, "cancelled", "OK");
        } else {
                snprintf(err, sizeof(err), "too late to cancel: %s",
                         json_string_value(json_object_get(r, "message")));
                reply_error(rep, 409, err);
                audit(&k, NULL, "CANCEL", id, err, "FAILED");
        }
        json_decref(r);
}

static void on_results_csv(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        json_t *all, *res, *c;
        const char *id;
        size_t len = 0;
        char *csv;

        if (gate(&k, CON_ROLE_VIEWER, NULL, "read"))
                return;
        all = con_store_copy(k.c->store, "campaigns");
        res = con_link_results(k.c->link);
        json_object_foreach(all, id, c) json_object_set(c, "result", json_object_get(res, id));
        csv = con_view_csv(all, k.c->conf->min_audience, &len);
        json_decref(all);
        json_decref(res);
        if (!csv)
                return reply_error(rep, 500, "out of memory");
        osh_http_reply_take(rep, 200, "text/csv; charset=utf-8", (uint8_t *)csv, len);
        osh_http_reply_header(rep, "Content-Disposition", "attachment; filename=\"results.csv\"");
        osh_http_reply_header(rep, "Cache-Control", "no-store");
}

static void on_audit(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        const char *lim = osh_http_request_arg(req, "limit");
        long n = lim ? strtol(lim, NULL, 10) : 500;

        if (gate(&k, CON_ROLE_ADMIN, NULL, "read the audit log"))
                return;
        if (n < 1 || n > 10000)
                return reply_error(rep, 400, "limit must be 1-10000");
        reply_json(rep, 200,
                   con_link_audit_log(k.c->link, osh_http_request_arg(req, "actor"),
                                      osh_http_request_arg(req, "action"), (size_t)n));
}

static void on_status(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        json_t *snap;
        int64_t age;

        if (gate(&k, CON_ROLE_VIEWER, NULL, "read"))
                return;
        snap = con_link_snapshot(k.c->link);
        age = json_is_object(snap)
                  ? now_ms() - json_integer_value(json_object_get(snap, "extract_time"))
                  : -1;
        reply_json(rep, 200,
                   json_pack("{s:o,s:I,s:b,s:I,s:b}", "snapshot", snap, "age_ms", (json_int_t)age,
                             "stale", age < 0 || age > k.c->conf->stale_ms, "stale_after_ms",
                             (json_int_t)k.c->conf->stale_ms, "caught_up",
                             con_link_caught_up(k.c->link)));
}

/* ---- uploads: forwarded to cloud-ingest with the console's key ---- */

static void on_upload(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        const con_conf_t *cf = k.c->conf;
        char auth[OSH_AUTH_HEADER_MAX], hdr[OSH_AUTH_HEADER_MAX + 32], url[512], detail[320];
        const char *headers[] = {hdr, "Content-Type: text/csv", NULL};
        osh_http_tls_t tls = {.ca_file = cf->ingest_ca};
        osh_http_client_t *cl;
        osh_http_response_t resp = {0};
        json_t *j;

        if (gate(&k, CON_ROLE_AUTHOR, "text/csv", "upload destinations"))
                return;
        if (!cf->ingest_url)
                return reply_error(rep, 503, "uploads are off (ingest.url unset)");
        snprintf(url, sizeof(url), "%s/v1/destinations", cf->ingest_url);
        if (osh_auth_sign(cf->ingest_key_id, cf->ingest_secret, cf->ingest_secret_len, "POST",
                          "/v1/destinations", now_ms(), req->body, req->body_len, auth,
                          sizeof(auth)) ||
            !(cl = osh_http_client_new(&tls)))
                return reply_error(rep, 500, "cannot sign the upload");
        snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
        if (osh_http_request(cl, "POST", url, headers, req->body, req->body_len, 600000, 64u << 20,
                             &resp)) {
                snprintf(detail, sizeof(detail), "cloud-ingest unreachable: %s", resp.errstr);
                reply_error(rep, 502, detail);
        } else {
                j = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
                snprintf(detail, sizeof(detail), "HTTP %ld accepted=%lld rejected=%lld",
                         resp.status, (long long)json_integer_value(json_object_get(j, "accepted")),
                         (long long)json_integer_value(json_object_get(j, "rejected")));
                reply_json(rep, (int)resp.status,
                           j ? j : json_pack("{s:s}", "error", "bad answer"));
        }
        audit(&k, NULL, "UPLOAD", "destinations", detail, resp.status == 200 ? "OK" : "FAILED");
        osh_http_response_free(&resp);
        osh_http_client_destroy(cl);
}

static void on_users(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        CALL(opaque, req, rep);
        con_user_req_t u;
        con_role_t role;
        char err[200], secret[64] = "";

        if (gate(&k, CON_ROLE_ADMIN, "application/json", "create accounts"))
                return;
        if (con_api_parse_user(req->body, req->body_len, &u, err, sizeof(err)))
                return reply_error(rep, 400, err);
        if (con_role_parse(u.role, &role)) {
                reply_error(rep, 400, "role must be viewer, author, approver or admin");
        } else if (con_accounts_add(k.c->acc, u.name, u.password, role, u.totp, secret,
                                    sizeof(secret), err, sizeof(err))) {
                reply_error(rep, 400, err);
        } else {
                reply_json(rep, 200,
                           json_pack("{s:s,s:s,s:s}", "name", u.name, "role", u.role, "totp_secret",
                                     secret));
                audit(&k, NULL, "USER_CREATE", u.name, u.role, "OK");
        }
        con_user_req_clear(&u);
        sodium_memzero(secret, sizeof(secret));
}

/* ---- life cycle ---- */

static int start_http(console_t *c, char *errstr, size_t errstr_size)
{
        const con_conf_t *cf = c->conf;
        const osh_http_route_t routes[] = {
            {"GET", "/", on_asset, NULL, 0},
            {"GET", "/static/*", on_asset, NULL, 0},
            {"POST", "/api/login", on_login, NULL, 4096},
            {"POST", "/api/logout", on_logout, NULL, 4096},
            {"GET", "/api/session", on_session, NULL, 0},
            {"GET", "/api/dictionary", on_dictionary, NULL, 0},
            {"POST", "/api/preview", on_preview, NULL, MAX_JSON},
            {"GET", "/api/sets", on_sets, NULL, 0},
            {"POST", "/api/sets", on_sets, NULL, MAX_JSON},
            {"GET", "/api/templates", on_templates, NULL, 0},
            {"POST", "/api/templates", on_templates, NULL, MAX_JSON},
            {"GET", "/api/campaigns", on_campaigns, NULL, 0},
            {"POST", "/api/campaigns", on_campaigns, NULL, MAX_JSON},
            {"POST", "/api/campaigns/approve", on_approve, NULL, 4096},
            {"POST", "/api/campaigns/cancel", on_cancel, NULL, 4096},
            {"GET", "/api/results.csv", on_results_csv, NULL, 0},
            {"GET", "/api/audit", on_audit, NULL, 0},
            {"GET", "/api/status", on_status, NULL, 0},
            {"GET", "/api/quiet", on_quiet, NULL, 0},
            {"POST", "/api/destinations", on_upload, NULL, cf->max_upload},
            {"POST", "/api/users", on_users, NULL, 4096},
        };
        osh_http_server_opts_t o = {
            .host = cf->host,
            .port = cf->port,
            .cert_file = cf->cert,
            .key_file = cf->key,
            .connection_threads = cf->connections,
            .opaque = c,
            .headers = security_headers,
        };

        c->http = osh_http_server_start(&o, routes, sizeof(routes) / sizeof(routes[0]), errstr,
                                        errstr_size);
        return c->http ? 0 : -1;
}

console_t *console_new(osh_service_t *svc, const con_conf_t *conf, char *errstr, size_t errstr_size)
{
        console_t *c = calloc(1, sizeof(*c));

        if (!c) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        c->svc = svc;
        c->conf = conf;
        if (!(c->acc = con_accounts_open(conf->accounts_file, 0, errstr, errstr_size)) ||
            !(c->store = con_store_open(conf->state_file, errstr, errstr_size)))
                goto fail;
        if (con_accounts_count(c->acc) == 0) {
                snprintf(errstr, errstr_size,
                         "%s holds no account: create the first admin with "
                         "`console create-admin NAME`",
                         conf->accounts_file);
                goto fail;
        }
        c->dict = conf->dict_file
                      ? osh_dict_load_sealed(conf->dict_file, conf->dict_key, errstr, errstr_size)
                      : osh_dict_load_default(errstr, errstr_size);
        if (!c->dict || !(c->ses = con_sessions_new(conf->idle_ms, conf->max_ms)) ||
            !(c->link = con_link_new(svc, errstr, errstr_size)) ||
            start_http(c, errstr, errstr_size))
                goto fail;
        return c;
fail:
        console_destroy(c);
        return NULL;
}

unsigned console_port(const console_t *c)
{
        return osh_http_server_port(c->http);
}

void console_destroy(console_t *c)
{
        if (!c)
                return;
        osh_http_server_stop(c->http);
        con_link_destroy(c->link);
        con_sessions_destroy(c->ses);
        osh_dict_destroy(c->dict);
        con_store_destroy(c->store);
        con_accounts_destroy(c->acc);
        free(c);
}
