/* fuzz_tokenizer.c - libFuzzer target for the encoder (make fuzz).
 *
 * The first input byte picks one of the tokenizers named by R1_FUZZ_TOKENIZERS
 * (colon-separated directories); the rest is the text. Invalid UTF-8 must be
 * refused, valid text must encode, decode back (exactly, for tokenizers without
 * a normalizer) and stream-decode to the same bytes. Built with ASan + UBSan, so
 * any out-of-bounds access or undefined behaviour also stops the run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "tok_internal.h"

#define MAX_TOKENIZERS 4

static R1Tokenizer *toks[MAX_TOKENIZERS];
static int n_toks;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *env = getenv("R1_FUZZ_TOKENIZERS");
    if (!env) {
        fprintf(stderr, "fuzz_tokenizer: set R1_FUZZ_TOKENIZERS=DIR[:DIR...]\n");
        exit(2);
    }
    char *dirs = r1_xstrdup(env);
    for (char *d = strtok(dirs, ":"); d && n_toks < MAX_TOKENIZERS; d = strtok(NULL, ":")) {
        R1Err err;
        if (!(toks[n_toks++] = r1_tok_load(d, &err))) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
            exit(2);
        }
    }
    free(dirs);
    return 0;
}

static int valid_utf8(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int k = r1_utf8_len(s + i, n - i);
        if (!k) return 0;
        i += (size_t)k;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size < 1 || n_toks == 0) return 0;
    R1Tokenizer *t = toks[data[0] % n_toks];
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    R1Ids ids = {0};
    R1Err err;
    int rc = r1_tok_encode(t, text, n, &ids, &err);
    if (rc != 0) {
        if (valid_utf8(data + 1, n)) abort(); /* valid text must encode */
        return 0;
    }
    size_t len, slen = 0, scap = 0;
    char *back = r1_tok_decode(t, ids.ids, ids.n, 0, &len, &err), *streamed = NULL;
    if (!back) abort();
    if (!t->nfc && (len != n || memcmp(back, text, n) != 0)) abort(); /* round trip */
    R1TokStream st;
    r1_tok_stream_init(&st);
    for (int i = 0; i < ids.n; i++)
        if (r1_tok_stream_push(t, &st, ids.ids[i], &streamed, &slen, &scap, &err)) abort();
    r1_tok_stream_finish(&st, &streamed, &slen, &scap);
    if (slen != len || (len && memcmp(streamed, back, len) != 0)) abort();
    free(back);
    free(streamed);
    r1_ids_free(&ids);
    return 0;
}
