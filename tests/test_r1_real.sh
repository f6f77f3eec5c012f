#!/usr/bin/env bash
# pipelines/r1-real.sh, the R1 recipe on SmolLM2-135M-Instruct, as a user runs it:
#   - end to end at a reduced size: the base, the R1-Zero probe, the cold start, the
#     reasoning RL and the rejection-sampled SFT are each evaluated, as metrics
#     eval/accuracy, eval/format, eval/language with stages base, r1-zero, cold-start,
#     r1, rs-sft (and per level, and GSM8K); the cold-start samples are the synthesized
#     worked ones with the system message, no training question is a held-out one,
#     the cold start learns the format the base never writes, the table and the report
#     come out; run again, it redoes nothing;
#   - --help, unknown options and bad sizes.
# The normal build runs --size ci (a few minutes on 2 cores); the sanitizer build
# (R1_BIN under build/asan) runs --size smoke, every command once on a few tokens,
# where nothing is learnt, so only the plumbing is asserted there.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}"
. "$here/lib.sh"
needs r1-data r1-model r1-rollout r1-reward r1-grpo r1-sft r1-report
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
script="$R1_ROOT/pipelines/r1-real.sh"
size=ci
case "$R1_BIN" in */asan/*) size=smoke ;; esac

expect_error "--help is the header; an unknown option is refused" "unknown option --bogus" \
    "$script" "$tmp/x" --bogus 1
check "--help prints the usage and every option" \
    '"$script" --help >"$tmp/help" && grep -q "pipelines/r1-real.sh \[DIR\]" "$tmp/help" && grep -q -- "--cold-start-n" "$tmp/help"'
expect_error "a bad --size is refused" "--size is full, ci or smoke" "$script" "$tmp/x" --size huge
expect_error "a bad --levels is refused" "levels are 1 to 4" "$script" "$tmp/x" --levels "1 7"
expect_error "an option without its value is refused" "--gguf needs a value" "$script" "$tmp/x" --gguf
expect_error "--rl-steps 0 is refused" "--rl-steps must be at least 1" "$script" "$tmp/x" --rl-steps 0
expect_error "a missing GGUF is refused by name" "$tmp/none.gguf: no such GGUF file" \
    "$script" "$tmp/x" --gguf "$tmp/none.gguf"

if ! gguf=$("$R1_ROOT/scripts/real-model.sh" 2>"$tmp/dl.err"); then
    fail "the real model could not be fetched: $(tail -c 300 "$tmp/dl.err")"
    finish
    exit
fi
out="$tmp/run"
t0=$(date +%s)
"$script" "$out" --size "$size" --gguf "$gguf" >"$tmp/out1" 2>"$tmp/err1"
rc=$?
check "r1-real.sh --size $size: exit 0 ($(($(date +%s) - t0)) s)" \
    '[ $rc -eq 0 ] || { tail -20 "$tmp/err1" "$tmp/out1"; false; }'
db="$out/run.db"
phases=$(q "$db" "SELECT group_concat(stage, ' ') FROM (SELECT stage FROM metrics WHERE name = 'eval/accuracy'
    GROUP BY stage ORDER BY MIN(rowid))")
check "eval/accuracy for base, r1-zero, cold-start, r1, rs-sft in that order (got: $phases)" \
    '[ "$phases" = "base r1-zero cold-start r1 rs-sft" ]'
check "every phase has eval/format and eval/language in [0, 1], per level and for GSM8K" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM metrics WHERE stage IN ('"'"'base'"'"', '"'"'r1-zero'"'"', '"'"'cold-start'"'"', '"'"'r1'"'"', '"'"'rs-sft'"'"')
        AND name IN ('"'"'eval/format'"'"', '"'"'eval/language'"'"', '"'"'eval/level-1/accuracy'"'"', '"'"'eval/gsm8k/accuracy'"'"')
        AND value BETWEEN 0 AND 1")" = 20 ]'
check "each evaluation samples every held-out arithmetic prompt the same number of times" \
    '[ "$(q "$db" "SELECT COUNT(DISTINCT n) || '"'"' '"'"' || COUNT(DISTINCT stage) FROM (SELECT stage, COUNT(*) AS n FROM rollouts r
        JOIN prompts p ON p.id = r.prompt_id WHERE stage LIKE '"'"'eval/%'"'"' AND stage NOT LIKE '"'"'eval/gsm8k-%'"'"'
        GROUP BY stage, prompt_id)")" = "1 5" ] &&
     [ "$(q "$db" "SELECT COUNT(DISTINCT prompt_id) FROM rollouts WHERE stage = '"'"'eval/rs-sft'"'"'")" = \
       "$(q "$db" "SELECT COUNT(*) FROM prompts WHERE split = '"'"'test'"'"' AND dataset = '"'"'synth/arith'"'"'")" ]'
check "the cold-start samples are the synthesized worked ones, each with the system message" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM sft_samples WHERE kind = '"'"'cold_start'"'"' AND source LIKE '"'"'r1-data synth%'"'"'
        AND json_extract(messages, '"'"'\$[0].role'"'"') = '"'"'system'"'"' AND response LIKE '"'"'<think>%</answer>'"'"'")" = \
       "$(q "$db" "SELECT COUNT(*) FROM sft_samples WHERE kind = '"'"'cold_start'"'"'")" ] &&
     [ "$(q "$db" "SELECT COUNT(*) FROM sft_samples WHERE kind = '"'"'cold_start'"'"'")" -gt 0 ]'
check "no training prompt or cold-start sample asks a held-out question" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM prompts t JOIN prompts e ON e.question = t.question
        WHERE t.split = '"'"'train'"'"' AND e.split = '"'"'test'"'"'")" = 0 ] &&
     [ "$(q "$db" "SELECT COUNT(*) FROM sft_samples s JOIN prompts e ON e.question = s.prompt WHERE e.split = '"'"'test'"'"'")" = 0 ]'
check "the stages' rows carry their names (RL stages r1-zero and r1-reasoning, samples rs and non-reasoning)" \
    '[ "$(q "$db" "SELECT group_concat(stage, '"'"' '"'"') FROM (SELECT DISTINCT stage FROM rollouts
        WHERE stage NOT LIKE '"'"'eval/%'"'"' ORDER BY stage)")" = "non-reasoning r1-reasoning r1-zero rs" ]'
check "the rs-sft model trained on reasoning and non_reasoning samples" \
    '[ -f "$out/rs-sft/model.safetensors" ] && [ "$(q "$db" "SELECT COUNT(DISTINCT kind) FROM sft_samples
        WHERE kind IN ('"'"'reasoning'"'"', '"'"'non_reasoning'"'"')")" = 2 ]'
check "the table names the five phases, and the report is written" \
    'grep -A6 "^phase" "$tmp/out1" | awk "{print \$1}" | tr "\n" " " | grep -q "base r1-zero cold-start r1 rs-sft" &&
     grep -q "report: $out/report.html" "$tmp/out1" && grep -q "<svg" "$out/report.html"'
if [ "$size" = ci ]; then
    fmt=$(q "$db" "SELECT printf('%.3f %.3f', MAX(CASE stage WHEN 'base' THEN value END),
        MAX(CASE stage WHEN 'cold-start' THEN value END)) FROM metrics WHERE name = 'eval/format'")
    check "the cold start teaches the format the base hardly writes (base, cold-start: $fmt)" \
        'awk -v a="${fmt% *}" -v b="${fmt#* }" "BEGIN { exit !(a <= 0.1 && b >= a + 0.25) }"'
fi
rows=$(q "$db" "SELECT (SELECT COUNT(*) FROM rollouts) || ' ' || (SELECT COUNT(*) FROM sft_samples) || ' ' ||
    (SELECT COUNT(*) FROM checkpoints) || ' ' || (SELECT COUNT(*) FROM prompts)")
"$script" "$out" --size "$size" --gguf "$gguf" >"$tmp/out2" 2>"$tmp/err2"
rc=$?
check "run again: exit 0, nothing redone (rollouts, samples, checkpoints, prompts: $rows)" \
    '[ $rc -eq 0 ] && [ "$(q "$db" "SELECT (SELECT COUNT(*) FROM rollouts) || '"'"' '"'"' || (SELECT COUNT(*) FROM sft_samples) || '"'"' '"'"' ||
        (SELECT COUNT(*) FROM checkpoints) || '"'"' '"'"' || (SELECT COUNT(*) FROM prompts)")" = "$rows" ] || { tail -5 "$tmp/err2"; false; }'
check "run again: the same table" 'diff <(grep -A6 "^phase" "$tmp/out1") <(grep -A6 "^phase" "$tmp/out2")'
finish
