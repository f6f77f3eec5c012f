/* trainer.h - one model's training passes where it computes: on the CPU
 * (model.h, optim.h) or on a GPU (gpu.h), behind one set of calls, so the
 * stages that train (grpo, sft) are written once for both.
 *
 * Contract:
 *   - r1_trainer_init takes the model and, for the GPU, its upload (gpu.h's
 *     r1_gpu_new with train = 1; NULL: the CPU). The trainer owns neither; on
 *     the GPU the upload holds the weights, gradients and AdamW moments, and
 *     m is only read back into by r1_trainer_to_host.
 *   - After r1_trainer_forward of a batch with targets: t->logp[i] is token
 *     i's log-probability under softmax(logits / temperature) (read where
 *     there is a target), t->loss the mean cross-entropy over the targets and
 *     t->n_targets their count; *entropy (NULL: not computed) gains the
 *     summed entropy of the rows with a target.
 *   - r1_trainer_backward, after the forward of the same batch, ACCUMULATES
 *     the gradients of sum_i dlogp[i] logp[i] (dlogp NULL: of the mean
 *     cross-entropy).
 *   - The CPU path is exactly model.h's and optim.h's calls.
 *   - Data parallelism (dist.h), after r1_trainer_set_dist: each rank
 *     accumulates the gradient of its share of the batch, each share already
 *     scaled by the whole batch's normaliser; r1_trainer_reduce_grads sums
 *     them over the ranks (MPI on the CPU, NCCL on the GPU), so every rank
 *     then holds the whole batch's gradient and takes the same step. With
 *     zero (ZeRO-1, CPU only) the sum is reduce-scattered instead: clipping
 *     and AdamW work on this rank's shard (opt from zero.h) and the updated
 *     shards are all-gathered into every rank's weights.
 *   - With one process these calls change nothing. */
#ifndef R1_TRAINER_H
#define R1_TRAINER_H

#include "dist.h"
#include "gpu.h"
#include "model.h"
#include "optim.h"
#include "util.h"

typedef struct {
    R1Model *m;
    R1Gpu *gpu;  /* NULL: the CPU */
    R1Acts acts; /* the CPU's activations */
    float *buf;  /* the GPU's log-probabilities, [cap] */
    int cap;
    /* the last forward */
    const float *logp;
    float loss;
    int n_targets;
    /* data parallelism */
    R1Dist *dist;   /* NULL: one process */
    int zero;       /* ZeRO-1 */
    size_t *bounds; /* [size + 1] the shards of the flat parameters (zero) */
} R1Trainer;

void r1_trainer_init(R1Trainer *t, R1Model *m, R1Gpu *gpu);
void r1_trainer_free(R1Trainer *t);
/* Joins the ranks of d (NULL or one rank: alone); on the GPU it sets up NCCL.
 * Collective. */
int r1_trainer_set_dist(R1Trainer *t, R1Dist *d, int zero, R1Err *err);
/* The GPU this rank uses (its index on the node, modulo the GPUs there) and
 * the model uploaded to it, as r1_gpu_new. */
R1Gpu *r1_trainer_gpu_new(const R1Dist *d, const R1Model *m, int train, R1Err *err);
/* Collective: the gradients summed over the ranks (see above). */
int r1_trainer_reduce_grads(R1Trainer *t, R1Err *err);
/* Collective: an error on every rank when the ranks' weights differ (`when`
 * names the moment in the message). */
int r1_trainer_check_same(R1Trainer *t, const char *when, R1Err *err);
int r1_trainer_forward(R1Trainer *t, const R1Batch *b, double *entropy, R1Err *err);
int r1_trainer_backward(R1Trainer *t, const R1Batch *b, const float *dlogp, R1Err *err);
void r1_trainer_zero_grad(R1Trainer *t);
/* As r1_clip_grad_norm: the norm before clipping. */
double r1_trainer_clip_grad_norm(R1Trainer *t, double max_norm);
void r1_trainer_adamw_step(R1Trainer *t, R1AdamW *opt, float lr);
/* Copies what lives on the GPU back to the host (nothing on the CPU): the
 * gradients into m->grads when grads is set (for a dump), the weights into
 * m->params and the moments into opt when opt is not NULL (for a checkpoint). */
void r1_trainer_to_host(R1Trainer *t, int grads, R1AdamW *opt);

#endif
