#!/usr/bin/env bash
# bin/r1-data collect: rollouts that pass filters become SFT samples.
#   1. hand-written rollouts (a mix: correct and well formatted, wrong answer, bad
#      format, truncated, code block, overlong paragraph, Chinese reasoning for an
#      English prompt, a duplicate, a prompt without gold answer): the count under
#      each drop reason, a rollout failing several filters counted under the first
#      in --filter order, the rows written (kind, prompt, response, source,
#      messages), content_hash as `import --format messages` computes it
#   2. idempotence (a rerun adds nothing and says so), --dry-run writes nothing,
#      --max-per-prompt, stage and step selection, readable / paragraph /
#      min-tokens / language with --lang, --filter '' (no filter), the response
#      built from prefill + text (r1-zero's space, no prefill recorded, an
#      end-of-turn text), NUL characters dropped, one transaction (a failing
#      insert leaves nothing)
#   3. refusals that name the problem and write nothing
#   4. the template round trip on real rollouts of bin/r1-rollout: a small model
#      overfit (r1-sft) on 4 chats answers them greedily, and rendering each
#      collected sample with its template (r1-model tokenize --messages) gives
#      exactly the rollout's prompt_ids ++ completion_ids (the completion ends at
#      the end-of-turn token); on a random model (lossy, non-canonical token
#      sequences) the rendered text equals the decoded prompt + completion, with
#      the deepseek-r1 template and with r1-zero (whose " " before the reply a
#      completion may or may not have written)
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
data="$R1_BIN/r1-data"
tiny="$R1_ROOT/configs/tiny"

needs r1-data r1-rollout r1-sft r1-model
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" # a model this small gains nothing from more

# lit TEXT: TEXT as an SQL string literal.
lit() { local s=${1//\'/\'\'}; printf "'%s'" "$s"; }
# roll DB STAGE STEP PROMPT SAMPLE FINISH N_TOKENS TEMPLATE PREFILL TEXT: one
# hand-written rollouts row (TEMPLATE, PREFILL: NULL for none); prints its id.
roll() {
    local tpl=NULL pre=NULL
    [ "$8" != NULL ] && tpl=$(lit "$8")
    [ "$9" != NULL ] && pre=$(lit "$9")
    q "$1" "INSERT INTO rollouts (stage, step, prompt_id, sample, prompt_ids, completion_ids,
                logprobs, text, finish_reason, n_tokens, template, prefill)
            VALUES ($(lit "$2"), $3, $4, $5, x'01000000', zeroblob(4 * $7), zeroblob(4 * $7),
                $(lit "${10}"), '$6', $7, $tpl, $pre) RETURNING id"
}
# good ANSWER [REASONING]: a completion after the prefilled "<think>\n" in R1's format.
good() { printf '%s\n</think>\n<answer>\n%s\n</answer>' "${2:-I add the two numbers.}" "$1"; }
nl=$'\n'
# dr: a deepseek-r1 rollout's template and prefill
dr=(deepseek-r1 "<think>$nl")
hex() { printf %s "$1" | od -An -tx1 | tr -d ' \n' | tr a-f A-F; }
sft_count() { q "$db" "SELECT COUNT(*) FROM sft_samples${1:+ WHERE kind = '$1'}"; }
collect() { "$data" collect --db "$db" "$@"; }

# ---------------------------------------------------------------- 1. hand-written rollouts
db="$tmp/run.db"
"$data" init --db "$db" >/dev/null &&
    "$data" synth --db "$db" --task arith --level 1 --n 5 --seed 1 --quiet &&
    echo '{"question": "Tell me a story.", "answer": null}' |
    "$data" import --db "$db" --format jsonl --dataset chat --quiet - &&
    "$data" synth --db "$db" --task arith --level 1 --n 1 --seed 2 --lang zh --quiet
mapfile -t P < <(q "$db" "SELECT id FROM prompts ORDER BY id")
mapfile -t A < <(q "$db" "SELECT coalesce(answer, '') FROM prompts ORDER BY id")
check "fixture: 7 prompts, the 6th without a gold answer, the 7th in Chinese" \
    '[ ${#P[@]} = 7 ] && [ -z "${A[5]}" ] && [ "$(q "$db" "SELECT meta ->> '"'"'lang'"'"' FROM prompts WHERE id = ${P[6]}")" = zh ]'
[ ${#P[@]} = 7 ] || exit 1 # the rest would only fail for this

long="Step one.$nl$nl$(for i in $(seq 600); do printf 'add '; done)$nl${nl}So that is it." # 2400 characters between blank lines
# stage zero: ids r1 .. r13 (step 0 but r11, r12)
r1=$(roll "$db" zero 0 "${P[0]}" 0 stop 30 "${dr[@]}" "$(good "${A[0]}")")
r2=$(roll "$db" zero 0 "${P[0]}" 1 stop 30 "${dr[@]}" "$(good "${A[0]}")")                          # r1 again
r3=$(roll "$db" zero 0 "${P[0]}" 2 stop 30 "${dr[@]}" "$(good "${A[0]}" "Tens first, then ones.")")
r4=$(roll "$db" zero 0 "${P[1]}" 0 stop 30 "${dr[@]}" "$(good "${A[1]}9")")                         # wrong
r5=$(roll "$db" zero 0 "${P[1]}" 1 stop 30 "${dr[@]}" "I add them.</think> <answer>${A[1]}</answer>") # loose format
r6=$(roll "$db" zero 0 "${P[2]}" 0 length 30 "${dr[@]}" "$(good "${A[2]}")")                       # cut
r7=$(roll "$db" zero 0 "${P[2]}" 1 stop 30 "${dr[@]}" "$(good "${A[2]}" $'```python\nprint(1)\n```')")
r8=$(roll "$db" zero 0 "${P[3]}" 0 stop 30 "${dr[@]}" "$(good "${A[3]}" "$long")")
r9=$(roll "$db" zero 0 "${P[3]}" 1 stop 30 "${dr[@]}" "$(good "${A[3]}" "Add them. 把两个数相加。")")
r10=$(roll "$db" zero 0 "${P[5]}" 0 stop 30 "${dr[@]}" "$(good 42 "Once upon a time.")")            # no gold
r11=$(roll "$db" zero 1 "${P[0]}" 0 stop 30 "${dr[@]}" "$(good "${A[0]}" "Line them up and add.")")
r12=$(roll "$db" zero 1 "${P[4]}" 0 stop 5 "${dr[@]}" "$(good "${A[4]}")")
r13=$(roll "$db" zero 0 "${P[1]}" 2 length 30 "${dr[@]}" "It is ${A[1]}7")                         # all three
check "fixture: 13 hand-written rollouts in stage zero" '[ "$(q "$db" "SELECT COUNT(*) FROM rollouts WHERE stage = '"'"'zero'"'"'")" = 13 ]'

collect --kind cold_start --stage zero >"$tmp/out" 2>"$tmp/err"
check "default filters: exit 0, nothing on stderr" '[ $? -eq 0 ] && [ ! -s "$tmp/err" ] || { cat "$tmp/err"; false; }'
check "default filters: the summary counts every drop reason" \
    '[ "$(cat "$tmp/out")" = "collected 7 samples of kind cold_start from 13 rollouts (stage zero, steps 0-1); already present 0; dropped: incorrect 3, format 1, truncated 1, duplicate 1, over the per-prompt limit 0" ] || { cat "$tmp/out"; false; }'
check "default filters: the 7 rows are the rollouts that pass (source rollout:ID)" \
    '[ "$(q "$db" "SELECT group_concat(source, '"'"' '"'"') FROM (SELECT source FROM sft_samples ORDER BY id)")" = "rollout:$r1 rollout:$r3 rollout:$r7 rollout:$r8 rollout:$r9 rollout:$r11 rollout:$r12" ]'
check "rows: kind cold_start, prompt = the question, response = prefill + text exactly" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM sft_samples s JOIN rollouts r ON s.source = '"'"'rollout:'"'"' || r.id
        JOIN prompts p ON p.id = r.prompt_id
        WHERE s.kind = '"'"'cold_start'"'"' AND s.prompt = p.question AND s.response = r.prefill || r.text")" = 7 ]'
check "rows: messages is [user: prompt, assistant: response], valid JSON" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM sft_samples WHERE json_valid(messages) AND json_array_length(messages) = 2
        AND messages ->> '"'"'\$[0].role'"'"' = '"'"'user'"'"' AND messages ->> '"'"'\$[0].content'"'"' = prompt
        AND messages ->> '"'"'\$[1].role'"'"' = '"'"'assistant'"'"' AND messages ->> '"'"'\$[1].content'"'"' = response")" = 7 ]'
want=$(printf '<think>\n%s' "$(good "${A[0]}")")
check "rows: rollout $r1's response, byte for byte" \
    '[ "$(q "$db" "SELECT hex(response) FROM sft_samples WHERE source = '"'"'rollout:$r1'"'"'")" = "$(hex "$want")" ]'
"$data" export --db "$db" --table sft --kind cold_start >"$tmp/sft.jsonl"
"$data" import --db "$db" --format messages --kind cold_start - <"$tmp/sft.jsonl" 2>"$tmp/err"
check "content_hash is import's: export | import --format messages adds 0, already present 7" \
    'grep -q "added 0, already present 7" "$tmp/err" || { cat "$tmp/err"; false; }'

# ---------------------------------------------------------------- 2. options
before=$(q "$db" "SELECT * FROM sft_samples ORDER BY id")
collect --kind cold_start --stage zero >"$tmp/out" 2>&1
check "rerun: collects 0, the 7 already present, the table unchanged" \
    'grep -q "^collected 0 samples .* already present 7;" "$tmp/out" && [ "$(q "$db" "SELECT * FROM sft_samples ORDER BY id")" = "$before" ]'
collect --kind cold_start --stage zero --json >"$tmp/out"
check "--json: one line with kind, stage, steps, rollouts, collected, already_present, dropped" \
    '[ "$(cat "$tmp/out")" = "{\"kind\":\"cold_start\",\"stage\":\"zero\",\"from_step\":0,\"to_step\":1,\"rollouts\":13,\"collected\":0,\"already_present\":7,\"dry_run\":false,\"dropped\":{\"incorrect\":3,\"format\":1,\"truncated\":1,\"nul\":0,\"duplicate\":1,\"over_limit\":0}}" ] || { cat "$tmp/out"; false; }'
collect --kind cold_start --stage zero --quiet >"$tmp/out" 2>&1
check "--quiet: prints nothing" '[ $? -eq 0 ] && [ ! -s "$tmp/out" ]'

dump=$(q "$db" .dump)
collect --kind reasoning --stage zero --dry-run --filter stop,format,correct --json >"$tmp/out"
check "--dry-run: reports the 7 it would collect, each drop under the first failing filter in --filter order" \
    '[ "$(cat "$tmp/out")" = "{\"kind\":\"reasoning\",\"stage\":\"zero\",\"from_step\":0,\"to_step\":1,\"rollouts\":13,\"collected\":7,\"already_present\":0,\"dry_run\":true,\"dropped\":{\"truncated\":2,\"format\":1,\"incorrect\":2,\"nul\":0,\"duplicate\":1,\"over_limit\":0}}" ] || { cat "$tmp/out"; false; }'
collect --kind reasoning --stage zero --dry-run >"$tmp/out"
check "--dry-run: says so; the database is unchanged (.dump), no reasoning rows" \
    'grep -q "^would collect 7 samples of kind reasoning .*(dry run: nothing written)$" "$tmp/out" && [ "$(q "$db" .dump)" = "$dump" ] && [ "$(sft_count reasoning)" = 0 ]'

collect --kind reasoning --stage zero --filter correct,format,stop,readable --json >"$tmp/out"
check "readable = language, no-code, paragraph: Chinese reasoning, the code block and the long paragraph dropped" \
    'grep -qF "\"collected\":4,\"already_present\":0,\"dry_run\":false,\"dropped\":{\"incorrect\":3,\"format\":1,\"truncated\":1,\"language\":1,\"code\":1,\"paragraph\":1,\"nul\":0" "$tmp/out" || { cat "$tmp/out"; false; }'
check "readable: the 4 rows are rollouts $r1 $r3 $r11 $r12" \
    '[ "$(q "$db" "SELECT group_concat(source, '"'"' '"'"') FROM (SELECT source FROM sft_samples WHERE kind = '"'"'reasoning'"'"' ORDER BY id)")" = "rollout:$r1 rollout:$r3 rollout:$r11 rollout:$r12" ]'
collect --kind reasoning --stage zero --filter paragraph --max-paragraph 2400 --dry-run --json >"$tmp/out"
check "--max-paragraph 2400: the 2400-character paragraph passes" 'grep -qF "\"paragraph\":0," "$tmp/out"'
collect --kind reasoning --stage zero --filter paragraph --max-paragraph 2399 --dry-run --json >"$tmp/out"
check "--max-paragraph 2399: it does not" 'grep -qF "\"paragraph\":1," "$tmp/out"'
collect --kind non_reasoning --stage zero --filter min-tokens --min-tokens 10 --dry-run --json >"$tmp/out"
check "min-tokens 10: the 5-token rollout dropped as short, everything else kept (one duplicate)" \
    'grep -qF "\"rollouts\":13,\"collected\":11,\"already_present\":0,\"dry_run\":true,\"dropped\":{\"short\":1,\"nul\":0,\"duplicate\":1," "$tmp/out" || { cat "$tmp/out"; false; }'

collect --kind distill --stage zero --max-per-prompt 1 --json >"$tmp/out"
check "--max-per-prompt 1: 4 collected, 3 over the limit, the duplicate counted as such" \
    'grep -qF "\"collected\":4,\"already_present\":0,\"dry_run\":false,\"dropped\":{\"incorrect\":3,\"format\":1,\"truncated\":1,\"nul\":0,\"duplicate\":1,\"over_limit\":3}" "$tmp/out" || { cat "$tmp/out"; false; }'
check "--max-per-prompt 1: the first passing rollout of each prompt by step and sample" \
    '[ "$(q "$db" "SELECT group_concat(source, '"'"' '"'"') FROM (SELECT source FROM sft_samples WHERE kind = '"'"'distill'"'"' ORDER BY id)")" = "rollout:$r1 rollout:$r7 rollout:$r8 rollout:$r12" ]'
collect --kind distill --stage zero --max-per-prompt 1 >"$tmp/out"
check "--max-per-prompt 1 again: the kept ones already present, nothing added" \
    'grep -q "^collected 0 samples .* already present 4; .* over the per-prompt limit 3$" "$tmp/out" && [ "$(sft_count distill)" = 4 ]'

collect --kind pretrain --stage zero --from-step 1 >"$tmp/out"
check "--from-step 1: only step 1's 2 rollouts" \
    '[ "$(cat "$tmp/out")" = "collected 2 samples of kind pretrain from 2 rollouts (stage zero, step 1); already present 0; dropped: incorrect 0, format 0, truncated 0, duplicate 0, over the per-prompt limit 0" ] || { cat "$tmp/out"; false; }'
collect --kind non_reasoning --stage zero --to-step 0 --dry-run >"$tmp/out"
check "--to-step 0: step 0's 11 rollouts" 'grep -q "^would collect 5 samples of kind non_reasoning from 11 rollouts (stage zero, step 0);" "$tmp/out" || { cat "$tmp/out"; false; }'
collect --kind non_reasoning --stage zero --from-step 0 --to-step 0 --filter '' --dry-run --json >"$tmp/out"
check "--filter '': no filter, only the duplicate dropped" \
    'grep -qF "\"rollouts\":11,\"collected\":10,\"already_present\":0,\"dry_run\":true,\"dropped\":{\"nul\":0,\"duplicate\":1,\"over_limit\":0}" "$tmp/out" || { cat "$tmp/out"; false; }'

# --system: the system message first in each sample's messages, prompt and response as before
# (cold_start holds 7 samples without one: with it the messages differ, so 4 more come)
collect --kind cold_start --stage zero --max-per-prompt 1 --system 'Think, then "answer".' --quiet
sys_rows="kind = 'cold_start' AND json_extract(messages, '\$[0].role') = 'system'"
check "--system: every sample's messages start with the system message, then user and assistant" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM sft_samples WHERE kind = '"'"'cold_start'"'"'
        AND json_extract(messages, '"'"'\$[0].role'"'"') = '"'"'system'"'"'
        AND json_extract(messages, '"'"'\$[0].content'"'"') = '"'"'Think, then \"answer\".'"'"'
        AND json_extract(messages, '"'"'\$[1].content'"'"') = prompt
        AND json_extract(messages, '"'"'\$[2].role'"'"') = '"'"'assistant'"'"'
        AND json_extract(messages, '"'"'\$[2].content'"'"') = response
        AND json_array_length(messages) = 3")" = 4 ]'
check "--system: the same responses as without it (kind distill above)" \
    '[ "$(q "$db" "SELECT group_concat(response, '"'"'|'"'"') FROM (SELECT response FROM sft_samples WHERE $sys_rows ORDER BY id)")" = \
       "$(q "$db" "SELECT group_concat(response, '"'"'|'"'"') FROM (SELECT response FROM sft_samples WHERE kind = '"'"'distill'"'"' ORDER BY id)")" ]'

# language: the target from the prompt's meta (zh), or --lang
z1=$(roll "$db" zh 0 "${P[6]}" 0 stop 30 "${dr[@]}" "$(good "${A[6]}" "把两个数相加。")")
z2=$(roll "$db" zh 0 "${P[6]}" 1 stop 30 "${dr[@]}" "$(good "${A[6]}" "Add the two numbers.")")
collect --kind reasoning --stage zh --filter language >"$tmp/out"
check "language: a Chinese prompt keeps the Chinese reasoning" \
    'grep -q "dropped: language 1," "$tmp/out" && [ "$(q "$db" "SELECT source FROM sft_samples WHERE kind = '"'"'reasoning'"'"' AND prompt = (SELECT question FROM prompts WHERE id = ${P[6]})")" = "rollout:$z1" ]'
collect --kind distill --stage zh --filter language --lang en >"$tmp/out"
check "language --lang en: the English reasoning instead" \
    'grep -q "dropped: language 1," "$tmp/out" && [ "$(q "$db" "SELECT source FROM sft_samples WHERE kind = '"'"'distill'"'"' AND prompt = (SELECT question FROM prompts WHERE id = ${P[6]})")" = "rollout:$z2" ]'

# how the response is built from prefill + text
o1=$(roll "$db" other 0 "${P[4]}" 0 stop 30 r1-zero "" " $(printf '<think>\nzero\n</think>\n<answer>\n%s\n</answer>' "${A[4]}")")
o2=$(roll "$db" other 0 "${P[4]}" 1 stop 30 NULL NULL "$(good "${A[4]}" "old row")")
o3=$(roll "$db" other 0 "${P[4]}" 2 stop 30 "${dr[@]}" "$(good "${A[4]}" "eos")<｜end▁of▁sentence｜>")
o4=$(roll "$db" other 0 "${P[4]}" 3 stop 30 qwen2.5 "" "$(printf '<think>\nqwen\n</think>\n<answer>\n%s\n</answer>' "${A[4]}")")
q "$db" "INSERT INTO rollouts (stage, step, prompt_id, sample, prompt_ids, completion_ids, logprobs, text,
        finish_reason, n_tokens, template, prefill) VALUES ('other', 0, ${P[4]}, 4, x'01000000', x'', x'',
        'a' || char(0) || 'b', 'stop', 0, 'deepseek-r1', '<think>' || char(10))"
collect --kind non_reasoning --stage other --filter '' --json >"$tmp/out"
check "stage other, no filter: 4 collected, the completion with a NUL character dropped (JSON readers would cut it)" \
    'grep -qF "\"rollouts\":5,\"collected\":4,\"already_present\":0,\"dry_run\":false,\"dropped\":{\"nul\":1," "$tmp/out" || { cat "$tmp/out"; false; }'
collect --kind non_reasoning --stage other --filter correct,format --dry-run --json >"$tmp/out"
check "r1-zero's leading space, an old row and qwen2.5 pass format; an end-of-turn text after </answer> does not (as r1-reward judges)" \
    'grep -qF "\"already_present\":3,\"dry_run\":true,\"dropped\":{\"incorrect\":1,\"format\":1," "$tmp/out" || { cat "$tmp/out"; false; }'
resp() { q "$db" "SELECT hex(response) FROM sft_samples WHERE source = 'rollout:$1'"; }
check "r1-zero: the response is the text without the space the template writes after \"Assistant:\"" \
    '[ "$(resp "$o1")" = "$(hex "$(printf '"'"'<think>\nzero\n</think>\n<answer>\n%s\n</answer>'"'"' "${A[4]}")")" ]'
check "no prefill recorded (an old row): <think>\\n put back, as r1-reward assumes" \
    '[ "$(resp "$o2")" = "$(hex "<think>$nl$(good "${A[4]}" "old row")")" ]'
check "a text that ends with the end-of-turn token's text: the response stops before it" \
    '[ "$(resp "$o3")" = "$(hex "<think>$nl$(good "${A[4]}" "eos")")" ]'
check "qwen2.5 (no prefill): the response is the text" \
    '[ "$(resp "$o4")" = "$(hex "$(printf '"'"'<think>\nqwen\n</think>\n<answer>\n%s\n</answer>'"'"' "${A[4]}")")" ]'

# one transaction: an insert that fails half-way leaves no row of the run
q "$db" "CREATE TRIGGER boom BEFORE INSERT ON sft_samples WHEN NEW.source = 'rollout:$r11'
         BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
n_before=$(sft_count)
expect_error "a failing insert: an error with SQLite's message" "refused by test trigger" \
    collect --kind non_reasoning --stage zero
check "a failing insert: nothing of the run is left (all or nothing)" '[ "$(sft_count)" = "$n_before" ]'
q "$db" "DROP TRIGGER boom"

# ---------------------------------------------------------------- 3. refusals
n_before=$(sft_count)
expect_error "no database" "no such database" "$data" collect --db "$tmp/none.db" --kind reasoning
check "no database: none created" '[ ! -e "$tmp/none.db" ]'
expect_error "a stage without rollouts" "has no rollouts of stage nope at any step" collect --kind reasoning --stage nope
expect_error "a step range without rollouts" "has no rollouts of stage zero at steps 5-9" \
    collect --kind reasoning --stage zero --from-step 5 --to-step 9
expect_error "default stage rl without rollouts" "has no rollouts of stage rl at step 0" \
    collect --kind reasoning --from-step 0 --to-step 0
expect_error "a bad --kind" "--kind must be cold_start, reasoning, non_reasoning, distill or pretrain" \
    collect --kind sft --stage zero
expect_error "no --kind" "needs --kind" collect --stage zero
expect_error "an unknown filter lists the known ones" \
    "unknown filter 'correctness' (known: correct, format, stop, language, no-code, paragraph, min-tokens, readable)" \
    collect --kind reasoning --stage zero --filter format,correctness
collect --kind reasoning --stage zero --filter bogus >/dev/null 2>&1
check "an unknown filter is a usage error: exit 2" '[ $? -eq 2 ]'
expect_error "--from-step after --to-step" "--from-step is after --to-step" \
    collect --kind reasoning --stage zero --from-step 3 --to-step 1
expect_error "--lang other than en/zh" "unknown language 'fr'" collect --kind reasoning --stage zero --filter language --lang fr
expect_error "--min-tokens without its filter" "--min-tokens is for the min-tokens filter" \
    collect --kind reasoning --stage zero --min-tokens 5
expect_error "a negative step" "--from-step -1: expected a whole number" collect --kind reasoning --stage zero --from-step -1
expect_error "an unknown option" "unknown option --steps" collect --kind reasoning --stage zero --steps 1
check "refusals wrote nothing" '[ "$(sft_count)" = "$n_before" ]'
check "--help: the options, exit 0" '"$data" collect --help | grep -q -- "--max-per-prompt K"'
check "r1-data --help lists collect" '"$data" --help | grep -q "^  collect "'

# ---------------------------------------------------------------- 4. template round trip
# ids_hex: the ids of a tokenize line ({"ids":[...]}) as little-endian int32 hex.
ids_hex() {
    sed 's/.*"ids":\[\([0-9, ]*\)\].*/\1/' | tr -d ' ' | tr ',' '\n' |
        while read -r i; do printf '%02X%02X%02X%02X' $((i & 255)) $((i >> 8 & 255)) $((i >> 16 & 255)) $((i >> 24 & 255)); done
}
# hex_ids HEX: little-endian int32 hex as space-separated ids.
hex_ids() {
    local h=$1 out=()
    for ((k = 0; k < ${#h}; k += 8)); do
        out+=($((16#${h:k+6:2}${h:k+4:2}${h:k+2:2}${h:k:2})))
    done
    echo "${out[*]}"
}
eot=$(echo '"<｜end▁of▁sentence｜>"' | "$R1_BIN/r1-model" tokenize --tokenizer "$tiny" | ids_hex)
check "the tiny tokenizer's end of turn is one token" '[ ${#eot} = 8 ]'

# A small model overfit on 4 chats in R1's format (gold answers as the prompts').
rt="$tmp/rt.db"
"$data" init --db "$rt" >/dev/null
questions=("What is 2+3?" "What is 4+4?" "What is 7-2?" "What is 3*3?")
answers=(5 8 5 9)
for i in 0 1 2 3; do
    printf '{"question":"%s","answer":"%s"}\n' "${questions[$i]}" "${answers[$i]}"
done | "$data" import --db "$rt" --format jsonl --dataset qa --quiet -
for i in 0 1 2 3; do
    printf '{"messages":[{"role":"user","content":"%s"},{"role":"assistant","content":"<think>\\n%s\\n</think>\\n<answer>\\n%s\\n</answer>"}]}\n' \
        "${questions[$i]}" "${questions[$i]#What is }" "${answers[$i]}"
done | "$data" import --db "$rt" --format messages --kind cold_start --quiet -
hf_config qwen2 64 2 4 2 128 768 true 256 >"$tmp/small.json"
t0=$SECONDS
if "$R1_BIN/r1-model" init --config "$tmp/small.json" --tokenizer "$tiny" --out "$tmp/small" --seed 5 >/dev/null &&
    "$R1_BIN/r1-sft" --db "$rt" --kind cold_start --model "$tmp/small" --out "$tmp/sft" --epochs 80 --pack \
        --batch-tokens 100000 --lr 3e-3 --schedule constant --quiet 2>"$tmp/err" &&
    "$R1_BIN/r1-rollout" --db "$rt" --model "$tmp/sft" --stage cold --step 0 --prompts 4 --group 2 \
        --temperature 0 --max-new-tokens 40 --quiet >/dev/null 2>>"$tmp/err"; then
    pass "round trip: r1-sft overfit + r1-rollout greedy ($((SECONDS - t0)) s)"
else
    fail "round trip: r1-sft / r1-rollout failed: $(head -c 300 "$tmp/err")"
fi
check "round trip: 8 rollouts, all ended by the end-of-turn token" \
    '[ "$(q "$rt" "SELECT COUNT(*) FROM rollouts WHERE finish_reason = '"'"'stop'"'"' AND hex(substr(completion_ids, -4)) = '"'"'$eot'"'"'")" = 8 ]'
db=$rt
collect --kind cold_start --stage cold >"$tmp/out"
check "round trip: the collected samples are byte for byte the 4 chats the model learnt (already present)" \
    'grep -q "^collected 0 samples of kind cold_start from 8 rollouts (stage cold, step 0); already present 4; dropped: incorrect 0, format 0, truncated 0, duplicate 4," "$tmp/out" || { cat "$tmp/out"; false; }'
collect --kind reasoning --stage cold --quiet
check "round trip: collected as reasoning, 4 samples" '[ "$(sft_count reasoning)" = 4 ]'
bad=0 n=0
while IFS='|' read -r rid msgs; do
    n=$((n + 1))
    got=$(printf '%s\n' "$msgs" | "$R1_BIN/r1-model" tokenize --tokenizer "$tiny" --messages --template deepseek-r1 | ids_hex)
    want=$(q "$rt" "SELECT hex(prompt_ids) || hex(completion_ids) FROM rollouts WHERE id = $rid")
    [ "$got" = "$want" ] || { bad=$((bad + 1)); echo "rollout $rid: rendered $got, rollout $want"; }
done < <(q "$rt" "SELECT substr(source, 9), messages FROM sft_samples WHERE kind = 'reasoning'")
check "round trip: rendering each sample gives exactly prompt_ids ++ completion_ids ($n samples)" '[ $n = 4 ] && [ $bad = 0 ]'

# A random model: its token sequences are not what the tokenizer would make of
# their text (and may be cut inside a character), so the texts are compared.
"$R1_BIN/r1-model" init --config "$tiny/config.json" --tokenizer "$tiny" --out "$tmp/rand" --seed 3 >/dev/null &&
    "$R1_BIN/r1-rollout" --db "$rt" --model "$tmp/rand" --stage rand --step 0 --prompts 4 --group 3 \
        --max-new-tokens 24 --temperature 1 --seed 1 --quiet >/dev/null 2>"$tmp/err"
check "random model: 12 rollouts" '[ "$(q "$rt" "SELECT COUNT(*) FROM rollouts WHERE stage = '"'"'rand'"'"'")" = 12 ] || { cat "$tmp/err"; false; }'
collect --kind distill --stage rand --filter '' --json >"$tmp/out"
kept=$(q "$rt" "SELECT COUNT(*) FROM sft_samples WHERE kind = 'distill'")
check "random model: --filter '' keeps all but NUL-bearing ones ($kept)" \
    'grep -qF "\"rollouts\":12,\"collected\":$kept," "$tmp/out" && [ $((kept + $(sed "s/.*\"nul\":\([0-9]*\).*/\1/" "$tmp/out"))) = 12 ]'
dec() { "$R1_BIN/r1-model" tokenize --tokenizer "$tiny" --decode --skip-special; }
# The tokenizer knows ids 0-764; the model's rows past them are padding, which a
# random model samples and the rollout's text leaves out (core/generate.h).
check "random model: the tiny tokenizer knows ids up to 764, not 765" \
    'echo 764 | dec >/dev/null 2>&1 && ! echo 765 | dec >/dev/null 2>&1'
bad=0 n=0
while IFS='|' read -r rid msgs; do
    n=$((n + 1))
    rendered=$(printf '%s\n' "$msgs" | "$R1_BIN/r1-model" tokenize --tokenizer "$tiny" --messages --template deepseek-r1 |
        sed 's/.*"ids":\[\([0-9, ]*\)\].*/\1/' | tr ',' ' ' | dec)
    ids=$(hex_ids "$(q "$rt" "SELECT hex(prompt_ids) || hex(completion_ids) FROM rollouts WHERE id = $rid")")
    produced=$(echo $ids | tr ' ' '\n' | awk '$1 < 765' | tr '\n' ' ' | dec)
    [ "$rendered" = "$produced" ] || { bad=$((bad + 1)); echo "rollout $rid: rendered $rendered, produced $produced"; }
done < <(q "$rt" "SELECT substr(source, 9), messages FROM sft_samples WHERE kind = 'distill'")
check "random model: the rendered sample's text is the rollout's prompt + completion ($n samples)" '[ $n -ge 1 ] && [ $bad = 0 ]'

# r1-zero writes " " + reply after "Assistant:": a completion that starts with a
# space renders back as it was; one that does not gains that space.
"$R1_BIN/r1-rollout" --db "$rt" --model "$tmp/rand" --template r1-zero --stage rand0 --step 0 --prompts 4 \
    --group 4 --max-new-tokens 12 --temperature 1 --seed 2 --quiet >/dev/null 2>"$tmp/err"
collect --kind pretrain --stage rand0 --filter '' --quiet
bad=0 n=0 spaced=0
while IFS='|' read -r rid msgs; do
    n=$((n + 1))
    rendered=$(printf '%s\n' "$msgs" | "$R1_BIN/r1-model" tokenize --tokenizer "$tiny" --messages --template r1-zero |
        sed 's/.*"ids":\[\([0-9, ]*\)\].*/\1/' | tr ',' ' ' | dec)
    p=$(hex_ids "$(q "$rt" "SELECT hex(prompt_ids) FROM rollouts WHERE id = $rid")" | dec)
    c=$(hex_ids "$(q "$rt" "SELECT hex(completion_ids) FROM rollouts WHERE id = $rid")" | tr ' ' '\n' | awk '$1 < 765' | tr '\n' ' ' | dec)
    c=${c#\"}
    [ "${c:0:1}" = " " ] && spaced=$((spaced + 1)) || c=" $c"
    [ "$rendered" = "${p%\"}$c" ] || { bad=$((bad + 1)); echo "rollout $rid: rendered $rendered, produced ${p%\"}$c"; }
done < <(q "$rt" "SELECT substr(source, 9), messages FROM sft_samples WHERE kind = 'pretrain'")
check "r1-zero: the rendered text is the prompt + completion, with one space between ($n samples, $spaced with their own)" \
    '[ $n -ge 1 ] && [ $bad = 0 ]'

finish
