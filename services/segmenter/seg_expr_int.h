/* Private: the compiled tree shared by the parser and the evaluator. */
#ifndef SEG_EXPR_INT_H
#define SEG_EXPR_INT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
        N_CONST,
        N_FLAG,     /* flag bit set */
        N_CMP,      /* values[col] op k */
        N_SET,      /* values[col] in set (sorted) */
        N_RANGE,    /* values[col] in lo..hi */
        N_AGE,      /* age of cols[0] (or some of cols[0..ncols)) in lo..hi */
        N_CATEGORY, /* destination opted in to name */
        N_NOT,
        N_AND,
        N_OR,
} node_kind_t;

typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE } cmp_op_t;

#define MAX_CHILD_COLS 8

typedef struct node {
        node_kind_t kind;
        char *name; /* attribute / function / category, for dumps */
        int pos;    /* flag bit or value column */
        cmp_op_t op;
        int32_t k, lo, hi;
        int32_t *set;
        size_t nset;
        int months; /* N_AGE: unit is months */
        int child;  /* N_AGE: over child columns (absent = no child) */
        int ago;    /* N_AGE: born in the year-month lo..hi months before the send month */
        int cols[MAX_CHILD_COLS];
        int ncols;
        struct node *a, *b;
} node_t;

struct seg_expr {
        node_t *root;
};

void seg_node_free(node_t *n);

#endif
