/* rollout.h - the parts of bin/r1-rollout: choosing a step's prompts and
 * storing its completions. */
#ifndef R1_ROLLOUT_H
#define R1_ROLLOUT_H

#include <stdint.h>

#include "db.h"
#include "generate.h"

typedef struct {
    int64_t id;
    char *question;
} RolloutPrompt;

/* The K prompts of step `step`: position step*K + j of an endless walk through
 * the split (and dataset, when not NULL) in which each epoch is a fresh
 * seeded shuffle of the prompt ids. A step that straddles two epochs skips a
 * prompt it already has, so no step holds one prompt twice. */
int rollout_select(R1Db *db, const char *split, const char *dataset, long step, int K,
                   uint64_t seed, RolloutPrompt **out, R1Err *err);
void rollout_prompts_free(RolloutPrompt *p, int n);

/* 1 when the step holds exactly the G samples of each of these prompts, 0 when
 * it holds anything else (nothing, a partial or a different run), -1 on error. */
int rollout_step_complete(R1Db *db, const char *stage, long step, const RolloutPrompt *p, int K,
                          int G, R1Err *err);

typedef struct {
    const char *stage; /* --stage, or NULL (see r1_rows_stage) */
    long step;
    const char *model, *template_name, *prefill;
    const RolloutPrompt *prompts;
    const int *const *prompt_ids;
    const int *prompt_lens;
    const R1Completion *c; /* K * G, prompt-major */
    int K, G, max_new;
    double temperature; /* of the sampling; GRPO computes its log-probs with it */
    double seconds;     /* generation wall time, for tokens/s */
    int device;         /* R1Device (gpu.h) that decoded: 0 cpu, 1 cuda */
} RolloutResult;

typedef struct {
    double len_mean, truncated_frac, tokens_per_s;
    long len_max, tokens;
} RolloutStats;

void rollout_stats(const RolloutResult *r, RolloutStats *s);
/* In one transaction: removes whatever the step held (rows, their rewards, the
 * step's rollout metrics), inserts the K * G rows and the metrics (among them
 * rollout/device, r->device). */
int rollout_store(R1Db *db, const RolloutResult *r, const RolloutStats *s, R1Err *err);

#endif
