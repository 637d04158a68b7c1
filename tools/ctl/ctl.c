/* osh-ctl: operator tool. Produces JSON lines as single-object Avro,
 * prints topics back as JSON lines, lists schemas and watermarks. Tests use
 * it as the independent reader/writer of what services exchange. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "oshirase/scan.h"
#include "oshirase/clock.h"
#include "oshirase/avro_json.h"
#include "oshirase/config.h"
#include "oshirase/dictionary.h"
#include "oshirase/kafka.h"
#include "oshirase/log.h"
#include "oshirase/serde.h"
#include "oshirase/signal.h"
#include "oshirase/batch.h"
#include "oshirase/topics.h"

#define CTL_METADATA_MS 10000 /* the topic's partition count */

static const osh_cfg_entry_t table[] = {
    {"bootstrap", OSH_CFG_STR, NULL, "OSH_BOOTSTRAP", "bootstrap servers of the cluster"},
    {"topic", OSH_CFG_STR, NULL, NULL, "topic to produce to / consume from"},
    {"schema", OSH_CFG_STR, NULL, NULL, "schema full name (default: the topic's schema)"},
    {"key.field", OSH_CFG_STR, NULL, NULL, "produce: record field used as the key"},
    {"header", OSH_CFG_STR, NULL, NULL, "produce: one header as name=value"},
    {"batch", OSH_CFG_STR, NULL, NULL,
     "produce: frame the lines as batch ID (osh.batch.id header, START/END on batch.control.v1)"},
    {"batch.reference.date", OSH_CFG_INT, "0", NULL, "produce --batch: reference date (days)"},
    {"batch.end", OSH_CFG_BOOL, "true", NULL,
     "produce --batch: send the END marker (false: only print it as JSON on stdout)"},
    {"count", OSH_CFG_INT, "0", NULL, "consume: stop after N records (0: at the end)"},
    {"timeout", OSH_CFG_DURATION_MS, "20s", NULL, "give up after this long"},
    {"in", OSH_CFG_STR, NULL, NULL, "seal-dictionary: the dictionary TSV"},
    {"out", OSH_CFG_STR, NULL, NULL, "seal-dictionary: where the sealed copy goes"},
    {"key.file", OSH_CFG_STR, NULL, NULL, "seal-dictionary: 64-hex-digit key file"},
};
#define N_TABLE (sizeof(table) / sizeof(table[0]))

static const char usage[] =
    "usage: osh-ctl [options] COMMAND\n"
    "  produce     read JSON lines on stdin, write them to --topic as Avro\n"
    "  consume     print --topic from the beginning as JSON lines\n"
    "  schemas     list compiled-in schemas with their fingerprints\n"
    "  watermarks  print low/high offsets of every partition of --topic\n"
    "  seal-dictionary  encrypt --in (a dictionary TSV) with --key.file into --out\n";

static const osh_schema_t *pick_schema(const osh_config_t *cfg)
{
        const char *name = osh_config_str(cfg, "schema");
        const char *topic = osh_config_str(cfg, "topic");

        return name ? osh_schema_get(name) : topic ? osh_schema_for_topic(topic) : NULL;
}

static rd_kafka_headers_t *make_headers(const char *spec)
{
        rd_kafka_headers_t *h;
        const char *eq;

        if (!spec)
                return NULL;
        eq = strchr(spec, '=');
        if (!eq)
                return NULL;
        h = rd_kafka_headers_new(1);
        rd_kafka_header_add(h, spec, eq - spec, eq + 1, -1);
        return h;
}

static int produce_line(const osh_config_t *cfg, osh_producer_t *p, const osh_schema_t *s,
                        const char *line, size_t len, size_t lineno, osh_batch_sum_t *sum)
{
        char errstr[512], key[256] = "";
        const char *kf = osh_config_str(cfg, "key.field"), *kv;
        size_t klen = 0, vlen;
        avro_value_t v;
        void *buf = NULL;
        int rc = -1;

        if (osh_value_new(s, &v))
                return -1;
        if (osh_avro_from_json(line, len, s->json, &v, errstr, sizeof(errstr)) ||
            osh_serde_encode_alloc(s, &v, &buf, &vlen, errstr, sizeof(errstr))) {
                fprintf(stderr, "osh-ctl: stdin line %zu: %s\n", lineno, errstr);
                goto done;
        }
        if (kf && osh_value_get_string(&v, kf, &kv, &klen) == 0)
                snprintf(key, sizeof(key), "%s", kv);
        osh_kafka_msg_t m = {.topic = osh_config_str(cfg, "topic"),
                             .partition = RD_KAFKA_PARTITION_UA,
                             .key = key[0] ? key : NULL,
                             .key_len = strlen(key),
                             .value = buf,
                             .value_len = vlen,
                             .headers = make_headers(osh_config_str(cfg, "header"))};
        if (osh_config_str(cfg, "batch")) {
                osh_batch_header(&m.headers, osh_config_str(cfg, "batch"));
                osh_batch_sum_add(sum, m.key ? key : "", m.key_len, buf, vlen);
        }
        rc = osh_producer_send(p, &m, NULL);
        if (rc && m.headers)
                rd_kafka_headers_destroy(m.headers);
done:
        free(buf);
        avro_value_decref(&v);
        return rc;
}

/* --batch: START before the lines; END (count + checksum of what was
 * produced) after them, or printed as a JSON line for a later produce. */
static int batch_marker(const osh_config_t *cfg, osh_producer_t *p, int is_end,
                        const osh_batch_sum_t *sum)
{
        osh_batch_marker_t m = {.is_end = is_end, .full_snapshot = 1};

        snprintf(m.batch_id, sizeof(m.batch_id), "%s", osh_config_str(cfg, "batch"));
        snprintf(m.topic, sizeof(m.topic), "%s", osh_config_str(cfg, "topic"));
        m.reference_date = (int32_t)osh_config_int(cfg, "batch.reference.date");
        m.extract_time_ms = (int64_t)m.reference_date * 86400000;
        m.record_count = sum->count;
        osh_batch_sum_hex(sum, m.checksum);
        if (is_end && !osh_config_bool(cfg, "batch.end")) {
                printf("{\"batch_id\":\"%s\",\"kind\":\"END\",\"topic\":\"%s\",\"record_count\":"
                       "%" PRId64 ",\"checksum\":\"%s\",\"checksum_algorithm\":\"%s\","
                       "\"reference_date\":%" PRId32 ",\"extract_time\":%" PRId64
                       ",\"full_snapshot\":true,\"producer\":\"osh-ctl\",\"instance\":\"\"}\n",
                       m.batch_id, m.topic, m.record_count, m.checksum, OSH_BATCH_CHECKSUM_ALG,
                       m.reference_date, m.extract_time_ms);
                return 0;
        }
        if (osh_batch_marker_send(p, &m, "osh-ctl", ""))
                return -1;
        return osh_producer_flush(p, (int)osh_config_int(cfg, "timeout"));
}

static int cmd_produce(const osh_config_t *cfg)
{
        char errstr[512], *line = NULL;
        const osh_schema_t *s = pick_schema(cfg);
        size_t cap = 0, n = 0, bad = 0;
        ssize_t len;
        osh_batch_sum_t sum = {0};
        osh_producer_t *p;
        rd_kafka_conf_t *conf;

        if (!s || !osh_config_str(cfg, "topic")) {
                fprintf(stderr, "osh-ctl produce: --topic with a known schema is required\n");
                return 2;
        }
        conf = osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_PRODUCER,
                                  osh_config_str(cfg, "bootstrap"), errstr, sizeof(errstr));
        p = conf ? osh_producer_new(conf, errstr, sizeof(errstr)) : NULL;
        if (!p) {
                fprintf(stderr, "osh-ctl: %s\n", errstr);
                return 1;
        }
        if (osh_config_str(cfg, "batch") && batch_marker(cfg, p, 0, &sum)) {
                osh_producer_destroy(p);
                return 1;
        }
        while ((len = getline(&line, &cap, stdin)) > 0) {
                n++;
                if (len <= 1)
                        continue;
                if (produce_line(cfg, p, s, line, (size_t)len, n, &sum))
                        bad++;
        }
        free(line);
        int frc = osh_producer_flush(p, (int)osh_config_int(cfg, "timeout"));
        if (!frc && osh_config_str(cfg, "batch"))
                frc = batch_marker(cfg, p, 1, &sum);
        osh_producer_destroy(p);
        fprintf(stderr, "osh-ctl: %zu line(s), %zu rejected\n", n, bad);
        return frc || bad ? 1 : 0;
}

/* Key as text if printable UTF-8-ish, else as hex, so output is valid JSON. */
static json_t *bytes_json(const void *p, size_t len)
{
        json_t *j = p ? json_stringn((const char *)p, len) : json_null();
        char *hex;

        if (j)
                return j;
        hex = malloc(len * 2 + 1);
        for (size_t i = 0; hex && i < len; i++)
                sprintf(hex + i * 2, "%02x", ((const unsigned char *)p)[i]);
        j = hex ? json_pack("{s:s}", "hex", hex) : json_null();
        free(hex);
        return j;
}

static json_t *headers_json(const rd_kafka_message_t *m)
{
        rd_kafka_headers_t *h;
        json_t *o = json_object();
        const char *name;
        const void *val;
        size_t size;

        if (rd_kafka_message_headers(m, &h))
                return o;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &size); i++)
                json_object_set_new(o, name, bytes_json(val, size));
        return o;
}

static json_t *value_json(const rd_kafka_message_t *m)
{
        char errstr[256];
        avro_value_t v;
        json_t *j;

        if (osh_serde_decode(NULL, m->payload, m->len, &v, NULL, errstr, sizeof(errstr)))
                return json_pack("{s:s}", "decode_error", errstr);
        j = osh_avro_to_json(&v);
        avro_value_decref(&v);
        return j ? j : json_pack("{s:s}", "decode_error", "not representable as JSON");
}

static void print_message(const rd_kafka_message_t *m)
{
        json_t *o = json_pack("{s:s,s:i,s:I,s:I}", "topic", rd_kafka_topic_name(m->rkt),
                              "partition", (int)m->partition, "offset", (json_int_t)m->offset,
                              "timestamp", (json_int_t)rd_kafka_message_timestamp(m, NULL));
        char *s;

        json_object_set_new(o, "key", bytes_json(m->key, m->key_len));
        json_object_set_new(o, "headers", headers_json(m));
        json_object_set_new(o, "value", value_json(m));
        s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII * 0);
        puts(s);
        free(s);
        json_decref(o);
}

/* A consumer handle on --bootstrap that commits nothing. NULL (said). */
static rd_kafka_t *client(const osh_config_t *cfg)
{
        char errstr[512];
        rd_kafka_conf_t *conf =
            osh_kafka_conf_new(cfg, "kafka.", OSH_KAFKA_CONSUMER, osh_config_str(cfg, "bootstrap"),
                               errstr, sizeof(errstr));
        rd_kafka_t *rk = NULL;

        if (!conf || osh_kafka_conf_set(conf, "group.id", "osh-ctl", errstr, sizeof(errstr)) ||
            osh_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr))) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                fprintf(stderr, "osh-ctl: %s\n", errstr);
                return NULL;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(conf);
                fprintf(stderr, "osh-ctl: %s\n", errstr);
        }
        return rk;
}

static rd_kafka_t *assign_all(const osh_config_t *cfg, const char *topic, int *npart)
{
        char errstr[512];
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_t *rk = client(cfg);

        if (!rk)
                return NULL;
        *npart = osh_scan_partition_count(rk, topic, CTL_METADATA_MS, errstr, sizeof(errstr));
        if (*npart < 0) {
                fprintf(stderr, "osh-ctl: %s\n", errstr);
                rd_kafka_destroy(rk);
                return NULL;
        }
        l = rd_kafka_topic_partition_list_new(*npart);
        for (int i = 0; i < *npart; i++)
                rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, l);
        rd_kafka_topic_partition_list_destroy(l);
        return rk;
}

static int cmd_consume(const osh_config_t *cfg)
{
        const char *topic = osh_config_str(cfg, "topic");
        int64_t want = osh_config_int(cfg, "count"), got = 0;
        int64_t deadline = osh_mono_ms() + osh_config_int(cfg, "timeout");
        int npart = 0, eofs = 0;
        unsigned char at_eof[1024] = {0}; /* a partition can report EOF, then get more */
        rd_kafka_t *rk;

        if (!topic) {
                fprintf(stderr, "osh-ctl consume: --topic is required\n");
                return 2;
        }
        rk = assign_all(cfg, topic, &npart);
        if (!rk)
                return 1;
        while (osh_mono_ms() < deadline && !osh_shutdown_requested() &&
               (want ? got < want : eofs < npart)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                if (!m)
                        continue;
                int p = m->partition >= 0 && m->partition < 1024 ? m->partition : 0;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && !at_eof[p]) {
                        at_eof[p] = 1;
                        eofs++;
                } else if (!m->err && ++got) {
                        eofs -= at_eof[p];
                        at_eof[p] = 0;
                        print_message(m);
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        fflush(stdout);
        if (want && got < want) {
                fprintf(stderr, "osh-ctl: timed out after %" PRId64 " of %" PRId64 " records\n",
                        got, want);
                return 1;
        }
        return 0;
}

static int cmd_schemas(void)
{
        for (size_t i = 0; i < osh_schema_count(); i++) {
                const osh_schema_t *s = osh_schema_at(i);
                printf("%016" PRIx64 "  %-32s %-24s %s\n", s->fingerprint, s->name,
                       s->topic ? s->topic : "-", s->current ? "current" : "older");
        }
        return 0;
}

/* Partitions of topic from a listing of every topic (-1 and a message
 * when it is not there): asking for the one topic would make a broker with
 * auto-creation (the embedded one) create it. */
static int listed_partitions(rd_kafka_t *rk, const char *topic, const char *bootstrap)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, CTL_METADATA_MS);
        int n = -1;

        if (err) {
                fprintf(stderr, "osh-ctl: metadata: %s\n", rd_kafka_err2str(err));
                return -1;
        }
        for (int i = 0; i < md->topic_cnt; i++)
                if (!strcmp(md->topics[i].topic, topic) && !md->topics[i].err)
                        n = md->topics[i].partition_cnt;
        rd_kafka_metadata_destroy(md);
        if (n < 0)
                fprintf(stderr, "osh-ctl: topic %s does not exist on %s\n", topic,
                        bootstrap ? bootstrap : "the cluster");
        return n;
}

/* Low (which = RD_KAFKA_OFFSET_BEGINNING) or high (END) watermarks of
 * partitions 0..n-1 in one ListOffsets round instead of two per partition. */
static rd_kafka_topic_partition_list_t *watermarks(rd_kafka_t *rk, const char *topic, int n,
                                                   int64_t which)
{
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);
        rd_kafka_resp_err_t err;

        for (int i = 0; i < n; i++)
                rd_kafka_topic_partition_list_add(l, topic, i)->offset = which;
        err = rd_kafka_offsets_for_times(rk, l, CTL_METADATA_MS);
        if (err) {
                fprintf(stderr, "osh-ctl: watermarks of %s: %s\n", topic, rd_kafka_err2str(err));
                rd_kafka_topic_partition_list_destroy(l);
                return NULL;
        }
        return l;
}

static int cmd_watermarks(const osh_config_t *cfg)
{
        const char *topic = osh_config_str(cfg, "topic");
        rd_kafka_topic_partition_list_t *lo = NULL, *hi = NULL;
        rd_kafka_t *rk = topic ? client(cfg) : NULL;
        int n, rc = 1;

        if (!topic)
                fprintf(stderr, "osh-ctl watermarks: --topic is required\n");
        if (!rk)
                return topic ? 1 : 2;
        n = listed_partitions(rk, topic, osh_config_str(cfg, "bootstrap"));
        if (n >= 0 && (lo = watermarks(rk, topic, n, RD_KAFKA_OFFSET_BEGINNING)) &&
            (hi = watermarks(rk, topic, n, RD_KAFKA_OFFSET_END))) {
                for (int i = 0; i < n; i++)
                        printf("%s\t%d\t%" PRId64 "\t%" PRId64 "\n", topic, i,
                               lo->elems[i].err ? -1 : lo->elems[i].offset,
                               hi->elems[i].err ? -1 : hi->elems[i].offset);
                rc = 0;
        }
        if (lo)
                rd_kafka_topic_partition_list_destroy(lo);
        if (hi)
                rd_kafka_topic_partition_list_destroy(hi);
        rd_kafka_destroy(rk);
        return rc;
}

/* Staff's copy of the item names travels sealed (spec 14); validate the TSV
 * first so a broken dictionary is never sealed. */
static int cmd_seal_dictionary(const osh_config_t *cfg)
{
        const char *in = osh_config_str(cfg, "in"), *out = osh_config_str(cfg, "out");
        const char *kf = osh_config_str(cfg, "key.file");
        char errstr[512], *text = NULL;
        uint8_t key[32], *sealed = NULL;
        size_t n = 0, len = 0;
        osh_dict_t *d;
        FILE *fp;
        int rc = 1;

        if (!in || !out || !kf) {
                fprintf(stderr,
                        "osh-ctl seal-dictionary: --in, --out and --key.file are required\n");
                return 2;
        }
        d = osh_dict_load(in, errstr, sizeof(errstr));
        fp = d ? fopen(in, "rb") : NULL;
        if (fp) {
                text = malloc(4u << 20);
                n = text ? fread(text, 1, 4u << 20, fp) : 0;
                fclose(fp);
        }
        if (!d || !text || osh_dict_read_key(kf, key, errstr, sizeof(errstr)) ||
            osh_dict_seal(text, n, key, &sealed, &len, errstr, sizeof(errstr)))
                goto done;
        fp = fopen(out, "wb");
        int ok = fp && fwrite(sealed, 1, len, fp) == len;
        if (fp && fclose(fp))
                ok = 0;
        if (ok) {
                printf("sealed %zu entries into %s\n", osh_dict_count(d), out);
                rc = 0;
        } else {
                snprintf(errstr, sizeof(errstr), "%s: cannot write", out);
        }
done:
        if (rc)
                fprintf(stderr, "osh-ctl: %s\n", errstr);
        free(sealed);
        free(text);
        osh_dict_destroy(d);
        return rc;
}

int main(int argc, char **argv)
{
        char errstr[512];
        osh_config_t *cfg = osh_config_new("osh-ctl", table, N_TABLE);
        const char *cmd;
        int rc = 2;

        switch (osh_config_load(cfg, argc, argv, NULL, errstr, sizeof(errstr))) {
        case OSH_CONFIG_EXIT:
                fputs(usage, stdout);
                osh_config_destroy(cfg);
                return 0;
        case OSH_CONFIG_FAIL:
                fprintf(stderr, "osh-ctl: %s\n%s", errstr, usage);
                osh_config_destroy(cfg);
                return 2;
        }
        osh_config_init_log(cfg);
        osh_signal_install();
        if (osh_serde_init(errstr, sizeof(errstr))) {
                fprintf(stderr, "osh-ctl: %s\n", errstr);
                osh_config_destroy(cfg);
                return 1;
        }
        cmd = osh_config_positional_count(cfg) == 1 ? osh_config_positional(cfg, 0) : "";
        if (!strcmp(cmd, "produce"))
                rc = cmd_produce(cfg);
        else if (!strcmp(cmd, "consume"))
                rc = cmd_consume(cfg);
        else if (!strcmp(cmd, "schemas"))
                rc = cmd_schemas();
        else if (!strcmp(cmd, "watermarks"))
                rc = cmd_watermarks(cfg);
        else if (!strcmp(cmd, "seal-dictionary"))
                rc = cmd_seal_dictionary(cfg);
        else
                fputs(usage, stderr);
        osh_serde_shutdown();
        osh_config_destroy(cfg);
        return rc;
}
