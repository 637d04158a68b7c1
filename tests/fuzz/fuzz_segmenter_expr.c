/* libFuzzer target: the segmenter's condition parser and evaluator. Any
 * input must either compile (and then evaluate over a small store without
 * touching memory outside it) or fail with a column inside the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/dictionary.h"
#include "seg_expr.h"
#include "seg_store.h"

static osh_dict_t *dict;
static seg_store_t *store;

static void init(void)
{
        char err[256];
        seg_builder_t *b;
        int32_t values[64] = {0};
        uint8_t flags[32];
        char id[16];
        int i;

        dict = osh_dict_load_default(err, sizeof(err));
        if (!dict)
                abort();
        b = seg_builder_new(osh_dict_flag_count(dict), osh_dict_value_count(dict),
                            osh_dict_layout(dict), "F");
        for (i = 0; i < 70; i++) { /* more than one bitset word */
                memset(flags, i * 37, sizeof(flags));
                values[0] = i % 3 + 1;
                values[1] = 190001 + (i * 131) % 12000;
                values[4] = i % 2 ? 201001 + i : 0;
                snprintf(id, sizeof(id), "u%03d", i);
                seg_builder_add(b, id, 17000, osh_dict_layout(dict), flags, sizeof(flags), values,
                                64, err, sizeof(err));
        }
        store = seg_builder_finish(b);
        if (!store)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        seg_expr_opts_t o;
        char err[256], *text = malloc(size + 1);
        uint64_t t[4], p[4];
        seg_eval_ctx_t ctx;
        seg_expr_t *e;
        int col = 0;

        if (!dict)
                init();
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        o = (seg_expr_opts_t){.dict = dict};
        e = seg_expr_compile(text, &o, &col, err, sizeof(err));
        if (!e && (col < 0 || (size_t)col > strlen(text) + 1))
                abort();
        if (e) {
                ctx = (seg_eval_ctx_t){.store = store, .send = {2017, 3, 15}};
                if (seg_expr_eval(e, &ctx, t, p))
                        abort();
                for (size_t i = 0; i < store->words; i++)
                        if (t[i] & ~p[i]) /* TRUE implies possible */
                                abort();
                seg_expr_dump(e, err, sizeof(err));
        }
        seg_expr_destroy(e);
        free(text);
        return 0;
}
