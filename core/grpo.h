/* grpo.h - the arithmetic of a GRPO update (DeepSeekMath / DeepSeek-R1), kept
 * apart from I/O so each piece is tested on its own.
 *
 * Advantages: completions are grouped by prompt. With scale "group" the
 * advantage of reward r in group g is (r - mean_g) / (std_g + 1e-4); "batch"
 * divides by the std of all the step's rewards instead; "none" only centres.
 * std is the sample standard deviation (n - 1), as torch.std and TRL use; a
 * group of one has std 0. Rewards that are NaN (NULL in the database) take no
 * part and get advantage 0.
 *
 * Per completion token, with logp = log pi_theta, old = log pi_old (the
 * rollout's stored log-probability), ref = log pi_ref:
 *   rho  = exp(logp - old)
 *   surr = min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)
 *   kl   = exp(ref - logp) - (ref - logp) - 1          (the k3 estimator)
 *   loss = -surr + beta kl
 * A token counts as clipped low when rho < 1 - eps_low and A < 0, high when
 * rho > 1 + eps_high and A > 0 (the only cases where the clip removes the
 * gradient), as TRL reports them. A ratio that overflows makes the loss and
 * its derivative NaN whatever the advantage, so the update is refused.
 *
 * Aggregation (the weight each token's loss gets in the minibatch's loss):
 *   grpo     1 / (completions in the minibatch * that completion's tokens)
 *   bnpo     1 / (tokens in the minibatch)
 *   dr_grpo  1 / (completions in the minibatch * max new tokens)
 *   dapo     1 / (tokens in the whole step) */
#ifndef R1_GRPO_H
#define R1_GRPO_H

#include <stddef.h>

typedef enum { R1_SCALE_GROUP = 0, R1_SCALE_BATCH = 1, R1_SCALE_NONE = 2 } R1GrpoScale;
typedef enum {
    R1_LOSS_GRPO = 0,
    R1_LOSS_BNPO = 1,
    R1_LOSS_DR_GRPO = 2,
    R1_LOSS_DAPO = 3
} R1GrpoLoss;

/* "group"/"batch"/"none", "grpo"/"bnpo"/"dr_grpo"/"dapo" -> enum; -1 if unknown. */
int r1_grpo_scale_parse(const char *name);
int r1_grpo_loss_parse(const char *name);

typedef struct {
    int groups, zero_std_groups; /* groups with a defined reward; of them, all rewards equal */
    double adv_mean, adv_std;    /* over completions with a defined reward */
} R1AdvStats;

/* adv[i] for rewards r[i] (NaN = undefined) grouped by group[i] (any ints);
 * uniform[i] (when not NULL) is 1 when the defined rewards of i's group are all
 * equal (std 0), the groups DAPO's dynamic sampling drops. */
void r1_grpo_advantages(const double *r, const long *group, int n, R1GrpoScale scale, double *adv,
                        unsigned char *uniform, R1AdvStats *st);

typedef struct {
    double eps_low, eps_high, beta;
} R1GrpoClip;

typedef struct {
    double loss, dlogp, kl, rho;
    int clipped_low, clipped_high;
} R1GrpoToken;

/* One token's loss and its derivative by logp. */
void r1_grpo_token(double logp, double old, double ref, double adv, const R1GrpoClip *c,
                   R1GrpoToken *out);

/* The weight of each token of a completion of n_tok tokens (see above). */
double r1_grpo_weight(R1GrpoLoss loss, int n_tok, int completions_in_minibatch,
                      long tokens_in_minibatch, long tokens_in_step, int max_new_tokens);

#endif
