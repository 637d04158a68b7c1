#include "anon_rules.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oshirase/strutil.h"
#include "oshirase/serde.h"
#include "oshirase/topics.h"

#define MAX_TOKENS 16
#define MAX_LINE   1024

/* Parser state: the rules being built plus which raw fields are accounted for. */
typedef struct parser {
        anon_rules_t *r;
        const osh_dict_t *d;
        avro_schema_t raw;
        const char *origin;
        int line;
        uint64_t covered; /* bit i: raw field i is read, kept or dropped */
        uint32_t seen;    /* bit per scalar key, to refuse repeats */
        uint8_t *assigned_flags;
        uint8_t *assigned_values;
        char *errstr;
        size_t errstr_size;
} parser_t;

static int perr(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(parser_t *p, const char *fmt, ...)
{
        va_list ap;
        int n = p->line ? snprintf(p->errstr, p->errstr_size, "%s:%d: ", p->origin, p->line)
                        : snprintf(p->errstr, p->errstr_size, "%s: ", p->origin);

        va_start(ap, fmt);
        if (n >= 0 && (size_t)n < p->errstr_size)
                vsnprintf(p->errstr + n, p->errstr_size - (size_t)n, fmt, ap);
        va_end(ap);
        return -1;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi)
                return -1;
        *out = (int)v;
        return 0;
}

static int cover(parser_t *p, const char *field)
{
        int i = avro_schema_record_field_get_index(p->raw, field);

        if (i < 0 || i >= 64)
                return perr(p, "'%s' is not a field of resident.raw.v1", field);
        p->covered |= (uint64_t)1 << i;
        return 0;
}

static int rel_index(parser_t *p, const char *sym, int *out)
{
        avro_schema_t e = avro_schema_record_field_get(p->raw, "relationship");
        int i = e ? avro_schema_enum_get_by_name(e, sym) : -1;

        if (i < 0)
                return perr(p, "unknown relationship '%s' (see resident.raw.v1 Relationship)", sym);
        *out = i;
        return 0;
}

/* The dictionary entry for an attribute name, checked against the type the
 * transform produces; marks its position as assigned. */
static int target(parser_t *p, const char *name, int want_flag, int want_ym, int *pos)
{
        const osh_dict_entry_t *e = osh_dict_find(p->d, name);
        uint8_t *assigned;

        if (!e)
                return perr(p, "attribute '%s' is not in the dictionary", name);
        if (want_flag != (e->type == OSH_DICT_FLAG) || (want_ym && e->type != OSH_DICT_YEARMONTH) ||
            (!want_flag && !want_ym && e->type != OSH_DICT_CODE && e->type != OSH_DICT_INT))
                return perr(p, "attribute '%s' is a %s; this transform does not produce one", name,
                            osh_dict_type_name(e->type));
        assigned = want_flag ? p->assigned_flags : p->assigned_values;
        if (assigned[e->position])
                return perr(p, "attribute '%s' is assigned twice", name);
        assigned[e->position] = 1;
        *pos = e->position;
        return 0;
}

static int need_args(parser_t *p, const char *xf, int ntok, int min, int max)
{
        if (ntok - 1 < min || ntok - 1 > max)
                return perr(p, "transform '%s' takes %d..%d argument(s), got %d", xf, min, max,
                            ntok - 1);
        return 0;
}

static int raw_field_of_type(parser_t *p, const char *f, avro_type_t t, const char *what)
{
        /* avro-c returns garbage for an unknown field name: look it up first */
        avro_schema_t s = avro_schema_record_field_get_index(p->raw, f) < 0
                              ? NULL
                              : avro_schema_record_field_get(p->raw, f);

        if (s && is_avro_link(s)) /* a later use of a named type, e.g. TaxStatus */
                s = avro_schema_link_target(s);
        if (!s || avro_typeof(s) != t ||
            (t == AVRO_ENUM && strcmp(avro_schema_name(s), "TaxStatus")))
                return perr(p, "'%s' is not a %s field of resident.raw.v1", f, what);
        snprintf(p->r->ops[p->r->nops].field, sizeof(p->r->ops[0].field), "%s", f);
        p->r->ops[p->r->nops].fidx = avro_schema_record_field_get_index(p->raw, f);
        return cover(p, f);
}

static int parse_rels(parser_t *p, anon_op_t *op, char **tok, int ntok)
{
        if (ntok > ANON_MAX_RELS)
                return perr(p, "at most %d relationships", ANON_MAX_RELS);
        for (int i = 0; i < ntok; i++)
                if (rel_index(p, tok[i], &op->rels[i]))
                        return -1;
        op->nrels = ntok;
        return 0;
}

/* "attr hh_age_### = household_age FROM TO": one flag per age. */
static int parse_hh_age(parser_t *p, anon_op_t *op, const char *name, char **tok, int ntok)
{
        size_t n = strlen(name);
        char buf[128];

        if (need_args(p, tok[0], ntok, 2, 2) || parse_int(tok[1], 0, 199, &op->a) ||
            parse_int(tok[2], op->a, 199, &op->b))
                return perr(p, "household_age needs FROM TO with 0 <= FROM <= TO <= 199");
        if (n < 4 || n > 100 || strcmp(name + n - 3, "###"))
                return perr(p, "household_age fills one attribute per age: name must end in ###");
        op->age_bits = calloc((size_t)(op->b - op->a + 1), sizeof(int));
        if (!op->age_bits)
                return perr(p, "out of memory");
        for (int age = op->a; age <= op->b; age++) {
                snprintf(buf, sizeof(buf), "%.*s%03d", (int)(n - 3), name, age);
                if (target(p, buf, 1, 0, &op->age_bits[age - op->a]))
                        return -1;
        }
        op->pos = op->age_bits[0];
        snprintf(op->field, sizeof(op->field), "%s", name); /* the quasi-identifier's name */
        return cover(p, "household_members") || cover(p, "reference_date");
}

static int parse_xform(parser_t *p, anon_op_t *op, const char *name, char **tok, int ntok)
{
        const char *x = tok[0];

        if (!strcmp(x, "household_age"))
                return op->kind = ANON_X_HH_AGE, parse_hh_age(p, op, name, tok, ntok);
        if (!strcmp(x, "sex_code"))
                return op->kind = ANON_X_SEX, need_args(p, x, ntok, 0, 0) ||
                                                  target(p, name, 0, 0, &op->pos) ||
                                                  cover(p, "sex");
        if (!strcmp(x, "birth_yearmonth"))
                return op->kind = ANON_X_BIRTH_YM,
                       need_args(p, x, ntok, 0, 0) || target(p, name, 0, 1, &op->pos) ||
                           cover(p, "birth_date") || cover(p, "reference_date");
        if (!strcmp(x, "address_digits")) {
                op->kind = ANON_X_ADDRESS;
                if (need_args(p, x, ntok, 2, 2) || parse_int(tok[1], 1, 30, &op->a) ||
                    parse_int(tok[2], op->a, op->a + 8, &op->b))
                        return perr(p, "address_digits needs FIRST LAST, 1 <= FIRST <= LAST <= "
                                       "30, at most 9 digits");
                return target(p, name, 0, 0, &op->pos) || cover(p, "address_code");
        }
        if (!strcmp(x, "household_has"))
                return op->kind = ANON_X_HH_HAS, need_args(p, x, ntok, 1, ANON_MAX_RELS) ||
                                                     parse_rels(p, op, tok + 1, ntok - 1) ||
                                                     target(p, name, 1, 0, &op->pos) ||
                                                     cover(p, "relationship") ||
                                                     cover(p, "household_members");
        if (!strcmp(x, "child_yearmonth")) {
                op->kind = ANON_X_CHILD_YM;
                if (need_args(p, x, ntok, 2, ANON_MAX_RELS + 1) || parse_int(tok[1], 1, 30, &op->a))
                        return perr(p, "child_yearmonth needs N (1..30) and relationships");
                return parse_rels(p, op, tok + 2, ntok - 2) || target(p, name, 0, 1, &op->pos) ||
                       cover(p, "household_members");
        }
        if (!strcmp(x, "tax"))
                return op->kind = ANON_X_TAX,
                       need_args(p, x, ntok, 1, 1) ||
                           raw_field_of_type(p, tok[1], AVRO_ENUM, "TaxStatus") ||
                           target(p, name, 1, 0, &op->pos);
        if (!strcmp(x, "bool"))
                return op->kind = ANON_X_BOOL,
                       need_args(p, x, ntok, 1, 1) ||
                           raw_field_of_type(p, tok[1], AVRO_BOOLEAN, "boolean") ||
                           target(p, name, 1, 0, &op->pos);
        if (!strcmp(x, "extension")) {
                op->kind = ANON_X_EXT;
                if (need_args(p, x, ntok, 1, 1))
                        return -1;
                snprintf(op->field, sizeof(op->field), "%s", tok[1]);
                return target(p, name, 1, 0, &op->pos) || cover(p, "extensions");
        }
        return perr(p, "unknown transform '%s'", x);
}

static int parse_attr(parser_t *p, const char *name, char **tok, int ntok)
{
        anon_rules_t *r = p->r;
        anon_op_t *ops;

        if (ntok < 1)
                return perr(p, "attr %s: transform missing", name);
        ops = realloc(r->ops, (r->nops + 1) * sizeof(*ops));
        if (!ops)
                return perr(p, "out of memory");
        r->ops = ops;
        memset(&ops[r->nops], 0, sizeof(ops[0]));
        ops[r->nops].line = p->line;
        if (parse_xform(p, &ops[r->nops], name, tok, ntok)) {
                free(ops[r->nops].age_bits);
                return -1;
        }
        r->nops++;
        return 0;
}

/* Value quasi-identifiers are resolved here; a name### group is resolved
 * in finish(), once its attr line has been read. */
static int parse_quasi(parser_t *p, char **tok, int ntok)
{
        anon_rules_t *r = p->r;

        if (ntok < 1 || ntok > ANON_MAX_QUASI)
                return perr(p, "quasi needs 1..%d attributes", ANON_MAX_QUASI);
        for (int i = 0; i < ntok; i++) {
                const osh_dict_entry_t *e = osh_dict_find(p->d, tok[i]);
                size_t n = strlen(tok[i]);
                anon_dim_t *dm = &r->dims[r->ndims++];
                if (n >= sizeof(dm->name))
                        return perr(p, "quasi-identifier '%s': name too long", tok[i]);
                snprintf(dm->name, sizeof(dm->name), "%s", tok[i]);
                snprintf(r->quasi_name[i], sizeof(r->quasi_name[i]), "%s", tok[i]);
                if (n > 3 && !strcmp(tok[i] + n - 3, "###")) {
                        dm->kind = ANON_D_FLAGS;
                        continue;
                }
                if (!e || !osh_dict_type_is_value(e->type))
                        return perr(p,
                                    "quasi-identifier '%s' is not a value attribute of the "
                                    "dictionary, nor a household_age group (name###)",
                                    tok[i]);
                dm->kind = e->type == OSH_DICT_YEARMONTH ? ANON_D_YM : ANON_D_CODE;
                dm->pos = e->position;
                r->quasi[r->nquasi++] = e->position;
        }
        return 0;
}

static anon_dim_t *find_dim(anon_rules_t *r, const char *name)
{
        for (int i = 0; i < r->ndims; i++)
                if (!strcmp(r->dims[i].name, name))
                        return &r->dims[i];
        return NULL;
}

/* Span of a step name for a dimension kind: months, divisor, band width;
 * 0 = any; -1 = not a step of this kind. */
static int step_span(anon_dim_kind_t k, const char *s)
{
        static const struct {
                anon_dim_kind_t kind;
                const char *name;
                int span;
        } steps[] = {{ANON_D_YM, "quarter", 3},    {ANON_D_YM, "half", 6},
                     {ANON_D_YM, "year", 12},      {ANON_D_YM, "years5", 60},
                     {ANON_D_YM, "years10", 120},  {ANON_D_CODE, "div10", 10},
                     {ANON_D_CODE, "div100", 100}, {ANON_D_CODE, "div1000", 1000},
                     {ANON_D_FLAGS, "band5", 5},   {ANON_D_FLAGS, "band10", 10},
                     {ANON_D_FLAGS, "band20", 20}};

        if (!strcmp(s, "any"))
                return 0;
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
                if (steps[i].kind == k && !strcmp(steps[i].name, s))
                        return steps[i].span;
        return -1;
}

/* "generalise <quasi> = step:cost ...": each step coarser than, and nested
 * in, the one before; "any" last. */
static int parse_generalise(parser_t *p, const char *name, char **tok, int ntok)
{
        anon_dim_t *dm = find_dim(p->r, name);
        int prev = 1;

        if (!dm)
                return perr(p, "generalise %s: not named in quasi (quasi comes first)", name);
        if (dm->nsteps)
                return perr(p, "generalise %s given twice", name);
        if (ntok < 1 || ntok > ANON_MAX_STEPS)
                return perr(p, "generalise %s needs 1..%d steps", name, ANON_MAX_STEPS);
        for (int i = 0; i < ntok; i++) {
                char *colon = strchr(tok[i], ':');
                anon_step_t *st = &dm->steps[i];
                if (!colon || parse_int(colon + 1, 0, 1000000, &st->cost))
                        return perr(p, "generalise %s: '%s' is not step:cost", name, tok[i]);
                *colon = 0;
                st->span = step_span(dm->kind, tok[i]);
                if (st->span < 0)
                        return perr(p, "generalise %s: '%s' is not a step of a %s", name, tok[i],
                                    dm->kind == ANON_D_YM     ? "yearmonth"
                                    : dm->kind == ANON_D_CODE ? "code"
                                                              : "household_age group");
                if (!prev || (st->span && (st->span <= prev || st->span % prev)))
                        return perr(p, "generalise %s: '%s' does not nest in the step before", name,
                                    tok[i]);
                prev = st->span;
        }
        dm->nsteps = ntok;
        return 0;
}

/* "protect <yearmonth quasi> = from..to ... xW" */
static int parse_protect(parser_t *p, const char *name, char **tok, int ntok)
{
        anon_dim_t *dm = find_dim(p->r, name);

        if (!dm || dm->kind != ANON_D_YM)
                return perr(p, "protect %s: not a yearmonth quasi-identifier", name);
        if (dm->nprot)
                return perr(p, "protect %s given twice", name);
        if (ntok < 2 || ntok > ANON_MAX_STEPS + 1 || tok[ntok - 1][0] != 'x' ||
            parse_int(tok[ntok - 1] + 1, 1, 1000, &dm->weight))
                return perr(p, "protect %s needs 1..%d from..to ranges and x<weight> (1..1000)",
                            name, ANON_MAX_STEPS);
        for (int i = 0; i < ntok - 1; i++) {
                char *dots = strstr(tok[i], "..");
                if (!dots)
                        return perr(p, "protect %s: '%s' is not from..to", name, tok[i]);
                *dots = 0;
                if (parse_int(tok[i], 0, 2400, &dm->prot[i][0]) ||
                    parse_int(dots + 2, dm->prot[i][0], 2400, &dm->prot[i][1]))
                        return perr(p, "protect %s: ages in months 0..2400, from <= to", name);
        }
        dm->nprot = ntok - 1;
        return 0;
}

/* The household_age ops that fill the name### quasi-identifiers. */
static int resolve_dims(parser_t *p)
{
        anon_rules_t *r = p->r;

        int groups = 0;

        for (int i = 0; i < r->ndims; i++) {
                anon_dim_t *dm = &r->dims[i];
                if (dm->kind == ANON_D_FLAGS && ++groups > 1)
                        return perr(p, "at most one household_age quasi-identifier");
                for (size_t j = 0; dm->kind == ANON_D_FLAGS && !dm->bits && j < r->nops; j++) {
                        if (r->ops[j].kind != ANON_X_HH_AGE || strcmp(r->ops[j].field, dm->name))
                                continue;
                        dm->bits = r->ops[j].age_bits;
                        dm->nbits = r->ops[j].b - r->ops[j].a + 1;
                }
                if (dm->kind == ANON_D_FLAGS && !dm->bits)
                        return perr(p, "quasi-identifier '%s' is not a household_age attribute",
                                    dm->name);
                if (dm->kind == ANON_D_FLAGS && dm->nbits > 128)
                        return perr(p, "quasi-identifier '%s': at most 128 ages", dm->name);
        }
        if (r->k_action == ANON_K_HIERARCHY) {
                int steps = 0;
                for (int i = 0; i < r->ndims; i++)
                        steps += r->dims[i].nsteps;
                if (!steps)
                        return perr(p, "k_action = hierarchy needs generalise lines");
        }
        return 0;
}

static int parse_k_action(parser_t *p, char **tok, int ntok)
{
        const osh_dict_entry_t *e;

        if (ntok == 1 && !strcmp(tok[0], "suppress"))
                return p->r->k_action = ANON_K_SUPPRESS, 0;
        if (ntok == 1 && !strcmp(tok[0], "hierarchy"))
                return p->r->k_action = ANON_K_HIERARCHY, 0;
        if (ntok != 2 || strcmp(tok[0], "generalise"))
                return perr(p, "k_action must be 'suppress', 'generalise <yearmonth attr>' or "
                               "'hierarchy'");
        e = osh_dict_find(p->d, tok[1]);
        if (!e || e->type != OSH_DICT_YEARMONTH)
                return perr(p, "'%s' is not a yearmonth attribute of the dictionary", tok[1]);
        p->r->k_action = ANON_K_GENERALISE;
        p->r->generalise_pos = e->position;
        return 0;
}

static int parse_fields(parser_t *p, char **tok, int ntok)
{
        for (int i = 0; i < ntok; i++)
                if (cover(p, tok[i]))
                        return -1;
        return 0;
}

static int parse_truthy(parser_t *p, char **tok, int ntok)
{
        if (ntok < 1 || ntok > ANON_MAX_TRUTHY)
                return perr(p, "truthy needs 1..%d values", ANON_MAX_TRUTHY);
        for (int i = 0; i < ntok; i++) {
                if (strlen(tok[i]) >= sizeof(p->r->truthy[0]))
                        return perr(p, "truthy value too long");
                snprintf(p->r->truthy[i], sizeof(p->r->truthy[0]), "%s", tok[i]);
        }
        p->r->ntruthy = ntok;
        return 0;
}

static int parse_user_id(parser_t *p, char **tok, int ntok)
{
        if (ntok == 1 && !strcmp(tok[0], "registered_or_hmac"))
                return p->r->uid_rule = ANON_UID_REGISTERED_OR_HMAC,
                       cover(p, "applicant") || cover(p, "atena_no");
        if (ntok == 1 && !strcmp(tok[0], "hmac"))
                return p->r->uid_rule = ANON_UID_HMAC, cover(p, "atena_no");
        return perr(p, "user_id must be 'registered_or_hmac' or 'hmac' (never a bare hash)");
}

static int parse_scalar(parser_t *p, const char *key, char **tok, int ntok)
{
        anon_rules_t *r = p->r;

        if (!strcmp(key, "version")) {
                if (ntok != 1 || strlen(tok[0]) >= sizeof(r->version))
                        return perr(p, "version must be one word of at most %zu characters",
                                    sizeof(r->version) - 1);
                snprintf(r->version, sizeof(r->version), "%s", tok[0]);
                return 0;
        }
        if (!strcmp(key, "layout"))
                return ntok != 1 || parse_int(tok[0], 1, 1000000, &r->layout)
                           ? perr(p, "layout must be a positive integer")
                           : 0;
        if (!strcmp(key, "extreme_age"))
                return ntok != 1 || parse_int(tok[0], 0, 200, &r->extreme_age)
                           ? perr(p, "extreme_age must be 0..200")
                           : 0;
        if (!strcmp(key, "k_floor"))
                return ntok != 1 || parse_int(tok[0], 0, 1000000, &r->k_floor)
                           ? perr(p, "k_floor must be 0..1000000")
                           : 0;
        if (!strcmp(key, "k_action"))
                return parse_k_action(p, tok, ntok);
        if (!strcmp(key, "quasi"))
                return parse_quasi(p, tok, ntok);
        if (!strcmp(key, "user_id"))
                return parse_user_id(p, tok, ntok);
        if (!strcmp(key, "truthy"))
                return parse_truthy(p, tok, ntok);
        if (!strcmp(key, "keep") || !strcmp(key, "drop"))
                return parse_fields(p, tok, ntok);
        return perr(p, "unknown key '%s'", key);
}

static int seen_once(parser_t *p, const char *key)
{
        static const char *const keys[] = {"version",  "layout", "extreme_age", "k_floor",
                                           "k_action", "quasi",  "user_id",     "truthy"};

        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                if (strcmp(key, keys[i]))
                        continue;
                if (p->seen & (1u << i))
                        return perr(p, "'%s' given twice", key);
                p->seen |= 1u << i;
        }
        return 0;
}

static int tokenize(char *s, char **tok, int max)
{
        int n = 0;

        for (char *t = strtok(s, " \t,"); t; t = strtok(NULL, " \t,")) {
                if (n == max)
                        return -1;
                tok[n++] = t;
        }
        return n;
}

static int parse_line(parser_t *p, char *line)
{
        char *eq, *lhs, *tok[MAX_TOKENS], *name;
        int ntok;

        /* '#' starts a comment at the line start or after white space, so
         * "hh_age_###" is a name. */
        for (char *c = line; *c; c++) {
                if (*c == '#' && (c == line || isspace((unsigned char)c[-1]))) {
                        *c = 0;
                        break;
                }
        }
        line = osh_str_trim(line);
        if (!*line)
                return 0;
        if (!(eq = strchr(line, '=')))
                return perr(p, "expected 'key = value'");
        *eq = 0;
        lhs = osh_str_trim(line);
        ntok = tokenize(eq + 1, tok, MAX_TOKENS);
        if (ntok < 0)
                return perr(p, "too many words (at most %d)", MAX_TOKENS);
        if (!strncmp(lhs, "attr", 4) && isspace((unsigned char)lhs[4])) {
                name = osh_str_trim(lhs + 4);
                return parse_attr(p, name, tok, ntok);
        }
        if (!strncmp(lhs, "generalise", 10) && isspace((unsigned char)lhs[10]))
                return parse_generalise(p, osh_str_trim(lhs + 10), tok, ntok);
        if (!strncmp(lhs, "protect", 7) && isspace((unsigned char)lhs[7]))
                return parse_protect(p, osh_str_trim(lhs + 7), tok, ntok);
        if (ntok == 0)
                return perr(p, "'%s' has no value", lhs);
        return seen_once(p, lhs) || parse_scalar(p, lhs, tok, ntok);
}

/* Whole-file checks, after the last line. */
static int finish(parser_t *p)
{
        anon_rules_t *r = p->r;
        size_t nf = avro_schema_record_size(p->raw);

        p->line = 0;
        if (!r->version[0] || !(p->seen & 2) || !(p->seen & 64) || !r->nquasi)
                return perr(p, "version, layout, user_id and quasi are required");
        if (r->layout != osh_dict_layout(p->d))
                return perr(p, "layout %d does not match the dictionary's layout %d", r->layout,
                            osh_dict_layout(p->d));
        for (size_t i = 0; i < nf; i++)
                if (!(p->covered & ((uint64_t)1 << i)))
                        return perr(p, "raw field '%s' is neither used, kept nor dropped",
                                    avro_schema_record_field_name(p->raw, (int)i));
        if (!r->ntruthy)
                snprintf(r->truthy[r->ntruthy++], sizeof(r->truthy[0]), "1");
        return resolve_dims(p);
}

static int parse_text(parser_t *p, const char *text, size_t len)
{
        size_t start = 0;
        char buf[MAX_LINE];

        while (start < len) {
                const char *nl = memchr(text + start, '\n', len - start);
                size_t n = (nl ? (size_t)(nl - text) : len) - start;
                p->line++;
                if (n >= sizeof(buf))
                        return perr(p, "line longer than %d bytes", MAX_LINE - 1);
                memcpy(buf, text + start, n);
                buf[n] = 0;
                if (memchr(buf, 0, n))
                        return perr(p, "NUL byte in line");
                if (parse_line(p, buf))
                        return -1;
                start += n + 1;
        }
        return finish(p);
}

/* The record schema a field of rec holds (through an array and links). */
static avro_schema_t record_of(avro_schema_t rec, const char *field)
{
        avro_schema_t s = avro_schema_record_field_get_index(rec, field) < 0
                              ? NULL
                              : avro_schema_record_field_get(rec, field);

        if (s && avro_typeof(s) == AVRO_ARRAY)
                s = avro_schema_array_items(s);
        while (s && is_avro_link(s))
                s = avro_schema_link_target(s);
        return s && avro_typeof(s) == AVRO_RECORD ? s : NULL;
}

static int resolve_raw(parser_t *p)
{
        anon_raw_idx_t *x = &p->r->raw;
        avro_schema_t m = record_of(p->raw, "household_members");
        avro_schema_t a = record_of(p->raw, "applicant");
        struct {
                avro_schema_t rec;
                const char *name;
                int *idx;
        } f[] = {{p->raw, "atena_no", &x->atena_no},
                 {p->raw, "batch_id", &x->batch_id},
                 {p->raw, "reference_date", &x->reference_date},
                 {p->raw, "sex", &x->sex},
                 {p->raw, "birth_date", &x->birth_date},
                 {p->raw, "address_code", &x->address_code},
                 {p->raw, "relationship", &x->relationship},
                 {p->raw, "household_members", &x->household_members},
                 {p->raw, "extensions", &x->extensions},
                 {p->raw, "applicant", &x->applicant},
                 {m, "relationship", &x->member_relationship},
                 {m, "birth_date", &x->member_birth_date},
                 {a, "user_id", &x->applicant_user_id}};

        for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
                if (!f[i].rec ||
                    (*f[i].idx = avro_schema_record_field_get_index(f[i].rec, f[i].name)) < 0)
                        return perr(p, "resident.raw.v1 has no field '%s'", f[i].name);
        return 0;
}

anon_rules_t *anon_rules_parse(const char *text, size_t len, const char *origin,
                               const osh_dict_t *d, char *errstr, size_t errstr_size)
{
        const osh_schema_t *raw = osh_schema_for_topic(OSH_TOPIC_RAW);
        parser_t p = {.d = d, .origin = origin, .errstr = errstr, .errstr_size = errstr_size};

        if (!raw || avro_schema_record_size(raw->avro) > 64) {
                snprintf(errstr, errstr_size, "%s: resident.raw.v1 schema unavailable", origin);
                return NULL;
        }
        p.raw = raw->avro;
        p.r = calloc(1, sizeof(*p.r));
        p.assigned_flags = calloc(osh_dict_flag_count(d) + 1, 1);
        p.assigned_values = calloc(osh_dict_value_count(d) + 1, 1);
        if (!p.r || !p.assigned_flags || !p.assigned_values) {
                snprintf(errstr, errstr_size, "%s: out of memory", origin);
                goto fail;
        }
        p.r->k_floor = 1;
        p.r->threads = 2;
        p.r->flag_bytes = osh_dict_flag_bytes(d);
        p.r->value_count = osh_dict_value_count(d);
        if (resolve_raw(&p) || parse_text(&p, text, len))
                goto fail;
        free(p.assigned_flags);
        free(p.assigned_values);
        return p.r;
fail:
        free(p.assigned_flags);
        free(p.assigned_values);
        anon_rules_destroy(p.r);
        return NULL;
}

anon_rules_t *anon_rules_load(const char *path, const osh_dict_t *d, char *errstr,
                              size_t errstr_size)
{
        FILE *fp = fopen(path, "rb");
        char *buf = NULL;
        long n;
        anon_rules_t *r = NULL;

        if (!fp) {
                snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
                return NULL;
        }
        if (fseek(fp, 0, SEEK_END) || (n = ftell(fp)) < 0 || n > (1 << 20) ||
            fseek(fp, 0, SEEK_SET) || !(buf = malloc((size_t)n + 1)) ||
            fread(buf, 1, (size_t)n, fp) != (size_t)n) {
                snprintf(errstr, errstr_size, "%s: cannot read (or larger than 1 MiB)", path);
                goto done;
        }
        r = anon_rules_parse(buf, (size_t)n, path, d, errstr, errstr_size);
done:
        free(buf);
        fclose(fp);
        return r;
}

void anon_rules_destroy(anon_rules_t *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->nops; i++)
                free(r->ops[i].age_bits);
        free(r->ops);
        free(r);
}
