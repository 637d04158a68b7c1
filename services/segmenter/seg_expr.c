#include "seg_expr.h"
#include "seg_expr_int.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void seg_node_free(node_t *n)
{
        if (!n)
                return;
        seg_node_free(n->a);
        seg_node_free(n->b);
        free(n->name);
        free(n->set);
        free(n);
}

void seg_expr_destroy(seg_expr_t *e)
{
        if (!e)
                return;
        seg_node_free(e->root);
        free(e);
}

/* ---- lexer ---- */

typedef enum {
        T_END,
        T_IDENT,
        T_NUM,
        T_STR,
        T_LPAREN,
        T_RPAREN,
        T_LBRACK,
        T_RBRACK,
        T_COMMA,
        T_DOTDOT,
        T_OP,
} tok_kind_t;

typedef struct tok {
        tok_kind_t kind;
        const char *start;
        size_t len;
        int col; /* 1-based character column */
        int64_t num;
        cmp_op_t op;
} tok_t;

typedef struct parser {
        const char *text, *p;
        int col; /* column of *p */
        tok_t tok;
        int depth;
        const seg_expr_opts_t *opts;
        int err_col;
        char *err;
        size_t err_size;
        int failed;
} parser_t;

static void perr(parser_t *ps, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void perr(parser_t *ps, int col, const char *fmt, ...)
{
        va_list ap;
        int n;

        if (ps->failed)
                return;
        ps->failed = 1;
        ps->err_col = col;
        n = col > 0 ? snprintf(ps->err, ps->err_size, "column %d: ", col) : 0;
        if (n < 0 || (size_t)n >= ps->err_size)
                return;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->err_size - (size_t)n, fmt, ap);
        va_end(ap);
}

/* How the current token reads in a message: 'word' or "end of input". */
static const char *tok_desc(const tok_t *t, char *buf, size_t size)
{
        if (t->kind == T_END)
                return "end of input";
        snprintf(buf, size, "'%.*s'", (int)(t->len > 32 ? 32 : t->len), t->start);
        return buf;
}

static void advance_chars(parser_t *ps, size_t n)
{
        while (n-- && *ps->p) {
                ps->p++;
                if (((unsigned char)*ps->p & 0xC0) != 0x80)
                        ps->col++; /* count characters, not UTF-8 continuation bytes */
        }
}

static int lex_number(parser_t *ps, tok_t *t)
{
        const char *q = ps->p;
        int neg = 0;
        int64_t v = 0;

        if (*q == '-') {
                neg = 1;
                q++;
        }
        while (isdigit((unsigned char)*q)) {
                v = v * 10 + (*q++ - '0');
                if (v > INT32_MAX) {
                        perr(ps, ps->col, "number out of range");
                        return -1;
                }
        }
        t->kind = T_NUM;
        t->num = neg ? -v : v;
        t->len = (size_t)(q - ps->p);
        return 0;
}

static int lex_op(parser_t *ps, tok_t *t)
{
        static const struct {
                const char *s;
                cmp_op_t op;
        } ops[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
                   {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT}};
        size_t i;

        for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
                size_t l = strlen(ops[i].s);
                if (strncmp(ps->p, ops[i].s, l) == 0) {
                        t->kind = T_OP;
                        t->op = ops[i].op;
                        t->len = l;
                        return 0;
                }
        }
        return -1;
}

static int lex_string(parser_t *ps, tok_t *t)
{
        const char *q = ps->p + 1;

        while (*q && *q != '"')
                q++;
        if (!*q) {
                perr(ps, ps->col, "unterminated string");
                return -1;
        }
        t->kind = T_STR;
        t->len = (size_t)(q + 1 - ps->p);
        return 0;
}

static int lex_punct(tok_t *t, const char *p)
{
        static const char chars[] = "()[],";
        static const tok_kind_t kinds[] = {T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_COMMA};
        const char *c = *p ? strchr(chars, *p) : NULL;

        if (c) {
                t->kind = kinds[c - chars];
                t->len = 1;
                return 0;
        }
        if (p[0] == '.' && p[1] == '.') {
                t->kind = T_DOTDOT;
                t->len = 2;
                return 0;
        }
        return -1;
}

/* Reads the next token into ps->tok. -1 on a lexical error. */
static int next(parser_t *ps)
{
        tok_t *t = &ps->tok;
        unsigned char c;

        while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
                advance_chars(ps, 1);
        memset(t, 0, sizeof(*t));
        t->start = ps->p;
        t->col = ps->col;
        c = (unsigned char)*ps->p;
        if (!c) {
                t->kind = T_END;
                return 0;
        }
        if (isalpha(c) || c == '_') {
                const char *q = ps->p;
                while (isalnum((unsigned char)*q) || *q == '_')
                        q++;
                t->kind = T_IDENT;
                t->len = (size_t)(q - ps->p);
        } else if (isdigit(c) || (c == '-' && isdigit((unsigned char)ps->p[1]))) {
                if (lex_number(ps, t))
                        return -1;
        } else if (c == '"') {
                if (lex_string(ps, t))
                        return -1;
        } else if (lex_punct(t, ps->p) && lex_op(ps, t)) {
                if (c >= 0x80)
                        perr(ps, ps->col, "unexpected non-ASCII character");
                else
                        perr(ps, ps->col, "unexpected character '%c'", isprint(c) ? c : '?');
                return -1;
        }
        advance_chars(ps, t->len);
        return 0;
}

static int tok_is(const tok_t *t, const char *word)
{
        return t->kind == T_IDENT && strlen(word) == t->len &&
               strncasecmp(t->start, word, t->len) == 0;
}

static int is_keyword(const tok_t *t)
{
        static const char *const kw[] = {"and", "or", "not", "in", "true", "false"};
        size_t i;

        for (i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
                if (tok_is(t, kw[i]))
                        return 1;
        return 0;
}

static int expect(parser_t *ps, tok_kind_t kind, const char *what)
{
        char b[48];

        if (ps->tok.kind != kind) {
                perr(ps, ps->tok.col, "expected %s, found %s", what,
                     tok_desc(&ps->tok, b, sizeof(b)));
                return -1;
        }
        return next(ps);
}

static node_t *new_node(parser_t *ps, node_kind_t kind, const char *name, size_t len)
{
        node_t *n = calloc(1, sizeof(*n));

        if (n && name && !(n->name = strndup(name, len))) {
                free(n);
                n = NULL;
        }
        if (!n)
                perr(ps, ps->tok.col, "out of memory");
        else
                n->kind = kind;
        return n;
}

static node_t *new_pair(parser_t *ps, node_kind_t kind, node_t *a, node_t *b)
{
        node_t *n = (a && (b || kind == N_NOT)) ? new_node(ps, kind, NULL, 0) : NULL;

        if (!n) {
                seg_node_free(a);
                seg_node_free(b);
                return NULL;
        }
        n->a = a;
        n->b = b;
        return n;
}

/* ---- names and values ---- */

typedef struct symbol {
        const char *name;
        int32_t value;
} symbol_t;

/* Chiba City's wards (municipality codes, digits 1-5 of the address code). */
static const symbol_t ward_symbols[] = {{"chuo", 12101},   {"hanamigawa", 12102}, {"inage", 12103},
                                        {"wakaba", 12104}, {"midori", 12105},     {"mihama", 12106},
                                        {NULL, 0}};
const char *seg_expr_ward_name(int32_t code)
{
        for (const symbol_t *w = ward_symbols; w->name; w++)
                if (w->value == code)
                        return w->name;
        return "";
}

static const symbol_t sex_symbols[] = {{"male", 1}, {"female", 2}, {"unknown", 3}, {NULL, 0}};

typedef struct attr {
        const osh_dict_entry_t *e;
        const symbol_t *symbols;
        const char *shown; /* name as the user wrote it */
} attr_t;

static const osh_dict_entry_t *dict_find_n(const osh_dict_t *d, const char *s, size_t len)
{
        char name[64];

        if (len >= sizeof(name))
                return NULL;
        memcpy(name, s, len);
        name[len] = '\0';
        return osh_dict_find(d, name);
}

static int resolve_attr(parser_t *ps, const tok_t *t, attr_t *out)
{
        memset(out, 0, sizeof(*out));
        if (tok_is(t, "town")) {
                out->e = osh_dict_find(ps->opts->dict, "town_code");
        } else if (tok_is(t, "ward")) {
                out->e = osh_dict_find(ps->opts->dict, "municipality_code");
                out->symbols = ward_symbols;
        } else {
                out->e = dict_find_n(ps->opts->dict, t->start, t->len);
                if (tok_is(t, "sex"))
                        out->symbols = sex_symbols;
        }
        if (!out->e) {
                perr(ps, t->col, "unknown attribute '%.*s'", (int)(t->len > 40 ? 40 : t->len),
                     t->start);
                return -1;
        }
        if (out->e->type == OSH_DICT_FIELD) {
                perr(ps, t->col, "'%s' cannot be used in a condition", out->e->name);
                return -1;
        }
        return 0;
}

/* A value: integer, or a symbol of the attribute. */
static int parse_value(parser_t *ps, const attr_t *a, int32_t *out)
{
        char b[48];
        size_t i;

        if (ps->tok.kind == T_NUM) {
                *out = (int32_t)ps->tok.num;
                return next(ps);
        }
        if (ps->tok.kind == T_IDENT && !is_keyword(&ps->tok) && a->symbols) {
                for (i = 0; a->symbols[i].name; i++) {
                        if (tok_is(&ps->tok, a->symbols[i].name)) {
                                *out = a->symbols[i].value;
                                return next(ps);
                        }
                }
        }
        perr(ps, ps->tok.col, "expected a number%s for %s, found %s",
             a->symbols ? " or a known name" : "", a->e->name, tok_desc(&ps->tok, b, sizeof(b)));
        return -1;
}

static int parse_int(parser_t *ps, const char *what, int32_t *out)
{
        char b[48];

        if (ps->tok.kind != T_NUM) {
                perr(ps, ps->tok.col, "expected %s, found %s", what,
                     tok_desc(&ps->tok, b, sizeof(b)));
                return -1;
        }
        *out = (int32_t)ps->tok.num;
        return next(ps);
}

static int cmp_i32(const void *a, const void *b)
{
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
        return (x > y) - (x < y);
}

static node_t *parse_set(parser_t *ps, const attr_t *a, node_t *n)
{
        size_t cap = 0;
        int32_t v;

        if (next(ps)) /* '[' */
                goto fail;
        for (;;) {
                if (n->nset == SEG_EXPR_MAX_SET) {
                        perr(ps, ps->tok.col, "set has more than %d values", SEG_EXPR_MAX_SET);
                        goto fail;
                }
                if (parse_value(ps, a, &v))
                        goto fail;
                if (n->nset == cap) {
                        int32_t *s = realloc(n->set, (cap = cap ? cap * 2 : 8) * sizeof(*s));
                        if (!s)
                                goto fail;
                        n->set = s;
                }
                n->set[n->nset++] = v;
                if (ps->tok.kind != T_COMMA)
                        break;
                if (next(ps))
                        goto fail;
        }
        if (expect(ps, T_RBRACK, "',' or ']'"))
                goto fail;
        qsort(n->set, n->nset, sizeof(*n->set), cmp_i32);
        return n;
fail:
        seg_node_free(n);
        return NULL;
}

/* name "in" ( set | lo..hi ); the "in" is the current token. */
static node_t *parse_in(parser_t *ps, const attr_t *a)
{
        char b[48];
        node_t *n = new_node(ps, N_SET, a->e->name, strlen(a->e->name));

        if (!n || next(ps))
                goto fail;
        n->pos = a->e->position;
        if (ps->tok.kind == T_LBRACK)
                return parse_set(ps, a, n);
        if (ps->tok.kind != T_NUM) {
                perr(ps, ps->tok.col, "expected '[' or a range lo..hi after 'in', found %s",
                     tok_desc(&ps->tok, b, sizeof(b)));
                goto fail;
        }
        n->kind = N_RANGE;
        if (parse_int(ps, "a number", &n->lo) || expect(ps, T_DOTDOT, "'..'") ||
            parse_int(ps, "the upper bound of the range", &n->hi))
                goto fail;
        if (n->lo > n->hi) {
                perr(ps, ps->tok.col, "empty range %d..%d", n->lo, n->hi);
                goto fail;
        }
        return n;
fail:
        seg_node_free(n);
        return NULL;
}

static node_t *flag_test(parser_t *ps, const attr_t *a, cmp_op_t op, int32_t v, int col)
{
        node_t *n;

        if ((op != OP_EQ && op != OP_NE) || (v != 0 && v != 1)) {
                perr(ps, col, "flag %s compares only with = 0/1 or != 0/1", a->e->name);
                return NULL;
        }
        n = new_node(ps, N_FLAG, a->e->name, strlen(a->e->name));
        if (n)
                n->pos = a->e->position;
        /* nhi = 0 and nhi != 1 mean "not set" */
        return ((op == OP_EQ) == (v == 1)) ? n : new_pair(ps, N_NOT, n, NULL);
}

static node_t *parse_attr_test(parser_t *ps)
{
        tok_t name = ps->tok;
        attr_t a;
        node_t *n;
        cmp_op_t op;
        int32_t v;
        int negate = 0, col;

        if (resolve_attr(ps, &name, &a) || next(ps))
                return NULL;
        if (a.e->type == OSH_DICT_FLAG && ps->tok.kind != T_OP && !tok_is(&ps->tok, "in") &&
            !(tok_is(&ps->tok, "not")))
                return flag_test(ps, &a, OP_EQ, 1, name.col);
        if (tok_is(&ps->tok, "not")) {
                negate = 1;
                if (next(ps))
                        return NULL;
                if (!tok_is(&ps->tok, "in")) {
                        char b[48];
                        perr(ps, ps->tok.col, "expected 'in' after 'not', found %s",
                             tok_desc(&ps->tok, b, sizeof(b)));
                        return NULL;
                }
        }
        if (tok_is(&ps->tok, "in")) {
                if (a.e->type == OSH_DICT_FLAG) {
                        perr(ps, ps->tok.col, "flag %s cannot be used with 'in'", a.e->name);
                        return NULL;
                }
                n = parse_in(ps, &a);
                return negate ? new_pair(ps, N_NOT, n, NULL) : n;
        }
        if (ps->tok.kind != T_OP) {
                char b[48];
                perr(ps, ps->tok.col, "expected a comparison or 'in' after %s, found %s", a.e->name,
                     tok_desc(&ps->tok, b, sizeof(b)));
                return NULL;
        }
        op = ps->tok.op;
        col = ps->tok.col;
        if (next(ps) || parse_value(ps, &a, &v))
                return NULL;
        if (a.e->type == OSH_DICT_FLAG)
                return flag_test(ps, &a, op, v, col);
        if (!(n = new_node(ps, N_CMP, a.e->name, strlen(a.e->name))))
                return NULL;
        n->pos = a.e->position;
        n->op = op;
        n->k = v;
        return n;
}

/* Range argument of age functions: n | lo..hi | lo.. */
static int parse_age_range(parser_t *ps, node_t *n)
{
        if (parse_int(ps, "an age", &n->lo))
                return -1;
        n->hi = n->lo;
        if (ps->tok.kind == T_DOTDOT) {
                if (next(ps))
                        return -1;
                n->hi = INT32_MAX;
                if (ps->tok.kind != T_RPAREN && parse_int(ps, "an upper age or ')'", &n->hi))
                        return -1;
        }
        if (n->lo < 0 || n->hi < n->lo) {
                perr(ps, ps->tok.col, "age range must be 0 <= lo <= hi");
                return -1;
        }
        return expect(ps, T_RPAREN, "')' after the age");
}

static int age_columns(parser_t *ps, node_t *n, int col)
{
        static const char *const def_children[] = {"spare_01", "spare_02", "spare_03", NULL};
        const char *const *names = ps->opts->child_columns ? ps->opts->child_columns : def_children;
        const char *birth = ps->opts->birth_column ? ps->opts->birth_column : "birth_ym";
        const char *own[] = {birth, NULL};
        const osh_dict_entry_t *e;
        size_t i;

        if (!n->child)
                names = own;
        for (i = 0; names[i] && i < MAX_CHILD_COLS; i++) {
                e = osh_dict_find(ps->opts->dict, names[i]);
                if (!e || e->type != OSH_DICT_YEARMONTH) {
                        perr(ps, col, "dictionary has no year-month column '%s' for %s", names[i],
                             n->name);
                        return -1;
                }
                n->cols[n->ncols++] = e->position;
        }
        return 0;
}

static node_t *parse_category(parser_t *ps, node_t *n)
{
        char b[48];
        tok_t t = ps->tok;

        if (t.kind == T_STR && t.len > 2) {
                free(n->name);
                n->name = strndup(t.start + 1, t.len - 2);
        } else if (t.kind == T_IDENT && !is_keyword(&t)) {
                free(n->name);
                n->name = strndup(t.start, t.len);
        } else {
                perr(ps, t.col, "expected a category name, found %s", tok_desc(&t, b, sizeof(b)));
                goto fail;
        }
        if (!n->name || next(ps) || expect(ps, T_RPAREN, "')' after the category"))
                goto fail;
        return n;
fail:
        seg_node_free(n);
        return NULL;
}

static node_t *parse_call(parser_t *ps)
{
        tok_t fn = ps->tok;
        node_t *n = new_node(ps, N_AGE, fn.start, fn.len);

        if (!n || next(ps) || next(ps)) /* name, '(' */
                goto fail;
        if (tok_is(&fn, "category")) {
                n->kind = N_CATEGORY;
                return parse_category(ps, n);
        }
        n->child = !tok_is(&fn, "age");
        n->months = tok_is(&fn, "child_age_months") || tok_is(&fn, "child_born_months_ago");
        n->ago = tok_is(&fn, "child_born_months_ago");
        if (age_columns(ps, n, fn.col) || parse_age_range(ps, n))
                goto fail;
        return n;
fail:
        seg_node_free(n);
        return NULL;
}

static int is_call(parser_t *ps)
{
        const char *q = ps->p;

        if (!(tok_is(&ps->tok, "age") || tok_is(&ps->tok, "child_age") ||
              tok_is(&ps->tok, "child_age_months") || tok_is(&ps->tok, "child_born_months_ago") ||
              tok_is(&ps->tok, "category")))
                return 0;
        while (*q == ' ' || *q == '\t')
                q++;
        return *q == '(';
}

static node_t *parse_or(parser_t *ps);

static node_t *parse_unary(parser_t *ps)
{
        char b[48];
        node_t *n;

        if (++ps->depth > SEG_EXPR_MAX_DEPTH) {
                perr(ps, ps->tok.col, "expression nested deeper than %d", SEG_EXPR_MAX_DEPTH);
                return NULL;
        }
        if (tok_is(&ps->tok, "not")) {
                n = next(ps) ? NULL : new_pair(ps, N_NOT, parse_unary(ps), NULL);
        } else if (ps->tok.kind == T_LPAREN) {
                n = next(ps) ? NULL : parse_or(ps);
                if (n && expect(ps, T_RPAREN, "')'")) {
                        seg_node_free(n);
                        n = NULL;
                }
        } else if (tok_is(&ps->tok, "true") || tok_is(&ps->tok, "false")) {
                n = new_node(ps, N_CONST, NULL, 0);
                if (n)
                        n->k = tok_is(&ps->tok, "true");
                if (n && next(ps)) {
                        seg_node_free(n);
                        n = NULL;
                }
        } else if (ps->tok.kind == T_IDENT && is_call(ps)) {
                n = parse_call(ps);
        } else if (ps->tok.kind == T_IDENT && !is_keyword(&ps->tok)) {
                n = parse_attr_test(ps);
        } else {
                perr(ps, ps->tok.col, "expected a condition, found %s",
                     tok_desc(&ps->tok, b, sizeof(b)));
                n = NULL;
        }
        ps->depth--;
        return n;
}

static node_t *parse_and(parser_t *ps)
{
        node_t *n = parse_unary(ps);

        while (n && tok_is(&ps->tok, "and"))
                n = next(ps) ? new_pair(ps, N_AND, n, NULL)
                             : new_pair(ps, N_AND, n, parse_unary(ps));
        return n;
}

static node_t *parse_or(parser_t *ps)
{
        node_t *n;

        if (++ps->depth > SEG_EXPR_MAX_DEPTH) {
                perr(ps, ps->tok.col, "expression nested deeper than %d", SEG_EXPR_MAX_DEPTH);
                return NULL;
        }
        n = parse_and(ps);
        while (n && tok_is(&ps->tok, "or"))
                n = next(ps) ? new_pair(ps, N_OR, n, NULL) : new_pair(ps, N_OR, n, parse_and(ps));
        ps->depth--;
        return n;
}

seg_expr_t *seg_expr_compile(const char *text, const seg_expr_opts_t *opts, int *err_column,
                             char *errstr, size_t errstr_size)
{
        parser_t ps = {.text = text,
                       .p = text,
                       .col = 1,
                       .opts = opts,
                       .err = errstr,
                       .err_size = errstr_size};
        seg_expr_t *e = NULL;
        node_t *root = NULL;
        char b[48];

        if (!text || !opts || !opts->dict) {
                perr(&ps, 0, "no expression or dictionary");
                goto fail;
        }
        if (strlen(text) > SEG_EXPR_MAX_LEN) {
                perr(&ps, 0, "expression longer than %d bytes", SEG_EXPR_MAX_LEN);
                goto fail;
        }
        if (next(&ps))
                goto fail;
        if (ps.tok.kind == T_END) {
                perr(&ps, 1, "expected a condition, found end of input");
                goto fail;
        }
        root = parse_or(&ps);
        if (!root)
                goto fail;
        if (ps.tok.kind != T_END) {
                perr(&ps, ps.tok.col, "expected 'and', 'or' or end of input, found %s",
                     tok_desc(&ps.tok, b, sizeof(b)));
                goto fail;
        }
        if (!(e = calloc(1, sizeof(*e))))
                goto fail;
        e->root = root;
        return e;
fail:
        if (!ps.failed)
                perr(&ps, ps.tok.col, "out of memory");
        if (err_column)
                *err_column = ps.err_col;
        seg_node_free(root);
        return NULL;
}
