/* test_reward.c - the rule-based rewards: the R1 format and its edge cases, tag
 * quarters, language shares on hand-made chains of thought (exact fractions),
 * DAPO's overlong boundaries, repetition, weight parsing, undefined totals, and
 * countdown accuracy through the prompt meta. (accuracy uses core/mathans.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "reward.h"

#define EPS 1e-12

/* got == want up to rounding (this cmocka has no assert_double_equal). */
#define assert_near(got, want, eps) near_(got, want, eps, __FILE__, __LINE__)
static void near_(double got, double want, double eps, const char *file, int line) {
    if (!(fabs(got - want) <= eps)) {
        print_error("%s:%d: got %.17g, want %.17g\n", file, line, got, want);
        fail();
    }
}

/* Scores text with only reward k weighted (so total = value), other inputs given. */
typedef struct {
    const char *question, *gold, *meta, *lang;
    int prefilled, n_tokens, loose;
} Ctx;

static R1RewardResult score_with(const R1RewardOpts *o, const char *text, const Ctx *c) {
    R1Err err;
    R1Rewarder *r = r1_rewarder_new(o, &err);
    assert_non_null(r);
    R1RewardInput in = {text,
                        strlen(text),
                        c ? c->n_tokens : 0,
                        c ? c->question : NULL,
                        c ? c->gold : NULL,
                        c ? c->meta : NULL,
                        c ? c->prefilled : 0};
    R1RewardResult res;
    r1_reward_score(r, &in, &res);
    r1_rewarder_free(r);
    return res;
}

static R1RewardResult score_kind(R1RewardKind k, const char *text, const Ctx *c) {
    R1RewardOpts o;
    r1_reward_defaults(&o);
    memset(o.weight, 0, sizeof o.weight);
    o.weight[k] = 1;
    if (c) o.lang = c->lang, o.format_loose = c->loose;
    return score_with(&o, text, c);
}

/* The value of reward k, or NAN when undefined. */
static double value(R1RewardKind k, const char *text, const Ctx *c) {
    R1RewardResult res = score_kind(k, text, c);
    return res.defined[k] ? res.value[k] : NAN;
}

/* ---- format ----------------------------------------------------------------------------- */

static double fmt(const char *text, int prefilled, int loose) {
    Ctx c = {.prefilled = prefilled, .loose = loose};
    return value(R1_RW_FORMAT, text, &c);
}

static void test_format_exact(void **s) {
    (void)s;
    assert_true(fmt("<think>\nLet me add.\n</think>\n<answer>\n42\n</answer>", 0, 0) == 1);
    assert_true(fmt("<think>\n\n</think>\n<answer>\n\n</answer>", 0, 0) == 1);
    /* Multi-line blocks: DOTALL. */
    assert_true(fmt("<think>\na\nb\n</think>\n<answer>\nx\ny\n</answer>", 0, 0) == 1);
    /* $ as in Python without MULTILINE: one final newline is allowed. */
    assert_true(fmt("<think>\na\n</think>\n<answer>\n42\n</answer>\n", 0, 0) == 1);
    /* Bytes that are not UTF-8 do not make the match an error. */
    assert_true(fmt("<think>\n\xff\xfe ok\n</think>\n<answer>\n42\n</answer>", 0, 0) == 1);
    /* After r1-zero's "Assistant:" the reply begins with a space. */
    assert_true(fmt(" <think>\nok\n</think>\n<answer>\n42\n</answer>", 0, 0) == 1);
}

static void test_format_broken(void **s) {
    (void)s;
    /* missing newlines */
    assert_true(fmt("<think>a\n</think>\n<answer>\n42\n</answer>", 0, 0) == 0);
    assert_true(fmt("<think>\na</think>\n<answer>\n42\n</answer>", 0, 0) == 0);
    assert_true(fmt("<think>\na\n</think><answer>\n42\n</answer>", 0, 0) == 0);
    assert_true(fmt("<think>\na\n</think>\n<answer>\n42</answer>", 0, 0) == 0);
    /* two think blocks, two answer blocks */
    assert_true(fmt("<think>\na\n</think>\n<think>\nb\n</think>\n<answer>\n42\n</answer>", 0, 0) ==
                0);
    assert_true(fmt("<think>\na\n</think>\n<answer>\n1\n</answer>\n<answer>\n2\n</answer>", 0, 0) ==
                0);
    /* text after </answer>, before <think> */
    assert_true(fmt("<think>\na\n</think>\n<answer>\n42\n</answer>\nThanks!", 0, 0) == 0);
    assert_true(fmt("<think>\na\n</think>\n<answer>\n42\n</answer>\n\n", 0, 0) == 0);
    assert_true(fmt("Sure. <think>\na\n</think>\n<answer>\n42\n</answer>", 0, 0) == 0);
    /* wrong order, missing answer */
    assert_true(fmt("<answer>\n42\n</answer>\n<think>\na\n</think>", 0, 0) == 0);
    assert_true(fmt("<think>\na\n</think>\n", 0, 0) == 0);
    assert_true(fmt("", 0, 0) == 0);
}

static void test_format_prefilled(void **s) {
    (void)s;
    const char *c = "I add 40 and 2.\n</think>\n<answer>\n42\n</answer>";
    assert_true(fmt(c, 1, 0) == 1);
    assert_true(fmt(c, 0, 0) == 0);
    /* the model opened a second think block after the prefilled one */
    assert_true(fmt("<think>\na\n</think>\n<answer>\n42\n</answer>", 1, 0) == 0);
    /* the prefilled "<think>\n" needs its own content line before "\n</think>" */
    assert_true(fmt("</think>\n<answer>\n42\n</answer>", 1, 0) == 0);
    assert_true(fmt("\n</think>\n<answer>\n42\n</answer>", 1, 0) == 1);
}

static void test_format_loose(void **s) {
    (void)s;
    assert_true(fmt("<think>a</think> <answer>42</answer>", 0, 1) == 1);
    assert_true(fmt("<think>a</think> <answer>42</answer>", 0, 0) == 0);
    assert_true(fmt("  <think>\na\n</think>\n\n<answer>42</answer>\n\n", 0, 1) == 1);
    assert_true(fmt("<think>a</think><answer>42</answer> and more", 0, 1) == 0);
    assert_true(fmt("<think>a</think><think>b</think><answer>42</answer>", 0, 1) == 0);
    assert_true(fmt("a</think><answer>42</answer>", 1, 1) == 1);
}

static void test_format_long(void **s) {
    (void)s;
    size_t n = 1 << 20;
    char *t = malloc(n + 64);
    strcpy(t, "<think>\n");
    memset(t + 8, 'a', n);
    strcpy(t + 8 + n, "\n</think>\n<answer>\n42\n</answer>");
    assert_true(fmt(t, 0, 0) == 1);
    free(t);
}

/* ---- tag_count -------------------------------------------------------------------------- */

static void test_tag_count(void **s) {
    (void)s;
    assert_true(value(R1_RW_TAG_COUNT, "<think>\na\n</think>\n<answer>\n4\n</answer>", NULL) == 1);
    assert_true(value(R1_RW_TAG_COUNT, "<think>\na\n</think>\n<answer>\n4</answer>", NULL) == 0.75);
    assert_true(value(R1_RW_TAG_COUNT, "<think>a</think><answer>4</answer>", NULL) == 0);
    assert_true(value(R1_RW_TAG_COUNT, "<think>\n<think>\na\n</think>\n<answer>\n4\n</answer>",
                      NULL) == 0.75);
    assert_true(value(R1_RW_TAG_COUNT, "<answer>\n1\n</answer>\n<answer>\n2\n</answer>", NULL) ==
                0);
    assert_true(value(R1_RW_TAG_COUNT, "<think>\na\n</think>\n", NULL) == 0.5);
    /* the prefilled "<think>\n" counts */
    Ctx pre = {.prefilled = 1};
    assert_true(value(R1_RW_TAG_COUNT, "a\n</think>\n<answer>\n4\n</answer>", &pre) == 1);
}

/* ---- language --------------------------------------------------------------------------- */

static double lang(const char *text, const char *target) {
    Ctx c = {.lang = target};
    return value(R1_RW_LANGUAGE, text, &c);
}

static void test_language_english(void **s) {
    (void)s;
    /* We add and to get so is: 7 words; x is a variable, numbers are no words */
    const char *t =
        "<think>\nWe add 3 and 4 to get 7, so x is 7.\n</think>\n<answer>\n7\n</answer>";
    assert_true(lang(t, "en") == 1);
    assert_true(lang(t, "zh") == 0);
    /* accented Latin letters are Latin; Greek letters are math */
    assert_true(lang("<think>\nLet θ be the café angle\n</think>", "en") == 1);
}

static void test_language_chinese(void **s) {
    (void)s;
    /* 我们把和相加得到: 8 ideographs; 3 4 7 and the CJK punctuation count for nothing */
    const char *t = "<think>\n我们把3和4相加，得到7。\n</think>\n<answer>\n7\n</answer>";
    assert_true(lang(t, "zh") == 1);
    assert_true(lang(t, "en") == 0);
    /* \frac and \sqrt are commands, a and b variables: still all Chinese */
    assert_true(lang("<think>\n所以 \\frac{a}{b} 等于 \\sqrt{2}\n</think>", "zh") == 1);
}

static void test_language_mixed(void **s) {
    (void)s;
    /* 首先 然后: 4 ideographs; compute the sum check it: 5 English words */
    const char *t =
        "<think>\n首先 compute the sum, 然后 check it.\n</think>\n<answer>\n1\n</answer>";
    assert_near(lang(t, "zh"), 4.0 / 9.0, EPS);
    assert_near(lang(t, "en"), 5.0 / 9.0, EPS);
    /* a word of another script is in neither language */
    assert_near(lang("<think>\nпривет world\n</think>", "en"), 0.5, EPS);
    /* only the think block counts: the answer's words do not */
    assert_true(lang("<think>\n思考\n</think>\n<answer>\nthe answer\n</answer>", "zh") == 1);
    /* no think block: the whole completion (4 ideographs, 1 English word) */
    assert_near(lang("答案是 seven 七", "zh"), 4.0 / 5.0, EPS);
    /* no words at all */
    assert_true(lang("<think>\n1 + 2 = 3\n</think>", "en") == 0);
}

static void test_language_target(void **s) {
    (void)s;
    const char *t = "<think>\n我们 think\n</think>";
    Ctx c = {.question = "What is 1 + 1?"};
    assert_near(value(R1_RW_LANGUAGE, t, &c), 1.0 / 3.0, EPS); /* en from the question */
    c.question = "一加一等于几?";
    assert_near(value(R1_RW_LANGUAGE, t, &c), 2.0 / 3.0, EPS); /* zh from the question */
    c.meta = "{\"lang\": \"en\"}";
    assert_near(value(R1_RW_LANGUAGE, t, &c), 1.0 / 3.0, EPS); /* meta beats the script */
    c.meta = "{\"lang\": \"zh-CN\"}";
    assert_near(value(R1_RW_LANGUAGE, t, &c), 2.0 / 3.0, EPS);
    c.lang = "en";
    assert_near(value(R1_RW_LANGUAGE, t, &c), 1.0 / 3.0, EPS); /* opts beat the meta */
    c.lang = NULL, c.meta = "{\"lang\": \"fr\"}";
    assert_true(isnan(value(R1_RW_LANGUAGE, t, &c))); /* a language we cannot judge */
    c.meta = "{not json";
    assert_near(value(R1_RW_LANGUAGE, t, &c), 2.0 / 3.0, EPS); /* bad meta: ignored */
    Ctx pre = {.prefilled = 1, .lang = "zh"};
    assert_near(value(R1_RW_LANGUAGE, "中文 and\n</think>\n<answer>\nok\n</answer>", &pre),
                2.0 / 3.0, EPS);
}

/* ---- overlong --------------------------------------------------------------------------- */

static double over(int n_tokens, int max, int cache) {
    R1RewardOpts o;
    r1_reward_defaults(&o);
    memset(o.weight, 0, sizeof o.weight);
    o.weight[R1_RW_OVERLONG] = 1, o.max_tokens = max, o.overlong_cache = cache;
    Ctx c = {.n_tokens = n_tokens};
    R1RewardResult r = score_with(&o, "x", &c);
    return r.defined[R1_RW_OVERLONG] ? r.value[R1_RW_OVERLONG] : NAN;
}

static void test_overlong(void **s) {
    (void)s;
    assert_true(over(0, 1024, 256) == 0);
    assert_true(over(768, 1024, 256) == 0);
    assert_near(over(769, 1024, 256), -1.0 / 256, EPS);
    assert_near(over(896, 1024, 256), -0.5, EPS);
    assert_near(over(1023, 1024, 256), -255.0 / 256, EPS);
    assert_true(over(1024, 1024, 256) == -1);
    assert_true(over(5000, 1024, 256) == -1);
    assert_true(over(1024, 1024, 0) == 0); /* no soft zone: a cliff after the limit */
    assert_true(over(1025, 1024, 0) == -1);
    assert_true(isnan(over(-1, 1024, 256))); /* unknown length */
}

/* ---- repetition ------------------------------------------------------------------------- */

static void test_repetition(void **s) {
    (void)s;
    /* 5 x 6 words: 27 4-grams of which 6 distinct (the text has period 6) */
    char rep[256] = "";
    for (int i = 0; i < 5; i++)
        strcat(rep, i % 2 ? "The cat sat on the mat " : "the CAT sat on the mat\n");
    assert_near(value(R1_RW_REPETITION, rep, NULL), -(1 - 6.0 / 27), EPS);
    const char *varied = "First we add the two numbers, then we divide the sum by three and check "
                         "that the result is a whole number.";
    assert_true(value(R1_RW_REPETITION, varied, NULL) == 0);
    assert_true(value(R1_RW_REPETITION, "too few words", NULL) == 0);
    assert_true(value(R1_RW_REPETITION, "", NULL) == 0);
    /* each ideograph is a word: 我我我我我 has 2 4-grams, 1 distinct */
    assert_near(value(R1_RW_REPETITION, "我我我我我", NULL), -0.5, EPS);
}

/* ---- weights, options, totals ----------------------------------------------------------- */

static void test_weights(void **s) {
    (void)s;
    R1RewardOpts o;
    R1Err err;
    r1_reward_defaults(&o);
    assert_true(o.weight[R1_RW_ACCURACY] == 1 && o.weight[R1_RW_FORMAT] == 1);
    assert_true(o.weight[R1_RW_LANGUAGE] == 0 && o.max_tokens == 1024 && o.rep_ngram == 4);
    assert_int_equal(r1_reward_parse_weights(&o, " accuracy = 2 , language=0.1,", &err), 0);
    assert_true(o.weight[R1_RW_ACCURACY] == 2 && o.weight[R1_RW_LANGUAGE] == 0.1);
    assert_true(o.weight[R1_RW_FORMAT] == 0);
    static const struct {
        const char *spec, *needle;
    } bad[] = {{"accuracy=1,formt=1", "formt"},
               {"format=abc", "format"},
               {"format=abc", "abc"},
               {"accuracy", "accuracy"},
               {"accuracy=1,accuracy=2", "twice"},
               {"", "no rewards"},
               {"language=inf", "language"},
               {"overlong=", "overlong"},
               {"repetition=1x", "repetition"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = 0;
        assert_int_equal(r1_reward_parse_weights(&o, bad[i].spec, &err), -1);
        if (!strstr(err.msg, bad[i].needle)) fail_msg("'%s': '%s'", bad[i].spec, err.msg);
    }
    assert_true(o.weight[R1_RW_ACCURACY] == 2); /* unchanged by the failures */
    assert_string_equal(r1_reward_name(R1_RW_TAG_COUNT), "tag_count");
    assert_string_equal(r1_reward_name(R1_RW_REPETITION), "repetition");
}

static void test_rewarder_options(void **s) {
    (void)s;
    R1RewardOpts o;
    R1Err err;
    r1_reward_defaults(&o);
    o.lang = "fr";
    assert_null(r1_rewarder_new(&o, &err));
    assert_non_null(strstr(err.msg, "fr"));
    o.lang = NULL, o.max_tokens = 0;
    assert_null(r1_rewarder_new(&o, &err));
    o.max_tokens = 100, o.overlong_cache = 101;
    assert_null(r1_rewarder_new(&o, &err));
    o.overlong_cache = 10, o.rep_ngram = 0;
    assert_null(r1_rewarder_new(&o, &err));
    /* the rewarder keeps its own copy of lang */
    char lang[4] = "zh";
    o.rep_ngram = 4, o.lang = lang;
    R1Rewarder *r = r1_rewarder_new(&o, &err);
    strcpy(lang, "xx");
    assert_string_equal(r1_rewarder_opts(r)->lang, "zh");
    r1_rewarder_free(r);
}

static void test_total(void **s) {
    (void)s;
    R1RewardOpts o;
    R1Err err;
    r1_reward_defaults(&o);
    assert_int_equal(r1_reward_parse_weights(&o, "format=1,tag_count=0.5,language=-2", &err), 0);
    const char *t = "<think>\nwe think\n</think>\n<answer>\n4</answer>";
    Ctx c = {.lang = "en"};
    R1RewardResult r = score_with(&o, t, &c);
    assert_true(r.total_defined);
    assert_near(r.total, 0 + 0.5 * 0.75 - 2 * 1, EPS);
    assert_false(r.defined[R1_RW_ACCURACY]); /* weight 0: not computed */
    /* an undefined weighted reward makes the total undefined */
    c.lang = NULL, c.meta = "{\"lang\":\"fr\"}";
    r = score_with(&o, t, &c);
    assert_false(r.defined[R1_RW_LANGUAGE]);
    assert_false(r.total_defined);
    assert_true(isnan(r.total));
    /* ... and an undefined reward of weight 0 does not */
    o.weight[R1_RW_LANGUAGE] = 0;
    o.score_all = 1;
    r = score_with(&o, t, &c);
    assert_false(r.defined[R1_RW_LANGUAGE]);
    assert_true(r.defined[R1_RW_REPETITION]); /* score_all computes the rest */
    assert_true(r.total_defined);
    assert_near(r.total, 0.375, EPS);
}

/* ---- accuracy (mathans) ----------------------------------------------------------------- */

static void test_accuracy_math(void **s) {
    (void)s;
    const char *right = "<think>\n48 + 24 = 72\n</think>\n<answer>\nSo \\boxed{72}.\n</answer>";
    const char *wrong = "<think>\n48 + 22 = 70\n</think>\n<answer>\n\\boxed{70}\n</answer>";
    Ctx c = {.gold = "72"};
    assert_true(value(R1_RW_ACCURACY, right, &c) == 1);
    assert_true(value(R1_RW_ACCURACY, wrong, &c) == 0);
    assert_true(value(R1_RW_ACCURACY, "I do not know.", &c) == 0);
    /* an answer only inside the chain of thought does not count */
    assert_true(value(R1_RW_ACCURACY, "<think>\n\\boxed{72}\n</think>\nNo idea.", &c) == 0);
    c.gold = NULL;
    assert_true(isnan(value(R1_RW_ACCURACY, right, &c)));
    /* the total of the default weights follows */
    c.gold = "72";
    R1RewardResult r = score_kind(R1_RW_ACCURACY, right, &c);
    assert_true(r.total_defined && r.total == 1);
}

static void test_accuracy_explain(void **s) {
    (void)s;
    R1RewardOpts o;
    R1Err err;
    r1_reward_defaults(&o);
    R1Rewarder *r = r1_rewarder_new(&o, &err);
    const char *t = "<think>\nsum\n</think>\n<answer>\nThe total is \\boxed{72}.\n</answer>";
    R1RewardInput in = {t, strlen(t), 10, NULL, "72", NULL, 0};
    R1AccuracyInfo info;
    r1_reward_explain_accuracy(r, &in, &info);
    assert_int_equal(info.source, R1_SRC_BOXED);
    assert_string_equal(info.answer, "72");
    assert_int_equal(info.verdict, R1_EQ_YES);
    assert_false(info.countdown);
    r1_rewarder_free(r);
}

static void test_accuracy_countdown(void **s) {
    (void)s;
    Ctx c = {.meta = "{\"numbers\": [3, 5, 7], \"target\": 22}"};
    assert_true(
        value(R1_RW_ACCURACY, "<think>\nhm\n</think>\n<answer>\n3 * 5 + 7\n</answer>", &c) == 1);
    assert_true(
        value(R1_RW_ACCURACY, "<think>\nhm\n</think>\n<answer>\n3 + 5 + 7\n</answer>", &c) == 0);
    assert_true(
        value(R1_RW_ACCURACY, "<think>\nhm\n</think>\n<answer>\n5 * 5 - 3\n</answer>", &c) == 0);
    /* no answer block: the last line with an '=' after the chain of thought */
    assert_true(value(R1_RW_ACCURACY, "<think>\n3 + 5 = 8\n</think>\nSo:\n3*5+7 = 22\nDone.", &c) ==
                1);
    assert_true(value(R1_RW_ACCURACY, "<think>\n3*5+7 = 22\n</think>\nNo equation.", &c) == 0);
    /* the gold answer is not needed, numbers that are not integers make it undefined */
    c.gold = "something else";
    assert_true(value(R1_RW_ACCURACY, "<answer>\n7 + 5 * 3\n</answer>", &c) == 1);
    c.meta = "{\"numbers\": [3, 5.5, 7], \"target\": 22}";
    assert_true(isnan(value(R1_RW_ACCURACY, "<answer>\n3 * 5 + 7\n</answer>", &c)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_exact),
        cmocka_unit_test(test_format_broken),
        cmocka_unit_test(test_format_prefilled),
        cmocka_unit_test(test_format_loose),
        cmocka_unit_test(test_format_long),
        cmocka_unit_test(test_tag_count),
        cmocka_unit_test(test_language_english),
        cmocka_unit_test(test_language_chinese),
        cmocka_unit_test(test_language_mixed),
        cmocka_unit_test(test_language_target),
        cmocka_unit_test(test_overlong),
        cmocka_unit_test(test_repetition),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_rewarder_options),
        cmocka_unit_test(test_total),
        cmocka_unit_test(test_accuracy_math),
        cmocka_unit_test(test_accuracy_explain),
        cmocka_unit_test(test_accuracy_countdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
