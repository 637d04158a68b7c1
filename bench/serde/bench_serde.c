/* bench-serde: how fast is Avro single-object encoding compared with the
 * Kafka transport it rides on?
 *
 *   bench-serde [records]      (default 200000)
 *
 * For a typical abstracted record (Table 21 layout) and a typical raw
 * record: encode and decode rates in records/s and MB/s; then the
 * librdkafka baseline: produce + consume the same number of messages of the
 * same sizes through an in-process mock cluster, and the ratio. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "oshirase/dictionary.h"
#include "oshirase/serde.h"

typedef struct {
        const char *label;
        double enc_rate, dec_rate; /* records/s */
        size_t size;               /* encoded bytes per record */
} result_t;

static double now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *err)
{
        fprintf(stderr, "bench-serde: %s: %s\n", what, err);
        exit(1);
}

/* ---- typical records ---------------------------------------------------- */

static void build_abstracted(const osh_schema_t *s, const osh_dict_t *d, avro_value_t *v)
{
        uint8_t flags[32] = {0};
        avro_value_t vals, item;
        size_t nflags = osh_dict_flag_bytes(d);

        osh_value_new(s, v);
        osh_value_set_string(v, "user_id", "U2024000123456");
        osh_value_set_string(v, "batch_id", "core-20240401-weekly");
        osh_value_set_int(v, "reference_date", 19814);
        osh_value_set_int(v, "layout_version", osh_dict_layout(d));
        static const char *const on[] = {"nhi",        "tax_previous", "hh_age_038",
                                         "hh_age_041", "hh_age_006",   "ext_02"};
        for (size_t i = 0; i < sizeof(on) / sizeof(on[0]); i++)
                osh_flags_set(flags, nflags, osh_dict_find(d, on[i])->position, 1);
        osh_value_set_bytes(v, "flags", flags, nflags);
        osh_value_field(v, "values", &vals);
        for (size_t i = 0; i < osh_dict_value_count(d); i++) {
                avro_value_append(&vals, &item, NULL);
                avro_value_set_int(&item, i == 1   ? 198507
                                          : i == 2 ? 12101
                                          : i == 3 ? 10023
                                          : i == 4 ? 201802
                                          : i < 4  ? 2
                                                   : 0);
        }
}

static void build_raw(const osh_schema_t *s, avro_value_t *v)
{
        avro_value_t f, item;

        osh_value_new(s, v);
        osh_value_set_string(v, "atena_no", "0001234567890");
        osh_value_set_string(v, "batch_id", "core-20240401-weekly");
        osh_value_set_int(v, "reference_date", 19814);
        osh_value_set_string(v, "name", "千葉 花子");
        osh_value_set_string(v, "name_kana", "チバ ハナコ");
        osh_value_set_enum(v, "sex", "FEMALE");
        osh_value_set_int(v, "birth_date", 5660);
        osh_value_set_string(v, "address_code", "121010010230000000000000000000");
        osh_value_set_string(v, "address_text", "千葉県千葉市中央区千葉港1番1号");
        osh_value_set_string(v, "household_id", "H000987654");
        osh_value_set_enum(v, "relationship", "SPOUSE");
        osh_value_field(v, "household_members", &f);
        for (int i = 0; i < 3; i++) {
                osh_value_append(s, &f, &item);
                osh_value_set_enum(&item, "relationship", i ? "CHILD" : "HEAD");
                osh_value_set_int(&item, "birth_date", 5000 + i * 4000);
        }
        osh_value_set_enum(v, "tax_previous", "TAXED");
        osh_value_set_bool(v, "nhi", 1);
        osh_value_set_bool(v, "child_allowance", 1);
        osh_value_field(v, "extensions", &f);
        osh_value_add(s, &f, "ext_02", &item);
        avro_value_set_string(&item, "1");
        osh_value_field(v, "applicant", &f);
        osh_value_set_string(&f, "user_id", "U2024000123456");
        osh_value_field(&f, "consent_categories", &f);
        avro_value_append(&f, &item, NULL);
        avro_value_set_string(&item, "child");
}

static result_t run_serde(const char *label, const osh_schema_t *s, avro_value_t *v, long n)
{
        result_t r = {.label = label};
        unsigned char buf[4096];
        char err[256];
        double t0;

        if (osh_serde_encode(s, v, buf, sizeof(buf), &r.size, err, sizeof(err)) != 0)
                die(label, err);
        t0 = now();
        for (long i = 0; i < n; i++)
                if (osh_serde_encode(s, v, buf, sizeof(buf), &r.size, err, sizeof(err)) != 0)
                        die(label, err);
        r.enc_rate = (double)n / (now() - t0);
        t0 = now();
        for (long i = 0; i < n; i++) {
                avro_value_t out;
                if (osh_serde_decode(s, buf, r.size, &out, NULL, err, sizeof(err)) != 0)
                        die(label, err);
                avro_value_decref(&out);
        }
        r.dec_rate = (double)n / (now() - t0);
        printf("%-11s %5zu B  encode %10.0f rec/s %7.1f MB/s   decode %10.0f rec/s %7.1f MB/s\n",
               label, r.size, r.enc_rate, r.enc_rate * (double)r.size / 1e6, r.dec_rate,
               r.dec_rate * (double)r.size / 1e6);
        return r;
}

/* ==== librdkafka baseline =================================================
 * Produce n messages of `size` bytes to an in-process mock cluster
 * (test.mock.num.brokers: bench only; services use the real broker
 * binaries), then consume them back by partition assignment (no group
 * join, so the rate is not dominated by the 3 s rebalance). The mock keeps
 * at most 5 MiB per partition, so large runs are capped. */

#define KB_PARTITIONS 8
#define KB_TOPIC      "bench.serde"

static rd_kafka_t *kb_client(rd_kafka_type_t type, const char *bootstraps)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[256];
        rd_kafka_t *rk;

        if ((bootstraps ? rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof(err))
                        : rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", err,
                                            sizeof(err))) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set(conf, "log_level", "3", err, sizeof(err)) != RD_KAFKA_CONF_OK ||
            (type == RD_KAFKA_CONSUMER &&
             (rd_kafka_conf_set(conf, "group.id", "bench", err, sizeof(err)) != RD_KAFKA_CONF_OK ||
              rd_kafka_conf_set(conf, "enable.partition.eof", "false", err, sizeof(err)) !=
                  RD_KAFKA_CONF_OK)))
                die("kafka conf", err);
        rk = rd_kafka_new(type, conf, err, sizeof(err));
        if (!rk)
                die("kafka client", err);
        return rk;
}

static double kb_produce(rd_kafka_t *p, long n, size_t size)
{
        char *payload = calloc(1, size);
        double t0 = now();

        for (long i = 0; i < n; i++) {
                rd_kafka_resp_err_t e;
                while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(KB_TOPIC),
                                              RD_KAFKA_V_PARTITION((int32_t)(i % KB_PARTITIONS)),
                                              RD_KAFKA_V_VALUE(payload, size),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                              RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(p, 10);
                if (e)
                        die("produce", rd_kafka_err2str(e));
                rd_kafka_poll(p, 0);
        }
        if (rd_kafka_flush(p, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                die("flush", "timed out");
        free(payload);
        return (double)n / (now() - t0);
}

static double kb_consume(const char *bootstraps, long n)
{
        rd_kafka_t *c = kb_client(RD_KAFKA_CONSUMER, bootstraps);
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(KB_PARTITIONS);
        long got = 0;
        double t0;

        for (int i = 0; i < KB_PARTITIONS; i++)
                rd_kafka_topic_partition_list_add(parts, KB_TOPIC, i)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(c, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        t0 = now();
        while (got < n && now() - t0 < 120) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
                if (!m)
                        continue;
                if (!m->err)
                        got++;
                rd_kafka_message_destroy(m);
        }
        double rate = (double)got / (now() - t0);
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        if (got < n)
                die("consume", "did not get every message back");
        return rate;
}

static void kafka_baseline(const result_t *r, long n)
{
        rd_kafka_t *p = kb_client(RD_KAFKA_PRODUCER, NULL);
        rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(p);
        long cap = (long)((size_t)4 * 1024 * 1024 * KB_PARTITIONS / (r->size + 80));
        long k = n < cap ? n : cap;

        if (!mc)
                die("kafka", "no mock cluster");
        rd_kafka_mock_topic_create(mc, KB_TOPIC, KB_PARTITIONS, 1);
        double prod = kb_produce(p, k, r->size);
        double cons = kb_consume(rd_kafka_mock_cluster_bootstraps(mc), k);
        printf("%-11s %5zu B  kafka produce %10.0f msg/s  consume %10.0f msg/s  (%ld msgs)\n",
               r->label, r->size, prod, cons, k);
        printf("%-11s          encode/produce %.1fx   decode/consume %.1fx\n", r->label,
               r->enc_rate / prod, r->dec_rate / cons);
        rd_kafka_destroy(p);
}
/* ==== end of librdkafka baseline ========================================= */

int main(int argc, char **argv)
{
        long n = argc > 1 ? atol(argv[1]) : 200000;
        char err[256];
        avro_value_t ab, raw;
        osh_dict_t *d;
        result_t r[2];

        if (n <= 0)
                die("usage", "bench-serde [records]");
        if (osh_serde_init(err, sizeof(err)) != 0)
                die("init", err);
        d = osh_dict_load_default(err, sizeof(err));
        if (!d)
                die("dictionary", err);
        const osh_schema_t *sab = osh_schema_for_topic("resident.abstracted.v1");
        const osh_schema_t *sraw = osh_schema_for_topic("resident.raw.v1");
        build_abstracted(sab, d, &ab);
        build_raw(sraw, &raw);

        printf("bench-serde: %ld records each (avro-c %s, librdkafka %s)\n", n, "1.11",
               rd_kafka_version_str());
        r[0] = run_serde("abstracted", sab, &ab, n);
        r[1] = run_serde("raw", sraw, &raw, n);
        for (int i = 0; i < 2; i++)
                kafka_baseline(&r[i], n);

        avro_value_decref(&ab);
        avro_value_decref(&raw);
        osh_dict_destroy(d);
        osh_serde_shutdown();
        return 0;
}
