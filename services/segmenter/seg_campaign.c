#include "seg_campaign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/serde.h"
#include "oshirase/sha256.h"
#include "seg_expr.h"

const char *const seg_action_names[4] = {"PREVIEW", "SEND", "CANCEL", "RESEND"};
const char *const seg_state_names[6] = {"PREVIEWED", "FROZEN",   "DISPATCHING",
                                        "DONE",      "REJECTED", "CANCELLED"};
const char *const seg_reason_names[SEG_WHY__CNT] = {"excluded", "no_destination", "opt_out",
                                                    "below_min_audience"};

/* ---- request ---- */

static char *dup_field(avro_value_t *rec, const char *field)
{
        const char *s = NULL;
        size_t len;

        if (osh_value_get_string(rec, field, &s, &len) || !s)
                s = "";
        return strdup(s);
}

static char **dup_string_array(avro_value_t *rec, const char *field, size_t *n)
{
        avro_value_t arr, el;
        size_t cnt = 0, i, len;
        const char *s;
        char **out;

        *n = 0;
        if (osh_value_field(rec, field, &arr) || avro_value_get_size(&arr, &cnt))
                cnt = 0;
        if (!(out = calloc(cnt + 1, sizeof(*out))))
                return NULL;
        for (i = 0; i < cnt; i++, (*n)++) {
                if (avro_value_get_by_index(&arr, i, &el, NULL) ||
                    avro_value_get_string(&el, &s, &len) || !(out[i] = strdup(s)))
                        break;
        }
        return out;
}

static int read_template(avro_value_t *v, seg_request_t *r)
{
        avro_value_t t, arr, el;
        size_t cnt = 0, i;

        if (osh_value_field(v, "template", &t))
                return -1;
        r->title = dup_field(&t, "title");
        r->body = dup_field(&t, "body");
        r->links = dup_string_array(&t, "links", &r->nlinks);
        if (osh_value_field(&t, "items", &arr) || avro_value_get_size(&arr, &cnt))
                cnt = 0;
        r->items = calloc(cnt + 1, sizeof(*r->items));
        if (!r->title || !r->body || !r->links || !r->items)
                return -1;
        for (i = 0; i < cnt; i++, r->nitems++) {
                if (avro_value_get_by_index(&arr, i, &el, NULL))
                        return -1;
                r->items[i].label = dup_field(&el, "label");
                r->items[i].value = dup_field(&el, "value");
                if (!r->items[i].label || !r->items[i].value)
                        return -1;
        }
        return 0;
}

static void read_channels(avro_value_t *v, seg_request_t *r)
{
        avro_value_t arr, el;
        size_t cnt = 0, i;
        int idx;

        if (osh_value_field(v, "channels", &arr) || avro_value_get_size(&arr, &cnt))
                return;
        for (i = 0; i < cnt; i++)
                if (!avro_value_get_by_index(&arr, i, &el, NULL) &&
                    !avro_value_get_enum(&el, &idx) && idx >= 0 && idx < SEG_CHANNEL_CNT)
                        r->channel_mask |= 1u << idx;
}

int seg_request_from_avro(avro_value_t *v, seg_request_t *r, char *errstr, size_t errstr_size)
{
        const char *action = "PREVIEW";
        int32_t min_aud = 10;
        int i;

        memset(r, 0, sizeof(*r));
        r->max_recipients = -1;
        r->campaign_id = dup_field(v, "campaign_id");
        r->condition = dup_field(v, "condition");
        r->category = dup_field(v, "category");
        r->requested_by = dup_field(v, "requested_by");
        r->test_recipients = dup_string_array(v, "test_recipients", &r->ntest);
        if (!r->campaign_id || !r->condition || !r->category || !r->requested_by ||
            !r->test_recipients || read_template(v, r))
                goto fail;
        osh_value_get_enum(v, "action", &action);
        for (i = 0; i < 4; i++)
                if (strcmp(action, seg_action_names[i]) == 0)
                        r->action = (seg_action_t)i;
        read_channels(v, r);
        if (osh_value_is_null(v, "send_at") == 0)
                osh_value_get_long(v, "send_at", &r->send_at_ms);
        if (osh_value_is_null(v, "max_recipients") == 0)
                osh_value_get_long(v, "max_recipients", &r->max_recipients);
        osh_value_get_bool(v, "test", &r->test);
        osh_value_get_bool(v, "critical", &r->critical);
        osh_value_get_bool(v, "include_possible", &r->include_possible);
        osh_value_get_int(v, "min_audience", &min_aud);
        r->min_audience = min_aud;
        osh_value_get_long(v, "requested_at", &r->requested_at_ms);
        if (!*r->campaign_id) {
                snprintf(errstr, errstr_size, "empty campaign_id");
                return -1;
        }
        return 0;
fail:
        snprintf(errstr, errstr_size, "campaign request: missing field or out of memory");
        return -1;
}

void seg_request_clear(seg_request_t *r)
{
        size_t i;

        free(r->campaign_id);
        free(r->condition);
        free(r->category);
        free(r->requested_by);
        free(r->title);
        free(r->body);
        for (i = 0; r->items && i < r->nitems; i++) {
                free(r->items[i].label);
                free(r->items[i].value);
        }
        free(r->items);
        for (i = 0; r->links && i < r->nlinks; i++)
                free(r->links[i]);
        free(r->links);
        for (i = 0; r->test_recipients && i < r->ntest; i++)
                free(r->test_recipients[i]);
        free(r->test_recipients);
        memset(r, 0, sizeof(*r));
}

/* ---- evaluation ---- */

static const uint64_t *category_cb(void *opaque, const char *name)
{
        return seg_view_category(opaque, name);
}

/* Residents whose destination is on one of the campaign's channels. */
static void channel_bits(const seg_view_t *v, unsigned mask, uint64_t *out)
{
        size_t i;

        memcpy(out, v->has_dest, v->store->words * 8);
        if (!mask)
                return;
        for (i = 0; i < v->store->n; i++)
                if (v->dest[i] >= 0 && !(mask & (1u << v->dests->v[v->dest[i]].channel)))
                        out[i / 64] &= ~((uint64_t)1 << (i % 64));
}

typedef struct work {
        uint64_t *t, *p, *s, *tmp;
} work_t;

static void work_free(work_t *w)
{
        free(w->t);
        free(w->p);
        free(w->s);
        free(w->tmp);
}

/* s = target set; splits off suppressed residents by reason, in order:
 * excluded, no destination, opted out. Leaves the recipients in s. */
SEG_POPCNT_CLONES static int suppress(const seg_env_t *env, const seg_request_t *r, work_t *w,
                                      seg_outcome_t *o)
{
        seg_view_t *v = env->view;
        size_t n = v->store->words, i;
        const uint64_t *cat = NULL;

        if (*r->category && !(cat = seg_view_category(v, r->category)))
                return -1;
        for (i = 0; i < n; i++) {
                uint64_t ex = w->s[i] & v->excluded[i];
                w->s[i] &= ~ex;
                o->by_reason[SEG_WHY_EXCLUDED] += __builtin_popcountll(ex);
        }
        channel_bits(v, r->channel_mask, w->tmp);
        for (i = 0; i < n; i++) {
                uint64_t nodest = w->s[i] & ~w->tmp[i], ok, out;
                w->s[i] &= w->tmp[i];
                ok = v->active[i] & (cat ? cat[i] : ~(uint64_t)0);
                out = w->s[i] & ~ok;
                w->s[i] &= ok;
                o->by_reason[SEG_WHY_NO_DESTINATION] += __builtin_popcountll(nodest);
                o->by_reason[SEG_WHY_OPT_OUT] += __builtin_popcountll(out);
        }
        return 0;
}

/* The serialised list, kept in o for the frozen-list file, and its checksum. */
static int seal_list(seg_outcome_t *o)
{
        uint8_t dig[OSH_SHA256_LEN];

        if (!(o->text = seg_list_serialise(o->list, o->nlist, &o->text_len)))
                return -1;
        osh_sha256(o->text, o->text_len, dig);
        osh_hex_encode(dig, sizeof(dig), o->checksum);
        return 0;
}

static int build_list(const seg_env_t *env, const uint64_t *s, const uint64_t *t, seg_outcome_t *o)
{
        const seg_view_t *v = env->view;
        size_t w, n = seg_popcount(s, v->store->words), k = 0;

        if (!(o->list = calloc(n + 1, sizeof(*o->list))))
                return -1;
        for (w = 0; w < v->store->words; w++) /* the recipients' bits only */
                for (uint64_t bits = s[w]; bits; bits &= bits - 1) {
                        size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
                        const seg_dest_t *d = &v->dests->v[v->dest[i]];
                        o->list[k++] = (seg_recipient_t){v->store->user_ids[i], d->account_id,
                                                         d->channel, seg_bit(t, i)};
                }
        o->nlist = k;
        return seal_list(o);
}

/* Test sends go to the named test recipients only, whatever they match. */
static int build_test_list(const seg_env_t *env, const seg_request_t *r, seg_outcome_t *o)
{
        const seg_dests_t *d = env->view->dests;
        size_t i, k = 0;

        if (!(o->list = calloc(r->ntest + 1, sizeof(*o->list))))
                return -1;
        for (i = 0; i < r->ntest; i++) {
                const seg_dest_t *e = seg_dests_get(d, r->test_recipients[i]);
                if (e && e->active)
                        o->list[k++] = (seg_recipient_t){e->user_id, e->account_id, e->channel, 1};
        }
        o->nlist = k;
        return seal_list(o);
}

/* ---- breakdown by channel and by ward ---- */

void seg_withhold_small(int64_t *const *v, size_t n, int64_t min)
{
        uint8_t held[SEG_WARD_MAX + SEG_CHANNEL_CNT + 2] = {0};
        int64_t sum = 0;
        size_t i, k;

        if (n > sizeof(held))
                n = sizeof(held);
        for (i = 0; i < n; i++)
                if (*v[i] > 0 && *v[i] < min) {
                        held[i] = 1;
                        sum += *v[i];
                }
        /* what is withheld must not itself be a group below min */
        while (sum > 0 && sum < min) {
                for (k = n, i = 0; i < n; i++)
                        if (!held[i] && *v[i] > 0 && (k == n || *v[i] < *v[k]))
                                k = i;
                if (k == n)
                        break; /* all withheld: the total is below min too */
                held[k] = 1;
                sum += *v[k];
        }
        for (i = 0; i < n; i++)
                if (held[i])
                        *v[i] = -1;
}

/* Counts t (certain) and p (possible) over each group's bitset, a word at
 * a time, skipping words nobody is targeted in. */
SEG_POPCNT_CLONES static void count_groups(const uint64_t *t, const uint64_t *p, size_t words,
                                           const uint64_t *const *g, size_t ng,
                                           seg_group_count_t *out)
{
        size_t w, k;

        for (w = 0; w < words; w++) {
                uint64_t tw = t[w], pw = p[w];
                if (!pw)
                        continue;
                for (k = 0; k < ng; k++) {
                        if (!g[k])
                                continue;
                        out[k].certain += __builtin_popcountll(tw & g[k][w]);
                        out[k].possible += __builtin_popcountll(pw & g[k][w]);
                }
        }
        for (k = 0; k < ng; k++) /* possible but not certain */
                out[k].possible -= out[k].certain;
}

static void withhold_column(seg_group_count_t *g, size_t n, int possible, int64_t min)
{
        int64_t *v[SEG_WARD_MAX + SEG_CHANNEL_CNT + 2];

        for (size_t i = 0; i < n; i++)
                v[i] = possible ? &g[i].possible : &g[i].certain;
        seg_withhold_small(v, n, min);
}

static int64_t floor_of(const seg_env_t *env, const seg_request_t *r)
{
        return r->min_audience > env->min_audience_floor ? r->min_audience
                                                         : env->min_audience_floor;
}

static int breakdown(const seg_env_t *env, const seg_request_t *r, const uint64_t *t,
                     const uint64_t *p, seg_breakdown_t *b)
{
        seg_view_t *v = env->view;
        const osh_dict_entry_t *e = osh_dict_find(env->dict, "municipality_code");
        const uint64_t *chan[SEG_CHANNEL_CNT + 1];
        seg_group_count_t all[SEG_CHANNEL_CNT + 1] = {{0}};
        size_t i;

        if (seg_view_wards(
                v, e && e->type != OSH_DICT_FLAG && e->type != OSH_DICT_FIELD ? e->position : -1))
                return -1;
        b->min = floor_of(env, r) > 1 ? floor_of(env, r) : 1;
        for (i = 0; i <= SEG_CHANNEL_CNT; i++) {
                chan[i] = v->chan[i];
                all[i].code = (int32_t)i;
        }
        count_groups(t, p, v->store->words, chan, SEG_CHANNEL_CNT + 1, all);
        for (i = 0, b->nchan = 0; i <= SEG_CHANNEL_CNT; i++)
                if (v->chan[i]) /* channels nobody in the snapshot uses have no row */
                        b->chan[b->nchan++] = all[i];
        b->nward = v->nwards;
        for (i = 0; i < v->nwards; i++)
                b->ward[i] = (seg_group_count_t){.code = v->ward_code[i]};
        count_groups(t, p, v->store->words, (const uint64_t *const *)v->ward, v->nwards, b->ward);
        withhold_column(b->chan, b->nchan, 0, b->min);
        withhold_column(b->chan, b->nchan, 1, b->min);
        withhold_column(b->ward, b->nward, 0, b->min);
        withhold_column(b->ward, b->nward, 1, b->min);
        return 0;
}

static void reject(seg_outcome_t *o, const char *msg)
{
        o->state = SEG_ST_REJECTED;
        snprintf(o->message, sizeof(o->message), "%s", msg);
}

/* The guards: minimum audience (everybody suppressed) and the cap. */
static int guards(const seg_env_t *env, const seg_request_t *r, int64_t audience, int64_t targeted,
                  seg_outcome_t *o)
{
        int64_t floor = floor_of(env, r);
        char msg[256];

        if (r->test)
                return 0;
        if (audience < floor) {
                o->by_reason[SEG_WHY_MIN_AUDIENCE] = audience;
                o->suppressed = targeted;
                snprintf(msg, sizeof(msg), "audience %lld is below the minimum of %lld",
                         (long long)audience, (long long)floor);
                reject(o, msg);
                return -1;
        }
        if (r->max_recipients >= 0 && audience > r->max_recipients) {
                snprintf(msg, sizeof(msg), "audience %lld exceeds max_recipients %lld",
                         (long long)audience, (long long)r->max_recipients);
                reject(o, msg);
                return -1;
        }
        return 0;
}

int seg_campaign_evaluate(const seg_env_t *env, const seg_request_t *r, int want_list,
                          seg_outcome_t *o)
{
        seg_expr_opts_t opts = {.dict = env->dict};
        const seg_store_t *st = env->view->store;
        size_t words = st->words + 1, i;
        seg_eval_ctx_t ctx = {.store = st, .category = category_cb, .opaque = env->view};
        work_t w = {calloc(words, 8), calloc(words, 8), calloc(words, 8), calloc(words, 8)};
        int64_t targeted, audience;
        seg_expr_t *e = NULL;
        int rc = -1;

        memset(o, 0, sizeof(*o));
        o->state = want_list ? SEG_ST_FROZEN : SEG_ST_PREVIEWED;
        if (!w.t || !w.p || !w.s || !w.tmp)
                goto done;
        e = seg_expr_compile(r->condition, &opts, NULL, o->message, sizeof(o->message));
        if (!e) {
                o->state = SEG_ST_REJECTED;
                rc = 0;
                goto done;
        }
        ctx.send = seg_date_from_ms(r->send_at_ms > 0 ? r->send_at_ms : env->now_ms);
        if (seg_expr_eval(e, &ctx, w.t, w.p))
                goto done;
        o->certain = (int64_t)seg_popcount(w.t, st->words);
        o->possible = (int64_t)seg_popcount(w.p, st->words) - o->certain;
        if (breakdown(env, r, w.t, w.p, &o->breakdown))
                goto done;
        for (i = 0; i < st->words; i++)
                w.s[i] = r->include_possible ? w.p[i] : w.t[i];
        targeted = (int64_t)seg_popcount(w.s, st->words);
        if (suppress(env, r, &w, o))
                goto done;
        audience = (int64_t)seg_popcount(w.s, st->words);
        o->suppressed = targeted - audience;
        rc = 0;
        if (guards(env, r, audience, targeted, o) || !want_list)
                goto done;
        rc = r->test ? build_test_list(env, r, o) : build_list(env, w.s, w.t, o);
done:
        seg_expr_destroy(e);
        work_free(&w);
        return rc;
}

void seg_outcome_clear(seg_outcome_t *o)
{
        free(o->list);
        free(o->text);
        memset(o, 0, sizeof(*o));
}

/* ---- list, ids, text ---- */

static char *put_field(char *p, const char *s, char end)
{
        size_t n = strlen(s);

        memcpy(p, s, n);
        p[n] = end;
        return p + n + 1;
}

char *seg_list_serialise(const seg_recipient_t *list, size_t n, size_t *len)
{
        size_t cap = 64, i;
        char *buf, *p;

        /* 16: the longest channel name (8), three tabs, the flag, LF */
        for (i = 0; i < n; i++)
                cap += strlen(list[i].user_id) + strlen(list[i].account_id) + 16;
        if (!(p = buf = malloc(cap)))
                return NULL;
        for (i = 0; i < n; i++) { /* copies, not printf: a city's list is 10^5 lines */
                p = put_field(p, list[i].user_id, '\t');
                p = put_field(p, seg_channel_names[list[i].channel], '\t');
                p = put_field(p, list[i].account_id, '\t');
                *p++ = list[i].certain ? '1' : '0';
                *p++ = '\n';
        }
        *p = '\0';
        *len = (size_t)(p - buf);
        return buf;
}

void seg_dispatch_id(const char *campaign_id, const char *user_id, const char *channel,
                     char out[65])
{
        size_t a = strlen(campaign_id), b = strlen(user_id), c = strlen(channel);
        char *buf = malloc(a + b + c + 2);
        uint8_t dig[OSH_SHA256_LEN];

        if (!buf) {
                out[0] = '\0';
                return;
        }
        memcpy(buf, campaign_id, a + 1); /* the NULs separate the parts */
        memcpy(buf + a + 1, user_id, b + 1);
        memcpy(buf + a + b + 2, channel, c);
        osh_sha256(buf, a + b + c + 2, dig);
        osh_hex_encode(dig, sizeof(dig), out);
        free(buf);
}

char *seg_render_text(const seg_request_t *r)
{
        size_t cap = strlen(r->body) + 8, i, len = 0;
        char *s;

        for (i = 0; i < r->nitems; i++)
                cap += strlen(r->items[i].label) + strlen(r->items[i].value) + 16;
        for (i = 0; i < r->nlinks; i++)
                cap += strlen(r->links[i]) + 2;
        if (!(s = malloc(cap)))
                return NULL;
        len += (size_t)snprintf(s, cap, "%s", r->body);
        for (i = 0; i < r->nitems; i++)
                len += (size_t)snprintf(s + len, cap - len, "%s【%s】%s", len ? "\n" : "",
                                        r->items[i].label, r->items[i].value);
        for (i = 0; i < r->nlinks; i++)
                len += (size_t)snprintf(s + len, cap - len, "%s%s", len ? "\n" : "", r->links[i]);
        return s;
}
