#!/usr/bin/env bash
# Named phases in one run database (schema version 3, --stage NAME), end to end
# on a small random-weight model (hidden 64, 2 layers, the tiny tokenizer):
#   1. r1-rollout --stage a and --stage b at the same step number: each holds its
#      own K x G rows (stage column), metrics under its name; a finished stage is
#      left alone, and --force on one stage replaces only its rows and rewards
#   2. r1-reward --stage scores only that stage's rollouts, reward/* metrics with
#      metrics.stage = the name; r1-grpo --stage reads only that stage's rollouts
#      (grpo/completions = its rollout count) and records its metrics and
#      checkpoints row under the name
#   3. without --stage: rows get stage 'rl', metrics 'rollout', 'reward', 'grpo'
#   4. r1-reward --eval PHASE on hand-written completions (3 correct of 8, so
#      eval/accuracy = 0.375 = the mean of the accuracy rewards in sqlite3):
#      eval/* rates, prompts and samples; a rerun replaces its 8 rows; another
#      stage's rows at the same step are not counted; the view eval_summary
#   5. r1-sft --stage NAME: sft/* metrics and the checkpoints row under NAME;
#      r1-sft --kind pretrain --loss all on samples imported as kind pretrain
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
tiny="$R1_ROOT/configs/tiny"

needs r1-rollout r1-reward r1-grpo r1-sft r1-data r1-model
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

db="$tmp/run.db"
d() { sqlite3 "$db" "$1"; }

hf_config qwen2 64 2 4 2 96 768 true 512 >"$tmp/small.json"
if ! "$R1_BIN/r1-model" init --config "$tmp/small.json" --tokenizer "$tiny" --out "$tmp/m0" \
    --seed 3 >"$tmp/init.log" 2>&1 ||
    ! "$R1_BIN/r1-data" init --db "$db" >/dev/null ||
    ! "$R1_BIN/r1-data" synth --db "$db" --task arith --n 8 --seed 1 --quiet; then
    cat "$tmp/init.log"
    fail "set-up: a random model and a database with 8 synth/arith prompts"
    exit 1
fi
check "set-up: the database is at schema version 3" '[ "$(d "PRAGMA user_version")" = 3 ]'

# rollout STAGE_ARGS... : 2 prompts x G samples of at most 8 tokens at step 0
rollout() {
    "$R1_BIN/r1-rollout" --db "$db" --model "$tmp/m0" --step 0 --prompts 2 --max-new-tokens 8 \
        --temperature 1 --quiet "$@" >"$tmp/ro.out" 2>"$tmp/ro.err" || { cat "$tmp/ro.err"; return 1; }
}
# rows STAGE: the stage's step-0 rows, ids included
rows() {
    d "SELECT id, stage, step, prompt_id, sample, hex(completion_ids), hex(logprobs), created_at
       FROM rollouts WHERE stage = '$1' AND step = 0 ORDER BY id"
}
# rewards_of STAGE: the rewards of the stage's rollouts
rewards_of() {
    d "SELECT w.rollout_id, w.name, quote(w.value) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id
       WHERE r.stage = '$1' ORDER BY 1, 2"
}
# metric STAGE STEP NAME: its values, comma-separated
metric() { d "SELECT group_concat(value) FROM metrics WHERE stage = '$1' AND step = $2 AND name = '$3'"; }

# ---------------------------------------------------------------- 1. two stages, one step
t0=$SECONDS
rollout --stage a --group 3 --seed 1 && pass "rollout --stage a (2 x 3)" || fail "rollout --stage a"
# the same prompts (same step and seed) in another stage: must not be taken for a's rows
rollout --stage b --group 2 --seed 1 && pass "rollout --stage b (2 x 2)" || fail "rollout --stage b"
check "stage a holds 6 rows, stage b 4, all at step 0, nothing in 'rl'" \
    '[ "$(d "SELECT group_concat(stage || '"'"':'"'"' || n, '"'"' '"'"') FROM (SELECT stage, COUNT(*) n FROM rollouts WHERE step = 0 GROUP BY stage ORDER BY stage)")" = "a:6 b:4" ]'
check "both stages sampled the same 2 prompts" \
    '[ "$(d "SELECT group_concat(prompt_id) FROM (SELECT DISTINCT prompt_id FROM rollouts WHERE stage = '"'"'a'"'"' ORDER BY 1)")" = "$(d "SELECT group_concat(prompt_id) FROM (SELECT DISTINCT prompt_id FROM rollouts WHERE stage = '"'"'b'"'"' ORDER BY 1)")" ]'
check "rollout metrics under the stage names (rollout/completions a 6, b 4), none under 'rollout'" \
    '[ "$(metric a 0 rollout/completions) $(metric b 0 rollout/completions) $(d "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'rollout'"'"'")" = "6.0 4.0 0" ]'
a_rows=$(rows a)
rollout --stage a --group 3 --seed 1
check "rerunning the finished stage a is a no-op (its rows unchanged, ids included)" \
    '[ -n "$a_rows" ] && [ "$(rows a)" = "$a_rows" ]'

# ---------------------------------------------------------------- 2. reward and grpo by stage
"$R1_BIN/r1-reward" --db "$db" --step 0 --stage a --quiet >"$tmp/rw.out" 2>"$tmp/rw.err"
rc=$?
check "r1-reward --stage a exits 0" '[ $rc -eq 0 ] || { cat "$tmp/rw.err"; false; }'
check "it scored a's 6 rollouts (accuracy, format, total each) and none of b's" \
    '[ "$(rewards_of a | wc -l) $(rewards_of b | wc -l) $(d "SELECT COUNT(*) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.stage = '"'"'a'"'"' AND w.name = '"'"'total'"'"'")" = "18 0 6" ]'
check "reward/* metrics under stage a (reward/total = the mean of a's totals), none under 'reward'" \
    '[ "$(d "SELECT printf('"'"'%.9f'"'"', value) FROM metrics WHERE stage = '"'"'a'"'"' AND step = 0 AND name = '"'"'reward/total'"'"'")" = "$(d "SELECT printf('"'"'%.9f'"'"', AVG(w.value)) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.stage = '"'"'a'"'"' AND w.name = '"'"'total'"'"'")" ] &&
     [ -n "$(metric a 0 reward/accuracy)" ] && [ -n "$(metric a 0 reward/format)" ] && [ "$(metric a 0 reward/undefined)" = 0.0 ] &&
     [ "$(d "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'reward'"'"'")" = 0 ]'
expect_error "r1-reward --stage names a stage without rollouts" "no rollouts at step 0 of stage nope" \
    "$R1_BIN/r1-reward" --db "$db" --step 0 --stage nope --quiet

# b has no rewards yet: grpo of stage a must neither see nor mind b's rows
"$R1_BIN/r1-grpo" --db "$db" --step 0 --stage a --model "$tmp/m0" --out "$tmp/a1" --beta 0 \
    --lr 1e-3 --quiet >"$tmp/gr.out" 2>"$tmp/gr.err"
rc=$?
check "r1-grpo --stage a exits 0 while stage b is unscored" '[ $rc -eq 0 ] || { cat "$tmp/gr.err"; false; }'
check "grpo/completions under stage a = a's 6 rollouts; grpo/loss there; none under 'grpo'" \
    '[ "$(metric a 0 grpo/completions)" = 6.0 ] && [ -n "$(metric a 0 grpo/loss)" ] &&
     [ "$(d "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'grpo'"'"'")" = 0 ]'
check "the checkpoints row is (a, 0, the output directory)" \
    '[ "$(d "SELECT stage, step, path FROM checkpoints")" = "a|0|$(cd "$tmp/a1" && pwd -P)" ]'
expect_error "r1-grpo --stage b refuses b's unscored rollouts, naming the stage" \
    "rollouts of stage b have no 'total' reward" \
    "$R1_BIN/r1-grpo" --db "$db" --step 0 --stage b --model "$tmp/m0" --out "$tmp/b1" --beta 0 --quiet
expect_error "r1-grpo --stage names a stage without rollouts" "step 0 has no rollouts of stage nope" \
    "$R1_BIN/r1-grpo" --db "$db" --step 0 --stage nope --model "$tmp/m0" --out "$tmp/n1" --beta 0 --quiet

"$R1_BIN/r1-reward" --db "$db" --step 0 --stage b --quiet >/dev/null 2>"$tmp/rw.err" ||
    { cat "$tmp/rw.err"; fail "r1-reward --stage b"; }
"$R1_BIN/r1-grpo" --db "$db" --step 0 --stage b --model "$tmp/m0" --out "$tmp/b1" --beta 0 \
    --lr 1e-3 --quiet 2>"$tmp/gr.err" || { cat "$tmp/gr.err"; fail "r1-grpo --stage b"; }
check "stage b: 12 rewards, grpo/completions 4, its own checkpoints row; a's metrics unchanged" \
    '[ "$(rewards_of b | wc -l) $(metric b 0 grpo/completions) $(metric a 0 grpo/completions)" = "12 4.0 6.0" ] &&
     [ "$(d "SELECT COUNT(*) FROM checkpoints WHERE stage = '"'"'b'"'"' AND step = 0")" = 1 ]'

# --force on stage a: a's rows and rewards replaced, b's untouched
b_rows=$(rows b) b_rewards=$(rewards_of b) a_max=$(d "SELECT MAX(id) FROM rollouts WHERE stage = 'a'")
rollout --stage a --group 3 --seed 2 --force
check "rollout --stage a --force: a has 6 new rows (ids above the old ones)" \
    '[ "$(d "SELECT COUNT(*), MIN(id) > $a_max FROM rollouts WHERE stage = '"'"'a'"'"'")" = "6|1" ]'
check "... and none of a's old rewards is left (nor any orphan reward)" \
    '[ "$(rewards_of a | wc -l)" = 0 ] &&
     [ "$(d "SELECT COUNT(*) FROM rewards WHERE rollout_id NOT IN (SELECT id FROM rollouts)")" = 0 ] &&
     [ "$(d "SELECT COUNT(*) FROM pragma_foreign_key_check")" = 0 ]'
check "... while b's rows (ids included) and rewards are untouched" \
    '[ "$(rows b)" = "$b_rows" ] && [ "$(rewards_of b)" = "$b_rewards" ] && [ -n "$b_rewards" ]'
check "... and a's rollout metrics were replaced, not added to (one rollout/completions each)" \
    '[ "$(metric a 0 rollout/completions) $(metric b 0 rollout/completions)" = "6.0 4.0" ]'
check "... a's grpo metrics and b's stay" \
    '[ "$(metric a 0 grpo/completions) $(metric b 0 grpo/completions)" = "6.0 4.0" ]'

# ---------------------------------------------------------------- 3. no --stage: the old names
rollout --group 2 --seed 5 || fail "rollout without --stage"
check "without --stage: 4 rows with stage 'rl' at step 0, a's and b's still there" \
    '[ "$(d "SELECT group_concat(stage || '"'"':'"'"' || n, '"'"' '"'"') FROM (SELECT stage, COUNT(*) n FROM rollouts WHERE step = 0 GROUP BY stage ORDER BY stage)")" = "a:6 b:4 rl:4" ]'
check "rollout metrics under 'rollout' (rollout/completions 4)" '[ "$(metric rollout 0 rollout/completions)" = 4.0 ]'
"$R1_BIN/r1-reward" --db "$db" --step 0 --quiet >/dev/null 2>"$tmp/rw.err" || { cat "$tmp/rw.err"; fail "r1-reward without --stage"; }
check "r1-reward without --stage scored only the 'rl' rows (12 rewards; a's still unscored)" \
    '[ "$(rewards_of rl | wc -l) $(rewards_of a | wc -l)" = "12 0" ]'
check "reward/* metrics under 'reward'" \
    '[ "$(d "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'reward'"'"' AND step = 0 AND name LIKE '"'"'reward/%'"'"'")" -ge 4 ] &&
     [ "$(d "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'rl'"'"'")" = 0 ]'
"$R1_BIN/r1-grpo" --db "$db" --step 0 --model "$tmp/m0" --out "$tmp/rl1" --beta 0 --lr 1e-3 --quiet \
    2>"$tmp/gr.err" || { cat "$tmp/gr.err"; fail "r1-grpo without --stage"; }
check "r1-grpo without --stage: grpo/completions 4 under 'grpo', checkpoints row stage 'grpo'" \
    '[ "$(metric grpo 0 grpo/completions)" = 4.0 ] &&
     [ "$(d "SELECT stage, step FROM checkpoints WHERE path = '"'"'$(cd "$tmp/rl1" && pwd -P)'"'"'")" = "grpo|0" ]'
check "the views separate the stages (step_rewards: one 'total' row per stage at step 0)" \
    '[ "$(d "SELECT group_concat(stage || '"'"':'"'"' || n, '"'"' '"'"') FROM (SELECT stage, n FROM step_rewards WHERE step = 0 AND name = '"'"'total'"'"' ORDER BY stage)")" = "b:4 rl:4" ]'
"$R1_BIN/r1-data" export --db "$db" --table rollouts --stage b >"$tmp/exp.jsonl" 2>"$tmp/exp.err"
check "r1-data export --stage b: b's 4 rows, each with \"stage\":\"b\"" \
    '[ "$(wc -l <"$tmp/exp.jsonl")" = 4 ] && [ "$(grep -c "^{\"stage\":\"b\",\"step\":0," "$tmp/exp.jsonl")" = 4 ]'
"$R1_BIN/r1-data" stats --db "$db" >"$tmp/stats.out" 2>&1
check "r1-data stats lists rollouts by stage and step" \
    'grep -q "rollouts by stage and step" "$tmp/stats.out" && grep -qE "^ *b +0 +4 " "$tmp/stats.out"'
"$R1_BIN/r1-data" sample --db "$db" --table rollouts --stage a --n 50 >"$tmp/sample.out" 2>&1
check "r1-data sample --stage a: a's 6 rollouts, each naming its stage" \
    '[ "$(grep -c "^rollout .*(stage a, step 0," "$tmp/sample.out")" = 6 ]'
echo "sections 1-3: $((SECONDS - t0)) s"

# ---------------------------------------------------------------- 4. --eval PHASE
# Hand-written completions with known answers: prompt 1 (gold 7) and prompt 2
# (gold 12), 4 samples each, 3 of the 8 correct; n_tokens 10..17 (mean 13.5).
edb="$tmp/eval.db"
e() { sqlite3 "$edb" "$1"; }
"$R1_BIN/r1-data" init --db "$edb" >/dev/null || fail "eval: r1-data init"
ok() { printf '<think>\nworking\n</think>\n<answer>\n%s\n</answer>' "$1"; }
{
    echo "INSERT INTO prompts (id, dataset, split, question, answer, content_hash) VALUES
          (1, 'ev', 'test', 'What is 3 + 4?', '7', 'e1'), (2, 'ev', 'test', 'What is 3 * 4?', '12', 'e2');"
    i=0
    for spec in "1 7 fmt" "1 8 fmt" "1 7 bare" "1 9 bare" "2 12 fmt" "2 13 fmt" "2 11 fmt" "2 0 bare"; do
        read -r p ans how <<<"$spec"
        if [ "$how" = fmt ]; then text=$(ok "$ans"); else text="The answer is \\boxed{$ans}."; fi
        text=${text//\'/\'\'}
        echo "INSERT INTO rollouts (stage, step, prompt_id, sample, prompt_ids, completion_ids, logprobs,
              text, finish_reason, n_tokens, template, prefill)
              VALUES ('eval/base', 0, $p, $i, x'01000000', x'', x'', '$text', 'stop', $((10 + i)), 'deepseek-r1', '');"
        i=$((i + 1))
    done
    # another stage at the same step: all correct, must not be counted
    for s in 0 1; do
        echo "INSERT INTO rollouts (stage, step, prompt_id, sample, prompt_ids, completion_ids, logprobs,
              text, finish_reason, n_tokens, prefill) VALUES ('rl', 0, 1, $s, x'', x'', x'', '$(ok 7)', 'stop', 99, '');"
    done
} >"$tmp/eval.sql"
e ".read $tmp/eval.sql" || fail "eval: the hand-written rollouts"
check "eval: 8 rollouts in eval/base, 2 in rl" \
    '[ "$(e "SELECT group_concat(stage || '"'"':'"'"' || n, '"'"' '"'"') FROM (SELECT stage, COUNT(*) n FROM rollouts GROUP BY stage ORDER BY stage)")" = "eval/base:8 rl:2" ]'
score_eval() {
    "$R1_BIN/r1-reward" --db "$edb" --step 0 --stage eval/base --eval base \
        --rewards accuracy=1,format=1,language=0.1 --quiet >"$tmp/ev.out" 2>"$tmp/ev.err" ||
        { cat "$tmp/ev.err"; return 1; }
}
score_eval && pass "eval: r1-reward --stage eval/base --eval base exits 0" || fail "eval: r1-reward --eval base"
em() { e "SELECT printf('%.6f', value) FROM metrics WHERE stage = 'base' AND step = 0 AND name = 'eval/$1'"; }
# the answers as sqlite3 computes them from the rewards r1-reward stored
acc_sql=$(e "SELECT printf('%.6f', AVG(w.value)) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.stage = 'eval/base' AND w.name = 'accuracy'")
fmt_sql=$(e "SELECT printf('%.6f', AVG(w.value)) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.stage = 'eval/base' AND w.name = 'format'")
lang_sql=$(e "SELECT printf('%.6f', AVG(w.value)) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.stage = 'eval/base' AND w.name = 'language'")
check "eval: the accuracy rewards are the known 3 of 8 (0.375 in sqlite3: $acc_sql)" '[ "$acc_sql" = 0.375000 ]'
check "eval: eval/accuracy $(em accuracy) = 0.375 = the mean of the accuracy rewards" \
    '[ "$(em accuracy)" = 0.375000 ] && [ "$(em accuracy)" = "$acc_sql" ]'
check "eval: eval/format_rate $(em format_rate) = the mean format reward ($fmt_sql; the 5 tagged of 8)" \
    '[ "$(em format_rate)" = "$fmt_sql" ] && [ "$fmt_sql" = 0.625000 ]'
check "eval: eval/language_rate $(em language_rate) = the mean language reward ($lang_sql)" \
    '[ -n "$lang_sql" ] && [ "$(em language_rate)" = "$lang_sql" ]'
check "eval: eval/completion_len_mean 13.5, eval/prompts 2, eval/samples 8" \
    '[ "$(em completion_len_mean) $(em prompts) $(em samples)" = "13.500000 2.000000 8.000000" ]'
check "eval: eval/format and eval/language are the same rates as eval/format_rate and eval/language_rate" \
    '[ "$(em format) $(em language)" = "$(em format_rate) $(em language_rate)" ]'
check "eval: 8 eval/ rows, all with stage 'base' at step 0" \
    '[ "$(e "SELECT COUNT(*), COUNT(DISTINCT stage || step) FROM metrics WHERE name LIKE '"'"'eval/%'"'"'")" = "8|1" ] &&
     [ "$(e "SELECT DISTINCT stage FROM metrics WHERE name LIKE '"'"'eval/%'"'"'")" = base ]'
check "eval: the reward/* metrics are under the --stage name eval/base, the rl rows unscored" \
    '[ "$(e "SELECT printf('"'"'%.6f'"'"', value) FROM metrics WHERE stage = '"'"'eval/base'"'"' AND name = '"'"'reward/accuracy'"'"'")" = 0.375000 ] &&
     [ "$(e "SELECT COUNT(*) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.stage = '"'"'rl'"'"'")" = 0 ]'
score_eval || fail "eval: rerun"
score_eval || fail "eval: rerun"
check "eval: two reruns replace the eval rows (still 8, same values)" \
    '[ "$(e "SELECT COUNT(*) FROM metrics WHERE name LIKE '"'"'eval/%'"'"'")" = 8 ] && [ "$(em accuracy) $(em samples)" = "0.375000 8.000000" ]'
# two more samples arrive unscored, one per prompt (prompt 2 right, prompt 1 wrong):
# the rerun scores them and the rates follow (4 of 10; 2 of 5 for each prompt)
e "INSERT INTO rollouts (stage, step, prompt_id, sample, prompt_ids, completion_ids, logprobs, text,
   finish_reason, n_tokens, prefill) VALUES
   ('eval/base', 0, 2, 8, x'', x'', x'', '$(ok 12)', 'stop', 13, ''),
   ('eval/base', 0, 1, 9, x'', x'', x'', '$(ok 5)', 'stop', 14, '')"
score_eval || fail "eval: rerun with new samples"
check "eval: a rerun after 2 new samples: accuracy 4 of 10, 10 samples, still 8 rows" \
    '[ "$(em accuracy) $(em samples) $(e "SELECT COUNT(*) FROM metrics WHERE name LIKE '"'"'eval/%'"'"'")" = "0.400000 10.000000 8" ]'
"$R1_BIN/r1-reward" --db "$edb" --step 0 --eval r1 --quiet >/dev/null 2>"$tmp/ev.err" ||
    { cat "$tmp/ev.err"; fail "eval: r1-reward --eval r1 (the rl rows)"; }
check "eval: --eval r1 on the 'rl' rows (2, both correct) leaves base's rows alone" \
    '[ "$(e "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'r1'"'"' AND name LIKE '"'"'eval/%'"'"'")" = 8 ] &&
     [ "$(em accuracy)" = 0.400000 ]'
check "eval: the view eval_summary (one row per phase)" \
    '[ "$(e "SELECT phase, step, printf('"'"'%.4f %.4f %.1f'"'"', accuracy, format_rate, mean_length) FROM eval_summary ORDER BY phase")" = "$(printf "base|0|0.4000 0.7000 13.5\nr1|0|1.0000 1.0000 99.0")" ]'

# ---------------------------------------------------------------- 5. r1-sft --stage, --kind pretrain
sdb="$tmp/sft.db"
for i in 1 2 3 4; do
    printf '{"messages":[{"role":"user","content":"What is %d+%d?"},{"role":"assistant","content":"<think>\\n%d+%d=%d\\n</think>\\n<answer>\\n%d\\n</answer>"}]}\n' \
        "$i" "$i" "$i" "$i" $((2 * i)) $((2 * i))
done >"$tmp/cold.jsonl"
# r1-data import wants a user and an assistant message; --loss all trains every token
for i in 1 2 3; do
    printf '{"messages":[{"role":"user","content":"Document %d"},{"role":"assistant","content":"The sum of %d and %d is %d."}]}\n' \
        "$i" "$i" "$((i + 5))" "$((2 * i + 5))"
done >"$tmp/docs.jsonl"
"$R1_BIN/r1-data" init --db "$sdb" >/dev/null &&
    "$R1_BIN/r1-data" import --db "$sdb" --format messages --kind cold_start --quiet "$tmp/cold.jsonl" &&
    "$R1_BIN/r1-data" import --db "$sdb" --format messages --kind pretrain --quiet "$tmp/docs.jsonl"
check "sft: r1-data import --kind pretrain: 3 pretrain and 4 cold_start samples" \
    '[ "$(sqlite3 "$sdb" "SELECT group_concat(kind || '"'"':'"'"' || samples, '"'"' '"'"') FROM (SELECT * FROM sft_counts ORDER BY kind)")" = "cold_start:4 pretrain:3" ]'
sm() { sqlite3 "$sdb" "SELECT COUNT(*) FROM metrics WHERE stage = '$1' AND name LIKE 'sft/%'"; }
"$R1_BIN/r1-sft" --db "$sdb" --kind cold_start --model "$tmp/m0" --out "$tmp/cold" --stage cold \
    --epochs 2 --batch-tokens 60 --lr 1e-3 --log-every 1 --quiet 2>"$tmp/sft.err"
rc=$?
check "sft: r1-sft --stage cold exits 0" '[ $rc -eq 0 ] || { cat "$tmp/sft.err"; false; }'
check "sft: sft/train_loss at every step under stage cold, no 'sft' rows" \
    '[ "$(sqlite3 "$sdb" "SELECT COUNT(*) = MAX(step) AND COUNT(*) > 1 FROM metrics WHERE stage = '"'"'cold'"'"' AND name = '"'"'sft/train_loss'"'"'")" = 1 ] &&
     [ "$(sm sft)" = 0 ]'
check "sft: the checkpoints row is (cold, last step, the output directory)" \
    '[ "$(sqlite3 "$sdb" "SELECT stage, step = (SELECT MAX(step) FROM metrics WHERE stage = '"'"'cold'"'"'), path FROM checkpoints")" = "cold|1|$(cd "$tmp/cold" && pwd -P)" ]'
"$R1_BIN/r1-sft" --db "$sdb" --kind pretrain --loss all --model "$tmp/m0" --out "$tmp/pre" \
    --stage pretrain --epochs 3 --batch-tokens 100000 --lr 1e-3 --log-every 1 --json \
    >"$tmp/pre.out" 2>"$tmp/pre.err"
rc=$?
check "sft: r1-sft --kind pretrain --loss all --stage pretrain exits 0 ($(head -c 200 "$tmp/pre.out"))" \
    '[ $rc -eq 0 ] || { cat "$tmp/pre.err"; false; }'
check "sft: it trained on the 3 pretrain samples only, 3 steps (one batch per epoch)" \
    'grep -q "\"steps\":3,\"train_samples\":3," "$tmp/pre.out"'
check "sft: metrics and checkpoints row under stage pretrain" \
    '[ "$(sqlite3 "$sdb" "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'pretrain'"'"' AND name = '"'"'sft/train_loss'"'"'")" = 3 ] &&
     [ "$(sqlite3 "$sdb" "SELECT stage, step FROM checkpoints WHERE path = '"'"'$(cd "$tmp/pre" && pwd -P)'"'"'")" = "pretrain|3" ] &&
     [ "$(sm cold)" -gt 0 ] && [ "$(sm sft)" = 0 ]'
"$R1_BIN/r1-sft" --db "$sdb" --kind pretrain --loss all --model "$tmp/m0" --out "$tmp/pre2" \
    --epochs 1 --batch-tokens 100000 --lr 1e-3 --log-every 1 --quiet 2>"$tmp/sft.err" ||
    { cat "$tmp/sft.err"; fail "sft: r1-sft without --stage"; }
check "sft: without --stage the metrics and checkpoints row are under 'sft'" \
    '[ "$(sm sft)" -gt 0 ] && [ "$(sqlite3 "$sdb" "SELECT stage FROM checkpoints WHERE path = '"'"'$(cd "$tmp/pre2" && pwd -P)'"'"'")" = sft ]'
# A person deleting a stage's rollouts in the sqlite3 shell (foreign keys off there):
# the trigger takes their rewards along, so no reward is left without its rollout.
st=$(q "$db" "SELECT r.stage FROM rewards w JOIN rollouts r ON r.id = w.rollout_id LIMIT 1")
n_a=$(q "$db" "SELECT COUNT(*) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.stage = '$st'")
sqlite3 "$db" "PRAGMA foreign_keys = OFF; DELETE FROM rollouts WHERE stage = '$st'"
check "deleting stage $st's rollouts in the sqlite3 shell removes their $n_a rewards too" \
    '[ "$n_a" -gt 0 ] && [ "$(q "$db" "SELECT COUNT(*) FROM rewards WHERE rollout_id NOT IN (SELECT id FROM rollouts)")" = 0 ]'
echo "total: $((SECONDS - t0)) s"

finish
