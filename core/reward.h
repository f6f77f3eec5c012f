/* reward.h - the rule-based rewards of DeepSeek-R1(-Zero), and their weighted sum.
 *
 * Each reward maps (completion, gold answer, prompt meta) to a value, or to
 * "undefined" (stored as NULL, left out of advantages) when it cannot be judged:
 *   accuracy    1/0: r1_answer_extract + r1_math_equal (mathans.h); for countdown
 *               prompts (meta has "numbers" and "target") r1_countdown_check instead.
 *               Undefined when the gold answer cannot be parsed.
 *   format      1/0: the completion (with the prompt's prefilled "<think>\n" put back
 *               in front) matches the R1 pattern
 *               ^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$ (DOTALL), or the
 *               looser "<think>.*?</think>\s*<answer>.*?</answer>" (opts.format_loose);
 *               exactly one think block and one answer block, else 0.
 *   tag_count   0..1: a quarter for each of <think>\n, \n</think>\n, <answer>\n and
 *               \n</answer> appearing exactly once.
 *   language    R1's language consistency: words of the target language / all words,
 *               in the think block (the whole completion when there is none). For
 *               "zh" each CJK character counts as a word; for "en" words are runs of
 *               Latin letters. The target comes from opts.lang, else the prompt meta
 *               "lang", else from the question's script.
 *   overlong    DAPO's soft overlong penalty: 0 up to max_tokens - cache, then
 *               linearly down to -1 at max_tokens (and -1 beyond).
 *   repetition  minus the share of repeated n-grams (n = opts.rep_ngram) of the
 *               completion's words, 0 for no repetition.
 * total is the weighted sum of the rewards with a non-zero weight; it is undefined
 * when any weighted reward is. Weights are parsed from "accuracy=1,format=1,...". */
#ifndef R1_REWARD_H
#define R1_REWARD_H

#include <stddef.h>

#include "mathans.h"
#include "util.h"

typedef enum {
    R1_RW_ACCURACY = 0,
    R1_RW_FORMAT,
    R1_RW_TAG_COUNT,
    R1_RW_LANGUAGE,
    R1_RW_OVERLONG,
    R1_RW_REPETITION,
    R1_RW_COUNT
} R1RewardKind;

typedef struct {
    double weight[R1_RW_COUNT];
    int format_loose;
    const char *lang;     /* "en", "zh" or NULL (from the prompt) */
    int max_tokens;       /* overlong: the generation limit */
    int overlong_cache;   /* overlong: length of the soft zone (tokens) */
    int rep_ngram;        /* repetition: n-gram size (default 4) */
    R1ExtractOpts extract;
} R1RewardOpts;

typedef struct {
    const char *completion; /* the generated text */
    size_t len;
    int n_tokens;           /* completion tokens (for overlong) */
    const char *question;   /* the prompt's question (language guess) */
    const char *gold;       /* gold answer text, or NULL */
    const char *meta;       /* the prompt's meta JSON, or NULL */
    int prefilled_think;    /* the prompt ended with "<think>\n" */
} R1RewardInput;

typedef struct {
    double value[R1_RW_COUNT];
    int defined[R1_RW_COUNT];
    double total;
    int total_defined;
} R1RewardResult;

/* Defaults: accuracy=1, format=1, everything else 0; max_tokens 1024, cache 256,
 * rep_ngram 4, no fallbacks beyond boxed / answer tag / ####. */
void r1_reward_defaults(R1RewardOpts *o);
/* Parses "accuracy=1,format=1,language=0.1" into o->weight (others become 0). */
int r1_reward_parse_weights(R1RewardOpts *o, const char *spec, R1Err *err);
const char *r1_reward_name(R1RewardKind k);
/* Scores one completion: every reward with a non-zero weight, and total. */
void r1_reward_score(const R1RewardOpts *o, const R1RewardInput *in, R1RewardResult *out);

#endif
