#!/usr/bin/env bash
# bin/r1-grpo against the float64 PyTorch reference tests/ref/grpo_ref.py, on
# hand-made rollouts (tests/ref/grpo_ref.py make) for random models of both
# families (Qwen2: attention biases, GQA 2, untied head; Llama: GQA 4, tied
# head; norms and biases perturbed), the KL to another random model:
#   1. --dry-run dumps: loss, advantages, the trained tokens' logp and every
#      gradient for each --loss x --scale-rewards, and --beta 0,
#      --epsilon-high 0.28, --mask-truncated, --drop-uniform-groups,
#      --max-new-tokens 16, dr_grpo's constant from the longest completion,
#      gradient clipping, micro-batch accumulation, the first of 2
#      minibatches (grpo, bnpo, dapo); the --json kl, entropy and clip fractions
#      (clipping happens on both sides)
#   2. on-policy: stored logprobs = the policy's own -> rho = 1 exactly, clip
#      fractions 0 (summary and metrics rows)
#   3. refusals: no rollouts, not scored, --beta without --ref, unknown --loss,
#      a non-finite loss (nothing written: no --out, no metrics, no checkpoint)
#   4. a real update: the checkpoint's files, its checkpoints row and grpo/*
#      metrics; the next step continues the optimizer (step 1 -> 2);
#      --ref-reset-every makes the reference a copy of the policy
#   5. temperature: real rollouts of bin/r1-rollout at --temperature 0.7
#      (--top-p 0.95 --top-k 40) record rollout/temperature 0.7; r1-grpo's dump
#      matches the reference at T = 0.7 (read from the metric by both) and, with
#      --temperature 1.3, at T = 1.3; on-policy the sampler's stored log-probs
#      and r1-grpo's recomputed ones (two code paths) give ratio_max_dev < 1e-4 (seen ~2e-6),
#      where T = 1 and 1.3 give > 0.05; greedy rollouts (--temperature 0) record
#      0 and train at T = 1 (ratio_max_dev < 1e-4 again)
#   6. --device: cpu is the default (checkpoint, optimizer, dump and metrics
#      equal to no flag's, bit for bit); an unknown device is refused by name;
#      cuda without a usable GPU (or in a build without CUDA) fails before
#      writing anything (no --out, the reference not reset, no rows), and with
#      a GPU trains: a checkpoint, its row, entropy and kl near the CPU's
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
grpo="$R1_BIN/r1-grpo"
refpy="$R1_ROOT/tests/ref/grpo_ref.py"

needs --torch r1-grpo r1-data r1-model
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"


qwen=$(hf_config qwen2 64 2 4 2 96 768 false)
llama=$(hf_config llama 64 2 8 2 96 768 true)
random_model qwen 31 "$qwen" && random_model qwen_ref 32 "$qwen"
random_model llama 33 "$llama" && random_model llama_ref 34 "$llama"

# The run databases: grpo_ref.py make writes steps 0-3 and 5 (see its docstring).
for fam in qwen llama; do
    [ -d "$tmp/$fam" ] || continue
    if "$R1_BIN/r1-data" init --db "$tmp/$fam.db" >/dev/null &&
        "$R1_PY" "$refpy" make "$tmp/$fam.db" "$tmp/$fam" 7 >"$tmp/make.log" 2>&1; then
        pass "$fam: database with hand-made rollouts ($(q "$tmp/$fam.db" "SELECT COUNT(*) FROM rollouts WHERE step = 0") per step, $(q "$tmp/$fam.db" "SELECT SUM(finish_reason = 'length') FROM rollouts WHERE step = 0") 'length', rewards $(q "$tmp/$fam.db" "SELECT group_concat(ifnull(w.value, 'NULL'), ' ') FROM rollouts r LEFT JOIN rewards w ON w.rollout_id = r.id AND w.name = 'total' WHERE r.step = 0 ORDER BY r.id"))"
    else
        cat "$tmp/make.log"
        fail "$fam: database"
    fi
done

# ---------------------------------------------------------------- 1. dry-run parity
# case NAME OPTION...: one dry run on every family; a line of $tmp/FAM.cases.
CASES=()
case_() { CASES+=("$1"$'\t'"${*:2}"); }
for loss in grpo bnpo dr_grpo dapo; do
    for scale in group batch none; do
        case_ "$loss/$scale" --step 0 --loss "$loss" --scale-rewards "$scale"
    done
done
case_ "beta 0" --step 0 --beta 0
case_ "dapo epsilon-high 0.28" --step 0 --loss dapo --epsilon-high 0.28
case_ "epsilon 0.1" --step 0 --epsilon 0.1 --beta 0.3
case_ "mask-truncated" --step 0 --mask-truncated
case_ "drop-uniform-groups" --step 0 --drop-uniform-groups --loss bnpo
case_ "mask-truncated drop-uniform-groups dr_grpo" --step 0 --mask-truncated --drop-uniform-groups --loss dr_grpo
case_ "dr_grpo max-new-tokens 16" --step 0 --loss dr_grpo --max-new-tokens 16
case_ "dr_grpo no metric: the longest completion" --step 3 --loss dr_grpo
case_ "gradient clipped to norm 0.05" --step 0 --max-grad-norm 0.05
case_ "micro-batch-tokens 7 (accumulation)" --step 0 --micro-batch-tokens 7 --loss bnpo
# The first of 2 minibatches: grpo and bnpo divide by its completions / tokens, dapo by the step's.
for loss in grpo bnpo dapo; do
    case_ "$loss first of 2 minibatches" --step 0 --minibatches 2 --loss "$loss" --seed 3
done
for fam in qwen llama; do
    [ -f "$tmp/$fam.db" ] || continue
    : >"$tmp/$fam.cases"
    i=0
    for c in "${CASES[@]}"; do
        name=${c%%$'\t'*}
        read -r -a opts <<<"${c#*$'\t'}"
        # --max-grad-norm 0 unless the case sets it: the dump holds the raw gradient
        clip=(--max-grad-norm 0)
        [[ " ${opts[*]} " == *" --max-grad-norm "* ]] && clip=()
        args=(--db "$tmp/$fam.db" --model "$tmp/$fam" --ref "$tmp/${fam}_ref" --dry-run
              --dump "$tmp/$fam.$i.safetensors" --minibatches 1 --iterations 1 --json "${clip[@]}" "${opts[@]}")
        # (a case's own --minibatches comes later and wins)
        if "$grpo" "${args[@]}" >"$tmp/$fam.$i.json" 2>"$tmp/$fam.$i.err"; then
            printf '%s\t%s\t%s' "$name" "$tmp/$fam.$i.safetensors" "$tmp/$fam.$i.json" >>"$tmp/$fam.cases"
            printf '\t%s' "${clip[@]}" "${opts[@]}" >>"$tmp/$fam.cases"
            echo >>"$tmp/$fam.cases"
        else
            fail "$fam $name: r1-grpo --dry-run failed: $(head -c 300 "$tmp/$fam.$i.err")"
        fi
        i=$((i + 1))
    done
    "$R1_PY" "$refpy" check "$tmp/$fam.db" "$tmp/$fam" "$tmp/${fam}_ref" "$tmp/$fam.cases" ||
        fail "$fam: the reference found differences (or failed)"
done
check "the dry runs wrote nothing to the databases (no grpo metrics, no checkpoints)" \
    '[ "$(q "$tmp/qwen.db" "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'grpo'"'"'") $(q "$tmp/qwen.db" "SELECT COUNT(*) FROM checkpoints")" = "0 0" ]'
"$R1_PY" "$refpy" --selftest || fail "the reference's self-test"

# ---------------------------------------------------------------- 2. on-policy
# The dump of the default case (qwen case 0: grpo/group) holds the policy's own
# float32 log-probs; written back as the stored ones, the next run's ratios are
# exp(0) = 1 exactly: nothing is clipped.
db="$tmp/onpol.db"
q "$tmp/qwen.db" ".backup '$db'"
if [ -f "$tmp/qwen.0.safetensors" ] && "$R1_PY" "$refpy" onpolicy "$db" 0 "$tmp/qwen.0.safetensors" "$tmp/qwen"; then
    "$grpo" --db "$db" --step 0 --model "$tmp/qwen" --ref "$tmp/qwen_ref" --out "$tmp/onpol" --lr 1e-3 \
        --json >"$tmp/onpol.json" 2>"$tmp/onpol.err"
    check "on-policy: exits 0" '[ $? -eq 0 ] || { cat "$tmp/onpol.err"; false; }'
    check "on-policy: --json says ratio_max_dev 0, clip fractions 0 ($(cat "$tmp/onpol.json"))" \
        'grep -q "\"ratio_max_dev\":0," "$tmp/onpol.json" && grep -q "\"clip_frac_low\":0," "$tmp/onpol.json" &&
         grep -q "\"clip_frac_high\":0," "$tmp/onpol.json" && grep -q "\"completions\":12," "$tmp/onpol.json"'
    check "on-policy: metrics grpo/ratio_max_dev, clip_frac_low, clip_frac_high are 0 exactly" \
        '[ "$(q "$db" "SELECT group_concat(name || '"'"'='"'"'|| value, '"'"' '"'"') FROM (SELECT name, value FROM metrics WHERE stage = '"'"'grpo'"'"' AND step = 0
            AND name IN ('"'"'grpo/ratio_max_dev'"'"', '"'"'grpo/clip_frac_low'"'"', '"'"'grpo/clip_frac_high'"'"') ORDER BY name)")" = "grpo/clip_frac_high=0.0 grpo/clip_frac_low=0.0 grpo/ratio_max_dev=0.0" ]'
else
    fail "on-policy: could not write the dump's logp back"
fi
# ...and the original (noisy) logprobs do clip: the dry run of the same case says so.
check "off-policy (the noisy stored logprobs): ratio_max_dev > 0.2 and both clip fractions > 0 ($(cat "$tmp/qwen.0.json" 2>/dev/null))" \
    '"$R1_PY" -c "import json,sys; j=json.load(open(sys.argv[1])); sys.exit(not (j[\"ratio_max_dev\"] > 0.2 and j[\"clip_frac_low\"] > 0 and j[\"clip_frac_high\"] > 0))" "$tmp/qwen.0.json"'

# ---------------------------------------------------------------- 3. refusals
db="$tmp/qwen.db"
base=(--db "$db" --model "$tmp/qwen" --ref "$tmp/qwen_ref")
expect_error "refuses a step with no rollouts" "step 9 has no rollouts" "$grpo" "${base[@]}" --step 9 --out "$tmp/x"
expect_error "refuses a step with no 'total' rewards" "no 'total' reward" "$grpo" "${base[@]}" --step 5 --out "$tmp/x"
expect_error "refuses --beta > 0 without --ref" "needs --ref" "$grpo" --db "$db" --model "$tmp/qwen" --step 0 --out "$tmp/x" --beta 0.1
expect_error "refuses an unknown --loss" "--loss ppo: grpo, bnpo, dr_grpo or dapo" "$grpo" "${base[@]}" --step 0 --out "$tmp/x" --loss ppo
check "refusals wrote no --out" '[ ! -e "$tmp/x" ]'
# Non-finite: rollout (group 0, sample 1: reward 0 under mean 0.5, A < 0) gets
# stored logprobs -1e30: rho = exp(logp + 1e30) = inf, the surrogate -inf.
db="$tmp/nonfinite.db"
q "$tmp/qwen.db" ".backup '$db'"
"$R1_PY" - "$db" <<'EOF'
import array, sqlite3, sys
con = sqlite3.connect(sys.argv[1])
rid, n = con.execute("SELECT id, n_tokens FROM rollouts WHERE step = 0 AND sample = 1 ORDER BY prompt_id LIMIT 1").fetchone()
con.execute("UPDATE rollouts SET logprobs = ? WHERE id = ?", (array.array("f", [-1e30] * n).tobytes(), rid))
con.commit()
EOF
before=$(q "$db" "SELECT (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM checkpoints)")
expect_error "a non-finite loss: exits 1 and says so" "not finite" \
    "$grpo" --db "$db" --step 0 --model "$tmp/qwen" --ref "$tmp/qwen_ref" --out "$tmp/nf" --lr 1e-3
check "a non-finite loss: exit status 1 ($(cat "$tmp/err"))" \
    '"$grpo" --db "$db" --step 0 --model "$tmp/qwen" --ref "$tmp/qwen_ref" --out "$tmp/nf" --lr 1e-3 >/dev/null 2>&1; [ $? -eq 1 ]'
check "a non-finite loss: --out not written, no metrics or checkpoints rows added" \
    '[ ! -e "$tmp/nf" ] && [ -z "$(ls -d "$tmp"/nf.* 2>/dev/null)" ] &&
     [ "$(q "$db" "SELECT (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM checkpoints)")" = "$before" ]'

# ---------------------------------------------------------------- 4. real updates
db="$tmp/qwen.db"
"$grpo" --db "$db" --step 0 --model "$tmp/qwen" --ref "$tmp/qwen_ref" --out "$tmp/ck0" --lr 1e-3 >"$tmp/ck0.out" 2>"$tmp/ck0.err"
check "update step 0: exits 0, summary line ($(cat "$tmp/ck0.out"))" \
    '[ $? -eq 0 ] && grep -q "^step 0: 12 of 14 completions trained" "$tmp/ck0.out" || { cat "$tmp/ck0.err"; false; }'
check "update step 0: --out holds config.json, model.safetensors, optimizer.safetensors, tokenizer.json" \
    '[ -f "$tmp/ck0/config.json" ] && [ -f "$tmp/ck0/model.safetensors" ] && [ -f "$tmp/ck0/optimizer.safetensors" ] && [ -f "$tmp/ck0/tokenizer.json" ]'
check "update step 0: one checkpoints row (stage grpo, step 0, the real path)" \
    '[ "$(q "$db" "SELECT stage, step, path FROM checkpoints")" = "grpo|0|$(cd "$tmp/ck0" && pwd -P)" ]'
want="grpo/advantage_mean grpo/advantage_std grpo/clip_frac_high grpo/clip_frac_low grpo/completions grpo/entropy grpo/grad_norm grpo/kl grpo/loss grpo/lr grpo/ratio_max_dev grpo/tokens_per_s grpo/updates grpo/zero_std_frac"
got=$(q "$db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM metrics WHERE stage = 'grpo' AND step = 0 ORDER BY name)")
missing=$(for n in $want; do [[ " $got " == *" $n "* ]] || printf '%s ' "$n"; done)
check "update step 0: grpo/* metrics rows, these 14 among them: $want (got: $got)" '[ -z "$missing" ] || { echo "missing: $missing"; false; }'
check "update step 0: metrics completions 12, updates 1, lr 0.001, zero_std_frac 0.5 (groups 1 and 3 of 4)" \
    '[ "$(q "$db" "SELECT group_concat(value, '"'"' '"'"') FROM (SELECT value FROM metrics WHERE stage = '"'"'grpo'"'"' AND step = 0 AND
        name IN ('"'"'grpo/completions'"'"', '"'"'grpo/updates'"'"', '"'"'grpo/lr'"'"', '"'"'grpo/zero_std_frac'"'"') ORDER BY name)")" = "12.0 0.001 1.0 0.5" ]'
"$grpo" --db "$db" --step 1 --model "$tmp/ck0" --ref "$tmp/qwen_ref" --out "$tmp/ck1" --lr 1e-3 --quiet 2>"$tmp/ck1.err"
check "update step 1 from step 0's output: exits 0, checkpoints rows for steps 0 and 1" \
    '[ $? -eq 0 ] && [ "$(q "$db" "SELECT group_concat(step) FROM checkpoints WHERE stage = '"'"'grpo'"'"'")" = "0,1" ] || { cat "$tmp/ck1.err"; false; }'
"$R1_PY" - "$tmp/qwen" "$tmp/ck0" "$tmp/ck1" >"$tmp/opt.out" 2>&1 <<'EOF'
import sys
import torch
from safetensors import safe_open
from safetensors.torch import load_file
m0, c0, c1 = sys.argv[1:]
s0 = safe_open(c0 + "/optimizer.safetensors", "pt").metadata()["step"]
s1 = safe_open(c1 + "/optimizer.safetensors", "pt").metadata()["step"]
a, b, c = (load_file(d + "/model.safetensors") for d in (m0, c0, c1))
moved = all(not torch.equal(a[n], b[n]) for n in a) and all(not torch.equal(b[n], c[n]) for n in b)
print(f"steps {s0} -> {s1}, every tensor changed each update: {moved}")
sys.exit(not (s0 == "1" and s1 == "2" and moved))
EOF
check "the optimizer continues: optimizer.safetensors step 1 -> 2; the weights move ($(cat "$tmp/opt.out"))" '[ $? -eq 0 ]'
# --ref-reset-every 2: at step 2 the reference becomes a copy of --model; at step 3 it stays.
cp -r "$tmp/qwen_ref" "$tmp/rref"
same() { # same A B: the two checkpoints hold the same tensors
    "$R1_PY" -c "import sys, torch; from safetensors.torch import load_file as L; a, b = L(sys.argv[1] + '/model.safetensors'), L(sys.argv[2] + '/model.safetensors'); sys.exit(not (a.keys() == b.keys() and all(torch.equal(a[n], b[n]) for n in a)))" "$1" "$2"
}
"$grpo" --db "$db" --step 3 --model "$tmp/ck1" --ref "$tmp/rref" --out "$tmp/ck3" --ref-reset-every 2 --lr 1e-3 --quiet 2>"$tmp/r3.err"
check "--ref-reset-every 2 at step 3: the reference is left alone" '[ $? -eq 0 ] && same "$tmp/rref" "$tmp/qwen_ref" && ! same "$tmp/rref" "$tmp/ck1"'
"$grpo" --db "$db" --step 2 --model "$tmp/ck1" --ref "$tmp/rref" --out "$tmp/ck2" --ref-reset-every 2 --lr 1e-3 --json 2>"$tmp/r2.err" >"$tmp/r2.json"
check "--ref-reset-every 2 at step 2: the reference becomes a copy of --model (same tensors), kl 0 ($(cat "$tmp/r2.json"))" \
    '[ $? -eq 0 ] && same "$tmp/rref" "$tmp/ck1" && grep -q "\"kl\":0," "$tmp/r2.json" || { cat "$tmp/r2.err"; false; }'


# ---------------------------------------------------------------- 5. temperature
# Real rollouts of the qwen model itself (so step 0 is on-policy) at T = 0.7,
# with hand-set 'total' rewards that differ inside each group.
db="$tmp/temp.db"
tjson() { # tjson FILE KEY: a number of r1-grpo's --json line
    "$R1_PY" -c "import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2" 2>/dev/null
}
if [ -d "$tmp/qwen" ] && "$R1_BIN/r1-data" init --db "$db" >/dev/null &&
    "$R1_BIN/r1-data" synth --db "$db" --task arith --n 6 --seed 1 --quiet &&
    "$R1_BIN/r1-rollout" --db "$db" --model "$tmp/qwen" --step 0 --prompts 3 --group 4 --max-new-tokens 10 \
        --temperature 0.7 --top-p 0.95 --top-k 40 --seed 5 --quiet >"$tmp/t.out" 2>"$tmp/t.err" &&
    "$R1_BIN/r1-rollout" --db "$db" --model "$tmp/qwen" --step 1 --prompts 3 --group 2 --max-new-tokens 10 \
        --temperature 0 --seed 5 --quiet >>"$tmp/t.out" 2>>"$tmp/t.err"; then
    q "$db" "INSERT INTO rewards (rollout_id, name, value) SELECT id, 'total', ((sample * 3 + prompt_id) % 4) / 3.0 FROM rollouts"
    pass "temperature: rollouts at T = 0.7 (step 0, $(q "$db" "SELECT COUNT(*) || ' completions, ' || SUM(n_tokens) || ' tokens' FROM rollouts WHERE step = 0")) and T = 0 (step 1)"
else
    fail "temperature: the rollouts ($(head -c 300 "$tmp/t.err"))"
fi
check "temperature: the rollout records rollout/temperature 0.7 (and 0 for the greedy step)" \
    '[ "$(q "$db" "SELECT group_concat(step || '"'"'='"'"' || value, '"'"' '"'"') FROM (SELECT step, value FROM metrics WHERE stage = '"'"'rollout'"'"' AND name = '"'"'rollout/temperature'"'"' ORDER BY step)")" = "0=0.7 1=0.0" ]'
# The dry runs: T from the metric; --temperature 0.7 given; --temperature 1.3 and 1 (overrides).
: >"$tmp/t.cases"
tcase() { # tcase NAME TAG OPTION...: one dry run of step 0, a line of $tmp/t.cases
    local name=$1 tag=$2
    shift 2
    local opts=(--max-grad-norm 0 --step 0 "$@")
    if "$grpo" --db "$db" --model "$tmp/qwen" --ref "$tmp/qwen_ref" --dry-run --dump "$tmp/t.$tag.safetensors" \
        --json "${opts[@]}" >"$tmp/t.$tag.json" 2>"$tmp/t.$tag.err"; then
        printf '%s\t%s\t%s' "$name" "$tmp/t.$tag.safetensors" "$tmp/t.$tag.json" >>"$tmp/t.cases"
        printf '\t%s' "${opts[@]}" >>"$tmp/t.cases"
        echo >>"$tmp/t.cases"
    else
        fail "temperature $name: r1-grpo --dry-run failed: $(head -c 300 "$tmp/t.$tag.err")"
    fi
}
tcase "T 0.7 (the rollout's metric)" m
tcase "--temperature 1.3 overrides the metric" o13 --temperature 1.3
tcase "--temperature 0.7 given" g07 --temperature 0.7
"$grpo" --db "$db" --model "$tmp/qwen" --ref "$tmp/qwen_ref" --dry-run --dump "$tmp/t.o1.safetensors" --json \
    --step 0 --temperature 1 >"$tmp/t.o1.json" 2>"$tmp/t.o1.err" || fail "temperature: --temperature 1 dry run"
"$R1_PY" "$refpy" check "$db" "$tmp/qwen" "$tmp/qwen_ref" "$tmp/t.cases" | sed 's/^\(PASS\|FAIL\): /\1: temperature: /' ||
    fail "temperature: the reference found differences (or failed)"
check "temperature: on-policy at the recorded T = 0.7, ratio_max_dev < 1e-4 (sampler's stored log-probs against r1-grpo's): $(tjson "$tmp/t.m.json" ratio_max_dev)" \
    'awk "BEGIN { exit !($(tjson "$tmp/t.m.json" ratio_max_dev) < 1e-4) }" && grep -q "\"clip_frac_low\":0,\"clip_frac_high\":0," "$tmp/t.m.json"'
check "temperature: ... and off at T = 1 ($(tjson "$tmp/t.o1.json" ratio_max_dev)) and 1.3 ($(tjson "$tmp/t.o13.json" ratio_max_dev)): ratio_max_dev > 0.05" \
    'awk "BEGIN { exit !($(tjson "$tmp/t.o1.json" ratio_max_dev) > 0.05 && $(tjson "$tmp/t.o13.json" ratio_max_dev) > 0.05) }"'
check "temperature: --temperature 0.7 given = the recorded 0.7 (the same dump, bit for bit)" \
    'cmp -s "$tmp/t.m.safetensors" "$tmp/t.g07.safetensors"'
check "temperature: --temperature 1.3 changes the dump's logp (max |difference| > 0.05)" \
    '"$R1_PY" -c "import sys; from safetensors.torch import load_file as L; a, b = L(sys.argv[1])[\"logp\"], L(sys.argv[2])[\"logp\"]; sys.exit(not (a.shape == b.shape and float((a - b).abs().max()) > 0.05))" "$tmp/t.m.safetensors" "$tmp/t.o13.safetensors"'
"$grpo" --db "$db" --model "$tmp/qwen" --ref "$tmp/qwen_ref" --dry-run --dump "$tmp/t.g.safetensors" --json \
    --step 1 >"$tmp/t.g.json" 2>"$tmp/t.g.err"
check "temperature: greedy rollouts (recorded 0) train at T = 1: on-policy, ratio_max_dev < 1e-4 ($(tjson "$tmp/t.g.json" ratio_max_dev))" \
    'awk "BEGIN { exit !($(tjson "$tmp/t.g.json" ratio_max_dev) < 1e-4) }"'

# ---------------------------------------------------------------- 6. --device
# A model the GPU backend takes too (head_dim 32), its reference and hand-made
# rollouts; the same update (2 iterations x 2 minibatches, micro-batches, the
# reference) on a fresh copy of the database each: no flag, --device cpu.
gcfg=$(hf_config qwen2 64 2 2 1 96 768 false)
random_model gdev 35 "$gcfg" && random_model gdev_ref 36 "$gcfg"
"$R1_BIN/r1-data" init --db "$tmp/gdev.db" >/dev/null &&
    "$R1_PY" "$refpy" make "$tmp/gdev.db" "$tmp/gdev" 8 >"$tmp/make.log" 2>&1 ||
    { cat "$tmp/make.log"; fail "device: the database"; }
dev_run() { # dev_run NAME OPTION...: step 0 into $tmp/dev.NAME (database $tmp/dev.NAME.db)
    local name=$1
    shift
    q "$tmp/gdev.db" ".backup '$tmp/dev.$name.db'"
    "$grpo" --db "$tmp/dev.$name.db" --step 0 --model "$tmp/gdev" --ref "$tmp/gdev_ref" \
        --out "$tmp/dev.$name" --lr 1e-3 --iterations 2 --minibatches 2 --micro-batch-tokens 40 \
        --json "$@" >"$tmp/dev.$name.json" 2>"$tmp/dev.$name.err"
}
# dev_rows NAME: the run's metrics but the timings, and its checkpoints rows
dev_rows() {
    q "$tmp/dev.$1.db" "SELECT stage, step, name, value FROM metrics WHERE name NOT IN
        ('grpo/tokens_per_s', 'grpo/ref_seconds', 'grpo/update_seconds') ORDER BY rowid"
    q "$tmp/dev.$1.db" "SELECT stage, step, replace(path, '$(cd "$tmp" && pwd -P)/dev.$1', 'OUT') FROM checkpoints ORDER BY id"
}
dev_json() { sed 's/,"device":"[a-z]*"}$/}/' "$tmp/dev.$1.json"; } # the --json line but "device"
dev_run none && dev_run cpu --device cpu
check "--device cpu: exits 0 like no flag, and both summaries say device cpu ($(cat "$tmp/dev.cpu.json"))" \
    '[ -s "$tmp/dev.none/model.safetensors" ] && [ -s "$tmp/dev.cpu/model.safetensors" ] &&
     grep -q "\"device\":\"cpu\"}$" "$tmp/dev.none.json" && grep -q "\"device\":\"cpu\"}$" "$tmp/dev.cpu.json" ||
     { cat "$tmp/dev.none.err" "$tmp/dev.cpu.err"; false; }'
check "--device cpu: model.safetensors and optimizer.safetensors equal no flag's, bit for bit" \
    'cmp -s "$tmp/dev.none/model.safetensors" "$tmp/dev.cpu/model.safetensors" &&
     cmp -s "$tmp/dev.none/optimizer.safetensors" "$tmp/dev.cpu/optimizer.safetensors"'
check "--device cpu: the same grpo/* metrics (timings aside), checkpoints row and summary numbers" \
    '[ -n "$(dev_rows none)" ] && [ "$(dev_rows none)" = "$(dev_rows cpu)" ] && [ "$(dev_json none)" = "$(dev_json cpu)" ]'
for v in none cpu; do
    [ $v = cpu ] && flag=(--device cpu) || flag=()
    "$grpo" --db "$tmp/gdev.db" --step 1 --model "$tmp/gdev" --ref "$tmp/gdev_ref" --dry-run \
        --dump "$tmp/dev.dump.$v.safetensors" --max-grad-norm 0.05 --quiet "${flag[@]}" 2>/dev/null
done
check "--device cpu: the --dry-run dump equals no flag's, bit for bit" \
    '[ -s "$tmp/dev.dump.none.safetensors" ] && cmp -s "$tmp/dev.dump.none.safetensors" "$tmp/dev.dump.cpu.safetensors"'
expect_error "--device tpu is refused, naming it" "unknown device 'tpu'" \
    "$grpo" --db "$tmp/gdev.db" --step 0 --model "$tmp/gdev" --ref "$tmp/gdev_ref" --out "$tmp/tpuout" --device tpu
check "--device tpu: a usage error (exit 2), nothing written" \
    '"$grpo" --db "$tmp/gdev.db" --step 0 --model "$tmp/gdev" --ref "$tmp/gdev_ref" --out "$tmp/tpuout" --device tpu 2>/dev/null;
     [ $? -eq 2 ] && [ ! -e "$tmp/tpuout" ]'
# --device cuda at step 2 with --ref-reset-every 2: a run that would first reset the reference.
q "$tmp/gdev.db" ".backup '$tmp/dev.cuda.db'"
cp -r "$tmp/gdev_ref" "$tmp/dev.cuda.ref"
rows_before=$(q "$tmp/dev.cuda.db" "SELECT (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM checkpoints)")
"$grpo" --db "$tmp/dev.cuda.db" --step 2 --model "$tmp/gdev" --ref "$tmp/dev.cuda.ref" --out "$tmp/cudaout" \
    --ref-reset-every 2 --lr 1e-3 --json --device cuda >"$tmp/dev.cuda.json" 2>"$tmp/dev.cuda.err"
rc=$?
if [ $rc -ne 0 ]; then
    check "--device cuda with no usable GPU: exit 1, the message names CUDA ($(head -c 200 "$tmp/dev.cuda.err"))" \
        '[ $rc -eq 1 ] && grep -qi cuda "$tmp/dev.cuda.err"'
    check "--device cuda with no usable GPU: no --out (nor its temporary), the reference not reset, no rows added" \
        '[ -z "$(ls -d "$tmp"/cudaout* 2>/dev/null)" ] && cmp -s "$tmp/gdev_ref/model.safetensors" "$tmp/dev.cuda.ref/model.safetensors" &&
         [ "$(q "$tmp/dev.cuda.db" "SELECT (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM checkpoints)")" = "$rows_before" ]'
    if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU' &&
        ! grep -q "built without CUDA" "$tmp/dev.cuda.err"; then
        fail "--device cuda failed on a machine with a GPU: $(head -c 300 "$tmp/dev.cuda.err")"
    fi
else
    # on the CPU, the same step against the reset reference (= the policy): kl 0
    "$grpo" --db "$tmp/gdev.db" --step 2 --model "$tmp/gdev" --ref "$tmp/gdev" --dry-run \
        --dump "$tmp/dev.c2.safetensors" --json >"$tmp/dev.c2.json" 2>/dev/null
    check "--device cuda (a GPU): a checkpoint and its row, the summary says device cuda ($(cat "$tmp/dev.cuda.json"))" \
        '[ -s "$tmp/cudaout/model.safetensors" ] && [ -s "$tmp/cudaout/optimizer.safetensors" ] &&
         grep -q "\"device\":\"cuda\"}$" "$tmp/dev.cuda.json" &&
         [ "$(q "$tmp/dev.cuda.db" "SELECT COUNT(*) FROM checkpoints WHERE step = 2")" = 1 ]'
    check "--device cuda (a GPU): entropy within 2% and kl within 0.02 of the CPU's ($(cat "$tmp/dev.c2.json"))" \
        'awk "BEGIN { e = $(tjson "$tmp/dev.cuda.json" entropy); c = $(tjson "$tmp/dev.c2.json" entropy);
                      k = $(tjson "$tmp/dev.cuda.json" kl); l = $(tjson "$tmp/dev.c2.json" kl);
                      exit !(e - c < 0.02 * c && c - e < 0.02 * c && k - l < 0.02 && l - k < 0.02) }"'
fi

finish
