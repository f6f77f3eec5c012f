/* generate.h - sampling G completions for each of a list of prompts.
 *
 * Contract:
 *   - Every prompt is prefilled once; its G samples continue it in slots of a
 *     KV cache (decode.h). Up to `batch` sequences decode together; a finished
 *     sequence leaves the batch at once and the next waiting (prompt, sample)
 *     takes its slot, so one long completion does not hold the others.
 *   - Sequence (p, g) draws from its own generator, seeded from (seed, step,
 *     prompt key p, g), and the CPU decoder's rows are batch-invariant, so on
 *     the CPU the completions are byte-identical whatever `batch` is.
 *   - A completion ends at an EOS id (kept as its last token), when its text
 *     contains a stop string (the token completing it is kept, so the text ends
 *     with the stop string plus whatever else that token held), after max_new
 *     tokens, or when prompt + completion fill the context; the first two
 *     finish with `stopped` set, the others are truncations.
 *   - text is the completion's ids decoded without special tokens, bytes that
 *     do not form UTF-8 replaced by U+FFFD as Hugging Face decode does (ids the
 *     tokenizer does not know, possible when the model's vocabulary is padded,
 *     add nothing). With no tokenizer (benchmarks) text stays empty and stop
 *     strings cannot match.
 *   - The logprobs are those of sample.h: the full softmax(logits / T). A
 *     non-finite logit is an error naming the prompt, sample and position.
 *   - With opts.gpu the model runs on that GPU (gpu.h): the KV cache and the
 *     logits stay there and, without a top-k / top-p cut, so does sampling (the
 *     same rule as sample.h's, fed one uniform per token from the sequence's
 *     generator when temperature > 0, none when greedy); with a cut the rows
 *     come to the host for sample.h. The schedule is the CPU's. Completions are
 *     reproducible for the same seed, batch and GPU, but not byte-identical
 *     across batch sizes (cuBLAS picks kernels by shape, and those round
 *     differently) nor to the CPU's (bf16 weights); temperature-0 rollouts
 *     match the CPU's tokens where the model's top logits are not near-ties.
 *     The GPU's cache is allocated on the GPU (r1_generate_cache_bytes is the
 *     CPU's figure); r1_generate fails (-1, err set) when it cannot be made. */
#ifndef R1_GENERATE_H
#define R1_GENERATE_H

#include <stdint.h>

#include "model.h"
#include "sample.h"
#include "tokenizer.h"

struct R1Gpu; /* gpu.h */

typedef struct {
    R1SampleOpts sample;
    int max_new;             /* M: most completion tokens */
    const char *const *stop; /* stop strings */
    int n_stop;
    const int *eos; /* token ids that end a completion */
    int n_eos;
    uint64_t seed;
    long step;          /* part of every sequence's seed */
    int batch;          /* sequences decoded together (>= 1) */
    int prefill_tokens; /* most prompt tokens per prefill call (<= 0: 4096) */
    struct R1Gpu *gpu;  /* NULL: decode on the CPU; else on this GPU model (gpu.h), made
                           from the same model as r1_generate's m */
} R1GenOpts;

typedef struct {
    int n_prompts, group;  /* G samples of each prompt */
    const int *const *ids; /* ids[p][0 .. lens[p]) */
    const int *lens;
    const int64_t *keys; /* a stable key per prompt for the seeds (its database id) */
} R1GenRequest;

typedef struct {
    int prompt, sample;
    int *ids;
    float *logprobs;
    int n;
    char *text;
    size_t text_len;
    int stopped; /* 1: EOS or stop string ("stop"); 0: a limit ("length") */
} R1Completion;

/* Called after every token of every sequence (for streaming and progress) with
 * the text it added; finished is 1 on a sequence's last token. */
typedef void (*R1GenTokenFn)(void *ctx, const R1Completion *c, const char *new_text, size_t new_len,
                             int finished);

/* Longest prompt, and the bytes of KV cache r1_generate will allocate. */
size_t r1_generate_cache_bytes(const R1Config *c, const R1GenRequest *r, const R1GenOpts *o);

/* Fills out[p * group + g] for every prompt p and sample g (free each with
 * r1_completion_free). Prompts must be 1 .. max_position_embeddings - 1 tokens. */
int r1_generate(const R1Model *m, const R1Tokenizer *tok, const R1GenRequest *r, const R1GenOpts *o,
                R1Completion *out, R1GenTokenFn fn, void *ctx, R1Err *err);
void r1_completion_free(R1Completion *c);

#endif
