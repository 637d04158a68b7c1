#include "ingest_state.h"

#include <stdlib.h>
#include <string.h>
#include "oshirase/grow.h"

/* Few partitions and senders (tens): flat arrays searched linearly. */
struct watermark {
        char *topic;
        int32_t partition;
        int64_t offset;
};

struct seq_slot {
        uint64_t seq;
        uint8_t digest[32];
        int used;
};

struct sender {
        char *name;
        struct seq_slot ring[CI_SEQ_RING]; /* indexed by seq % CI_SEQ_RING */
};

struct ci_state {
        struct watermark *wm;
        size_t wm_cnt, wm_cap;
        struct sender **snd;
        size_t snd_cnt, snd_cap;
};

ci_state_t *ci_state_new(void)
{
        return calloc(1, sizeof(ci_state_t));
}

void ci_state_destroy(ci_state_t *s)
{
        if (!s)
                return;
        for (size_t i = 0; i < s->wm_cnt; i++)
                free(s->wm[i].topic);
        for (size_t i = 0; i < s->snd_cnt; i++) {
                free(s->snd[i]->name);
                free(s->snd[i]);
        }
        free(s->wm);
        free(s->snd);
        free(s);
}

static struct watermark *wm_find(const ci_state_t *s, const char *topic, int32_t partition)
{
        for (size_t i = 0; i < s->wm_cnt; i++)
                if (s->wm[i].partition == partition && !strcmp(s->wm[i].topic, topic))
                        return &s->wm[i];
        return NULL;
}

int64_t ci_state_offset(const ci_state_t *s, const char *topic, int32_t partition)
{
        const struct watermark *w = wm_find(s, topic, partition);

        return w ? w->offset : -1;
}

int ci_state_offset_raise(ci_state_t *s, const char *topic, int32_t partition, int64_t offset)
{
        struct watermark *w = wm_find(s, topic, partition);

        if (w) {
                if (offset > w->offset)
                        w->offset = offset;
                return 0;
        }
        if (osh_grow(&s->wm, &s->wm_cap, s->wm_cnt, sizeof(*s->wm), 16))
                return -1;
        w = &s->wm[s->wm_cnt];
        w->topic = strdup(topic);
        if (!w->topic)
                return -1;
        w->partition = partition;
        w->offset = offset;
        s->wm_cnt++;
        return 0;
}

size_t ci_state_offset_count(const ci_state_t *s)
{
        return s->wm_cnt;
}

void ci_state_offset_at(const ci_state_t *s, size_t i, const char **topic, int32_t *partition,
                        int64_t *offset)
{
        *topic = s->wm[i].topic;
        *partition = s->wm[i].partition;
        *offset = s->wm[i].offset;
}

static struct sender *sender_find(const ci_state_t *s, const char *name)
{
        for (size_t i = 0; i < s->snd_cnt; i++)
                if (!strcmp(s->snd[i]->name, name))
                        return s->snd[i];
        return NULL;
}

ci_seq_verdict_t ci_state_seq_check(const ci_state_t *s, const char *sender, uint64_t seq,
                                    const uint8_t digest[32])
{
        const struct sender *p = sender_find(s, sender);
        const struct seq_slot *slot;

        if (!p)
                return CI_SEQ_NEW;
        slot = &p->ring[seq % CI_SEQ_RING];
        if (!slot->used || slot->seq != seq)
                return CI_SEQ_NEW;
        return memcmp(slot->digest, digest, 32) ? CI_SEQ_CONFLICT : CI_SEQ_RESEND;
}

int ci_state_seq_record(ci_state_t *s, const char *sender, uint64_t seq, const uint8_t digest[32])
{
        struct sender *p = sender_find(s, sender);
        struct seq_slot *slot;

        if (!p) {
                if (s->snd_cnt == s->snd_cap) {
                        size_t cap = s->snd_cap ? s->snd_cap * 2 : 4;
                        struct sender **n = realloc(s->snd, cap * sizeof(*n));
                        if (!n)
                                return -1;
                        s->snd = n;
                        s->snd_cap = cap;
                }
                p = calloc(1, sizeof(*p));
                if (!p || !(p->name = strdup(sender))) {
                        free(p);
                        return -1;
                }
                s->snd[s->snd_cnt++] = p;
        }
        slot = &p->ring[seq % CI_SEQ_RING];
        slot->seq = seq;
        slot->used = 1;
        memcpy(slot->digest, digest, 32);
        return 0;
}
