/* The console's JSON request bodies, parsed and checked before anything
 * acts on them (fuzzed by tests/fuzz/fuzz_console_api.c). Every parser
 * refuses unknown fields, wrong types, over-long texts and control
 * characters, with errstr naming the field: the handler answers 400 with
 * it. Strings are malloc()ed copies; free with the matching *_clear. */
#ifndef CON_API_H
#define CON_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define CON_MAX_COND      4000
#define CON_MAX_TITLE     200
#define CON_MAX_BODY      5000
#define CON_MAX_ITEMS     20
#define CON_MAX_LINKS     5
#define CON_MAX_TESTS     20
#define CON_MAX_SHORT     100 /* names, labels, categories, ids */
#define CON_MAX_ITEM_TEXT 500

/* Channels in the order of campaign.requests.v1's Channel enum. */
enum {
        CON_CH_LINE,
        CON_CH_EMAIL,
        CON_CH_WEBHOOK,
        CON_CH_TWITTER,
        CON_CH_FACEBOOK,
        CON_CH_SMS,
        CON_CH__CNT
};
extern const char *const con_channel_names[CON_CH__CNT];

typedef struct con_login_req {
        char *user, *password, *otp; /* otp may be NULL */
} con_login_req_t;

typedef struct con_item {
        char *label, *value;
} con_item_t;

typedef struct con_template {
        char *name; /* optional (saving) */
        char *title, *body;
        con_item_t items[CON_MAX_ITEMS];
        size_t nitems;
        char *links[CON_MAX_LINKS];
        size_t nlinks;
        int confidential; /* carries a trigger only, never content */
} con_template_t;

typedef struct con_campaign {
        char *set_name;  /* optional */
        char *condition; /* required */
        char *category;  /* optional, "" */
        int include_possible;
        con_template_t tpl;
        unsigned channels; /* bit i = con_channel_names[i]; 0 = the resident's preference */
        int policy_all;
        int64_t send_at_ms; /* 0 = now */
        int test, critical;
        char *tests[CON_MAX_TESTS]; /* test recipients (利用者ID) */
        size_t ntests;
} con_campaign_t;

int con_api_parse_login(const void *body, size_t len, con_login_req_t *out, char *errstr,
                        size_t errstr_size);
void con_login_req_clear(con_login_req_t *r);

/* A preview: condition, include_possible, category, send_at only. */
int con_api_parse_preview(const void *body, size_t len, con_campaign_t *out, char *errstr,
                          size_t errstr_size);
/* A send: everything; title or body required. */
int con_api_parse_campaign(const void *body, size_t len, con_campaign_t *out, char *errstr,
                           size_t errstr_size);
/* A named set: {"name", "condition"}. */
int con_api_parse_set(const void *body, size_t len, con_campaign_t *out, char *errstr,
                      size_t errstr_size);
/* A named template: {"name", "title", "body", "items", "links", "confidential"}. */
int con_api_parse_template(const void *body, size_t len, con_template_t *out, char *errstr,
                           size_t errstr_size);
void con_template_clear(con_template_t *t);
/* {"title", "body", "items", "links", "confidential"}: a template as the
 * store keeps it and, without "confidential", as campaign.requests.v1
 * carries it. New reference. */
json_t *con_template_json(const con_template_t *t);
void con_campaign_clear(con_campaign_t *c);

/* {"id": "<campaign id>"} into id (CON_MAX_SHORT + 1). */
int con_api_parse_id(const void *body, size_t len, char *id, size_t id_size, char *errstr,
                     size_t errstr_size);

/* A new user by an admin: {"name", "password", "role", "totp"}. */
typedef struct con_user_req {
        char *name, *password, *role;
        int totp;
} con_user_req_t;
int con_api_parse_user(const void *body, size_t len, con_user_req_t *out, char *errstr,
                       size_t errstr_size);
void con_user_req_clear(con_user_req_t *r);

/* 1 if s is printable text: no control characters except (with
 * multiline) LF and TAB. */
int con_text_ok(const char *s, int multiline);

#endif
