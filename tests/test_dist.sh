#!/usr/bin/env bash
# Data parallelism (core/dist.h) under Open MPI's mpirun, 2 ranks on this
# machine's cores (--oversubscribe, one BLAS thread per rank):
#   1. rollouts at N = 1 (no launcher), N = 1 (mpirun) and N = 2 are byte-identical
#      in the database, also when a rank has no prompt at all
#   2. GRPO and SFT: the first minibatch's summed gradient at N = 2 equals N = 1's
#      (relative <= 1e-5: only the order of the additions differs), and its loss
#   3. two GRPO steps / an SFT run: weights with and without --zero 1 agree
#      (<= 1e-3 of the update's size), and N = 2 agrees with N = 1 as closely;
#      rank 0 alone writes (one metrics row per name, one checkpoint row)
#   4. a rank killed mid-step (R1C_FAULT: it SIGKILLs itself at a named point):
#      non-zero exit, PRAGMA integrity_check ok, no row of the unfinished step,
#      and a rerun completes it (SFT resumes from its last checkpoint and ends
#      where an uninterrupted run ends)
#   5. weights that differ between ranks are caught by the checksum and nothing
#      is written
#   6. a build without MPI (build/nompi, made by .ci/run) runs alone and refuses
#      a launcher's N > 1 by name
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
needs --torch r1-rollout r1-grpo r1-sft r1-reward r1-data r1-model

# ---------------------------------------------------------------- 6. no MPI
nompi="$R1_ROOT/build/nompi/bin"
if [ -x "$nompi/r1-sft" ]; then
    expect_error "no MPI: a launcher's 2 processes are refused by name" "this build has no MPI" \
        env OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 "$nompi/r1-sft" --db x --kind k --model m --out o
    check "no MPI: the executable does not link libmpi" '! ldd "$nompi/r1-sft" | grep -q libmpi'
fi
if ! ldd "$R1_BIN/r1-grpo" | grep -q libmpi || ! command -v mpirun >/dev/null; then
    echo "test_dist: this build has no MPI (or mpirun is missing); only the checks above ran"
    finish
    exit $?
fi

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
# LeakSanitizer reports what Open MPI keeps until exit; the project's own leaks
# are found by every other test of the sanitizer build.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi() { mpirun -np "$1" --oversubscribe --bind-to none -x R1C_FAULT "${@:2}"; }
export R1C_FAULT=""

"$R1_BIN/r1-model" init --config "$R1_ROOT/configs/tiny/config.json" --tokenizer "$R1_ROOT/configs/tiny" \
    --out "$tmp/m" --seed 3 >/dev/null && cp -r "$tmp/m" "$tmp/ref" || fail "r1-model init"
"$R1_BIN/r1-data" init --db "$tmp/p.db" >/dev/null &&
    "$R1_BIN/r1-data" import --db "$tmp/p.db" --format gsm8k --quiet "$R1_ROOT/tests/fixtures/gsm8k-train-300.jsonl" ||
    fail "fixture database"
newdb() { rm -f "$tmp/$1.db"; q "$tmp/p.db" ".backup '$tmp/$1.db'"; }
rows() {
    q "$1" "SELECT id, step, prompt_id, sample, hex(prompt_ids), hex(completion_ids), hex(logprobs), hex(text),
            finish_reason, n_tokens, model, template, hex(prefill), stage FROM rollouts ORDER BY id"
}
# close A B TOL [BASE]: every tensor of safetensors A within TOL of B, relative to
# the tensor's largest magnitude in A, or (with BASE) to its largest change from BASE.
close() {
    "$R1_PY" - "$@" <<'EOF'
import sys, numpy as np
from safetensors.numpy import load_file
a, b, tol = load_file(sys.argv[1]), load_file(sys.argv[2]), float(sys.argv[3])
base = load_file(sys.argv[4]) if len(sys.argv) > 4 else None
worst = 0.0
for k in a:
    x, y = a[k].astype(np.float64), b[k].astype(np.float64)
    if x.shape != y.shape: sys.exit(f"{k}: shapes {x.shape} and {y.shape}")
    ref = np.abs(x - base[k]).max() if base is not None else np.abs(x).max()
    if ref > 0: worst = max(worst, np.abs(x - y).max() / ref)
print(f"worst relative difference {worst:.3g} (tolerance {tol:g})", file=sys.stderr)
sys.exit(0 if worst <= tol and a.keys() == b.keys() else 1)
EOF
}

# ---------------------------------------------------------------- 1. rollouts
R=(--model "$tmp/m" --prompts 5 --group 3 --max-new-tokens 24 --seed 7 --temperature 0.9 --top-p 0.95 --quiet)
newdb r1; newdb r1m; newdb r2
for s in 0 1; do
    "$R1_BIN/r1-rollout" --db "$tmp/r1.db" --step $s "${R[@]}" >/dev/null &&
        mpi 1 "$R1_BIN/r1-rollout" --db "$tmp/r1m.db" --step $s "${R[@]}" >/dev/null &&
        mpi 2 "$R1_BIN/r1-rollout" --db "$tmp/r2.db" --step $s "${R[@]}" 2>"$tmp/r2.err" >/dev/null || fail "rollout step $s: $(head -c 300 "$tmp/r2.err")"
done
check "rollouts: 2 steps x 15 rows at N = 2" '[ "$(q "$tmp/r2.db" "SELECT COUNT(*) FROM rollouts")" = 30 ]'
check "rollouts: N = 1 under mpirun is byte-identical to a plain run" '[ "$(rows "$tmp/r1.db")" = "$(rows "$tmp/r1m.db")" ]'
check "rollouts: N = 2 is byte-identical to N = 1" '[ "$(rows "$tmp/r1.db")" = "$(rows "$tmp/r2.db")" ]'
newdb one1; newdb one2
"$R1_BIN/r1-rollout" --db "$tmp/one1.db" --step 0 "${R[@]}" --prompts 1 >/dev/null &&
    mpi 2 "$R1_BIN/r1-rollout" --db "$tmp/one2.db" --step 0 "${R[@]}" --prompts 1 2>"$tmp/one.err" >/dev/null
check "rollouts: one prompt on two ranks (rank 1 samples nothing) is identical too" \
    '[ -n "$(rows "$tmp/one1.db")" ] && [ "$(rows "$tmp/one1.db")" = "$(rows "$tmp/one2.db")" ] || { cat "$tmp/one.err"; false; }'
check "rollouts: rank 0 alone writes the step's metrics (one row per name)" \
    '[ "$(q "$tmp/r2.db" "SELECT COUNT(*) FROM (SELECT name, step FROM metrics GROUP BY name, step HAVING COUNT(*) > 1)")" = 0 ]'

# ---------------------------------------------------------------- 2, 3. GRPO
{ "$R1_BIN/r1-reward" --db "$tmp/r1.db" --step 0 && "$R1_BIN/r1-reward" --db "$tmp/r1.db" --step 1; } >/dev/null || fail "r1-reward"
# the random model earns no reward: spread the totals so every group has advantages
q "$tmp/r1.db" "UPDATE rewards SET value = ((rollout_id * 7) % 5) / 4.0 WHERE name = 'total'"
for n in g1 g2 gz; do q "$tmp/r1.db" ".backup '$tmp/$n.db'"; done
G=(--ref "$tmp/ref" --lr 1e-3 --beta 0.04 --minibatches 2 --iterations 2 --micro-batch-tokens 120 --quiet)
"$R1_BIN/r1-grpo" --db "$tmp/g1.db" --step 0 --model "$tmp/m" "${G[@]}" --dry-run --dump "$tmp/gd1.st" &&
    mpi 2 "$R1_BIN/r1-grpo" --db "$tmp/g2.db" --step 0 --model "$tmp/m" "${G[@]}" --dry-run --dump "$tmp/gd2.st" 2>"$tmp/gd.err"
check "grpo: the first minibatch's gradient, loss, advantages and logp at N = 2 equal N = 1's (<= 1e-5)" \
    'close "$tmp/gd1.st" "$tmp/gd2.st" 1e-5 2>>"$tmp/gd.err" || { cat "$tmp/gd.err"; false; }'
ok=1
from() { [ "$2" = 0 ] && echo "$tmp/m" || echo "$tmp/$1_$(($2 - 1))"; } # from RUN STEP: its --model
for s in 0 1; do
    "$R1_BIN/r1-grpo" --db "$tmp/g1.db" --step $s --model "$(from g1 $s)" --out "$tmp/g1_$s" "${G[@]}" &&
        mpi 2 "$R1_BIN/r1-grpo" --db "$tmp/g2.db" --step $s --model "$(from g2 $s)" --out "$tmp/g2_$s" "${G[@]}" &&
        mpi 2 "$R1_BIN/r1-grpo" --db "$tmp/gz.db" --step $s --model "$(from gz $s)" --out "$tmp/gz_$s" "${G[@]}" --zero 1 \
            2>"$tmp/g.err" || { ok=0; fail "grpo step $s: $(head -c 300 "$tmp/g.err")"; }
done
if [ $ok = 1 ]; then
    check "grpo: two steps at N = 2 with --zero 1 agree with N = 2 without (<= 1e-3 of the update)" \
        'close "$tmp/g2_1/model.safetensors" "$tmp/gz_1/model.safetensors" 1e-3 "$tmp/m/model.safetensors"'
    check "grpo: two steps at N = 2 agree with N = 1 (<= 1e-3 of the update)" \
        'close "$tmp/g1_1/model.safetensors" "$tmp/g2_1/model.safetensors" 1e-3 "$tmp/m/model.safetensors"'
    check "grpo: --zero 1 saves the whole optimizer state, gathered from the shards (<= 1e-3)" \
        'close "$tmp/g2_1/optimizer.safetensors" "$tmp/gz_1/optimizer.safetensors" 1e-3'
    check "grpo: rank 0 alone writes: one metrics row per name and step, one checkpoint row per step" \
        '[ "$(q "$tmp/gz.db" "SELECT COUNT(*) FROM metrics WHERE name = '"'grpo/loss'"'")|$(q "$tmp/gz.db" "SELECT COUNT(*) FROM checkpoints")" = "2|2" ]'
    check "grpo: grpo/ranks records 2, grpo/allreduce_seconds is there" \
        '[ "$(q "$tmp/gz.db" "SELECT value FROM metrics WHERE name = '"'grpo/ranks'"' AND step = 1")" = 2.0 ] &&
         [ -n "$(q "$tmp/gz.db" "SELECT value FROM metrics WHERE name = '"'grpo/allreduce_seconds'"' AND step = 1")" ]'
    check "grpo: the per-token metrics at N = 2 equal N = 1's (kl, clip fractions, tokens)" \
        '[ "$(q "$tmp/g1.db" "SELECT name, round(value, 6) FROM metrics WHERE name IN ('"'grpo/kl'"', '"'grpo/completions'"', '"'grpo/clip_frac_low'"') ORDER BY step, name")" = \
           "$(q "$tmp/g2.db" "SELECT name, round(value, 6) FROM metrics WHERE name IN ('"'grpo/kl'"', '"'grpo/completions'"', '"'grpo/clip_frac_low'"') ORDER BY step, name")" ]'
fi

# ---------------------------------------------------------------- 2, 3. SFT
for i in $(seq 1 48); do
    a=$((i * 7 % 50)) b=$((i * 13 % 30))
    printf '{"messages":[{"role":"user","content":"Add %d and %d."},{"role":"assistant","content":"<think>\\n%d+%d=%d\\n</think>\\n<answer>\\n%d\\n</answer>"}]}\n' \
        $a $b $a $b $((a + b)) $((a + b))
done >"$tmp/s.jsonl"
"$R1_BIN/r1-data" init --db "$tmp/s.db" >/dev/null &&
    "$R1_BIN/r1-data" import --db "$tmp/s.db" --format messages --kind cold_start --quiet "$tmp/s.jsonl" || fail "sft database"
for n in s1 s2 sz sk; do q "$tmp/s.db" ".backup '$tmp/$n.db'"; done
S=(--kind cold_start --model "$tmp/m" --batch-tokens 160 --micro-batch-tokens 64 --lr 1e-3 --eval-split 0.1
    --log-every 1 --save-every 2 --quiet)
"$R1_BIN/r1-sft" --db "$tmp/s1.db" "${S[@]}" --dry-run --dump "$tmp/sd1.st" &&
    mpi 2 "$R1_BIN/r1-sft" --db "$tmp/s2.db" "${S[@]}" --dry-run --dump "$tmp/sd2.st" 2>"$tmp/sd.err"
check "sft: the first batch's gradient, loss, sample ids and losses at N = 2 equal N = 1's (<= 1e-5)" \
    'close "$tmp/sd1.st" "$tmp/sd2.st" 1e-5 2>>"$tmp/sd.err" || { cat "$tmp/sd.err"; false; }'
"$R1_BIN/r1-sft" --db "$tmp/s1.db" "${S[@]}" --out "$tmp/so1" &&
    mpi 2 "$R1_BIN/r1-sft" --db "$tmp/s2.db" "${S[@]}" --out "$tmp/so2" &&
    mpi 2 "$R1_BIN/r1-sft" --db "$tmp/sz.db" "${S[@]}" --out "$tmp/soz" --zero 1 2>"$tmp/s.err" || fail "sft runs: $(head -c 300 "$tmp/s.err")"
steps=$(q "$tmp/s1.db" "SELECT MAX(step) FROM metrics WHERE name = 'sft/train_loss'")
check "sft: a run of several steps ($steps)" '[ "${steps:-0}" -ge 6 ]'
check "sft: N = 2 with --zero 1 agrees with N = 2 without (<= 1e-3 of the update)" \
    'close "$tmp/so2/model.safetensors" "$tmp/soz/model.safetensors" 1e-3 "$tmp/m/model.safetensors"'
check "sft: N = 2 agrees with N = 1 (<= 1e-3 of the update)" \
    'close "$tmp/so1/model.safetensors" "$tmp/so2/model.safetensors" 1e-3 "$tmp/m/model.safetensors"'
check "sft: train and eval losses at N = 2 equal N = 1's to 4 decimals, one row each" \
    '[ "$(q "$tmp/s1.db" "SELECT step, name, round(value, 4) FROM metrics WHERE name IN ('"'sft/train_loss'"', '"'sft/eval_loss'"') ORDER BY step, name")" = \
       "$(q "$tmp/s2.db" "SELECT step, name, round(value, 4) FROM metrics WHERE name IN ('"'sft/train_loss'"', '"'sft/eval_loss'"') ORDER BY step, name")" ]'

expect_error "--zero 1 with --device cuda is refused before anything runs" "--zero 1 is CPU-only" \
    "$R1_BIN/r1-sft" --db "$tmp/s.db" "${S[@]}" --out "$tmp/nope" --zero 1 --device cuda

# ---------------------------------------------------------------- 4. a rank dies
newdb k
R1C_FAULT=1:rollout-gather mpi 2 "$R1_BIN/r1-rollout" --db "$tmp/k.db" --step 0 "${R[@]}" >/dev/null 2>"$tmp/k.err"
kst=$?
check "killed rollout: the job exits non-zero ($kst)" '[ $kst -ne 0 ] && grep -q "kills itself" "$tmp/k.err"'
check "killed rollout: integrity_check ok, no row of the step" \
    '[ "$(q "$tmp/k.db" "PRAGMA integrity_check")" = ok ] && [ "$(q "$tmp/k.db" "SELECT COUNT(*) FROM rollouts")" = 0 ]'
mpi 2 "$R1_BIN/r1-rollout" --db "$tmp/k.db" --step 0 "${R[@]}" >/dev/null 2>&1
check "killed rollout: the rerun completes the step as N = 1 would" \
    '[ "$(rows "$tmp/k.db")" = "$(rows "$tmp/r1.db" | head -15)" ]'

q "$tmp/r1.db" ".backup '$tmp/gk.db'"
R1C_FAULT=1:grpo-update mpi 2 "$R1_BIN/r1-grpo" --db "$tmp/gk.db" --step 0 --model "$tmp/m" --out "$tmp/gk_0" "${G[@]}" >/dev/null 2>"$tmp/gk.err"
kst=$?
check "killed grpo: non-zero exit ($kst), integrity ok, no metrics, checkpoint row or --out of the step" \
    '[ $kst -ne 0 ] && [ "$(q "$tmp/gk.db" "PRAGMA integrity_check")" = ok ] &&
     [ "$(q "$tmp/gk.db" "SELECT COUNT(*) FROM metrics WHERE name LIKE '"'grpo/%'"'")|$(q "$tmp/gk.db" "SELECT COUNT(*) FROM checkpoints")" = "0|0" ] &&
     [ ! -e "$tmp/gk_0" ]'
mpi 2 "$R1_BIN/r1-grpo" --db "$tmp/gk.db" --step 0 --model "$tmp/m" --out "$tmp/gk_0" "${G[@]}" 2>"$tmp/gk.err"
check "killed grpo: the rerun completes the step, as an uninterrupted run" \
    'close "$tmp/g2_0/model.safetensors" "$tmp/gk_0/model.safetensors" 0 || { cat "$tmp/gk.err"; false; }'

# rank 0 (the writer) dies in step 5, after the checkpoint of step 4
R1C_FAULT=0:sft-step:5 mpi 2 "$R1_BIN/r1-sft" --db "$tmp/sk.db" "${S[@]}" --out "$tmp/sok" >/dev/null 2>"$tmp/sk.err"
kst=$?
check "killed sft: non-zero exit ($kst), integrity ok, metrics end at the step before" \
    '[ $kst -ne 0 ] && [ "$(q "$tmp/sk.db" "PRAGMA integrity_check")" = ok ] &&
     [ "$(q "$tmp/sk.db" "SELECT MAX(step) FROM metrics WHERE name = '"'sft/train_loss'"'")" = 4 ]'
check "killed sft: the last checkpoint is step 4's" \
    'grep -q "\"step\":[[:space:]]*4" "$tmp/sok/trainer_state.json"'
mpi 2 "$R1_BIN/r1-sft" --db "$tmp/sk.db" "${S[@]}" --out "$tmp/sok" --resume 2>"$tmp/sk.err"
check "killed sft: --resume completes the run and ends where the uninterrupted run ended" \
    'close "$tmp/so2/model.safetensors" "$tmp/sok/model.safetensors" 0 || { cat "$tmp/sk.err"; false; }'
check "killed sft: the resumed run's metrics equal the uninterrupted run's (one row each)" \
    '[ "$(q "$tmp/sk.db" "SELECT step, name, round(value, 6) FROM metrics WHERE name = '"'sft/train_loss'"' ORDER BY step")" = \
       "$(q "$tmp/s2.db" "SELECT step, name, round(value, 6) FROM metrics WHERE name = '"'sft/train_loss'"' ORDER BY step")" ]'

# ---------------------------------------------------------------- pipelines --nproc
"$R1_BIN/r1-data" init --db "$tmp/z.db" >/dev/null &&
    "$R1_BIN/r1-data" synth --db "$tmp/z.db" --task chain --level 1 --n 12 --split train --seed 1 --quiet &&
    "$R1_BIN/r1-data" synth --db "$tmp/z.db" --task chain --level 1 --n 4 --split test --seed 2 --quiet || fail "z.db"
q "$tmp/z.db" ".backup '$tmp/z2.db'"
Z=(--model "$tmp/m" --steps 2 --prompts 4 --group 4 --max-new-tokens 16 --eval-prompts 4 --eval-k 2
   --eval-every 0 --lr 1e-4 --quiet)
"$R1_ROOT/pipelines/r1-zero.sh" --db "$tmp/z.db" --out "$tmp/z1" "${Z[@]}" >"$tmp/z1.log" 2>&1 &&
    "$R1_ROOT/pipelines/r1-zero.sh" --db "$tmp/z2.db" --out "$tmp/z2" "${Z[@]}" --nproc 2 >"$tmp/z2.log" 2>&1
check "pipelines: r1-zero.sh --nproc 2 runs through (grpo/ranks 2)" \
    '[ "$(q "$tmp/z2.db" "SELECT COUNT(*), MIN(value) FROM metrics WHERE name = '"'grpo/ranks'"'")" = "2|2.0" ] ||
     { tail -5 "$tmp/z2.log"; false; }'
zrows() { q "$1" "SELECT stage, step, prompt_id, sample, hex(completion_ids), hex(logprobs) FROM rollouts
                  WHERE (stage = 'r1-zero' AND step = 0) OR stage = 'eval/base' ORDER BY id"; }
check "pipelines: --nproc 2 samples the base's rollouts and evaluation byte-identically to --nproc 1" \
    '[ -n "$(zrows "$tmp/z.db")" ] && [ "$(zrows "$tmp/z.db")" = "$(zrows "$tmp/z2.db")" ]'
expect_error "pipelines: --nproc 0 is refused" "--nproc needs a number" \
    "$R1_ROOT/pipelines/r1-zero.sh" --db "$tmp/z.db" --out "$tmp/z3" "${Z[@]}" --nproc 0

# ---------------------------------------------------------------- 5. divergence
q "$tmp/s.db" ".backup '$tmp/sv.db'"
R1C_FAULT=1:perturb mpi 2 "$R1_BIN/r1-sft" --db "$tmp/sv.db" "${S[@]}" --out "$tmp/sov" --check-every 1 >/dev/null 2>"$tmp/sv.err"
kst=$?
check "diverged sft: non-zero exit ($kst), 'the ranks diverged' naming rank 1, no checkpoint" \
    '[ $kst -ne 0 ] && grep -q "the ranks diverged: the weights after step 1 on rank 1" "$tmp/sv.err" && [ ! -e "$tmp/sov" ]'
q "$tmp/r1.db" ".backup '$tmp/gv.db'"
R1C_FAULT=1:perturb mpi 2 "$R1_BIN/r1-grpo" --db "$tmp/gv.db" --step 0 --model "$tmp/m" --out "$tmp/gv_0" "${G[@]}" --check-every 1 >/dev/null 2>"$tmp/gv.err"
kst=$?
check "diverged grpo: non-zero exit ($kst), named, nothing written" \
    '[ $kst -ne 0 ] && grep -q "the ranks diverged" "$tmp/gv.err" && [ ! -e "$tmp/gv_0" ] &&
     [ "$(q "$tmp/gv.db" "SELECT COUNT(*) FROM checkpoints")" = 0 ]'
finish
