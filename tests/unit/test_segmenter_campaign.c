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
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
