#include "relay_track.h"

#include <stdlib.h>
#include <string.h>

/* Pending offsets of one partition in a ring, oldest first. */
struct rb_tpart {
        char *topic;
        int32_t partition;
        int64_t *off;
        unsigned char *done;
        size_t head, len, cap;
        int64_t done_mark; /* everything <= this is finished (-1: none) */
        int64_t stored;    /* last offset returned for storing (-1: none) */
        int64_t mark;      /* caller's */
        int64_t to_store;  /* deferred store (-1: none) */
        struct rb_tpart *next;
};

struct rb_track {
        struct rb_tpart *parts;
};

rb_track_t *rb_track_new(void)
{
        return calloc(1, sizeof(rb_track_t));
}

void rb_track_destroy(rb_track_t *t)
{
        struct rb_tpart *p, *n;

        if (!t)
                return;
        for (p = t->parts; p; p = n) {
                n = p->next;
                free(p->topic);
                free(p->off);
                free(p->done);
                free(p);
        }
        free(t);
}

rb_tpart_t *rb_track_part(rb_track_t *t, const char *topic, int32_t partition)
{
        struct rb_tpart *p;

        for (p = t->parts; p; p = p->next)
                if (p->partition == partition && !strcmp(p->topic, topic))
                        return p;
        p = calloc(1, sizeof(*p));
        if (!p || !(p->topic = strdup(topic))) {
                free(p);
                return NULL;
        }
        p->partition = partition;
        p->done_mark = -1;
        p->stored = -1;
        p->mark = -1;
        p->to_store = -1;
        p->next = t->parts;
        t->parts = p;
        return p;
}

const char *rb_tpart_topic(const rb_tpart_t *p)
{
        return p->topic;
}

int32_t rb_tpart_partition(const rb_tpart_t *p)
{
        return p->partition;
}

int64_t rb_tpart_mark(const rb_tpart_t *p)
{
        return p->mark;
}

void rb_tpart_set_mark(rb_tpart_t *p, int64_t mark)
{
        p->mark = mark;
}

void rb_tpart_defer_store(rb_tpart_t *p, int64_t next)
{
        if (next > p->to_store)
                p->to_store = next;
}

void rb_track_take_stores(rb_track_t *t, void (*fn)(rb_tpart_t *p, int64_t next, void *opaque),
                          void *opaque)
{
        for (struct rb_tpart *p = t->parts; p; p = p->next) {
                if (p->to_store < 0)
                        continue;
                fn(p, p->to_store, opaque);
                p->to_store = -1;
        }
}

int rb_track_has_stores(const rb_track_t *t)
{
        for (const struct rb_tpart *p = t->parts; p; p = p->next)
                if (p->to_store >= 0)
                        return 1;
        return 0;
}

uint64_t rb_tpart_pending(const rb_tpart_t *p)
{
        return p->len;
}

#define AT(p, i) (((p)->head + (i)) % (p)->cap)

static int grow(struct rb_tpart *p)
{
        size_t cap = p->cap ? p->cap * 2 : 64, i;
        int64_t *off = malloc(cap * sizeof(*off));
        unsigned char *done = malloc(cap);

        if (!off || !done) {
                free(off);
                free(done);
                return -1;
        }
        for (i = 0; i < p->len; i++) {
                off[i] = p->off[AT(p, i)];
                done[i] = p->done[AT(p, i)];
        }
        free(p->off);
        free(p->done);
        p->off = off;
        p->done = done;
        p->cap = cap;
        p->head = 0;
        return 0;
}

/* Pops the finished prefix; returns the new store offset or -1. */
static int64_t advance(struct rb_tpart *p)
{
        int64_t next = -1;

        while (p->len && p->done[p->head]) {
                next = p->off[p->head] + 1;
                p->head = (p->head + 1) % p->cap;
                p->len--;
        }
        if (!p->len && p->done_mark + 1 > next)
                next = p->done_mark + 1;
        if (next <= p->stored)
                return -1;
        p->stored = next;
        return next;
}

int64_t rb_track_add(rb_tpart_t *p, int64_t offset)
{
        if (p->len && offset <= p->off[AT(p, p->len - 1)])
                p->len = 0; /* rewound (rebalance, replay): older pendings are moot */
        if (offset > p->done_mark && offset < p->stored)
                p->stored = offset; /* replay below what we stored: store again from here */
        if (p->len == p->cap && grow(p))
                return -2;
        p->off[AT(p, p->len)] = offset;
        p->done[AT(p, p->len)] = offset <= p->done_mark;
        p->len++;
        return advance(p);
}

/* Index of offset in the ring by binary search (offsets increase), or -1. */
static long find(const struct rb_tpart *p, int64_t offset)
{
        size_t lo = 0, hi = p->len;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int64_t o = p->off[AT(p, mid)];
                if (o == offset)
                        return (long)mid;
                if (o < offset)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return -1;
}

int64_t rb_track_done(rb_tpart_t *p, int64_t offset)
{
        long i = find(p, offset);

        if (i < 0)
                return -1;
        p->done[AT(p, (size_t)i)] = 1;
        return advance(p);
}

int64_t rb_track_done_through(rb_tpart_t *p, int64_t through)
{
        size_t i;

        if (through > p->done_mark)
                p->done_mark = through;
        for (i = 0; i < p->len && p->off[AT(p, i)] <= through; i++)
                p->done[AT(p, i)] = 1;
        return advance(p);
}
