/* libFuzzer target: the console's JSON request parsers (con_api.h). Any
 * input must parse into strings that pass the checks (no control
 * characters, within limits) or fail with a reason; never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "con_api.h"

static void check(const char *s, int multiline, size_t max)
{
        if (s && (!con_text_ok(s, multiline) || strlen(s) > max))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char err[256], id[CON_MAX_SHORT + 1];
        con_campaign_t c;
        con_template_t t;
        con_login_req_t l;
        con_user_req_t u;

        if (con_api_parse_campaign(data, size, &c, err, sizeof(err)) == 0) {
                check(c.condition, 1, CON_MAX_COND);
                check(c.tpl.title, 0, CON_MAX_TITLE);
                for (size_t i = 0; i < c.tpl.nlinks; i++)
                        if (strncmp(c.tpl.links[i], "https://", 8))
                                abort();
                con_campaign_clear(&c);
        }
        if (con_api_parse_preview(data, size, &c, err, sizeof(err)) == 0)
                con_campaign_clear(&c);
        if (con_api_parse_set(data, size, &c, err, sizeof(err)) == 0)
                con_campaign_clear(&c);
        if (con_api_parse_template(data, size, &t, err, sizeof(err)) == 0)
                con_template_clear(&t);
        if (con_api_parse_login(data, size, &l, err, sizeof(err)) == 0)
                con_login_req_clear(&l);
        if (con_api_parse_user(data, size, &u, err, sizeof(err)) == 0)
                con_user_req_clear(&u);
        con_api_parse_id(data, size, id, sizeof(id), err, sizeof(err));
        return 0;
}
