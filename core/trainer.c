/* trainer.c - see trainer.h: each call is the CPU's model.h / optim.h call or
 * the GPU's gpu.h call. */
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zero.h"

void r1_trainer_init(R1Trainer *t, R1Model *m, R1Gpu *gpu) {
    memset(t, 0, sizeof *t);
    t->m = m, t->gpu = gpu;
    r1_acts_init(&t->acts);
}

void r1_trainer_free(R1Trainer *t) {
    r1_acts_free(&t->acts);
    free(t->buf);
    free(t->bounds);
    memset(t, 0, sizeof *t);
}

int r1_trainer_forward(R1Trainer *t, const R1Batch *b, double *entropy, R1Err *err) {
    if (!t->gpu) {
        t->acts.want_entropy = entropy != NULL; /* computed chunk by chunk with the logits */
        r1_model_forward(t->m, &t->acts, b);
        t->loss = t->acts.loss, t->n_targets = t->acts.n_targets, t->logp = t->acts.logp;
        double h = 0;
        for (int r = 0; entropy && r < t->acts.n_head; r++) h += t->acts.ent_h[r];
        if (entropy) *entropy += h;
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

/* ZeRO-1's clipping: the norm over every rank's shard, each shard scaled. */
static double clip_shard(R1Trainer *t, double max_norm) {
    size_t lo = t->bounds[t->dist->rank], n = t->bounds[t->dist->rank + 1] - lo;
    float *g = t->m->grads + lo;
    double norm = r1_grad_norm(g, n), sq = norm * norm;
    r1_dist_sum_f64(t->dist, &sq, 1);
    norm = sqrt(sq);
    if (max_norm <= 0 || !(norm > max_norm) || !isfinite(norm)) return norm;
    float scale = (float)(max_norm / norm);
    for (size_t i = 0; i < n; i++) g[i] *= scale;
    return norm;
}

double r1_trainer_clip_grad_norm(R1Trainer *t, double max_norm) {
    if (t->gpu) return r1_gpu_clip_grad_norm(t->gpu, max_norm);
    if (t->zero) return clip_shard(t, max_norm);
    return r1_clip_grad_norm(t->m->grads, t->m->table.total, max_norm);
}

void r1_trainer_adamw_step(R1Trainer *t, R1AdamW *opt, float lr) {
    if (t->gpu) {
        r1_gpu_adamw_step(t->gpu, opt, lr);
        return;
    }
    r1_adamw_step(opt, t->m->params, t->m->grads, lr); /* with zero: opt is the shard */
    if (t->zero) r1_dist_allgather_f32(t->dist, t->m->params, t->bounds);
}

/* ---- data parallelism ------------------------------------------------------------ */

int r1_trainer_set_dist(R1Trainer *t, R1Dist *d, int zero, R1Err *err) {
    t->dist = d && d->size > 1 ? d : NULL;
    t->zero = t->dist && zero;
    if (t->zero && t->gpu)
        return r1_seterr(err, "--zero 1 works on the CPU only (on the GPU, NCCL all-reduces "
                              "whole gradients)");
    if (t->zero) {
        t->bounds = r1_xmalloc(sizeof(size_t) * (size_t)(d->size + 1));
        r1_zero_bounds(d, t->m->table.total, t->bounds);
    }
    if (!t->dist || !t->gpu) return 0;
    unsigned char id[R1_NCCL_ID_BYTES] = {0};
    int rc = d->rank == 0 ? r1_gpu_nccl_id(id, err) : 0;
    if (r1_dist_any(d, rc)) return rc ? rc : r1_seterr(err, "rank 0 could not start NCCL");
    r1_dist_bcast(d, id, sizeof id);
    /* the others may be waiting inside NCCL's set-up for this rank: a failure ends the job */
    if (r1_gpu_nccl_join(t->gpu, id, d->rank, d->size, err)) r1_dist_fatal(d, "r1c", err->msg);
    return 0;
}

R1Gpu *r1_trainer_gpu_new(const R1Dist *d, const R1Model *m, int train, R1Err *err) {
    if (d && d->size > 1 && r1_gpu_select(d->local_rank, err)) return NULL;
    return r1_gpu_new(m, train, err);
}

int r1_trainer_reduce_grads(R1Trainer *t, R1Err *err) {
    if (!t->dist) return 0;
    if (t->gpu) {
        double t0 = r1_now();
        /* the other ranks cannot learn of a failure inside NCCL: end the job */
        if (r1_gpu_allreduce_grads(t->gpu, err)) r1_dist_fatal(t->dist, "r1c", err->msg);
        t->dist->comm_seconds += r1_now() - t0;
        return 0;
    }
    if (t->zero)
        r1_dist_reduce_scatter_f32(t->dist, t->m->grads, t->bounds);
    else
        r1_dist_sum_f32(t->dist, t->m->grads, t->m->table.total);
    return 0;
}

int r1_trainer_check_same(R1Trainer *t, const char *when, R1Err *err) {
    if (!t->dist) return 0;
    if (t->gpu) r1_gpu_get_state(t->gpu, t->m, NULL, NULL);
    if (r1_dist_fault(t->dist, "perturb")) t->m->params[0] += 1e-3f; /* the test's divergence */
    char what[160];
    snprintf(what, sizeof what, "the weights %s", when);
    return r1_dist_same(t->dist, r1_hash_f32(t->m->params, t->m->table.total), what, err);
}

void r1_trainer_to_host(R1Trainer *t, int grads, R1AdamW *opt) {
    if (!t->gpu) return;
    if (grads) r1_gpu_get_state(t->gpu, NULL, t->m->grads, NULL);
    if (opt) r1_gpu_get_state(t->gpu, t->m, NULL, opt);
}
