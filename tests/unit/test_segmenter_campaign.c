/* Segmenter campaigns: suppression reasons, the minimum-audience guard,
 * frozen lists, deterministic dispatch ids and persisted state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "oshirase/dictionary.h"
#include "oshirase/sha256.h"
#include "seg_campaign.h"
#include "seg_state.h"

static osh_dict_t *dict;
static seg_store_t *store;
static seg_dests_t dests;
static seg_exclusions_t excl;
static seg_view_t view;

/* 40 residents u00..u39: nhi for even ones. Destinations: none for
 * u00..u03, WITHDRAWN u04..u05, LINE without the "health" category
 * u06..u07, the rest LINE with "health" (u30+ on EMAIL). Excluded: u08. */
static int setup(void **state)
{
        const osh_dict_entry_t *nhi;
        char err[256], id[8], acc[16];
        const char *health[] = {"health", "child"}, *child[] = {"child"};
        seg_builder_t *b;
        int i;
        FILE *fp;

        dict = osh_dict_load_default(err, sizeof(err));
        nhi = osh_dict_find(dict, "nhi");
        b = seg_builder_new(osh_dict_flag_count(dict), osh_dict_value_count(dict), 1, "B7");
        for (i = 0; i < 40; i++) {
                uint8_t flags[32] = {0};
                snprintf(id, sizeof(id), "u%02d", i);
                osh_flags_set(flags, sizeof(flags), nhi->position, i % 2 == 0);
                assert_int_equal(seg_builder_add(b, id, 17000, 1, flags, sizeof(flags), NULL, 0,
                                                 err, sizeof(err)),
                                 0);
                snprintf(acc, sizeof(acc), "acct-%02d", i);
                if (i >= 4)
                        assert_int_equal(seg_dests_put(&dests, id, i >= 30 ? 1 : 0, acc,
                                                       i < 8 ? child : health, i < 8 ? 1 : 2,
                                                       i >= 6),
                                         0);
        }
        store = seg_builder_finish(b);
        fp = fopen("seg_excl.txt", "w");
        fputs("# protected persons\nu08\n  u99  # unknown ids are fine\n", fp);
        fclose(fp);
        assert_int_equal(seg_exclusions_load(&excl, "seg_excl.txt", err, sizeof(err)), 0);
        unlink("seg_excl.txt");
        return seg_view_sync(&view, store, &dests, &excl, 1);
}

static int teardown(void **state)
{
        seg_view_clear(&view);
        seg_store_destroy(store);
        seg_dests_clear(&dests);
        seg_exclusions_clear(&excl);
        osh_dict_destroy(dict);
        return 0;
}

static seg_request_t request(const char *cond, const char *category)
{
        seg_request_t r = {0};

        r.campaign_id = (char *)"C1";
        r.condition = (char *)cond;
        r.category = (char *)category;
        r.title = (char *)"";
        r.body = (char *)"body";
        r.max_recipients = -1;
        r.min_audience = 1;
        return r;
}

static seg_env_t env_of(int32_t floor)
{
        return (seg_env_t){
            .view = &view, .dict = dict, .min_audience_floor = floor, .now_ms = 1489503600000LL};
}

static void test_suppression_reasons(void **state)
{
        seg_request_t r = request("nhi", "health");
        seg_env_t env = env_of(1);
        seg_outcome_t o;

        assert_int_equal(seg_campaign_evaluate(&env, &r, 1, &o), 0);
        assert_int_equal(o.state, SEG_ST_FROZEN);
        assert_int_equal(o.certain, 20);
        assert_int_equal(o.possible, 0);
        /* even ids: u00 u02 no destination; u04 withdrawn, u06 no category:
         * opted out; u08 excluded; 15 recipients */
        assert_int_equal(o.by_reason[SEG_WHY_NO_DESTINATION], 2);
        assert_int_equal(o.by_reason[SEG_WHY_OPT_OUT], 2);
        assert_int_equal(o.by_reason[SEG_WHY_EXCLUDED], 1);
        assert_int_equal(o.by_reason[SEG_WHY_MIN_AUDIENCE], 0);
        assert_int_equal(o.suppressed, 5);
        assert_int_equal(o.nlist, 15);
        assert_string_equal(o.list[0].user_id, "u10");
        assert_string_equal(o.list[0].account_id, "acct-10");
        seg_outcome_clear(&o);

        /* without a category only withdrawal opts out; channel filter EMAIL
         * turns LINE users into "no destination" */
        r = request("nhi", "");
        r.channel_mask = 1u << 1;
        assert_int_equal(seg_campaign_evaluate(&env, &r, 0, &o), 0);
        assert_int_equal(o.by_reason[SEG_WHY_NO_DESTINATION], 2 + 12);
        assert_int_equal(o.by_reason[SEG_WHY_OPT_OUT], 0);
        assert_int_equal(o.suppressed, 15);
        assert_int_equal(o.state, SEG_ST_PREVIEWED);
        seg_outcome_clear(&o);
}

static void test_min_audience(void **state)
{
        seg_request_t r = request("nhi", "health");
        seg_env_t env = env_of(16);
        seg_outcome_t o;

        assert_int_equal(seg_campaign_evaluate(&env, &r, 1, &o), 0);
        assert_int_equal(o.state, SEG_ST_REJECTED);
        assert_int_equal(o.by_reason[SEG_WHY_MIN_AUDIENCE], 15);
        assert_int_equal(o.suppressed, 20); /* everyone targeted */
        assert_int_equal(o.nlist, 0);
        assert_non_null(strstr(o.message, "below the minimum of 16"));
        seg_outcome_clear(&o);
        /* the request may raise the floor, not lower it */
        env = env_of(1);
        r.min_audience = 100;
        assert_int_equal(seg_campaign_evaluate(&env, &r, 0, &o), 0);
        assert_int_equal(o.state, SEG_ST_REJECTED);
        seg_outcome_clear(&o);
        r.min_audience = 1;
        r.max_recipients = 3;
        assert_int_equal(seg_campaign_evaluate(&env, &r, 0, &o), 0);
        assert_int_equal(o.state, SEG_ST_REJECTED);
        assert_non_null(strstr(o.message, "exceeds max_recipients 3"));
        seg_outcome_clear(&o);
}

static void test_bad_condition_rejected(void **state)
{
        seg_request_t r = request("nhi and", "");
        seg_env_t env = env_of(1);
        seg_outcome_t o;

        assert_int_equal(seg_campaign_evaluate(&env, &r, 1, &o), 0);
        assert_int_equal(o.state, SEG_ST_REJECTED);
        assert_string_equal(o.message, "column 8: expected a condition, found end of input");
        seg_outcome_clear(&o);
}

static void test_list_checksum_and_ids(void **state)
{
        seg_request_t r = request("nhi", "health");
        seg_env_t env = env_of(1);
        seg_outcome_t a, b;
        char *buf, hex[65], id1[65], id2[65];
        uint8_t dig[32];
        size_t len;

        assert_int_equal(seg_campaign_evaluate(&env, &r, 1, &a), 0);
        assert_int_equal(seg_campaign_evaluate(&env, &r, 1, &b), 0);
        assert_string_equal(a.checksum, b.checksum); /* same state, same list */
        buf = seg_list_serialise(a.list, a.nlist, &len);
        assert_true(strncmp(buf, "u10\tLINE\tacct-10\t1\n", 19) == 0);
        osh_sha256(buf, len, dig);
        osh_hex_encode(dig, 32, hex);
        assert_string_equal(hex, a.checksum);
        free(buf);
        seg_outcome_clear(&a);
        seg_outcome_clear(&b);

        seg_dispatch_id("C1", "u10", "LINE", id1);
        seg_dispatch_id("C1", "u10", "LINE", id2);
        assert_string_equal(id1, id2);
        /* the NUL separators keep ("C1","u10") and ("C1u","10") apart */
        seg_dispatch_id("C1u", "10", "LINE", id2);
        assert_string_not_equal(id1, id2);
        seg_dispatch_id("C1", "u10", "EMAIL", id2);
        assert_string_not_equal(id1, id2);
        osh_sha256("C1\0u10\0LINE", 11, dig);
        osh_hex_encode(dig, 32, hex);
        assert_string_equal(id1, hex);
}

static void test_test_send(void **state)
{
        seg_request_t r = request("nhi", "health");
        char *ids[] = {"u31", "u04", "nobody"};
        seg_env_t env = env_of(1000);
        seg_outcome_t o;

        r.test = 1;
        r.test_recipients = ids;
        r.ntest = 3;
        assert_int_equal(seg_campaign_evaluate(&env, &r, 1, &o), 0);
        assert_int_equal(o.state, SEG_ST_FROZEN); /* the guard is for real sends */
        assert_int_equal(o.nlist, 1);             /* u04 withdrawn, nobody unknown */
        assert_string_equal(o.list[0].user_id, "u31");
        assert_int_equal(o.list[0].channel, 1);
        seg_outcome_clear(&o);
}

static void test_state_roundtrip(void **state)
{
        char dir[] = "/tmp/seg-state-XXXXXX", err[256], *list = NULL;
        void *req = NULL;
        size_t rl, ll;
        seg_frozen_t f = {0}, g;
        const char *body = "u1\tLINE\ta\t1\n";
        uint8_t dig[32];
        char cmd[600];

        assert_non_null(mkdtemp(dir));
        strcpy(f.campaign_id, "camp/../odd id");
        f.state = SEG_ST_FROZEN;
        f.send_at_ms = 123;
        f.by_reason[SEG_WHY_OPT_OUT] = 7;
        f.req_offset = 42;
        f.breakdown = (seg_breakdown_t){.min = 10,
                                        .nchan = 2,
                                        .chan = {{0, 120, 3}, {SEG_CHAN_NONE, -1, 0}},
                                        .nward = 2,
                                        .ward = {{12101, 77, -1}, {-1, 46, 3}}};
        f.emitting = 1;
        f.emit_resend = 1;
        strcpy(f.emit_from, "/notify.dispatch.v1/0/5 /notify.dispatch.v1/1/0");
        osh_sha256(body, strlen(body), dig);
        osh_hex_encode(dig, 32, f.checksum);
        assert_int_equal(seg_state_save(dir, &f, "REQ", 3, body, strlen(body), err, sizeof(err)),
                         0);
        assert_int_equal(
            seg_state_load(dir, "camp/../odd id", &g, &req, &rl, &list, &ll, err, sizeof(err)), 1);
        assert_string_equal(g.campaign_id, "camp/../odd id");
        assert_int_equal(g.state, SEG_ST_FROZEN);
        assert_int_equal(g.send_at_ms, 123);
        assert_int_equal(g.by_reason[SEG_WHY_OPT_OUT], 7);
        /* an emission under way survives a restart */
        assert_int_equal(g.req_offset, 42);
        /* the breakdown answered when frozen is answered again */
        assert_int_equal(g.breakdown.min, 10);
        assert_int_equal(g.breakdown.nchan, 2);
        assert_int_equal(g.breakdown.nward, 2);
        for (size_t i = 0; i < 2; i++) {
                assert_int_equal(g.breakdown.chan[i].code, f.breakdown.chan[i].code);
                assert_int_equal(g.breakdown.chan[i].certain, f.breakdown.chan[i].certain);
                assert_int_equal(g.breakdown.chan[i].possible, f.breakdown.chan[i].possible);
                assert_int_equal(g.breakdown.ward[i].code, f.breakdown.ward[i].code);
                assert_int_equal(g.breakdown.ward[i].certain, f.breakdown.ward[i].certain);
                assert_int_equal(g.breakdown.ward[i].possible, f.breakdown.ward[i].possible);
        }
        assert_int_equal(g.emitting, 1);
        assert_int_equal(g.emit_resend, 1);
        assert_string_equal(g.emit_from, "/notify.dispatch.v1/0/5 /notify.dispatch.v1/1/0");
        assert_memory_equal(req, "REQ", 3);
        assert_string_equal(list, body);
        free(req);
        free(list);
        assert_int_equal(seg_state_load(dir, "other", &g, NULL, NULL, NULL, NULL, err, sizeof(err)),
                         0);
        /* a tampered list is refused */
        snprintf(cmd, sizeof(cmd), "for f in %s/*/list.tsv; do echo x >> $f; done", dir);
        assert_int_equal(system(cmd), 0);
        assert_int_equal(
            seg_state_load(dir, "camp/../odd id", &g, NULL, NULL, NULL, NULL, err, sizeof(err)),
            -1);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

/* The rule on its own: counts below min are withheld, then the next
 * smallest until the withheld ones add up to min; zeros stay. */
static void test_withhold_rule(void **state)
{
        int64_t a[] = {50, 30, 20, 0}, b[] = {50, 3, 20, 0}, c[] = {50, 3, 4, 60, 9},
                d[] = {2, 3, 0}, e[] = {50, 30, 4, 5};
        int64_t *pa[] = {&a[0], &a[1], &a[2], &a[3]}, *pb[] = {&b[0], &b[1], &b[2], &b[3]},
                *pc[] = {&c[0], &c[1], &c[2], &c[3], &c[4]}, *pd[] = {&d[0], &d[1], &d[2]},
                *pe[] = {&e[0], &e[1], &e[2], &e[3]};

        seg_withhold_small(pa, 4, 10); /* nothing small */
        assert_true(a[0] == 50 && a[1] == 30 && a[2] == 20 && a[3] == 0);
        seg_withhold_small(pb, 4, 10); /* 3 alone would be total - 70: 20 goes too */
        assert_true(b[0] == 50 && b[1] == -1 && b[2] == -1 && b[3] == 0);
        seg_withhold_small(pc, 5, 10); /* 3 + 4 = 7 < 10: the 9 goes too */
        assert_true(c[0] == 50 && c[1] == -1 && c[2] == -1 && c[3] == 60 && c[4] == -1);
        seg_withhold_small(pd, 3, 10); /* the whole total is small */
        assert_true(d[0] == -1 && d[1] == -1 && d[2] == 0);
        seg_withhold_small(pe, 4, 9); /* 4 + 5 = 9 is enough */
        assert_true(e[0] == 50 && e[1] == 30 && e[2] == -1 && e[3] == -1);
}

/* Breakdown by channel and ward over a store with wards: the rows add up to
 * the totals before withholding, and after it nothing below the floor is
 * shown nor can be subtracted out. */
static void test_breakdown(void **state)
{
        const osh_dict_entry_t *muni = osh_dict_find(dict, "municipality_code");
        seg_builder_t *b =
            seg_builder_new(osh_dict_flag_count(dict), osh_dict_value_count(dict), 1, "BW");
        int32_t *vals = calloc(osh_dict_value_count(dict), sizeof(int32_t));
        seg_dests_t wd = {0};
        seg_exclusions_t none = {0};
        seg_view_t wv = {0};
        seg_store_t *ws;
        seg_outcome_t o;
        seg_request_t r = request("true", "");
        seg_env_t env = {.view = &wv, .dict = dict, .now_ms = 1489503600000LL};
        char err[256], id[8];
        const char *cats[] = {"health"};
        uint8_t flags[32] = {0};

        /* 30 residents: wards 12101 x20, 12102 x6, 12103 x3, none x1;
         * LINE for 0..21, EMAIL 22..24, no destination 25..29 */
        for (int i = 0; i < 30; i++) {
                vals[muni->position] = i < 20 ? 12101 : i < 26 ? 12102 : i < 29 ? 12103 : 0;
                snprintf(id, sizeof(id), "w%02d", i);
                assert_int_equal(seg_builder_add(b, id, 17000, 1, flags, sizeof(flags), vals,
                                                 osh_dict_value_count(dict), err, sizeof(err)),
                                 0);
                if (i < 25)
                        assert_int_equal(seg_dests_put(&wd, id, i < 22 ? 0 : 1, "a", cats, 1, 1),
                                         0);
        }
        ws = seg_builder_finish(b);
        assert_int_equal(seg_view_sync(&wv, ws, &wd, &none, 1), 0);

        env.min_audience_floor = 1; /* nothing withheld: the exact split */
        assert_int_equal(seg_campaign_evaluate(&env, &r, 0, &o), 0);
        assert_int_equal(o.breakdown.min, 1);
        assert_int_equal(o.breakdown.nward, 4);
        assert_int_equal(o.breakdown.ward[0].code, 0);
        assert_int_equal(o.breakdown.ward[0].certain, 1);
        assert_int_equal(o.breakdown.ward[1].code, 12101);
        assert_int_equal(o.breakdown.ward[1].certain, 20);
        assert_int_equal(o.breakdown.ward[2].certain, 6);
        assert_int_equal(o.breakdown.ward[3].certain, 3);
        assert_int_equal(o.breakdown.nchan, 3);
        assert_int_equal(o.breakdown.chan[0].code, 0); /* LINE */
        assert_int_equal(o.breakdown.chan[0].certain, 22);
        assert_int_equal(o.breakdown.chan[1].certain, 3);
        assert_int_equal(o.breakdown.chan[2].code, SEG_CHAN_NONE);
        assert_int_equal(o.breakdown.chan[2].certain, 5);
        seg_outcome_clear(&o);

        env.min_audience_floor = 5; /* the request says 1: the larger wins */
        assert_int_equal(seg_campaign_evaluate(&env, &r, 1, &o), 0);
        assert_int_equal(o.breakdown.min, 5);
        /* wards: 1 and 3 are small (4 < 5 together), so 6 goes too */
        assert_int_equal(o.breakdown.ward[0].certain, -1);
        assert_int_equal(o.breakdown.ward[1].certain, 20);
        assert_int_equal(o.breakdown.ward[2].certain, -1);
        assert_int_equal(o.breakdown.ward[3].certain, -1);
        /* channels: EMAIL 3 is small, NONE 5 joins it (3 + 5 >= 5) */
        assert_int_equal(o.breakdown.chan[0].certain, 22);
        assert_int_equal(o.breakdown.chan[1].certain, -1);
        assert_int_equal(o.breakdown.chan[2].certain, -1);
        assert_int_equal(o.breakdown.ward[1].possible, 0);
        seg_outcome_clear(&o);

        r = request("ward = hanamigawa", ""); /* one ward: the others are 0 */
        assert_int_equal(seg_campaign_evaluate(&env, &r, 0, &o), 0);
        assert_int_equal(o.breakdown.ward[1].certain, 0);
        assert_int_equal(o.breakdown.ward[2].certain, 6);
        /* LINE 2, EMAIL 3, NONE 1: each small, so all withheld */
        assert_int_equal(o.breakdown.chan[0].certain, -1);
        assert_int_equal(o.breakdown.chan[1].certain, -1);
        assert_int_equal(o.breakdown.chan[2].certain, -1);
        seg_outcome_clear(&o);

        seg_view_clear(&wv);
        seg_store_destroy(ws);
        seg_dests_clear(&wd);
        free(vals);
}

static void test_render(void **state)
{
        seg_request_t r = request("nhi", "");
        seg_item_t items[] = {{"対象", "40～74歳"}, {"期限", "3月31日"}};
        char *links[] = {"https://www.city.chiba.jp/"};
        char *t;

        r.body = "特定健診のご案内です。";
        r.items = items;
        r.nitems = 2;
        r.links = links;
        r.nlinks = 1;
        t = seg_render_text(&r);
        assert_string_equal(t, "特定健診のご案内です。\n【対象】40～74歳\n【期限】3月31日\n"
                               "https://www.city.chiba.jp/");
        free(t);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_suppression_reasons),
            cmocka_unit_test(test_min_audience),
            cmocka_unit_test(test_bad_condition_rejected),
            cmocka_unit_test(test_list_checksum_and_ids),
            cmocka_unit_test(test_test_send),
            cmocka_unit_test(test_state_roundtrip),
            cmocka_unit_test(test_render),
            cmocka_unit_test(test_withhold_rule),
            cmocka_unit_test(test_breakdown),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
