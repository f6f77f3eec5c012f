#!/usr/bin/env bash
# GRPO learns a tiny problem end to end: rollout -> reward -> grpo, repeated.
# A random model (configs/tiny's architecture: hidden 128, 4 layers, vocab 768)
# answers one synthetic prompt with ONE token, sampled among its 4 most likely
# (r1-rollout --max-new-tokens 1 --group 16 --top-k 4). The reward is
# SYNTHETIC, computed by this test in SQL, not by r1-reward: 'total' = 1 when
# the completion is the target token, else 0, where the target is the token the
# initial model ranks 3rd at the answer position (so the first step
# hits it about 1 time in 4). bin/r1-grpo (--beta 0, lr 1e-2) then updates the
# policy each step, continuing its optimizer. The first step's mean reward must
# be near chance (< 0.5); within 30 steps the last two steps' mean must pass 0.9,
# and the final model must rank the target first. (With two prompts this small
# random model barely tells them apart at the answer position: their targets
# compete and one wins for both.) Prints the reward curve.
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
tiny="$R1_ROOT/configs/tiny"

needs --torch r1-grpo r1-rollout r1-data r1-model
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

db="$tmp/run.db"
q() { sqlite3 "$db" "$1"; }
MAX_STEPS=30 LR=1e-2

if ! "$R1_BIN/r1-model" init --config "$tiny/config.json" --tokenizer "$tiny" --out "$tmp/step0" --seed 5 >"$tmp/init.log" 2>&1 ||
    ! "$R1_BIN/r1-data" init --db "$db" >/dev/null ||
    ! "$R1_BIN/r1-data" synth --db "$db" --task arith --n 1 --seed 3 --quiet; then
    cat "$tmp/init.log"
    fail "set-up: a random model and a database with a synth/arith prompt"
    exit 1
fi

rollout() { # rollout STEP: 16 one-token samples among the top 4
    "$R1_BIN/r1-rollout" --db "$db" --model "$tmp/step$1" --step "$1" --dataset synth/arith --prompts 1 \
        --group 16 --max-new-tokens 1 --top-k 4 --seed "$((100 + $1))" --quiet >"$tmp/ro.log" 2>&1 ||
        { cat "$tmp/ro.log"; return 1; }
}

# ranked MODEL PROMPT_ID: the token ids at the prompt's answer position (the
# position after its prompt_ids), most likely first, by r1-model forward.
ranked() {
    local ids
    ids=$(q "SELECT hex(prompt_ids) FROM rollouts WHERE prompt_id = $2 LIMIT 1" |
        "$R1_PY" -c "import sys, array; a = array.array('i', bytes.fromhex(sys.stdin.read().strip())); print(' '.join(map(str, a)))")
    "$R1_BIN/r1-model" forward --model "$1" --tokens "$ids" --out "$tmp/logits.safetensors" >"$tmp/fwd.log" 2>&1 ||
        { cat "$tmp/fwd.log" >&2; return 1; }
    "$R1_PY" -c "import sys; from safetensors.torch import load_file; z = load_file(sys.argv[1])['logits'][-1]; print(' '.join(map(str, z.argsort(descending=True)[:8].tolist())))" \
        "$tmp/logits.safetensors"
}

# ---------------------------------------------------------------- the targets
rollout 0 || { fail "rollout step 0"; exit 1; }
pids=$(q "SELECT DISTINCT prompt_id FROM rollouts WHERE step = 0 ORDER BY prompt_id")
declare -A target
case_sql="CASE r.prompt_id"
for p in $pids; do
    read -r -a top <<<"$(ranked "$tmp/step0" "$p")"
    target[$p]=${top[2]:-}
    [ -n "${target[$p]}" ] || { fail "prompt $p: no ranking from r1-model forward"; exit 1; }
    t=${target[$p]}
    hexle=$(printf '%02X%02X%02X%02X' $((t & 255)) $((t >> 8 & 255)) $((t >> 16 & 255)) $((t >> 24 & 255)))
    case_sql+=" WHEN $p THEN X'$hexle'"
    echo "prompt $p: the initial model's top 4 at the answer position: ${top[*]:0:4}; target ${target[$p]} (3rd)"
done
case_sql+=" END"
check "set-up: 16 rollouts of one token each, sampled among the top 4" \
    '[ "$(q "SELECT COUNT(*), COUNT(DISTINCT prompt_id), MAX(n_tokens) FROM rollouts WHERE step = 0")" = "16|1|1" ] &&
     [ "$(q "SELECT COUNT(*) FROM (SELECT prompt_id, COUNT(DISTINCT hex(completion_ids)) n FROM rollouts WHERE step = 0 GROUP BY prompt_id) WHERE n > 4")" = 0 ]'

# The synthetic reward of a step, and its mean.
reward() {
    q "INSERT INTO rewards (rollout_id, name, value)
       SELECT r.id, 'total', CASE WHEN r.completion_ids = ($case_sql) THEN 1.0 ELSE 0.0 END
       FROM rollouts r WHERE r.step = $1"
}
mean() { q "SELECT printf('%.3f', AVG(w.value)) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = $1 AND w.name = 'total'"; }

# ---------------------------------------------------------------- the loop
start=$SECONDS
curve=() last=0 ok=1
for ((s = 0; s < MAX_STEPS; s++)); do
    if [ "$s" -gt 0 ] && ! rollout "$s"; then fail "rollout step $s"; ok=0; break; fi
    reward "$s"
    curve+=("$(mean "$s")")
    if ! "$R1_BIN/r1-grpo" --db "$db" --step "$s" --model "$tmp/step$s" --out "$tmp/step$((s + 1))" \
        --beta 0 --lr "$LR" --quiet 2>"$tmp/grpo.err"; then
        cat "$tmp/grpo.err"
        fail "r1-grpo step $s"
        ok=0
        break
    fi
    last=$s
    # done when the last two steps average above 0.9
    if [ "$s" -ge 1 ] && awk "BEGIN { exit !((${curve[s]} + ${curve[s - 1]}) / 2 > 0.9) }"; then break; fi
done
echo "reward curve (mean 'total' per step, $((last + 1)) steps, $((SECONDS - start)) s): ${curve[*]}"
n=${#curve[@]}
check "the first step's mean reward is near chance (< 0.5): ${curve[0]}" 'awk "BEGIN { exit !(${curve[0]} < 0.5) }"'
check "within $MAX_STEPS steps the last two steps' mean reward passes 0.9: ${curve[*]: -2}" \
    '[ "$ok" = 1 ] && [ "$n" -ge 2 ] && awk "BEGIN { exit !((${curve[n - 1]} + ${curve[n - 2]}) / 2 > 0.9) }"'
check "every step wrote its checkpoint row and grpo metrics" \
    '[ "$(q "SELECT COUNT(*) FROM checkpoints WHERE stage = '"'"'grpo'"'"'")" = "$((last + 1))" ] &&
     [ "$(q "SELECT COUNT(DISTINCT step) FROM metrics WHERE stage = '"'"'grpo'"'"' AND name = '"'"'grpo/loss'"'"'")" = "$((last + 1))" ]'
check "the optimizer was continued across steps (optimizer.safetensors step $((last + 1)))" \
    '[ "$("$R1_PY" -c "import sys; from safetensors import safe_open; print(safe_open(sys.argv[1], \"pt\").metadata()[\"step\"])" "$tmp/step$((last + 1))/optimizer.safetensors")" = "$((last + 1))" ]'
final=()
for p in $pids; do
    read -r -a top <<<"$(ranked "$tmp/step$((last + 1))" "$p")"
    final+=("prompt $p: target ${target[$p]}, now ranked ${top[*]:0:4}")
    [ "${top[0]:-}" = "${target[$p]}" ] || ok=0
done
check "the final model ranks the target first ($(IFS=';'; echo "${final[*]}"))" '[ "$ok" = 1 ]'

finish
