#!/usr/bin/env bash
# Decode throughput on the real model, SmolLM2-135M-Instruct, next to llama.cpp in the same
# run (bench/run.sh gguf). Imports the Q4_1 GGUF of scripts/real-model.sh with
# `r1-model import-gguf` (r1c computes in float32 whatever the file's types) and exports it
# back as an F32 GGUF; llama.cpp decodes both files with its batched decoding (one
# llama_batch carrying every sequence: bench/bench_gguf_llama.py), r1c decodes the imported
# model with bench_decode (the rollout path). 1 and 32 sequences x 128 new tokens after
# 32-token prompts, sampled at temperature 1.
# Goal: r1c at 32 sequences >= 1.5x llama.cpp's best 32-sequence figure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(dirname "$here")
: "${R1_BIN:=$root/bin}" "${R1_BENCHBIN:=$root/build/bench}" "${R1_PY:=$root/.venv/bin/python}"
new=128 plen=32
gguf=$("$root/scripts/real-model.sh")
"$root/scripts/llama-cpp.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$R1_BIN/r1-model" import-gguf --gguf "$gguf" --out "$work/smol" --quiet
"$R1_BIN/r1-model" export-gguf --model "$work/smol" --out "$work/smol-f32.gguf" --quiet
echo "== decode on SmolLM2-135M-Instruct: 1 and 32 sequences x $new new tokens after $plen-token prompts (OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}, $(nproc) CPUs)"
results=()
for seqs in 1 32; do
    results+=("$(last_json "$R1_BENCHBIN/bench_decode" --model "$work/smol" --seqs $seqs --new-tokens $new --prompt-len $plen --iters 1)")
    for f in "$gguf" "$work/smol-f32.gguf"; do
        results+=("$(last_json "$R1_PY" "$here/bench_gguf_llama.py" --gguf "$f" --seqs $seqs --new-tokens $new --prompt-len $plen --threads "$(nproc)" 2>/dev/null)")
    done
done
printf '%s\n' "${results[@]}"
"$R1_PY" - "${results[@]}" <<'EOF'
import json, sys

GOAL = 1.5
r = [json.loads(a) for a in sys.argv[1:]]
names = ["r1c (float32 weights)", "llama.cpp Q4_1 file", "llama.cpp F32 export"]
print(f"{'':26}{'1 seq tok/s':>13}{'32 seqs tok/s':>15}")
for i, n in enumerate(names):
    print(f"{n:26}{r[i]['decode_tok_s']:13.1f}{r[3 + i]['decode_tok_s']:15.1f}")
best = max(r[4]["decode_tok_s"], r[5]["decode_tok_s"])
x = r[3]["decode_tok_s"] / best
print(f"r1c / llama.cpp's best at 32 sequences: {x:.2f}x; goal >= {GOAL}x: {'met' if x >= GOAL else 'NOT met'}")
print("batch 1 is memory-bound: r1c streams float32 weights (540 MB per token), "
      "llama.cpp's Q4_1 file about a sixth of that")
EOF
