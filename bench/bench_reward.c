/* bench_reward - completions scored per second on one core by the default R1
 * rewards (accuracy, format, language), on generated GSM8K- and MATH-like
 * completions of 500-2000 bytes: chains of thought in <think>, answers boxed in
 * <answer>, some wrong, some badly formatted, some after a prefilled <think>, a
 * few in Chinese.
 *
 *   bench_reward [--n 4000] [--seed 1] [--seconds 2] [--out FILE]
 *
 * --out writes the same completions as JSONL ({"completion", "gold",
 * "r1c_accuracy"}) for bench/bench_reward_mathverify.py. Prints one JSON line:
 * completions/s over all three rewards (best pass), and each reward alone. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonstr.h"
#include "reward.h"
#include "rng.h"

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(Buf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
        va_end(ap);
        if ((size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        b->p = r1_xrealloc(b->p, b->cap = 2 * b->cap + (size_t)k + 64);
    }
}

typedef struct {
    char *text;
    size_t len;
    char *gold;
    int prefilled;
    const char *question;
} Item;

static int pick(R1Rng *r, int n) {
    return (int)(r1_rng_u64(r) % (uint64_t)n);
}

static int num(R1Rng *r, int lo, int hi) {
    return lo + pick(r, hi - lo + 1);
}

static const char *NAMES[] = {"Janet", "Natalia", "Weng", "Betty", "James", "Albert", "Maria"};
static const char *THINGS[] = {"apples", "eggs", "clips", "books", "marbles", "cookies"};

/* One sentence of an English grade-school chain of thought. */
static void gsm_sentence(Buf *b, R1Rng *r) {
    int x = num(r, 2, 90), y = num(r, 2, 40);
    const char *who = NAMES[pick(r, 7)], *what = THINGS[pick(r, 6)];
    switch (pick(r, 6)) {
    case 0:
        put(b, "First, %s starts with %d %s and gets %d more, so %d + %d = %d.\n", who, x, what, y,
            x, y, x + y);
        break;
    case 1:
        put(b, "Each of the %s costs $%d, so the total cost is %d \\times %d = %d dollars.\n", what,
            y, x, y, x * y);
        break;
    case 2:
        put(b, "Wait, let me double-check that: %d - %d = %d, which matches what I found before.\n",
            x + y, y, x);
        break;
    case 3:
        put(b, "After giving away %d %s, %s has %d - %d = %d left.\n", y, what, who, x + y, y, x);
        break;
    case 4:
        put(b,
            "Hmm, I should make sure I read the question correctly: it asks for the total number "
            "of %s, not the cost.\n",
            what);
        break;
    default:
        put(b, "Splitting them evenly into %d groups gives %d / %d = %d %s per group.\n", y, x * y,
            y, x, what);
        break;
    }
}

/* One sentence of a competition-math chain of thought (LaTeX). */
static void math_sentence(Buf *b, R1Rng *r) {
    int a = num(r, 1, 9), c = num(r, 1, 9), d = num(r, 2, 12);
    switch (pick(r, 6)) {
    case 0:
        put(b, "We simplify $\\frac{%d}{%d} + \\frac{%d}{%d}$ over the common denominator $%d$.\n",
            a, d, c, d, d);
        break;
    case 1:
        put(b,
            "By the quadratic formula, $x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}$ with $a = %d$, "
            "$b = %d$ and $c = %d$.\n",
            a, d, c);
        break;
    case 2:
        put(b,
            "The discriminant is $%d^2 - 4 \\cdot %d \\cdot %d = %d$, so there are two real "
            "roots.\n",
            d, a, c, d * d - 4 * a * c);
        break;
    case 3:
        put(b, "Let $\\theta$ be the angle at the vertex; then $\\sin\\theta = \\frac{1}{2}$ and "
               "$\\theta = \\frac{\\pi}{6}$.\n");
        break;
    case 4:
        put(b, "Therefore the area of the circle of radius $%d$ is $\\pi r^2 = %d\\pi$.\n", a,
            a * a);
        break;
    default:
        put(b,
            "Substituting $x = %d$ back into the equation gives $%d \\cdot %d + %d = %d$, which "
            "checks out.\n",
            a, a, d, c, a * d + c);
        break;
    }
}

static void zh_sentence(Buf *b, R1Rng *r) {
    int x = num(r, 2, 90), y = num(r, 2, 40);
    switch (pick(r, 3)) {
    case 0:
        put(b, "首先，小明有%d个苹果，又买了%d个，所以一共有%d + %d = %d个。\n", x, y, x, y, x + y);
        break;
    case 1:
        put(b, "然后每个苹果%d元，总共是%d \\times %d = %d元。\n", y, x, y, x * y);
        break;
    default:
        put(b, "让我再检查一下：%d - %d = %d，没有问题。\n", x + y, y, x);
        break;
    }
}

/* MATH-style answers: gold, an equivalent way to write it, a wrong one. */
static const char *MATH_ANS[][3] = {
    {"\\frac{1}{2}", "0.5", "\\frac{1}{3}"},
    {"2\\sqrt{3}", "\\sqrt{12}", "3\\sqrt{2}"},
    {"\\frac{\\pi}{6}", "\\frac{\\pi}{6}", "\\frac{\\pi}{3}"},
    {"\\frac{3}{4}", "\\dfrac{3}{4}", "\\frac{4}{3}"},
    {"(2, -1)", "(2,-1)", "(-1, 2)"},
    {"12\\pi", "12\\pi", "6\\pi"},
    {"x^2 + 2x + 1", "(x+1)^2", "x^2 + 1"},
    {"-\\frac{7}{2}", "-3.5", "\\frac{7}{2}"},
    {"5", "5", "6"},
    {"\\frac{9}{4}", "2.25", "\\frac{4}{9}"},
};

/* The final part: the R1 form, or (rarely) a bare boxed answer or GSM8K's ####. */
static void ending(Buf *b, R1Rng *r, const char *ans, int bad) {
    if (bad == 1)
        put(b, "So the final answer is $\\boxed{%s}$.", ans);
    else if (bad == 2)
        put(b, "The answer is %s.\n#### %s", ans, ans);
    else
        put(b, "</think>\n<answer>\n%s \\boxed{%s}.\n</answer>",
            pick(r, 2) ? "The answer is" : "Therefore,", ans);
}

static Item make_item(R1Rng *r) {
    Item it = {0};
    Buf b = {r1_xmalloc(2048), 0, 2048};
    int kind = pick(r, 20), math = kind >= 10 && kind < 19, zh = kind == 19;
    int bad = pick(r, 10) == 0 ? 1 + pick(r, 2) : 0, wrong = pick(r, 5) == 0;
    it.prefilled = !bad && pick(r, 4) == 0;
    if (!it.prefilled && !bad) put(&b, "<think>\n");
    size_t target = (size_t)num(r, 500, 2000) - 80;
    while (b.n < target) {
        if (math)
            math_sentence(&b, r);
        else if (zh)
            zh_sentence(&b, r);
        else
            gsm_sentence(&b, r);
    }
    char ans[64];
    if (math) {
        const char **a = MATH_ANS[pick(r, 10)];
        it.gold = r1_xstrdup(a[0]);
        snprintf(ans, sizeof ans, "%s", a[wrong ? 2 : pick(r, 2)]); /* as gold, or equivalent */
        it.question = "Find the value of the expression described above.";
    } else {
        int g = num(r, 2, 5000);
        char gold[32];
        snprintf(gold, sizeof gold, "%d", g);
        it.gold = r1_xstrdup(gold);
        snprintf(ans, sizeof ans, "%d", wrong ? g + num(r, 1, 9) : g);
        it.question = zh ? "小明一共有多少个苹果？" : "How many does she have altogether?";
    }
    ending(&b, r, ans, bad);
    it.text = b.p, it.len = b.n;
    return it;
}

typedef struct {
    double sum[R1_RW_COUNT];
    long defined[R1_RW_COUNT];
} Means;

/* One pass of the rewarder over every item; returns seconds. */
static double one_pass(const R1Rewarder *rw, const Item *items, int n, Means *m, double *acc) {
    double t0 = r1_now();
    for (int i = 0; i < n; i++) {
        R1RewardInput in = {items[i].text, items[i].len,      500, items[i].question, items[i].gold,
                            "{}",          items[i].prefilled};
        R1RewardResult res;
        r1_reward_score(rw, &in, &res);
        for (int k = 0; m && k < R1_RW_COUNT; k++)
            if (res.defined[k]) m->sum[k] += res.value[k], m->defined[k]++;
        if (acc) acc[i] = res.defined[R1_RW_ACCURACY] ? res.value[R1_RW_ACCURACY] : -1;
    }
    return r1_now() - t0;
}

/* Best pass of a rewarder with the given weights, over at least `seconds`. */
static double rate(const char *spec, const Item *items, int n, double seconds, Means *m,
                   double *acc) {
    R1RewardOpts o;
    R1Err err;
    r1_reward_defaults(&o);
    R1Rewarder *rw = r1_reward_parse_weights(&o, spec, &err) ? NULL : r1_rewarder_new(&o, &err);
    if (!rw) {
        fprintf(stderr, "bench_reward: %s\n", err.msg);
        exit(1);
    }
    double best = one_pass(rw, items, n, m, acc), spent = best; /* the first pass also warms up */
    for (int p = 1; p < 3 || spent < seconds; p++) {
        double dt = one_pass(rw, items, n, NULL, NULL);
        spent += dt;
        if (dt < best) best = dt;
    }
    r1_rewarder_free(rw);
    return n / best;
}

static double mean(const Means *m, R1RewardKind k) {
    return m->defined[k] ? m->sum[k] / m->defined[k] : 0;
}

static void write_jsonl(const char *path, const Item *items, int n, const double *acc) {
    FILE *f = fopen(path, "w");
    if (!f) fprintf(stderr, "bench_reward: cannot write %s\n", path), exit(1);
    char *out = NULL;
    size_t len, cap = 0;
    for (int i = 0; i < n; i++) {
        len = 0;
        r1_json_string_write(items[i].text, items[i].len, &out, &len, &cap);
        fprintf(f, "{\"completion\":%.*s,\"gold\":", (int)len, out);
        len = 0;
        r1_json_string_write(items[i].gold, strlen(items[i].gold), &out, &len, &cap);
        fprintf(f, "%.*s,\"r1c_accuracy\":", (int)len, out);
        acc[i] < 0 ? fprintf(f, "null}\n") : fprintf(f, "%g}\n", acc[i]);
    }
    free(out);
    fclose(f);
}

int main(int argc, char **argv) {
    int n = 4000;
    long seed = 1;
    double seconds = 2;
    const char *out = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            seed = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
        else
            return fprintf(stderr,
                           "usage: bench_reward [--n N] [--seed S] [--seconds T] [--out FILE]\n"),
                   2;
    }
    if (n < 1) return fprintf(stderr, "bench_reward: --n must be >= 1\n"), 2;
    R1Rng r;
    r1_rng_seed(&r, (uint64_t)seed);
    Item *items = r1_xcalloc((size_t)n, sizeof *items);
    size_t bytes = 0;
    for (int i = 0; i < n; i++) items[i] = make_item(&r), bytes += items[i].len;
    double *acc = r1_xcalloc((size_t)n, sizeof *acc);
    Means m = {{0}, {0}};
    double all = rate("accuracy=1,format=1,language=1", items, n, seconds, &m, acc);
    double a = rate("accuracy=1", items, n, seconds / 2, NULL, NULL);
    double f = rate("format=1", items, n, seconds / 2, NULL, NULL);
    double l = rate("language=1", items, n, seconds / 2, NULL, NULL);
    if (out) write_jsonl(out, items, n, acc);
    printf("{\"impl\":\"r1c\",\"completions_per_s\":%.1f,\"accuracy_only_per_s\":%.1f,"
           "\"format_only_per_s\":%.1f,\"language_only_per_s\":%.1f,\"n\":%d,\"mean_bytes\":%.0f,"
           "\"accuracy_mean\":%.4f,\"format_mean\":%.4f,\"language_mean\":%.4f}\n",
           all, a, f, l, n, (double)bytes / n, mean(&m, R1_RW_ACCURACY), mean(&m, R1_RW_FORMAT),
           mean(&m, R1_RW_LANGUAGE));
    for (int i = 0; i < n; i++) free(items[i].text), free(items[i].gold);
    free(items);
    free(acc);
    return 0;
}
