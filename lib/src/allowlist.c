#include "oshirase/grow.h"
#include "oshirase/allowlist.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/serde.h"
#include "oshirase/topics.h"
#include "oshirase/transfer.h"

struct allow_entry {
        char *topic;
        uint64_t fingerprint;
        const osh_schema_t *schema; /* NULL: a fingerprint this build does not know */
};

struct osh_allowlist {
        struct allow_entry *e;
        size_t n, cap;
        char **topics; /* distinct, in order of first appearance */
        size_t ntopics;
};

static const char *const seg_names[OSH_SEG__CNT] = {"core", "processing", "exchange", "cloud"};

int osh_segment_parse(const char *s, osh_segment_t *out)
{
        for (int i = 0; s && i < OSH_SEG__CNT; i++) {
                if (!strcmp(s, seg_names[i])) {
                        *out = (osh_segment_t)i;
                        return 0;
                }
        }
        return -1;
}

const char *osh_segment_name(osh_segment_t seg)
{
        return seg >= 0 && seg < OSH_SEG__CNT ? seg_names[seg] : "?";
}

const char *osh_allow_verdict_name(osh_allow_verdict_t v)
{
        static const char *const names[OSH_ALLOW__CNT] = {"ok", "topic", "not-avro", "fingerprint",
                                                          "malformed"};
        return v >= 0 && v < OSH_ALLOW__CNT ? names[v] : "?";
}

void osh_allowlist_destroy(osh_allowlist_t *al)
{
        if (!al)
                return;
        for (size_t i = 0; i < al->n; i++)
                free(al->e[i].topic);
        free(al->e);
        free(al->topics); /* entries own the strings */
        free(al);
}

static int add_entry(osh_allowlist_t *al, const char *topic, uint64_t fp, const osh_schema_t *s)
{
        struct allow_entry *ne;

        for (size_t i = 0; i < al->n; i++)
                if (al->e[i].fingerprint == fp && !strcmp(al->e[i].topic, topic))
                        return 0; /* duplicate entries are harmless */
        if (osh_grow(&al->e, &al->cap, al->n, sizeof(*al->e), 8))
                return -1;
        ne = &al->e[al->n];
        ne->topic = strdup(topic);
        if (!ne->topic)
                return -1;
        ne->fingerprint = fp;
        ne->schema = s;
        al->n++;
        return 0;
}

/* Every registered revision whose full name is name. Returns how many. */
static int add_by_name(osh_allowlist_t *al, const char *topic, const char *name)
{
        int added = 0;

        for (size_t i = 0; i < osh_schema_count(); i++) {
                const osh_schema_t *s = osh_schema_at(i);
                if (strcmp(s->name, name) != 0)
                        continue;
                if (add_entry(al, topic, s->fingerprint, s))
                        return -1;
                added++;
        }
        return added;
}

static int parse_hex_fp(const char *s, uint64_t *out)
{
        char *end;

        if (strlen(s) != 16 || strspn(s, "0123456789abcdefABCDEF") != 16)
                return -1;
        *out = strtoull(s, &end, 16);
        return *end ? -1 : 0;
}

/* One "topic[@schema]" entry, already trimmed and NUL-terminated. */
static int parse_entry(osh_allowlist_t *al, char *ent, char *errstr, size_t errstr_size)
{
        char *at = strchr(ent, '@');
        const char *schema = at ? at + 1 : NULL;
        const osh_schema_t *s;
        uint64_t fp;
        int added;

        if (at)
                *at = '\0';
        if (!osh_transfer_topic_valid(ent)) {
                snprintf(errstr, errstr_size, "allow: illegal topic name '%s'", ent);
                return -1;
        }
        if (!schema) {
                s = osh_schema_for_topic(ent);
                if (!s) {
                        snprintf(errstr, errstr_size,
                                 "allow: topic '%s' has no known schema; name one with @", ent);
                        return -1;
                }
                schema = s->name;
        }
        if (!parse_hex_fp(schema, &fp))
                return add_entry(al, ent, fp, osh_schema_by_fingerprint(fp));
        added = add_by_name(al, ent, schema);
        if (added <= 0) {
                snprintf(errstr, errstr_size, "allow: %s@%s: unknown schema", ent, schema);
                return -1;
        }
        return 0;
}

static int collect_topics(osh_allowlist_t *al)
{
        al->topics = calloc(al->n, sizeof(*al->topics));
        if (!al->topics)
                return -1;
        for (size_t i = 0; i < al->n; i++) {
                size_t j = 0;
                while (j < al->ntopics && strcmp(al->topics[j], al->e[i].topic) != 0)
                        j++;
                if (j == al->ntopics)
                        al->topics[al->ntopics++] = al->e[i].topic;
        }
        return 0;
}

osh_allowlist_t *osh_allowlist_parse(const char *spec, char *errstr, size_t errstr_size)
{
        osh_allowlist_t *al = calloc(1, sizeof(*al));
        char *copy = spec ? strdup(spec) : NULL, *save = NULL, *tok;

        if (!al || !copy) {
                snprintf(errstr, errstr_size, spec ? "out of memory" : "allow: empty list");
                goto fail;
        }
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *end;
                tok += strspn(tok, " \t");
                end = tok + strlen(tok);
                while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
                        *--end = '\0';
                if (!*tok)
                        continue;
                if (parse_entry(al, tok, errstr, errstr_size))
                        goto fail;
        }
        if (!al->n) {
                snprintf(errstr, errstr_size, "allow: empty list");
                goto fail;
        }
        if (collect_topics(al)) {
                snprintf(errstr, errstr_size, "out of memory");
                goto fail;
        }
        free(copy);
        return al;
fail:
        free(copy);
        osh_allowlist_destroy(al);
        return NULL;
}

/* Personal data: the raw and rejects topics, and their schemas by any name. */
static int entry_is_pii(const struct allow_entry *e)
{
        static const char *const pii_topics[] = {OSH_TOPIC_RAW, OSH_TOPIC_REJECTS};

        for (size_t i = 0; i < sizeof(pii_topics) / sizeof(pii_topics[0]); i++) {
                const osh_schema_t *s = osh_schema_for_topic(pii_topics[i]);
                if (!strcmp(e->topic, pii_topics[i]))
                        return 1;
                if (s && e->schema && !strcmp(e->schema->name, s->name))
                        return 1;
        }
        return 0;
}

int osh_allowlist_check_segments(const osh_allowlist_t *al, osh_segment_t from, osh_segment_t to,
                                 char *errstr, size_t errstr_size)
{
        if (from < 0 || from >= OSH_SEG_CLOUD || to != from + 1) {
                snprintf(errstr, errstr_size,
                         "segments: %s -> %s is not a crossing (allowed: core -> processing, "
                         "processing -> exchange, exchange -> cloud)",
                         osh_segment_name(from), osh_segment_name(to));
                return -1;
        }
        if (to <= OSH_SEG_PROCESSING)
                return 0;
        for (size_t i = 0; i < al->n; i++) {
                if (entry_is_pii(&al->e[i])) {
                        snprintf(errstr, errstr_size,
                                 "segments: %s (%016" PRIx64
                                 ") carries personal data and may not go %s -> %s; it never "
                                 "leaves the processing segment",
                                 al->e[i].topic, al->e[i].fingerprint, osh_segment_name(from),
                                 osh_segment_name(to));
                        return -1;
                }
        }
        return 0;
}

osh_allow_verdict_t osh_allowlist_check(const osh_allowlist_t *al, const char *topic,
                                        const void *value, size_t len, int validate)
{
        const struct allow_entry *hit = NULL;
        uint64_t fp;
        char err[128];

        if (!osh_allowlist_has_topic(al, topic))
                return OSH_ALLOW_TOPIC;
        if (!value || osh_serde_peek_fingerprint(value, len, &fp))
                return OSH_ALLOW_NOT_AVRO;
        for (size_t i = 0; i < al->n && !hit; i++) {
                if (al->e[i].fingerprint == fp && !strcmp(al->e[i].topic, topic))
                        hit = &al->e[i];
        }
        if (!hit)
                return OSH_ALLOW_FINGERPRINT;
        if (validate && hit->schema &&
            osh_serde_validate_datum(hit->schema->avro, (const char *)value + OSH_SERDE_HEADER_LEN,
                                     len - OSH_SERDE_HEADER_LEN, err, sizeof(err)))
                return OSH_ALLOW_MALFORMED;
        return OSH_ALLOW_OK;
}

int osh_allowlist_has_topic(const osh_allowlist_t *al, const char *topic)
{
        for (size_t i = 0; i < al->n; i++)
                if (!strcmp(al->e[i].topic, topic))
                        return 1;
        return 0;
}

size_t osh_allowlist_topic_count(const osh_allowlist_t *al)
{
        return al->ntopics;
}

const char *osh_allowlist_topic(const osh_allowlist_t *al, size_t i)
{
        return i < al->ntopics ? al->topics[i] : NULL;
}
