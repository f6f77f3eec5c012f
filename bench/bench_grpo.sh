#!/usr/bin/env bash
# One GRPO step on the CPU: bin/r1-rollout + bin/r1-grpo (r1c) next to
# bench/bench_grpo_torch.py (the same step in PyTorch float32), on the
# Qwen2-shaped bench model of bench/bench_model.c (random weights), 16 prompts x
# 8 completions x 128 new tokens at temperature 1; seconds for the rollout, the
# reference forward and the update (policy forward + backward + AdamW; one
# iteration, one minibatch).
#   r1c:     rollout = wall time of bin/r1-rollout (model load, templating, decode,
#            database writes); ref forward and update = r1-grpo's metrics
#            grpo/ref_seconds (reference load + forward) and grpo/update_seconds.
#   PyTorch: the same prompts (read from the database r1-rollout wrote), the same
#            completion lengths, batch and micro-batch sizes; see its docstring.
# The rewards are random 0/1 'total' rewards: the work does not depend on them.
# Usage: bench/bench_grpo.sh [PROMPTS [GROUP [NEW_TOKENS]]]   (default 16 8 128;
#        R1_BIN, R1_PY as for bench/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(dirname "$here")
: "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
prompts=${1:-16} group=${2:-8} new=${3:-128}
tmp=$(mktemp -d /tmp/r1c_bench_grpo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT


echo "== GRPO step: $prompts prompts x $group completions x $new new tokens, bench model (Qwen2, hidden 512, 8 layers, vocab 32000), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

db="$tmp/run.db"
"$R1_BIN/r1-model" init --config "$bench_config" --tokenizer "$root/configs/tiny" \
    --out "$tmp/policy" --seed 1 >&2
cp -r "$tmp/policy" "$tmp/ref"
"$R1_BIN/r1-data" init --db "$db" >&2
"$R1_BIN/r1-data" synth --db "$db" --task arith --n "$prompts" --seed 1 --quiet

rollout_s=$(timed "$R1_BIN/r1-rollout" --db "$db" --model "$tmp/policy" --step 0 \
    --prompts "$prompts" --group "$group" --max-new-tokens "$new" --temperature 1 --seed 1 --quiet)
sqlite3 "$db" "INSERT INTO rewards (rollout_id, name, value)
               SELECT id, 'total', abs(random()) % 2 FROM rollouts WHERE step = 0"
last_json "$R1_BIN/r1-grpo" --db "$db" --step 0 --model "$tmp/policy" --ref "$tmp/ref" \
    --out "$tmp/out" --beta 0.04 --lr 1e-6 --json >&2
metric() { sqlite3 "$db" "SELECT value FROM metrics WHERE stage = 'grpo' AND step = 0 AND name = '$1'"; }
ref_s=$(metric grpo/ref_seconds)
update_s=$(metric grpo/update_seconds)
tokens=$(sqlite3 "$db" "SELECT SUM(n_tokens) FROM rollouts WHERE step = 0")
at_limit=$(sqlite3 "$db" "SELECT COUNT(*) FROM rollouts WHERE step = 0 AND n_tokens = $new")
if [ -z "$ref_s" ] || [ -z "$update_s" ] || [ -z "$tokens" ]; then
    echo "bench: r1-grpo recorded no grpo/ref_seconds or grpo/update_seconds, or no rollouts" >&2
    exit 1
fi
r1c=$(printf '{"impl":"r1c","rollout_s":%s,"ref_s":%s,"update_s":%s,"tokens":%s,"at_limit":%s,"new":%s}' \
    "$rollout_s" "$ref_s" "$update_s" "$tokens" "$at_limit" "$new")
torch=$(last_json "$R1_PY" "$here/bench_grpo_torch.py" --db "$db" --step 0 --max-new-tokens "$new")
echo "$r1c"
echo "$torch"
"$R1_PY" - "$r1c" "$torch" "$prompts" "$group" <<'EOF'
import json, sys

c, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
n = int(sys.argv[3]) * int(sys.argv[4])
c["total_s"] = c["rollout_s"] + c["ref_s"] + c["update_s"]
cols = ("rollout_s", "ref_s", "update_s", "total_s")
print(f"{'':22}{'rollout s':>11}{'ref forward s':>15}{'update s':>10}{'total s':>10}")
for name, r in (("r1c", c), ("PyTorch", t)):
    print(f"{name:22}" + "".join(f"{r[k]:{w}.2f}" for k, w in zip(cols, (11, 15, 10, 10))))
print(f"{'PyTorch / r1c (time)':22}" + "".join(f"{t[k] / c[k]:{w - 1}.2f}x" for k, w in zip(cols, (11, 15, 10, 10))))
print(f"completion tokens: r1c {c['tokens']} ({c['at_limit']} of {n} completions {c['new']} tokens long), "
      f"PyTorch {t['tokens']} ({'the same lengths as r1c' if t['lengths'] == 'r1c' else 'all at the limit'}); "
      f"torch {t.get('torch', '?')}, {t.get('threads', '?')} threads")
if t["tokens"] != c["tokens"]:
    sys.exit("bench: r1c and PyTorch trained on different numbers of completion tokens")
EOF
