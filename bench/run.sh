#!/usr/bin/env bash
# Benchmarks, each next to its reference implementation (`make bench`).
#   model:     $R1_BENCHBIN/bench_model (r1c) vs bench/bench_model_torch.py (PyTorch)
#              on the same Qwen2-shaped model and batch; forward and forward+backward.
#   tokenizer: $R1_BENCHBIN/bench_tokenizer (r1c) vs bench/bench_tokenizer.py (Hugging
#              Face `tokenizers`, one thread) encoding the same corpus (bench/corpus.sh)
#              with the DeepSeek-V3 and Qwen tokenizers; MB/s and token counts.
#   reward:    $R1_BENCHBIN/bench_reward (r1c: accuracy + format + language) vs
#              bench/bench_reward_mathverify.py (math-verify, accuracy only, as open-r1's
#              accuracy_reward) on the same generated GSM8K/MATH-like completions; per core.
#   import:    bench/bench_import.sh: bin/r1-data import of 800K generated chat-format SFT
#              samples (~1 KB each) into a fresh run database; samples/s, bytes/sample.
#   decode:    $R1_BENCHBIN/bench_decode (r1c's KV-cache generation, the rollout path) vs
#              bench/bench_decode_torch.py (PyTorch's own KV-cache loop) on the model of
#              `model`: 32 sequences x 256 new tokens; decode tokens/s.
#   grpo:      bench/bench_grpo.sh: one GRPO step (16 prompts x 8 completions x 128 tokens) with
#              bin/r1-rollout and bin/r1-grpo vs bench/bench_grpo_torch.py, split into rollout,
#              reference forward and update.
#   sft:       bench/bench_sft.sh: bin/r1-sft training tokens/s with packing at 2048 tokens vs
#              bench/bench_sft_torch.py (the same samples and batches in PyTorch).
#   dist:      bench/bench_dist.sh: bin/r1-sft training tokens/s at N = 1 (2 threads) and under
#              mpirun at N = 2 (1 thread each, with and without --zero 1); all-reduce time per step.
#   grpo-real: bench/bench_grpo_real.sh: one GRPO step of pipelines/r1-real.sh at its default sizes
#              (8 prompts x 8 completions, <= 300 tokens) on the real SmolLM2-135M-Instruct vs the
#              same step in PyTorch; rollout, ref + old logprobs and update, with tokens/s.
#   gguf:      bench/bench_gguf.sh: decode tokens/s on the real SmolLM2-135M (1 and 32 sequences)
#              vs llama.cpp's batched decoding of its Q4_1 file and of r1c's F32 export.
# Usage: bench/run.sh [model|tokenizer|reward|import|decode|grpo|grpo-real|sft|dist|gguf]
#        (default: all)
# A missed goal is reported, not an error (this is a benchmark, not a test); a
# program that fails or prints no result fails the script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(dirname "$here")
: "${R1_BIN:=$root/bin}" "${R1_BENCHBIN:=$root/build/bench}" "${R1_PY:=$root/.venv/bin/python}"
export R1_BIN R1_BENCHBIN R1_PY

bench_model() {
    local batch=8 seq=256 iters=3 r1c torch
    echo "== model forward / forward+backward: batch $batch x $seq tokens, median of $iters (OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}, $(nproc) CPUs)"
    r1c=$(last_json "$R1_BENCHBIN/bench_model" --batch $batch --seq $seq --iters $iters)
    torch=$(last_json "$R1_PY" "$here/bench_model_torch.py" --batch $batch --seq $seq --iters $iters)
    echo "$r1c"
    echo "$torch"
    "$R1_PY" - "$r1c" "$torch" <<'EOF'
import json, sys

c, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
FWDBWD_GOAL, MATMUL_GOAL = 1.3, 0.5  # r1c/PyTorch fwd+bwd speed; share of sgemm peak


def met(ok):
    return "met" if ok else "NOT met"


print(f"{'':14}{'fwd tok/s':>12}{'fwd+bwd tok/s':>16}")
print(f"{'r1c':14}{c['fwd_tok_s']:12.1f}{c['fwdbwd_tok_s']:16.1f}")
print(f"{'PyTorch':14}{t['fwd_tok_s']:12.1f}{t['fwdbwd_tok_s']:16.1f}"
      f"   (torch {t.get('torch', '?')}, {t.get('threads', '?')} threads)")
fwd_x, fwdbwd_x = c["fwd_tok_s"] / t["fwd_tok_s"], c["fwdbwd_tok_s"] / t["fwdbwd_tok_s"]
print(f"{'r1c/PyTorch':14}{fwd_x:11.2f}x{fwdbwd_x:15.2f}x")
peak = c["sgemm_peak_gflops"]
share = c["matmul_gflops"] / peak
# The whole step's rate counts only product FLOPs over all of its time, so it is
# a lower bound on the rate inside the products during the real run.
floor = c["fwdbwd_gflops"] / peak
print(f"sgemm peak (2048^3, measured now)   {peak:8.1f} GFLOP/s")
print(f"model's product shapes, run alone   {c['matmul_gflops']:8.1f} GFLOP/s = {100 * share:.1f}% of peak")
print(f"whole fwd+bwd step (lower bound)    {c['fwdbwd_gflops']:8.1f} GFLOP/s = {100 * floor:.1f}% of peak")
print(f"goal fwd+bwd >= {FWDBWD_GOAL}x PyTorch: {met(fwdbwd_x >= FWDBWD_GOAL)} ({fwdbwd_x:.2f}x)")
print(f"goal matmul >= {100 * MATMUL_GOAL:.0f}% of sgemm peak: {met(share >= MATMUL_GOAL)} ({100 * share:.1f}%)")
EOF
}

bench_tokenizer() {
    local tmp name r1c hf rows=()
    tmp=$(mktemp -d /tmp/r1c_bench_tok.XXXXXX)
    # shellcheck disable=SC2064 # expand now: $tmp is local
    trap "rm -rf '$tmp'" EXIT
    "$here/corpus.sh" "$tmp/corpus.txt"
    echo "== tokenizer encode: each line of a $(($(wc -c <"$tmp/corpus.txt") / 1000)) kB corpus, no special tokens (HF on 1 thread)"
    for name in deepseek-v3 qwen; do
        "$root/tests/fixture-tokenizer.sh" "$name" "$tmp/$name"
        r1c=$(last_json "$R1_BENCHBIN/bench_tokenizer" --tokenizer "$tmp/$name" --corpus "$tmp/corpus.txt")
        hf=$(last_json "$R1_PY" "$here/bench_tokenizer.py" --tokenizer "$tmp/$name" --corpus "$tmp/corpus.txt" --name "$name")
        echo "$r1c"
        echo "$hf"
        rows+=("$r1c" "$hf")
    done
    "$R1_PY" - "${rows[@]}" <<'EOF'
import json, sys

GOAL = 5.0  # r1c/HF encode MB/s
rows = [json.loads(a) for a in sys.argv[1:]]
print(f"{'tokenizer':14}{'r1c MB/s':>10}{'HF MB/s':>10}{'r1c/HF':>9}   goal >= {GOAL:g}x   {'HF call':14}tokens")
bad = 0
for c, h in zip(rows[::2], rows[1::2]):
    x = c["mb_s"] / h["mb_s"]
    same = c.get("tokens") == h.get("tokens")
    bad += not same
    toks = f"same ({h['tokens']})" if same else f"DIFFER: r1c {c.get('tokens')} vs HF {h.get('tokens')}"
    print(f"{h['tokenizer']:14}{c['mb_s']:10.2f}{h['mb_s']:10.2f}{x:8.2f}x   {'met' if x >= GOAL else 'NOT met':10}   "
          f"{h.get('method', '?'):14}{toks}")
print(f"(best pass of each, every pass from an empty cache; HF tokenizers {h.get('tokenizers', '?')} on 1 thread, "
      "the faster of encode per line and encode_batch)")
if bad:
    sys.exit("bench: r1c and HF produced different numbers of tokens on the same corpus")
EOF
}

bench_reward() {
    local tmp r1c mv
    tmp=$(mktemp -d /tmp/r1c_bench_reward.XXXXXX)
    # shellcheck disable=SC2064 # expand now: $tmp is local
    trap "rm -rf '$tmp'" EXIT
    echo "== rewards: completions scored per second on one core (4000 GSM8K/MATH-like completions, 500-2000 bytes)"
    r1c=$(last_json "$R1_BENCHBIN/bench_reward" --n 4000 --out "$tmp/completions.jsonl")
    mv=$(last_json "$R1_PY" "$here/bench_reward_mathverify.py" --data "$tmp/completions.jsonl" --limit 1000)
    echo "$r1c"
    echo "$mv"
    "$R1_PY" - "$r1c" "$mv" <<'EOF'
import json, sys

c, m = json.loads(sys.argv[1]), json.loads(sys.argv[2])
RATE_GOAL, RATIO_GOAL = 50_000, 100  # completions/s/core; r1c (3 rewards) / math-verify (accuracy)
x = c["completions_per_s"] / m["completions_per_s"]
print(f"{'':34}{'completions/s':>14}")
print(f"{'r1c accuracy+format+language':34}{c['completions_per_s']:14.0f}")
print(f"{'r1c accuracy alone':34}{c['accuracy_only_per_s']:14.0f}")
print(f"{'r1c format alone':34}{c['format_only_per_s']:14.0f}")
print(f"{'r1c language alone':34}{c['language_only_per_s']:14.0f}")
print(f"{'math-verify accuracy':34}{m['completions_per_s']:14.0f}   ({m['n']} completions)")
print(f"accuracy verdicts agree with math-verify on {100 * m['agree_with_r1c']:.1f}% "
      f"(mean accuracy r1c {c['accuracy_mean']:.3f}, math-verify {m['accuracy_mean']:.3f})")
print(f"goal >= {RATE_GOAL} completions/s/core: {'met' if c['completions_per_s'] >= RATE_GOAL else 'NOT met'}")
print(f"goal >= {RATIO_GOAL}x math-verify: {'met' if x >= RATIO_GOAL else 'NOT met'} ({x:.0f}x)")
EOF
}

bench_import() {
    "$here/bench_import.sh"
}

bench_decode() {
    local seqs=32 new=256 plen=32 r1c torch
    echo "== decode (rollout): $seqs sequences x $new new tokens after $plen-token prompts, Qwen2-shaped bench model, temperature 1"
    r1c=$(last_json "$R1_BENCHBIN/bench_decode" --seqs $seqs --new-tokens $new --prompt-len $plen --iters 1)
    torch=$(last_json "$R1_PY" "$here/bench_decode_torch.py" --seqs $seqs --new-tokens $new --prompt-len $plen --iters 1)
    echo "$r1c"
    echo "$torch"
    "$R1_PY" - "$r1c" "$torch" <<'EOF'
import json, sys

c, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
GOAL = 3.0  # r1c / PyTorch decode tokens/s
print(f"{'':14}{'decode tok/s':>14}{'prefill tok/s':>15}{'total s':>10}")
for name, r in (("r1c", c), ("PyTorch", t)):
    print(f"{name:14}{r['decode_tok_s']:14.1f}{r['prefill_tok_s']:15.1f}{r['total_s']:10.2f}")
x = c["decode_tok_s"] / t["decode_tok_s"]
print(f"{'r1c/PyTorch':14}{x:13.2f}x   (torch {t.get('torch', '?')}, {t.get('threads', '?')} threads)")
print(f"goal >= {GOAL}x PyTorch decode: {'met' if x >= GOAL else 'NOT met'}")
EOF
}

case "${1:-all}" in
model) bench_model ;;
tokenizer) bench_tokenizer ;;
reward) bench_reward ;;
import) bench_import ;;
decode) bench_decode ;;
grpo) "$here/bench_grpo.sh" ;;
grpo-real) "$here/bench_grpo_real.sh" ;;
sft) "$here/bench_sft.sh" ;;
dist) "$here/bench_dist.sh" ;;
gguf) "$here/bench_gguf.sh" ;;
all)
    bench_model
    bench_tokenizer
    bench_reward
    bench_import
    bench_decode
    "$here/bench_grpo.sh"
    "$here/bench_grpo_real.sh"
    "$here/bench_sft.sh"
    "$here/bench_dist.sh"
    "$here/bench_gguf.sh"
    ;;
*)
    echo "usage: bench/run.sh [model|tokenizer|reward|import|decode|grpo|grpo-real|sft|dist|gguf]" >&2
    exit 2
    ;;
esac
