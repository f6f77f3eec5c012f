/* test_mathans.c - answer extraction, math equivalence and the countdown checker.
 *
 *   test_mathans               the cmocka suite: every line of
 *                              tests/fixtures/math_cases.tsv and extract_cases.tsv
 *                              (under $R1_ROOT, else "."), the countdown checker,
 *                              1 MB inputs, 100k nested braces, random inputs
 *   test_mathans --judge FILE  one line per case of a math_cases-style file:
 *                              "LINE<TAB>VERDICT<TAB>WHY" (VERDICT 1, 0 or U); used by
 *                              tests/test_mathverify.sh
 *   test_mathans --bench [S]   judgements per second on typical answers (S seconds)
 *
 * math_cases.tsv: gold<TAB>prediction<TAB>expected (1, 0, U)<TAB>note, raw LaTeX.
 * extract_cases.tsv: completion<TAB>expected answer or -<TAB>note[<TAB>flags]; the
 * completion and the answer use the escapes \n, \t and \\ (so write \\text, \\times,
 * \\neq); flags: "phrase", "last" (enable those fallbacks), "src=NAME" (the source).
 * In both files blank lines and lines starting with "# " are skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mathans.h"
#include "rng.h"
#include "util.h"

typedef struct {
    int line, nf;
    char *f[5];
} Row;

typedef struct {
    char *buf;
    Row *rows;
    int n;
} Table;

static char *fixture_path(const char *name) {
    const char *root = getenv("R1_ROOT");
    char *dir = r1_path_join(root && *root ? root : ".", "tests/fixtures");
    char *p = r1_path_join(dir, name);
    free(dir);
    return p;
}

/* Splits a TSV file in place: one Row per case line. */
static int table_read(const char *path, Table *t) {
    R1Err err;
    size_t len;
    memset(t, 0, sizeof *t);
    if (!(t->buf = r1_read_file(path, &len, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    int cap = 0, line = 0;
    for (char *s = t->buf, *next; s && *s; s = next) {
        char *nl = strchr(s, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl) *nl = 0;
        line++;
        if (!*s || (*s == '#' && (s[1] == ' ' || !s[1]))) continue; /* "####" is data */
        if (t->n == cap)
            t->rows = r1_xrealloc(t->rows, (size_t)(cap = cap ? 2 * cap : 256) * sizeof(Row));
        Row *r = &t->rows[t->n++];
        memset(r, 0, sizeof *r);
        r->line = line;
        for (char *f = s; f && r->nf < 5; r->nf++) {
            r->f[r->nf] = f;
            if ((f = strchr(f, '\t'))) *f++ = 0;
        }
    }
    return 0;
}

static void table_free(Table *t) {
    free(t->buf);
    free(t->rows);
}

static char verdict_char(R1Eq r) {
    return r == R1_EQ_YES ? '1' : r == R1_EQ_NO ? '0' : 'U';
}

/* ------------------------------------------------------------------ fixtures */

static void test_math_cases(void **state) {
    (void)state;
    char *path = fixture_path("math_cases.tsv"), why[256];
    Table t;
    assert_int_equal(table_read(path, &t), 0);
    int bad = 0;
    for (int i = 0; i < t.n; i++) {
        Row *r = &t.rows[i];
        if (r->nf < 3) {
            printf("math_cases.tsv:%d: fewer than 3 fields\n", r->line);
            bad++;
            continue;
        }
        char got = verdict_char(r1_math_equal(r->f[0], r->f[1], why, sizeof why));
        if (got != r->f[2][0]) {
            printf("math_cases.tsv:%d: gold [%s] pred [%s]: expected %s, got %c (%s) - %s\n",
                   r->line, r->f[0], r->f[1], r->f[2], got, why, r->nf > 3 ? r->f[3] : "");
            bad++;
        }
    }
    printf("math_cases.tsv: %d cases, %d wrong\n", t.n, bad);
    assert_true(t.n >= 250);
    table_free(&t);
    free(path);
    assert_int_equal(bad, 0);
}

/* \n \t \\ in place. */
static void unescape(char *s) {
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && (s[1] == 'n' || s[1] == 't' || s[1] == '\\')) {
            s++;
            *o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : '\\';
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

static int check_extract_row(Row *r) {
    const char *flags = r->nf > 3 ? r->f[3] : "";
    R1ExtractOpts o = {strstr(flags, "phrase") != NULL, strstr(flags, "last") != NULL};
    const char *src_flag = strstr(flags, "src=");
    unescape(r->f[0]);
    unescape(r->f[1]);
    char *got = NULL;
    R1AnswerSource src = r1_answer_extract(r->f[0], strlen(r->f[0]), &o, &got);
    int ok = strcmp(r->f[1], "-") ? got && !strcmp(got, r->f[1]) : !got && src == R1_SRC_NONE;
    const char *name = r1_answer_source_name(src);
    if (src_flag && strncmp(src_flag + 4, name, strlen(name))) ok = 0;
    if (!ok)
        printf("extract_cases.tsv:%d: expected [%s], got [%s] from %s - %s\n", r->line, r->f[1],
               got ? got : "-", name, r->nf > 2 ? r->f[2] : "");
    free(got);
    return ok;
}

static void test_extract_cases(void **state) {
    (void)state;
    char *path = fixture_path("extract_cases.tsv");
    Table t;
    assert_int_equal(table_read(path, &t), 0);
    int bad = 0;
    for (int i = 0; i < t.n; i++) bad += t.rows[i].nf < 2 || !check_extract_row(&t.rows[i]);
    printf("extract_cases.tsv: %d cases, %d wrong\n", t.n, bad);
    assert_true(t.n >= 40);
    table_free(&t);
    free(path);
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ countdown */

static void test_countdown(void **state) {
    (void)state;
    const long n3[] = {3, 5, 7}, n4[] = {1, 2, 3, 4}, dup[] = {2, 2, 6};
    char why[128];
    assert_true(r1_countdown_check("3*5+7", n3, 3, 22, why, sizeof why));
    assert_true(r1_countdown_check(" (7 + 5) * 3 ", n3, 3, 36, NULL, 0));
    assert_true(r1_countdown_check("7*5-3 = 32", n3, 3, 32, why, sizeof why));
    assert_false(r1_countdown_check("7*5-3 = 33", n3, 3, 32, why, sizeof why));
    assert_false(r1_countdown_check("7*5-3", n3, 3, 33, why, sizeof why));
    assert_non_null(strstr(why, "evaluates to 32"));
    assert_false(r1_countdown_check("7*5", n3, 3, 35, why, sizeof why));      /* 3 unused */
    assert_false(r1_countdown_check("7*5*3*3", n3, 3, 315, why, sizeof why)); /* 3 twice */
    assert_false(r1_countdown_check("7*5+4", n3, 3, 39, why, sizeof why));    /* not given */
    assert_true(r1_countdown_check("(1+2+3)*4", n4, 4, 24, why, sizeof why));
    assert_true(r1_countdown_check("4/(1-2/3)", n4, 4, 12, why, sizeof why)); /* exact rationals */
    assert_false(r1_countdown_check("4/(3-3)+1+2", n4, 4, 3, why, sizeof why));
    assert_false(r1_countdown_check("1+2+3+4/0", n4, 4, 6, why, sizeof why));
    assert_non_null(strstr(why, "division by zero"));
    assert_true(r1_countdown_check("6/2*2", dup, 3, 6, why, sizeof why));
    assert_false(r1_countdown_check("6/2", dup, 3, 3, why, sizeof why));
    assert_true(r1_countdown_check("-(2-6)*2", dup, 3, 8, why, sizeof why));
    assert_true(r1_countdown_check("6 × 2 ÷ 2", dup, 3, 6, why, sizeof why));
    assert_true(r1_countdown_check("$6 \\times 2 - 2$", dup, 3, 10, why, sizeof why));
    assert_false(r1_countdown_check("6(2+2)", dup, 3, 24, why, sizeof why)); /* no implicit * */
    assert_false(r1_countdown_check("6+2+2.0", dup, 3, 10, why, sizeof why));
    assert_false(r1_countdown_check("6+2+2 = 10 = 10", dup, 3, 10, why, sizeof why));
    assert_false(r1_countdown_check("", dup, 3, 0, why, sizeof why));
    assert_false(r1_countdown_check(NULL, dup, 3, 0, why, sizeof why));
    assert_false(r1_countdown_check("((((6+2+2", dup, 3, 10, why, sizeof why));
    const long big[] = {999999999999999, 999999999999999, 999999999999999, 999999999999999};
    assert_false(
        r1_countdown_check("999999999999999*999999999999999*999999999999999*999999999999999", big,
                           4, 1, why, sizeof why));
    assert_non_null(strstr(why, "overflow"));
}

static void test_countdown_deep(void **state) {
    (void)state;
    size_t n = 100000;
    char *s = r1_xmalloc(2 * n + 2);
    memset(s, '(', n);
    s[n] = '1';
    memset(s + n + 1, ')', n);
    s[2 * n + 1] = 0;
    const long one[] = {1};
    assert_false(r1_countdown_check(s, one, 1, 1, NULL, 0));
    free(s);
}

/* ------------------------------------------------------------------ limits */

static char *repeat(const char *unit, size_t times, const char *tail) {
    size_t u = strlen(unit), t = strlen(tail);
    char *s = r1_xmalloc(u * times + t + 1);
    for (size_t i = 0; i < times; i++) memcpy(s + i * u, unit, u);
    memcpy(s + u * times, tail, t + 1);
    return s;
}

static void extract_big(const char *unit, const char *tail, const char *want) {
    char *s = repeat(unit, (1 << 20) / strlen(unit), tail), *got = NULL;
    R1ExtractOpts all = {1, 1};
    double t0 = r1_now();
    R1AnswerSource src = r1_answer_extract(s, strlen(s), &all, &got);
    double dt = r1_now() - t0;
    if (want) {
        assert_non_null(got);
        assert_string_equal(got, want);
    } else {
        assert_true(src == R1_SRC_NONE || got != NULL);
    }
    assert_true(dt < 2.0); /* loose: the real speed goal is in the benchmark */
    free(got);
    free(s);
}

static void test_big_completion(void **state) {
    (void)state;
    extract_big("Let me think about this step by step. ", "\\boxed{42}", "42");
    extract_big("\\boxed{", "", NULL);
    extract_big("\\boxed{{", "}", NULL);
    extract_big("{", "\\boxed{7}", "7");
    extract_big("\\boxed{1} ", "\\boxed{2", "1");
    extract_big("</think>", "<answer>5</answer>", "5");
    extract_big("<answer>", "", NULL);
    extract_big("####", "", NULL);
    extract_big("the answer is ", "", NULL);
    extract_big("12,345", "", NULL);
    extract_big("$", "", NULL);
}

static void equal_big(const char *gold, const char *pred) {
    double t0 = r1_now();
    R1Eq r = r1_math_equal(gold, pred, NULL, 0);
    assert_true(r >= R1_EQ_UNDEFINED && r <= R1_EQ_YES);
    assert_true(r1_now() - t0 < 2.0);
}

static void test_big_answers(void **state) {
    (void)state;
    static const char *units[] = {"1",  "1+",     "x",      "\\frac{1}{2}", "(",
                                  "{",  "\\{",    "[1,2],", "\\text{",      "\\sqrt",
                                  "2^", "1,000,", "a b ",   "\\left(",      "$"};
    for (size_t k = 0; k < sizeof units / sizeof units[0]; k++) {
        char *s = repeat(units[k], (1 << 20) / strlen(units[k]), "");
        equal_big(s, "5");
        equal_big("5", s);
        equal_big(s, s);
        free(s);
    }
    char *digits = repeat("9", 1 << 20, ""), *other = repeat("9", 1 << 20, "");
    assert_int_equal(r1_math_equal(digits, other, NULL, 0), R1_EQ_YES);
    other[(1 << 20) - 1] = '8';
    assert_int_equal(r1_math_equal(digits, other, NULL, 0), R1_EQ_NO);
    free(digits);
    free(other);
}

static void test_deep_nesting(void **state) {
    (void)state;
    static const char *open[] = {"{",       "(", "\\{", "\\sqrt{", "\\frac{1}{",
                                 "\\text{", "-", "2^",  "|"};
    for (size_t k = 0; k < sizeof open / sizeof open[0]; k++) {
        char *s = repeat(open[k], 100000, "1");
        equal_big(s, "1");
        equal_big("1", s);
        char *box = repeat("\\boxed{", 1, s), *got = NULL;
        r1_answer_extract(box, strlen(box), NULL, &got);
        free(got);
        free(box);
        free(s);
    }
    /* a box 100k braces deep that closes: its whole content is the answer */
    size_t depth = 100000;
    char *deep = r1_xmalloc(2 * depth + 16), *got = NULL;
    memcpy(deep, "\\boxed{", 7);
    memset(deep + 7, '{', depth);
    deep[7 + depth] = 'x';
    memset(deep + 8 + depth, '}', depth + 1);
    deep[9 + 2 * depth] = 0;
    assert_int_equal(r1_answer_extract(deep, strlen(deep), NULL, &got), R1_SRC_BOXED);
    assert_int_equal(strlen(got), 2 * depth + 1);
    assert_int_equal(r1_math_equal(got, "x", NULL, 0), R1_EQ_UNDEFINED); /* too deep to parse */
    free(got);
    free(deep);
    /* 60 levels are fine: within the limit */
    char *g = repeat("(", 60, ""), *h = repeat(")", 60, ""), *s = r1_xmalloc(200);
    snprintf(s, 200, "%s5%s", g, h);
    assert_int_equal(r1_math_equal(s, "5", NULL, 0), R1_EQ_YES);
    free(g);
    free(h);
    free(s);
}

/* ------------------------------------------------------------------ random inputs */

static const char *const alphabet[] = {"\\frac",
                                       "{",
                                       "}",
                                       "(",
                                       ")",
                                       "[",
                                       "]",
                                       "\\{",
                                       "\\}",
                                       "1",
                                       "2",
                                       "0",
                                       "7",
                                       "x",
                                       "y",
                                       "e",
                                       "^",
                                       "_",
                                       "+",
                                       "-",
                                       "*",
                                       "/",
                                       ",",
                                       ".",
                                       "=",
                                       "<",
                                       "\\le",
                                       "\\sqrt",
                                       "\\pi",
                                       "\\infty",
                                       "\\text{",
                                       "cm",
                                       "%",
                                       "\\%",
                                       "$",
                                       " ",
                                       "\\boxed",
                                       "\\pm",
                                       "\\cup",
                                       "|",
                                       "!",
                                       "\\left(",
                                       "\\right)",
                                       "\\begin{pmatrix}",
                                       "\\end{pmatrix}",
                                       "&",
                                       "\\\\",
                                       "1,234",
                                       "0.5",
                                       "e3",
                                       "\\sin",
                                       "\\log_",
                                       "\\circ",
                                       "\xC2\xB0",
                                       "\xE2\x88\x92",
                                       "\xCF\x80",
                                       "</think>",
                                       "<answer>",
                                       "</answer>",
                                       "####",
                                       "answer is ",
                                       "\\dfrac",
                                       "\\binom",
                                       "\\lfloor",
                                       "\\rfloor",
                                       "\\emptyset",
                                       "and",
                                       " or ",
                                       "\\mathrm{",
                                       "(B)",
                                       "\\ln",
                                       "\\alpha",
                                       "3\\frac12",
                                       "\xff",
                                       "\\",
                                       "\\cdot",
                                       "\\times"};

static char *random_text(R1Rng *r, char *buf, size_t cap) {
    size_t n = 0, count = r1_rng_u64(r) % 40, na = sizeof alphabet / sizeof alphabet[0];
    for (size_t i = 0; i < count; i++) {
        const char *t = alphabet[r1_rng_u64(r) % na];
        size_t m = strlen(t);
        if (n + m + 1 >= cap) break;
        memcpy(buf + n, t, m);
        n += m;
    }
    buf[n] = 0;
    return buf;
}

static void test_random_inputs(void **state) {
    (void)state;
    R1Rng r;
    r1_rng_seed(&r, 12345);
    char a[512], b[512], why[128];
    const long nums[] = {1, 2, 7};
    R1ExtractOpts all = {1, 1};
    for (int i = 0; i < 4000; i++) {
        random_text(&r, a, sizeof a);
        random_text(&r, b, sizeof b);
        R1Eq e = r1_math_equal(a, b, why, sizeof why);
        assert_true(e >= R1_EQ_UNDEFINED && e <= R1_EQ_YES);
        assert_true(strlen(why) > 0);
        assert_int_equal(r1_math_equal(a, b, NULL, 0), e); /* deterministic */
        assert_int_not_equal(r1_math_equal(a, a, NULL, 0), R1_EQ_NO);
        char *got = NULL;
        R1AnswerSource src = r1_answer_extract(a, strlen(a), &all, &got);
        assert_true((src == R1_SRC_NONE) == (got == NULL));
        free(got);
        int c = r1_countdown_check(a, nums, 3, 10, NULL, 0);
        assert_true(c == 0 || c == 1);
    }
}

/* ------------------------------------------------------------------ API details */

static void test_api(void **state) {
    (void)state;
    char why[64] = "x", *got = (char *)1;
    assert_int_equal(r1_math_equal(NULL, "1", why, sizeof why), R1_EQ_UNDEFINED);
    assert_int_equal(r1_math_equal("1", NULL, why, sizeof why), R1_EQ_NO);
    assert_int_equal(r1_math_equal("1", "1", why, 1), R1_EQ_YES);
    assert_int_equal(why[0], 0);
    assert_int_equal(r1_answer_extract(NULL, 0, NULL, &got), R1_SRC_NONE);
    assert_null(got);
    assert_int_equal(r1_answer_extract("\\boxed{3}", 9, NULL, NULL), R1_SRC_BOXED);
    assert_int_equal(r1_answer_extract("\\boxed{3}", 5, NULL, &got),
                     R1_SRC_NONE); /* only n bytes */
    assert_string_equal(r1_answer_source_name(R1_SRC_BOXED), "boxed");
    assert_string_equal(r1_answer_source_name(R1_SRC_LAST_NUMBER), "last_number");
    assert_string_equal(r1_answer_source_name((R1AnswerSource)99), "unknown");
    const char text[] = "\\boxed{4}\0\\boxed{5}";
    assert_int_equal(r1_answer_extract(text, sizeof text - 1, NULL, &got), R1_SRC_BOXED);
    assert_string_equal(got, "5"); /* NUL bytes are ordinary bytes */
    free(got);
}

/* ------------------------------------------------------------------ modes */

static int judge_file(const char *path) {
    Table t;
    char why[256];
    if (table_read(path, &t) < 0) return 2;
    for (int i = 0; i < t.n; i++) {
        Row *r = &t.rows[i];
        if (r->nf < 2) continue;
        R1Eq e = r1_math_equal(r->f[0], r->f[1], why, sizeof why);
        printf("%d\t%c\t%s\n", r->line, verdict_char(e), why);
    }
    table_free(&t);
    return 0;
}

static double bench_pairs(const char *const (*pairs)[2], int n, double secs, long *count) {
    double t0 = r1_now(), dt;
    long k = 0;
    do {
        for (int i = 0; i < n; i++, k++) r1_math_equal(pairs[i][0], pairs[i][1], NULL, 0);
    } while ((dt = r1_now() - t0) < secs);
    *count = k;
    return k / dt;
}

static int bench(double secs) {
    static const char *const gsm[][2] = {
        {"72", "72"},   {"1,234", "1234"}, {"18", "\\$18.00"},   {"5", "6"},
        {"42", "42.0"}, {"3600", "3,600"}, {"10", "10 dollars"}, {"7", "-7"}};
    static const char *const math[][2] = {{"\\frac{1}{2}", "0.5"},
                                          {"\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}"},
                                          {"x^2-1", "(x-1)(x+1)"},
                                          {"(1, 2)", "(1,2)"},
                                          {"\\{1,2,3\\}", "\\{3,2,1\\}"},
                                          {"2\\pi", "6.283185307"},
                                          {"\\text{(B)}", "B"},
                                          {"[1, 3)", "[1,3]"},
                                          {"x = 5", "5"},
                                          {"50\\%", "0.5"},
                                          {"\\dfrac{14}{3}", "4\\frac{2}{3}"},
                                          {"y = 2x + 3", "2x - y + 3 = 0"}};
    long n1, n2;
    double r1 = bench_pairs(gsm, 8, secs, &n1), r2 = bench_pairs(math, 12, secs, &n2);
    printf("gsm8k-style answers: %.0f judgements/s (%ld)\n", r1, n1);
    printf("math-style answers:  %.0f judgements/s (%ld)\n", r2, n2);
    const char *completion = "<think>\nFirst, 3 + 4 = 7 and 7 * 6 = 42.\n</think>\n"
                             "The total is 42, so the answer is \\boxed{42}.";
    double t0 = r1_now();
    long k = 0;
    for (; r1_now() - t0 < secs; k++) {
        char *got = NULL;
        r1_answer_extract(completion, strlen(completion), NULL, &got);
        free(got);
    }
    printf("extraction:          %.0f completions/s\n", k / (r1_now() - t0));
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "--judge")) return judge_file(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "--bench")) return bench(argc >= 3 ? atof(argv[2]) : 1.0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_math_cases),
        cmocka_unit_test(test_extract_cases),
        cmocka_unit_test(test_countdown),
        cmocka_unit_test(test_countdown_deep),
        cmocka_unit_test(test_big_completion),
        cmocka_unit_test(test_big_answers),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_random_inputs),
        cmocka_unit_test(test_api),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
