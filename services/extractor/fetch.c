/* Batches from elsewhere: libcurl fetches a manifest and the files it lists
 * over ftp://, ftps://, sftp:// (Debian's libcurl4 is built with libssh2)
 * or file:// into a spool directory; the batch is then read like a local
 * one, so the SHA-256 check covers the transfer too. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "extractor.h"

#define FETCH_URL_MAX  2048 /* the manifest URL without its file name */
#define FETCH_LINE_MAX 1024 /* a manifest line */

int ext_is_url(const char *input)
{
        static const char *const schemes[] = {"ftp://", "ftps://", "sftp://", "file://"};

        for (size_t i = 0; input && i < sizeof(schemes) / sizeof(schemes[0]); i++)
                if (!strncmp(input, schemes[i], strlen(schemes[i])))
                        return 1;
        return 0;
}

static int download(const char *url, const char *path, char *errstr, size_t errstr_size)
{
        CURL *c = curl_easy_init();
        FILE *fp = fopen(path, "wb");
        CURLcode rc = CURLE_FAILED_INIT;

        if (c && fp) {
                curl_easy_setopt(c, CURLOPT_URL, url);
                curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "ftp,ftps,sftp,file");
                curl_easy_setopt(c, CURLOPT_WRITEDATA, fp);
                curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
                curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
                curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
                rc = curl_easy_perform(c);
        }
        if (fp && fclose(fp) && rc == CURLE_OK)
                rc = CURLE_WRITE_ERROR;
        if (c)
                curl_easy_cleanup(c);
        if (rc != CURLE_OK) {
                /* the URL may hold credentials: name the file, not the URL */
                snprintf(errstr, errstr_size, "fetch %s: %s", strrchr(path, '/') + 1,
                         curl_easy_strerror(rc));
                return -1;
        }
        return 0;
}

int ext_fetch(const char *url, const char *spool_dir, char *out, size_t out_size, char *errstr,
              size_t errstr_size)
{
        char base[FETCH_URL_MAX], murl[FETCH_URL_MAX + 400], path[EXT_PATH_MAX],
            line[FETCH_LINE_MAX];
        const char *slash = strrchr(url, '/');
        FILE *fp;
        int rc = 0;

        if (!slash || strlen(url) >= sizeof(base)) {
                snprintf(errstr, errstr_size, "bad URL");
                return -1;
        }
        snprintf(base, sizeof(base), "%.*s", (int)(slash - url + 1), url);
        snprintf(murl, sizeof(murl), "%s%s", url, slash[1] ? "" : "MANIFEST.tsv");
        snprintf(out, out_size, "%s/extractor-spool-XXXXXX", spool_dir);
        if (!mkdtemp(out)) {
                snprintf(errstr, errstr_size, "spool %s: %s", spool_dir, strerror(errno));
                out[0] = '\0'; /* nothing for the caller to remove */
                return -1;
        }
        snprintf(path, sizeof(path), "%s/MANIFEST.tsv", out);
        if (download(murl, path, errstr, errstr_size))
                return -1;
        fp = fopen(path, "r");
        if (!fp) {
                snprintf(errstr, errstr_size, "spool: %s", strerror(errno));
                return -1;
        }
        while (!rc && fgets(line, sizeof(line), fp)) {
                char *name, *save = NULL;
                if (strncmp(line, "file\t", 5))
                        continue;
                strtok_r(line, "\t", &save);
                name = strtok_r(NULL, "\t", &save);
                if (!name || strchr(name, '/') || name[0] == '.') {
                        snprintf(errstr, errstr_size, "manifest: bad file name");
                        rc = -1;
                        break;
                }
                snprintf(murl, sizeof(murl), "%s%s", base, name);
                snprintf(path, sizeof(path), "%s/%s", out, name);
                rc = download(murl, path, errstr, errstr_size);
        }
        fclose(fp);
        return rc;
}
