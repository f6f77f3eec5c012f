/* test_nccl.c - the GPU's data-parallel path (gpu.h's NCCL calls) on one GPU:
 * a communicator of one rank made from our own unique id, the gradient
 * all-reduce after a real backward (a sum over one rank must leave every
 * gradient bit for bit as it was, and a step after it must equal a step
 * without it), then the all-reduce's time on the bench model's gradients
 * (bench/bench_model_config.json's shape), printed for the notes. N > 1 over
 * NCCL needs more than one GPU and is not tested here. Needs a GPU: run by
 * `make test-cuda`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "util.h"

static int n_ok, n_fail;

static void check(int ok, const char *name) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    ok ? n_ok++ : n_fail++;
}

static void die(const R1Err *e) {
    fprintf(stderr, "test_nccl: %s\n", e->msg);
    exit(2);
}

static void make_model(R1Model *m, int C, int L, int I, int V) {
    char json[768];
    snprintf(json, sizeof json,
             "{\"model_type\":\"qwen2\",\"hidden_size\":%d,\"num_hidden_layers\":%d,"
             "\"num_attention_heads\":8,\"num_key_value_heads\":2,\"intermediate_size\":%d,"
             "\"vocab_size\":%d,\"max_position_embeddings\":4096,\"rms_norm_eps\":1e-6,"
             "\"rope_theta\":10000.0,\"tie_word_embeddings\":false,\"initializer_range\":0.02,"
             "\"hidden_act\":\"silu\"}",
             C, L, I, V);
    R1Config c;
    R1Err err;
    if (r1_config_parse(&c, json, "test", &err) || r1_model_build(m, &c, "test", &err)) die(&err);
    r1_model_init_random(m, 7);
}

/* One forward and backward of a random batch of n sequences of len tokens;
 * the loss of the forward is checked against the CPU's on the same batch. */
static void fwd_bwd(R1Gpu *g, const R1Model *m, int n, int len) {
    int V = m->cfg.vocab;
    int T = n * len, *tok = malloc(sizeof(int) * T), *tgt = malloc(sizeof(int) * T);
    int *start = malloc(sizeof(int) * (n + 1));
    float *logp = malloc(sizeof(float) * T), loss;
    R1Rng rng;
    r1_rng_seed(&rng, 11);
    for (int t = 0; t < T; t++) tok[t] = (int)(r1_rng_u64(&rng) % V), tgt[t] = tok[t];
    for (int s = 0; s <= n; s++) start[s] = s * len;
    R1Batch b = {n, T, tok, start, tgt, 1, 1.0f};
    R1Err err;
    r1_gpu_zero_grad(g);
    if (r1_gpu_forward(g, &b, logp, &loss, NULL, &err) || r1_gpu_backward(g, &b, NULL, &err))
        die(&err);
    R1Acts a;
    r1_acts_init(&a);
    r1_model_forward((R1Model *)m, &a, &b);
    double rel = fabs(a.loss - loss) / fabs(a.loss);
    printf("     loss: gpu %.6f, cpu %.6f\n", loss, a.loss);
    check(rel <= 1e-2, "the GPU's loss is the CPU's within 1e-2 (bf16 weights)");
    r1_acts_free(&a);
    free(tok), free(tgt), free(start), free(logp);
}

/* A training step on a random batch, timed by the caller (synchronised by the
 * forward's copy of the log-probabilities back to the host). */
static void fwd_step(R1Gpu *g, const R1Model *m, int n, int len, R1AdamW *o) {
    int T = n * len, *tok = malloc(sizeof(int) * T), *start = malloc(sizeof(int) * (n + 1));
    float *logp = malloc(sizeof(float) * T), loss;
    for (int t = 0; t < T; t++) tok[t] = (int)((t * 2654435761u) % (unsigned)m->cfg.vocab);
    for (int s = 0; s <= n; s++) start[s] = s * len;
    R1Batch b = {n, T, tok, start, tok, 1, 1.0f};
    R1Err err;
    r1_gpu_zero_grad(g);
    if (r1_gpu_forward(g, &b, logp, &loss, NULL, &err) || r1_gpu_backward(g, &b, NULL, &err))
        die(&err);
    r1_gpu_adamw_step(g, o, 1e-4f);
    r1_gpu_get_state(g, NULL, NULL, NULL); /* waits for the stream */
    free(tok), free(start), free(logp);
}

static R1Gpu *upload(const R1Model *m) {
    R1Err err;
    R1Gpu *g = r1_gpu_new(m, 1, &err);
    if (!g) die(&err);
    return g;
}

int main(void) {
    R1Model m;
    make_model(&m, 512, 8, 1408, 32000); /* the bench model's shape */
    size_t n = m.table.total;
    R1Err err;
    unsigned char id[R1_NCCL_ID_BYTES];
    if (r1_gpu_select(0, &err) || r1_gpu_nccl_id(id, &err)) die(&err);
    R1Gpu *g = upload(&m), *h = upload(&m);
    if (r1_gpu_nccl_join(g, id, 0, 1, &err)) die(&err);
    fwd_bwd(g, &m, 4, 256);
    float *before = malloc(sizeof(float) * n), *after = malloc(sizeof(float) * n);
    r1_gpu_get_state(g, NULL, before, NULL);
    if (r1_gpu_allreduce_grads(g, &err)) die(&err);
    r1_gpu_get_state(g, NULL, after, NULL);
    check(memcmp(before, after, sizeof(float) * n) == 0,
          "all-reduce over one rank leaves every gradient bit as it was");
    int nonzero = 0;
    for (size_t i = 0; i < n && !nonzero; i++) nonzero = after[i] != 0;
    check(nonzero, "the gradients it carried are not all zero");

    /* a step after the all-reduce equals a step without it (h: no communicator) */
    fwd_bwd(h, &m, 4, 256);
    if (r1_gpu_allreduce_grads(h, &err)) die(&err); /* no communicator: does nothing */
    R1AdamW og, oh;
    r1_adamw_init(&og, &m.table, 0.9f, 0.95f, 1e-8f, 0.1f);
    r1_adamw_init(&oh, &m.table, 0.9f, 0.95f, 1e-8f, 0.1f);
    r1_gpu_adamw_step(g, &og, 1e-3f);
    r1_gpu_adamw_step(h, &oh, 1e-3f);
    R1Model mg, mh;
    make_model(&mg, 512, 8, 1408, 32000), make_model(&mh, 512, 8, 1408, 32000);
    r1_gpu_get_state(g, &mg, NULL, NULL), r1_gpu_get_state(h, &mh, NULL, NULL);
    check(memcmp(mg.params, mh.params, sizeof(float) * n) == 0,
          "AdamW after the all-reduce gives the same weights as without it");

    /* For the notes: a training step's time on this GPU (16 x 512 tokens:
     * forward, backward, AdamW) next to the all-reduce, which on one rank moves
     * nothing (NCCL returns at once); bench/dist/NOTES.md scales the bytes. */
    int reps = 5, T = 16 * 512;
    fwd_step(g, &m, 16, 512, &og); /* warm-up */
    double t0 = r1_now();
    for (int i = 0; i < reps; i++) fwd_step(g, &m, 16, 512, &og);
    double step_ms = (r1_now() - t0) / reps * 1e3;
    t0 = r1_now();
    for (int i = 0; i < reps; i++)
        if (r1_gpu_allreduce_grads(g, &err)) die(&err);
    double ar_ms = (r1_now() - t0) / reps * 1e3;
    printf("nccl: bench model, %zu parameters: a training step of %d tokens takes %.2f ms "
           "(%.0f tokens/s); the all-reduce of its %.1f MB of float32 gradients on 1 rank "
           "%.3f ms\n",
           n, T, step_ms, T / step_ms * 1e3, n * 4 / 1e6, ar_ms);
    r1_gpu_free(g), r1_gpu_free(h);
    r1_adamw_free(&og), r1_adamw_free(&oh);
    r1_model_free(&m), r1_model_free(&mg), r1_model_free(&mh);
    free(before), free(after);
    printf("test_nccl: %d passed, %d failed\n", n_ok, n_fail);
    return n_fail ? 1 : 0;
}
