#!/usr/bin/env bash
# make bench-cuda: decoding and training on the GPU for a Qwen2.5-1.5B-shaped
# random model (bench/cuda/qwen2.5-1.5b.json), next to PyTorch + transformers
# on the same config in the same run; one table at the end.
#   BENCH_CONFIG  another config.json;  BENCH_QUICK=1  smaller sizes (a smoke run)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="${R1_BENCHBIN:?}/cuda/bench_cuda"
cfg="${BENCH_CONFIG:-$root/bench/cuda/qwen2.5-1.5b.json}"
out="${BENCH_OUT:-$(mktemp -d)}"
mkdir -p "$out"
py="${PYTHON:-python3}"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    dec=(--seqs 32 --prompt 32 --new 64); trn=(--seqs 2 --len 512 --steps 2)
else
    dec=(--seqs 256 --prompt 64 --new 512); trn=(--seqs 8 --len 2048 --steps 4)
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
echo "config: $cfg"
run() { # name, command...: one JSON line into $out/name.json, stderr shown
    local name=$1; shift
    echo "-- $name: $*" >&2
    "$@" | tail -1 >"$out/$name.json"
    cat "$out/$name.json"
}
run r1c-decode "$bin" --config "$cfg" decode "${dec[@]}"
run hf-decode "$py" "$root/bench/cuda/bench_cuda_torch.py" --config "$cfg" decode "${dec[@]}"
run r1c-train "$bin" --config "$cfg" train "${trn[@]}"
run hf-train "$py" "$root/bench/cuda/bench_cuda_torch.py" --config "$cfg" train "${trn[@]}"
"$py" - "$out" <<'PYEOF'
import json, sys, os
d = {n: json.load(open(os.path.join(sys.argv[1], n + ".json")))
     for n in ("r1c-decode", "hf-decode", "r1c-train", "hf-train")}
rd, hd, rt, ht = d["r1c-decode"], d["hf-decode"], d["r1c-train"], d["hf-train"]
print()
print("| benchmark | r1c | PyTorch + transformers | r1c / reference | goal |")
print("| --- | --- | --- | --- | --- |")
print(f"| decode tok/s ({rd['seqs']} seqs x {rd['new']} new) | {rd['tokens_per_s']:.0f} | "
      f"{hd['tokens_per_s']:.0f} | {rd['tokens_per_s'] / hd['tokens_per_s']:.1f}x | >= 10x |")
print(f"| decode vs HBM roofline ({rd['roofline_tokens_per_s']:.0f} tok/s at "
      f"{rd['copy_bw_gbs']:.0f} GB/s) | {100 * rd['roofline_frac']:.1f}% | | | >= 60% |")
print(f"| train tok/s ({rt['seqs']} x {rt['len']}, fwd+bwd+AdamW) | {rt['tokens_per_s']:.0f} | "
      f"{ht['tokens_per_s']:.0f} | {rt['tokens_per_s'] / ht['tokens_per_s']:.2f}x | |")
mfu_ref = rt["mfu"] * ht["tokens_per_s"] / rt["tokens_per_s"]
print(f"| train MFU (989 TFLOP/s bf16 peak) | {100 * rt['mfu']:.1f}% | {100 * mfu_ref:.1f}% | | >= 45% |")
print(f"| GPU memory GiB (decode / train) | {rd['gpu_gib']:.1f} / {rt['gpu_gib']:.1f} | - / {ht['gpu_gib']:.1f} | | |")
PYEOF
