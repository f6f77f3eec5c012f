#!/usr/bin/env bash
# The main job: the R1 pipeline on the embedded tiny model.
#
#   pipelines/demo.sh [--out DIR] [--seed S] [--help]      (also: make demo)
#
# Today it runs what the stages built so far provide: the run database with GSM8K and
# generated tasks, the embedded tiny Qwen2-shaped model (configs/tiny: config.json and its
# own byte-level BPE tokenizer) as a Hugging Face checkpoint, an R1 chat rendered and
# tokenized, one forward + backward pass, the R1 rewards on hand-written completions, a cold
# start (SFT of the tiny model on worked solutions) and two R1-Zero steps (rollout -> reward
# -> GRPO) from it. The full R1-Zero -> R1 -> distillation scripts arrive with their issue.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${R1_DEMO_DIR:-$root/runs/demo}"
seed="${R1_SEED:-1}"
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
bin="${R1_BIN:-$root/bin}"
[ -x "$bin/r1-model" ] || make -C "$root" -s all

mkdir -p "$out"
db="$out/run.db"
echo "== 0. the run database: $db"
"$bin/r1-data" init --db "$db"
"$bin/r1-data" import --db "$db" --format gsm8k --quiet "$root/tests/fixtures/gsm8k-train-300.jsonl"
"$bin/r1-data" synth --db "$db" --task arith --n 200 --seed "$seed" --lang mixed --quiet
"$bin/r1-data" synth --db "$db" --task countdown --n 100 --seed "$seed" --quiet
# easy sums and differences: worked solutions for the cold start, fresh ones for RL
"$bin/r1-data" synth --db "$db" --task arith --level 1 --n 1500 --split cold_start --seed "$seed" --quiet
"$bin/r1-data" synth --db "$db" --task arith --level 1 --n 200 --split rl --seed "$((seed + 1))" --quiet
"$bin/r1-data" stats --db "$db"
"$bin/r1-data" sample --db "$db" --table prompts --dataset synth/countdown --n 1

echo "== 1. the embedded tiny model: $out/base"
"$bin/r1-model" init --config "$root/configs/tiny/config.json" --tokenizer "$root/configs/tiny" \
    --out "$out/base" --seed "$seed"
"$bin/r1-model" info --model "$out/base"

echo "== 2. an R1 chat, rendered and tokenized (assistant_mask marks what SFT trains on)"
chat='[{"role":"user","content":"Natalia sold 48 clips. How many are left if she sold 12 more?"},'
chat+='{"role":"assistant","content":"<think>\n48 + 12 = 60</think> <answer>60</answer>"}]'
echo "$chat" | "$bin/r1-model" tokenize --tokenizer "$out/base" --messages | tee "$out/chat.json"

echo "== 3. one forward + backward pass over that chat"
ids=$(sed 's/.*"ids":\[\([0-9,]*\)\].*/\1/' "$out/chat.json" | tr ',' ' ')
targets="$(echo "$ids" | cut -d' ' -f2-) -100"
"$bin/r1-model" forward --model "$out/base" --tokens "$ids" --targets "$targets" \
    --out "$out/forward.safetensors"
echo "wrote logits, loss and every parameter's gradient to $out/forward.safetensors"

echo "== 4. the R1 rewards on two completions for 'what is 48 + 12?' (gold 60)"
good=$'<think>\n48 + 12 = 60\n</think>\n<answer>\n60\n</answer>'
"$bin/r1-reward" explain --gold 60 --completion "$good"
"$bin/r1-reward" explain --gold 60 --completion 'I think it is \boxed{61}.'

echo "== 5. cold start: SFT of the tiny model on worked arithmetic solutions in R1's format"
# Each generated arithmetic task becomes a chat whose reply is <think> the worked
# solution </think> <answer> the gold answer </answer>.
sqlite3 "$db" "SELECT json_object('messages', json_array(
      json_object('role', 'user', 'content', question),
      json_object('role', 'assistant', 'content', '<think>' || char(10) || solution || char(10) ||
                  '</think>' || char(10) || '<answer>' || char(10) || answer || char(10) || '</answer>')))
    FROM prompts WHERE split = 'cold_start'" >"$out/cold_start.jsonl"
"$bin/r1-data" import --db "$db" --format messages --kind cold_start --quiet "$out/cold_start.jsonl"
"$bin/r1-sft" --db "$db" --kind cold_start --model "$out/base" --out "$out/sft" --epochs "${R1_DEMO_EPOCHS:-4}" \
    --lr 3e-3 --warmup 10 --batch-tokens 4096 --pack --eval-split 0.05 --seed "$seed"

echo "== 6. R1-Zero steps from the SFT model: rollout -> reward -> grpo"
prev="$out/sft"
rm -rf "$out/ref" && cp -r "$out/sft" "$out/ref"
for step in 0 1 2; do
    "$bin/r1-rollout" --db "$db" --model "$prev" --step "$step" --split rl --prompts 16 \
        --group 8 --max-new-tokens 48 --temperature 1.0 --stop "</answer>" --seed "$seed" --quiet
    "$bin/r1-reward" --db "$db" --step "$step" --quiet >/dev/null
    "$bin/r1-grpo" --db "$db" --step "$step" --model "$prev" --ref "$out/ref" \
        --out "$out/grpo-$((step + 1))" --lr 3e-4 --seed "$seed"
    prev="$out/grpo-$((step + 1))"
done
sqlite3 -header -column "$db" "SELECT step, name, ROUND(mean, 3) AS mean FROM step_rewards ORDER BY step, name"
sqlite3 -header -column "$db" "SELECT stage, step, name, ROUND(value, 4) AS value FROM metrics
    WHERE name IN ('sft/eval_loss', 'rollout/completion_len_mean', 'rollout/tokens_per_s',
    'grpo/kl', 'grpo/zero_std_frac', 'grpo/clip_frac_high') ORDER BY time"

echo "== 7. the result, one greedy completion"
"$bin/r1-model" generate --model "$prev" --prompt "Compute: 12 + 30 = ?" --temperature 0 \
    --max-new-tokens 48 --stop "</answer>"
