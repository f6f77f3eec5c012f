/* fuzz_mathans.c - libFuzzer target for core/mathans.c (scripts/fuzz-mathans.sh).
 *
 * One input feeds all three entry points: the whole input (NUL bytes included) is a
 * completion for r1_answer_extract; split at the first NUL or tab it is a gold answer
 * and a prediction for r1_math_equal; the gold half is also an equation for
 * r1_countdown_check. Besides ASan + UBSan, the checks are: verdicts in range, an
 * extracted answer that is a NUL-terminated copy no longer than the input, a string
 * never unequal to itself, the same verdict twice (no hidden state), and an explanation
 * for every verdict. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mathans.h"

static void check(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "fuzz_mathans: %s\n", what);
        abort();
    }
}

static void fuzz_extract(const char *data, size_t size) {
    static const R1ExtractOpts opts[] = {{0, 0}, {1, 1}};
    for (int k = 0; k < 2; k++) {
        char *out = NULL;
        R1AnswerSource src = r1_answer_extract(data, size, &opts[k], &out);
        check(src >= R1_SRC_NONE && src <= R1_SRC_LAST_NUMBER, "extract: source out of range");
        check((src == R1_SRC_NONE) == (out == NULL), "extract: answer without a source");
        if (out) check(strlen(out) <= size + 1, "extract: answer longer than the input");
        free(out);
    }
}

static void fuzz_equal(const char *gold, const char *pred) {
    char why[256];
    R1Eq r = r1_math_equal(gold, pred, why, sizeof why);
    check(r >= R1_EQ_UNDEFINED && r <= R1_EQ_YES, "equal: verdict out of range");
    check(why[0] != 0, "equal: no explanation");
    check(r1_math_equal(gold, pred, NULL, 0) == r, "equal: not deterministic");
    check(r1_math_equal(gold, gold, NULL, 0) != R1_EQ_NO, "equal: a string unequal to itself");
    check(r1_math_equal(pred, pred, NULL, 0) != R1_EQ_NO, "equal: a string unequal to itself");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const long nums[] = {1, 2, 3, 4};
    fuzz_extract((const char *)data, size);
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    size_t k = 0;
    while (k < size && buf[k] && buf[k] != '\t') k++;
    const char *pred = k < size ? buf + k + 1 : "";
    buf[k] = 0;
    fuzz_equal(buf, pred);
    char why[128];
    int c = r1_countdown_check(buf, nums, 4, 24, why, sizeof why);
    check(c == 0 || c == 1, "countdown: result not 0/1");
    free(buf);
    return 0;
}
