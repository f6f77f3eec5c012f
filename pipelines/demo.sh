#!/usr/bin/env bash
# The main job: the R1 pipeline on the embedded tiny model.
#
#   pipelines/demo.sh [--out DIR] [--seed S] [--help]      (also: make demo)
#
# Today it runs what the stages built so far provide: the run database with GSM8K and
# generated tasks, the embedded tiny Qwen2-shaped model (configs/tiny: config.json and its
# own byte-level BPE tokenizer) as a Hugging Face checkpoint, an R1 chat rendered and
# tokenized, one forward + backward pass, and the R1 rewards on hand-written completions.
# Rollout, GRPO, SFT and the R1-Zero -> R1 -> distillation loop arrive with their issues
# and will run from this script.
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

echo "== next: rollout, GRPO and SFT on this model arrive with their issues"
