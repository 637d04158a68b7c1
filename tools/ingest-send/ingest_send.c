/* osh-ingest-send: a small client for cloud-ingest, for tests and operators.
 *
 *   osh-ingest-send batch --url U [auth] --instance I --sequence N --topic T
 *                   --partition P --offset O --count C [--batch-id B] [--end]
 *                   [--out FILE]
 *       builds C synthetic records of T (schema defaults, user_id/batch_id
 *       set, key = user id "u<offset>", header osh.batch.id) at offsets
 *       O..O+C-1; --end appends the batch's END marker (count + checksum)
 *       as batch.control.v1 [0] at offset O+C. Prints "<status> <ack>".
 *       --out writes the packed body instead of sending it.
 *   osh-ingest-send probe --url U [auth]        prints the ProbeResponse
 *   auth: --key-id K --secret S | --ca F --cert F --cert-key F */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oshirase/clock.h"
#include "oshirase/auth.h"
#include "oshirase/batch.h"
#include "oshirase/http_client.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"
#include "oshirase/transfer.h"

#define BASE_MS INT64_C(1700000000000)

typedef struct args {
        const char *op, *url, *key_id, *secret, *ca, *cert, *cert_key, *instance, *topic, *batch_id,
            *out;
        uint64_t sequence;
        int32_t partition;
        int64_t offset, count;
        int end;
} args_t;

static int parse_args(int argc, char **argv, args_t *a)
{
        *a = (args_t){
            .instance = "relay-test", .topic = OSH_TOPIC_ABSTRACTED, .batch_id = "b1", .count = 1};
        if (argc < 2)
                return -1;
        a->op = argv[1];
        for (int i = 2; i < argc; i++) {
                const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (!strcmp(k, "--end")) {
                        a->end = 1;
                        continue;
                }
                if (!v)
                        return -1;
                i++;
                if (!strcmp(k, "--url"))
                        a->url = v;
                else if (!strcmp(k, "--key-id"))
                        a->key_id = v;
                else if (!strcmp(k, "--secret"))
                        a->secret = v;
                else if (!strcmp(k, "--ca"))
                        a->ca = v;
                else if (!strcmp(k, "--cert"))
                        a->cert = v;
                else if (!strcmp(k, "--cert-key"))
                        a->cert_key = v;
                else if (!strcmp(k, "--instance"))
                        a->instance = v;
                else if (!strcmp(k, "--topic"))
                        a->topic = v;
                else if (!strcmp(k, "--batch-id"))
                        a->batch_id = v;
                else if (!strcmp(k, "--out"))
                        a->out = v;
                else if (!strcmp(k, "--sequence"))
                        a->sequence = strtoull(v, NULL, 10);
                else if (!strcmp(k, "--partition"))
                        a->partition = (int32_t)strtol(v, NULL, 10);
                else if (!strcmp(k, "--offset"))
                        a->offset = strtoll(v, NULL, 10);
                else if (!strcmp(k, "--count"))
                        a->count = strtoll(v, NULL, 10);
                else
                        return -1;
        }
        return 0;
}

/* One synthetic value of topic's schema (defaults; ids set when present). */
static int make_value(const char *topic, const char *uid, const char *batch, void **out,
                      size_t *len)
{
        const osh_schema_t *s = osh_schema_for_topic(topic);
        avro_value_t v;
        char err[128];
        int rc;

        if (!s || osh_value_new(s, &v))
                return -1;
        osh_value_set_string(&v, "user_id", uid);
        osh_value_set_string(&v, "batch_id", batch);
        rc = osh_serde_encode_alloc(s, &v, out, len, err, sizeof(err));
        avro_value_decref(&v);
        return rc;
}

static int add_end_marker(osh_transfer_builder_t *b, const args_t *a, const osh_batch_sum_t *sum)
{
        const osh_schema_t *s = osh_schema_for_topic(OSH_TOPIC_BATCH);
        osh_transfer_header_t h = {OSH_HDR_BATCH_ID, a->batch_id, strlen(a->batch_id)};
        osh_transfer_record_t r = {0};
        char cks[17], err[128];
        avro_value_t v;
        void *buf = NULL;
        size_t len;
        int rc = -1;

        osh_batch_sum_hex(sum, cks);
        if (osh_value_new(s, &v))
                return -1;
        if (osh_value_set_string(&v, "batch_id", a->batch_id) ||
            osh_value_set_enum(&v, "kind", "END") || osh_value_set_string(&v, "topic", a->topic) ||
            osh_value_set_long(&v, "record_count", sum->count) ||
            osh_value_set_string(&v, "checksum", cks) ||
            osh_value_set_long(&v, "extract_time", osh_wall_ms() - 60000) ||
            osh_serde_encode_alloc(s, &v, &buf, &len, err, sizeof(err)))
                goto out;
        r = (osh_transfer_record_t){OSH_TOPIC_BATCH,
                                    0,
                                    a->offset + a->count,
                                    osh_wall_ms(),
                                    a->batch_id,
                                    strlen(a->batch_id),
                                    buf,
                                    len,
                                    &h,
                                    1};
        rc = osh_transfer_builder_add(b, &r, err, sizeof(err));
out:
        free(buf);
        avro_value_decref(&v);
        return rc;
}

static int build_batch(const args_t *a, uint8_t **out, size_t *out_len)
{
        /* deterministic times: a resend of the same arguments is byte-identical */
        osh_transfer_builder_t *b = osh_transfer_builder_new(
            "exchange", a->instance, "cloud", a->sequence, BASE_MS + (int64_t)a->sequence);
        osh_transfer_header_t h = {OSH_HDR_BATCH_ID, a->batch_id, strlen(a->batch_id)};
        osh_batch_sum_t sum = {0};
        char err[256], uid[32];
        int rc = -1;

        for (int64_t i = 0; b && i < a->count; i++) {
                void *val = NULL;
                size_t len = 0;
                snprintf(uid, sizeof(uid), "u%" PRId64, a->offset + i);
                if (make_value(a->topic, uid, a->batch_id, &val, &len))
                        goto out;
                osh_transfer_record_t r = {a->topic,
                                           a->partition,
                                           a->offset + i,
                                           BASE_MS + a->offset + i,
                                           uid,
                                           strlen(uid),
                                           val,
                                           len,
                                           &h,
                                           1};
                osh_batch_sum_add(&sum, uid, strlen(uid), val, len);
                rc = osh_transfer_builder_add(b, &r, err, sizeof(err));
                free(val);
                if (rc) {
                        fprintf(stderr, "add: %s\n", err);
                        goto out;
                }
                rc = -1;
        }
        if (b && a->end && add_end_marker(b, a, &sum))
                goto out;
        rc = b ? osh_transfer_builder_pack(b, out, out_len, err, sizeof(err)) : -1;
out:
        osh_transfer_builder_destroy(b);
        return rc;
}

static void print_ack(const osh_http_response_t *r)
{
        char err[128];
        Osh__Ack *ack =
            osh_transfer_ack_unpack((const uint8_t *)r->body, r->body_len, err, sizeof(err));

        if (!ack) {
                printf("%ld %s\n", r->status, r->body ? r->body : "");
                return;
        }
        printf("%ld %s seq=%" PRIu64, r->status, osh_transfer_ack_status_name(ack->status),
               ack->sequence);
        for (size_t i = 0; i < ack->n_committed; i++)
                printf(" %s/%d:%" PRId64, ack->committed[i]->topic, ack->committed[i]->partition,
                       ack->committed[i]->through_offset);
        printf("\n");
        osh__ack__free_unpacked(ack, NULL);
}

static void print_probe(const osh_http_response_t *r)
{
        char err[128];
        Osh__ProbeResponse *p = osh_transfer_probe_response_unpack((const uint8_t *)r->body,
                                                                   r->body_len, err, sizeof(err));

        if (!p) {
                printf("%ld %s\n", r->status, r->body ? r->body : "");
                return;
        }
        printf("%ld probe=%s\n", r->status, p->probe_id);
        for (size_t i = 0; i < p->n_services; i++)
                printf("service %s %s %s %" PRId64 " in=%" PRId64 " out=%" PRId64
                       " rejected=%" PRId64 " errors=%" PRId64 "\n",
                       p->services[i]->service, p->services[i]->instance, p->services[i]->state,
                       p->services[i]->last_seen_ms, p->services[i]->records_in,
                       p->services[i]->records_out, p->services[i]->records_rejected,
                       p->services[i]->errors);
        if (p->snapshot)
                printf("snapshot %s count=%" PRIu64 " age_ms=%" PRId64 "\n", p->snapshot->batch_id,
                       p->snapshot->record_count, p->snapshot->age_ms);
        for (size_t i = 0; i < p->n_send_errors; i++)
                printf("send_errors %s temp=%" PRIu64 " perm=%" PRIu64 "\n",
                       p->send_errors[i]->channel, p->send_errors[i]->failed_temp,
                       p->send_errors[i]->failed_perm);
        if (p->ingest)
                printf("ingest ok=%" PRIu64 " dup=%" PRIu64 " rejected=%" PRIu64
                       " published=%" PRIu64 "\n",
                       p->ingest->batches_ok, p->ingest->batches_duplicate,
                       p->ingest->batches_rejected, p->ingest->records_published);
        osh__probe_response__free_unpacked(p, NULL);
}

static int post(const args_t *a, const char *path, const uint8_t *body, size_t len,
                osh_http_response_t *r)
{
        osh_http_tls_t tls = {a->ca, a->cert, a->cert_key};
        osh_http_client_t *c = osh_http_client_new(&tls);
        char url[512], auth[OSH_AUTH_HEADER_MAX + 32] = "X-None: 1";
        const char *h[] = {"Content-Type: application/x-protobuf", auth, NULL};
        int rc;

        if (!c)
                return -1;
        snprintf(url, sizeof(url), "%s%s", a->url, path);
        if (a->key_id && a->secret) {
                strcpy(auth, "Authorization: ");
                osh_auth_sign(a->key_id, a->secret, strlen(a->secret), "POST", path, osh_wall_ms(),
                              body, len, auth + strlen(auth), sizeof(auth) - strlen(auth));
        }
        rc = osh_http_request(c, "POST", url, h, body, len, 30000, 1 << 20, r);
        if (rc)
                fprintf(stderr, "osh-ingest-send: %s\n", r->errstr);
        osh_http_client_destroy(c);
        return rc;
}

int main(int argc, char **argv)
{
        args_t a;
        uint8_t *body = NULL;
        size_t len = 0;
        osh_http_response_t r = {0};
        char err[256];
        int rc = 1;

        if (parse_args(argc, argv, &a) || (strcmp(a.op, "batch") && strcmp(a.op, "probe")) ||
            (!a.url && !a.out)) {
                fprintf(stderr,
                        "usage: see the comment at the top of tools/ingest-send/ingest_send.c\n");
                return 2;
        }
        if (osh_serde_init(err, sizeof(err))) {
                fprintf(stderr, "serde: %s\n", err);
                return 1;
        }
        if (!strcmp(a.op, "batch")) {
                if (build_batch(&a, &body, &len))
                        goto out;
                if (a.out) {
                        FILE *fp = fopen(a.out, "wb");
                        rc = !fp || fwrite(body, 1, len, fp) != len;
                        if (fp)
                                fclose(fp);
                        goto out;
                }
                if (!post(&a, "/v1/batches", body, len, &r)) {
                        print_ack(&r);
                        rc = 0;
                }
        } else {
                Osh__ProbeRequest pr = OSH__PROBE_REQUEST__INIT;
                pr.probe_id = "probe-1";
                pr.sent_ms = osh_wall_ms();
                pr.source = "exchange/test";
                if (osh_transfer_pack_message(&pr.base, &body, &len, err, sizeof(err)))
                        goto out;
                if (!post(&a, "/v1/probe", body, len, &r)) {
                        print_probe(&r);
                        rc = 0;
                }
        }
out:
        osh_http_response_free(&r);
        free(body);
        osh_serde_shutdown();
        return rc;
}
