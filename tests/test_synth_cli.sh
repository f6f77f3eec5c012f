#!/usr/bin/env bash
# `r1-data synth` as a user meets it: rows in the run database (checked with the
# sqlite3 shell), idempotent reruns, per-seed rows, JSON meta, Chinese wording,
# and clear refusals of bad options.
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh).
set -uo pipefail
: "${R1_BIN:?}" "${R1_ROOT:?}"
. "$(dirname "$0")/lib.sh"
d="$R1_BIN/r1-data"
db="$tmp/run.db"
q() { sqlite3 "$db" "$1"; }


# Level 3 and countdown level 3 are large spaces: no repeats expected in 200 rows.
"$d" synth --db "$db" --task arith --level 3 --n 200 --seed 1 2>"$tmp/err1"
rc=$?
check "synth exits 0" '[ $rc -eq 0 ]'
check "synth reports 'added 200, already present 0'" 'grep -q "added 200, already present 0" "$tmp/err1"'
check "200 rows in synth/arith train" '[ "$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '\''synth/arith'\'' AND split = '\''train'\''")" = 200 ]'
check "every row has an integer answer" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE answer GLOB '\''[0-9]*'\'' OR answer GLOB '\''-[0-9]*'\''")" = 200 ]'
check "meta says level 3 and lang en" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE json_extract(meta, '\''$.level'\'') != 3 OR json_extract(meta, '\''$.lang'\'') != '\''en'\''")" = 0 ]'
# The sqlite3 shell is a second, independent evaluator: integer + - * /, and every
# generated / is exact, so its truncating division gives the same value.
# recompute DATASET EXPR_SQL WANT_SQL: prints "right/rows" for the dataset's rows.
recompute() {
    local right rows
    right=$(q "SELECT 'SELECT (' || $2 || ') = ' || $3 || ';' FROM prompts WHERE dataset = '$1'" |
        sqlite3 "$db" 2>&1 | grep -c '^1$')
    rows=$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '$1'")
    echo "$right/$rows"
}
same() { [ "${1%/*}" = "${1#*/}" ] && [ "${1#*/}" -gt 0 ]; }
check "sqlite3 recomputes every arith answer from meta.expr" \
    'same "$(recompute synth/arith "json_extract(meta, '\''$.expr'\'')" "answer")"'

"$d" synth --db "$db" --task arith --level 3 --n 200 --seed 1 2>"$tmp/err2"
check "same seed again adds nothing" 'grep -q "added 0, already present 200" "$tmp/err2"'
check "still 200 rows" '[ "$(q "SELECT COUNT(*) FROM prompts")" = 200 ]'

"$d" synth --db "$db" --task arith --level 3 --n 200 --seed 2 --quiet 2>"$tmp/err3"
check "another seed adds rows" '[ "$(q "SELECT COUNT(*) FROM prompts")" -gt 390 ]'
check "--quiet prints nothing" '[ ! -s "$tmp/err3" ]'

"$d" synth --db "$db" --task countdown --n 300 --seed 5 --split test --lang zh 2>/dev/null
check "countdown rows in synth/countdown test" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '\''synth/countdown'\'' AND split = '\''test'\''")" -ge 290 ]'
check "meta is valid JSON everywhere" '[ "$(q "SELECT COUNT(*) FROM prompts WHERE NOT json_valid(meta)")" = 0 ]'
check "countdown meta has numbers and target" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '\''synth/countdown'\'' AND (json_type(meta, '\''$.numbers'\'') != '\''array'\'' OR json_array_length(meta, '\''$.numbers'\'') NOT IN (3, 4) OR json_type(meta, '\''$.target'\'') != '\''integer'\'')")" = 0 ]'
check "arith meta has level, lang, expr, numbers" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '\''synth/arith'\'' AND (json_type(meta, '\''$.level'\'') != '\''integer'\'' OR json_type(meta, '\''$.expr'\'') != '\''text'\'' OR json_type(meta, '\''$.numbers'\'') != '\''array'\'')")" = 0 ]'
# A CJK ideograph's UTF-8 starts with a byte 0xE4..0xE9; every zh question has some.
check "--lang zh questions contain Chinese" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '\''synth/countdown'\'' AND question NOT GLOB '\''*[一-鿿]*'\''")" = 0 ]'
check "English questions contain no Chinese" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '\''synth/arith'\'' AND question GLOB '\''*[一-鿿]*'\''")" = 0 ]'
check "the countdown answer is an equation over the numbers" \
    '[ "$(q "SELECT COUNT(*) FROM prompts WHERE dataset = '\''synth/countdown'\'' AND answer NOT GLOB '\''*[-+*/]*'\''")" = 0 ]'
check "sqlite3 evaluates every countdown answer to the target" \
    'same "$(recompute synth/countdown answer "json_extract(meta, '\''$.target'\'')")"'
check "dataset_counts view lists both tasks" '[ "$(q "SELECT COUNT(*) FROM dataset_counts WHERE dataset GLOB '\''synth/*'\''")" = 2 ]'

"$d" synth --db "$db" --task arith --n 400 --seed 9 --lang mixed --quiet
check "--lang mixed gives both languages" \
    '[ "$(q "SELECT COUNT(DISTINCT json_extract(meta, '\''$.lang'\'')) FROM prompts WHERE source = '\''r1-data synth --seed 9'\''")" = 2 ]'
check "level 0 mixes all four levels" \
    '[ "$(q "SELECT COUNT(DISTINCT json_extract(meta, '\''$.level'\'')) FROM prompts WHERE source = '\''r1-data synth --seed 9'\''")" = 4 ]'

"$d" synth --db "$tmp/a.db" --task countdown --n 100 --seed 3 --quiet
"$d" synth --db "$tmp/b.db" --task countdown --n 100 --seed 3 --quiet
dump() { sqlite3 "$1" "SELECT question, answer, meta FROM prompts ORDER BY id"; }
check "same seed, identical rows in two databases" 'cmp -s <(dump "$tmp/a.db") <(dump "$tmp/b.db")'

t0=$(date +%s%N)
"$d" synth --db "$tmp/big.db" --task countdown --n 100000 --seed 1 --quiet
ms=$((($(date +%s%N) - t0) / 1000000))
check "100000 rows in under 10 s (${ms} ms)" '[ "$ms" -lt 10000 ]'
check "100000 rows written" '[ "$(sqlite3 "$tmp/big.db" "SELECT COUNT(*) FROM prompts")" -gt 95000 ]'

expect_error "unknown task is refused" "expected arith, countdown or chain" "$d" synth --db "$db" --task sudoku --n 1 --seed 1
expect_error "level beyond the task is refused" "levels 1 to 3" "$d" synth --db "$db" --task countdown --level 4 --n 1 --seed 1
expect_error "--n 0 is refused" "--n '0'" "$d" synth --db "$db" --task arith --n 0 --seed 1
expect_error "--n must be a number" "--n 'ten'" "$d" synth --db "$db" --task arith --n ten --seed 1
expect_error "--seed is required" "needs --seed" "$d" synth --db "$db" --task arith --n 1
expect_error "--lang fr is refused" "en, zh or mixed" "$d" synth --db "$db" --task arith --n 1 --seed 1 --lang fr
expect_error "unknown option is refused" "unknown option --bogus" "$d" synth --db "$db" --bogus
# Level 1 has about 20k distinct questions: --n 20000 still gives 20000 rows (repeats
# within a run are drawn again), and the same seed gives the same ones.
"$d" synth --db "$tmp/l1.db" --task arith --level 1 --n 20000 --seed 3 --quiet
check "--n 20000 at level 1 gives 20000 distinct rows" '[ "$(sqlite3 "$tmp/l1.db" "SELECT COUNT(*) FROM prompts")" = 20000 ]'
"$d" synth --db "$tmp/l1.db" --task arith --level 1 --n 20000 --seed 3 2>"$tmp/l1.err"
check "the same seed again adds nothing" 'grep -q "added 0, already present 20000" "$tmp/l1.err"'

# ---- --kind: worked cold-start samples ----------------------------------------------------
cs="$tmp/cs.db"
"$d" synth --db "$cs" --task arith --level 1 --lang mixed --n 3000 --split test --seed 5 --quiet
"$d" synth --db "$cs" --task arith --level 1 --lang mixed --kind cold_start --system "Think first." \
    --avoid-split test --n 500 --seed 6 2>"$tmp/cs.err"
check "--kind cold_start: 500 samples of kind cold_start, no new prompts" \
    'grep -q "synth/arith (cold_start): added 500, already present 0" "$tmp/cs.err" &&
     [ "$(sqlite3 "$cs" "SELECT COUNT(*) FROM sft_samples WHERE kind = '\''cold_start'\''")" = 500 ] &&
     [ "$(sqlite3 "$cs" "SELECT COUNT(*) FROM prompts")" = 3000 ]'
check "--kind: messages are system, the question, then the response (prompt and response columns agree)" \
    '[ "$(sqlite3 "$cs" "SELECT COUNT(*) FROM sft_samples WHERE json_array_length(messages) = 3
        AND json_extract(messages, '\''\$[0].role'\'') = '\''system'\'' AND json_extract(messages, '\''\$[0].content'\'') = '\''Think first.'\''
        AND json_extract(messages, '\''\$[1].role'\'') = '\''user'\'' AND json_extract(messages, '\''\$[1].content'\'') = prompt
        AND json_extract(messages, '\''\$[2].role'\'') = '\''assistant'\'' AND json_extract(messages, '\''\$[2].content'\'') = response")" = 500 ]'
check "--kind: every response is <think>\\n...\\n</think>\\n<answer>\\n...\\boxed{...}...\\n</answer>" \
    '[ "$(sqlite3 "$cs" "SELECT COUNT(*) FROM sft_samples WHERE response LIKE '\''<think>'\'' || char(10) || '\''%'\'' || char(10) || '\''</think>'\'' || char(10) || '\''<answer>'\'' || char(10) || '\''%\boxed{%}%'\'' || char(10) || '\''</answer>'\''")" = 500 ]'
check "--kind --lang mixed: Chinese questions get Chinese reasoning, English ones English" \
    '[ "$(sqlite3 "$cs" "SELECT COUNT(*) FROM sft_samples WHERE (prompt GLOB '\''*[a-zA-Z]*'\'') != (response LIKE '\''%We need%'\'')")" = 0 ] &&
     [ "$(sqlite3 "$cs" "SELECT COUNT(*) FROM sft_samples WHERE response LIKE '\''%我们要算%'\''")" -gt 100 ]'
# a sample's expression, from its summary line "So EXPR = \boxed{V}." (所以 in Chinese)
held="SELECT COUNT(*) FROM sft_samples s JOIN prompts p ON p.split = 'test' AND json_extract(p.meta, '\$.expr') =
    trim(substr(s.response, instr(s.response, '<answer>') + 12, instr(s.response, ' = \\boxed') - instr(s.response, '<answer>') - 12))
    WHERE s.response LIKE '%<answer>' || char(10) || 'So %'"
check "--avoid-split test: no sample works a held-out expression, in any wording" \
    '[ "$(sqlite3 "$cs" "$held AND s.kind = '\''cold_start'\''")" = 0 ]'
"$d" synth --db "$cs" --task arith --level 1 --lang mixed --kind reasoning --n 2000 --seed 6 --quiet
check "without --avoid-split the same draw does work held-out expressions (so the check above can fail)" \
    '[ "$(sqlite3 "$cs" "$held AND s.kind = '\''reasoning'\''")" -gt 20 ]'
"$d" synth --db "$cs" --task arith --level 1 --lang mixed --kind cold_start --system "Think first." \
    --avoid-split test --n 500 --seed 6 2>"$tmp/cs2.err"
check "--kind: the same seed again adds nothing" 'grep -q "added 0, already present 500" "$tmp/cs2.err"'
expect_error "--kind for countdown is refused" "--task arith only" "$d" synth --db "$cs" --task countdown --kind cold_start --n 1 --seed 1
expect_error "--kind must be an SFT kind" "--kind 'warmup'" "$d" synth --db "$cs" --task arith --kind warmup --n 1 --seed 1
expect_error "--system without --kind is refused" "goes with --kind" "$d" synth --db "$cs" --task arith --system hi --n 1 --seed 1
expect_error "--split with --kind is refused" "--split is for prompts" "$d" synth --db "$cs" --task arith --kind cold_start --split test --n 1 --seed 1
expect_error "--avoid-split of the split being written is refused" "is the split being written" \
    "$d" synth --db "$cs" --task arith --split test --avoid-split test --n 1 --seed 1
expect_error "--avoid-split of an empty split is refused by name" "has no prompts in split tset" \
    "$d" synth --db "$cs" --task arith --kind cold_start --avoid-split tset --n 1 --seed 1

finish
