/* trainer.c - see trainer.h: each call is the CPU's model.h / optim.h call or
 * the GPU's gpu.h call. */
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void r1_trainer_init(R1Trainer *t, R1Model *m, R1Gpu *gpu) {
    memset(t, 0, sizeof *t);
    t->m = m, t->gpu = gpu;
    r1_acts_init(&t->acts);
}

void r1_trainer_free(R1Trainer *t) {
    r1_acts_free(&t->acts);
    free(t->buf);
    memset(t, 0, sizeof *t);
}

/* Summed entropy of the softmax of the CPU head's rows (each row's
 * log-sum-exp in lse_h), in parallel over rows: it is a metric, so a per-row
 * float exp does. */
static double head_entropy(const R1Acts *a, int V, float s) {
    double total = 0;
#pragma omp parallel for reduction(+ : total) schedule(static)
    for (int r = 0; r < a->n_head; r++) {
        const float *z = a->logits + (size_t)r * V;
        float lse = a->lse_h[r];
        double h = lse;
        for (int j = 0; j < V; j++) h -= (double)(expf(s * z[j] - lse) * s * z[j]);
        total += h;
    }
    return total;
}

int r1_trainer_forward(R1Trainer *t, const R1Batch *b, double *entropy, R1Err *err) {
    float s = b->temperature > 0 ? 1.0f / b->temperature : 1.0f;
    if (!t->gpu) {
        r1_model_forward(t->m, &t->acts, b);
        t->loss = t->acts.loss, t->n_targets = t->acts.n_targets, t->logp = t->acts.logp;
        if (entropy) *entropy += head_entropy(&t->acts, t->m->cfg.vocab, s);
        return 0;
    }
    if (b->n_tokens > t->cap)
        t->buf = r1_xrealloc(t->buf, sizeof(float) * (size_t)(t->cap = b->n_tokens));
    t->n_targets = 0;
    for (int i = 0; i < b->n_tokens; i++) t->n_targets += b->targets[i] >= 0;
    t->logp = t->buf;
    double h = 0;
    if (r1_gpu_forward(t->gpu, b, t->buf, &t->loss, entropy ? &h : NULL, err)) return -1;
    if (entropy) *entropy += h;
    return 0;
}

int r1_trainer_backward(R1Trainer *t, const R1Batch *b, const float *dlogp, R1Err *err) {
    if (t->gpu) return r1_gpu_backward(t->gpu, b, dlogp, err);
    r1_model_backward(t->m, &t->acts, b, dlogp);
    return 0;
}

void r1_trainer_zero_grad(R1Trainer *t) {
    if (t->gpu)
        r1_gpu_zero_grad(t->gpu);
    else
        r1_model_zero_grad(t->m);
}

double r1_trainer_clip_grad_norm(R1Trainer *t, double max_norm) {
    if (t->gpu) return r1_gpu_clip_grad_norm(t->gpu, max_norm);
    return r1_clip_grad_norm(t->m->grads, t->m->table.total, max_norm);
}

void r1_trainer_adamw_step(R1Trainer *t, R1AdamW *opt, float lr) {
    if (t->gpu)
        r1_gpu_adamw_step(t->gpu, opt, lr);
    else
        r1_adamw_step(opt, t->m->params, t->m->grads, lr);
}

void r1_trainer_to_host(R1Trainer *t, int grads, R1AdamW *opt) {
    if (!t->gpu) return;
    if (grads) r1_gpu_get_state(t->gpu, NULL, t->m->grads, NULL);
    if (opt) r1_gpu_get_state(t->gpu, t->m, NULL, opt);
}
