/* test_cuda_model.c - the whole model on the GPU (gpu.h) against the CPU float32
 * path (model.h, decode.h, generate.h) on the same weights, rounded to bf16
 * first so only the activations' precision differs.
 *
 * Tolerances (relative L2 error, ||gpu - cpu|| / ||cpu||), bf16 expectations:
 *   logits and log-probabilities <= 5e-3; every parameter's gradient <= 1e-2
 *   (one shape has a wider, stated bound: see main);
 *   AdamW and the gradient norm on identical gradients <= 1e-6.
 * Non-finite values never pass; outputs are poisoned before each run; runs
 * repeated on the same inputs must give the same bits. Needs a GPU: run by
 * `make test-cuda`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "gpu.h"
#include "model.h"
#include "optim.h"
#include "rng.h"

static int n_ok, n_fail;

static void report(int ok, const char *name, const char *fmt, double v, double tol) {
    printf("%s %-44s ", ok ? "ok  " : "FAIL", name);
    printf(fmt, v);
    printf(" (tol %.1e)\n", tol);
    ok ? n_ok++ : n_fail++;
}

/* Relative L2 error; infinity when gpu has a non-finite value where ref does not. */
static double relerr(const float *gpu, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(gpu[i]) && isfinite(ref[i])) return INFINITY;
        double e = (double)gpu[i] - ref[i];
        num += e * e, den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void check_rel(const char *name, const float *gpu, const float *ref, size_t n, double tol) {
    double e = relerr(gpu, ref, n);
    report(e <= tol, name, "relerr %.3e", e, tol);
}

static float bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

static void poison(float *x, size_t n) {
    memset(x, 0xff, sizeof(float) * n);
}

/* A random model of the given shape, weights rounded to bf16, biases nonzero.
 * Weights of standard deviation 0.5 / sqrt(hidden) keep attention scores and
 * logits of order one, as in trained models: with much larger ones the
 * softmaxes saturate and any rounding of q or k flips them. */
static void make_model(R1Model *m, const char *type, int C, int L, int H, int KV, int I, int V,
                       int tied, uint64_t seed) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"model_type\":\"%s\",\"hidden_size\":%d,\"num_hidden_layers\":%d,"
             "\"num_attention_heads\":%d,\"num_key_value_heads\":%d,\"intermediate_size\":%d,"
             "\"vocab_size\":%d,\"max_position_embeddings\":1024,\"rms_norm_eps\":1e-6,"
             "\"rope_theta\":10000.0,\"tie_word_embeddings\":%s,\"initializer_range\":%g,"
             "\"hidden_act\":\"silu\"}",
             type, C, L, H, KV, I, V, tied ? "true" : "false", 0.5 / sqrt((double)C));
    R1Config c;
    R1Err err;
    if (r1_config_parse(&c, json, "test", &err) || r1_model_build(m, &c, "test", &err)) {
        fprintf(stderr, "test_cuda_model: %s\n", err.msg);
        exit(2);
    }
    r1_model_init_random(m, seed);
    R1Rng rng;
    r1_rng_seed(&rng, seed + 1);
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        float *x = m->params + p->offset;
        if (strstr(p->name, "bias"))
            for (size_t j = 0; j < p->numel; j++) x[j] = 0.2f * (float)r1_rng_normal(&rng);
        if (strstr(p->name, "norm")) /* not all ones, so a wrong weight index shows */
            for (size_t j = 0; j < p->numel; j++) x[j] = 1.0f + 0.3f * (float)r1_rng_normal(&rng);
    }
    for (size_t j = 0; j < m->table.total; j++) m->params[j] = bf16_round(m->params[j]);
}

typedef struct {
    int n_seqs, T;
    int *tokens, *start, *targets;
    float *dlogp;
} Batch;

static void make_batch(Batch *b, const int *lens, int n_seqs, int V, uint64_t seed) {
    R1Rng rng;
    r1_rng_seed(&rng, seed);
    b->n_seqs = n_seqs, b->T = 0;
    for (int s = 0; s < n_seqs; s++) b->T += lens[s];
    b->tokens = malloc(sizeof(int) * b->T), b->targets = malloc(sizeof(int) * b->T);
    b->start = malloc(sizeof(int) * (n_seqs + 1)), b->dlogp = malloc(sizeof(float) * b->T);
    for (int s = 0, t = 0; s < n_seqs; s++) {
        b->start[s] = t;
        for (int j = 0; j < lens[s]; j++, t++) {
            b->tokens[t] = (int)(r1_rng_u64(&rng) % (uint64_t)V);
            /* the first third of each sequence is "prompt": no target */
            b->targets[t] = j < lens[s] / 3 ? -1 : (int)(r1_rng_u64(&rng) % (uint64_t)V);
            b->dlogp[t] = b->targets[t] >= 0 ? (float)r1_rng_normal(&rng) : 0.0f;
        }
    }
    b->start[n_seqs] = b->T;
}

static void batch_free(Batch *b) {
    free(b->tokens), free(b->targets), free(b->start), free(b->dlogp);
}

static R1Batch as_r1(const Batch *b, int with_targets, float temperature) {
    R1Batch r;
    memset(&r, 0, sizeof r);
    r.n_seqs = b->n_seqs, r.n_tokens = b->T, r.tokens = b->tokens, r.seq_start = b->start;
    r.targets = with_targets ? b->targets : NULL;
    r.temperature = temperature;
    return r;
}

static R1Gpu *gpu_or_die(const R1Model *m, int train) {
    R1Err err;
    R1Gpu *g = r1_gpu_new(m, train, &err);
    if (!g) {
        fprintf(stderr, "test_cuda_model: %s\n", err.msg);
        exit(2);
    }
    return g;
}

/* Logits, log-probabilities, loss, entropy and every gradient of one model. */
static void check_model(const char *label, R1Model *m, int vchunk, double tol_logits,
                        double tol_grads) {
    int lens[] = {37, 1, 64, 130, 9};
    int V = m->cfg.vocab;
    Batch b;
    make_batch(&b, lens, 5, V, 99);
    char name[128];
    R1Err err;

    /* CPU reference: full logits, then log-probs at temperature 0.7 and grads. */
    R1Acts a;
    r1_acts_init(&a);
    R1Batch nb = as_r1(&b, 0, 0);
    r1_model_forward(m, &a, &nb);
    float *ref_logits = malloc(sizeof(float) * b.T * V);
    memcpy(ref_logits, a.logits, sizeof(float) * b.T * V);
    R1Batch tb = as_r1(&b, 1, 0.7f);
    r1_model_forward(m, &a, &tb);
    float *ref_logp = malloc(sizeof(float) * b.T);
    memcpy(ref_logp, a.logp, sizeof(float) * b.T);
    double ref_ent = 0;
    for (int t = 0; t < b.T; t++) {
        if (b.targets[t] < 0) continue;
        const float *z = a.logits + (size_t)t * V;
        double h = a.lse_v[t];
        for (int j = 0; j < V; j++) h -= exp(z[j] / 0.7 - a.lse_v[t]) * z[j] / 0.7;
        ref_ent += h;
    }
    r1_model_zero_grad(m);
    r1_model_backward(m, &a, &tb, b.dlogp);
    float *ref_grads = malloc(sizeof(float) * m->table.total);
    memcpy(ref_grads, m->grads, sizeof(float) * m->table.total);

    R1Gpu *g = gpu_or_die(m, 1);
    r1_gpu_set_vocab_chunk(g, vchunk);
    float *logits = malloc(sizeof(float) * b.T * V), *logp = malloc(sizeof(float) * b.T);
    poison(logits, (size_t)b.T * V);
    r1_gpu_logits(g, &nb, logits, &err);
    snprintf(name, sizeof name, "%s logits", label);
    check_rel(name, logits, ref_logits, (size_t)b.T * V, tol_logits);

    poison(logp, b.T);
    float loss;
    double ent;
    r1_gpu_forward(g, &tb, logp, &loss, &ent, &err);
    snprintf(name, sizeof name, "%s logp (T=0.7, chunk %d)", label, vchunk);
    check_rel(name, logp, ref_logp, b.T, tol_logits);
    snprintf(name, sizeof name, "%s entropy", label);
    report(fabs(ent - ref_ent) <= 5e-3 * fabs(ref_ent), name, "relerr %.3e",
           fabs(ent - ref_ent) / fabs(ref_ent), 5e-3);

    float *grads = malloc(sizeof(float) * m->table.total);
    float *grads2 = malloc(sizeof(float) * m->table.total);
    r1_gpu_zero_grad(g);
    if (r1_gpu_backward(g, &tb, b.dlogp, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    poison(grads, m->table.total);
    r1_gpu_get_state(g, NULL, grads, NULL);
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < m->table.n; i++) {
        const R1Param *p = &m->table.p[i];
        double e = relerr(grads + p->offset, ref_grads + p->offset, p->numel);
        if (!(e <= worst)) worst = e, worst_name = p->name;
    }
    snprintf(name, sizeof name, "%s grads (worst: %.40s)", label, worst_name);
    report(worst <= tol_grads, name, "relerr %.3e", worst, tol_grads);

    /* The same forward and backward again: the same bits. */
    r1_gpu_forward(g, &tb, logp, &loss, &ent, &err);
    r1_gpu_zero_grad(g);
    r1_gpu_backward(g, &tb, b.dlogp, &err);
    r1_gpu_get_state(g, NULL, grads2, NULL);
    snprintf(name, sizeof name, "%s backward bit-reproducible", label);
    int same = memcmp(grads, grads2, sizeof(float) * m->table.total) == 0;
    report(same, name, "%g", same ? 0.0 : 1.0, 0);

    /* Gradient norm and one AdamW step on the GPU's own gradients vs the CPU's. */
    R1AdamW oc, og;
    r1_adamw_init(&oc, &m->table, 0.9f, 0.95f, 1e-8f, 0.1f);
    r1_adamw_init(&og, &m->table, 0.9f, 0.95f, 1e-8f, 0.1f);
    memcpy(m->grads, grads, sizeof(float) * m->table.total);
    double norm_c = r1_clip_grad_norm(m->grads, m->table.total, 0.5);
    double norm_g = r1_gpu_clip_grad_norm(g, 0.5);
    snprintf(name, sizeof name, "%s grad norm", label);
    report(fabs(norm_g - norm_c) <= 1e-6 * norm_c, name, "relerr %.3e",
           fabs(norm_g - norm_c) / norm_c, 1e-6);
    float *p0 = malloc(sizeof(float) * m->table.total);
    memcpy(p0, m->params, sizeof(float) * m->table.total);
    for (int k = 0; k < 2; k++) {
        r1_adamw_step(&oc, m->params, m->grads, 1e-2f);
        r1_gpu_adamw_step(g, &og, 1e-2f);
    }
    float *pg = malloc(sizeof(float) * m->table.total);
    R1Model tmp = *m;
    tmp.params = pg;
    r1_gpu_get_state(g, &tmp, NULL, &og);
    snprintf(name, sizeof name, "%s AdamW params after 2 steps", label);
    check_rel(name, pg, m->params, m->table.total, 1e-6);
    snprintf(name, sizeof name, "%s AdamW second moment", label);
    check_rel(name, og.v, oc.v, m->table.total, 1e-6);
    memcpy(m->params, p0, sizeof(float) * m->table.total); /* later checks use the weights */
    r1_adamw_free(&oc), r1_adamw_free(&og);
    free(p0), free(pg);

    r1_gpu_free(g);
    r1_acts_free(&a);
    free(ref_logits), free(ref_logp), free(ref_grads), free(logits), free(logp), free(grads);
    free(grads2);
    batch_free(&b);
}

/* Decoding: prefix entries shared by several slots, teacher-forced, against
 * the CPU forward of each whole sequence; steps replayed as CUDA graphs
 * (graphs 1) or launched one by one (R1_CUDA_GRAPHS=0). */
static void check_decode(const char *label, R1Model *m, int graphs, double tol_logits) {
    setenv("R1_CUDA_GRAPHS", graphs ? "1" : "0", 1);
    int V = m->cfg.vocab, n_pre = 2, n_slots = 3, steps = 40;
    int plen[2] = {23, 300};
    int *prompt[2];
    R1Rng rng;
    r1_rng_seed(&rng, 5);
    for (int e = 0; e < n_pre; e++) {
        prompt[e] = malloc(sizeof(int) * plen[e]);
        for (int j = 0; j < plen[e]; j++) prompt[e][j] = (int)(r1_rng_u64(&rng) % (uint64_t)V);
    }
    int slot_prefix[3] = {0, 1, 0};
    int own[3][64];
    for (int s = 0; s < n_slots; s++)
        for (int j = 0; j < steps; j++) own[s][j] = (int)(r1_rng_u64(&rng) % (uint64_t)V);
    R1Gpu *g = gpu_or_die(m, 0);
    R1Err err;
    R1GpuDec *d = r1_gpu_dec_new(g, n_slots, n_pre, 512, 64, &err);
    int entries[2] = {0, 1};
    const int *ids[2] = {prompt[0], prompt[1]};
    r1_gpu_dec_prefill(d, n_pre, entries, ids, plen);
    float *got = malloc(sizeof(float) * n_slots * V);
    double worst = 0;
    R1Acts a;
    r1_acts_init(&a);
    int *seq = malloc(sizeof(int) * 400);
    for (int j = 0; j < steps; j++) {
        int slot[3] = {0, 1, 2}, tok[3] = {own[0][j], own[1][j], own[2][j]};
        r1_gpu_dec_step(d, n_slots, slot, slot_prefix, tok);
        poison(got, (size_t)n_slots * V);
        r1_gpu_dec_logits(d, n_slots, slot, got);
        if (j % 13 != 0 && j != steps - 1) continue; /* the CPU forward is the slow part */
        for (int s = 0; s < n_slots; s++) {
            int e = slot_prefix[s], n = 0;
            for (int k = 0; k < plen[e]; k++) seq[n++] = prompt[e][k];
            for (int k = 0; k <= j; k++) seq[n++] = own[s][k];
            int st[2] = {0, n};
            R1Batch b;
            memset(&b, 0, sizeof b);
            b.n_seqs = 1, b.n_tokens = n, b.tokens = seq, b.seq_start = st;
            r1_model_forward(m, &a, &b);
            double e2 = relerr(got + (size_t)s * V, a.logits + (size_t)(n - 1) * V, V);
            worst = e2 > worst || isnan(e2) ? e2 : worst;
        }
    }
    char name[128];
    snprintf(name, sizeof name, "%s decode logits (3 slots, 2 prefixes%s)", label,
             graphs ? ", graphs" : "");
    report(worst <= tol_logits, name, "relerr %.3e", worst, tol_logits);
    r1_gpu_dec_free(d);
    r1_gpu_free(g);
    r1_acts_free(&a);
    free(got), free(seq), free(prompt[0]), free(prompt[1]);
}

/* Trains a small model on the GPU to memorise four sequences, then checks
 * greedy rollouts of the CPU and the GPU give the same tokens. */
static void check_train_and_rollout(void) {
    R1Model m;
    make_model(&m, "qwen2", 128, 2, 4, 2, 256, 300, 1, 21);
    int lens[4] = {40, 40, 40, 40};
    Batch b;
    make_batch(&b, lens, 4, 300, 7);
    for (int t = 0; t < b.T; t++) /* next-token targets on every position but the last */
        b.targets[t] = (t + 1 < b.T && (t + 1) % 40 != 0) ? b.tokens[t + 1] : -1;
    R1Gpu *g = gpu_or_die(&m, 1);
    R1AdamW o;
    r1_adamw_init(&o, &m.table, 0.9f, 0.95f, 1e-8f, 0.0f);
    R1Batch tb = as_r1(&b, 1, 0);
    float *logp = malloc(sizeof(float) * b.T), loss = 0, first = 0;
    R1Err err;
    for (int step = 0; step < 150; step++) {
        r1_gpu_forward(g, &tb, logp, &loss, NULL, &err);
        if (step == 0) first = loss;
        r1_gpu_zero_grad(g);
        r1_gpu_backward(g, &tb, NULL, &err);
        r1_gpu_clip_grad_norm(g, 1.0);
        r1_gpu_adamw_step(g, &o, 3e-3f);
    }
    r1_gpu_forward(g, &tb, logp, &loss, NULL, &err);
    printf("     training on the GPU: loss %.4f -> %.4f in 150 steps\n", first, loss);
    report(loss < 0.05f * first && isfinite(loss), "GPU training memorises (loss ratio)", "%.3e",
           loss / first, 0.05);
    r1_gpu_get_state(g, &m, NULL, &o);
    r1_gpu_free(g);
    for (size_t j = 0; j < m.table.total; j++) m.params[j] = bf16_round(m.params[j]);

    /* Greedy rollouts from each sequence's first 5 tokens, 30 new tokens. */
    int *ids[4], plens[4] = {5, 5, 5, 5};
    int64_t keys[4] = {1, 2, 3, 4};
    for (int i = 0; i < 4; i++) ids[i] = b.tokens + 40 * i;
    R1GenRequest req = {
        .n_prompts = 4, .group = 2, .ids = (const int *const *)ids, .lens = plens, .keys = keys};
    R1GenOpts opt;
    memset(&opt, 0, sizeof opt);
    opt.sample.temperature = 0, opt.sample.top_p = 1, opt.max_new = 30, opt.batch = 8, opt.seed = 1;
    R1Completion cpu[8], gpu[8];
    r1_generate(&m, NULL, &req, &opt, cpu, NULL, NULL, &err);
    g = gpu_or_die(&m, 0);
    opt.gpu = g;
    if (r1_generate(&m, NULL, &req, &opt, gpu, NULL, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(2);
    }
    int same = 1, n_tok = 0;
    double lp_err = 0;
    for (int q = 0; q < 8; q++) {
        same &= cpu[q].n == gpu[q].n && memcmp(cpu[q].ids, gpu[q].ids, sizeof(int) * cpu[q].n) == 0;
        for (int j = 0; j < cpu[q].n && j < gpu[q].n; j++, n_tok++)
            lp_err = fmax(lp_err, fabs(cpu[q].logprobs[j] - gpu[q].logprobs[j]));
    }
    report(same, "greedy rollouts: GPU tokens == CPU tokens", "%g", same ? 0.0 : 1.0, 0);
    report(lp_err <= 2e-2, "greedy rollouts: logprob max abs diff", "%.3e", lp_err, 2e-2);
    /* memorised: the rollout continues the sequence it was trained on */
    int follows = memcmp(gpu[0].ids, b.tokens + 5, sizeof(int) * 20) == 0;
    report(follows, "GPU rollout reproduces the memorised text", "%g", follows ? 0.0 : 1.0, 0);

    /* Sampling at temperature 1 on the GPU: the same seed, the same tokens. */
    R1Completion s1[8], s2[8];
    opt.sample.temperature = 1.0f;
    r1_generate(&m, NULL, &req, &opt, s1, NULL, NULL, &err);
    r1_generate(&m, NULL, &req, &opt, s2, NULL, NULL, &err);
    int rep = 1;
    for (int q = 0; q < 8; q++)
        rep &= s1[q].n == s2[q].n && memcmp(s1[q].ids, s2[q].ids, sizeof(int) * s1[q].n) == 0;
    report(rep, "GPU sampling at T=1 reproducible for one seed", "%g", rep ? 0.0 : 1.0, 0);
    for (int q = 0; q < 8; q++) {
        r1_completion_free(&cpu[q]), r1_completion_free(&gpu[q]);
        r1_completion_free(&s1[q]), r1_completion_free(&s2[q]);
    }
    r1_gpu_free(g);
    r1_adamw_free(&o);
    free(logp);
    batch_free(&b);
    r1_model_free(&m);
}

int main(void) {
    /* The bounds (logits 5e-3, gradients 1e-2) hold for the Qwen2
     * shapes. The untied Llama shape sits above them, and not through anything
     * a bf16 implementation could avoid: a float64 study of this exact model
     * (bf16 rounding switched on and off point by point, see
     * tests/cuda/README.md) puts its logits at 5.3-5.7e-3 with only the
     * roundings every bf16 product needs (its inputs: norm outputs, attention
     * output, SwiGLU output) and the tensor cores' q/k/v/P, because its random
     * untied head makes every logit of the same small size. It keeps bounds
     * 1.5 times wider (2 times when decoding, whose KV cache is bf16: measured
     * 8.3e-3 at contexts of 23 to 340 tokens), stated here. */
    struct {
        const char *label, *type;
        int C, L, H, KV, I, V, tied, vchunk;
        double tol_logits, tol_grads, tol_decode;
    } shapes[] = {
        {"qwen2 hd32 tied", "qwen2", 128, 2, 4, 2, 344, 768, 1, 200, 5e-3, 1e-2, 5e-3},
        {"llama hd64 untied", "llama", 256, 2, 4, 1, 512, 1000, 0, 0, 7.5e-3, 1.5e-2, 1e-2},
        {"qwen2 hd128 gqa6", "qwen2", 768, 2, 6, 1, 1024, 2048, 1, 384, 5e-3, 1e-2, 5e-3},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        R1Model m;
        make_model(&m, shapes[i].type, shapes[i].C, shapes[i].L, shapes[i].H, shapes[i].KV,
                   shapes[i].I, shapes[i].V, shapes[i].tied, 40 + i);
        check_model(shapes[i].label, &m, shapes[i].vchunk, shapes[i].tol_logits,
                    shapes[i].tol_grads);
        check_decode(shapes[i].label, &m, 1, shapes[i].tol_decode);
        check_decode(shapes[i].label, &m, 0, shapes[i].tol_decode);
        r1_model_free(&m);
    }
    unsetenv("R1_CUDA_GRAPHS");
    check_train_and_rollout();
    printf("test_cuda_model: %d passed, %d failed\n", n_ok, n_fail);
    return n_fail ? 1 : 0;
}
