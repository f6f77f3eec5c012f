#!/usr/bin/env bash
# One GRPO step of pipelines/r1-real.sh's reasoning RL, at the recipe's default sizes,
# on the real SmolLM2-135M-Instruct (vocabulary 49152, tied embeddings), on the CPU:
# r1c (bin/r1-rollout + bin/r1-reward + bin/r1-grpo) next to PyTorch doing the same step
# on the same model in the same run (bench/bench_grpo_torch.py --model).
#   the step:  8 prompts x 8 completions of held-out-free arithmetic (levels 1, 2, 4,
#              English and Chinese), chatml with the recipe's system message, at most 300
#              new tokens at temperature 1, stopping at </answer>; accuracy + format +
#              language rewards; beta 0.04, lr 1e-5, one iteration, one minibatch.
#   rollout:   r1c: wall time of bin/r1-rollout (model load, templating, decode with the
#              prompt's KV cache shared by its group, database writes); PyTorch: batched
#              KV-cache generation of the same prompts to r1c's completion lengths.
#   ref + old: the reference forward over prompt + completion (r1c: grpo/ref_seconds,
#              reference load included). The old policy's log-probs are the ones the
#              rollout sampled with (one iteration per step, as the recipe runs), so
#              neither implementation spends a forward on them.
#   update:    policy forward + GRPO loss + backward + AdamW (r1c: grpo/update_seconds).
# Tokens/s are completion tokens per second of each part (the update and the
# reference forward also read the prompts).
# The policy is the base model (the recipe runs this step from its cold-start
# checkpoint; the work per token is the same). Usage: bench/bench_grpo_real.sh
# [PROMPTS [GROUP [NEW_TOKENS]]]   (default 8 8 300; R1_BIN, R1_PY as for bench/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
root=$(dirname "$here")
: "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
prompts=${1:-8} group=${2:-8} new=${3:-300}
tmp=$(mktemp -d /tmp/r1c_bench_grpo_real.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
system="Think step by step inside <think> </think>, then give the final answer inside <answer> </answer>."

gguf=$("$root/scripts/real-model.sh")
echo "== GRPO step on SmolLM2-135M-Instruct: $prompts prompts x $group completions, <= $new new tokens, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$R1_BIN/r1-model" import-gguf --gguf "$gguf" --out "$tmp/policy" --quiet
cp -r "$tmp/policy" "$tmp/ref"
db="$tmp/run.db"
"$R1_BIN/r1-data" init --db "$db" >&2
for l in 1 2 4; do
    "$R1_BIN/r1-data" synth --db "$db" --task arith --level $l --lang mixed --n 40 --seed $((10 + l)) --quiet
done
rollout_s=$(timed "$R1_BIN/r1-rollout" --db "$db" --model "$tmp/policy" --step 0 --prompts "$prompts" \
    --group "$group" --max-new-tokens "$new" --temperature 1 --template chatml --system "$system" \
    --stop "</answer>" --seed 1 --quiet)
"$R1_BIN/r1-reward" --db "$db" --step 0 --rewards accuracy=1,format=1,language=1 --quiet >/dev/null
last_json "$R1_BIN/r1-grpo" --db "$db" --step 0 --model "$tmp/policy" --ref "$tmp/ref" \
    --out "$tmp/out" --beta 0.04 --lr 1e-5 --json >&2
metric() { sqlite3 "$db" "SELECT value FROM metrics WHERE stage = 'grpo' AND step = 0 AND name = '$1'"; }
ref_s=$(metric grpo/ref_seconds)
update_s=$(metric grpo/update_seconds)
tokens=$(sqlite3 "$db" "SELECT SUM(n_tokens) FROM rollouts WHERE step = 0")
ptokens=$(sqlite3 "$db" "SELECT SUM(length(prompt_ids) / 4) FROM rollouts WHERE step = 0")
at_limit=$(sqlite3 "$db" "SELECT COUNT(*) FROM rollouts WHERE step = 0 AND n_tokens = $new")
if [ -z "$ref_s" ] || [ -z "$update_s" ] || [ -z "$tokens" ]; then
    echo "bench: r1-grpo recorded no grpo/ref_seconds or grpo/update_seconds, or no rollouts" >&2
    exit 1
fi
r1c=$(printf '{"impl":"r1c","rollout_s":%s,"ref_s":%s,"update_s":%s,"tokens":%s,"prompt_tokens":%s,"at_limit":%s,"new":%s}' \
    "$rollout_s" "$ref_s" "$update_s" "$tokens" "$ptokens" "$at_limit" "$new")
torch=$(last_json "$R1_PY" "$here/bench_grpo_torch.py" --db "$db" --step 0 --max-new-tokens "$new" \
    --model "$tmp/policy" --lr 1e-5)
echo "$r1c"
echo "$torch"
"$R1_PY" - "$r1c" "$torch" "$prompts" "$group" <<'EOF'
import json, sys

c, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
n = int(sys.argv[3]) * int(sys.argv[4])
c["total_s"] = c["rollout_s"] + c["ref_s"] + c["update_s"]
parts = (("rollout_s", "rollout"), ("ref_s", "ref + old logprobs"), ("update_s", "update"), ("total_s", "step"))
print(f"{'':12}" + "".join(f"{label + ' s':>22}{'tok/s':>8}" for _, label in parts))
for name, r in (("r1c", c), ("PyTorch", t)):
    print(f"{name:12}" + "".join(f"{r[k]:22.2f}{r['tokens'] / r[k]:8.0f}" for k, _ in parts))
print(f"{'PyTorch/r1c':12}" + "".join(f"{t[k] / c[k]:21.2f}x{'':8}" for k, _ in parts))
print(f"completion tokens {c['tokens']} ({c['at_limit']} of {n} completions at the {c['new']}-token limit), "
      f"prompt tokens {c['prompt_tokens']}; PyTorch decoded the same lengths; torch {t.get('torch', '?')}, "
      f"{t.get('threads', '?')} threads")
if t["tokens"] != c["tokens"]:
    sys.exit("bench: r1c and PyTorch trained on different numbers of completion tokens")
EOF
