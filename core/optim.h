/* optim.h - AdamW, global gradient-norm clipping and learning-rate schedules.
 *
 * Contract: AdamW as in Loshchilov & Hutter (and torch.optim.AdamW): for each
 * element, m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * (wd * p) (only where the parameter's `decay` flag is set), then
 * p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps), with t counted
 * from 1. The moments use the model's R1ParamTable layout, so they can be saved
 * beside a checkpoint as optimizer.safetensors (tensors "exp_avg.<name>" and
 * "exp_avg_sq.<name>", metadata "step", "lr", "beta1", "beta2", "eps",
 * "weight_decay") and loaded back to resume training exactly. */
#ifndef R1_OPTIM_H
#define R1_OPTIM_H

#include <stddef.h>

#include "params.h"
#include "util.h"

typedef struct {
    float beta1, beta2, eps, weight_decay;
    long step;    /* optimizer steps taken so far */
    float lr;     /* learning rate of the last step (saved for the record; not needed to resume) */
    float *m, *v; /* first and second moments of the elements [lo, hi) */
    const R1ParamTable *table;
    size_t lo, hi; /* the flat parameter range this optimizer updates (all: 0, total) */
} R1AdamW;

void r1_adamw_init(R1AdamW *o, const R1ParamTable *table, float beta1, float beta2, float eps,
                   float weight_decay);
/* The same for the shard [lo, hi) of the flat parameters only (ZeRO-1: each
 * rank keeps and updates its own shard's moments). Save and load need the
 * whole range. */
void r1_adamw_init_shard(R1AdamW *o, const R1ParamTable *table, float beta1, float beta2, float eps,
                         float weight_decay, size_t lo, size_t hi);
void r1_adamw_free(R1AdamW *o);
/* One update of params[lo, hi) from grads[lo, hi) at learning rate lr (the
 * arrays are whole); increments o->step. */
void r1_adamw_step(R1AdamW *o, float *params, const float *grads, float lr);

/* L2 norm over all gradients (accumulated in double). */
double r1_grad_norm(const float *grads, size_t n);
/* Scales grads so their global norm is at most max_norm (no-op if max_norm <= 0);
 * returns the norm before clipping. */
double r1_clip_grad_norm(float *grads, size_t n, double max_norm);

int r1_adamw_save(const R1AdamW *o, const char *path, R1Err *err);
/* Loads state saved by r1_adamw_save into o (already initialised with the same
 * table); refuses a missing or mis-shaped tensor naming the file and tensor. */
int r1_adamw_load(R1AdamW *o, const char *path, R1Err *err);

typedef enum { R1_SCHED_CONSTANT = 0, R1_SCHED_COSINE = 1, R1_SCHED_LINEAR = 2 } R1SchedKind;

typedef struct {
    R1SchedKind kind;
    double peak_lr;
    long warmup;         /* steps of linear warmup from peak/warmup up to peak */
    long total;          /* total steps (cosine/linear reach the floor at step total) */
    double min_lr_ratio; /* the floor as a fraction of peak (cosine, linear) */
} R1Schedule;

/* Learning rate for 0-based step s:
 *   s < warmup:        peak * (s + 1) / warmup
 *   constant:          peak
 *   cosine:            floor + (peak - floor) * 0.5 * (1 + cos(pi * p))
 *   linear:            peak + (floor - peak) * p
 *   with p = min(1, (s - warmup) / max(1, total - warmup)), floor = peak * min_lr_ratio. */
double r1_schedule_lr(const R1Schedule *s, long step);
/* "constant", "cosine", "linear" -> kind; -1 if unknown. */
int r1_schedule_parse(const char *name);

#endif
