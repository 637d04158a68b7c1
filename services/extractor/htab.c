#include "htab.h"

#include <stdlib.h>

static size_t slot(uint64_t k, size_t cap)
{
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccdULL;
        k ^= k >> 33;
        return (size_t)k & (cap - 1);
}

int ext_htab_init(ext_htab_t *h, size_t expect)
{
        size_t cap = 64;

        while (cap < expect * 2)
                cap *= 2;
        h->s = calloc(cap, sizeof(*h->s));
        h->cap = cap;
        h->n = 0;
        if (h->s)
                return 0;
        ext_htab_free(h);
        return -1;
}

void ext_htab_free(ext_htab_t *h)
{
        free(h->s);
        h->s = NULL;
        h->cap = h->n = 0;
}

void ext_htab_prefetch(const ext_htab_t *h, uint64_t key)
{
        if (h->cap)
                __builtin_prefetch(&h->s[slot(key, h->cap)]);
}

uint32_t *ext_htab_get(const ext_htab_t *h, uint64_t key)
{
        for (size_t i = slot(key, h->cap);; i = (i + 1) & (h->cap - 1)) {
                if (h->s[i].key == key)
                        return &h->s[i].val;
                if (!h->s[i].key)
                        return NULL;
        }
}

static int grow(ext_htab_t *h)
{
        ext_htab_t n;

        if (ext_htab_init(&n, h->cap))
                return -1;
        for (size_t i = 0; i < h->cap; i++)
                if (h->s[i].key)
                        ext_htab_put(&n, h->s[i].key, h->s[i].val);
        ext_htab_free(h);
        *h = n;
        return 0;
}

int ext_htab_put(ext_htab_t *h, uint64_t key, uint32_t val)
{
        size_t i;

        if ((h->n + 1) * 2 > h->cap && grow(h))
                return -1;
        for (i = slot(key, h->cap); h->s[i].key; i = (i + 1) & (h->cap - 1))
                if (h->s[i].key == key)
                        return 0;
        h->s[i].key = key;
        h->s[i].val = val;
        h->n++;
        return 1;
}
