/* osh-stub-ingest: a minimal stand-in for cloud-ingest's HTTPS API, for the
 * uplink's integration test and bench-crossing when the real service is not
 * wanted. It speaks the same contract (POST /v1/batches: TransferBatch ->
 * Ack; POST /v1/probe: ProbeRequest -> ProbeResponse; HMAC token or client
 * certificate), de-duplicates by (topic, partition, offset) and appends one
 * line per new record to --out:
 *
 *   <sequence> <topic> <partition> <offset> <value bytes> <sha256(value)>
 *
 * While the file named by --down-file exists it answers 503 with
 * Retry-After: 1, to simulate an outage. Not a service: no Kafka. */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "oshirase/auth.h"
#include "oshirase/http_server.h"
#include "oshirase/sha256.h"
#include "oshirase/transfer.h"

#define MAX_PARTS 1024

struct part_hwm {
        char topic[250];
        int32_t partition;
        int64_t through;
};

static struct {
        const char *key_id, *secret, *out_path, *down_file;
        int need_peer;
        FILE *out;
        osh_sha256_t *sha; /* one context for every record (guarded by mu) */
        pthread_mutex_t mu;
        struct part_hwm parts[MAX_PARTS];
        size_t nparts;
        uint64_t batches, dups, records, last_seq;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lookup(void *opaque, const char *key_id, const void **secret)
{
        (void)opaque;
        if (!g.key_id || strcmp(key_id, g.key_id) != 0)
                return -1;
        *secret = g.secret;
        return (int)strlen(g.secret);
}

/* 0 if the request may go on; else the reply is filled. */
static int gate(const osh_http_request_t *req, osh_http_reply_t *rep)
{
        osh_auth_verdict_t v;

        if (g.down_file && access(g.down_file, F_OK) == 0) {
                osh_http_reply_header(rep, "Retry-After", "1");
                osh_http_reply_text(rep, 503, "down for the test");
                return -1;
        }
        if (!req->content_type || strcmp(req->content_type, "application/x-protobuf") != 0) {
                osh_http_reply_text(rep, 415, "want application/x-protobuf");
                return -1;
        }
        if (req->peer == OSH_HTTP_PEER_VERIFIED)
                return 0;
        if (!g.key_id || g.need_peer) {
                osh_http_reply_text(rep, 401, "client certificate required");
                return -1;
        }
        v = osh_auth_verify(osh_http_request_header(req, "Authorization"), lookup, NULL,
                            req->method, req->path, now_ms(), 300000, req->body, req->body_len);
        if (v != OSH_AUTH_OK) {
                osh_http_reply_text(rep, v <= OSH_AUTH_MALFORMED ? 401 : 403, "%s",
                                    osh_auth_verdict_str(v));
                return -1;
        }
        return 0;
}

static struct part_hwm *hwm(const char *topic, int32_t partition)
{
        for (size_t i = 0; i < g.nparts; i++)
                if (g.parts[i].partition == partition && !strcmp(g.parts[i].topic, topic))
                        return &g.parts[i];
        if (g.nparts == MAX_PARTS)
                return NULL;
        snprintf(g.parts[g.nparts].topic, sizeof(g.parts[0].topic), "%s", topic);
        g.parts[g.nparts].partition = partition;
        g.parts[g.nparts].through = -1;
        return &g.parts[g.nparts++];
}

static void store(const Osh__TransferBatch *b, Osh__Ack *ack, Osh__CommittedOffset *co,
                  Osh__CommittedOffset **cop)
{
        char hex[OSH_SHA256_HEX_LEN + 1];
        uint8_t sum[OSH_SHA256_LEN];
        size_t fresh = 0;

        for (size_t i = 0; i < b->n_records; i++) {
                const Osh__Record *r = b->records[i];
                struct part_hwm *h = hwm(r->topic, r->partition);
                int has = r->value_opt_case == OSH__RECORD__VALUE_OPT_VALUE;
                if (!h || r->offset <= h->through)
                        continue;
                h->through = r->offset;
                /* A reused context: EVP_Digest would set one up and tear it
                 * down per record, more than hashing 100 bytes costs. */
                if (!g.sha ||
                    osh_sha256_update(g.sha, has ? r->value.data : NULL, has ? r->value.len : 0) ||
                    osh_sha256_final(g.sha, sum))
                        osh_sha256(has ? r->value.data : NULL, has ? r->value.len : 0, sum);
                osh_hex_encode(sum, sizeof(sum), hex);
                if (g.out)
                        fprintf(g.out, "%" PRIu64 " %s %d %" PRId64 " %zu %s\n", b->sequence,
                                r->topic, r->partition, r->offset, has ? r->value.len : 0, hex);
                fresh++;
        }
        if (g.out)
                fflush(g.out);
        g.records += fresh;
        g.batches++;
        if (!fresh && b->n_records)
                g.dups++;
        ack->status = fresh || !b->n_records ? OSH__ACK_STATUS__ACK_STATUS_OK
                                             : OSH__ACK_STATUS__ACK_STATUS_DUPLICATE;
        for (size_t i = 0; i < g.nparts && ack->n_committed < MAX_PARTS; i++) {
                osh__committed_offset__init(&co[ack->n_committed]);
                co[ack->n_committed].topic = g.parts[i].topic;
                co[ack->n_committed].partition = g.parts[i].partition;
                co[ack->n_committed].through_offset = g.parts[i].through;
                cop[ack->n_committed] = &co[ack->n_committed];
                ack->n_committed++;
        }
}

static void reply_msg(osh_http_reply_t *rep, const ProtobufCMessage *m)
{
        char errstr[128];
        uint8_t *buf;
        size_t len;

        if (osh_transfer_pack_message(m, &buf, &len, errstr, sizeof(errstr)))
                osh_http_reply_text(rep, 500, "%s", errstr);
        else
                osh_http_reply_take(rep, 200, "application/x-protobuf", buf, len);
}

static void on_batch(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        static Osh__CommittedOffset co[MAX_PARTS];
        static Osh__CommittedOffset *cop[MAX_PARTS];
        Osh__Ack ack = OSH__ACK__INIT;
        Osh__TransferBatch *b;
        char errstr[256];

        (void)opaque;
        if (gate(req, rep))
                return;
        b = osh_transfer_unpack(req->body, req->body_len, NULL, errstr, sizeof(errstr));
        if (!b) {
                osh_http_reply_text(rep, 400, "%s", errstr);
                return;
        }
        pthread_mutex_lock(&g.mu);
        ack.sequence = b->sequence;
        ack.committed = cop;
        store(b, &ack, co, cop);
        g.last_seq = b->sequence;
        reply_msg(rep, &ack.base);
        pthread_mutex_unlock(&g.mu);
        osh_transfer_batch_free(b);
}

static void on_probe(void *opaque, const osh_http_request_t *req, osh_http_reply_t *rep)
{
        Osh__ProbeResponse pr = OSH__PROBE_RESPONSE__INIT;
        Osh__IngestCounters ic = OSH__INGEST_COUNTERS__INIT;
        Osh__ProbeRequest *q;
        char errstr[256];

        (void)opaque;
        if (gate(req, rep))
                return;
        q = osh_transfer_probe_request_unpack(req->body, req->body_len, errstr, sizeof(errstr));
        if (!q) {
                osh_http_reply_text(rep, 400, "%s", errstr);
                return;
        }
        pthread_mutex_lock(&g.mu);
        ic.batches_ok = g.batches - g.dups;
        ic.batches_duplicate = g.dups;
        ic.records_published = g.records;
        pr.probe_id = q->probe_id;
        pr.received_ms = now_ms();
        pr.ingest = &ic;
        reply_msg(rep, &pr.base);
        pthread_mutex_unlock(&g.mu);
        osh__probe_request__free_unpacked(q, NULL);
}

static const char usage[] =
    "usage: osh-stub-ingest --cert PEM --key PEM [--client-ca PEM [--require-cert]]\n"
    "       [--key-id ID --secret S] [--port N] [--port-file F] [--out F] [--down-file F]\n";

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"cert", 1, 0, 'c'},
            {"key", 1, 0, 'k'},
            {"client-ca", 1, 0, 'a'},
            {"require-cert", 0, 0, 'r'},
            {"key-id", 1, 0, 'i'},
            {"secret", 1, 0, 's'},
            {"port", 1, 0, 'p'},
            {"port-file", 1, 0, 'f'},
            {"out", 1, 0, 'o'},
            {"down-file", 1, 0, 'd'},
            {0, 0, 0, 0},
        };
        static const osh_http_route_t routes[] = {
            {"POST", "/v1/batches", on_batch, NULL, 64u << 20},
            {"POST", "/v1/probe", on_probe, NULL, 0},
        };
        osh_http_server_opts_t so = {.host = "127.0.0.1", .threads = 2};
        const char *port_file = NULL;
        osh_http_server_t *srv;
        char errstr[512];
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (c) {
                case 'c':
                        so.cert_file = optarg;
                        break;
                case 'k':
                        so.key_file = optarg;
                        break;
                case 'a':
                        so.client_ca_file = optarg;
                        break;
                case 'r':
                        g.need_peer = 1;
                        break;
                case 'i':
                        g.key_id = optarg;
                        break;
                case 's':
                        g.secret = optarg;
                        break;
                case 'p':
                        so.port = (uint16_t)atoi(optarg);
                        break;
                case 'f':
                        port_file = optarg;
                        break;
                case 'o':
                        g.out_path = optarg;
                        break;
                case 'd':
                        g.down_file = optarg;
                        break;
                default:
                        fputs(usage, stderr);
                        return 2;
                }
        }
        if ((g.key_id && !g.secret) || (!g.key_id && !so.client_ca_file)) {
                fputs(usage, stderr);
                return 2;
        }
        if (g.out_path && !(g.out = fopen(g.out_path, "a"))) {
                perror(g.out_path);
                return 1;
        }
        if (g.out) /* lines are flushed once per batch */
                setvbuf(g.out, NULL, _IOFBF, 1 << 20);
        g.sha = osh_sha256_new(); /* NULL: per-record osh_sha256() */
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        srv = osh_http_server_start(&so, routes, 2, errstr, sizeof(errstr));
        if (!srv) {
                fprintf(stderr, "osh-stub-ingest: %s\n", errstr);
                return 1;
        }
        if (port_file) { /* tmp + rename: readers never see a partial number */
                char tmp[4200];
                FILE *fp;
                snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
                fp = fopen(tmp, "w");
                if (fp) {
                        fprintf(fp, "%u\n", osh_http_server_port(srv));
                        fclose(fp);
                        rename(tmp, port_file);
                }
        }
        while (!stop)
                usleep(100000);
        osh_http_server_stop(srv);
        if (g.out)
                fclose(g.out);
        osh_sha256_destroy(g.sha);
        fprintf(stderr,
                "osh-stub-ingest: %" PRIu64 " batch(es), %" PRIu64 " duplicate, %" PRIu64
                " record(s)\n",
                g.batches, g.dups, g.records);
        return 0;
}
