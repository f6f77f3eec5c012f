/* test_synth.c - the task generators (core/synth.c): determinism per seed, gold
 * answers recomputed by an evaluator written here (not the library's), level
 * bounds, Countdown equations, the Chinese wording, and the library evaluator. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mathans.h"
#include "reward.h"
#include "synth.h"

#define SAMPLES 3000

/* ---- an independent evaluator: integers only, in 128 bits, every division
 * checked exact; it records the operands, operators and smallest step ---- */

typedef struct {
    const char *s;
    int ok;
    int nleaves;
    int64_t leaves[32];
    char ops[32];
    int nops;
    __int128 min_step; /* smallest intermediate result */
} Ev;

static __int128 ev_sum(Ev *e);

static void ev_space(Ev *e) {
    while (*e->s == ' ') e->s++;
}

static __int128 ev_atom(Ev *e) {
    ev_space(e);
    if (*e->s == '(') {
        e->s++;
        __int128 v = ev_sum(e);
        ev_space(e);
        if (*e->s != ')')
            e->ok = 0;
        else
            e->s++;
        return v;
    }
    if (*e->s < '0' || *e->s > '9') return e->ok = 0, 0;
    __int128 v = 0;
    while (*e->s >= '0' && *e->s <= '9') v = v * 10 + (*e->s++ - '0');
    if (e->nleaves < 32) e->leaves[e->nleaves++] = (int64_t)v;
    return v;
}

static __int128 ev_apply(Ev *e, char op, __int128 a, __int128 b) {
    __int128 v;
    if (op == '/') {
        if (b == 0 || a % b != 0) return e->ok = 0, 0; /* a generated / must be exact */
        v = a / b;
    } else {
        v = op == '+' ? a + b : op == '-' ? a - b : a * b;
    }
    if (e->nops < 32) e->ops[e->nops++] = op;
    if (v < e->min_step) e->min_step = v;
    return v;
}

static __int128 ev_term(Ev *e) {
    __int128 v = ev_atom(e);
    for (;;) {
        ev_space(e);
        char op = *e->s;
        if (op != '*' && op != '/') return v;
        e->s++;
        v = ev_apply(e, op, v, ev_atom(e));
    }
}

static __int128 ev_sum(Ev *e) {
    __int128 v = ev_term(e);
    for (;;) {
        ev_space(e);
        char op = *e->s;
        if (op != '+' && op != '-') return v;
        e->s++;
        v = ev_apply(e, op, v, ev_term(e));
    }
}

/* Evaluates text; fails the test unless the whole text is a valid expression. */
static int64_t ev(const char *text, Ev *e) {
    memset(e, 0, sizeof *e);
    e->s = text;
    e->ok = 1;
    e->min_step = (__int128)INT64_MAX;
    __int128 v = ev_sum(e);
    ev_space(e);
    if (!e->ok || *e->s || v > INT64_MAX || v < INT64_MIN) fail_msg("cannot evaluate '%s'", text);
    return (int64_t)v;
}

/* ---- helpers ---- */

static R1SynthItem gen(R1SynthTask task, int level, R1SynthLang lang, R1Rng *r) {
    R1SynthItem it;
    R1Err err;
    if (r1_synth_generate(task, level, lang, r, &it, &err)) fail_msg("%s", err.msg);
    return it;
}

/* The question's form of an ASCII expression: * and / shown as × and ÷. */
static void pretty(const char *expr, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = expr; *p && n + 3 < cap; p++) {
        const char *s = *p == '*' ? "\xc3\x97" : *p == '/' ? "\xc3\xb7" : NULL;
        if (s)
            memcpy(out + n, s, 2), n += 2;
        else
            out[n++] = *p;
    }
    out[n] = 0;
}

static int has_number(const char *text, int64_t v) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)v);
    for (const char *p = strstr(text, num); p; p = strstr(p + 1, num)) {
        int before = p > text && p[-1] >= '0' && p[-1] <= '9';
        int after = p[strlen(num)] >= '0' && p[strlen(num)] <= '9';
        if (!before && !after) return 1;
    }
    return 0;
}

/* Decodes UTF-8 strictly (no overlongs, surrogates or values past U+10FFFF);
 * returns 0 if invalid, else 1, counting CJK ideographs into *cjk. */
static int utf8_check(const char *text, int *cjk) {
    const unsigned char *s = (const unsigned char *)text;
    *cjk = 0;
    while (*s) {
        unsigned c = *s, n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
        if ((c & 0xf8) == 0xf8 || (c & 0xc0) == 0x80) return 0;
        unsigned cp = n == 0 ? c : c & (0x3f >> n);
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (s[i] & 0x3f);
        }
        static const unsigned min[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        if (cp >= 0x4e00 && cp <= 0x9fff) ++*cjk;
        s += n + 1;
    }
    return 1;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void assert_same_multiset(const int64_t *a, const int64_t *b, int n) {
    int64_t x[32], y[32];
    memcpy(x, a, (size_t)n * 8);
    memcpy(y, b, (size_t)n * 8);
    qsort(x, (size_t)n, 8, cmp64);
    qsort(y, (size_t)n, 8, cmp64);
    assert_memory_equal(x, y, (size_t)n * 8);
}

/* meta must be a JSON object whose task, level, lang and numbers match the item. */
static cJSON *check_meta(const R1SynthItem *it) {
    cJSON *m = cJSON_Parse(it->meta);
    assert_non_null(m);
    assert_string_equal(cJSON_GetObjectItem(m, "task")->valuestring, r1_synth_task_name(it->task));
    assert_int_equal(cJSON_GetObjectItem(m, "level")->valueint, it->level);
    assert_string_equal(cJSON_GetObjectItem(m, "lang")->valuestring, r1_synth_lang_name(it->lang));
    const cJSON *nums = cJSON_GetObjectItem(m, "numbers");
    assert_int_equal(cJSON_GetArraySize(nums), it->nnums);
    for (int i = 0; i < it->nnums; i++)
        assert_true(cJSON_GetArrayItem(nums, i)->valuedouble == (double)it->nums[i]);
    return m;
}

/* ---- the cases ---- */

static void same_items(R1SynthTask task, uint64_t s1, uint64_t s2, int *differ) {
    R1Rng a, b;
    r1_rng_seed(&a, s1);
    r1_rng_seed(&b, s2);
    *differ = 0;
    for (int i = 0; i < 500; i++) {
        R1SynthItem x = gen(task, 0, R1_SYNTH_MIXED, &a), y = gen(task, 0, R1_SYNTH_MIXED, &b);
        *differ += strcmp(x.question, y.question) || strcmp(x.answer, y.answer) ||
                   strcmp(x.meta, y.meta) || strcmp(x.solution, y.solution);
        r1_synth_item_free(&x);
        r1_synth_item_free(&y);
    }
}

static void test_determinism(void **state) {
    (void)state;
    for (int t = 0; t < R1_SYNTH_NTASKS; t++) {
        int differ;
        same_items((R1SynthTask)t, 42, 42, &differ);
        assert_int_equal(differ, 0);
        same_items((R1SynthTask)t, 42, 43, &differ);
        assert_true(differ > 450); /* another seed: (almost) every item differs */
    }
}

/* Levels 1-3: the expression in the question, the operands and operators per level. */
static void check_arith_bounds(const R1SynthItem *it, const Ev *e, int64_t v) {
    int lo = it->level == 1 ? 1 : it->level == 2 ? 10 : 2;
    int hi = it->level == 1 ? 99 : it->level == 2 ? 999 : 9999;
    const char *ops = it->level == 1 ? "+-" : it->level == 2 ? "+-*" : "+-*/";
    if (it->level <= 2)
        assert_int_equal(e->nleaves, 2);
    else
        assert_true(e->nleaves == 3 || e->nleaves == 4);
    for (int i = 0; i < e->nleaves; i++) assert_true(e->leaves[i] >= lo && e->leaves[i] <= hi);
    for (int i = 0; i < e->nops; i++) assert_non_null(strchr(ops, e->ops[i]));
    if (it->level == 1) assert_true(v >= 0);
    char shown[512];
    pretty(it->expr, shown, sizeof shown);
    if (!strstr(it->question, shown)) fail_msg("'%s' lacks '%s'", it->question, shown);
}

/* Level 4: every number in the wording, and no step below zero. */
static void check_word(const R1SynthItem *it, const Ev *e) {
    assert_true(e->nleaves >= 3);
    assert_true(e->min_step >= 0);
    for (int i = 0; i < e->nleaves; i++)
        if (!has_number(it->question, e->leaves[i]))
            fail_msg("'%s' lacks %lld", it->question, (long long)e->leaves[i]);
}

static void check_arith(const R1SynthItem *it, int *divides, int *parens) {
    Ev e;
    int64_t v = ev(it->expr, &e);
    assert_int_equal(v, it->value);
    char want[64];
    snprintf(want, sizeof want, "%lld", (long long)v);
    assert_string_equal(it->answer, want);
    char sol[600];
    snprintf(sol, sizeof sol, "%s = %s", it->expr, want);
    assert_string_equal(it->solution, sol);
    assert_int_equal(it->nnums, e.nleaves);
    assert_memory_equal(it->nums, e.leaves, (size_t)e.nleaves * 8);
    if (it->level == 4)
        check_word(it, &e);
    else
        check_arith_bounds(it, &e, v);
    *divides += memchr(e.ops, '/', (size_t)e.nops) != NULL;
    *parens += strchr(it->expr, '(') != NULL;
    cJSON *m = check_meta(it);
    assert_string_equal(cJSON_GetObjectItem(m, "expr")->valuestring, it->expr);
    cJSON_Delete(m);
}

static void test_arith_answers(void **state) {
    (void)state;
    R1Rng r;
    r1_rng_seed(&r, 7);
    for (int level = 1; level <= 4; level++)
        for (int lang = R1_SYNTH_EN; lang <= R1_SYNTH_ZH; lang++) {
            int divides = 0, parens = 0;
            for (int i = 0; i < SAMPLES; i++) {
                R1SynthItem it = gen(R1_SYNTH_ARITH, level, (R1SynthLang)lang, &r);
                assert_int_equal(it.level, level);
                check_arith(&it, &divides, &parens);
                r1_synth_item_free(&it);
            }
            if (level == 3) assert_true(divides > SAMPLES / 10 && parens > SAMPLES / 10);
            if (level == 4) assert_true(divides > 0);
        }
}

/* Countdown: each number once, the target exactly, positive integer steps. */
static void check_countdown(const R1SynthItem *it) {
    static const int n_by_level[] = {3, 4, 4}, tlo[] = {1, 10, 100}, thi[] = {100, 200, 999};
    int l = it->level - 1;
    assert_int_equal(it->nnums, n_by_level[l]);
    Ev e;
    int64_t v = ev(it->answer, &e);
    assert_int_equal(v, it->value);
    assert_int_equal(e.nleaves, it->nnums);
    assert_same_multiset(e.leaves, it->nums, it->nnums);
    assert_true(e.min_step > 0);
    assert_true(v >= tlo[l] && v <= thi[l]);
    int large = 0;
    for (int i = 0; i < it->nnums; i++) {
        assert_true(has_number(it->question, it->nums[i]));
        large += it->nums[i] % 25 == 0 && it->nums[i] >= 25;
    }
    if (it->level == 3) assert_true(large >= 1);
    assert_true(has_number(it->question, v));
    assert_true(r1_countdown_check(it->answer, it->nums, it->nnums, v, NULL, 0));
    cJSON *m = check_meta(it);
    assert_true(cJSON_GetObjectItem(m, "target")->valuedouble == (double)v);
    cJSON_Delete(m);
}

static void test_countdown(void **state) {
    (void)state;
    R1Rng r;
    r1_rng_seed(&r, 11);
    for (int level = 1; level <= 3; level++)
        for (int i = 0; i < SAMPLES; i++) {
            R1SynthItem it = gen(R1_SYNTH_COUNTDOWN, level, R1_SYNTH_MIXED, &r);
            check_countdown(&it);
            r1_synth_item_free(&it);
        }
}

static void test_languages(void **state) {
    (void)state;
    R1Rng r;
    r1_rng_seed(&r, 3);
    int zh = 0, n = 0;
    for (int t = 0; t < R1_SYNTH_NTASKS; t++)
        for (int i = 0; i < SAMPLES; i++, n++) {
            R1SynthItem it = gen((R1SynthTask)t, 0, R1_SYNTH_MIXED, &r);
            int cjk;
            assert_true(utf8_check(it.question, &cjk));
            assert_true(utf8_check(it.meta, &cjk) && cjk == 0);
            if (it.lang == R1_SYNTH_ZH) {
                zh++;
                if (!utf8_check(it.question, &cjk) || cjk < 2)
                    fail_msg("no Chinese: %s", it.question);
            } else {
                utf8_check(it.question, &cjk);
                assert_int_equal(cjk, 0);
            }
            r1_synth_item_free(&it);
        }
    assert_true(zh > n * 4 / 10 && zh < n * 6 / 10); /* mixed: about half each */
}

/* Every template of every level shows up, in both languages. */
static void test_template_coverage(void **state) {
    (void)state;
    R1Rng r;
    r1_rng_seed(&r, 5);
    for (int t = 0; t < R1_SYNTH_NTASKS; t++)
        for (int level = 1; level <= r1_synth_levels((R1SynthTask)t); level++)
            for (int lang = 0; lang < 2; lang++) {
                unsigned seen = 0;
                for (int i = 0; i < 400; i++) {
                    R1SynthItem it = gen((R1SynthTask)t, level, (R1SynthLang)lang, &r);
                    seen |= 1u << it.template_id;
                    r1_synth_item_free(&it);
                }
                assert_true(__builtin_popcount(seen) >= 3);
                assert_true((seen & (seen + 1)) == 0); /* ids are 0..k-1 */
            }
}

static void test_library_eval(void **state) {
    (void)state;
    R1SynthValue v;
    R1Err err;
    assert_int_equal(r1_synth_eval("(3 / 4) * 8", &v, &err), 0);
    assert_true(v.num == 6 && v.den == 1 && v.fraction_step && !v.negative_step);
    assert_int_equal(r1_synth_eval(" 2 \xc3\x97 3 \xc3\xb7 4 ", &v, &err), 0);
    assert_true(v.num == 3 && v.den == 2 && v.nleaves == 3);
    assert_int_equal(r1_synth_eval("1 - 2 + 5", &v, &err), 0);
    assert_true(v.num == 4 && v.negative_step);
    assert_int_equal(r1_synth_eval("10 \xe2\x88\x92 (2 + 3) * 2", &v, &err), 0);
    assert_true(v.num == 0 && v.den == 1);
    const char *bad[] = {"",      "1 +",
                         "(1",    "1)",
                         "1 / 0", "1 / (2 - 2)",
                         "-1",    "99999999999999999999",
                         "1 2",   "4294967296 * 4294967296",
                         "2 ^ 3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (r1_synth_eval(bad[i], &v, &err) == 0) fail_msg("accepted '%s'", bad[i]);
    assert_non_null(strstr((r1_synth_eval("1 +  x", &v, &err), err.msg), "column 6"));
}

static void test_bad_arguments(void **state) {
    (void)state;
    R1Rng r;
    r1_rng_seed(&r, 1);
    R1SynthItem it;
    R1Err err;
    assert_int_equal(r1_synth_generate(R1_SYNTH_ARITH, 5, R1_SYNTH_EN, &r, &it, &err), -1);
    assert_non_null(strstr(err.msg, "levels 1 to 4"));
    assert_int_equal(r1_synth_generate(R1_SYNTH_COUNTDOWN, 4, R1_SYNTH_EN, &r, &it, &err), -1);
    assert_int_equal(r1_synth_generate((R1SynthTask)7, 1, R1_SYNTH_EN, &r, &it, &err), -1);
    assert_int_equal(r1_synth_task_parse("countdown"), R1_SYNTH_COUNTDOWN);
    assert_int_equal(r1_synth_task_parse("Arith"), -1);
    assert_int_equal(r1_synth_lang_parse("mixed"), R1_SYNTH_MIXED);
    assert_int_equal(r1_synth_lang_parse("fr"), -1);
}

/* ---- cold-start responses (synth_cot.c) ---- */

/* The value of an expression as the responses write it (× ÷, a negative number
 * first or in parentheses), by this file's evaluator. */
static int64_t ev_text(const char *text, const char *line) {
    char ascii[256], *q = ascii;
    for (const char *p = text; *p && q < ascii + sizeof ascii - 6; p++) {
        if (!strncmp(p, "\xc3\x97", 2))
            *q++ = '*', p++;
        else if (!strncmp(p, "\xc3\xb7", 2))
            *q++ = '/', p++;
        else if (!strncmp(p, "(-", 2))
            memcpy(q, "(0 - ", 5), q += 5, p++;
        else if (strchr("0123456789+-() ", *p))
            *q++ = *p;
        else
            fail_msg("unexpected text in the expression '%s' of line '%s'", text, line);
    }
    *q = 0;
    if (ascii[0] == '-') { /* a negative first operand: (0 - N), which ev reads */
        char tmp[sizeof ascii];
        size_t d = strspn(ascii + 1, "0123456789");
        if (snprintf(tmp, sizeof tmp, "(0 - %.*s)%s", (int)d, ascii + 1, ascii + 1 + d) >=
            (int)sizeof tmp)
            fail_msg("long");
        memcpy(ascii, tmp, sizeof ascii);
    }
    Ev e;
    return ev(ascii, &e);
}

/* A line that states the whole expression -- the task ("We need to work out X",
 * "From the question, we need X", 我们要算, 根据题意，列式为) or what is left of it
 * ("Now we have X", 现在算式是) -- must have the task's value; "Split N into a + b"
 * (把 N 拆成) must list N's non-zero place values, largest first. Returns the checks made. */
static int check_whole(const char *line, int64_t value) {
    static const char *const whole[] = {
        "We need to work out ",
        "From the question, we need ",
        "Now we have ",
        "\xe6\x88\x91\xe4\xbb\xac\xe8\xa6\x81\xe7\xae\x97 ",
        "\xe6\xa0\xb9\xe6\x8d\xae\xe9\xa2\x98\xe6\x84\x8f\xef\xbc\x8c\xe5\x88\x97\xe5\xbc\x8f\xe4"
        "\xb8\xba ",
        "\xe7\x8e\xb0\xe5\x9c\xa8\xe7\xae\x97\xe5\xbc\x8f\xe6\x98\xaf "};
    char buf[512];
    snprintf(buf, sizeof buf, "%s", line);
    size_t len = strlen(buf);
    if (len && buf[len - 1] == '.') buf[--len] = 0;
    if (len >= 3 && !strcmp(buf + len - 3, "\xe3\x80\x82")) buf[len -= 3] = 0; /* 。 */
    for (size_t k = 0; k < sizeof whole / sizeof whole[0]; k++)
        if (!strncmp(buf, whole[k], strlen(whole[k]))) {
            if (ev_text(buf + strlen(whole[k]), line) != value)
                fail_msg("'%s' does not have the task's value %lld", line, (long long)value);
            return 1;
        }
    const char *into = strstr(buf, " into "), *zh = strstr(buf, " \xe6\x8b\x86\xe6\x88\x90 ");
    if ((strncmp(buf, "Split ", 6) || !into) && (strncmp(buf, "\xe6\x8a\x8a ", 4) || !zh)) return 0;
    long long n = strtoll(buf + (into ? 6 : 4), NULL, 10), sum = 0, prev = -1;
    for (const char *p = into ? into + 6 : zh + 8; *p;) {
        char *end;
        long long part = strtoll(p, &end, 10), unit = 1;
        while (unit * 10 <= part) unit *= 10;
        if (end == p || part <= 0 || part % unit || (prev > 0 && part >= prev))
            fail_msg("'%s': %lld is not the next place value", line, part);
        sum += part, prev = part;
        p = end;
        while (*p == ' ' || *p == '+') p++;
    }
    if (sum != n) fail_msg("'%s': the parts add up to %lld", line, sum);
    return 1;
}

/* Checks every "LHS = N" clause of a line with this file's evaluator: clauses are
 * split at ", so ", ", because ", "，" and "：", and lead-in words are skipped.
 * Returns the number of equations checked. */
static int check_line(const char *line) {
    static const char *const seps[] = {", so ", ", because ", "\xef\xbc\x8c", "\xef\xbc\x9a", ": "};
    static const char *const leads[] = {"First, ",
                                        "Next, ",
                                        "Last, ",
                                        "So ",
                                        "\xe5\x85\x88\xe7\xae\x97 ",
                                        "\xe5\x86\x8d\xe7\xae\x97 ",
                                        "\xe6\x9c\x80\xe5\x90\x8e\xe7\xae\x97 ",
                                        "\xe6\x89\x80\xe4\xbb\xa5 ",
                                        "\xe5\x9b\xa0\xe4\xb8\xba "};
    char buf[512], *clause[16];
    snprintf(buf, sizeof buf, "%s", line);
    int n = 0, checked = 0;
    clause[n++] = buf;
    for (char *p = buf; *p && n < 16; p++)
        for (size_t k = 0; k < sizeof seps / sizeof seps[0]; k++)
            if (!strncmp(p, seps[k], strlen(seps[k]))) {
                *p = 0, p += strlen(seps[k]) - 1, clause[n++] = p + 1;
                break;
            }
    for (int i = 0; i < n; i++) {
        char *c = clause[i];
        for (size_t k = 0; k < sizeof leads / sizeof leads[0]; k++)
            if (!strncmp(c, leads[k], strlen(leads[k]))) c += strlen(leads[k]);
        size_t len = strlen(c);
        while (len && (c[len - 1] == '.' || c[len - 1] == ' ')) c[--len] = 0;
        if (len >= 3 && !strcmp(c + len - 3, "\xe3\x80\x82")) c[len -= 3] = 0; /* 。 */
        char *eq = strstr(c, " = ");
        if (!eq) continue;
        *eq = 0;
        char *end;
        long long rhs = strtoll(eq + 3, &end, 10);
        if (*end) fail_msg("right side '%s' of line '%s' is not a number", eq + 3, line);
        if (ev_text(c, line) != rhs) fail_msg("wrong step: %s = %lld in '%s'", c, rhs, line);
        checked++;
    }
    return checked;
}

static void test_cold_start(void **state) {
    (void)state;
    R1RewardOpts o;
    r1_reward_defaults(&o);
    R1Err err;
    assert_int_equal(r1_reward_parse_weights(&o, "accuracy=1,format=1,language=1", &err), 0);
    R1Rewarder *rw = r1_rewarder_new(&o, &err);
    assert_non_null(rw);
    R1Rng r;
    r1_rng_seed(&r, 11);
    long equations = 0, lines_seen = 0;
    for (int level = 1; level <= 4; level++)
        for (int lang = R1_SYNTH_EN; lang <= R1_SYNTH_ZH; lang++)
            for (int i = 0; i < SAMPLES / 8; i++) {
                R1SynthItem it = gen(R1_SYNTH_ARITH, level, (R1SynthLang)lang, &r);
                char *text = r1_synth_cold_start(&it, &err);
                if (!text) fail_msg("%s: %s", it.expr, err.msg);
                R1RewardInput in = {text, strlen(text), 100, it.question, it.answer, it.meta, 0};
                R1RewardResult res;
                r1_reward_score(rw, &in, &res);
                if (res.value[R1_RW_FORMAT] != 1 || res.value[R1_RW_ACCURACY] != 1 ||
                    res.value[R1_RW_LANGUAGE] != 1)
                    fail_msg("rewards %g/%g/%g for:\n%s", res.value[R1_RW_ACCURACY],
                             res.value[R1_RW_FORMAT], res.value[R1_RW_LANGUAGE], text);
                /* every step inside the think block is arithmetic that holds */
                char *end = strstr(text, "</think>");
                assert_non_null(end);
                for (char *p = text + strlen("<think>\n"); p < end;) {
                    char *nl = strchr(p, '\n');
                    *nl = 0;
                    equations += check_line(p) + check_whole(p, it.value);
                    lines_seen++;
                    *nl = '\n';
                    p = nl + 1;
                }
                free(text);
                r1_synth_item_free(&it);
            }
    r1_rewarder_free(rw);
    /* most lines are equations (the first states the task; labels stand alone) */
    assert_true(equations > lines_seen / 2);
    /* other tasks have no worked response */
    R1SynthItem cd = gen(R1_SYNTH_COUNTDOWN, 1, R1_SYNTH_EN, &r);
    assert_null(r1_synth_cold_start(&cd, &err));
    assert_non_null(strstr(err.msg, "arith"));
    r1_synth_item_free(&cd);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism),       cmocka_unit_test(test_arith_answers),
        cmocka_unit_test(test_countdown),         cmocka_unit_test(test_languages),
        cmocka_unit_test(test_template_coverage), cmocka_unit_test(test_library_eval),
        cmocka_unit_test(test_bad_arguments),     cmocka_unit_test(test_cold_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
