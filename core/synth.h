/* synth.h - generated reasoning tasks with exact gold answers, and the small
 * exact evaluator that checks them (and, later, a model's answers to them).
 *
 * Tasks (the names are the dataset suffix: "synth/arith", "synth/countdown",
 * "synth/chain"):
 *   arith      level 1: a + b or a - b, operands 1..99, result >= 0
 *              level 2: a + b, a - b or a * b, operands 10..999
 *              level 3: 3-4 operands with +, -, *, / and parentheses; sums over
 *                       100..9999, factors and divisors 2..99, every / exact
 *              level 4: multi-step word problems (2-3 operations), every step >= 0
 *   chain      a running total, worked one operation per line: level 1: four
 *              digits 1..9 added; level 2: five digits with + and -; level 3:
 *              four numbers 10..99 with + and -; every partial result >= 0.
 *              The solution rewrites the expression once per operation
 *              ("left to right: 9 + 4 + 1\n= 13 + 1\n= 14"; zh 从左往右算), so
 *              reasoning tokens help: each line is one small sum, while the
 *              answer alone needs them all at once.
 *   countdown  reach a target from 3 (level 1) or 4 (levels 2, 3) numbers with
 *              + - * /, each number exactly once; generated from a random
 *              expression tree, so a solution always exists, and every
 *              intermediate result is a positive integer
 * Each task is worded in English or Chinese from several templates.
 *
 * Contract: generation draws only from the caller's R1Rng, so the same seed gives
 * the same tasks on every machine; answers are computed with 64-bit integers,
 * checked for overflow, and re-checked by evaluating the expression text. */
#ifndef R1_SYNTH_H
#define R1_SYNTH_H

#include <stdint.h>

#include "rng.h"
#include "util.h"

typedef enum { R1_SYNTH_ARITH, R1_SYNTH_COUNTDOWN, R1_SYNTH_CHAIN, R1_SYNTH_NTASKS } R1SynthTask;
typedef enum { R1_SYNTH_EN, R1_SYNTH_ZH, R1_SYNTH_MIXED } R1SynthLang;

#define R1_SYNTH_MAX_NUMS 16

typedef struct {
    R1SynthTask task;
    int level;        /* 1 .. r1_synth_levels(task) */
    R1SynthLang lang; /* EN or ZH: MIXED is resolved per task */
    int template_id;  /* which wording of the level's language */
    char *question;
    char *answer;   /* arith: the integer; countdown: one valid equation */
    char *solution; /* "EXPR = VALUE"; chain: one line per step */
    char *meta;     /* JSON object: task, level, lang, template, numbers, ... */
    char *expr;     /* ASCII (+ - * / parentheses): arith what is computed, countdown the answer */
    int64_t value;  /* arith: the answer; countdown: the target */
    int nnums;
    int64_t nums[R1_SYNTH_MAX_NUMS]; /* arith: expr's operands in order; countdown: as asked */
} R1SynthItem;

const char *r1_synth_task_name(R1SynthTask t);
int r1_synth_task_parse(const char *name); /* -1 when unknown */
const char *r1_synth_lang_name(R1SynthLang l);
int r1_synth_lang_parse(const char *name); /* "en", "zh", "mixed"; -1 when unknown */
int r1_synth_levels(R1SynthTask t);        /* the highest level */

/* Generates one task into *it (free with r1_synth_item_free). level 0 draws a
 * level uniformly per task. Fails only on bad arguments (or, never seen, when
 * no draw satisfies the task's bounds). */
int r1_synth_generate(R1SynthTask task, int level, R1SynthLang lang, R1Rng *rng, R1SynthItem *it,
                      R1Err *err);
void r1_synth_item_free(R1SynthItem *it);

/* The exact value of an expression over non-negative integer literals with
 * + - * / (also × ÷ −) and parentheses, in rationals, so "(3 / 4) * 8" is 6.
 * No unary minus: Countdown's numbers and the generated operands are positive. */
typedef struct {
    int64_t num, den; /* reduced, den > 0 */
    int nleaves;      /* literals in the text; the first R1_SYNTH_MAX_NUMS are kept */
    int64_t leaves[R1_SYNTH_MAX_NUMS];
    int negative_step; /* some intermediate result was < 0 */
    int fraction_step; /* some intermediate result was not an integer */
} R1SynthValue;

int r1_synth_eval(const char *expr, R1SynthValue *v, R1Err *err);

/* A cold-start response to an arith task (synth_cot.c), in the R1 output format:
 * "<think>\n" + a worked chain of thought in the task's language, one small step
 * per line (each + and - splits its second operand into place values, each * adds
 * partial products, the remaining expression is rewritten after each operation) +
 * "\n</think>\n<answer>\n" + a one-line summary ending in \boxed{value} +
 * "\n</answer>". Every number is recomputed and the result checked against
 * it->value. NULL with err set for other tasks (caller frees the text). */
char *r1_synth_cold_start(const R1SynthItem *it, R1Err *err);

#endif
