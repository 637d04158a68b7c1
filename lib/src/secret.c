#include "oshirase/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* memset that the compiler may not drop before free(). */
static void wipe(void *p, size_t n)
{
        volatile unsigned char *v = p;

        while (n--)
                *v++ = 0;
}

void osh_secret_wipe(osh_secret_t *s)
{
        if (!s)
                return;
        if (s->data) {
                wipe(s->data, s->len);
                free(s->data);
        }
        s->data = NULL;
        s->len = 0;
}

int osh_secret_read_file(const char *path, osh_secret_t *out, char *errstr, size_t errstr_size)
{
        char buf[OSH_SECRET_MAX + 1];
        FILE *fp = fopen(path, "rb");
        size_t n;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        out->origin = path;
        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        n = fread(buf, 1, sizeof(buf), fp);
        if (ferror(fp) || n > OSH_SECRET_MAX) {
                snprintf(errstr, errstr_size, "%s: %s", path,
                         ferror(fp) ? "read error" : "longer than a secret may be");
                goto done;
        }
        while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        if (n && !(out->data = malloc(n + 1))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto done;
        }
        if (n) {
                memcpy(out->data, buf, n);
                out->data[n] = '\0';
                out->len = n;
        }
        rc = 0;
done:
        wipe(buf, sizeof(buf));
        fclose(fp);
        return rc;
}

int osh_secret_load(const osh_config_t *cfg, const char *key, osh_secret_t *out, char *errstr,
                    size_t errstr_size)
{
        char file_key[128], why[256];
        const char *path, *val = osh_config_str(cfg, key);

        snprintf(file_key, sizeof(file_key), "%s.file", key);
        path = osh_config_str(cfg, file_key);
        memset(out, 0, sizeof(*out));
        if (path && *path) {
                if (osh_secret_read_file(path, out, why, sizeof(why))) {
                        snprintf(errstr, errstr_size, "%s: %s", file_key, why);
                        return -1;
                }
                return 0;
        }
        out->origin = key;
        if (!val || !*val)
                return 0;
        if (!(out->data = strdup(val))) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        out->len = strlen(val);
        return 0;
}
