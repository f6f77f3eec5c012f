/* mathans.h - final answers: finding one in a completion, and deciding whether
 * two answers are mathematically the same. The accuracy reward is built on this.
 *
 * Contract:
 *   - r1_answer_extract looks, in order, for the last \boxed{...} (or \fbox{...})
 *     with balanced braces, else the content of the last <answer>...</answer>, else a
 *     GSM8K-style "#### N", else (when enabled) "the answer is X" phrases, else (when
 *     enabled) the last number in the text. Only text after the last </think> is
 *     searched when the completion has one (an answer inside the chain of thought
 *     does not count), unless the text has no </think> at all.
 *   - r1_math_equal parses both sides (LaTeX-ish: \frac \dfrac \tfrac and \frac12,
 *     \sqrt, \pi, \cdot \times \div, ^, implicit products, mixed numbers, percent,
 *     degrees, units, \text{}, $, thousands separators, decimal commas, scientific
 *     notation, tuples, intervals, sets, "x = 5", multiple-choice letters) and
 *     compares: numbers with relative tolerance R1_MATH_RTOL (1e-6, absolute 1e-9
 *     near zero), expressions with free variables by evaluation at random points,
 *     tuples and intervals in order (with their brackets), sets in any order.
 *     A gold answer that cannot be parsed gives R1_EQ_UNDEFINED (the reward is then
 *     NULL), never "not equal" -- unless the prediction is the same text after
 *     normalisation (words: "\text{Monday}" vs "Monday"). An unparsable prediction
 *     is simply not equal. Every rule chosen is listed in core/mathans.c.
 *   - Nothing here allocates without bound or recurses without a depth limit: any
 *     input, including 1 MB of braces, finishes in well under a millisecond per KB.
 *   - `why`, when not NULL, receives a one-line explanation (r1-reward explain). */
#ifndef R1_MATHANS_H
#define R1_MATHANS_H

#include <stddef.h>

#define R1_MATH_RTOL 1e-6

typedef enum {
    R1_SRC_NONE = 0,
    R1_SRC_BOXED,
    R1_SRC_ANSWER_TAG,
    R1_SRC_HASHES,
    R1_SRC_PHRASE,
    R1_SRC_LAST_NUMBER
} R1AnswerSource;

typedef struct {
    int phrase;      /* "the answer is X", "答案是 X" */
    int last_number; /* the last number in the text */
} R1ExtractOpts;

/* Finds the final answer in text[0..n). Returns its source (R1_SRC_NONE if none)
 * and a fresh NUL-terminated copy in *out (caller frees; NULL when none).
 * o == NULL means no phrase and no last-number fallbacks. */
R1AnswerSource r1_answer_extract(const char *text, size_t n, const R1ExtractOpts *o, char **out);
const char *r1_answer_source_name(R1AnswerSource s);

typedef enum { R1_EQ_UNDEFINED = -1, R1_EQ_NO = 0, R1_EQ_YES = 1 } R1Eq;

R1Eq r1_math_equal(const char *gold, const char *pred, char *why, size_t why_len);

/* Countdown: does `equation` use each of numbers[0..n) exactly once (and no
 * other number) with + - * / and parentheses, and evaluate exactly to target?
 * (Exact rational arithmetic; "= target" at the end is allowed.) */
int r1_countdown_check(const char *equation, const long *numbers, int n, long target, char *why,
                       size_t why_len);

#endif
