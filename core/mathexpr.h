/* mathexpr.h - the expression layer under mathans.c: a LaTeX-ish lexer, a parser to a
 * small tree, exact rational arithmetic with a double fallback, and an evaluator.
 *
 * Contract:
 *   - mx_parse turns one answer (already stripped of $ and \( \) by the caller) into a
 *     tree: numbers, variables, + - * / ^, implicit products, functions, tuples,
 *     intervals, sets, bare lists, unions and relations (= < > \le \ge \ne \in).
 *     It never recurses deeper than MX_MAX_DEPTH, never reads more than MX_MAX_TOKENS
 *     tokens and allocates O(tokens) memory; anything beyond is a parse error.
 *   - Numbers are exact rationals (int64 p/q, q > 0, reduced) while they fit - decimal
 *     literals included, 0.5 is 1/2 - and an operation that would overflow, or one that
 *     is inexact by nature (sin, pi, a non-square root), gives a double instead
 *     (exact = 0).
 *   - The evaluator is pure: a tree, a node and (for free variables) a vector of
 *     values, indexed like MxVars; `pm` picks the sign of \pm (+1) or its flip (-1).
 *   - Nothing here keeps state between calls. */
#ifndef R1_MATHEXPR_H
#define R1_MATHEXPR_H

#include <stddef.h>
#include <stdint.h>

#define MX_MAX_DEPTH  64   /* bracket / operator nesting */
#define MX_MAX_TOKENS 4096 /* per answer */
#define MX_MAX_VARS   16   /* distinct free variables, both sides together */
#define MX_MAX_ITEMS  256  /* elements of one tuple / set / list */
#define MX_NAME_LEN   32   /* variable names, subscript included */

typedef struct {
    int64_t p, q;  /* p/q when exact */
    double d;      /* always the value as a double */
    uint8_t exact; /* p/q is the value */
} MxNum;

MxNum mx_int(int64_t v);
MxNum mx_real(double d);
MxNum mx_add(MxNum a, MxNum b);
MxNum mx_sub(MxNum a, MxNum b);
MxNum mx_mul(MxNum a, MxNum b);
MxNum mx_div(MxNum a, MxNum b);
MxNum mx_neg(MxNum a);
MxNum mx_pow(MxNum a, MxNum b);
/* Writes a short human form ("3/4", "0.3333333333") into buf. */
void mx_num_str(MxNum a, char *buf, size_t len);

typedef enum {
    MX_NUM = 0, /* num */
    MX_VAR,     /* var */
    MX_SUM,     /* kids; sg: 0 +, 1 -, 2 \pm, 3 \mp */
    MX_PROD,    /* kids; sg: 0 multiply, 1 divide */
    MX_POW,     /* kid ^ kid->next */
    MX_NEG,     /* -kid */
    MX_FUNC,    /* fn(kid[, kid->next]) */
    MX_TUPLE,   /* kids between open/close: ( ) [ ] mixed for intervals, 'M' matrix */
    MX_SET,     /* \{ kids \} */
    MX_LIST,    /* bare "a, b, c" */
    MX_UNION,   /* kids joined by \cup */
    MX_REL      /* kids; every kid after the first has `rel` */
} MxOp;

typedef enum {
    MX_FN_SIN = 1,
    MX_FN_COS,
    MX_FN_TAN,
    MX_FN_COT,
    MX_FN_SEC,
    MX_FN_CSC,
    MX_FN_ASIN,
    MX_FN_ACOS,
    MX_FN_ATAN,
    MX_FN_SINH,
    MX_FN_COSH,
    MX_FN_TANH,
    MX_FN_LN,
    MX_FN_LOG10,
    MX_FN_LOGB, /* log of kid to the base kid->next */
    MX_FN_EXP,
    MX_FN_SQRT,
    MX_FN_ROOT, /* kid-th root: kid ^ (1 / kid->next) */
    MX_FN_ABS,
    MX_FN_FLOOR,
    MX_FN_CEIL,
    MX_FN_FACT,
    MX_FN_BINOM,
    MX_FN_PCT, /* kid / 100 */
    MX_FN_FRAC /* only marks a \frac node (op MX_PROD) for mixed numbers */
} MxFn;

/* Relations (MxNode.rel): '=' (also \approx), '<', '>', 'l' \le, 'g' \ge, 'n' \ne, 'i' \in */

typedef struct {
    uint8_t op, fn, sg, rel;
    char open, close; /* MX_TUPLE brackets */
    int8_t fd;        /* MX_NUM from a decimal literal: its fraction digits, else -1 */
    uint8_t plain;    /* MX_NUM written as a bare digit run */
    int16_t var;      /* MX_VAR: index into MxVars */
    int32_t kid, next;
    MxNum num;
} MxNode;

typedef struct {
    MxNode *nodes;
    int n, cap;
    int root;
    int pct;     /* the answer ended in % (value kept without the /100) */
    int text;    /* the answer is words only (\text{Monday}, "no solution") */
    char *words; /* text answers: lower-case words joined by single spaces */
    char err[96];
} MxTree;

typedef struct {
    int n;
    char name[MX_MAX_VARS][MX_NAME_LEN];
} MxVars;

/* Parses s[0..n). Variables are looked up in / added to *vars (shared by the two sides
 * of a comparison so that equal names get equal values). Returns 0, or -1 with t->err
 * set. The tree must be released with mx_tree_free either way. */
int mx_parse(const char *s, size_t n, MxVars *vars, MxTree *t);
void mx_tree_free(MxTree *t);

MxNum mx_eval(const MxTree *t, int node, const double *vals, int pm);
int mx_has_vars(const MxTree *t, int node);
int mx_has_pm(const MxTree *t, int node);
int mx_is_scalar(const MxTree *t, int node);  /* not a tuple / set / list / union / relation */
int mx_kid(const MxTree *t, int node, int k); /* k-th child, -1 when none */
int mx_nkids(const MxTree *t, int node);

#endif
