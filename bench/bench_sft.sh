#!/usr/bin/env bash
# SFT training throughput on the CPU: bin/r1-sft (r1c) next to bench/bench_sft_torch.py
# (the same steps in PyTorch float32), on the Qwen2-shaped ~25M bench model of
# bench/bench_model.c (hidden 512, 8 layers, 8 heads / 2 KV heads, intermediate
# 1408, vocab 32000, untied; random weights, the same for both), packing at 2048
# tokens: `r1-sft --pack --batch-tokens 2048 --max-len 2048`, one epoch.
#   data:    SAMPLES generated chat samples (a user question, an assistant reply of
#            random words; ~100-550 tokens each with configs/tiny's tokenizer),
#            imported with `r1-data import --format messages --kind reasoning`.
#   r1c:     r1-sft --log-every 1, so its metric sft/tokens_per_s is each step's own
#            rate: the median over the steps after the first; "overall" is its
#            --json tokens_per_s (all steps, the final checkpoint save included).
#   PyTorch: the same samples' token ids and assistant targets (through r1-model
#            tokenize --messages), packed the same way (greedy fill of a shuffled
#            order, its own shuffle), each sample with its own positions and causal
#            attention; forward, mean CE over assistant targets, backward, clip 1.0,
#            AdamW. One warm-up step, then TORCH_STEPS timed steps; median of the
#            per-step rates and overall over the timed steps. Two attention forms:
#            per sample (as r1c; the default) and one block-diagonal mask over the
#            packed row (model_ref's additive-mask formulation).
#   Both count every token of a batch (prompt tokens included) as a token.
#   check:   r1-sft --dry-run --dump on the same database; PyTorch recomputes the
#            loss of r1c's first batch from its own tokenization: the two must agree,
#            or they would not be training on the same tokens.
# Usage: bench/bench_sft.sh [SAMPLES [TORCH_STEPS]]   (default 100 4; R1_BIN, R1_PY as
#        for bench/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(dirname "$here")
: "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
samples=${1:-100} torch_steps=${2:-4}
tmp=$(mktemp -d /tmp/r1c_bench_sft.XXXXXX)
trap 'rm -rf "$tmp"' EXIT


echo "== SFT training: $samples samples packed at 2048 tokens, bench model (Qwen2, hidden 512, 8 layers, vocab 32000), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

db="$tmp/run.db"
"$R1_BIN/r1-model" init --config "$bench_config" --tokenizer "$root/configs/tiny" \
    --out "$tmp/model" --seed 1 >&2

# Chat samples (bench/sft_samples.py: seeded, the same every run).
"$R1_PY" "$here/sft_samples.py" "$samples" >"$tmp/sft.jsonl"
"$R1_BIN/r1-data" init --db "$db" >&2
"$R1_BIN/r1-data" import --db "$db" --format messages --kind reasoning --quiet "$tmp/sft.jsonl"

sft=(--db "$db" --kind reasoning --model "$tmp/model" --pack --batch-tokens 2048 --max-len 2048
     --lr 1e-4)
"$R1_BIN/r1-sft" "${sft[@]}" --out "$tmp/dry" --dry-run --dump "$tmp/dump.safetensors" >&2
load0=$(cut -d' ' -f1 /proc/loadavg)
r1c=$(last_json "$R1_BIN/r1-sft" "${sft[@]}" --out "$tmp/out" --epochs 1 --log-every 1 --json)
steps_rate=$(sqlite3 "$db" "SELECT group_concat(value, ' ') FROM
                            (SELECT value FROM metrics WHERE stage = 'sft' AND
                             name = 'sft/tokens_per_s' ORDER BY step)")
[ -n "$steps_rate" ] || { echo "bench: r1-sft recorded no sft/tokens_per_s" >&2; exit 1; }
load1=$(cut -d' ' -f1 /proc/loadavg)
torch_seg=$(last_json "$R1_PY" "$here/bench_sft_torch.py" --db "$db" --tokenizer "$tmp/model" \
    --model "$tmp/model" --r1-bin "$R1_BIN" --steps "$torch_steps" --attn segments \
    --check "$tmp/dump.safetensors")
torch_mask=$(last_json "$R1_PY" "$here/bench_sft_torch.py" --db "$db" --tokenizer "$tmp/model" \
    --model "$tmp/model" --r1-bin "$R1_BIN" --steps "$torch_steps" --attn mask)
load2=$(cut -d' ' -f1 /proc/loadavg)
echo "$r1c"
echo "$torch_seg"
echo "$torch_mask"
"$R1_PY" - "$r1c" "$steps_rate" "$torch_seg" "$torch_mask" "$load0 $load1 $load2" <<'EOF'
import json, statistics, sys

c = json.loads(sys.argv[1])
rates = [float(x) for x in sys.argv[2].split()]
seg, mask = json.loads(sys.argv[3]), json.loads(sys.argv[4])
loads = sys.argv[5].split()
c_med = statistics.median(rates[1:] if len(rates) > 1 else rates)
print(f"{'':34}{'tokens/s (median step)':>24}{'overall':>10}{'steps':>7}")
print(f"{'r1c':34}{c_med:24.1f}{c['tokens_per_s']:10.1f}{c['steps']:7d}")
for name, t in (("PyTorch (per-sample attention)", seg), ("PyTorch (block-diagonal mask)", mask)):
    print(f"{name:34}{t['median_tokens_s']:24.1f}{t['tokens_s']:10.1f}{t['steps']:7d}")
for name, t in (("r1c / PyTorch (per-sample)", seg), ("r1c / PyTorch (block mask)", mask)):
    print(f"{name:34}{c_med / t['median_tokens_s']:23.2f}x{c['tokens_per_s'] / t['tokens_s']:9.2f}x")
print(f"r1c: {c['steps']} steps, {c['train_samples']} samples, {c['tokens']} tokens "
      f"({c['tokens'] / c['steps']:.0f} a step), last loss {c['final_loss']:.3f}; per-step rates "
      f"min {min(rates):.0f} max {max(rates):.0f}")
print(f"PyTorch: {seg['steps']} timed steps after 1 warm-up, {seg['batches']} batches of "
      f"{seg['mean_batch_tokens']:.0f} tokens on average; torch {seg['torch']}, {seg['threads']} threads")
print(f"check, r1c's first batch ({seg['check_samples']} samples): loss r1c {seg['check_r1c_loss']:.6f}, "
      f"PyTorch {seg['check_loss']:.6f}, largest per-sample difference {seg['check_sample_diff']:.2e}")
print(f"1-minute load average before r1c {loads[0]}, before PyTorch {loads[1]}, after {loads[2]}")
if seg["check_loss_diff"] > 1e-3 * abs(seg["check_r1c_loss"]) or seg["check_sample_diff"] > 1e-2:
    sys.exit("bench: PyTorch's loss on r1c's first batch differs: not the same tokens or targets")
EOF
