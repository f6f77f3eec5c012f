/* synth_cot.c - cold-start responses for arithmetic tasks: a worked chain of
 * thought a person can check line by line, then a one-line summary (synth.h).
 *
 * The expression is parsed again from it->expr and worked in the order a person
 * would: innermost and leftmost operation first, one block per operation, the
 * remaining expression rewritten after each ("Now we have 45 - 17."). Inside a
 * block, + and - split the second operand into place values (347 + 285:
 * 347 + 200, 547 + 80, 627 + 5) and * splits one operand the same way and adds
 * the partial products, so no line asks for more than one small step. Every
 * number written is computed here with overflow checks, and the last line's
 * value is compared with it->value: a response is never wrong. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

#define COT_MAX_NODES 32

typedef struct {
    char op; /* 0 for a number */
    int l, r;
    int64_t v;
    int done; /* worked already: rendered as its value */
} CotNode;

typedef struct {
    CotNode n[COT_MAX_NODES];
    int count;
    const char *p; /* parse position */
    int bad;
} Cot;

/* ---- parsing expr (ASCII: digits, + - * /, parentheses, spaces) ---- */

static int cot_node(Cot *c, char op, int l, int r, int64_t v) {
    if (c->count >= COT_MAX_NODES || l < -1 || r < -1) return c->bad = 1, 0;
    c->n[c->count] = (CotNode){op, l, r, v, 0};
    return c->count++;
}

static void cot_ws(Cot *c) {
    while (*c->p == ' ') c->p++;
}

static int cot_sum(Cot *c);

static int cot_factor(Cot *c) {
    cot_ws(c);
    if (*c->p == '(') {
        c->p++;
        int i = cot_sum(c);
        cot_ws(c);
        if (*c->p == ')')
            c->p++;
        else
            c->bad = 1; /* and stay on the NUL */
        return i;
    }
    if (*c->p < '0' || *c->p > '9') return c->bad = 1, 0;
    int64_t v = 0;
    for (; *c->p >= '0' && *c->p <= '9'; c->p++)
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *c->p - '0', &v))
            c->bad = 1;
    return cot_node(c, 0, -1, -1, v);
}

static int cot_apply(Cot *c, char op, int l, int r) {
    int64_t a = c->n[l].v, b = c->n[r].v, v = 0;
    int bad = op == '+'   ? __builtin_add_overflow(a, b, &v)
              : op == '-' ? __builtin_sub_overflow(a, b, &v)
              : op == '*' ? __builtin_mul_overflow(a, b, &v)
                          : (b == 0 || a % b != 0);
    if (op == '/' && !bad) v = a / b;
    if (bad) c->bad = 1;
    return cot_node(c, op, l, r, v);
}

static int cot_product(Cot *c) {
    int l = cot_factor(c);
    for (cot_ws(c); !c->bad && (*c->p == '*' || *c->p == '/'); cot_ws(c)) {
        char op = *c->p++;
        l = cot_apply(c, op, l, cot_factor(c));
    }
    return l;
}

static int cot_sum(Cot *c) {
    int l = cot_product(c);
    for (cot_ws(c); !c->bad && (*c->p == '+' || *c->p == '-'); cot_ws(c)) {
        char op = *c->p++;
        l = cot_apply(c, op, l, cot_product(c));
    }
    return l;
}

/* ---- writing ---- */

typedef struct {
    FILE *f;
    int zh;
} Out;

static const char *op_text(char op) {
    return op == '+' ? "+" : op == '-' ? "-" : op == '*' ? "\xc3\x97" : "\xc3\xb7";
}

static int prec(char op) {
    return op == '+' || op == '-' ? 1 : op ? 2 : 3;
}

/* The expression as it stands: worked nodes are their values (a negative one in
 * parentheses when it is not the first thing written: 7454 - (-475902)). */
static void render_at(const Cot *c, int i, FILE *f, int first) {
    const CotNode *n = &c->n[i];
    if (!n->op || n->done) {
        fprintf(f, n->v < 0 && !first ? "(%lld)" : "%lld", (long long)n->v);
        return;
    }
    int lp = c->n[n->l].done ? 3 : prec(c->n[n->l].op),
        rp = c->n[n->r].done ? 3 : prec(c->n[n->r].op);
    int pl = lp < prec(n->op),
        pr = rp < prec(n->op) || (rp == prec(n->op) && (n->op == '-' || n->op == '/'));
    fputs(pl ? "(" : "", f);
    render_at(c, n->l, f, first && !pl);
    fprintf(f, "%s %s ", pl ? ")" : "", op_text(n->op));
    fputs(pr ? "(" : "", f);
    render_at(c, n->r, f, 0);
    fputs(pr ? ")" : "", f);
}

static void render(const Cot *c, int i, FILE *f) {
    render_at(c, i, f, 1);
}

static void line_end(Out *o) {
    fputs(o->zh ? "\xe3\x80\x82\n" : ".\n", o->f); /* 。 */
}

/* The non-zero place values of v > 0, largest first (285 -> 200, 80, 5). */
static int places(int64_t v, int64_t *part) {
    int64_t unit = 1, digits[20];
    int n = 0, k = 0;
    for (int64_t x = v; x > 0; x /= 10) digits[n++] = x % 10;
    for (int i = 0; i < n - 1; i++) unit *= 10;
    for (int i = n - 1; i >= 0; i--, unit /= 10)
        if (digits[i]) part[k++] = digits[i] * unit;
    return k;
}

static void split_line(Out *o, int64_t v, const int64_t *part, int k) {
    fprintf(o->f, o->zh ? "\xe6\x8a\x8a %lld \xe6\x8b\x86\xe6\x88\x90 " : "Split %lld into ",
            (long long)v);
    for (int i = 0; i < k; i++) fprintf(o->f, "%s%lld", i ? " + " : "", (long long)part[i]);
    line_end(o);
}

/* a + b or a - b (a >= b) with b split into place values; the lines only. */
static void add_lines(Out *o, int64_t a, char op, int64_t b) {
    int64_t part[20];
    int k = places(b, part);
    split_line(o, b, part, k);
    for (int i = 0; i < k; i++) {
        int64_t next = op == '+' ? a + part[i] : a - part[i];
        fprintf(o->f, "%lld %c %lld = %lld", (long long)a, op, (long long)part[i], (long long)next);
        line_end(o);
        a = next;
    }
}

/* Which operand of a * b is split into place values: the many-digit one when the
 * other has one digit, else the second. */
static void mul_roles(int64_t a, int64_t b, int64_t *keep, int64_t *split, int *swap) {
    *swap = b < 10 && a >= 10;
    *keep = *swap ? b : a;
    *split = *swap ? a : b;
}

/* a * b (both > 1, one of them >= 10): a partial product per place value of one
 * operand, then the partial products added one at a time. */
static void mul_lines(Out *o, int64_t a, int64_t b) {
    int64_t keep, split, part[20], prod[20];
    int swap;
    mul_roles(a, b, &keep, &split, &swap);
    int k = places(split, part);
    if (k > 1) split_line(o, split, part, k);
    for (int i = 0; i < k; i++) {
        int64_t unit = 1, d = part[i];
        while (d >= 10 && d % 10 == 0) d /= 10, unit *= 10;
        prod[i] = keep * part[i];
        if (unit > 1 && keep >= 10) /* 708 x 600: 708 x 6 first */
            fprintf(o->f,
                    o->zh ? "%lld \xc3\x97 %lld = %lld\xef\xbc\x8c"
                          : "%lld \xc3\x97 %lld = %lld, so ",
                    (long long)keep, (long long)d, (long long)(keep * d));
        int64_t x = swap ? part[i] : keep, y = swap ? keep : part[i];
        fprintf(o->f, "%lld \xc3\x97 %lld = %lld", (long long)x, (long long)y, (long long)prod[i]);
        line_end(o);
    }
    int64_t sum = prod[0];
    for (int i = 1; i < k; i++) {
        fprintf(o->f, "%lld + %lld = %lld", (long long)sum, (long long)prod[i],
                (long long)(sum + prod[i]));
        line_end(o);
        sum += prod[i];
    }
}

/* Whether a op b gets a block of lines rather than one line. */
static int worked(char op, int64_t a, int64_t b) {
    int64_t part[20], keep, split;
    int swap;
    if (a < 0 || b < 0) return 0;
    if (op == '+' || op == '-') return b >= 10 && !(op == '-' && a < b) && places(b, part) > 1;
    if (op != '*' || a < 2 || b < 2 || (a < 10 && b < 10)) return 0;
    mul_roles(a, b, &keep, &split, &swap);
    return places(split, part) > 1 || keep >= 10;
}

static const char *const LABEL_EN[] = {"First, ", "Next, ", "Last, "};
static const char *const LABEL_ZH[] = {
    "\xe5\x85\x88\xe7\xae\x97 ", "\xe5\x86\x8d\xe7\xae\x97 ",
    "\xe6\x9c\x80\xe5\x90\x8e\xe7\xae\x97 "}; /* 先算 再算 最后算 */

/* One operation: label 0 first, 1 next, 2 last, -1 the only one. */
static void op_block(Out *o, const CotNode *n, int64_t a, int64_t b, int label) {
    const char *lab = label < 0 ? "" : o->zh ? LABEL_ZH[label] : LABEL_EN[label];
    const char *sym = op_text(n->op);
    long long la = (long long)a, lb = (long long)b, v = (long long)n->v;
    if (b < 0) { /* only ever worked on one line: a op (b) = v */
        fprintf(o->f, "%s%lld %s (%lld) = %lld", lab, la, sym, lb, v);
        line_end(o);
        return;
    }
    if (n->op == '-' && a >= 0 && b > a) { /* a negative result: b - a first */
        fprintf(o->f,
                o->zh ? "%s%lld - %lld\xef\xbc\x9a%lld \xe6\xaf\x94 %lld "
                        "\xe5\xb0\x8f\xef\xbc\x8c\xe5\x85\x88\xe7\xae\x97 %lld - %lld"
                      : "%s%lld - %lld: %lld is less than %lld, so work out %lld - %lld",
                lab, la, lb, la, lb, lb, la); /* ：比 小，先算 */
        line_end(o);
        if (worked('-', b, a))
            add_lines(o, b, '-', a);
        else
            fprintf(o->f, "%lld - %lld = %lld", lb, la, -v), line_end(o);
        fprintf(o->f,
                o->zh ? "\xe6\x89\x80\xe4\xbb\xa5 %lld - %lld = %lld" : "So %lld - %lld = %lld", la,
                lb, v);
        line_end(o);
        return;
    }
    if (!worked(n->op, a, b)) {
        if (n->op == '/')
            fprintf(o->f,
                    o->zh ? "%s%lld %s %lld = %lld\xef\xbc\x8c\xe5\x9b\xa0\xe4\xb8\xba %lld "
                            "\xc3\x97 %lld = %lld"
                          : "%s%lld %s %lld = %lld, because %lld \xc3\x97 %lld = %lld",
                    lab, la, sym, lb, v, v, lb, la); /* ，因为 */
        else
            fprintf(o->f, "%s%lld %s %lld = %lld", lab, la, sym, lb, v);
        line_end(o);
        return;
    }
    if (label >= 0) fprintf(o->f, "%s%lld %s %lld", lab, la, sym, lb), line_end(o);
    if (n->op == '*')
        mul_lines(o, a, b);
    else
        add_lines(o, a, n->op, b);
    if (label == 2 || label < 0) return; /* the last operation: the summary says it */
    fprintf(o->f, o->zh ? "\xe6\x89\x80\xe4\xbb\xa5 %lld %s %lld = %lld" : "So %lld %s %lld = %lld",
            la, sym, lb, v);
    line_end(o);
}

/* The operations in the order they are worked: left subtree, right, then the node. */
static void order(const Cot *c, int i, int *seq, int *n) {
    if (!c->n[i].op) return;
    order(c, c->n[i].l, seq, n);
    order(c, c->n[i].r, seq, n);
    seq[(*n)++] = i;
}

char *r1_synth_cold_start(const R1SynthItem *it, R1Err *err) {
    if (it->task != R1_SYNTH_ARITH || !it->expr) {
        r1_seterr(err, "synth: cold-start responses are written for arith tasks only");
        return NULL;
    }
    Cot c = {.p = it->expr};
    int root = cot_sum(&c);
    cot_ws(&c);
    if (c.bad || *c.p || c.n[root].v != it->value) {
        r1_seterr(err, "synth: internal error: cannot work '%s' step by step", it->expr);
        return NULL;
    }
    char *text = NULL;
    size_t len = 0;
    Out o = {open_memstream(&text, &len), it->lang == R1_SYNTH_ZH};
    if (!o.f) {
        r1_seterr(err, "synth: out of memory");
        return NULL;
    }
    char *expr = NULL;
    size_t elen = 0;
    FILE *ef = open_memstream(&expr, &elen);
    if (ef) render(&c, root, ef), fclose(ef);
    fputs("<think>\n", o.f);
    if (it->level == 4)
        fprintf(o.f,
                o.zh ? "\xe6\xa0\xb9\xe6\x8d\xae\xe9\xa2\x98\xe6\x84\x8f\xef\xbc\x8c\xe5\x88\x97"
                       "\xe5\xbc\x8f\xe4\xb8\xba %s"
                     : "From the question, we need %s",
                expr ? expr : it->expr); /* 根据题意，列式为 */
    else
        fprintf(o.f,
                o.zh ? "\xe6\x88\x91\xe4\xbb\xac\xe8\xa6\x81\xe7\xae\x97 %s"
                     : "We need to work out %s",
                expr ? expr : it->expr); /* 我们要算 */
    line_end(&o);
    int seq[COT_MAX_NODES], nops = 0;
    order(&c, root, seq, &nops);
    for (int s = 0; s < nops; s++) {
        CotNode *n = &c.n[seq[s]];
        int label = nops == 1 ? -1 : s == 0 ? 0 : s == nops - 1 ? 2 : 1;
        op_block(&o, n, c.n[n->l].v, c.n[n->r].v, label);
        n->done = 1;
        if (s < nops - 1) {
            fputs(o.zh ? "\xe7\x8e\xb0\xe5\x9c\xa8\xe7\xae\x97\xe5\xbc\x8f\xe6\x98\xaf "
                       : "Now we have ",
                  o.f); /* 现在算式是 */
            render(&c, root, o.f);
            line_end(&o);
        }
    }
    long long v = (long long)it->value;
    fprintf(o.f, "</think>\n<answer>\n");
    fprintf(o.f,
            o.zh ? "\xe6\x89\x80\xe4\xbb\xa5 %s = \\boxed{%lld}\xe3\x80\x82" /* 所以 。 */
                 : "So %s = \\boxed{%lld}.",
            expr ? expr : it->expr, v);
    fputs("\n</answer>", o.f);
    fclose(o.f);
    free(expr);
    /* the think block ends with a newline from line_end: "...\n</think>" as the format wants */
    return text;
}
