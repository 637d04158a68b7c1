/* The targeting condition language, compiled against the attribute
 * dictionary and evaluated over a seg_store_t with three-valued logic.
 *
 *   expr    := or ; or := and ("or" and)* ; and := unary ("and" unary)*
 *   unary   := "not" unary | "(" expr ")" | "true" | "false" | call | name [test]
 *   test    := op value | ["not"] "in" ( "[" value ("," value)* "]" | num ".." num )
 *   op      := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
 *   call    := ("age" | "child_age" | "child_age_months" | "child_born_months_ago")
 *              "(" num [".." [num]] ")"
 *            | "category" "(" (name | "string") ")"
 *   value   := integer | symbol (ward names for `ward`, male/female/unknown for `sex`)
 *
 * Names are dictionary names of flag/int/yearmonth/code entries plus the
 * aliases `town` (town_code) and `ward` (municipality_code). A bare flag is
 * true when set; a flag compares only with 0 or 1.
 *
 * age(lo..hi): the resident's age in completed years on the send date is in
 * [lo, hi]. child_age / child_age_months: some child (children's birth
 * year-months, by default spare_01..03) has that age in years / completed
 * months. Only year-month is known, so each is TRUE (for every possible day
 * of birth), MAYBE (for some) or FALSE. An absent (0) own birth year-month is
 * MAYBE (it may have been removed as an extreme age); an absent child is no
 * child. child_born_months_ago(n): some child was born in the year-month n
 * months before the send month (the seed's Table 40 conditions: exact on
 * year-months, whatever the day). A value the anonymizer generalised to a
 * range (docs/privacy.md) is TRUE only if the test holds for every value of
 * the range, MAYBE if for some; a flag it generalised away is MAYBE.
 * and/or/not follow Kleene logic: and = min, or = max, not = swap.
 *
 * Errors say "column N: expected X, found Y" (N counts characters from 1). */
#ifndef SEG_EXPR_H
#define SEG_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "oshirase/dictionary.h"
#include "seg_store.h"

#define SEG_EXPR_MAX_DEPTH 64
#define SEG_EXPR_MAX_SET   4096
#define SEG_EXPR_MAX_LEN   8192

typedef struct seg_expr seg_expr_t;

typedef struct seg_expr_opts {
        const osh_dict_t *dict;           /* required, borrowed while compiling only */
        const char *birth_column;         /* NULL: "birth_ym" */
        const char *const *child_columns; /* NULL-terminated; NULL: spare_01..03 */
} seg_expr_opts_t;

/* Compiles text. NULL with errstr (and *err_column, 1-based, 0 if not about a
 * position; may be NULL) on error. Caller frees with seg_expr_destroy(). */
seg_expr_t *seg_expr_compile(const char *text, const seg_expr_opts_t *opts, int *err_column,
                             char *errstr, size_t errstr_size);
void seg_expr_destroy(seg_expr_t *e); /* NULL ok */

/* Canonical prefix form, e.g. "(and nhi (age 40 74))", for tests and logs
 * (names only, never data). Returns the length it needed (like snprintf). */
size_t seg_expr_dump(const seg_expr_t *e, char *buf, size_t size);

/* The name `ward` takes in conditions for a municipality code ("chuo"),
 * or "" for a code without one. */
const char *seg_expr_ward_name(int32_t code);

typedef struct seg_date {
        int y, m, d;
} seg_date_t;

/* Civil date in Japan (UTC+9, no DST) of an epoch-ms instant. */
seg_date_t seg_date_from_ms(int64_t ms);

typedef struct seg_eval_ctx {
        const seg_store_t *store;
        seg_date_t send; /* ages are computed as of this date */
        /* Residents whose active destination opted in to `name` (bitset of
         * store->words words), or NULL for none. */
        const uint64_t *(*category)(void *opaque, const char *name);
        void *opaque;
} seg_eval_ctx_t;

/* Evaluates e over every resident: t gets TRUE, p gets TRUE-or-MAYBE
 * (t ⊆ p); both hold store->words words. 0 / -1 (OOM). */
int seg_expr_eval(const seg_expr_t *e, const seg_eval_ctx_t *ctx, uint64_t *t, uint64_t *p);

#endif
