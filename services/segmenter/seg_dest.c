#include "seg_dest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const seg_channel_names[SEG_CHANNEL_CNT] = {"LINE",     "EMAIL", "WEBHOOK", "TWITTER",
                                                        "FACEBOOK", "SMS",   "OTHER"};

int seg_channel_parse(const char *s)
{
        int i;

        for (i = 0; s && i < SEG_CHANNEL_CNT; i++)
                if (strcmp(s, seg_channel_names[i]) == 0)
                        return i;
        return -1;
}

static void dest_free_fields(seg_dest_t *e)
{
        size_t i;

        free(e->account_id);
        for (i = 0; i < e->ncat; i++)
                free(e->categories[i]);
        free(e->categories);
        e->account_id = NULL;
        e->categories = NULL;
        e->ncat = 0;
}

static seg_dest_t *dest_slot(seg_dests_t *d, const char *user_id)
{
        size_t i;

        if (seg_map_get(&d->idx, user_id, &i))
                return &d->v[i];
        if (d->n == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 256;
                seg_dest_t *nv = realloc(d->v, cap * sizeof(*nv));
                if (!nv)
                        return NULL;
                /* the map borrows user_id pointers, which do not move */
                d->v = nv;
                d->cap = cap;
        }
        memset(&d->v[d->n], 0, sizeof(d->v[0]));
        if (!(d->v[d->n].user_id = strdup(user_id)))
                return NULL;
        if (seg_map_put(&d->idx, d->v[d->n].user_id, d->n)) {
                free(d->v[d->n].user_id);
                return NULL;
        }
        return &d->v[d->n++];
}

int seg_dests_put(seg_dests_t *d, const char *user_id, int channel, const char *account_id,
                  const char *const *categories, size_t ncat, int active)
{
        seg_dest_t *e = dest_slot(d, user_id);
        size_t i;

        if (!e)
                return -1;
        dest_free_fields(e);
        e->channel = channel;
        e->active = active;
        e->present = 1;
        d->generation++;
        e->account_id = strdup(account_id ? account_id : "");
        e->categories = calloc(ncat ? ncat : 1, sizeof(char *));
        if (!e->account_id || !e->categories)
                goto fail;
        for (i = 0; i < ncat; i++, e->ncat++)
                if (!(e->categories[i] = strdup(categories[i])))
                        goto fail;
        return 0;
fail:
        dest_free_fields(e);
        e->present = 0;
        return -1;
}

void seg_dests_delete(seg_dests_t *d, const char *user_id)
{
        size_t i;

        if (!seg_map_get(&d->idx, user_id, &i))
                return;
        dest_free_fields(&d->v[i]);
        d->v[i].present = 0;
        d->v[i].active = 0;
        d->generation++;
}

const seg_dest_t *seg_dests_get(const seg_dests_t *d, const char *user_id)
{
        size_t i;

        if (!seg_map_get(&d->idx, user_id, &i) || !d->v[i].present)
                return NULL;
        return &d->v[i];
}

void seg_dests_clear(seg_dests_t *d)
{
        size_t i;

        for (i = 0; i < d->n; i++) {
                dest_free_fields(&d->v[i]);
                free(d->v[i].user_id);
        }
        free(d->v);
        seg_map_clear(&d->idx);
        memset(d, 0, sizeof(*d));
}

/* ---- exclusions ---- */

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int excl_add(seg_exclusions_t *x, size_t *cap, const char *id)
{
        if (x->n == *cap) {
                char **n = realloc(x->ids, (*cap = *cap ? *cap * 2 : 64) * sizeof(*n));
                if (!n)
                        return -1;
                x->ids = n;
        }
        return (x->ids[x->n] = strdup(id)) ? (int)(x->n++, 0) : -1;
}

int seg_exclusions_load(seg_exclusions_t *x, const char *path, char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        char line[512];
        size_t cap = 0;

        seg_exclusions_clear(x);
        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return -1;
        }
        while (fgets(line, sizeof(line), fp)) {
                char *s = line, *e;
                while (*s == ' ' || *s == '\t')
                        s++;
                e = s + strcspn(s, " \t\r\n#");
                *e = '\0';
                if (*s && excl_add(x, &cap, s)) {
                        snprintf(errstr, errstr_size, "%s: out of memory", path);
                        fclose(fp);
                        return -1;
                }
        }
        fclose(fp);
        qsort(x->ids, x->n, sizeof(*x->ids), cmp_str);
        return 0;
}

int seg_exclusions_has(const seg_exclusions_t *x, const char *user_id)
{
        return x->n && bsearch(&user_id, x->ids, x->n, sizeof(*x->ids), cmp_str) != NULL;
}

void seg_exclusions_clear(seg_exclusions_t *x)
{
        size_t i;

        for (i = 0; i < x->n; i++)
                free(x->ids[i]);
        free(x->ids);
        memset(x, 0, sizeof(*x));
}

/* ---- view ---- */

static void view_free_cats(seg_view_t *v)
{
        size_t i;

        for (i = 0; i < v->ncats; i++) {
                free(v->cats[i].name);
                free(v->cats[i].bits);
        }
        free(v->cats);
        v->cats = NULL;
        v->ncats = 0;
}

void seg_view_clear(seg_view_t *v)
{
        size_t i;

        view_free_cats(v);
        for (i = 0; i <= SEG_CHANNEL_CNT; i++)
                free(v->chan[i]);
        for (i = 0; i < v->nwards; i++)
                free(v->ward[i]);
        free(v->dest);
        free(v->has_dest);
        free(v->active);
        free(v->excluded);
        memset(v, 0, sizeof(*v));
}

int seg_view_sync(seg_view_t *v, const seg_store_t *store, const seg_dests_t *dests,
                  const seg_exclusions_t *excl, uint64_t excl_generation)
{
        size_t i, w = store->words + 1;

        if (v->store == store && v->dests == dests && v->dest_generation == dests->generation &&
            v->excl_generation == excl_generation && v->dest)
                return 0;
        seg_view_clear(v);
        v->dest = malloc((store->n + 1) * sizeof(*v->dest));
        v->has_dest = calloc(w, 8);
        v->active = calloc(w, 8);
        v->excluded = calloc(w, 8);
        if (!v->dest || !v->has_dest || !v->active || !v->excluded)
                goto fail;
        for (i = 0; i < store->n; i++) {
                const seg_dest_t *e = seg_dests_get(dests, store->user_ids[i]);
                int c = e ? e->channel : SEG_CHAN_NONE;
                v->dest[i] = e ? (int32_t)(e - dests->v) : -1;
                if (!v->chan[c] && !(v->chan[c] = calloc(w, 8)))
                        goto fail;
                seg_bit_set(v->chan[c], i);
                if (e)
                        seg_bit_set(v->has_dest, i);
                if (e && e->active)
                        seg_bit_set(v->active, i);
                if (excl && seg_exclusions_has(excl, store->user_ids[i]))
                        seg_bit_set(v->excluded, i);
        }
        v->store = store;
        v->dests = dests;
        v->dest_generation = dests->generation;
        v->excl_generation = excl_generation;
        return 0;
fail:
        seg_view_clear(v);
        return -1;
}

static int cmp_i32(const void *a, const void *b)
{
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

        return (x > y) - (x < y);
}

/* The distinct codes of column c, sorted; more than SEG_WARD_MAX: the
 * first ones and a row -1 (sorted first) for the rest. */
static void ward_codes(seg_view_t *v, const seg_column_t *c, size_t n)
{
        int32_t prev = 0, code;
        size_t i, k;
        int other = 0;

        v->nwards = 0;
        for (i = 0; i < n; i++) {
                code = c ? seg_column_get(c, i) : 0;
                if (v->nwards && code == prev)
                        continue;
                prev = code;
                for (k = 0; k < v->nwards && v->ward_code[k] != code; k++)
                        ;
                if (k < v->nwards)
                        continue;
                if (v->nwards < SEG_WARD_MAX)
                        v->ward_code[v->nwards++] = code;
                else
                        other = 1;
        }
        if (other)
                v->ward_code[v->nwards++] = -1;
        if (!v->nwards)
                v->ward_code[v->nwards++] = 0;
        qsort(v->ward_code, v->nwards, sizeof(int32_t), cmp_i32);
}

int seg_view_wards(seg_view_t *v, int col)
{
        const seg_store_t *s = v->store;
        const seg_column_t *c =
            col >= 0 && (size_t)col < s->nvalues && s->values[col].width ? &s->values[col] : NULL;
        size_t i, other;

        if (v->wards_built)
                return 0;
        ward_codes(v, c, s->n);
        for (i = 0; i < v->nwards; i++)
                if (!(v->ward[i] = calloc(s->words + 1, 8)))
                        return -1;
        other = v->ward_code[0] == -1 ? 0 : v->nwards; /* -1 sorts first */
        for (i = 0; i < s->n; i++) {
                int32_t code = c ? seg_column_get(c, i) : 0;
                const int32_t *hit = bsearch(&code, v->ward_code, v->nwards, sizeof(code), cmp_i32);
                seg_bit_set(v->ward[hit ? (size_t)(hit - v->ward_code) : other], i);
        }
        v->wards_built = 1;
        return 0;
}

static int dest_has_category(const seg_dest_t *e, const char *name)
{
        size_t i;

        for (i = 0; i < e->ncat; i++)
                if (strcmp(e->categories[i], name) == 0)
                        return 1;
        return 0;
}

const uint64_t *seg_view_category(seg_view_t *v, const char *name)
{
        struct seg_cat *nc;
        uint64_t *bits;
        size_t i;

        for (i = 0; i < v->ncats; i++)
                if (strcmp(v->cats[i].name, name) == 0)
                        return v->cats[i].bits;
        if (!(nc = realloc(v->cats, (v->ncats + 1) * sizeof(*nc))))
                return NULL;
        v->cats = nc;
        if (!(bits = calloc(v->store->words + 1, 8)))
                return NULL;
        for (i = 0; i < v->store->n; i++)
                if (v->dest[i] >= 0 && v->dests->v[v->dest[i]].active &&
                    dest_has_category(&v->dests->v[v->dest[i]], name))
                        seg_bit_set(bits, i);
        if (!(nc[v->ncats].name = strdup(name))) {
                free(bits);
                return NULL;
        }
        nc[v->ncats++].bits = bits;
        return bits;
}
