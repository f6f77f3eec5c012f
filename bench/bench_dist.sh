#!/usr/bin/env bash
# Data-parallel SFT training on this machine's CPUs: bin/r1-sft on the bench model
# (bench/bench_model_config.json: Qwen2, hidden 512, 8 layers, vocab 32000, untied;
# 55.3M parameters) with packing at 2048 tokens, the same samples and batches at
#   N = 1: one process, OMP_NUM_THREADS=2 (the reference, in the same run)
#   N = 2: mpirun -np 2, OMP_NUM_THREADS=1 each; each rank half of every batch and
#          one all-reduce of the float32 gradients per step
#   N = 2, --zero 1: reduce-scatter the gradients, AdamW on each rank's half, all-gather
# tokens/s is the median of the steps after the first (r1-sft --log-every 1 writes
# each step's sft/tokens_per_s); all-reduce is sft/allreduce_seconds, the seconds a step
# spends in its gradient collectives; the bytes are the gradient's (4 per parameter).
# Goal: N = 2 at >= 0.9x the tokens/s of N = 1. bench/dist/NOTES.md turns the bytes per
# step into estimates for 8 GPUs over NVLink and 2 nodes over InfiniBand.
# Usage: bench/bench_dist.sh [SAMPLES]   (default 60; R1_BIN, R1_PY as for bench/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(dirname "$here")
: "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
samples=${1:-60}
command -v mpirun >/dev/null && ldd "$R1_BIN/r1-sft" | grep -q libmpi ||
    { echo "bench_dist: needs a build with MPI and mpirun (libopenmpi-dev, openmpi-bin)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/r1c_bench_dist.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none

echo "== data-parallel SFT: $samples samples packed at 2048 tokens, bench model, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$R1_BIN/r1-model" init --config "$bench_config" --tokenizer "$root/configs/tiny" \
    --out "$tmp/model" --seed 1 >&2
"$R1_PY" "$here/sft_samples.py" "$samples" >"$tmp/sft.jsonl"
"$R1_BIN/r1-data" init --db "$tmp/base.db" >&2
"$R1_BIN/r1-data" import --db "$tmp/base.db" --format messages --kind reasoning --quiet "$tmp/sft.jsonl"
sft=(--kind reasoning --model "$tmp/model" --pack --batch-tokens 2048 --max-len 2048 --lr 1e-4
     --log-every 1 --json)

# run NAME N THREADS [ARGS...]: one run into its own copy of the database.
run() {
    local name=$1 n=$2 threads=$3
    shift 3
    cp "$tmp/base.db" "$tmp/$name.db"
    if [ "$n" = 1 ]; then
        OMP_NUM_THREADS=$threads last_json "$R1_BIN/r1-sft" --db "$tmp/$name.db" "${sft[@]}" \
            --out "$tmp/$name" "$@" >"$tmp/$name.json"
    else
        OMP_NUM_THREADS=$threads last_json mpirun -np "$n" --bind-to none -x OMP_NUM_THREADS \
            "$R1_BIN/r1-sft" --db "$tmp/$name.db" "${sft[@]}" --out "$tmp/$name" "$@" >"$tmp/$name.json"
    fi
}
run n1 1 2
run n2 2 1
run z2 2 1 --zero 1
"$R1_PY" - "$tmp" <<'EOF'
import json, sqlite3, statistics, sys

tmp = sys.argv[1]


def stats(name):
    db = sqlite3.connect(f"{tmp}/{name}.db")
    rate = [v for (v,) in db.execute("SELECT value FROM metrics WHERE name = 'sft/tokens_per_s' ORDER BY step")]
    ar = [v for (v,) in db.execute("SELECT value FROM metrics WHERE name = 'sft/allreduce_seconds' ORDER BY step")]
    loss = db.execute("SELECT value FROM metrics WHERE name = 'sft/train_loss' ORDER BY step DESC LIMIT 1").fetchone()[0]
    j = json.load(open(f"{tmp}/{name}.json"))
    med = statistics.median(rate[1:] if len(rate) > 1 else rate)
    return med, j, statistics.median(ar[1:] if len(ar) > 1 else ar) if ar else None, loss


params = 0
import struct
with open(f"{tmp}/model/model.safetensors", "rb") as f:
    head = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
for k, v in head.items():
    if k != "__metadata__":
        n = 1
        for d in v["shape"]:
            n *= d
        params += n
rows = [("N = 1, 2 threads", "n1"), ("N = 2, 1 thread each", "n2"), ("N = 2, --zero 1", "z2")]
base = stats("n1")[0]
print(f"{'':26}{'tokens/s (median step)':>24}{'overall':>10}{'steps':>7}{'all-reduce s/step':>19}{'vs N = 1':>10}{'last loss':>11}")
for label, name in rows:
    med, j, ar, loss = stats(name)
    ars = f"{ar:.3f}" if ar is not None else "-"
    print(f"{label:26}{med:24.1f}{j['tokens_per_s']:10.1f}{j['steps']:7d}{ars:>19}{med / base:9.2f}x{loss:11.4f}")
med2, j2, ar2, _ = stats("n2")
step2 = j2["tokens"] / j2["steps"] / med2
print(f"gradient per step: {params} parameters x 4 bytes = {params * 4 / 1e6:.1f} MB; at N = 2 a step "
      f"takes {step2:.2f} s of which {ar2:.3f} s ({100 * ar2 / step2:.1f}%) in the all-reduce "
      f"({params * 4 / 1e6 / ar2 / 1e3:.2f} GB/s algorithm bandwidth over shared memory)")
ratio = med2 / base
print(f"goal N = 2 >= 0.9x N = 1: {'met' if ratio >= 0.9 else 'MISSED'} ({ratio:.2f}x)")
EOF
