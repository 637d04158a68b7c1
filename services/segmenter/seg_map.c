#include "seg_map.h"

#include <stdlib.h>
#include <string.h>

uint64_t seg_hash_str(const char *s)
{
        uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: ids are short */

        while (*s) {
                h ^= (unsigned char)*s++;
                h *= 0x100000001b3ULL;
        }
        return h ^ (h >> 29);
}

static size_t probe(const seg_map_t *m, const char *key)
{
        size_t i = (size_t)seg_hash_str(key) & (m->cap - 1);

        while (m->keys[i] && strcmp(m->keys[i], key) != 0)
                i = (i + 1) & (m->cap - 1);
        return i;
}

int seg_map_get(const seg_map_t *m, const char *key, size_t *val)
{
        size_t i;

        if (!m->cap)
                return 0;
        i = probe(m, key);
        if (!m->keys[i])
                return 0;
        *val = m->vals[i];
        return 1;
}

static int grow(seg_map_t *m)
{
        seg_map_t n = {0};
        size_t i;

        n.cap = m->cap ? m->cap * 2 : 64;
        n.keys = calloc(n.cap, sizeof(*n.keys));
        n.vals = calloc(n.cap, sizeof(*n.vals));
        if (!n.keys || !n.vals)
                goto fail;
        for (i = 0; i < m->cap; i++) {
                if (m->keys[i]) {
                        size_t j = probe(&n, m->keys[i]);
                        n.keys[j] = m->keys[i];
                        n.vals[j] = m->vals[i];
                }
        }
        n.len = m->len;
        seg_map_clear(m);
        *m = n;
        return 0;
fail:
        free(n.keys);
        free(n.vals);
        return -1;
}

int seg_map_put(seg_map_t *m, const char *key, size_t val)
{
        size_t i;

        if ((m->len + 1) * 2 > m->cap && grow(m))
                return -1;
        i = probe(m, key);
        if (!m->keys[i]) {
                m->keys[i] = key;
                m->len++;
        }
        m->vals[i] = val;
        return 0;
}

void seg_map_clear(seg_map_t *m)
{
        free(m->keys);
        free(m->vals);
        memset(m, 0, sizeof(*m));
}
