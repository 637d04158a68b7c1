#include "con_api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const con_channel_names[CON_CH__CNT] = {"LINE",    "EMAIL",    "WEBHOOK",
                                                    "TWITTER", "FACEBOOK", "SMS"};

#define ERR(...) (snprintf(errstr, errstr_size, __VA_ARGS__), -1)

int con_text_ok(const char *s, int multiline)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == 0x7f || (*p < 0x20 && !(multiline && (*p == '\n' || *p == '\t'))))
                        return 0;
        }
        return 1;
}

static json_t *load(const void *body, size_t len, char *errstr, size_t errstr_size)
{
        json_error_t je;
        json_t *o = body ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;

        if (!o) {
                snprintf(errstr, errstr_size, "malformed JSON at column %d: %s",
                         body ? je.column : 0, body ? je.text : "no body");
                return NULL;
        }
        if (!json_is_object(o)) {
                json_decref(o);
                snprintf(errstr, errstr_size, "the body must be a JSON object");
                return NULL;
        }
        return o;
}

static int only_keys(json_t *o, const char *const *allowed, char *errstr, size_t errstr_size)
{
        const char *k;
        json_t *v;

        json_object_foreach(o, k, v)
        {
                size_t i = 0;
                while (allowed[i] && strcmp(allowed[i], k))
                        i++;
                if (!allowed[i])
                        return ERR("unknown field \"%.40s\"", con_text_ok(k, 0) ? k : "?");
        }
        return 0;
}

/* A string field: absent is NULL unless required; max bytes. */
static int get_str(json_t *o, const char *key, int required, size_t max, int multiline, char **out,
                   char *errstr, size_t errstr_size)
{
        json_t *v = json_object_get(o, key);
        const char *s;

        *out = NULL;
        if (!v || json_is_null(v))
                return required ? ERR("%s is required", key) : 0;
        if (!json_is_string(v))
                return ERR("%s must be a string", key);
        s = json_string_value(v);
        if (json_string_length(v) != strlen(s) || !con_text_ok(s, multiline))
                return ERR("%s holds control characters", key);
        if (strlen(s) > max)
                return ERR("%s is longer than %zu bytes", key, max);
        if (required && !*s)
                return ERR("%s is empty", key);
        if (!(*out = strdup(s)))
                return ERR("out of memory");
        return 0;
}

static int get_bool(json_t *o, const char *key, int *out, char *errstr, size_t errstr_size)
{
        json_t *v = json_object_get(o, key);

        *out = 0;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_boolean(v))
                return ERR("%s must be true or false", key);
        *out = json_is_true(v);
        return 0;
}

/* Epoch milliseconds, or null/absent = 0 (now). */
static int get_time(json_t *o, const char *key, int64_t *out, char *errstr, size_t errstr_size)
{
        json_t *v = json_object_get(o, key);

        *out = 0;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > 4102444800000LL)
                return ERR("%s must be epoch milliseconds before 2100", key);
        *out = json_integer_value(v);
        return 0;
}

static int get_array(json_t *o, const char *key, size_t max, json_t **out, char *errstr,
                     size_t errstr_size)
{
        json_t *v = json_object_get(o, key);

        *out = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_array(v))
                return ERR("%s must be an array", key);
        if (json_array_size(v) > max)
                return ERR("%s has more than %zu entries", key, max);
        *out = v;
        return 0;
}

static int parse_items(json_t *o, con_template_t *t, char *errstr, size_t errstr_size)
{
        static const char *const keys[] = {"label", "value", NULL};
        json_t *a, *it;
        size_t i;

        if (get_array(o, "items", CON_MAX_ITEMS, &a, errstr, errstr_size))
                return -1;
        json_array_foreach(a, i, it)
        {
                con_item_t *x = &t->items[t->nitems];
                if (!json_is_object(it))
                        return ERR("items[%zu] must be an object", i);
                if (only_keys(it, keys, errstr, errstr_size) ||
                    get_str(it, "label", 1, CON_MAX_SHORT, 0, &x->label, errstr, errstr_size) ||
                    (t->nitems++,
                     get_str(it, "value", 1, CON_MAX_ITEM_TEXT, 0, &x->value, errstr, errstr_size)))
                        return -1;
        }
        return 0;
}

/* An array of at most max strings, each accepted by ok (else errstr
 * "key[i] <what>"), copied into out[*n]. */
static int get_strings(json_t *o, const char *key, size_t max, int (*ok)(const char *),
                       const char *what, char **out, size_t *n, char *errstr, size_t errstr_size)
{
        json_t *a, *it;
        size_t i;

        if (get_array(o, key, max, &a, errstr, errstr_size))
                return -1;
        json_array_foreach(a, i, it)
        {
                const char *s = json_string_value(it);
                if (!s || !ok(s))
                        return ERR("%s[%zu] %s", key, i, what);
                if (!(out[(*n)++] = strdup(s)))
                        return ERR("out of memory");
        }
        return 0;
}

static int link_ok(const char *s)
{
        return !strncmp(s, "https://", 8) && strlen(s) <= CON_MAX_ITEM_TEXT && con_text_ok(s, 0) &&
               !strpbrk(s, " <>\"'");
}

static int short_ok(const char *s)
{
        return *s && strlen(s) <= CON_MAX_SHORT && con_text_ok(s, 0);
}

static int parse_links(json_t *o, con_template_t *t, char *errstr, size_t errstr_size)
{
        return get_strings(o, "links", CON_MAX_LINKS, link_ok,
                           "must be an https:// URL without spaces or quotes", t->links, &t->nlinks,
                           errstr, errstr_size);
}

static int parse_tpl_fields(json_t *o, con_template_t *t, int need_name, char *errstr,
                            size_t errstr_size)
{
        if (get_str(o, "name", need_name, CON_MAX_SHORT, 0, &t->name, errstr, errstr_size) ||
            get_str(o, "title", 0, CON_MAX_TITLE, 0, &t->title, errstr, errstr_size) ||
            get_str(o, "body", 0, CON_MAX_BODY, 1, &t->body, errstr, errstr_size) ||
            parse_items(o, t, errstr, errstr_size) || parse_links(o, t, errstr, errstr_size) ||
            get_bool(o, "confidential", &t->confidential, errstr, errstr_size))
                return -1;
        if ((!t->title || !*t->title) && (!t->body || !*t->body))
                return ERR("a template needs a title or a body");
        return 0;
}

static int parse_channels(json_t *o, con_campaign_t *c, char *errstr, size_t errstr_size)
{
        json_t *a, *it;
        size_t i;
        const char *pol = NULL;
        json_t *p = json_object_get(o, "channel_policy");

        if (get_array(o, "channels", CON_CH__CNT, &a, errstr, errstr_size))
                return -1;
        json_array_foreach(a, i, it)
        {
                const char *s = json_string_value(it);
                int k = 0;
                while (s && k < CON_CH__CNT && strcmp(s, con_channel_names[k]))
                        k++;
                if (!s || k == CON_CH__CNT)
                        return ERR("channels[%zu] is not a channel (LINE, EMAIL, ...)", i);
                c->channels |= 1u << k;
        }
        if (p && !json_is_null(p)) {
                pol = json_string_value(p);
                if (!pol || (strcmp(pol, "PREFERRED") && strcmp(pol, "ALL")))
                        return ERR("channel_policy must be PREFERRED or ALL");
                c->policy_all = !strcmp(pol, "ALL");
        }
        return 0;
}

static int parse_tests(json_t *o, con_campaign_t *c, char *errstr, size_t errstr_size)
{
        if (get_strings(o, "test_recipients", CON_MAX_TESTS, short_ok,
                        "must be a short non-empty string", c->tests, &c->ntests, errstr,
                        errstr_size))
                return -1;
        if (c->test && !c->ntests)
                return ERR("a test send needs test_recipients");
        return 0;
}

static int parse_target(json_t *o, con_campaign_t *c, char *errstr, size_t errstr_size)
{
        return get_str(o, "condition", 1, CON_MAX_COND, 1, &c->condition, errstr, errstr_size) ||
               get_str(o, "category", 0, CON_MAX_SHORT, 0, &c->category, errstr, errstr_size) ||
               get_bool(o, "include_possible", &c->include_possible, errstr, errstr_size) ||
               get_time(o, "send_at", &c->send_at_ms, errstr, errstr_size);
}

/* Runs fn on the loaded object; clears out on failure. */
#define PARSE(keys, fn, clear)                                                                     \
        json_t *o = load(body, len, errstr, errstr_size);                                          \
        int rc;                                                                                    \
        memset(out, 0, sizeof(*out));                                                              \
        if (!o)                                                                                    \
                return -1;                                                                         \
        rc = only_keys(o, keys, errstr, errstr_size) || (fn);                                      \
        json_decref(o);                                                                            \
        if (rc)                                                                                    \
                clear(out);                                                                        \
        return rc ? -1 : 0

int con_api_parse_login(const void *body, size_t len, con_login_req_t *out, char *errstr,
                        size_t errstr_size)
{
        static const char *const keys[] = {"user", "password", "otp", NULL};

        PARSE(keys,
              get_str(o, "user", 1, CON_MAX_SHORT, 0, &out->user, errstr, errstr_size) ||
                  get_str(o, "password", 1, 256, 0, &out->password, errstr, errstr_size) ||
                  get_str(o, "otp", 0, 10, 0, &out->otp, errstr, errstr_size),
              con_login_req_clear);
}

void con_login_req_clear(con_login_req_t *r)
{
        if (r->password)
                memset(r->password, 0, strlen(r->password));
        free(r->user);
        free(r->password);
        free(r->otp);
        memset(r, 0, sizeof(*r));
}

int con_api_parse_preview(const void *body, size_t len, con_campaign_t *out, char *errstr,
                          size_t errstr_size)
{
        static const char *const keys[] = {"condition", "category", "include_possible", "send_at",
                                           NULL};

        PARSE(keys, parse_target(o, out, errstr, errstr_size), con_campaign_clear);
}

int con_api_parse_set(const void *body, size_t len, con_campaign_t *out, char *errstr,
                      size_t errstr_size)
{
        static const char *const keys[] = {"name", "condition", "category", "include_possible",
                                           NULL};

        PARSE(keys,
              get_str(o, "name", 1, CON_MAX_SHORT, 0, &out->set_name, errstr, errstr_size) ||
                  parse_target(o, out, errstr, errstr_size),
              con_campaign_clear);
}

static int parse_campaign_obj(json_t *o, con_campaign_t *c, char *errstr, size_t errstr_size)
{
        json_t *t = json_object_get(o, "template");
        static const char *const tkeys[] = {"name",  "title",        "body", "items",
                                            "links", "confidential", NULL};

        if (get_str(o, "set_name", 0, CON_MAX_SHORT, 0, &c->set_name, errstr, errstr_size) ||
            parse_target(o, c, errstr, errstr_size) || parse_channels(o, c, errstr, errstr_size) ||
            get_bool(o, "test", &c->test, errstr, errstr_size) ||
            get_bool(o, "critical", &c->critical, errstr, errstr_size) ||
            parse_tests(o, c, errstr, errstr_size))
                return -1;
        if (!json_is_object(t))
                return ERR("template must be an object");
        return only_keys(t, tkeys, errstr, errstr_size) ||
               parse_tpl_fields(t, &c->tpl, 0, errstr, errstr_size);
}

int con_api_parse_campaign(const void *body, size_t len, con_campaign_t *out, char *errstr,
                           size_t errstr_size)
{
        static const char *const keys[] = {"set_name",         "condition",       "category",
                                           "include_possible", "send_at",         "template",
                                           "channels",         "channel_policy",  "test",
                                           "critical",         "test_recipients", NULL};

        PARSE(keys, parse_campaign_obj(o, out, errstr, errstr_size), con_campaign_clear);
}

int con_api_parse_template(const void *body, size_t len, con_template_t *out, char *errstr,
                           size_t errstr_size)
{
        static const char *const keys[] = {"name",  "title",        "body", "items",
                                           "links", "confidential", NULL};

        PARSE(keys, parse_tpl_fields(o, out, 1, errstr, errstr_size), con_template_clear);
}

void con_template_clear(con_template_t *t)
{
        free(t->name);
        free(t->title);
        free(t->body);
        for (size_t i = 0; i < t->nitems; i++) {
                free(t->items[i].label);
                free(t->items[i].value);
        }
        for (size_t i = 0; i < t->nlinks; i++)
                free(t->links[i]);
        memset(t, 0, sizeof(*t));
}

json_t *con_template_json(const con_template_t *t)
{
        json_t *items = json_array(), *links = json_array();

        for (size_t i = 0; i < t->nitems; i++)
                json_array_append_new(items, json_pack("{s:s,s:s}", "label", t->items[i].label,
                                                       "value", t->items[i].value));
        for (size_t i = 0; i < t->nlinks; i++)
                json_array_append_new(links, json_string(t->links[i]));
        return json_pack("{s:s,s:s,s:o,s:o,s:b}", "title", t->title ? t->title : "", "body",
                         t->body ? t->body : "", "items", items, "links", links, "confidential",
                         t->confidential);
}

void con_campaign_clear(con_campaign_t *c)
{
        free(c->set_name);
        free(c->condition);
        free(c->category);
        con_template_clear(&c->tpl);
        for (size_t i = 0; i < c->ntests; i++)
                free(c->tests[i]);
        memset(c, 0, sizeof(*c));
}

int con_api_parse_id(const void *body, size_t len, char *id, size_t id_size, char *errstr,
                     size_t errstr_size)
{
        static const char *const keys[] = {"id", NULL};
        json_t *o = load(body, len, errstr, errstr_size);
        char *s = NULL;
        int rc;

        if (!o)
                return -1;
        rc = only_keys(o, keys, errstr, errstr_size) ||
             get_str(o, "id", 1, CON_MAX_SHORT, 0, &s, errstr, errstr_size);
        json_decref(o);
        if (!rc)
                snprintf(id, id_size, "%s", s);
        free(s);
        return rc ? -1 : 0;
}

int con_api_parse_user(const void *body, size_t len, con_user_req_t *out, char *errstr,
                       size_t errstr_size)
{
        static const char *const keys[] = {"name", "password", "role", "totp", NULL};

        PARSE(keys,
              get_str(o, "name", 1, CON_MAX_SHORT, 0, &out->name, errstr, errstr_size) ||
                  get_str(o, "password", 1, 256, 0, &out->password, errstr, errstr_size) ||
                  get_str(o, "role", 1, 16, 0, &out->role, errstr, errstr_size) ||
                  get_bool(o, "totp", &out->totp, errstr, errstr_size),
              con_user_req_clear);
}

void con_user_req_clear(con_user_req_t *r)
{
        if (r->password)
                memset(r->password, 0, strlen(r->password));
        free(r->name);
        free(r->password);
        free(r->role);
        memset(r, 0, sizeof(*r));
}
