/* The destinations CSV city staff upload to cloud-ingest's POST
 * /v1/destinations (services/cloud-ingest/dest.c validates it): one row per
 * applicant with a registered 利用者ID. Everything is derived from the seed
 * and the 利用者ID by SHA-256, never from the city's random stream, so
 * asking for it leaves the exports unchanged. No 宛名番号 or name appears:
 * this file goes to the cloud side. */
#include "destinations.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oshirase/sha256.h"

/* cloud-ingest's category names for bunya 01..04 */
static const char *const CATS[4] = {"childcare", "single_parent", "health_welfare",
                                    "safety_disaster"};

static void derive(const city_t *c, const person_t *p, uint8_t d[OSH_SHA256_LEN])
{
        char buf[64];
        int n =
            snprintf(buf, sizeof(buf), "dest:%llu:%s", (unsigned long long)c->o.seed, p->user_id);

        osh_sha256(buf, (size_t)n, d);
}

static void lower(const char *s, char *out, size_t size)
{
        size_t i = 0;

        for (; s[i] && i + 1 < size; i++)
                out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        out[i] = '\0';
}

/* One row; returns the channel index (0 line, 1 email, 2 webhook). */
static int row(const city_t *c, const person_t *p, FILE *fp)
{
        uint8_t d[OSH_SHA256_LEN];
        char acct[80], id[20], cats[80] = "";
        unsigned pick;
        int ch;

        derive(c, p, d);
        pick = ((unsigned)d[0] << 8 | d[1]) % 100;
        ch = pick < 60 ? 0 : pick < 90 ? 1 : 2;
        lower(p->user_id, id, sizeof(id));
        if (ch == 0) {
                acct[0] = 'U';
                osh_hex_encode(d + 16, 16, acct + 1);
        } else if (ch == 1) {
                snprintf(acct, sizeof(acct), "u%s@example.jp", id + 1);
        } else {
                snprintf(acct, sizeof(acct), "https://example.jp/hook/%s", p->user_id);
        }
        for (int b = 0; b < 4; b++)
                if (p->cats & (1u << b))
                        snprintf(cats + strlen(cats), sizeof(cats) - strlen(cats), "%s%s",
                                 cats[0] ? ";" : "", CATS[b]);
        /* withdrawn consent (同意 0) also withdraws the destination */
        fprintf(fp, "%s,%s,%s,%s,%d\n", p->user_id,
                ch == 0   ? "line"
                : ch == 1 ? "email"
                          : "webhook",
                acct, cats, p->applicant == 2);
        return ch;
}

int city_write_destinations(const city_t *c, const char *path, dest_counts_t *n, char *errstr,
                            size_t errstr_size)
{
        FILE *fp = fopen(path, "w");

        memset(n, 0, sizeof(*n));
        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        fputs("user_id,channel,account_id,categories,active\n", fp);
        for (size_t i = 0; i < c->np; i++) {
                const person_t *p = &c->p[i];
                if (!p->applicant || !p->user_id[0])
                        continue;
                n->by_channel[row(c, p, fp)]++;
                n->withdrawn += p->applicant != 2;
                n->rows++;
        }
        if (fclose(fp)) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        return 0;
}
