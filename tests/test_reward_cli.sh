#!/usr/bin/env bash
# bin/r1-reward as a stage meets it: a run database with GSM8K-like prompts and
# step-0 rollouts (right, wrong, badly formatted, prefilled, no gold answer,
# countdown), scored once into rewards and metrics; a rerun adds nothing; match
# and explain; a bad --rewards spec is refused by name.
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
: "${R1_BIN:?}"
. "$(dirname "$0")/lib.sh"
rw="$R1_BIN/r1-reward"
db="$tmp/run.db"
q() { sqlite3 "$db" "$1"; }


if ! command -v sqlite3 >/dev/null; then
    fail "the sqlite3 shell is missing (apt-get install sqlite3)"
    exit 1
fi

# The database: r1-data init when it is built; r1-reward itself creates (and
# migrates) it too, as every stage does through r1_db_open.
if [ -x "$R1_BIN/r1-data" ]; then
    "$R1_BIN/r1-data" init --db "$db" >/dev/null
else
    "$rw" --db "$db" --step 0 --quiet >/dev/null 2>&1
fi
check "database exists with the rewards table" '[ "$(q "SELECT COUNT(*) FROM sqlite_schema WHERE name = '"'"'rewards'"'"'")" = 1 ]'

q "INSERT INTO prompts (id, dataset, split, question, answer, meta, content_hash) VALUES
 (1, 'gsm8k', 'train', 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?', '72', '{}', 'h1'),
 (2, 'gsm8k', 'train', 'Weng earns \$12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?', '10', '{}', 'h2'),
 (3, 'gsm8k', 'train', 'A question whose gold answer was lost.', NULL, '{}', 'h3'),
 (4, 'synth/countdown', 'train', 'Using the numbers 3, 5, 7, make 22.', NULL, '{\"numbers\": [3, 5, 7], \"target\": 22}', 'h4');"

# ins STEP PROMPT SAMPLE TEXT: one rollout (empty token BLOBs; 100 tokens).
ins() {
    local text=${4//\'/\'\'}
    q "INSERT INTO rollouts (step, prompt_id, sample, prompt_ids, completion_ids, logprobs, text,
       finish_reason, n_tokens) VALUES ($1, $2, $3, x'', x'', x'', '$text', 'stop', 100)"
}
nl=$'\n'
ins 0 1 0 "<think>${nl}In April she sold 48 clips. In May she sold half of that, which is 24 clips. Together that makes 72 clips.${nl}</think>${nl}<answer>${nl}Natalia sold \\boxed{72} clips.${nl}</answer>"
ins 0 1 1 "<think>${nl}She sold 48 clips and then some more, about 22 more clips.${nl}</think>${nl}<answer>${nl}\\boxed{70}${nl}</answer>"
ins 0 2 0 "Weng earns 12 dollars per hour, so 50 minutes earn her ten dollars. The answer is \\boxed{10}."
ins 0 2 1 "Per minute she earns twelve divided by sixty dollars.${nl}</think>${nl}<answer>${nl}\\boxed{10}${nl}</answer>"
ins 0 3 0 "<think>${nl}There is nothing to compute here.${nl}</think>${nl}<answer>${nl}\\boxed{5}${nl}</answer>"
ins 0 4 0 "<think>${nl}Three times five is fifteen, plus seven makes the target.${nl}</think>${nl}<answer>${nl}3 * 5 + 7${nl}</answer>"
ins 1 1 0 "<think>${nl}Another step.${nl}</think>${nl}<answer>${nl}\\boxed{72}${nl}</answer>"

spec=accuracy=1,format=1,language=0.1
"$rw" --db "$db" --step 0 --rewards $spec >"$tmp/out1" 2>"$tmp/err1"
check "r1-reward --step 0 exits 0" '[ $? -eq 0 ]'
check "no progress on stderr when it is not a terminal" '[ ! -s "$tmp/err1" ]'
check "summary table names every weighted reward" \
    'grep -q "accuracy" "$tmp/out1" && grep -q "language" "$tmp/out1" && grep -q "total" "$tmp/out1"'
check "summary says 6 scored" 'grep -q "scored 6 of 6" "$tmp/out1"'

check "4 rows per step-0 rollout (3 rewards + total)" '[ "$(q "SELECT COUNT(*) FROM rewards")" = 24 ]'
check "step 1 untouched" \
    '[ "$(q "SELECT COUNT(*) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = 1")" = 0 ]'

# rv ROLLOUT: "accuracy format language total" values, NULL for undefined.
rv() {
    q "SELECT group_concat(v, ' ') FROM (SELECT CASE WHEN value IS NULL THEN 'NULL' ELSE printf('%.4f', value) END AS v
       FROM rewards WHERE rollout_id = $1 ORDER BY CASE name WHEN 'accuracy' THEN 0
       WHEN 'format' THEN 1 WHEN 'language' THEN 2 ELSE 3 END)"
}
check "right and well formed: 1 1 1 total 2.1" '[ "$(rv 1)" = "1.0000 1.0000 1.0000 2.1000" ]'
check "wrong answer: accuracy 0" '[ "$(rv 2)" = "0.0000 1.0000 1.0000 1.1000" ]'
check "right but unformatted: format 0" '[ "$(rv 3)" = "1.0000 0.0000 1.0000 1.1000" ]'
check "prefilled think (no <think>, has </think>): format 1" '[ "$(rv 4)" = "1.0000 1.0000 1.0000 2.1000" ]'
check "no gold answer: accuracy and total NULL" '[ "$(rv 5)" = "NULL 1.0000 1.0000 NULL" ]'
check "countdown via meta: 3 * 5 + 7 = 22" '[ "$(rv 6)" = "1.0000 1.0000 1.0000 2.1000" ]'

m() { q "SELECT printf('%.4f', value) FROM metrics WHERE stage = 'reward' AND step = 0 AND name = '$1'"; }
check "metrics: 5 rows for step 0" '[ "$(q "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'reward'"'"'")" = 5 ]'
check "metrics: reward/accuracy is the mean of defined values (4/5)" '[ "$(m reward/accuracy)" = 0.8000 ]'
check "metrics: reward/format 5/6" '[ "$(m reward/format)" = 0.8333 ]'
check "metrics: reward/undefined 1" '[ "$(m reward/undefined)" = 1.0000 ]'
check "metrics: reward/total over defined totals" '[ "$(m reward/total)" = 1.7000 ]'

"$rw" --db "$db" --step 0 --rewards $spec --json >"$tmp/out2" 2>&1
check "rerun exits 0 and scores nothing" 'grep -q "\"scored\":0" "$tmp/out2"'
check "rerun adds no rewards" '[ "$(q "SELECT COUNT(*) FROM rewards")" = 24 ]'
check "rerun adds no metrics" '[ "$(q "SELECT COUNT(*) FROM metrics")" = 5 ]'
check "--json reports the step's means" 'grep -q "\"accuracy\":{\"weight\":1,\"mean\":0.8" "$tmp/out2"'

"$rw" --db "$db" --step 1 --quiet >"$tmp/out3" 2>&1
check "step 1 with the default rewards: accuracy, format, total" \
    '[ "$(q "SELECT group_concat(name) FROM (SELECT w.name FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = 1 ORDER BY w.name)")" = "accuracy,format,total" ]'

expect_error "bad --rewards names the reward" "formt" "$rw" --db "$db" --step 0 --rewards accuracy=1,formt=1
expect_error "bad weight names the reward" "format" "$rw" --db "$db" --step 0 --rewards "accuracy=1,format=x"
expect_error "a step without rollouts is an error" "no rollouts at step 7" "$rw" --db "$db" --step 7
expect_error "--lang other than en/zh" "fr" "$rw" --db "$db" --step 0 --lang fr
check "refusals wrote nothing" '[ "$(q "SELECT COUNT(*) FROM rewards")" = 27 ]'

printf '72\t72\n72\t70\n\\\\frac{1}{2}\t0.5\n' | "$rw" match >"$tmp/match"
check "match prints 1 0 1" '[ "$(tr "\n" " " <"$tmp/match")" = "1 0 1 " ]'
expect_error "match refuses a line without TAB" "line 2" sh -c "printf '1\t1\nnotab\n' | '$rw' match"
expect_error "match refuses an unknown escape" "escape" sh -c "printf '\\\\frac{1}{2}\t0.5\n' | '$rw' match"

"$rw" explain --gold 72 --completion "<think>${nl}48 plus 24.${nl}</think>${nl}<answer>${nl}\\boxed{72}${nl}</answer>" >"$tmp/ex"
check "explain shows the answer and its source" 'grep -q "answer: *72 *(from boxed)" "$tmp/ex"'
check "explain shows the verdict" 'grep -q "verdict: *equal" "$tmp/ex"'
check "explain lists every reward" '[ "$(grep -cE "^  (accuracy|format|tag_count|language|overlong|repetition|total) " "$tmp/ex")" = 7 ]'
check "--help exits 0" '"$rw" --help >/dev/null && "$rw" match --help >/dev/null && "$rw" explain --help >/dev/null'
# A rollout whose prompt row is missing (the sqlite3 shell does not enforce foreign keys)
# is still scored, with accuracy undefined, and counted as scored.
ins 7 9999 0 "<think>${nl}x${nl}</think>${nl}<answer>${nl}5${nl}</answer>"
"$rw" --db "$db" --step 7 --quiet >"$tmp/orphan.out" 2>&1
check "a rollout without its prompt is scored" '[ "$(q "SELECT count(*) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = 7 AND w.name = '"'"'total'"'"'")" = 1 ]'
check "its accuracy is undefined (NULL)" '[ "$(q "SELECT quote(value) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = 7 AND w.name = '"'"'accuracy'"'"'")" = NULL ]'

# ---- --eval with --by and --eval-name ---------------------------------------------------------
# Three held-out prompts of levels 1, 1, 2 with two samples each, in stage eval/x:
# accuracy by hand: level 1 has 3 of 4 right, level 2 1 of 2; format 5 of 6.
q "INSERT INTO prompts (id, dataset, split, question, answer, meta, content_hash) VALUES
 (21, 'synth/arith', 'test', 'What is 2 + 3?', '5', '{\"level\": 1}', 'e1'),
 (22, 'synth/arith', 'test', 'What is 4 + 4?', '8', '{\"level\": 1}', 'e2'),
 (23, 'synth/arith', 'test', 'What is 12 * 12?', '144', '{\"level\": 2}', 'e3');"
ev() { # ev PROMPT SAMPLE ANSWER [plain]: a rollout of stage eval/x, step 0
    local t="<think>${nl}We add the numbers.${nl}</think>${nl}<answer>${nl}$3${nl}</answer>"
    [ "${4:-}" = plain ] && t="We add the numbers, \\boxed{$3}"
    q "INSERT INTO rollouts (stage, step, prompt_id, sample, prompt_ids, completion_ids, logprobs, text,
       finish_reason, n_tokens) VALUES ('eval/x', 0, $1, $2, x'', x'', x'', '$t', 'stop', 10)"
}
ev 21 0 5; ev 21 1 5; ev 22 0 8; ev 22 1 7; ev 23 0 144 plain; ev 23 1 100
"$rw" --db "$db" --stage eval/x --step 0 --eval x --by level --rewards accuracy=1,format=1,language=1 --quiet
em() { q "SELECT printf('%.4f', value) FROM metrics WHERE stage = 'x' AND step = 0 AND name = '$1'"; }
check "--eval: eval/accuracy 4/6, eval/format 5/6, eval/language 1" \
    '[ "$(em eval/accuracy) $(em eval/format) $(em eval/language)" = "0.6667 0.8333 1.0000" ]'
check "--eval: the earlier names eval/format_rate and eval/language_rate carry the same rates" \
    '[ "$(em eval/format_rate) $(em eval/language_rate)" = "0.8333 1.0000" ]'
check "--by level: eval/level-1/accuracy 3/4, eval/level-2/accuracy 1/2, prompts 2 and 1" \
    '[ "$(em eval/level-1/accuracy) $(em eval/level-2/accuracy) $(em eval/level-1/prompts) $(em eval/level-2/prompts)" = "0.7500 0.5000 2.0000 1.0000" ]'
check "--by level: eval/level-2/format 1/2" '[ "$(em eval/level-2/format)" = "0.5000" ]'
"$rw" --db "$db" --stage eval/x --step 0 --eval x --eval-name eval/other --rewards accuracy=1,format=1,language=1 --quiet
check "--eval-name eval/other: eval/other/accuracy, and eval/accuracy left as it was" \
    '[ "$(em eval/other/accuracy) $(em eval/accuracy)" = "0.6667 0.6667" ] &&
     [ "$(q "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'x'"'"' AND name = '"'"'eval/other/format_rate'"'"'")" = 0 ]'
n_before=$(q "SELECT COUNT(*) FROM metrics")
"$rw" --db "$db" --stage eval/x --step 0 --eval x --by level --rewards accuracy=1,format=1,language=1 --quiet
check "--eval again replaces its metrics in place (no new rows)" '[ "$(q "SELECT COUNT(*) FROM metrics")" = "$n_before" ]'
expect_error "--by without --eval is refused" "go with --eval" "$rw" --db "$db" --step 0 --by level
expect_error "--by with a key that is not a plain name is refused" "meta key" \
    "$rw" --db "$db" --step 0 --eval x --by "level'); DROP TABLE x; --"

finish
