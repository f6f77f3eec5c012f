/* bench_tokenizer - encode throughput of r1c's tokenizer on a corpus.
 *
 *   bench_tokenizer --tokenizer DIR --corpus FILE [--repeat N]
 *
 * FILE is UTF-8 text; each line (without its newline) is encoded on its own,
 * as the Hugging Face side of bench/run.sh does. Prints one JSON line with
 * MB/s of input (best of N passes, each starting with an empty cache) and the
 * token count of one pass. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

static double one_pass(const char *dir, const char *text, size_t len, long *tokens) {
    R1Err err;
    R1Tokenizer *t = r1_tok_load(dir, &err); /* fresh: the merge cache starts empty */
    if (!t) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        exit(1);
    }
    R1Ids ids = {0};
    *tokens = 0;
    double t0 = r1_now();
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        ids.n = 0;
        if (r1_tok_encode(t, text + i, end - i, &ids, &err) != 0) {
            fprintf(stderr, "bench_tokenizer: corpus byte %zu: %s\n", i, err.msg);
            exit(1);
        }
        *tokens += ids.n;
        i = end + 1;
    }
    double dt = r1_now() - t0;
    r1_ids_free(&ids);
    r1_tok_free(t);
    return dt;
}

int main(int argc, char **argv) {
    const char *dir = NULL, *corpus = NULL;
    int repeat = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--tokenizer"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--corpus"))
            corpus = argv[i + 1];
        else if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
    }
    if (!dir || !corpus || repeat < 1) {
        fprintf(stderr, "usage: bench_tokenizer --tokenizer DIR --corpus FILE [--repeat N]\n");
        return 2;
    }
    R1Err err;
    size_t len;
    char *text = r1_read_file(corpus, &len, &err);
    if (!text) return fprintf(stderr, "bench_tokenizer: %s\n", err.msg), 1;
    double best = 1e30;
    long tokens = 0;
    for (int r = 0; r < repeat; r++) {
        double dt = one_pass(dir, text, len, &tokens);
        best = dt < best ? dt : best;
    }
    const char *name = strrchr(dir, '/') && strrchr(dir, '/')[1] ? strrchr(dir, '/') + 1 : dir;
    printf("{\"impl\":\"r1c\",\"tokenizer\":\"%s\",\"mb_s\":%.2f,\"tokens\":%ld,\"bytes\":%zu}\n",
           name, len / best / 1e6, tokens, len);
    free(text);
    return 0;
}
