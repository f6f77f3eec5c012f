/* synth.c - see synth.h. */
#include "synth.h"

#include "mathans.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string ---- */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = r1_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void buf_puts(Buf *b, const char *s) {
    buf_add(b, s, strlen(s));
}

static void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(Buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        buf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = r1_xmalloc((size_t)n + 1); /* rare: only long formats get here */
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf_add(b, big, (size_t)n);
    free(big);
}

/* Hands the string over (never NULL) and leaves b empty. */
static char *buf_take(Buf *b) {
    char *p = b->p ? b->p : r1_xstrdup("");
    *b = (Buf){0};
    return p;
}

/* ---- names ---- */

static const char *const task_names[R1_SYNTH_NTASKS] = {"arith", "countdown", "chain"};
static const char *const lang_names[] = {"en", "zh", "mixed"};

const char *r1_synth_task_name(R1SynthTask t) {
    return (int)t >= 0 && (int)t < R1_SYNTH_NTASKS ? task_names[t] : "?";
}

int r1_synth_task_parse(const char *name) {
    for (int i = 0; i < R1_SYNTH_NTASKS; i++)
        if (!strcmp(name, task_names[i])) return i;
    return -1;
}

const char *r1_synth_lang_name(R1SynthLang l) {
    return (int)l >= 0 && (int)l <= R1_SYNTH_MIXED ? lang_names[l] : "?";
}

int r1_synth_lang_parse(const char *name) {
    for (int i = 0; i <= R1_SYNTH_MIXED; i++)
        if (!strcmp(name, lang_names[i])) return i;
    return -1;
}

int r1_synth_levels(R1SynthTask t) {
    return t == R1_SYNTH_ARITH ? 4 : 3; /* countdown and chain: 3 */
}

/* Uniform in [lo, hi]; the modulo bias is below 2^-50 for the small spans used. */
static int64_t rnd(R1Rng *r, int64_t lo, int64_t hi) {
    return lo + (int64_t)(r1_rng_u64(r) % (uint64_t)(hi - lo + 1));
}

/* ---- the exact evaluator: rationals with overflow checks ---- */

typedef struct {
    int64_t n, d;
} Q;

static uint64_t gcd_u64(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static uint64_t abs_u64(int64_t x) {
    return x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
}

/* n / d in lowest terms with d > 0; -1 on division by zero or overflow. */
static int q_make(int64_t n, int64_t d, Q *out) {
    if (d == 0) return -1;
    if (d < 0) {
        if (n == INT64_MIN || d == INT64_MIN) return -1;
        n = -n, d = -d;
    }
    int64_t g = (int64_t)gcd_u64(abs_u64(n), (uint64_t)d);
    *out = (Q){n / g, d / g};
    return 0;
}

static int q_op(char op, Q a, Q b, Q *out) {
    int64_t x, y, n, d;
    switch (op) {
    case '+':
    case '-':
        if (__builtin_mul_overflow(a.n, b.d, &x) || __builtin_mul_overflow(b.n, a.d, &y) ||
            __builtin_mul_overflow(a.d, b.d, &d))
            return -1;
        if (op == '+' ? __builtin_add_overflow(x, y, &n) : __builtin_sub_overflow(x, y, &n))
            return -1;
        return q_make(n, d, out);
    case '*':
        if (__builtin_mul_overflow(a.n, b.n, &n) || __builtin_mul_overflow(a.d, b.d, &d)) return -1;
        return q_make(n, d, out);
    default: /* '/' */
        if (__builtin_mul_overflow(a.n, b.d, &n) || __builtin_mul_overflow(a.d, b.n, &d)) return -1;
        return q_make(n, d, out);
    }
}

typedef struct {
    const char *s, *start;
    R1SynthValue *v;
    int depth;
    R1Err *err;
} Parser;

static void skip_ws(Parser *p) {
    while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r') p->s++;
}

/* The operator at the cursor as + - * / (0 if none); *len gets its byte length.
 * × ÷ − are accepted because models (and the questions) write them. */
static char peek_op(Parser *p, int *len) {
    static const struct {
        const char *text;
        char op;
    } ops[] = {{"+", '+'},        {"-", '-'},        {"*", '*'},           {"/", '/'},
               {"\xc3\x97", '*'}, {"\xc3\xb7", '/'}, {"\xe2\x88\x92", '-'}};
    skip_ws(p);
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].text);
        if (!strncmp(p->s, ops[i].text, n)) return *len = (int)n, ops[i].op;
    }
    return 0;
}

static int fail_at(Parser *p, const char *what) {
    return r1_seterr(p->err, "%s at column %d", what, (int)(p->s - p->start) + 1);
}

static int apply(Parser *p, char op, Q a, Q b, Q *out) {
    if (op == '/' && b.n == 0) return fail_at(p, "division by zero");
    if (q_op(op, a, b, out)) return fail_at(p, "64-bit overflow");
    if (out->n < 0) p->v->negative_step = 1;
    if (out->d != 1) p->v->fraction_step = 1;
    return 0;
}

static int parse_sum(Parser *p, Q *out);

static int parse_number(Parser *p, Q *out) {
    int64_t n = 0;
    while (*p->s >= '0' && *p->s <= '9') {
        if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, *p->s - '0', &n))
            return fail_at(p, "number too large");
        p->s++;
    }
    R1SynthValue *v = p->v;
    if (v->nleaves < R1_SYNTH_MAX_NUMS) v->leaves[v->nleaves] = n;
    v->nleaves++;
    *out = (Q){n, 1};
    return 0;
}

static int parse_factor(Parser *p, Q *out) {
    skip_ws(p);
    if (*p->s >= '0' && *p->s <= '9') return parse_number(p, out);
    if (*p->s != '(') return fail_at(p, *p->s ? "expected a number or '('" : "unexpected end");
    if (++p->depth > 64) return fail_at(p, "parentheses nested too deeply");
    p->s++;
    if (parse_sum(p, out)) return -1;
    skip_ws(p);
    if (*p->s != ')') return fail_at(p, "expected ')'");
    p->s++;
    p->depth--;
    return 0;
}

static int parse_product(Parser *p, Q *out) {
    if (parse_factor(p, out)) return -1;
    for (;;) {
        int len;
        char op = peek_op(p, &len);
        if (op != '*' && op != '/') return 0;
        p->s += len;
        Q b;
        if (parse_factor(p, &b) || apply(p, op, *out, b, out)) return -1;
    }
}

static int parse_sum(Parser *p, Q *out) {
    if (parse_product(p, out)) return -1;
    for (;;) {
        int len;
        char op = peek_op(p, &len);
        if (op != '+' && op != '-') return 0;
        p->s += len;
        Q b;
        if (parse_product(p, &b) || apply(p, op, *out, b, out)) return -1;
    }
}

int r1_synth_eval(const char *expr, R1SynthValue *v, R1Err *err) {
    memset(v, 0, sizeof *v);
    Parser p = {expr, expr, v, 0, err};
    Q q;
    if (parse_sum(&p, &q)) return -1;
    skip_ws(&p);
    if (*p.s) return fail_at(&p, "unexpected text");
    v->num = q.n, v->den = q.d;
    return 0;
}

static int is_value(const char *text, int64_t target) {
    R1SynthValue v;
    return r1_synth_eval(text, &v, NULL) == 0 && v.den == 1 && v.num == target;
}

/* ---- expression trees: what arith level 3 and countdown are built from ---- */

#define MAX_NODES (2 * R1_SYNTH_MAX_NUMS)

typedef struct {
    char op; /* 0 for a number */
    int l, r;
    int64_t v;
} Node;

typedef struct {
    Node n[MAX_NODES];
    int count;
} Tree;

static int tree_leaf(Tree *t, int64_t v) {
    if (t->count >= MAX_NODES) return -1;
    t->n[t->count] = (Node){0, -1, -1, v};
    return t->count++;
}

/* A node l op r with its exact 64-bit value; -1 on overflow, an inexact
 * division or a failed child, so callers simply draw again. */
static int tree_op(Tree *t, char op, int l, int r) {
    if (l < 0 || r < 0 || t->count >= MAX_NODES) return -1;
    int64_t a = t->n[l].v, b = t->n[r].v, v = 0;
    int bad = op == '+'   ? __builtin_add_overflow(a, b, &v)
              : op == '-' ? __builtin_sub_overflow(a, b, &v)
              : op == '*' ? __builtin_mul_overflow(a, b, &v)
                          : (b == 0 || (a == INT64_MIN && b == -1) || a % b != 0);
    if (bad) return -1;
    if (op == '/') v = a / b;
    t->n[t->count] = (Node){op, l, r, v};
    return t->count++;
}

static int prec(char op) {
    return op == '+' || op == '-' ? 1 : op ? 2 : 3;
}

/* Infix text with only the parentheses needed: a child of lower precedence, or
 * a right child of equal precedence under - or / (a - (b + c)). pretty uses × ÷. */
static void render(const Tree *t, int i, Buf *b, int pretty) {
    const Node *n = &t->n[i];
    if (!n->op) {
        buf_printf(b, "%lld", (long long)n->v);
        return;
    }
    int pl = prec(t->n[n->l].op) < prec(n->op);
    int pr = prec(t->n[n->r].op) < prec(n->op) ||
             (prec(t->n[n->r].op) == prec(n->op) && (n->op == '-' || n->op == '/'));
    if (pl) buf_puts(b, "(");
    render(t, n->l, b, pretty);
    buf_puts(b, pl ? ")" : "");
    const char *op = n->op == '+' ? " + " : n->op == '-' ? " - " : n->op == '*' ? " * " : " / ";
    if (pretty && n->op == '*') op = " \xc3\x97 ";
    if (pretty && n->op == '/') op = " \xc3\xb7 ";
    buf_puts(b, op);
    buf_puts(b, pr ? "(" : "");
    render(t, n->r, b, pretty);
    buf_puts(b, pr ? ")" : "");
}

/* ---- wording ---- */

/* Replaces {c} in tpl by slot[c] (c one ASCII character). */
static void fill(Buf *b, const char *tpl, const char *const slot[128]) {
    while (*tpl) {
        unsigned char c = (unsigned char)tpl[1];
        if (tpl[0] == '{' && c && c < 128 && tpl[2] == '}' && slot[c]) {
            buf_puts(b, slot[c]);
            tpl += 3;
        } else {
            buf_add(b, tpl++, 1);
        }
    }
}

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* {X}: the expression with × and ÷. */
static const char *const arith_en[] = {
    "What is {X}?",           "Calculate {X}.", "Compute: {X} = ?", "Evaluate the expression {X}.",
    "Find the value of {X}.",
};
static const char *const arith_zh[] = {
    "计算：{X} = ?", "{X} 等于多少？", "请计算 {X} 的值。", "求 {X} 的结果。", "算一算：{X} = ？",
};

/* {N}: the numbers, {T}: the target. */
static const char *const countdown_en[] = {
    "Using the numbers [{N}], create an equation that equals {T}. You can use basic arithmetic "
    "operations (+, -, *, /) and parentheses, and each number must be used exactly once.",
    "Make {T} from the numbers {N} with +, -, * and /. Use every number exactly once; "
    "parentheses are allowed. Give the equation.",
    "Countdown: the target is {T} and the numbers are {N}. Combine all of the numbers, each "
    "exactly once, with +, -, * and / to reach the target. Write your answer as an equation.",
};
static const char *const countdown_zh[] = {
    "使用数字 [{N}] 构造一个结果等于 {T} "
    "的算式。可以使用加减乘除（+、-、*、/）和括号，每个数字必须恰好使用一次。",
    "用 {N} 这几个数，通过 +、-、*、/ 运算得到 {T}，每个数恰好用一次，可以加括号。请写出算式。",
    "数字游戏：目标数是 {T}，可用的数字是 {N}。每个数字恰好用一次，用加减乘除和括号凑出目标数，"
    "并写出算式。",
};

/* A word problem: expr's letters a..e are drawn from var[letter - 'a'];
 * times names a letter drawn first that this one is a multiple of (so a
 * division is exact). {P} is a person's name. */
typedef struct {
    int lo, hi;
    char times;
} WordVar;

typedef struct {
    const char *expr;
    WordVar var[5];
    const char *en, *zh;
} WordTpl;

static const WordTpl words[] = {
    {"a + b * c - d",
     {{10, 99, 0}, {2, 9, 0}, {3, 15, 0}, {1, 60, 0}},
     "{P} has {a} apples. {P} buys {b} bags of apples with {c} apples in each bag, and then "
     "gives {d} apples to a friend. How many apples does {P} have now?",
     "{P}有 {a} 个苹果，又买了 {b} 袋苹果，每袋 {c} 个，然后送给朋友 {d} "
     "个。{P}现在有多少个苹果？"},
    {"a - b - c + d * e",
     {{100, 999, 0}, {10, 99, 0}, {10, 99, 0}, {2, 9, 0}, {10, 30, 0}},
     "A bookstore had {a} books. It sold {b} books on Monday and {c} books on Tuesday. On "
     "Wednesday it received {d} boxes with {e} books in each box. How many books does the "
     "bookstore have now?",
     "书店原有 {a} 本书，星期一卖出 {b} 本，星期二卖出 {c} 本，星期三又运来 {d} 箱，每箱 {e} "
     "本。书店现在有多少本书？"},
    {"a / b + c",
     {{2, 20, 'b'}, {2, 12, 0}, {1, 15, 0}},
     "A teacher shares {a} pencils equally among {b} students. Each student already had {c} "
     "pencils. How many pencils does each student have now?",
     "老师把 {a} 支铅笔平均分给 {b} 个学生，每个学生原来有 {c} "
     "支铅笔。现在每个学生有多少支铅笔？"},
    {"a * b + c * d",
     {{2, 30, 0}, {2, 9, 0}, {2, 20, 0}, {2, 9, 0}},
     "A pen costs {a} dollars and a notebook costs {c} dollars. {P} buys {b} pens and {d} "
     "notebooks. How many dollars does {P} spend in total?",
     "一支钢笔 {a} 元，一个笔记本 {c} 元。{P}买了 {b} 支钢笔和 {d} 个笔记本，一共要花多少元？"},
    {"a * b - c",
     {{3, 30, 0}, {5, 40, 0}, {1, 50, 0}},
     "A farmer planted {a} rows of trees with {b} trees in each row. A storm knocked down {c} "
     "trees. How many trees are still standing?",
     "农民伯伯种了 {a} 排树，每排 {b} 棵。一场暴风雨刮倒了 {c} 棵。还剩多少棵树？"},
    {"(a - b) * c",
     {{20, 99, 0}, {1, 60, 0}, {2, 30, 0}},
     "Every day {P} earns {a} dollars and spends {b} dollars. How many dollars does {P} save in "
     "{c} days?",
     "{P}每天挣 {a} 元，花掉 {b} 元。{c} 天一共能存下多少元？"},
    {"a / b * c",
     {{2, 50, 'b'}, {2, 9, 0}, {2, 20, 0}},
     "{b} identical boxes weigh {a} kilograms in total. How many kilograms do {c} such boxes "
     "weigh?",
     "{b} 个同样的箱子一共重 {a} 千克。{c} 个这样的箱子重多少千克？"},
    {"a - b * c - d",
     {{50, 500, 0}, {2, 9, 0}, {3, 15, 0}, {3, 30, 0}},
     "{P} has {a} dollars, buys {b} kilograms of apples at {c} dollars per kilogram, and then "
     "buys a bottle of milk for {d} dollars. How many dollars does {P} have left?",
     "妈妈带了 {a} 元，买了 {b} 千克苹果，每千克 {c} 元，又买了一瓶 {d} "
     "元的牛奶。妈妈还剩多少元？"},
};

static const char *const names_en[] = {"Tom", "Lily", "Sam", "Anna", "Ben", "Mia"};
static const char *const names_zh[] = {"小明", "小红", "小刚", "小丽", "小华", "小芳"};

/* ---- the generators: each fills expr, value, nums, question and template_id ---- */

static void set_nums_from_text(R1SynthItem *it, const char *expr) {
    R1SynthValue v;
    r1_synth_eval(expr, &v, NULL);
    it->nnums = v.nleaves < R1_SYNTH_MAX_NUMS ? v.nleaves : R1_SYNTH_MAX_NUMS;
    memcpy(it->nums, v.leaves, sizeof it->nums);
}

/* Levels 1-3 share the wording: the expression in a template. */
static void arith_question(R1SynthItem *it, const Tree *t, int root, R1Rng *r) {
    Buf e = {0}, pretty = {0}, q = {0};
    render(t, root, &e, 0);
    render(t, root, &pretty, 1);
    int zh = it->lang == R1_SYNTH_ZH;
    it->template_id = (int)rnd(r, 0, (zh ? COUNT(arith_zh) : COUNT(arith_en)) - 1);
    const char *slot[128] = {0};
    slot['X'] = pretty.p;
    fill(&q, zh ? arith_zh[it->template_id] : arith_en[it->template_id], slot);
    it->question = buf_take(&q);
    it->expr = buf_take(&e);
    it->value = t->n[root].v;
    set_nums_from_text(it, it->expr);
    free(pretty.p);
}

/* Levels 1 and 2: a op b. Level 1 keeps differences non-negative. */
static int arith_pair(Tree *t, R1Rng *r, int level) {
    int64_t lo = level == 1 ? 1 : 10, hi = level == 1 ? 99 : 999;
    const char *ops = level == 1 ? "+-" : "+-*";
    int64_t a = rnd(r, lo, hi), b = rnd(r, lo, hi);
    char op = ops[rnd(r, 0, (int64_t)strlen(ops) - 1)];
    if (level == 1 && op == '-' && a < b) {
        int64_t s = a;
        a = b, b = s;
    }
    return tree_op(t, op, tree_leaf(t, a), tree_leaf(t, b));
}

/* A random divisor of v in 2..99 other than avoid, or 0 when it has none (or v
 * is 0). avoid keeps "x * 73 / 73" out: it tests nothing. */
static int64_t small_divisor(R1Rng *r, int64_t v, int64_t avoid) {
    int64_t ds[98];
    int n = 0;
    for (int64_t d = 2; d <= 99 && v; d++)
        if (v % d == 0 && d != avoid) ds[n++] = d;
    return n ? ds[rnd(r, 0, n - 1)] : 0;
}

/* Level 3, over `leaves` operands: sums of 100..9999 and products and
 * quotients by 2..99. A quotient's divisor is chosen among the divisors of the
 * dividend (or the dividend is made a multiple of it), so / is always exact. */
static int arith_l3(Tree *t, R1Rng *r, int leaves) {
    if (leaves == 1) return tree_leaf(t, rnd(r, 100, 9999));
    char op = "+-*/"[rnd(r, 0, 3)];
    if (op == '/' && leaves == 2) {
        int64_t d = rnd(r, 2, 99), q = rnd(r, (100 + d - 1) / d, 9999 / d);
        return tree_op(t, '/', tree_leaf(t, d * q), tree_leaf(t, d));
    }
    if (op == '*' || op == '/') {
        int l = arith_l3(t, r, leaves - 1);
        int64_t avoid = l >= 0 && t->n[l].op == '*' ? t->n[t->n[l].r].v : 0;
        int64_t d = op == '/' && l >= 0 ? small_divisor(r, t->n[l].v, avoid) : 0;
        if (!d) op = '*', d = rnd(r, 2, 99);
        return tree_op(t, op, l, tree_leaf(t, d));
    }
    int k = (int)rnd(r, 1, leaves - 1);
    int l = arith_l3(t, r, k);
    return tree_op(t, op, l, arith_l3(t, r, leaves - k));
}

/* chain: operands added or subtracted left to right, every partial result >= 0
 * (a subtraction that would go below zero becomes an addition). */
static int chain_tree(Tree *t, R1Rng *r, int level) {
    int n = level == 2 ? 5 : 4;
    int64_t lo = level == 3 ? 10 : 1, hi = level == 3 ? 99 : 9;
    int64_t total = rnd(r, lo, hi);
    int root = tree_leaf(t, total);
    for (int i = 1; i < n && root >= 0; i++) {
        int64_t x = rnd(r, lo, hi);
        char op = level > 1 && rnd(r, 0, 1) && x <= total ? '-' : '+';
        total += op == '+' ? x : -x;
        root = tree_op(t, op, root, tree_leaf(t, x));
    }
    return root;
}

static int chain_task(R1SynthItem *it, R1Rng *r) {
    Tree t = {.count = 0};
    int root = chain_tree(&t, r, it->level);
    if (root < 0) return -1;
    arith_question(it, &t, root, r);
    return 0;
}

static int arith_tree(R1SynthItem *it, R1Rng *r) {
    for (int tries = 0; tries < 1000; tries++) {
        Tree t = {.count = 0};
        int root =
            it->level < 3 ? arith_pair(&t, r, it->level) : arith_l3(&t, r, (int)rnd(r, 3, 4));
        if (root < 0) continue; /* overflow or inexact: draw again */
        arith_question(it, &t, root, r);
        return 0;
    }
    return -1;
}

/* Draws the word problem's variables: plain ones first, then the multiples. */
static void word_vars(const WordTpl *w, R1Rng *r, int64_t val[5]) {
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < 5; i++) {
            const WordVar *v = &w->var[i];
            if (!v->hi || (pass == 0) != (v->times == 0)) continue;
            val[i] = rnd(r, v->lo, v->hi) * (v->times ? val[v->times - 'a'] : 1);
        }
}

/* expr with its letters replaced by the drawn numbers. */
static char *word_expr(const char *pattern, const int64_t val[5]) {
    Buf b = {0};
    for (const char *p = pattern; *p; p++)
        if (*p >= 'a' && *p <= 'e')
            buf_printf(&b, "%lld", (long long)val[*p - 'a']);
        else
            buf_add(&b, p, 1);
    return buf_take(&b);
}

/* Level 4: a word problem; every step must stay >= 0 (no negative apples). */
static int arith_word(R1SynthItem *it, R1Rng *r) {
    int zh = it->lang == R1_SYNTH_ZH;
    it->template_id = (int)rnd(r, 0, COUNT(words) - 1);
    const WordTpl *w = &words[it->template_id];
    const char *name =
        zh ? names_zh[rnd(r, 0, COUNT(names_zh) - 1)] : names_en[rnd(r, 0, COUNT(names_en) - 1)];
    for (int tries = 0; tries < 1000; tries++) {
        int64_t val[5] = {0};
        word_vars(w, r, val);
        char *expr = word_expr(w->expr, val);
        R1SynthValue v;
        if (r1_synth_eval(expr, &v, NULL) || v.negative_step || v.fraction_step) {
            free(expr);
            continue;
        }
        char text[5][24];
        const char *slot[128] = {0};
        for (int i = 0; i < 5; i++) {
            snprintf(text[i], sizeof text[i], "%lld", (long long)val[i]);
            slot['a' + i] = text[i];
        }
        slot['P'] = name;
        Buf q = {0};
        fill(&q, zh ? w->zh : w->en, slot);
        it->question = buf_take(&q);
        it->expr = expr;
        it->value = v.num;
        set_nums_from_text(it, expr);
        return 0;
    }
    return -1;
}

/* Countdown by level: how many numbers, their range, the target's range, and
 * whether one is a "large" number (25, 50, 75, 100) as on the TV show. */
static const struct {
    int n, lo, hi, tlo, thi, large;
} cd_levels[] = {{3, 1, 20, 1, 100, 0}, {4, 1, 50, 10, 200, 0}, {4, 1, 10, 100, 999, 1}};

/* A random tree over leaves[lo, hi), each node's operator drawn among those
 * that keep the result a positive integer. */
static int cd_build(Tree *t, R1Rng *r, const int64_t *leaves, int lo, int hi) {
    if (hi - lo == 1) return tree_leaf(t, leaves[lo]);
    int k = (int)rnd(r, lo + 1, hi - 1);
    int l = cd_build(t, r, leaves, lo, k), rr = cd_build(t, r, leaves, k, hi);
    if (l < 0 || rr < 0) return -1;
    int64_t a = t->n[l].v, b = t->n[rr].v;
    char ops[4];
    int n = 0;
    ops[n++] = '+';
    ops[n++] = '*';
    if (a > b) ops[n++] = '-';
    if (a % b == 0) ops[n++] = '/';
    return tree_op(t, ops[rnd(r, 0, n - 1)], l, rr);
}

static void cd_numbers(int64_t *nums, int level, R1Rng *r) {
    int n = cd_levels[level - 1].n;
    for (int i = 0; i < n; i++) nums[i] = rnd(r, cd_levels[level - 1].lo, cd_levels[level - 1].hi);
    if (cd_levels[level - 1].large) nums[rnd(r, 0, n - 1)] = 25 * rnd(r, 1, 4);
}

static int target_ok(int64_t target, const int64_t *nums, int n, int level) {
    if (target < cd_levels[level - 1].tlo || target > cd_levels[level - 1].thi) return 0;
    for (int i = 0; i < n; i++)
        if (nums[i] == target) return 0; /* too easy: the target is one of the numbers */
    return 1;
}

static void cd_question(R1SynthItem *it, R1Rng *r) {
    int zh = it->lang == R1_SYNTH_ZH;
    Buf list = {0}, q = {0};
    for (int i = 0; i < it->nnums; i++)
        buf_printf(&list, "%s%lld", i == 0 ? "" : zh ? "、" : ", ", (long long)it->nums[i]);
    char target[24];
    snprintf(target, sizeof target, "%lld", (long long)it->value);
    it->template_id = (int)rnd(r, 0, (zh ? COUNT(countdown_zh) : COUNT(countdown_en)) - 1);
    const char *slot[128] = {0};
    slot['N'] = list.p;
    slot['T'] = target;
    fill(&q, zh ? countdown_zh[it->template_id] : countdown_en[it->template_id], slot);
    it->question = buf_take(&q);
    free(list.p);
}

static int countdown(R1SynthItem *it, R1Rng *r) {
    int n = cd_levels[it->level - 1].n;
    for (int tries = 0; tries < 10000; tries++) {
        int64_t nums[4], leaves[4];
        cd_numbers(nums, it->level, r);
        memcpy(leaves, nums, sizeof nums);
        r1_rng_shuffle(r, leaves, (size_t)n,
                       sizeof *leaves); /* the equation's order is not the question's */
        Tree t = {.count = 0};
        int root = cd_build(&t, r, leaves, 0, n);
        if (root < 0 || !target_ok(t.n[root].v, nums, n, it->level)) continue;
        Buf e = {0};
        render(&t, root, &e, 0);
        it->expr = buf_take(&e);
        it->value = t.n[root].v;
        it->nnums = n;
        memcpy(it->nums, nums, sizeof nums);
        cd_question(it, r);
        return 0;
    }
    return -1;
}

/* ---- the item ---- */

static char *make_meta(const R1SynthItem *it) {
    Buf b = {0};
    buf_printf(&b, "{\"task\":\"%s\",\"level\":%d,\"lang\":\"%s\",\"template\":%d",
               r1_synth_task_name(it->task), it->level, r1_synth_lang_name(it->lang),
               it->template_id);
    /* expr holds only digits, operators, parentheses and spaces: no escaping needed */
    if (it->task != R1_SYNTH_COUNTDOWN) buf_printf(&b, ",\"expr\":\"%s\"", it->expr);
    buf_puts(&b, ",\"numbers\":[");
    for (int i = 0; i < it->nnums; i++)
        buf_printf(&b, "%s%lld", i ? "," : "", (long long)it->nums[i]);
    buf_puts(&b, "]");
    if (it->task == R1_SYNTH_COUNTDOWN) buf_printf(&b, ",\"target\":%lld", (long long)it->value);
    buf_puts(&b, "}");
    return buf_take(&b);
}

/* chain: the expression rewritten once per operation, the first two numbers
 * replaced by their result ("left to right: 9 + 4 + 1\n= 13 + 1\n= 14"; zh
 * 从左往右算). Each line copies the one above and does one small sum, a pattern
 * even a tiny transformer learns; the words give the steps the task's language,
 * which is what the language-consistency reward counts. expr is a flat
 * left-to-right chain, as chain_tree builds it. */
static char *chain_steps(const R1SynthItem *it) {
    char ops[R1_SYNTH_MAX_NUMS];
    const char *p = it->expr;
    for (int i = 1; i < it->nnums; i++) {
        while (*p && *p != '+' && *p != '-') p++;
        ops[i] = *p ? *p++ : '+';
    }
    Buf s = {0};
    buf_puts(&s, it->lang == R1_SYNTH_ZH ? "从左往右算：" : "left to right: ");
    int64_t total = it->nums[0];
    for (int first = 1; first <= it->nnums; first++) {
        if (first > 1) buf_puts(&s, "\n= ");
        buf_printf(&s, "%lld", (long long)total);
        for (int i = first; i < it->nnums; i++)
            buf_printf(&s, " %c %lld", ops[i], (long long)it->nums[i]);
        if (first < it->nnums) total += ops[first] == '+' ? it->nums[first] : -it->nums[first];
    }
    return buf_take(&s);
}

/* The answer, solution and meta, after re-evaluating the expression text: a
 * rendering bug must fail loudly rather than store a wrong gold answer. */
static int finish(R1SynthItem *it, R1Err *err) {
    int ok = it->task != R1_SYNTH_COUNTDOWN
                 ? is_value(it->expr, it->value)
                 : r1_countdown_check(it->expr, it->nums, it->nnums, it->value, NULL, 0);
    if (!ok)
        return r1_seterr(err, "synth: internal error: '%s' is not %lld", it->expr,
                         (long long)it->value);
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)it->value);
    it->answer = r1_xstrdup(it->task != R1_SYNTH_COUNTDOWN ? num : it->expr);
    it->solution = it->task == R1_SYNTH_CHAIN ? chain_steps(it) : NULL;
    if (!it->solution) {
        Buf s = {0};
        buf_printf(&s, "%s = %s", it->expr, num);
        it->solution = buf_take(&s);
    }
    it->meta = make_meta(it);
    return 0;
}

int r1_synth_generate(R1SynthTask task, int level, R1SynthLang lang, R1Rng *rng, R1SynthItem *it,
                      R1Err *err) {
    memset(it, 0, sizeof *it);
    if ((int)task < 0 || (int)task >= R1_SYNTH_NTASKS) return r1_seterr(err, "synth: unknown task");
    int top = r1_synth_levels(task);
    if (level < 0 || level > top)
        return r1_seterr(err, "synth: %s has levels 1 to %d (0: a mix)", task_names[task], top);
    if ((int)lang < 0 || (int)lang > R1_SYNTH_MIXED)
        return r1_seterr(err, "synth: unknown language");
    it->task = task;
    it->level = level ? level : (int)rnd(rng, 1, top);
    it->lang = lang == R1_SYNTH_MIXED ? (R1SynthLang)rnd(rng, 0, 1) : lang;
    int rc = task == R1_SYNTH_COUNTDOWN ? countdown(it, rng)
             : task == R1_SYNTH_CHAIN   ? chain_task(it, rng)
             : it->level == 4           ? arith_word(it, rng)
                                        : arith_tree(it, rng);
    if (rc) r1_seterr(err, "synth: no %s task found within the level's bounds", task_names[task]);
    if (rc == 0) rc = finish(it, err);
    if (rc) r1_synth_item_free(it);
    return rc;
}

void r1_synth_item_free(R1SynthItem *it) {
    free(it->question);
    free(it->answer);
    free(it->solution);
    free(it->meta);
    free(it->expr);
    it->question = it->answer = it->solution = it->meta = it->expr = NULL;
}
