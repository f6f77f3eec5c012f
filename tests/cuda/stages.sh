#!/usr/bin/env bash
# The stages with --device cuda, end to end on small random-weight models (run
# by make test-cuda on a machine with a GPU; needs python3 for sqlite and JSON):
#   1. r1-sft: the same run on cpu and cuda has per-step losses within 2e-2
#      relative for the first steps (bf16 products), and an 80-step overfit on
#      cuda reaches loss < 0.05;
#   2. r1-rollout: greedy rollouts of that overfit model give the same
#      completion texts on cpu and cuda;
#   3. r1-rollout + r1-grpo on cuda learn: the GRPO loop of test_grpo_learn.sh
#      (reward 1 for one target token, the 3rd most likely at the start) ranks
#      the target first within 30 steps.
# Prints PASS / FAIL lines; exits 1 when any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
: "${R1_BIN:=$root/bin}"
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n_pass=0 n_fail=0
pass() { echo "PASS: $*"; n_pass=$((n_pass + 1)); }
fail() { echo "FAIL: $*"; n_fail=$((n_fail + 1)); }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }
q() { "$py" -c 'import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for r in con.execute(sys.argv[2]).fetchall(): print("|".join(map(str, r)))
con.commit()' "$1" "$2"; }
tiny="$root/configs/tiny"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}
# R1_STAGES_DEVICE=cpu runs the same script on the CPU (to check the script itself).
dev=${R1_STAGES_DEVICE:-cuda}

# ------------------------------------------------------------------ 1. sft
cat >"$tmp/small.json" <<'EOF'
{"model_type":"qwen2","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,"intermediate_size":128,"vocab_size":768,"max_position_embeddings":256,"rms_norm_eps":1e-06,"rope_theta":10000.0,"tie_word_embeddings":true,"initializer_range":0.02,"bos_token_id":1,"eos_token_id":2,"hidden_act":"silu","torch_dtype":"float32"}
EOF
questions=("What is 2+3?" "What is 4+4?" "What is 7-2?" "What is 3*3?")
answers=('2+3=5' '4+4=8' '7-2=5' '3*3=9')
for i in 0 1 2 3; do
    printf '{"messages":[{"role":"user","content":"%s"},{"role":"assistant","content":"<think>\\n%s\\n</think>\\n<answer>\\n%s\\n</answer>"}]}\n' \
        "${questions[$i]}" "${answers[$i]}" "${answers[$i]##*=}"
    printf '{"question":"%s","answer":"%s"}\n' "${questions[$i]}" "${answers[$i]##*=}" >>"$tmp/prompts.jsonl"
done >"$tmp/overfit.jsonl"
"$R1_BIN/r1-model" init --config "$tmp/small.json" --tokenizer "$tiny" --out "$tmp/small" --seed 5 >/dev/null &&
    "$R1_BIN/r1-data" init --db "$tmp/sft.db" >/dev/null &&
    "$R1_BIN/r1-data" import --db "$tmp/sft.db" --format messages --kind cold_start --quiet "$tmp/overfit.jsonl" ||
    { fail "set-up: model and sft database"; exit 1; }
cp "$tmp/sft.db" "$tmp/sft_cpu.db"
sft=(--kind cold_start --model "$tmp/small" --pack --batch-tokens 100000 --lr 3e-3 --schedule constant
     --log-every 1 --json)
"$R1_BIN/r1-sft" --db "$tmp/sft_cpu.db" --out "$tmp/cpu5" --epochs 5 "${sft[@]}" --device cpu >/dev/null 2>"$tmp/e" ||
    fail "r1-sft --device cpu: $(head -c 300 "$tmp/e")"
t0=$SECONDS
if "$R1_BIN/r1-sft" --db "$tmp/sft.db" --out "$tmp/gpu80" --epochs 80 "${sft[@]}" --device "$dev" >"$tmp/gpu80.json" 2>"$tmp/e"; then
    pass "r1-sft --device cuda: 80 steps in $((SECONDS - t0)) s"
    cpu=$(q "$tmp/sft_cpu.db" "SELECT group_concat(value, ' ') FROM (SELECT value FROM metrics WHERE name = 'sft/train_loss' ORDER BY step)")
    gpu=$(q "$tmp/sft.db" "SELECT group_concat(value, ' ') FROM (SELECT value FROM metrics WHERE name = 'sft/train_loss' AND step <= 5 ORDER BY step)")
    echo "sft losses, cpu: $cpu"
    echo "sft losses, gpu: $gpu"
    check "sft: the first 5 losses agree within 2e-2 relative" \
        '"$py" -c "import sys; a, b = [list(map(float, s.split())) for s in sys.argv[1:3]]; sys.exit(0 if len(a) == len(b) == 5 and all(abs(x - y) <= 2e-2 * abs(x) for x, y in zip(a, b)) else 1)" "$cpu" "$gpu"'
    final=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["final_loss"])' "$tmp/gpu80.json")
    check "sft on cuda overfits: final loss $final < 0.05" '"$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.05 else 1)" "$final"'
else
    fail "r1-sft --device cuda: $(head -c 300 "$tmp/e")"
fi

# ------------------------------------------------------------------ 2. rollout
"$R1_BIN/r1-data" init --db "$tmp/ro.db" >/dev/null &&
    "$R1_BIN/r1-data" import --db "$tmp/ro.db" --format jsonl --dataset qa --quiet "$tmp/prompts.jsonl" 2>"$tmp/e" ||
    fail "set-up: prompts database ($(head -c 300 "$tmp/e"))"
cp "$tmp/ro.db" "$tmp/ro_cpu.db"
ro=(--model "$tmp/gpu80" --step 0 --prompts 4 --group 2 --temperature 0 --max-new-tokens 40 --quiet)
if "$R1_BIN/r1-rollout" --db "$tmp/ro_cpu.db" "${ro[@]}" --device cpu 2>"$tmp/e" &&
    "$R1_BIN/r1-rollout" --db "$tmp/ro.db" "${ro[@]}" --device "$dev" 2>>"$tmp/e"; then
    sel="SELECT prompt_id, sample, text FROM rollouts ORDER BY prompt_id, sample"
    q "$tmp/ro_cpu.db" "$sel" >"$tmp/cpu.txt"
    q "$tmp/ro.db" "$sel" >"$tmp/gpu.txt"
    check "rollout: greedy completions identical on cpu and cuda ($(wc -l <"$tmp/gpu.txt") lines; e.g. $(head -c 80 "$tmp/gpu.txt" | tr '\n' ' '))" \
        'cmp -s "$tmp/cpu.txt" "$tmp/gpu.txt" && [ -s "$tmp/gpu.txt" ]'
else
    fail "r1-rollout: $(head -c 300 "$tmp/e")"
fi

# ------------------------------------------------------------------ 3. grpo learns on cuda
db="$tmp/run.db"
"$R1_BIN/r1-model" init --config "$tiny/config.json" --tokenizer "$tiny" --out "$tmp/step0" --seed 5 >/dev/null &&
    "$R1_BIN/r1-data" init --db "$db" >/dev/null &&
    "$R1_BIN/r1-data" synth --db "$db" --task arith --n 1 --seed 3 --quiet || { fail "set-up: grpo"; exit 1; }
rollout() {
    "$R1_BIN/r1-rollout" --db "$db" --model "$tmp/step$1" --step "$1" --dataset synth/arith --prompts 1 \
        --group 16 --max-new-tokens 1 --top-k 4 --seed "$((100 + $1))" --quiet --device "$dev" 2>"$tmp/e"
}
rollout 0 || { fail "rollout step 0 on cuda: $(head -c 300 "$tmp/e")"; exit 1; }
pid=$(q "$db" "SELECT DISTINCT prompt_id FROM rollouts WHERE step = 0")
ids=$(q "$db" "SELECT hex(prompt_ids) FROM rollouts WHERE prompt_id = $pid LIMIT 1" |
    "$py" -c "import sys, array; print(' '.join(map(str, array.array('i', bytes.fromhex(sys.stdin.read().strip())))))")
ranked() { # the model's 4 most likely next tokens after the prompt (CPU forward)
    "$R1_BIN/r1-model" forward --model "$1" --tokens "$ids" --out "$tmp/logits.safetensors" >/dev/null 2>&1 &&
        "$py" -c "import sys; from safetensors.torch import load_file; z = load_file(sys.argv[1])['logits'][-1]; print(' '.join(map(str, z.argsort(descending=True)[:4].tolist())))" "$tmp/logits.safetensors"
}
read -r -a top <<<"$(ranked "$tmp/step0")"
target=${top[2]:-0}
hexle=$(printf '%02X%02X%02X%02X' $((target & 255)) $((target >> 8 & 255)) $((target >> 16 & 255)) $((target >> 24 & 255)))
curve=() s=0
for ((s = 0; s < 30; s++)); do
    if [ "$s" -gt 0 ] && ! rollout "$s"; then fail "rollout step $s: $(head -c 300 "$tmp/e")"; break; fi
    q "$db" "INSERT INTO rewards (rollout_id, name, value) SELECT id, 'total', CASE WHEN completion_ids = X'$hexle' THEN 1.0 ELSE 0.0 END FROM rollouts WHERE step = $s" >/dev/null
    curve+=("$(q "$db" "SELECT printf('%.3f', AVG(w.value)) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = $s")")
    if ! "$R1_BIN/r1-grpo" --db "$db" --step "$s" --model "$tmp/step$s" --out "$tmp/step$((s + 1))" \
        --beta 0 --lr 1e-2 --quiet --device "$dev" 2>"$tmp/e"; then
        fail "r1-grpo step $s on cuda: $(head -c 300 "$tmp/e")"
        break
    fi
    n=${#curve[@]}
    if [ "$n" -ge 2 ] && "$py" -c "import sys; sys.exit(0 if (float(sys.argv[1]) + float(sys.argv[2])) / 2 > 0.9 else 1)" "${curve[n - 1]}" "${curve[n - 2]}"; then
        s=$((s + 1))
        break
    fi
done
echo "grpo on cuda, target $target (initial top 4: ${top[*]}), reward curve: ${curve[*]}"
read -r -a now <<<"$(ranked "$tmp/step$s")"
check "grpo on cuda: the target is ranked first after $s steps (now ${now[*]:-none})" '[ "${now[0]:-}" = "$target" ]'

echo "stages --device cuda: $n_pass passed, $n_fail failed"
[ "$n_fail" -eq 0 ]
