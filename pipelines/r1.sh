#!/usr/bin/env bash
# DeepSeek-R1's four stages (DeepSeek-R1, section 2.3), from a base model:
#   1. cold start: readable, correct, single-language chains of thought, collected
#      from the R1-Zero rollouts of ZERO_STAGE (r1-data collect, kind cold_start)
#      or imported from COLD_START_FILE, and SFT of the base on them;
#   2. reasoning RL: GRPO with accuracy + format + language-consistency rewards;
#   3. rejection sampling: RS_SAMPLES completions for each of RS_PROMPTS prompts
#      from that policy; correct ones without mixed languages, overlong paragraphs
#      or code blocks become kind reasoning; NON_REASONING_FILE (messages JSONL)
#      adds kind non_reasoning; the BASE is fine-tuned for SFT_EPOCHS on the union;
#   4. a final RL stage from that model.
#
#   pipelines/r1.sh --db RUN.db --base BASE_DIR --out DIR [options]
#
# Stages write under DIR: cold-start/, reasoning/ (RL steps), sft/, final/ (RL
# steps; final/final links the R1 model). Rows go to RUN.db with stages
# r1-cold-start, r1-reasoning, r1-rejection, r1-sft and r1-final. The policy is
# evaluated after each stage (phases r1-cold-start, r1-reasoning, r1-sft, then r1)
# as in r1-zero.sh. Run it again after a kill: finished stages are skipped and an
# interrupted one continues. Its stage names and SFT kinds are fixed, so a database
# holds one R1 run (r1-zero.sh takes --stage; start another R1 run in a copy).
#
# Options (--name VALUE; or the environment, R1_NAME or NAME; defaults in brackets):
#   --db, --base, --out        the run database, the base model, the output directory
#   --zero-stage [r1-zero]     rollouts the cold start is collected from
#   --cold-start-file []       or: a messages JSONL to import as cold_start instead
#   --cold-start-filter [correct,format,stop,readable]   --cold-start-per-prompt [1]
#   --cold-start-epochs [3]    --cold-start-lr [1e-5]
#   --reasoning-steps [20]     --final-steps [10]       (GRPO steps of stages 2 and 4)
#   --prompts [16] --group [8] --lr [1e-6] --beta [0.04] --temperature [1.0]
#   --max-new-tokens [1024]    --ref-reset-every [400]
#   --rewards [accuracy=1,format=1,language=1]          --template [deepseek-r1]
#   --rs-prompts [200]  --rs-samples [4]  --rs-temperature [0.7]  --rs-per-prompt [1]
#   --rs-filter [correct,format,stop,readable]          --non-reasoning-file []
#   --sft-epochs [2]    --sft-lr [1e-5]   --sft-batch-tokens [8192]
#   --split [train]     --seed [1]        --eval-every [10]   --eval-split [test]
#   --eval-prompts [0: all]  --eval-k [4] --keep-checkpoints [0]  --quiet
#   --nproc [1]            rollout, GRPO and SFT as N MPI ranks (mpirun -np N); or
#                          R1C_LAUNCH="mpirun -np 16 --hostfile hosts" for any launcher
set -euo pipefail
source "$(dirname "$0")/lib.sh"
knobs DB= BASE= OUT= ZERO_STAGE=r1-zero COLD_START_FILE= COLD_START_FILTER=correct,format,stop,readable \
    COLD_START_PER_PROMPT=1 COLD_START_EPOCHS=3 COLD_START_LR=1e-5 REASONING_STEPS=20 FINAL_STEPS=10 \
    PROMPTS=16 GROUP=8 LR=1e-6 BETA=0.04 TEMPERATURE=1.0 MAX_NEW_TOKENS=1024 REF_RESET_EVERY=400 \
    REWARDS=accuracy=1,format=1,language=1 TEMPLATE=deepseek-r1 RS_PROMPTS=200 RS_SAMPLES=4 \
    RS_TEMPERATURE=0.7 RS_PER_PROMPT=1 RS_FILTER=correct,format,stop,readable NON_REASONING_FILE= \
    SFT_EPOCHS=2 SFT_LR=1e-5 SFT_BATCH_TOKENS=8192 SPLIT=train SEED=1 EVAL_EVERY=10 EVAL_SPLIT=test \
    EVAL_PROMPTS=0 EVAL_K=4 KEEP_CHECKPOINTS=0
parse_options "$@"
[ -n "$DB" ] && [ -n "$BASE" ] && [ -n "$OUT" ] || die "needs --db, --base and --out (try --help)"
[ -f "$DB" ] || die "$DB: no such run database"
[ -f "$BASE/config.json" ] || die "$BASE: not a model directory (no config.json)"
[ -z "$COLD_START_FILE" ] || [ -f "$COLD_START_FILE" ] || die "$COLD_START_FILE: no such file"
[ -z "$NON_REASONING_FILE" ] || [ -f "$NON_REASONING_FILE" ] || die "$NON_REASONING_FILE: no such file"
need_bins
mkdir -p "$OUT"

# Evaluates a stage's model once (a rerun finds the evaluation done and repeats
# only the cheap summary).
eval_once() { eval_model "$1" "$2" 0 "$TEMPLATE"; }

say "== R1 stage 1: cold start"
if [ -n "$COLD_START_FILE" ]; then
    "$bin/r1-data" import --db "$DB" --format messages --kind cold_start $(quiet_flag) "$COLD_START_FILE"
else
    "$bin/r1-data" collect --db "$DB" --kind cold_start --stage "$ZERO_STAGE" \
        --filter "$COLD_START_FILTER" --max-per-prompt "$COLD_START_PER_PROMPT" $(quiet_flag)
fi
n=$(q "SELECT COUNT(*) FROM sft_samples WHERE kind = 'cold_start'")
[ "$n" -gt 0 ] || die "no cold-start samples: run r1-zero.sh first, or give --cold-start-file"
sft_phase r1-cold-start "$BASE" "$OUT/cold-start" cold_start "$COLD_START_EPOCHS" "$COLD_START_LR" "$TEMPLATE"
eval_once "$OUT/cold-start" r1-cold-start

say "== R1 stage 2: reasoning RL ($REASONING_STEPS steps, rewards $REWARDS)"
rl_loop r1-reasoning "$OUT/cold-start" "$OUT/reasoning" "$REASONING_STEPS" "$TEMPLATE" "$REWARDS" r1-reasoning

say "== R1 stage 3: rejection sampling ($RS_PROMPTS prompts x $RS_SAMPLES) and SFT of the base"
par "$bin/r1-rollout" --db "$DB" --model "$OUT/reasoning/final" --stage r1-rejection --step 0 \
    --split "$SPLIT" --prompts "$RS_PROMPTS" --group "$RS_SAMPLES" --temperature "$RS_TEMPERATURE" \
    --max-new-tokens "$MAX_NEW_TOKENS" --template "$TEMPLATE" --stop "</answer>" --seed "$SEED" \
    --quiet >/dev/null
"$bin/r1-reward" --db "$DB" --stage r1-rejection --step 0 --rewards "$REWARDS" --quiet >/dev/null
"$bin/r1-data" collect --db "$DB" --kind reasoning --stage r1-rejection --filter "$RS_FILTER" \
    --max-per-prompt "$RS_PER_PROMPT" $(quiet_flag)
if [ -n "$NON_REASONING_FILE" ]; then
    "$bin/r1-data" import --db "$DB" --format messages --kind non_reasoning $(quiet_flag) "$NON_REASONING_FILE"
fi
sft_phase r1-sft "$BASE" "$OUT/sft" reasoning,non_reasoning "$SFT_EPOCHS" "$SFT_LR" "$TEMPLATE"
eval_once "$OUT/sft" r1-sft

say "== R1 stage 4: RL for all scenarios ($FINAL_STEPS steps)"
rl_loop r1-final "$OUT/sft" "$OUT/final" "$FINAL_STEPS" "$TEMPLATE" "$REWARDS" r1
say "R1 model: $OUT/final/final"
