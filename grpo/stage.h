/* stage.h - the parts of bin/r1-grpo: the step's rollouts from the database,
 * the update loop, and what it reports. */
#ifndef R1_GRPO_STAGE_H
#define R1_GRPO_STAGE_H

#include <stdint.h>

#include "db.h"
#include "dist.h"
#include "gpu.h"
#include "grpo.h"
#include "model.h"
#include "optim.h"

typedef struct {
    const char *db, *model, *ref, *out, *dump, *stage;
    long step, iterations, minibatches, micro_tokens, max_new, ref_reset_every;
    double lr, beta, eps, eps_high, max_grad_norm, weight_decay, temperature;
    R1GrpoLoss loss;
    R1GrpoScale scale;
    unsigned long long seed;
    int mask_truncated, drop_uniform, dry_run, quiet, json;
    R1Device device;  /* where the policy and the reference compute */
    R1Dist *dist;     /* the job's ranks (dist.h) */
    long zero;        /* --zero 1: ZeRO-1 optimizer sharding */
    long check_every; /* --check-every K: the ranks' weights compared every K updates */
} GrpoArgs;

typedef struct {
    int64_t id, prompt_id;
    int *prompt, *comp; /* token ids */
    int np, nc;
    float *old, *ref; /* per completion token: the rollout's logprobs; the reference's */
    double reward;    /* NaN when NULL or missing */
    double adv;
    int truncated, active; /* active: takes part in the loss */
} GRollout;

typedef struct {
    GRollout *r;
    int n;
    int max_new;       /* for dr_grpo */
    float temperature; /* the rollout's: log-probs are of softmax(logits / it) */
    R1AdvStats adv;
    long active_tokens;
    int active;
} GStep;

/* Reads the step's rollouts (by id) and their 'total' rewards, computes the
 * advantages and marks which completions train. Errors name the step. */
int grpo_load_step(R1Db *db, const GrpoArgs *a, GStep *s, R1Err *err);
void grpo_step_free(GStep *s);

typedef struct {
    double loss, kl, entropy, clip_low, clip_high, grad_norm, ratio_max_dev, tokens_per_s;
    double ref_seconds, update_seconds; /* the reference forward; the updates */
    double allreduce_seconds;           /* of the updates, in gradient collectives */
    long tokens, updates;
} GMetrics;

/* Reference log-probabilities of every active completion token (beta > 0), on
 * the GPU when gpu (ref uploaded by r1_gpu_new) is given, else on the CPU;
 * with several ranks each computes a share and all get every one. */
int grpo_ref_logprobs(R1Model *ref, R1Gpu *gpu, const GrpoArgs *a, GStep *s, R1Err *err);
/* The mu x M updates (or, with --dry-run, the first minibatch's loss and
 * gradients written to a->dump by rank 0). With several ranks (a->dist) each
 * computes its share of every minibatch and the gradients are summed (see
 * trainer.h); with a->zero, opt is this rank's shard (zero.h). Refuses non-finite losses or
 * gradients. With gpu (m uploaded by r1_gpu_new with train), the model and the AdamW moments are
 * the GPU's: r1_gpu_get_state brings them back to m and opt. */
int grpo_update(R1Model *m, R1Gpu *gpu, R1AdamW *opt, const GrpoArgs *a, GStep *s, GMetrics *out,
                R1Err *err);

#endif
