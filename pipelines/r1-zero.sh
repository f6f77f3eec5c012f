#!/usr/bin/env bash
# R1-Zero: GRPO straight from a base model, with rule rewards only (accuracy +
# format, equal weights) and the R1-Zero prompt template (DeepSeek-R1, section 2.2).
#
#   pipelines/r1-zero.sh --db RUN.db --model BASE_DIR --out DIR [options]
#
# Each step samples GROUP completions for each of PROMPTS prompts of SPLIT
# (r1-rollout), scores them (r1-reward) and applies one GRPO update (r1-grpo);
# the rows go to RUN.db under stage STAGE (default r1-zero), the policy after
# step s to DIR/step-(s+1) (DIR/final links the last one), the frozen reference
# to DIR/ref, replaced by the policy every REF_RESET_EVERY steps. The base model
# is evaluated first (phase base, unless EVAL_BASE=0), then the policy every
# EVAL_EVERY steps and at the end (phase r1-zero): pass@1 over EVAL_K samples per
# prompt of EVAL_SPLIT at temperature 0.6, top-p 0.95, in metrics eval/accuracy,
# eval/format_rate, eval/language_rate (see the view eval_summary).
# Run it again after a kill: it continues after the last finished step.
#
# Options (--name VALUE; or the environment, R1_NAME or NAME; defaults in brackets):
#   --db, --model, --out   the run database, the base model, the output directory
#   --steps [40]           GRPO steps          --prompts [16]   prompts per step
#   --group [8]            samples per prompt  --lr [1e-6]      learning rate
#   --beta [0.04]          KL weight           --temperature [1.0]
#   --max-new-tokens [1024] completion limit   --ref-reset-every [400]
#   --rewards [accuracy=1,format=1]            --template [r1-zero]
#   --split [train]        --stage [r1-zero]   --phase [r1-zero]   --seed [1]
#   --eval-every [10]      --eval-split [test] --eval-prompts [0: all]  --eval-k [4]
#   --eval-base [1]        --keep-checkpoints [0: only the latest]     --quiet
#   --nproc [1]            rollout, GRPO and SFT as N MPI ranks (mpirun -np N); or
#                          R1C_LAUNCH="mpirun -np 16 --hostfile hosts" for any launcher
set -euo pipefail
source "$(dirname "$0")/lib.sh"
knobs DB= MODEL= OUT= STEPS=40 PROMPTS=16 GROUP=8 LR=1e-6 BETA=0.04 TEMPERATURE=1.0 \
    MAX_NEW_TOKENS=1024 REF_RESET_EVERY=400 REWARDS=accuracy=1,format=1 TEMPLATE=r1-zero \
    SPLIT=train STAGE=r1-zero PHASE=r1-zero SEED=1 EVAL_EVERY=10 EVAL_SPLIT=test EVAL_PROMPTS=0 \
    EVAL_K=4 EVAL_BASE=1 KEEP_CHECKPOINTS=0
parse_options "$@"
[ -n "$DB" ] && [ -n "$MODEL" ] && [ -n "$OUT" ] || die "needs --db, --model and --out (try --help)"
[ -f "$DB" ] || die "$DB: no such run database (r1-data init, then import or synth prompts)"
[ -f "$MODEL/config.json" ] || die "$MODEL: not a model directory (no config.json)"
need_bins

say "== R1-Zero: $STEPS GRPO steps of $PROMPTS prompts x $GROUP samples from $MODEL"
[ "$EVAL_BASE" = 1 ] && eval_model "$MODEL" base 0 "$TEMPLATE"
rl_loop "$STAGE" "$MODEL" "$OUT" "$STEPS" "$TEMPLATE" "$REWARDS" "$PHASE"
say "R1-Zero policy: $OUT/final"
