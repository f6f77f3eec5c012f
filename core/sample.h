/* sample.h - choosing the next token from a row of logits.
 *
 * Contract:
 *   - temperature 0 is greedy: the lowest id among the largest logits, no
 *     random draw. Otherwise the distribution is softmax(logits / T), cut to the
 *     top_k most likely tokens (top_k <= 0: no cut), then to the smallest set of
 *     most likely tokens whose probability reaches top_p (renormalised over what
 *     top-k kept, as transformers and vLLM do; top_p >= 1: no cut), and one token
 *     is drawn with one uniform number from the caller's generator.
 *   - The log-probability returned is that of the chosen token under the full,
 *     untruncated softmax(logits / T) (T = 1 when greedy): it is what a trainer
 *     recomputes from the model, so the GRPO ratio is 1 on-policy.
 *   - Ties are broken by the lower id, so the result depends only on the logits,
 *     the options and the generator state, never on memory layout or threads.
 *   - An R1Sampler owns scratch for one vocabulary size; use one per thread. */
#ifndef R1_SAMPLE_H
#define R1_SAMPLE_H

#include <stdint.h>

#include "rng.h"

typedef struct {
    float temperature; /* 0: greedy */
    float top_p;       /* in (0, 1]; 1: off */
    int top_k;         /* <= 0: off */
} R1SampleOpts;

typedef struct {
    int V;
    double *p;  /* [V] unnormalised probabilities */
    void *cand; /* [V] (probability, id) pairs for the top-k / top-p cuts */
} R1Sampler;

void r1_sampler_init(R1Sampler *s, int V);
void r1_sampler_free(R1Sampler *s);
/* Returns the chosen id; *logprob gets its log-probability (see above). */
int r1_sample(R1Sampler *s, const float *logits, const R1SampleOpts *o, R1Rng *rng, float *logprob);

/* A generator seed for one sequence from independent parts (run seed, step,
 * prompt, sample), so each sequence has its own stream whatever the order in
 * which sequences are decoded. */
uint64_t r1_seq_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

#endif
