/* libFuzzer target for the config file parser and the value parsers.
 * Input is config-file text; its first line is also fed to the value
 * parsers. Run: ./fuzz_config -max_len=4096 corpus-config/ */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/config.h"

static const osh_cfg_entry_t table[] = {
    {"f.str", OSH_CFG_STR, NULL, "OSH_F_STR", "string"},
    {"f.int", OSH_CFG_INT, "1", "OSH_F_INT", "integer"},
    {"f.bool", OSH_CFG_BOOL, "false", "OSH_F_BOOL", "bool"},
    {"f.dur", OSH_CFG_DURATION_MS, "1s", "OSH_F_DUR", "duration"},
    {"f.size", OSH_CFG_SIZE, "1k", "OSH_F_SIZE", "size"},
};

static int count(const char *key, const char *val, void *opaque)
{
        *(size_t *)opaque += strlen(key) + strlen(val);
        return 0;
}

static void fuzz_values(const uint8_t *data, size_t size)
{
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        char *s = malloc(len + 1);
        osh_replay_t r;
        int64_t v;
        int b;

        if (!s)
                return;
        memcpy(s, data, len);
        s[len] = '\0';
        osh_config_parse_int(s, &v);
        osh_config_parse_bool(s, &b);
        osh_config_parse_duration(s, &v);
        osh_config_parse_size(s, &v);
        if (osh_config_replay_parse(s, &r) == 0 && r.kind == OSH_REPLAY_BATCH &&
            strlen(r.batch_id) == 0)
                abort(); /* an accepted batch id is never empty */
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        osh_config_t *cfg = osh_config_new("fuzz", table, sizeof(table) / sizeof(table[0]));
        char err[256];
        size_t total = 0;

        if (!cfg)
                return 0;
        if (osh_config_load_text(cfg, "fuzz.conf", (const char *)data, size, err, sizeof(err)) ==
            0) {
                /* read everything back: the getters must be consistent */
                osh_config_str(cfg, "f.str");
                osh_config_int(cfg, "f.int");
                osh_config_bool(cfg, "f.bool");
                osh_config_int(cfg, "f.dur");
                osh_config_int(cfg, "f.size");
                osh_config_foreach_prefixed(cfg, "kafka.", count, &total);
        } else if (!err[0]) {
                abort(); /* failures must explain themselves */
        }
        osh_config_destroy(cfg);
        fuzz_values(data, size);
        return 0;
}
