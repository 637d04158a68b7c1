#define _GNU_SOURCE
#include "con_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *con_view_count(int64_t n, int min)
{
        return n < min ? json_pack("{s:i}", "lt", min) : json_integer(n);
}

static json_t *count_map(json_t *m, int min)
{
        json_t *out = json_object(), *v;
        const char *k;

        json_object_foreach(m, k, v)
            json_object_set_new(out, k, con_view_count(json_integer_value(v), min));
        return out;
}

static int64_t num(json_t *o, const char *k)
{
        return json_integer_value(json_object_get(o, k));
}

json_t *con_view_cell(int64_t n, int min)
{
        return n < 0 ? json_pack("{s:b}", "withheld", 1) : con_view_count(n, min);
}

/* by_channel / by_ward rows with their counts redacted; key names the
 * row ("channel", or "ward_code" + "ward"). */
static json_t *breakdown(json_t *rows, int min, int ward)
{
        json_t *out = json_array(), *row;
        size_t i;

        json_array_foreach(rows, i, row)
        {
                json_t *o =
                    json_pack("{s:o,s:o}", "certain", con_view_cell(num(row, "certain"), min),
                              "possible", con_view_cell(num(row, "possible"), min));
                if (ward) {
                        json_object_set_new(o, "ward_code", json_integer(num(row, "ward_code")));
                        json_object_set(o, "ward", json_object_get(row, "ward"));
                } else {
                        json_object_set(o, "channel", json_object_get(row, "channel"));
                }
                json_array_append_new(out, o);
        }
        return out;
}

json_t *con_view_result(json_t *r, int min)
{
        const char *state = json_string_value(json_object_get(r, "state"));
        const char *msg = json_string_value(json_object_get(r, "message"));
        const char *snap = json_string_value(json_object_get(r, "snapshot_batch_id"));

        /* The segmenter's own refusal names the audience: say it without. */
        if (state && !strcmp(state, "REJECTED") && msg && strstr(msg, "below the minimum"))
                msg = "below the minimum audience";
        return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:I,s:o,s:o}", "state",
                         state ? state : "", "message", msg ? msg : "", "certain",
                         con_view_count(num(r, "certain"), min), "possible",
                         con_view_count(num(r, "possible"), min), "suppressed",
                         con_view_count(num(r, "suppressed"), min), "suppressed_by_reason",
                         count_map(json_object_get(r, "suppressed_by_reason"), min), "recipients",
                         con_view_count(num(r, "recipients"), min), "delivery",
                         count_map(json_object_get(r, "delivery"), min), "snapshot_batch_id",
                         snap ? snap : "", "computed_at", (json_int_t)num(r, "computed_at"),
                         "by_channel", breakdown(json_object_get(r, "by_channel"), min, 0),
                         "by_ward", breakdown(json_object_get(r, "by_ward"), min, 1));
}

int64_t con_view_audience(json_t *r, int include_possible)
{
        int64_t a =
            num(r, "certain") + (include_possible ? num(r, "possible") : 0) - num(r, "suppressed");

        return a < 0 ? 0 : a;
}

/* A redacted count as CSV text. */
static void cell(char *buf, size_t size, int64_t n, int min)
{
        if (n < min)
                snprintf(buf, size, "<%d", min);
        else
                snprintf(buf, size, "%lld", (long long)n);
}

/* Quotes a field (RFC 4180) and defuses spreadsheet formulas. */
static void put_field(FILE *fp, const char *s)
{
        fputc('"', fp);
        if (s && *s && strchr("=+-@", *s))
                fputc('\'', fp);
        for (; s && *s; s++) {
                if (*s == '"')
                        fputc('"', fp);
                fputc(*s, fp);
        }
        fputc('"', fp);
}

char *con_view_csv(json_t *campaigns, int min, size_t *len)
{
        static const char *const st[] = {"SENT", "FAILED_PERM", "FAILED_TEMP", "SUPPRESSED"};
        char *buf = NULL;
        FILE *fp = open_memstream(&buf, len);
        const char *id;
        json_t *c;

        if (!fp)
                return NULL;
        fputs("campaign_id,title,state,recipients,sent,failed_perm,failed_temp,suppressed\r\n", fp);
        json_object_foreach(campaigns, id, c)
        {
                json_t *r = json_object_get(c, "result"), *d = json_object_get(r, "delivery");
                char b[32];

                put_field(fp, id);
                fputc(',', fp);
                put_field(fp, json_string_value(json_object_get(c, "title")));
                fputc(',', fp);
                put_field(fp, json_string_value(json_object_get(c, "state")));
                cell(b, sizeof(b), num(r, "recipients"), min);
                fprintf(fp, ",%s", b);
                for (int i = 0; i < 4; i++) {
                        cell(b, sizeof(b), num(d, st[i]), min);
                        fprintf(fp, ",%s", b);
                }
                fputs("\r\n", fp);
        }
        if (fclose(fp)) {
                free(buf);
                return NULL;
        }
        return buf;
}
