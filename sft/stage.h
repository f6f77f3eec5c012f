/* stage.h - the parts of bin/r1-sft: samples from the database rendered and
 * tokenized with their loss targets, batches, and the training loop. */
#ifndef R1_SFT_STAGE_H
#define R1_SFT_STAGE_H

#include <stdint.h>

#include "db.h"
#include "dist.h"
#include "gpu.h"
#include "model.h"
#include "optim.h"
#include "policy.h"

typedef struct {
    const char *db, *kinds, *model, *out, *tpl, *dump, *schedule;
    const char *stage; /* metrics.stage and checkpoints.stage (default sft) */
    long epochs, warmup, max_len, batch_tokens, micro_tokens, save_every, log_every;
    double lr, min_lr_ratio, eval_frac, max_grad_norm, weight_decay;
    unsigned long long seed;
    int pack, loss_all, resume, dry_run, quiet, json;
    R1Device device;  /* where the model trains */
    R1Dist *dist;     /* the job's ranks (dist.h): each computes a share of every batch */
    long zero;        /* --zero 1: ZeRO-1 optimizer sharding */
    long check_every; /* --check-every K: the ranks' weights compared every K steps */
} SftArgs;

typedef struct {
    int64_t id;
    int *tok, *tgt; /* tgt[t]: the token to predict after tok[t], or -1 */
    int n, n_targets;
    int truncated, eval;
} SftSample;

typedef struct {
    SftSample *s;
    int n, n_train, n_eval, truncated;
    long train_tokens;
} SftData;

/* Reads the samples of the kinds asked for, renders them with the template and
 * tokenizes them; refuses a kind with no samples, a sample whose messages
 * cannot be read, and (with the assistant loss) one with no assistant turn,
 * naming the sample id. */
int sft_load(R1Db *db, const SftArgs *a, R1Policy *pol, SftData *d, R1Err *err);
void sft_data_free(SftData *d);

/* The batches of every epoch, in training order: batch b holds samples
 * idx[start[b] .. start[b + 1]). */
typedef struct {
    int *idx, *start;
    int n_batches;
} SftPlan;

void sft_plan(const SftArgs *a, const SftData *d, SftPlan *p);
void sft_plan_free(SftPlan *p);

int sft_train(const SftArgs *a, R1Db *db, R1Policy *pol, const SftData *d, const SftPlan *p,
              R1Err *err);

#endif
