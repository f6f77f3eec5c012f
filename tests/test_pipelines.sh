#!/usr/bin/env bash
# The pipeline scripts as a user runs them:
#   - pipelines/demo.sh at a reduced size end to end: every phase evaluated (base,
#     r1-zero, r1, distill, as metrics eval/accuracy with those stages), R1-Zero's
#     rewards rise, the cold-start and rejection-sampled sets are collected, the
#     report renders; run again, it finds everything done and adds no rows;
#   - r1-zero.sh killed in the middle of a step and run again continues after the
#     last finished step: every step holds exactly its K x G rollouts, one
#     checkpoint row each, and the policy chain is unbroken;
#   - --help, unknown options and missing inputs.
# The normal build runs the demo at --size ci (a few minutes on 2 cores); the
# sanitizer build (R1_BIN under build/asan) at --size smoke, where the model is too
# small to learn, so rewards are not asserted to rise there.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
needs r1-data r1-model r1-rollout r1-reward r1-grpo r1-sft r1-report
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
pipes="$R1_ROOT/pipelines"
size=ci
case "$R1_BIN" in */asan/*) size=smoke ;; esac

# ---- the demo ------------------------------------------------------------------------------
demo="$tmp/demo"
t0=$(date +%s)
"$pipes/demo.sh" "$demo" --size "$size" --quiet >"$tmp/demo.out" 2>"$tmp/demo.err"
rc=$?
check "demo --size $size: exit 0 ($(($(date +%s) - t0)) s)" '[ $rc -eq 0 ] || { tail -20 "$tmp/demo.err"; false; }'
db="$demo/run.db"
phases=$(q "$db" "SELECT group_concat(stage, ' ') FROM (SELECT stage FROM metrics WHERE name = 'eval/accuracy'
    AND stage IN ('base', 'r1-zero', 'r1', 'distill') GROUP BY stage ORDER BY MIN(rowid))")
check "demo: eval/accuracy for base, r1-zero, r1, distill in that order (got: $phases)" \
    '[ "$phases" = "base r1-zero r1 distill" ]'
check "demo: every evaluation is a rate in [0, 1] from k samples of each held-out prompt" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM eval_summary WHERE accuracy BETWEEN 0 AND 1
        AND format_rate BETWEEN 0 AND 1 AND language_rate BETWEEN 0 AND 1")" = \
       "$(q "$db" "SELECT COUNT(*) FROM eval_summary")" ] &&
     [ "$(q "$db" "SELECT COUNT(DISTINCT n) FROM (SELECT COUNT(*) AS n FROM rollouts
        WHERE stage LIKE '"'"'eval/%'"'"' GROUP BY stage, step, prompt_id)")" = 1 ]'
check "demo: the table printed base -> r1-zero -> r1 -> student -> distill" \
    'grep -A7 "^phase" "$tmp/demo.out" | awk "{print \$1}" | tr "\n" " " | grep -q "base r1-zero r1 student distill"'
check "demo: the stages' rows carry their stage names" \
    '[ "$(q "$db" "SELECT group_concat(stage, '"'"' '"'"') FROM (SELECT DISTINCT stage FROM rollouts
        WHERE stage NOT LIKE '"'"'eval/%'"'"' ORDER BY stage)")" = "r1-final r1-reasoning r1-rejection r1-zero" ]'
check "demo: cold start collected from R1-Zero rollouts, rejection-sampled reasoning + non_reasoning" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM sft_samples WHERE kind = '"'"'cold_start'"'"' AND source LIKE '"'"'rollout:%'"'"'")" -gt 0 ] &&
     [ "$(q "$db" "SELECT COUNT(*) FROM sft_samples WHERE kind = '"'"'non_reasoning'"'"'")" = 40 ]'
check "demo: the student is smaller than the base" \
    '[ "$(stat -c %s "$demo/distill/model/model.safetensors")" -lt "$(stat -c %s "$demo/base/model.safetensors")" ]'
check "demo: the report is written, with charts" \
    '[ "$(grep -o "<svg" "$demo/report.html" | wc -l)" -ge 10 ] && grep -q "r1-zero" "$demo/report.html"'
if [ "$size" = ci ]; then
    # mean total reward over R1-Zero's first and last three steps
    rise=$(q "$db" "SELECT printf('%.3f %.3f',
        AVG(CASE WHEN step < 3 THEN mean END), AVG(CASE WHEN step >= (SELECT MAX(step) - 2
        FROM rollouts WHERE stage = 'r1-zero') THEN mean END)) FROM step_rewards
        WHERE stage = 'r1-zero' AND name = 'total'")
    check "demo: R1-Zero's reward rises by 0.1 or more (first 3 steps -> last 3: $rise)" \
        'awk -v a="${rise% *}" -v b="${rise#* }" "BEGIN { exit !(b >= a + 0.1) }"'
fi
rows=$(q "$db" "SELECT (SELECT COUNT(*) FROM rollouts) || ' ' || (SELECT COUNT(*) FROM sft_samples) || ' ' ||
    (SELECT COUNT(*) FROM checkpoints)")
"$pipes/demo.sh" "$demo" --size "$size" --quiet >"$tmp/demo2.out" 2>"$tmp/demo2.err"
rc=$?
check "demo run again: exit 0, nothing redone (rollouts, samples, checkpoints: $rows)" \
    '[ $rc -eq 0 ] && [ "$(q "$db" "SELECT (SELECT COUNT(*) FROM rollouts) || '"'"' '"'"' || (SELECT COUNT(*) FROM sft_samples) || '"'"' '"'"' ||
        (SELECT COUNT(*) FROM checkpoints)")" = "$rows" ] || { tail -5 "$tmp/demo2.err"; false; }'

# ---- r1-zero.sh, killed and resumed ----------------------------------------------------------
z="$tmp/zero"
mkdir -p "$z"
cp "$db" "$z/run.db"
steps=5
zero=("$pipes/r1-zero.sh" --db "$z/run.db" --model "$demo/base" --out "$z/out" --steps $steps
    --prompts 4 --group 4 --stage again --phase again --eval-base 0 --eval-every 0 --max-new-tokens 48)
setsid "${zero[@]}" >"$tmp/z1.out" 2>&1 & # its own process group, killed whole as Ctrl-C would
pid=$!
for _ in $(seq 600); do # until step 1's update is in the database, then mid-way through step 2
    [ "$(sqlite3 -cmd ".timeout 5000" "$z/run.db" "SELECT COUNT(*) FROM checkpoints WHERE stage = 'again'")" -ge 2 ] && break
    sleep 0.2
done
sleep 0.3
kill -TERM -- -"$pid" 2>/dev/null
wait "$pid" 2>/dev/null
for _ in $(seq 100); do pgrep -g "$pid" >/dev/null || break; sleep 0.1; done
done_before=$(q "$z/run.db" "SELECT COUNT(*) FROM checkpoints WHERE stage = 'again'")
"${zero[@]}" >"$tmp/z2.out" 2>&1
rc=$?
check "r1-zero.sh killed after $done_before finished steps and run again: exit 0, says it resumes" \
    '[ $rc -eq 0 ] && [ "$done_before" -lt $steps ] && grep -q "resuming after step $((done_before - 1))" "$tmp/z2.out" ||
     { cat "$tmp/z2.out"; false; }'
check "resumed: each of the $steps steps holds exactly 4 x 4 rollouts, all scored" \
    '[ "$(q "$z/run.db" "SELECT group_concat(n, '"'"' '"'"') FROM (SELECT COUNT(*) AS n FROM rollouts WHERE stage = '"'"'again'"'"' GROUP BY step ORDER BY step)")" = "16 16 16 16 16" ] &&
     [ "$(q "$z/run.db" "SELECT COUNT(*) FROM rollouts r WHERE stage = '"'"'again'"'"' AND NOT EXISTS
        (SELECT 1 FROM rewards w WHERE w.rollout_id = r.id AND w.name = '"'"'total'"'"')")" = 0 ]'
check "resumed: one checkpoints row per step, each step's rollouts sampled from the previous step's policy" \
    '[ "$(q "$z/run.db" "SELECT group_concat(step, '"'"' '"'"') FROM (SELECT step FROM checkpoints WHERE stage = '"'"'again'"'"' ORDER BY step)")" = "0 1 2 3 4" ] &&
     [ "$(q "$z/run.db" "SELECT COUNT(*) FROM rollouts r JOIN checkpoints c ON c.stage = '"'"'again'"'"' AND c.step = r.step - 1
        WHERE r.stage = '"'"'again'"'"' AND r.model != c.path")" = 0 ]'
check "resumed: the final policy and the evaluation exist" \
    '[ -f "$z/out/final/model.safetensors" ] && [ "$(q "$z/run.db" "SELECT COUNT(*) FROM eval_summary WHERE phase = '"'"'again'"'"' AND step = $steps")" = 1 ]'

# ---- r1.sh from a cold-start file, in a database that has no R1-Zero run ------------------------
c="$tmp/cold"
mkdir -p "$c"
"$R1_BIN/r1-data" init --db "$c/run.db" >/dev/null
"$R1_BIN/r1-data" synth --db "$c/run.db" --task chain --level 1 --n 16 --split train --seed 7 --quiet
"$R1_BIN/r1-data" synth --db "$c/run.db" --task chain --level 1 --n 4 --split test --seed 8 --quiet
q "$db" "SELECT json_object('messages', json(messages)) FROM sft_samples WHERE kind = 'cold_start' LIMIT 6" >"$c/cold.jsonl"
"$pipes/r1.sh" --db "$c/run.db" --base "$demo/base" --out "$c/out" --cold-start-file "$c/cold.jsonl" \
    --cold-start-lr 1e-3 --reasoning-steps 1 --final-steps 1 --prompts 2 --group 2 --rs-prompts 4 \
    --rs-samples 2 --rs-filter stop --eval-k 1 --max-new-tokens 48 --sft-epochs 1 --quiet \
    >"$tmp/cold.out" 2>&1
rc=$?
check "r1.sh --cold-start-file, no R1-Zero rollouts: exit 0, every stage evaluated" \
    '[ $rc -eq 0 ] && [ "$(q "$c/run.db" "SELECT group_concat(phase, '"'"' '"'"') FROM (SELECT DISTINCT phase FROM eval_summary ORDER BY phase)")" = \
        "r1 r1-cold-start r1-reasoning r1-sft" ] || { tail -5 "$tmp/cold.out"; false; }'
check "r1.sh --cold-start-file: its 6 samples imported as cold_start (source the file), the R1 model linked" \
    '[ "$(q "$c/run.db" "SELECT COUNT(*) FROM sft_samples WHERE kind = '"'"'cold_start'"'"' AND source LIKE '"'"'%cold.jsonl'"'"'")" = 6 ] &&
     [ -f "$c/out/final/final/model.safetensors" ]'

# ---- usage -------------------------------------------------------------------------------------
for s in r1-zero r1 distill demo; do
    check "$s.sh --help: the usage, exit 0" '"$pipes/$s.sh" --help >"$tmp/h.out" 2>&1 && grep -q "Options\|usage\|--size" "$tmp/h.out"'
done
expect_error "r1-zero.sh: an unknown option is named" "--bogus" "$pipes/r1-zero.sh" --bogus 1
expect_error "r1-zero.sh: --db, --model and --out are required" "needs --db" "$pipes/r1-zero.sh" --steps 3
expect_error "r1-zero.sh: a missing database is named" "$tmp/none.db" \
    "$pipes/r1-zero.sh" --db "$tmp/none.db" --model "$demo/base" --out "$tmp/x"
expect_error "r1.sh: a missing non-reasoning file is named" "$tmp/none.jsonl" \
    "$pipes/r1.sh" --db "$db" --base "$demo/base" --out "$tmp/x" --non-reasoning-file "$tmp/none.jsonl"
expect_error "distill.sh: a student is required" "--student" "$pipes/distill.sh" --db "$db" --out "$tmp/x"
expect_error "demo.sh: a bad --size" "full, ci or smoke" "$pipes/demo.sh" "$tmp/d" --size huge
finish
