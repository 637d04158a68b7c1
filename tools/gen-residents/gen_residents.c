/* gen-residents: a deterministic synthetic city written as 統合DB-style
 * export files (docs/exports.md), with a manifest and a ground-truth file
 * that tests use as an independent oracle.
 *
 *   gen-residents --out DIR [--residents N] [--seed S] [--encoding utf8|utf8-bom|cp932]
 *                 [--dates western|era] [--gaiji RATE] [--applicants SHARE]
 *                 [--reference-date YYYYMMDD] [--crlf] [--destinations FILE]
 *
 * Default: Chiba City scale, 973,183 residents in 423,718 households. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "city.h"
#include "oshirase/clock.h"
#include "destinations.h"
#include "write.h"

static const char usage[] =
    "usage: gen-residents --out DIR [options]\n"
    "  --residents N          residents (default 973183; households scale with it)\n"
    "  --seed S               random seed (default 1)\n"
    "  --encoding E           utf8 | utf8-bom | cp932 (default utf8)\n"
    "  --dates F              western (YYYYMMDD) | era (H280315) (default western)\n"
    "  --gaiji RATE           share of names and of addresses given a 外字 (default 0)\n"
    "  --applicants SHARE     applicants as a share of residents (default 0.20)\n"
    "  --reference-date D     YYYYMMDD reference date (default 20240401)\n"
    "  --crlf                 CRLF line ends\n"
    "  --destinations FILE    also write the destinations CSV for cloud-ingest\n"
    "                         (applicants with a 利用者ID; withdrawn consent = active 0)\n";

static int parse_double(const char *s, double lo, double hi, double *out)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || *end || end == s || v < lo || v > hi)
                return -1;
        *out = v;
        return 0;
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"out", required_argument, NULL, 'o'},
            {"residents", required_argument, NULL, 'n'},
            {"seed", required_argument, NULL, 's'},
            {"encoding", required_argument, NULL, 'e'},
            {"dates", required_argument, NULL, 'd'},
            {"gaiji", required_argument, NULL, 'g'},
            {"applicants", required_argument, NULL, 'a'},
            {"reference-date", required_argument, NULL, 'r'},
            {"crlf", no_argument, NULL, 'c'},
            {"destinations", required_argument, NULL, 'D'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        city_opts_t co = {973183, 1, 0.0, 0.20, {2024, 4, 1}};
        write_opts_t wo = {NULL, 0, 0, 0, 0};
        char errstr[512];
        const char *dest = NULL;
        dest_counts_t dn;
        double v;
        city_t city;
        double t0;
        int c;

        while ((c = getopt_long(argc, argv, "o:n:s:e:d:g:a:r:cD:h", opts, NULL)) != -1) {
                switch (c) {
                case 'o':
                        wo.dir = optarg;
                        break;
                case 'n':
                        if (parse_double(optarg, 1, 5e7, &v))
                                goto bad;
                        co.residents = (uint64_t)v;
                        break;
                case 's':
                        co.seed = strtoull(optarg, NULL, 0);
                        break;
                case 'e':
                        if (!strcmp(optarg, "utf8") || !strcmp(optarg, "utf8-bom")) {
                                wo.bom = !strcmp(optarg, "utf8-bom");
                        } else if (!strcmp(optarg, "cp932")) {
                                wo.cp932 = 1;
                        } else {
                                goto bad;
                        }
                        break;
                case 'd':
                        if (strcmp(optarg, "western") && strcmp(optarg, "era"))
                                goto bad;
                        wo.era = !strcmp(optarg, "era");
                        break;
                case 'g':
                        if (parse_double(optarg, 0, 1, &co.gaiji_rate))
                                goto bad;
                        break;
                case 'a':
                        if (parse_double(optarg, 0, 1, &co.applicant_share))
                                goto bad;
                        break;
                case 'r':
                        if (osh_jdate_parse(optarg, strlen(optarg), OSH_JDATE_WESTERN, &co.ref))
                                goto bad;
                        break;
                case 'c':
                        wo.crlf = 1;
                        break;
                case 'D':
                        dest = optarg;
                        break;
                case 'h':
                        fputs(usage, stdout);
                        return 0;
                default:
                        goto bad;
                }
        }
        if (!wo.dir || optind != argc)
                goto bad;
        if (mkdir(wo.dir, 0777) && errno != EEXIST) {
                fprintf(stderr, "gen-residents: %s: %s\n", wo.dir, strerror(errno));
                return 1;
        }
        t0 = osh_mono_s();
        if (city_build(&city, &co)) {
                fprintf(stderr, "gen-residents: out of memory\n");
                return 1;
        }
        if (city_write(&city, &wo, errstr, sizeof(errstr)) ||
            (dest && city_write_destinations(&city, dest, &dn, errstr, sizeof(errstr)))) {
                fprintf(stderr, "gen-residents: %s\n", errstr);
                city_free(&city);
                return 1;
        }
        fprintf(stderr, "gen-residents: %zu residents in %zu households written to %s in %.2fs\n",
                city.np, city.nh, wo.dir, osh_mono_s() - t0);
        if (dest)
                fprintf(stderr,
                        "gen-residents: %llu destinations (line %llu, email %llu, webhook %llu; "
                        "%llu withdrawn) written to %s\n",
                        (unsigned long long)dn.rows, (unsigned long long)dn.by_channel[0],
                        (unsigned long long)dn.by_channel[1], (unsigned long long)dn.by_channel[2],
                        (unsigned long long)dn.withdrawn, dest);
        city_free(&city);
        return 0;
bad:
        fprintf(stderr, "gen-residents: bad arguments\n%s", usage);
        return 2;
}
