#define _GNU_SOURCE
#include "con_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "oshirase/log.h"

struct con_store {
        char *path;
        pthread_mutex_t mu;
        json_t *root;
};

static int ensure(json_t *root, const char *kind)
{
        return json_is_object(json_object_get(root, kind))
                   ? 0
                   : json_object_set_new(root, kind, json_object());
}

con_store_t *con_store_open(const char *path, char *errstr, size_t errstr_size)
{
        con_store_t *s = calloc(1, sizeof(*s));
        json_error_t je;

        if (!s || !(s->path = strdup(path))) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        pthread_mutex_init(&s->mu, NULL);
        s->root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
        if (!s->root && access(path, F_OK) == 0) {
                snprintf(errstr, errstr_size, "state.file %s line %d: %s", path, je.line, je.text);
                goto fail;
        }
        if (!s->root)
                s->root = json_object();
        if (!json_is_object(s->root) || ensure(s->root, "sets") || ensure(s->root, "templates") ||
            ensure(s->root, "campaigns")) {
                snprintf(errstr, errstr_size, "state.file %s: not a console state", path);
                goto fail;
        }
        return s;
fail:
        con_store_destroy(s);
        return NULL;
}

void con_store_destroy(con_store_t *s)
{
        if (!s)
                return;
        json_decref(s->root);
        free(s->path);
        free(s);
}

json_t *con_store_lock(con_store_t *s)
{
        pthread_mutex_lock(&s->mu);
        return s->root;
}

static int save(con_store_t *s)
{
        char *tmp = NULL, *text = json_dumps(s->root, JSON_COMPACT | JSON_SORT_KEYS);
        int fd = -1, rc = -1;
        size_t len = text ? strlen(text) : 0;

        if (!text || asprintf(&tmp, "%s.tmp", s->path) < 0) {
                tmp = NULL;
                goto done;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) || close(fd)) {
                if (fd >= 0)
                        close(fd);
                goto done;
        }
        rc = rename(tmp, s->path);
done:
        if (rc)
                osh_error("cannot write %s: %s", s->path, strerror(errno));
        if (rc && tmp)
                unlink(tmp);
        free(tmp);
        free(text);
        return rc;
}

int con_store_unlock(con_store_t *s, int do_save)
{
        int rc = do_save ? save(s) : 0;

        pthread_mutex_unlock(&s->mu);
        return rc;
}

int con_store_add_version(json_t *root, const char *kind, const char *name, json_t *version)
{
        json_t *all = json_object_get(root, kind), *list = json_object_get(all, name);
        int n;

        if (!list) {
                list = json_array();
                json_object_set_new(all, name, list);
        }
        n = (int)json_array_size(list) + 1;
        json_object_set_new(version, "version", json_integer(n));
        json_array_append_new(list, version);
        return n;
}

json_t *con_store_copy(con_store_t *s, const char *kind)
{
        json_t *r;

        pthread_mutex_lock(&s->mu);
        r = json_deep_copy(json_object_get(s->root, kind));
        pthread_mutex_unlock(&s->mu);
        return r;
}
