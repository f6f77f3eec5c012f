#!/usr/bin/env bash
# bin/r1-rollout end to end, on random-weight models (the tiny demo config and
# smaller ones) and run databases made by r1-data:
#   1. K x G rows, their blobs, finish reasons, template, prefill and metrics
#   2. a finished step is left alone; a partial one is redone identically, its
#      rewards gone with the rows it replaced; a different K x G replaces it
#   3. results do not depend on --batch (1, 5, 64), with sampling on
#   4. the same seed gives the same rollouts, another seed other completions
#   5. the epoch walk: every prompt once per epoch, none twice in a step
#   6. refusals that name the problem and write nothing
#   7. --stop: the completion ends at the token completing the string, on the
#      same random stream (a prefix of the run without --stop)
#   8. --temperature 0: every sample of a prompt is the same; --template and
#      --system reach prompt_ids; a short context cuts completions
#   9. the stored logprobs (and greedy completions) against the float64
#      PyTorch reference tests/ref/rollout_ref.py (over model_ref.py)
#  10. --device: cpu is byte-identical to no flag (rollout/device 0); an unknown
#      device is refused naming it; cuda either runs (a GPU is usable: rows,
#      rollout/device 1, the same seed reproduces them) or fails saying why,
#      writing nothing
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
ro="$R1_BIN/r1-rollout"
tiny="$R1_ROOT/configs/tiny"

needs r1-rollout r1-data r1-model


# model NAME SEED CONFIG_JSON [TOKENIZER_DIR]: a random checkpoint in $tmp/NAME.
model() {
    local dir="$tmp/$1" tok=${4-$tiny}
    echo "$3" >"$tmp/$1.json"
    if ! "$R1_BIN/r1-model" init --config "$tmp/$1.json" ${tok:+--tokenizer "$tok"} \
        --out "$dir" --seed "$2" >"$tmp/$1.log" 2>&1; then
        cat "$tmp/$1.log"
        fail "r1-model init $1"
        return 1
    fi
}

# The prompts every database starts from: 300 GSM8K (split train) and 12
# synthetic arithmetic tasks (dataset synth/arith, split train).
proto="$tmp/proto.db"
"$R1_BIN/r1-data" init --db "$proto" >/dev/null &&
    "$R1_BIN/r1-data" import --db "$proto" --format gsm8k --quiet "$R1_ROOT/tests/fixtures/gsm8k-train-300.jsonl" &&
    "$R1_BIN/r1-data" synth --db "$proto" --task arith --n 12 --seed 1 --quiet
check "fixture database: 300 gsm8k + 12 synth/arith prompts in train" \
    '[ "$(q "$proto" "SELECT group_concat(dataset || '"'"':'"'"' || n, '"'"' '"'"') FROM (SELECT dataset, COUNT(*) n FROM prompts WHERE split = '"'"'train'"'"' GROUP BY dataset ORDER BY dataset)")" = "gsm8k:300 synth/arith:12" ]'
newdb() { rm -f "$tmp/$1.db"; q "$proto" ".backup '$tmp/$1.db'"; }

# rows DB STEP: the step's rows, everything but id, created_at (and model).
rows() {
    q "$1" "SELECT prompt_id, sample, hex(prompt_ids), hex(completion_ids), hex(logprobs), hex(text),
            finish_reason, n_tokens, template, hex(prefill) FROM rollouts WHERE step = $2 ORDER BY id"
}
# dump DB: the whole rollouts, rewards and metrics tables, ids and times included.
dump() {
    q "$1" "SELECT id, step, prompt_id, sample, hex(prompt_ids), hex(completion_ids), hex(logprobs),
            hex(text), finish_reason, n_tokens, model, template, prefill, created_at FROM rollouts ORDER BY id;
            SELECT * FROM rewards ORDER BY rollout_id, name;
            SELECT * FROM metrics ORDER BY rowid"
}

model tinym 1 "$(cat "$tiny/config.json")"                      # the demo config, hidden 128, 4 layers
model small 2 "$(hf_config qwen2 64 2 4 2 96 768 false 1024)"       # hidden 64, 2 layers, vocab 768
SAMPLE=(--temperature 0.9 --top-p 0.95 --top-k 40)

# ---------------------------------------------------------------- 1. basic
db="$tmp/basic.db"
newdb basic
run1=("$ro" --db "$db" --model "$tmp/tinym" --step 0 --prompts 4 --group 3 --max-new-tokens 24 --seed 7 "${SAMPLE[@]}")
"${run1[@]}" >"$tmp/out1" 2>"$tmp/err1"
check "basic: exits 0" '[ $? -eq 0 ] || { cat "$tmp/err1"; false; }'
check "basic: nothing on stderr when it is not a terminal" '[ ! -s "$tmp/err1" ]'
check "basic: summary names 4 prompts x 3 = 12 completions" 'grep -q "4 prompts x 3 = 12 completions" "$tmp/out1"'
check "basic: 12 rows, all step 0" '[ "$(q "$db" "SELECT COUNT(*), SUM(step = 0) FROM rollouts")" = "12|12" ]'
check "basic: 4 distinct prompts, each with samples 0, 1, 2" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM (SELECT prompt_id FROM rollouts GROUP BY prompt_id
        HAVING COUNT(*) = 3 AND COUNT(DISTINCT sample) = 3 AND MIN(sample) = 0 AND MAX(sample) = 2)")" = 4 ]'
check "basic: n_tokens = length(completion_ids)/4 = length(logprobs)/4, 1..24" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM rollouts WHERE NOT (n_tokens * 4 = length(completion_ids)
        AND n_tokens * 4 = length(logprobs) AND n_tokens BETWEEN 1 AND 24)")" = 0 ]'
check "basic: finish_reason stop|length; every length row is 24 tokens" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM rollouts WHERE finish_reason NOT IN ('"'"'stop'"'"', '"'"'length'"'"')
        OR (finish_reason = '"'"'length'"'"' AND n_tokens != 24)")" = 0 ]'
check "basic: prompt_ids non-empty, whole int32s, the same for the samples of a prompt" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM rollouts WHERE length(prompt_ids) < 4 OR length(prompt_ids) % 4 != 0") $(q "$db" "SELECT COUNT(DISTINCT prompt_id || hex(prompt_ids)) FROM rollouts")" = "0 4" ]'
check "basic: template deepseek-r1, prefill '<think>\\n', model the directory" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM rollouts WHERE template = '"'"'deepseek-r1'"'"' AND prefill = '"'"'<think>'"'"' || char(10)
        AND model = '"'"'$(cd "$tmp/tinym" && pwd -P)'"'"'")" = 12 ]'
check "basic: samples of a prompt differ (sampling is on)" \
    '[ "$(q "$db" "SELECT COUNT(DISTINCT hex(completion_ids)) FROM rollouts")" -ge 10 ]'
# prompt_hex DB PROMPT_ID TEMPLATE [SYSTEM]: the question (after the system
# message) in the template with the generation prompt, as r1-model tokenize
# renders and encodes it, as the hex of little-endian int32s.
prompt_hex() {
    local sys=${4:+"json_object('role', 'system', 'content', '$4'), "}
    q "$1" "SELECT json_array(${sys}json_object('role', 'user', 'content', question)) FROM prompts WHERE id = $2" |
        "$R1_BIN/r1-model" tokenize --tokenizer "$tiny" --messages --template "$3" --generation-prompt |
        sed 's/.*"ids":\[\([0-9, ]*\)\].*/\1/' | tr -d ' ' | tr ',' '\n' |
        while read -r i; do printf '%02X%02X%02X%02X' $((i & 255)) $((i >> 8 & 255)) $((i >> 16 & 255)) $((i >> 24 & 255)); done
}
pid=$(q "$db" "SELECT prompt_id FROM rollouts ORDER BY id LIMIT 1")
want=$(prompt_hex "$db" "$pid" deepseek-r1)
check "basic: prompt_ids = r1-model tokenize --messages --generation-prompt of the question" \
    '[ -n "$want" ] && [ "$(q "$db" "SELECT hex(prompt_ids) FROM rollouts WHERE prompt_id = $pid LIMIT 1")" = "$want" ]'
m() { q "$db" "SELECT printf('%.6f', value) FROM metrics WHERE stage = 'rollout' AND step = ${2:-0} AND name = 'rollout/$1'"; }
check "basic: 8 rollout metrics rows for step 0" \
    '[ "$(q "$db" "SELECT group_concat(name, '"'"' '"'"') FROM (SELECT name FROM metrics WHERE stage = '"'"'rollout'"'"' AND step = 0 ORDER BY name)")" = "rollout/completion_len_max rollout/completion_len_mean rollout/completions rollout/device rollout/max_new_tokens rollout/temperature rollout/tokens_per_s rollout/truncated_frac" ]'
check "basic: metrics agree with the rows (mean, max, truncated, completions, tokens/s > 0)" \
    '[ "$(m completion_len_mean) $(m completion_len_max) $(m truncated_frac) $(m completions)" = "$(q "$db" "SELECT printf('"'"'%.6f %.6f %.6f %.6f'"'"', AVG(n_tokens), MAX(n_tokens), AVG(finish_reason = '"'"'length'"'"'), COUNT(*)) FROM rollouts")" ] &&
     awk "BEGIN { exit !($(m tokens_per_s) > 0) }"'

# ---------------------------------------------------------------- 2. idempotence, partial steps
before=$(dump "$db")
"${run1[@]}" >"$tmp/out2" 2>"$tmp/err2"
check "rerun: exits 0 and says nothing to do" '[ $? -eq 0 ] && grep -q "nothing to do" "$tmp/out2"'
check "rerun: rollouts and metrics unchanged (ids and times included)" '[ "$(dump "$db")" = "$before" ]'
"$ro" --db "$db" --model "$tmp/tinym" --step 1 --prompts 4 --group 3 --max-new-tokens 24 --seed 7 "${SAMPLE[@]}" --quiet >/dev/null
step0=$(rows "$db" 0)
q "$db" "INSERT INTO rewards (rollout_id, name, value)
         SELECT id, 'accuracy', 1.0 FROM rollouts WHERE step = 0 AND sample = 0;
         INSERT INTO rewards (rollout_id, name, value)
         SELECT id, 'accuracy', 0.5 FROM rollouts WHERE step = 1 AND sample = 0;
         DELETE FROM rollouts WHERE step = 0 AND sample = 2;"
check "partial: set up (8 rows of step 0 left, 4 + 4 rewards)" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM rollouts WHERE step = 0") $(q "$db" "SELECT COUNT(*) FROM rewards")" = "8 8" ]'
step1=$(rows "$db" 1)
"${run1[@]}" >"$tmp/out3" 2>"$tmp/err3"
check "partial: rerun exits 0 and generates" '[ $? -eq 0 ] && ! grep -q "nothing to do" "$tmp/out3"'
check "partial: the step is redone with exactly the same content" '[ "$(rows "$db" 0)" = "$step0" ]'
check "partial: the rewards of the replaced rows are gone (cascade)" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM rewards w LEFT JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = 0 OR r.id IS NULL")" = 0 ]'
check "partial: step 1 and its rewards untouched" \
    '[ "$(rows "$db" 1)" = "$step1" ] && [ "$(q "$db" "SELECT COUNT(*) FROM rewards w JOIN rollouts r ON r.id = w.rollout_id WHERE r.step = 1")" = 4 ]'
check "partial: still 8 metrics rows for step 0" \
    '[ "$(q "$db" "SELECT COUNT(*) FROM metrics WHERE stage = '"'"'rollout'"'"' AND step = 0")" = 8 ]'
"${run1[@]}" --force >"$tmp/out5" 2>&1
check "--force redoes a complete step (generates again, the same content)" \
    '! grep -q "nothing to do" "$tmp/out5" && grep -q "12 completions" "$tmp/out5" && [ "$(rows "$db" 0)" = "$step0" ]'
"$ro" --db "$db" --model "$tmp/tinym" --step 0 --prompts 4 --group 2 --max-new-tokens 24 --seed 7 "${SAMPLE[@]}" >"$tmp/out4" 2>&1
check "a different K x G (4 x 2) replaces the step: 8 rows, samples 0..1, metrics say 8" \
    '[ "$(q "$db" "SELECT COUNT(*), MAX(sample) FROM rollouts WHERE step = 0") $(m completions)" = "8|1 8.000000" ]'

# ---------------------------------------------------------------- 3. batch invariance
# --stop th ends completions at scattered lengths, so slots are refilled at
# different times under the different batch sizes.
for b in 1 5 64; do
    newdb "batch$b"
    "$ro" --db "$tmp/batch$b.db" --model "$tmp/small" --step 3 --prompts 4 --group 3 --max-new-tokens 48 \
        --seed 11 "${SAMPLE[@]}" --stop th --batch "$b" --quiet >"$tmp/outb$b" 2>&1 || cat "$tmp/outb$b"
done
ref=$(rows "$tmp/batch64.db" 3)
check "batch: 12 rows whose lengths vary (refills happen)" \
    '[ "$(q "$tmp/batch64.db" "SELECT COUNT(*) FROM rollouts")" = 12 ] && [ "$(q "$tmp/batch64.db" "SELECT COUNT(DISTINCT n_tokens) FROM rollouts")" -ge 4 ]'
check "batch: --batch 1 gives byte-identical rows to --batch 64" '[ -n "$ref" ] && [ "$(rows "$tmp/batch1.db" 3)" = "$ref" ]'
check "batch: --batch 5 gives byte-identical rows to --batch 64" '[ -n "$ref" ] && [ "$(rows "$tmp/batch5.db" 3)" = "$ref" ]'

# ---------------------------------------------------------------- 4. seeds
# All 12 synth prompts (K = the whole dataset): every seed samples the same
# prompts, so a difference must come from the sampling.
for s in 1a 1b 2; do
    newdb "seed$s"
    "$ro" --db "$tmp/seed$s.db" --model "$tmp/small" --step 0 --dataset synth/arith --prompts 12 --group 2 \
        --max-new-tokens 16 --seed "${s%[ab]}" --quiet >"$tmp/outs$s" 2>&1 || cat "$tmp/outs$s"
done
check "seed: the same seed on a fresh database gives identical rows" \
    '[ "$(q "$tmp/seed1a.db" "SELECT COUNT(*) FROM rollouts")" = 24 ] && [ "$(rows "$tmp/seed1a.db" 0)" = "$(rows "$tmp/seed1b.db" 0)" ]'
same=$(q "$tmp/seed1a.db" "ATTACH '$tmp/seed2.db' AS o; SELECT COUNT(*), SUM(a.completion_ids = b.completion_ids)
        FROM rollouts a JOIN o.rollouts b USING (prompt_id, sample)")
check "seed: another seed, same 12 x 2 (prompt, sample), other completions ($same: joined, equal)" \
    '[ "${same%|*}" = 24 ] && [ "${same#*|}" -le 2 ]'

# ---------------------------------------------------------------- 5. epoch walk
newdb epoch
for s in 0 1 2 3; do
    "$ro" --db "$tmp/epoch.db" --model "$tmp/small" --step "$s" --dataset synth/arith --prompts 4 --group 1 \
        --max-new-tokens 2 --seed 5 --quiet >"$tmp/oute" 2>&1 || cat "$tmp/oute"
done
e() { q "$tmp/epoch.db" "SELECT COUNT(*), COUNT(DISTINCT prompt_id), SUM(prompt_id IN (SELECT id FROM prompts WHERE dataset = 'synth/arith')) FROM rollouts WHERE $1"; }
check "epoch: steps 0-2 (K=4) hold each of the 12 synth prompts exactly once" '[ "$(e "step <= 2")" = "12|12|12" ]'
check "epoch: step 3 (the next epoch) holds 4 distinct synth prompts" '[ "$(e "step = 3")" = "4|4|4" ]'
# K=11, step 1: positions 11..21, the last prompt of epoch 0 and 10 of epoch 1,
# which (for this seed) include that one again: it must be skipped.
newdb epoch11
"$ro" --db "$tmp/epoch11.db" --model "$tmp/small" --step 1 --dataset synth/arith --prompts 11 --group 1 \
    --max-new-tokens 2 --seed 5 --quiet >"$tmp/oute" 2>&1 || cat "$tmp/oute"
check "epoch: a step straddling two epochs (K=11, step 1) holds 11 distinct prompts" \
    '[ "$(q "$tmp/epoch11.db" "SELECT COUNT(*), COUNT(DISTINCT prompt_id) FROM rollouts")" = "11|11" ]'

# ---------------------------------------------------------------- 6. refusals
# On the basic database (steps 0 and 1 hold rows); step 9 is new. After each
# refusal the database is as it was.
cp -r "$tmp/small" "$tmp/ctx16" && sed -i 's/"max_position_embeddings":[[:space:]]*1024/"max_position_embeddings": 16/' "$tmp/ctx16/config.json"
model bigctx 3 "$(hf_config qwen2 64 2 4 2 96 768 false 16777216)"
model v100 4 "$(hf_config qwen2 64 2 4 2 96 100 false 1024)" "" && cp "$tiny"/tokenizer*.json "$tmp/v100/"
# The first prompt step 9 takes (what the context refusal must name): from a
# run on a copy.
q "$db" ".backup '$tmp/copy.db'"
"$ro" --db "$tmp/copy.db" --model "$tmp/small" --step 9 --prompts 4 --group 3 --max-new-tokens 2 --quiet >/dev/null 2>&1
first=$(q "$tmp/copy.db" "SELECT prompt_id FROM rollouts WHERE step = 9 ORDER BY id LIMIT 1")
before=$(dump "$db")
base=(--db "$db" --step 9 --prompts 4 --group 3 --max-new-tokens 16)
unchanged() { check "$1: the database is unchanged" '[ "$(dump "$db")" = "$before" ]'; }
expect_error "refuse K > the split's prompts" "has 12 prompts, fewer than the 13" \
    "$ro" --db "$db" --model "$tmp/small" --step 9 --dataset synth/arith --prompts 13 --group 2
unchanged "K > split"
expect_error "refuse a prompt longer than the context" "context (max_position_embeddings) is 16" \
    "$ro" "${base[@]}" --model "$tmp/ctx16"
check "the context refusal names the prompt (id $first)" '[ -n "$first" ] && grep -q "prompt $first " "$tmp/err"'
unchanged "context"
expect_error "refuse a KV cache that cannot fit: GiB" "GiB" \
    "$ro" --db "$db" --model "$tmp/bigctx" --step 9 --prompts 4 --group 16 --max-new-tokens 16000000 --batch 64
check "the KV cache refusal says to lower --batch" 'grep -q -- "--batch" "$tmp/err"'
unchanged "KV cache"
expect_error "refuse a tokenizer larger than the model's vocab" "vocab_size 100" "$ro" "${base[@]}" --model "$tmp/v100"
unchanged "vocab"
expect_error "refuse a missing database" "no such database" \
    "$ro" --db "$tmp/missing.db" --model "$tmp/small" --step 0 --prompts 1 --group 1
check "the missing database is not created" '[ ! -e "$tmp/missing.db" ]'
expect_error "refuse an unknown option" "unknown option --frobnicate" "$ro" "${base[@]}" --model "$tmp/small" --frobnicate 3
unchanged "unknown option"
expect_error "refuse --top-p 1.5" "--top-p 1.5" "$ro" "${base[@]}" --model "$tmp/small" --top-p 1.5
expect_error "refuse --top-p 0" "--top-p 0" "$ro" "${base[@]}" --model "$tmp/small" --top-p 0
expect_error "refuse --temperature -1" "--temperature -1" "$ro" "${base[@]}" --model "$tmp/small" --temperature -1
expect_error "refuse --batch 0" "--batch 0" "$ro" "${base[@]}" --model "$tmp/small" --batch 0
expect_error "refuse an unknown template" "unknown template 'nope'" "$ro" "${base[@]}" --model "$tmp/small" --template nope
expect_error "refuse a missing --group" "--group" "$ro" --db "$db" --model "$tmp/small" --step 9 --prompts 4
unchanged "bad values"

# ---------------------------------------------------------------- 7. stop strings
stoprun() { # stoprun NAME [--stop S ...]
    newdb "$1"
    "$ro" --db "$tmp/$1.db" --model "$tmp/small" --step 0 --prompts 4 --group 3 --max-new-tokens 48 --seed 3 \
        --quiet "${@:2}" >"$tmp/out$1" 2>&1 || cat "$tmp/out$1"
}
stoprun nostop
# A stop string: 3 lowercase letters from the middle third of the longest text,
# whose first occurrence ends there too (so a stop is well inside).
stop="" victim=""
for id in $(q "$tmp/nostop.db" "SELECT id FROM rollouts ORDER BY length(text) DESC"); do
    text=$(q "$tmp/nostop.db" "SELECT text FROM rollouts WHERE id = $id")
    n=${#text}
    for ((i = n / 3; i < 2 * n / 3 && i + 3 <= n; i++)); do
        s=${text:i:3}
        [[ "$s" =~ ^[abcdefghijklmnopqrstuvwxyz]{3}$ ]] || continue
        pre=${text%%"$s"*}
        if [ "${#pre}" -ge 1 ] && [ $((${#pre} + 3)) -le $((2 * n / 3)) ]; then stop=$s victim=$id; break 2; fi
    done
done
check "stop: found a stop string in a completion's middle ('$stop', row $victim)" '[ -n "$stop" ]'
stoprun withstop --stop "$stop"
sq() { q "$tmp/withstop.db" "ATTACH '$tmp/nostop.db' AS o; $1"; }
vic=$(q "$tmp/nostop.db" "SELECT prompt_id || ' ' || sample FROM rollouts WHERE id = ${victim:-0}")
vw="a.prompt_id = ${vic% *} AND a.sample = ${vic#* }"
check "stop: that completion now ends with finish_reason stop, its text holding '$stop'" \
    '[ -n "$vic" ] && [ "$(sq "SELECT a.finish_reason, instr(a.text, '"'"'$stop'"'"') > 0 FROM rollouts a WHERE $vw")" = "stop|1" ]'
check "stop: its ids and logprobs are a strict prefix of the run without --stop" \
    '[ -n "$vic" ] && [ "$(sq "SELECT a.n_tokens < b.n_tokens AND substr(b.completion_ids, 1, length(a.completion_ids)) = a.completion_ids
        AND substr(b.logprobs, 1, length(a.logprobs)) = a.logprobs FROM rollouts a JOIN o.rollouts b USING (prompt_id, sample) WHERE $vw")" = 1 ]'
check "stop: the string's first occurrence is at the text's end (in the last token)" \
    '[ -n "$vic" ] && [ "$(sq "SELECT length(a.text) - instr(a.text, '"'"'$stop'"'"') < 3 + 16 FROM rollouts a WHERE $vw")" = 1 ]'
check "stop: every row is a prefix of its run without --stop; rows without the string are identical" \
    '[ "$(sq "SELECT COUNT(*) FROM rollouts a JOIN o.rollouts b USING (prompt_id, sample) WHERE
        substr(b.completion_ids, 1, length(a.completion_ids)) = a.completion_ids AND
        (CASE WHEN instr(a.text, '"'"'$stop'"'"') > 0 THEN a.finish_reason = '"'"'stop'"'"'
         ELSE a.completion_ids = b.completion_ids AND a.finish_reason = b.finish_reason END)")" = 12 ]'
# \n in --stop is a newline.
stoprun nlstop --stop '\n'
nq() { q "$tmp/nlstop.db" "ATTACH '$tmp/nostop.db' AS o; $1"; }
check "stop: --stop '\\n' (a newline) stops exactly the completions whose text had one" \
    '[ "$(nq "SELECT COUNT(*) FROM o.rollouts WHERE instr(text, char(10)) > 0")" -ge 1 ] &&
     [ "$(nq "SELECT COUNT(*) FROM rollouts a JOIN o.rollouts b USING (prompt_id, sample) WHERE
        (instr(b.text, char(10)) > 0) = (a.finish_reason = '"'"'stop'"'"' AND instr(a.text, char(10)) > 0
         AND substr(b.completion_ids, 1, length(a.completion_ids)) = a.completion_ids)")" = 12 ]'

# ---------------------------------------------------------------- 8. greedy
newdb greedy
"$ro" --db "$tmp/greedy.db" --model "$tmp/small" --step 0 --prompts 4 --group 3 --max-new-tokens 24 \
    --temperature 0 --seed 9 --quiet >"$tmp/outg" 2>&1 || cat "$tmp/outg"
check "greedy: --temperature 0 gives the same completion and logprobs for every sample of a prompt" \
    '[ "$(q "$tmp/greedy.db" "SELECT COUNT(*), COUNT(DISTINCT prompt_id), COUNT(DISTINCT prompt_id || hex(completion_ids) || hex(logprobs))  FROM rollouts")" = "12|4|4" ]'

# ---------------------------------------------------------------- templates, system, context
newdb tpl
expect_error "--template qwen2.5 with a tokenizer lacking <|im_start|> is refused, naming the token" \
    "needs the token <|im_start|>" "$ro" --db "$tmp/tpl.db" --model "$tmp/small" --step 0 --prompts 2 \
    --group 1 --max-new-tokens 4 --template qwen2.5
"$ro" --db "$tmp/tpl.db" --model "$tmp/small" --step 0 --prompts 2 --group 1 --max-new-tokens 4 \
    --template r1-zero --quiet >/dev/null 2>&1
"$ro" --db "$tmp/tpl.db" --model "$tmp/small" --step 1 --prompts 2 --group 1 --max-new-tokens 4 \
    --system "Answer briefly." --quiet >/dev/null 2>&1
p0=$(q "$tmp/tpl.db" "SELECT prompt_id FROM rollouts WHERE step = 0 LIMIT 1")
p1=$(q "$tmp/tpl.db" "SELECT prompt_id FROM rollouts WHERE step = 1 LIMIT 1")
w0=$(prompt_hex "$tmp/tpl.db" "${p0:-0}" r1-zero) w1=$(prompt_hex "$tmp/tpl.db" "${p1:-0}" deepseek-r1 "Answer briefly.")
check "--template r1-zero: recorded (no prefill), prompt_ids as r1-model tokenize renders them" \
    '[ -n "$w0" ] && [ "$(q "$tmp/tpl.db" "SELECT template, prefill, hex(prompt_ids) = '"'"'$w0'"'"' FROM rollouts WHERE prompt_id = $p0 AND step = 0")" = "r1-zero||1" ]'
check "--system: the system message is in prompt_ids, as r1-model tokenize renders it" \
    '[ -n "$w1" ] && [ "$(q "$tmp/tpl.db" "SELECT hex(prompt_ids) FROM rollouts WHERE prompt_id = $p1 AND step = 1")" = "$w1" ]'
# A context of 120 positions: the longer synth prompts (up to ~75 tokens) leave
# fewer than --max-new-tokens 48; a completion ends ('length') where the context does.
cp -r "$tmp/small" "$tmp/ctx120" && sed -i 's/"max_position_embeddings":[[:space:]]*1024/"max_position_embeddings": 120/' "$tmp/ctx120/config.json"
newdb ctx
"$ro" --db "$tmp/ctx.db" --model "$tmp/ctx120" --step 0 --dataset synth/arith --prompts 12 --group 1 \
    --max-new-tokens 48 --quiet >/dev/null 2>&1
check "context: no row past 120 positions; rows cut by it end there as 'length' (some do)" \
    '[ "$(q "$tmp/ctx.db" "SELECT COUNT(*), SUM(length(prompt_ids) / 4 + n_tokens <= 120 AND (n_tokens = 48 OR
        finish_reason = '"'"'stop'"'"' OR length(prompt_ids) / 4 + n_tokens = 120)),
        SUM(n_tokens < 48 AND finish_reason = '"'"'length'"'"') > 0 FROM rollouts")" = "12|12|1" ]'

# ---------------------------------------------------------------- 9. the PyTorch reference
refpy="$R1_ROOT/tests/ref/rollout_ref.py"
if ! "$R1_PY" -c "import torch, safetensors" 2>/dev/null; then
    fail "reference: $R1_PY lacks torch or safetensors (scripts/install-deps.sh)"
else
    # Qwen2: attention biases, GQA 2, untied head. Llama: GQA 4, tied head.
    # Norm weights and biases are given random values first (init makes them 1 and 0).
    model refqwen 21 "$(hf_config qwen2 64 2 4 2 96 768 false 1024)"
    model refllama 22 "$(hf_config llama 64 2 8 2 96 768 true 1024)"
    for mdl in refqwen refllama; do
        [ -d "$tmp/$mdl" ] || continue
        "$R1_PY" "$refpy" perturb "$tmp/$mdl" 5 || { fail "$mdl: perturb"; continue; }
        newdb "$mdl"
        "$ro" --db "$tmp/$mdl.db" --model "$tmp/$mdl" --step 0 --prompts 3 --group 2 --max-new-tokens 32 \
            --temperature 0.8 --top-k 20 --seed 13 --quiet >"$tmp/out$mdl" 2>&1 || cat "$tmp/out$mdl"
        "$R1_PY" "$refpy" sampled "$tmp/$mdl.db" "$tmp/$mdl" 0 0.8 20 32 2e-3 ||
            fail "$mdl sampled: the reference found a difference (or failed)"
        "$ro" --db "$tmp/$mdl.db" --model "$tmp/$mdl" --step 1 --dataset synth/arith --prompts 2 --group 1 \
            --max-new-tokens 20 --temperature 0 --quiet >"$tmp/out$mdl" 2>&1 || cat "$tmp/out$mdl"
        "$R1_PY" "$refpy" greedy "$tmp/$mdl.db" "$tmp/$mdl" 1 20 2e-3 ||
            fail "$mdl greedy: the reference found a difference (or failed)"
    done
fi

# ---------------------------------------------------------------- 10. --device
# metrics_of DB: the step's rollout metrics but tokens/s (a timing).
metrics_of() { q "$1" "SELECT name, value FROM metrics WHERE name != 'rollout/tokens_per_s' ORDER BY name"; }
devrun() { # devrun NAME [flags]: step 0 of the small model on a fresh database NAME
    newdb "$1"
    "$ro" --db "$tmp/$1.db" --model "$tmp/small" --step 0 --prompts 4 --group 3 --max-new-tokens 32 \
        --seed 17 "${SAMPLE[@]}" --stop th --batch 5 "${@:2}" >"$tmp/out$1" 2>"$tmp/err$1"
}
devrun devnone
devrun devcpu --device cpu
check "--device cpu: exits 0, 12 rows" \
    '[ "$(q "$tmp/devcpu.db" "SELECT COUNT(*) FROM rollouts")" = 12 ] || { cat "$tmp/errdevcpu"; false; }'
check "--device cpu: rows byte-identical to no --device" \
    '[ -n "$(rows "$tmp/devnone.db" 0)" ] && [ "$(rows "$tmp/devcpu.db" 0)" = "$(rows "$tmp/devnone.db" 0)" ]'
check "--device cpu: the same metrics, rollout/device 0" \
    '[ "$(metrics_of "$tmp/devcpu.db")" = "$(metrics_of "$tmp/devnone.db")" ] &&
     [ "$(q "$tmp/devcpu.db" "SELECT value FROM metrics WHERE name = '"'"'rollout/device'"'"'")" = 0.0 ]'
newdb devjson
"$ro" --db "$tmp/devjson.db" --model "$tmp/small" --step 0 --prompts 2 --group 1 --max-new-tokens 4 \
    --device cpu --json >"$tmp/outjson" 2>&1
check "--json names the device" 'grep -q "\"device\":\"cpu\"" "$tmp/outjson"'
# Refusals on the basic database (step 9 is new there): nothing written.
before=$(dump "$db")
expect_error "--device tpu is refused, naming the device" "unknown device 'tpu'" \
    "$ro" "${base[@]}" --model "$tmp/small" --device tpu
check "--device tpu: exit status 2 (bad usage)" \
    '"$ro" "${base[@]}" --model "$tmp/small" --device tpu >/dev/null 2>&1; [ $? -eq 2 ]'
unchanged "--device tpu"
n_before=$(q "$db" "SELECT COUNT(*) FROM rollouts"):$(q "$db" "SELECT COUNT(*) FROM metrics")
# The demo config (head_dim 32: the GPU's kernels take 32, 64 or 128).
"$ro" "${base[@]}" --model "$tmp/tinym" --seed 17 "${SAMPLE[@]}" --device cuda >"$tmp/outcuda" 2>"$tmp/errcuda"
cuda_rc=$?
if [ "$cuda_rc" -ne 0 ]; then
    # This machine has no usable GPU (or the build has no CUDA): r1_gpu_new says which.
    check "--device cuda without a usable GPU: fails, saying why (rc $cuda_rc: $(head -c 200 "$tmp/errcuda"))" \
        'grep -qi "cuda" "$tmp/errcuda" && grep -qE "no CUDA device is usable|built without CUDA" "$tmp/errcuda"'
    check "--device cuda without a usable GPU: no rollouts or metrics written" \
        '[ "$(q "$db" "SELECT COUNT(*) FROM rollouts"):$(q "$db" "SELECT COUNT(*) FROM metrics")" = "$n_before" ]'
    unchanged "--device cuda"
else
    # A GPU is usable: the step is there, decoded on it, and reproducible.
    check "--device cuda: 12 rows in bounds, rollout/device 1" \
        '[ "$(q "$db" "SELECT COUNT(*), SUM(n_tokens BETWEEN 1 AND 16 AND n_tokens * 4 = length(logprobs)) FROM rollouts WHERE step = 9")" = "12|12" ] &&
         [ "$(q "$db" "SELECT value FROM metrics WHERE stage = '"'"'rollout'"'"' AND step = 9 AND name = '"'"'rollout/device'"'"'")" = 1.0 ]'
    q "$db" ".backup '$tmp/cuda2.db'"
    "$ro" --db "$tmp/cuda2.db" --step 9 --prompts 4 --group 3 --max-new-tokens 16 --model "$tmp/tinym" \
        --seed 17 "${SAMPLE[@]}" --device cuda --force >/dev/null 2>&1
    check "--device cuda: the same seed and batch give identical rows" '[ "$(rows "$tmp/cuda2.db" 9)" = "$(rows "$db" 9)" ]'
    for t in 0 1; do # sampling on the GPU (no top-k / top-p cut): greedy and T = 1
        newdb "cudat$t"
        "$ro" --db "$tmp/cudat$t.db" --model "$tmp/tinym" --step 0 --prompts 4 --group 3 --max-new-tokens 24 \
            --seed 9 --temperature "$t" --device cuda --quiet >"$tmp/outct" 2>&1 || cat "$tmp/outct"
        check "--device cuda, --temperature $t (sampled on the GPU): 12 rows" \
            '[ "$(q "$tmp/cudat$t.db" "SELECT COUNT(*) FROM rollouts WHERE n_tokens BETWEEN 1 AND 24")" = 12 ]'
    done
    check "--device cuda, greedy: every sample of a prompt is the same completion" \
        '[ "$(q "$tmp/cudat0.db" "SELECT COUNT(DISTINCT prompt_id), COUNT(DISTINCT prompt_id || hex(completion_ids)) FROM rollouts")" = "4|4" ]'
fi

finish
