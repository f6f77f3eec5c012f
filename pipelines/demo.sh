#!/usr/bin/env bash
# The main job: the R1 pipeline on the embedded tiny model.
#
#   pipelines/demo.sh [--out DIR] [--seed S] [--help]      (also: make demo)
#
# Today (foundation issue) it does what the foundation provides: it creates the embedded
# tiny Qwen2-shaped model from configs/tiny-qwen2.json as a Hugging Face checkpoint, shows
# it with `r1-model info`, and runs one forward + backward pass through it. The stages
# that follow (tokenizer, datasets, rewards, rollout, GRPO, SFT) and the R1-Zero -> R1 ->
# distillation pipeline arrive with the pipelines issue and will run from this script.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${R1_DEMO_DIR:-$root/runs/demo}"
seed="${R1_SEED:-1}"
while [ $# -gt 0 ]; do
    case "$1" in
    --out) out="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
done
bin="${R1_BIN:-$root/bin}"
[ -x "$bin/r1-model" ] || make -C "$root" -s all

echo "== 1. the embedded tiny model: $out/base"
"$bin/r1-model" init --config "$root/configs/tiny-qwen2.json" --out "$out/base" --seed "$seed"
"$bin/r1-model" info --model "$out/base"

echo "== 2. one forward + backward pass (two sequences)"
"$bin/r1-model" forward --model "$out/base" --tokens "1 17 42 99 7" --targets "17 42 99 7 2" \
    --tokens "1 5 6" --targets "5 6 2" --out "$out/forward.safetensors"
echo "wrote logits, loss and every parameter's gradient to $out/forward.safetensors"

echo "== next: R1-Zero -> R1 -> distillation on this model arrives with the pipelines issue"
