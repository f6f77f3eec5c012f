/* reward.h - the rule-based rewards of DeepSeek-R1(-Zero), and their weighted sum.
 *
 * Each reward maps (completion, gold answer, prompt meta) to a value, or to
 * "undefined" (stored as NULL, left out of advantages) when it cannot be judged:
 *   accuracy    1/0: r1_answer_extract + r1_math_equal (mathans.h); for countdown
 *               prompts (meta has "numbers" and "target") r1_countdown_check instead,
 *               on the extracted answer or, when there is none, the last line with an
 *               '=' (after </think>). Undefined when the gold answer cannot be parsed
 *               (or is NULL), or when the countdown numbers are not integers.
 *   format      1/0: the completion (with the prompt's prefilled "<think>\n" put back
 *               in front) matches the R1 pattern
 *               ^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$ (DOTALL), or the
 *               looser "<think>.*?</think>\s*<answer>.*?</answer>" (opts.format_loose;
 *               whitespace allowed around it, nothing else); exactly one think block
 *               and one answer block, else 0. As in Python's re without MULTILINE, $
 *               also matches before one final newline.
 *   tag_count   0..1: a quarter for each of <think>\n, \n</think>\n, <answer>\n and
 *               \n</answer> appearing exactly once (non-overlapping, as str.count).
 *   language    R1's language consistency: words of the target language / all words,
 *               in the think block (the whole completion when there is none). For
 *               "zh" each CJK ideograph (U+4E00-9FFF, 3400-4DBF, F900-FAFF,
 *               20000-2FA1F) counts as a word; for "en" words are runs of Latin
 *               letters. Neither digits, punctuation (CJK punctuation included) nor
 *               math count: a one-letter run (x, n) is a variable, a run after a
 *               backslash is a LaTeX command, and Greek letters are symbols. Runs of
 *               letters of any other script are words of neither language. No words
 *               at all gives 0. The target comes from opts.lang, else the prompt
 *               meta "lang" ("en", "zh", "zh-CN", ...; another language: undefined),
 *               else from the question's script (any CJK ideograph: zh, else en).
 *   overlong    DAPO's soft overlong penalty: 0 up to max_tokens - cache, then
 *               linearly down to -1 at max_tokens (and -1 beyond).
 *   repetition  minus the share of repeated n-grams (n = opts.rep_ngram) of the
 *               completion's words (as open-r1: whitespace-separated, ASCII lowercased;
 *               each CJK ideograph is a word), 0 for no repetition or fewer than n words.
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
    int score_all;      /* also compute the rewards of weight 0 (total still uses weights) */
    const char *lang;   /* "en", "zh" or NULL (from the prompt) */
    int max_tokens;     /* overlong: the generation limit */
    int overlong_cache; /* overlong: length of the soft zone (tokens) */
    int rep_ngram;      /* repetition: n-gram size (default 4) */
    R1ExtractOpts extract;
} R1RewardOpts;

typedef struct {
    const char *completion; /* the generated text */
    size_t len;
    int n_tokens;         /* completion tokens (for overlong; < 0: unknown, undefined) */
    const char *question; /* the prompt's question (language guess) */
    const char *gold;     /* gold answer text, or NULL */
    const char *meta;     /* the prompt's meta JSON, or NULL */
    int prefilled_think;  /* the prompt ended with "<think>\n" */
} R1RewardInput;

/* value[k] is NAN where defined[k] is 0, and for rewards that were not computed
 * (weight 0 without score_all: defined[k] is 0 for them too). */
typedef struct {
    double value[R1_RW_COUNT];
    int defined[R1_RW_COUNT];
    double total;
    int total_defined;
} R1RewardResult;

/* Defaults: accuracy=1, format=1, everything else 0; max_tokens 1024, cache 256,
 * rep_ngram 4, no fallbacks beyond boxed / answer tag / ####. */
void r1_reward_defaults(R1RewardOpts *o);
/* Parses "accuracy=1,format=1,language=0.1" into o->weight (others become 0).
 * An unknown name, a repeated name or a weight that is not a finite number is an
 * error that names it; o is then left unchanged. */
int r1_reward_parse_weights(R1RewardOpts *o, const char *spec, R1Err *err);
const char *r1_reward_name(R1RewardKind k);

/* A scorer built from options: it holds the compiled format pattern (PCRE2, JIT),
 * so that each completion costs a match and not a compilation. The options are
 * copied (lang too). It is read-only once built: r1_reward_score may run on many
 * threads at once with one rewarder. new fails (NULL, err set) on a language
 * other than en/zh, max_tokens < 1, a cache outside [0, max_tokens] or
 * rep_ngram < 1. */
typedef struct R1Rewarder R1Rewarder;
R1Rewarder *r1_rewarder_new(const R1RewardOpts *o, R1Err *err);
void r1_rewarder_free(R1Rewarder *r);
const R1RewardOpts *r1_rewarder_opts(const R1Rewarder *r);

/* Scores one completion: every reward with a non-zero weight (all of them with
 * score_all), and total. */
/* For a completion whose rollout did not record what the prompt prefilled: 1 when
 * it closes a think block it never opened (it continued a prefilled "<think>\n";
 * leading blanks are skipped, as r1-zero's completions start " <think>"). */
int r1_reward_looks_prefilled(const char *text, size_t len);

void r1_reward_score(const R1Rewarder *r, const R1RewardInput *in, R1RewardResult *out);

/* What the accuracy reward saw (r1-reward explain): the answer it judged, where
 * it came from, and the verdict with its reason. */
typedef struct {
    R1AnswerSource source; /* R1_SRC_NONE: no answer found */
    int equation_line;     /* countdown: taken from the last line with an '=' */
    int countdown;         /* judged by r1_countdown_check (meta numbers/target) */
    R1Eq verdict;
    char answer[256]; /* the extracted answer, cut for display */
    char why[256];
} R1AccuracyInfo;
void r1_reward_explain_accuracy(const R1Rewarder *r, const R1RewardInput *in, R1AccuracyInfo *info);

#endif
