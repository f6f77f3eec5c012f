#!/usr/bin/env bash
# The R1 recipe on a real pretrained model: SmolLM2-135M-Instruct (the GGUF of
# scripts/real-model.sh), from the base through cold start, reasoning RL and
# rejection sampling, on the CPU.
#
#   pipelines/r1-real.sh [DIR] [--size full|ci] [options]
#
# Everything goes to DIR (default runs/r1-real), the run database to DIR/run.db:
#   0. the model (r1-model import-gguf into DIR/base) and the data: r1-data synth
#      arithmetic tasks of LEVELS in English and Chinese wording, EVAL_PER_LEVEL per
#      level held out (split test), TRAIN_PROMPTS for RL (split train, none of them
#      a held-out question); GSM8K_PROMPTS questions of the GSM8K test set, for the
#      record (../shared/data/gsm8k/test.jsonl, else the repository's 40-question
#      slice); 36 everyday chat prompts (pipelines/data/chat-prompts.jsonl);
#   1. evaluation of the base (phase base);
#   2. the R1-Zero probe: ZERO_STEPS GRPO steps from the base with accuracy + format
#      rewards (stage r1-zero; --zero-steps 0 skips it), evaluated (phase r1-zero);
#   3. cold start: r1-data synth --kind cold_start writes COLD_START_N worked samples
#      (a step-by-step chain of thought in the question's language, then a one-line
#      summary, in the R1 format), and r1-sft trains the base on them with the
#      model's own chat template (chatml), loss on the assistant's tokens only
#      (DIR/cold-start, phase cold-start);
#   4. reasoning RL: RL_STEPS GRPO steps from the cold start with accuracy + format +
#      language-consistency rewards (stage r1-reasoning, DIR/rl; phase r1);
#   5. rejection sampling: RS_SAMPLES completions for each of RS_PROMPTS training
#      prompts from the RL policy; the correct, well-formed, single-language ones
#      become kind reasoning (one per prompt); the base's own answers to the chat
#      prompts become kind non_reasoning; r1-sft trains the base on the union
#      (DIR/rs-sft, phase rs-sft).
# Every evaluation samples EVAL_K completions per held-out prompt at temperature 0.6,
# top-p 0.95 and writes pass@1 as metrics eval/accuracy, eval/format, eval/language
# (stage = the phase), per level as eval/level-L/..., and GSM8K as eval/gsm8k/...; the
# evaluation's rollouts are stages eval/PHASE and eval/gsm8k-PHASE.
# Every reasoning prompt carries the system message SYSTEM. The script ends with the
# table and DIR/report.html. Run it again after a kill: finished work is kept and an
# interrupted phase continues.
#
# Options (--name VALUE; or the environment, R1_NAME or NAME; defaults in brackets, for
# --size full; the smaller sizes set their own at the top of the script):
#   --size [full]           full: about 70 minutes on 2 cores; ci: a few minutes; smoke:
#                           every command once on a few tokens (the sanitizer build's test)
#   --gguf [scripts/real-model.sh]  the model to import
#   --levels ["1 2 4"]      arithmetic levels (synth.h: 1 two-number +/-, 2 three-digit
#                           + - *, 3 long expressions, 4 word problems)
#   --eval-per-level [32]   --eval-k [4]      --gsm8k-prompts [20]  --gsm8k-k [2]
#   --train-prompts [2000]  --max-new-tokens [300]
#   --zero-steps [2]        --cold-start-n [2000]  --cold-start-epochs [1]
#   --rl-steps [10]         --prompts [8]  --group [8]  --lr [1e-5]  --beta [0.04]
#   --rs-prompts [400]      --rs-samples [2]   --rs-temperature [0.7]
#   --rs-filter [correct,format,stop,readable]   (r1-data collect --filter)
#   --chat-prompts [0: all] --chat-max-new-tokens [200]  --chat-filter [stop]
#                           the base's answers to the chat prompts (kind non_reasoning)
#   --sft-lr [1e-4]         --sft-batch-tokens [4096]   --seed [1]  --quiet
#   --system [...]          the reasoning system message
#   --nproc [1]             rollout, GRPO and SFT as N MPI ranks (see pipelines/lib.sh)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
knobs OUT="$root/runs/r1-real" SIZE=full GGUF= SEED=1
args=()
while [ $# -gt 0 ]; do # DIR may come anywhere among the options
    case "$1" in
    --quiet | --help | -h) args+=("$1") && shift ;;
    --*)
        [ $# -ge 2 ] || die "$1 needs a value"
        args+=("$1" "$2") && shift 2
        ;;
    *) OUT=$1 && shift ;;
    esac
done
# The sizes first (so that --size ci and any other option combine), then the rest.
for ((i = 0; i + 1 < ${#args[@]}; i++)); do [ "${args[i]}" = --size ] && SIZE=${args[i + 1]}; done
case "$SIZE" in
full) knobs EVAL_PER_LEVEL=32 EVAL_K=4 GSM8K_PROMPTS=20 GSM8K_K=2 TRAIN_PROMPTS=2000 ZERO_STEPS=2 \
    COLD_START_N=2000 RL_STEPS=10 RS_PROMPTS=400 MAX_NEW_TOKENS=300 ;;
ci) knobs EVAL_PER_LEVEL=4 EVAL_K=2 GSM8K_PROMPTS=4 GSM8K_K=1 TRAIN_PROMPTS=200 ZERO_STEPS=1 \
    COLD_START_N=120 RL_STEPS=2 RS_PROMPTS=16 MAX_NEW_TOKENS=120 PROMPTS=4 GROUP=4 ;;
# the sanitizer build's test: every command once, on a few tokens (nothing is learnt)
smoke) knobs EVAL_PER_LEVEL=1 EVAL_K=1 GSM8K_PROMPTS=1 GSM8K_K=1 TRAIN_PROMPTS=8 ZERO_STEPS=1 \
    COLD_START_N=4 RL_STEPS=1 RS_PROMPTS=2 MAX_NEW_TOKENS=8 PROMPTS=2 GROUP=2 LEVELS=1 \
    CHAT_MAX_NEW_TOKENS=8 RS_FILTER=none CHAT_FILTER=none CHAT_PROMPTS=2 ;;
*) die "--size is full, ci or smoke" ;;
esac
knobs LEVELS="1 2 4" COLD_START_EPOCHS=1 PROMPTS=8 GROUP=8 LR=1e-5 BETA=0.04 TEMPERATURE=1.0 \
    RS_SAMPLES=2 RS_TEMPERATURE=0.7 SFT_LR=1e-4 SFT_BATCH_TOKENS=4096 REF_RESET_EVERY=1000 \
    KEEP_CHECKPOINTS=0 EVAL_EVERY=0 SPLIT=train RS_FILTER=correct,format,stop,readable \
    CHAT_PROMPTS=0 CHAT_MAX_NEW_TOKENS=200 CHAT_FILTER=stop \
    SYSTEM="Think step by step inside <think> </think>, then give the final answer inside <answer> </answer>."
parse_options ${args[@]+"${args[@]}"}
for n in EVAL_PER_LEVEL EVAL_K GSM8K_PROMPTS GSM8K_K TRAIN_PROMPTS ZERO_STEPS COLD_START_N RL_STEPS \
    RS_PROMPTS RS_SAMPLES MAX_NEW_TOKENS PROMPTS GROUP CHAT_PROMPTS CHAT_MAX_NEW_TOKENS \
    COLD_START_EPOCHS SFT_BATCH_TOKENS; do
    [[ "${!n}" =~ ^[0-9]+$ ]] || die "--$(echo "$n" | tr 'A-Z_' 'a-z-') '${!n}': expected a whole number"
done
for n in EVAL_PER_LEVEL EVAL_K TRAIN_PROMPTS COLD_START_N RL_STEPS RS_PROMPTS RS_SAMPLES MAX_NEW_TOKENS \
    PROMPTS GROUP CHAT_MAX_NEW_TOKENS COLD_START_EPOCHS SFT_BATCH_TOKENS; do
    [ "${!n}" -gt 0 ] || die "--$(echo "$n" | tr 'A-Z_' 'a-z-') must be at least 1"
done
for l in $LEVELS; do [[ "$l" =~ ^[1-4]$ ]] || die "--levels '$LEVELS': levels are 1 to 4"; done
[ -n "${LEVELS// /}" ] || die "--levels: give at least one level (1 to 4)"
need_bins
[ -x "$bin/r1-report" ] || die "$bin/r1-report is missing (run make)"
[ -n "$GGUF" ] || GGUF=$("$root/scripts/real-model.sh")
[ -f "$GGUF" ] || die "$GGUF: no such GGUF file"
export QUIET R1_NPROC="$NPROC"
mkdir -p "$OUT"
DB="$OUT/run.db"
TEMPLATE=chatml # SmolLM2's own chat template
start=$(date +%s)
nlevels=$(echo $LEVELS | wc -w)

say "== 0. model and data: $OUT"
if [ ! -f "$OUT/base/config.json" ]; then
    rm -rf "$OUT/base"
    "$bin/r1-model" import-gguf --gguf "$GGUF" --out "$OUT/base" --quiet
fi
"$bin/r1-data" init --db "$DB" >/dev/null
for l in $LEVELS; do # held out first, so that no training question is one of them
    "$bin/r1-data" synth --db "$DB" --task arith --level "$l" --lang mixed --n "$EVAL_PER_LEVEL" \
        --split test --seed "$((SEED * 1000 + l))" --quiet
done
for l in $LEVELS; do
    "$bin/r1-data" synth --db "$DB" --task arith --level "$l" --lang mixed \
        --n "$(((TRAIN_PROMPTS + nlevels - 1) / nlevels))" --split train --avoid-split test \
        --seed "$((SEED * 1000 + 10 + l))" --quiet
done
gsm8k="$root/../shared/data/gsm8k/test.jsonl"
[ -f "$gsm8k" ] || gsm8k="$root/tests/fixtures/gsm8k-test-40.jsonl"
if [ "$GSM8K_PROMPTS" -gt 0 ]; then
    head -n "$GSM8K_PROMPTS" "$gsm8k" | "$bin/r1-data" import --db "$DB" --format gsm8k --split test --quiet -
fi
"$bin/r1-data" import --db "$DB" --format jsonl --dataset chat --split chat --quiet \
    "$root/pipelines/data/chat-prompts.jsonl"
n_arith=$(q "SELECT COUNT(*) FROM prompts WHERE split = 'test' AND dataset = 'synth/arith'")
n_gsm8k=$(q "SELECT COUNT(*) FROM prompts WHERE split = 'test' AND dataset = 'gsm8k'")

# eval_real MODEL PHASE STEP TEMPLATE: the held-out arithmetic (every prompt, by level)
# and the GSM8K questions, EVAL_K / GSM8K_K samples each at temperature 0.6, top-p 0.95.
eval_real() {
    local model=$1 phase=$2 step=$3 tpl=$4
    par "$bin/r1-rollout" --db "$DB" --model "$model" --stage "eval/$phase" --step "$step" \
        --split test --dataset synth/arith --prompts "$n_arith" --group "$EVAL_K" --temperature 0.6 \
        --top-p 0.95 --max-new-tokens "$MAX_NEW_TOKENS" --template "$tpl" --system "$SYSTEM" \
        --stop "</answer>" --seed "$SEED" --quiet >/dev/null
    "$bin/r1-reward" --db "$DB" --stage "eval/$phase" --step "$step" --eval "$phase" --by level \
        --rewards accuracy=1,format=1,language=1 --quiet >/dev/null
    if [ "$n_gsm8k" -gt 0 ] && [ "$GSM8K_K" -gt 0 ]; then
        par "$bin/r1-rollout" --db "$DB" --model "$model" --stage "eval/gsm8k-$phase" --step "$step" \
            --split test --dataset gsm8k --prompts "$n_gsm8k" --group "$GSM8K_K" --temperature 0.6 \
            --top-p 0.95 --max-new-tokens "$MAX_NEW_TOKENS" --template "$tpl" --system "$SYSTEM" \
            --stop "</answer>" --seed "$SEED" --quiet >/dev/null
        "$bin/r1-reward" --db "$DB" --stage "eval/gsm8k-$phase" --step "$step" --eval "$phase" \
            --eval-name eval/gsm8k --rewards accuracy=1,format=1,language=1 --quiet >/dev/null
    fi
    say "$(q "SELECT printf('eval %s: accuracy %.3f, format %.3f, language %.3f, length %.1f ($n_arith prompts x $EVAL_K)',
        stage, MAX(CASE name WHEN 'eval/accuracy' THEN value END),
        MAX(CASE name WHEN 'eval/format' THEN value END), MAX(CASE name WHEN 'eval/language' THEN value END),
        MAX(CASE name WHEN 'eval/completion_len_mean' THEN value END))
        FROM metrics WHERE stage = $(sql_str "$phase") AND step = $step GROUP BY stage")"
}
EVAL_FN=eval_real
ROLLOUT_SYSTEM=$SYSTEM # rl_loop's rollouts

say "== 1. the base model"
eval_real "$OUT/base" base 0 "$TEMPLATE"

if [ "$ZERO_STEPS" -gt 0 ]; then
    say "== 2. R1-Zero probe: $ZERO_STEPS GRPO steps from the base (accuracy + format)"
    rl_loop r1-zero "$OUT/base" "$OUT/r1-zero" "$ZERO_STEPS" "$TEMPLATE" accuracy=1,format=1 r1-zero
fi

say "== 3. cold start: $COLD_START_N worked samples, SFT of the base"
for l in $LEVELS; do
    "$bin/r1-data" synth --db "$DB" --task arith --level "$l" --lang mixed --kind cold_start \
        --system "$SYSTEM" --n "$(((COLD_START_N + nlevels - 1) / nlevels))" --avoid-split test \
        --seed "$((SEED * 1000 + 20 + l))" --quiet
done
SFT_WARMUP=5 sft_phase cold-start "$OUT/base" "$OUT/cold-start" cold_start "$COLD_START_EPOCHS" \
    "$SFT_LR" "$TEMPLATE"
eval_real "$OUT/cold-start" cold-start 0 "$TEMPLATE"

say "== 4. reasoning RL: $RL_STEPS GRPO steps (accuracy + format + language)"
rl_loop r1-reasoning "$OUT/cold-start" "$OUT/rl" "$RL_STEPS" "$TEMPLATE" \
    accuracy=1,format=1,language=1 r1

say "== 5. rejection sampling ($RS_PROMPTS prompts x $RS_SAMPLES) and SFT of the base"
par "$bin/r1-rollout" --db "$DB" --model "$OUT/rl/final" --stage rs --step 0 --split train \
    --dataset synth/arith --prompts "$RS_PROMPTS" --group "$RS_SAMPLES" --temperature "$RS_TEMPERATURE" \
    --max-new-tokens "$MAX_NEW_TOKENS" --template "$TEMPLATE" --system "$SYSTEM" --stop "</answer>" \
    --seed "$SEED" --quiet >/dev/null
"$bin/r1-reward" --db "$DB" --stage rs --step 0 --rewards accuracy=1,format=1,language=1 --quiet >/dev/null
"$bin/r1-data" collect --db "$DB" --kind reasoning --stage rs --filter "$RS_FILTER" \
    --max-per-prompt 1 --system "$SYSTEM" --quiet
n_chat=$(q "SELECT COUNT(*) FROM prompts WHERE split = 'chat'")
[ "$CHAT_PROMPTS" -gt 0 ] && [ "$CHAT_PROMPTS" -lt "$n_chat" ] && n_chat=$CHAT_PROMPTS
par "$bin/r1-rollout" --db "$DB" --model "$OUT/base" --stage non-reasoning --step 0 --split chat \
    --prompts "$n_chat" --group 1 --temperature 0.7 --top-p 0.95 --max-new-tokens "$CHAT_MAX_NEW_TOKENS" \
    --template "$TEMPLATE" --seed "$SEED" --quiet >/dev/null
"$bin/r1-data" collect --db "$DB" --kind non_reasoning --stage non-reasoning --filter "$CHAT_FILTER" --quiet
SFT_WARMUP=5 sft_phase rs-sft "$OUT/base" "$OUT/rs-sft" reasoning,non_reasoning 1 "$SFT_LR" "$TEMPLATE"
eval_real "$OUT/rs-sft" rs-sft 0 "$TEMPLATE"

say "== the result ($(($(date +%s) - start)) s this run)"
table() {
    local levels="" l
    for l in $LEVELS; do
        levels="$levels, ROUND(MAX(CASE name WHEN 'eval/level-$l/accuracy' THEN value END), 3) AS level_$l"
    done
    sqlite3 -header -column "$DB" "SELECT stage AS phase,
            ROUND(MAX(CASE name WHEN 'eval/accuracy' THEN value END), 3) AS accuracy,
            ROUND(MAX(CASE name WHEN 'eval/format' THEN value END), 3) AS format,
            ROUND(MAX(CASE name WHEN 'eval/language' THEN value END), 3) AS language,
            ROUND(MAX(CASE name WHEN 'eval/completion_len_mean' THEN value END), 1) AS length
            $levels,
            ROUND(MAX(CASE name WHEN 'eval/gsm8k/accuracy' THEN value END), 3) AS gsm8k
        FROM metrics m
        WHERE stage IN ('base', 'r1-zero', 'cold-start', 'r1', 'rs-sft') AND name LIKE 'eval/%'
          AND step = (SELECT MAX(step) FROM metrics WHERE stage = m.stage AND name = 'eval/accuracy')
        GROUP BY stage
        ORDER BY CASE stage WHEN 'base' THEN 0 WHEN 'r1-zero' THEN 1 WHEN 'cold-start' THEN 2
            WHEN 'r1' THEN 3 ELSE 4 END"
}
table
say "held out: $n_arith arithmetic prompts (levels $LEVELS) x $EVAL_K samples, $n_gsm8k GSM8K x $GSM8K_K"
sqlite3 -header -column "$DB" "SELECT stage, COUNT(*) AS steps,
        ROUND(MAX(CASE WHEN name = 'grpo/kl' THEN value END), 4) AS kl_max,
        ROUND((SELECT value FROM metrics WHERE stage = m.stage AND name = 'grpo/kl' ORDER BY step DESC, rowid DESC LIMIT 1), 4) AS kl_last,
        ROUND((SELECT value FROM metrics WHERE stage = m.stage AND name = 'rollout/completion_len_mean' ORDER BY step LIMIT 1), 1) AS len_first,
        ROUND((SELECT value FROM metrics WHERE stage = m.stage AND name = 'rollout/completion_len_mean' ORDER BY step DESC LIMIT 1), 1) AS len_last
    FROM metrics m WHERE stage IN ('r1-zero', 'r1-reasoning') AND name = 'grpo/kl' GROUP BY stage"
"$bin/r1-report" --db "$DB" --out "$OUT/report.html" --title "r1c: the R1 recipe on SmolLM2-135M-Instruct" --quiet
echo "report: $OUT/report.html"
