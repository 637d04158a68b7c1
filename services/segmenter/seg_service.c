/* The segmenter's configuration table and service object (see segmenter.h). */
#include <stdint.h>

#include "oshirase/service.h"
#include "segmenter.h"

static const osh_cfg_entry_t seg_config_table[] = {
    {"group.id", OSH_CFG_STR, "segmenter", "OSH_SEGMENTER_GROUP",
     "consumer group for campaign.requests.v1"},
    {"state.dir", OSH_CFG_STR, "segmenter-state", "OSH_SEGMENTER_STATE_DIR",
     "directory for frozen recipient lists and scheduled sends"},
    {"dictionary.file", OSH_CFG_STR, NULL, "OSH_DICTIONARY_FILE",
     "attribute dictionary (staff's protected copy); default: the compiled-in one",
     .check = osh_cfg_check_file},
    {"dictionary.key.file", OSH_CFG_STR, NULL, "OSH_DICTIONARY_KEY_FILE",
     "key of a sealed dictionary.file (osh-ctl seal-dictionary); unset: the file is plain TSV",
     .check = osh_cfg_check_file},
    {"exclusion.file", OSH_CFG_STR, NULL, "OSH_SEGMENTER_EXCLUSION_FILE",
     "manual exclusion list (protected persons): one 利用者ID per line",
     .check = osh_cfg_check_file},
    {"min.audience", OSH_CFG_INT, "10", "OSH_SEGMENTER_MIN_AUDIENCE",
     "campaigns with fewer recipients are refused (a request may ask for more)",
     .flags = OSH_CFG_RANGE, .min = 0, .max = INT32_MAX},
};

static void *seg_open(osh_service_t *svc, char *errstr, size_t errstr_size)
{
        return segmenter_new(svc, errstr, errstr_size);
}

static int seg_run(void *app)
{
        return segmenter_run(app) ? 1 : 0;
}

static void seg_close(void *app)
{
        segmenter_destroy(app);
}

/* segmenter_run says ready once its state has caught up. */
const osh_service_app_t seg_app = {
    .name = "segmenter",
    .table = seg_config_table,
    .ntable = sizeof(seg_config_table) / sizeof(seg_config_table[0]),
    .hb_prefix = "kafka.",
    .open = seg_open,
    .run = seg_run,
    .close = seg_close,
};
