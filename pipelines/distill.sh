#!/usr/bin/env bash
# Distillation (DeepSeek-R1, section 2.4): supervised fine-tuning of a smaller
# student on the samples R1 produced (kinds reasoning + non_reasoning in the run
# database, as r1.sh stage 3 left them), with no RL, as the R1-Distill models.
#
#   pipelines/distill.sh --db RUN.db --student DIR --out DIR [options]
#   pipelines/distill.sh --db RUN.db --student-config config.json --tokenizer DIR --out DIR
#
# With --student-config the student is first created from that config.json (random
# weights, --seed) with the tokenizer of --tokenizer, in OUT/init. The fine-tuned
# student goes to OUT/model, its metrics to stage distill-sft, and it is evaluated
# as phase distill (pass@1 as in r1-zero.sh). Run it again after a kill: the SFT
# continues from its last checkpoint.
#
# Options (--name VALUE; or the environment, R1_NAME or NAME; defaults in brackets):
#   --db, --out           the run database and the output directory
#   --student []          an existing student model directory, or
#   --student-config []   a config.json to create one from, with --tokenizer []
#   --kinds [reasoning,non_reasoning]   --epochs [2]   --lr [1e-5]
#   --sft-batch-tokens [8192]           --template [deepseek-r1]
#   --max-new-tokens [1024] --seed [1]    --eval-split [test] --eval-prompts [0: all]
#   --eval-k [4]          --phase [distill]   --eval-student [1]: also evaluate the
#                         student before distillation, as phase student, prompted
#                         with --student-template [the --template]      --quiet
#   --nproc [1]            rollout, GRPO and SFT as N MPI ranks (mpirun -np N); or
#                          R1C_LAUNCH="mpirun -np 16 --hostfile hosts" for any launcher
set -euo pipefail
source "$(dirname "$0")/lib.sh"
knobs DB= OUT= STUDENT= STUDENT_CONFIG= TOKENIZER= KINDS=reasoning,non_reasoning EPOCHS=2 LR=1e-5 \
    SFT_BATCH_TOKENS=8192 TEMPLATE=deepseek-r1 MAX_NEW_TOKENS=1024 SEED=1 EVAL_SPLIT=test \
    EVAL_PROMPTS=0 EVAL_K=4 PHASE=distill EVAL_STUDENT=1 STUDENT_TEMPLATE=
parse_options "$@"
[ -n "$DB" ] && [ -n "$OUT" ] || die "needs --db and --out (try --help)"
[ -n "$STUDENT" ] || [ -n "$STUDENT_CONFIG" ] || die "needs --student DIR or --student-config FILE"
[ -f "$DB" ] || die "$DB: no such run database"
need_bins
mkdir -p "$OUT"

if [ -z "$STUDENT" ]; then
    [ -f "$STUDENT_CONFIG" ] || die "$STUDENT_CONFIG: no such file"
    [ -n "$TOKENIZER" ] || die "--student-config needs --tokenizer DIR (the teacher's tokenizer)"
    STUDENT="$OUT/init"
    if [ ! -f "$STUDENT/config.json" ]; then
        "$bin/r1-model" init --config "$STUDENT_CONFIG" --tokenizer "$TOKENIZER" --out "$STUDENT" \
            --seed "$SEED" >/dev/null
    fi
fi
[ -f "$STUDENT/config.json" ] || die "$STUDENT: not a model directory (no config.json)"
n=$(q "SELECT COUNT(*) FROM sft_samples WHERE kind IN ('$(echo "$KINDS" | sed "s/,/','/g")')")
[ "$n" -gt 0 ] || die "no samples of kinds $KINDS in $DB (run r1.sh first)"

[ "$EVAL_STUDENT" = 1 ] && eval_model "$STUDENT" student 0 "${STUDENT_TEMPLATE:-$TEMPLATE}"
say "== distillation: SFT of $STUDENT on $n samples ($KINDS), $EPOCHS epochs"
sft_phase distill-sft "$STUDENT" "$OUT/model" "$KINDS" "$EPOCHS" "$LR" "$TEMPLATE"
eval_model "$OUT/model" "$PHASE" 0 "$TEMPLATE"
say "distilled student: $OUT/model"
