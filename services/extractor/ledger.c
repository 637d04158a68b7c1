/* The ledger of ingested files: one line per file, "sha256<TAB>name<TAB>
 * batch id", then "#batch<TAB>records<TAB>batch id", appended once a
 * batch's END marker was delivered. The record count is what the next
 * snapshot is compared with (ext_run_once's hold). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/sha256.h"
#include "extractor.h"

#define LEDGER_LINE_MAX 512 /* 64 hex digits, a file name, a batch id */

int ext_ledger_has(const char *path, const ext_batch_t *b)
{
        size_t n = ext_batch_file_count(b), found = 0;
        char line[LEDGER_LINE_MAX];
        uint8_t *hit = calloc(n + 1, 1);
        FILE *fp = fopen(path, "r");

        if (!fp || !hit) {
                free(hit);
                if (fp)
                        fclose(fp);
                return errno == ENOENT ? 0 : -1;
        }
        while (fgets(line, sizeof(line), fp)) {
                for (size_t i = 0; i < n; i++) {
                        if (!hit[i] &&
                            !strncmp(line, ext_batch_file_sha256(b, i), OSH_SHA256_HEX_LEN) &&
                            line[OSH_SHA256_HEX_LEN] == '\t') {
                                hit[i] = 1;
                                found++;
                        }
                }
        }
        fclose(fp);
        free(hit);
        return found == n;
}

int ext_ledger_add(const char *path, const ext_batch_t *b, char *errstr, size_t errstr_size)
{
        int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        char line[LEDGER_LINE_MAX];
        int rc = 0;

        if (fd < 0) {
                snprintf(errstr, errstr_size, "ledger %s: %s", path, strerror(errno));
                return -1;
        }
        for (size_t i = 0; i <= ext_batch_file_count(b) && !rc; i++) {
                int len =
                    i < ext_batch_file_count(b)
                        ? snprintf(line, sizeof(line), "%s\t%s\t%s\n", ext_batch_file_sha256(b, i),
                                   ext_batch_file_name(b, i), ext_batch_id(b))
                        : snprintf(line, sizeof(line), "#batch\t%zu\t%s\n",
                                   ext_batch_record_count(b), ext_batch_id(b));
                if (write(fd, line, (size_t)len) != len)
                        rc = -1;
        }
        if (rc || fsync(fd)) {
                snprintf(errstr, errstr_size, "ledger %s: %s", path, strerror(errno));
                rc = -1;
        }
        close(fd);
        return rc;
}

int ext_ledger_last(const char *path, char *id, size_t id_size, uint64_t *records)
{
        FILE *fp = fopen(path, "r");
        char line[LEDGER_LINE_MAX];
        int found = 0;

        if (!fp)
                return errno == ENOENT ? 0 : -1;
        while (fgets(line, sizeof(line), fp)) {
                char *end, *tab;
                unsigned long long n;
                if (strncmp(line, "#batch\t", 7))
                        continue;
                n = strtoull(line + 7, &end, 10);
                if (*end != '\t' || !(tab = end + 1) || !*tab)
                        continue;
                tab[strcspn(tab, "\r\n")] = '\0';
                snprintf(id, id_size, "%s", tab);
                *records = n;
                found = 1;
        }
        fclose(fp);
        return found;
}
