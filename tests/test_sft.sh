#!/usr/bin/env bash
# bin/r1-sft end to end, on random-weight models (configs/tiny and a smaller
# one) and run databases made by r1-data:
#   1. overfit: 4 short reasoning samples, 80 epochs of one batch each at a
#      constant lr -> the final loss is below 0.05 and greedy `r1-model
#      generate` from the checkpoint reproduces each assistant text after the
#      template's "<think>\n" prefill; the checkpoint is a complete directory
#   2. exact resume: a run with --save-every 2 killed (kill -9) after its first
#      checkpoint and continued with --resume ends with model.safetensors,
#      optimizer.safetensors and trainer_state.json equal to an uninterrupted
#      run's, bit for bit, and the same per-step losses after the checkpoint;
#      --resume of a finished run changes nothing; --resume with another --seed
#      is refused (the checkpoint kept); --resume with no checkpoint starts fresh
#   3. metrics and checkpoints rows: sft/train_loss, sft/lr, sft/grad_norm,
#      sft/tokens_per_s at every step with --log-every 1, sft/eval_loss at the
#      checkpoints with --eval-split 0.3, the lr on the warmup + cosine schedule
#      of core/optim.h, one checkpoints row (stage sft) per checkpoint
#   4. refusals that name the problem: no samples of the kind, a sample with
#      no assistant turn (named by id), an unknown --kind, a template whose
#      special tokens the tokenizer lacks, a sample whose role is unknown
#   5. --device: cpu is the default (model, optimizer, trainer_state.json,
#      metrics, --dry-run dump equal to no flag's, bit for bit; the state says
#      "device": "cpu"); an unknown device is refused by name; cuda without a
#      usable GPU (or in a build without CUDA) fails before writing anything
#      (no --out, no rows; a --resume leaves the rows it would redo), and with a
#      GPU trains to a final loss near the CPU's; a checkpoint whose state does
#      not name its device (an older r1c's) still resumes
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
sft="$R1_BIN/r1-sft"
tiny="$R1_ROOT/configs/tiny"

needs --torch r1-sft r1-data r1-model
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"


# model NAME SEED CONFIG_FILE: a random checkpoint in $tmp/NAME with the tiny tokenizer.
model() {
    if ! "$R1_BIN/r1-model" init --config "$3" --tokenizer "$tiny" --out "$tmp/$1" --seed "$2" \
        >"$tmp/$1.log" 2>&1; then
        cat "$tmp/$1.log"
        fail "r1-model init $1"
        return 1
    fi
}

# database NAME KIND JSONL: $tmp/NAME.db holding the file's samples.
database() {
    rm -f "$tmp/$1.db"
    if ! "$R1_BIN/r1-data" init --db "$tmp/$1.db" >/dev/null ||
        ! "$R1_BIN/r1-data" import --db "$tmp/$1.db" --format messages --kind "$2" --quiet "$3"; then
        fail "database $1"
        return 1
    fi
}
copydb() { rm -f "$tmp/$2.db"; q "$tmp/$1.db" ".backup '$tmp/$2.db'"; } # copydb FROM TO

# same_tensors A B: every tensor of safetensors files A and B equal bit for bit.
same_tensors() {
    "$R1_PY" - "$1" "$2" <<'EOF'
import sys, torch
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
bits = lambda t: t.contiguous().view(torch.int32) if t.element_size() == 4 else t
sys.exit(0 if a.keys() == b.keys() and all(
    a[k].shape == b[k].shape and a[k].dtype == b[k].dtype and torch.equal(bits(a[k]), bits(b[k]))
    for k in a) else 1)
EOF
}

# same_run A B: the two checkpoint directories hold the same model, optimizer and state.
same_run() {
    same_tensors "$1/model.safetensors" "$2/model.safetensors" &&
        same_tensors "$1/optimizer.safetensors" "$2/optimizer.safetensors" &&
        cmp -s "$1/trainer_state.json" "$2/trainer_state.json"
}

# json_field FILE KEY: a number of a one-line JSON summary.
json_field() { "$R1_PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# state_step DIR: the step of DIR/trainer_state.json (empty when there is none).
state_step() { grep -o '"step":[[:space:]]*[0-9]*' "$1/trainer_state.json" 2>/dev/null | grep -o '[0-9]*$'; }

# ------------------------------------------------------------------ 1. overfit

cat >"$tmp/small.json" <<'EOF'
{"model_type":"qwen2","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"vocab_size":768,"max_position_embeddings":256,"rms_norm_eps":1e-06,"rope_theta":10000.0,"tie_word_embeddings":true,"initializer_range":0.02,"bos_token_id":1,"eos_token_id":2,"hidden_act":"silu","torch_dtype":"float32"}
EOF
questions=("What is 2+3?" "What is 4+4?" "What is 7-2?" "What is 3*3?")
answers=('2+3=5' '4+4=8' '7-2=5' '3*3=9')
for i in 0 1 2 3; do
    r=${answers[$i]##*=}
    printf '{"messages":[{"role":"user","content":"%s"},{"role":"assistant","content":"<think>\\n%s\\n</think>\\n<answer>\\n%s\\n</answer>"}]}\n' \
        "${questions[$i]}" "${answers[$i]}" "$r"
done >"$tmp/overfit.jsonl"
if model small 5 "$tmp/small.json" && database overfit cold_start "$tmp/overfit.jsonl"; then
    t0=$SECONDS
    if "$sft" --db "$tmp/overfit.db" --kind cold_start --model "$tmp/small" --out "$tmp/overfit" \
        --epochs 80 --pack --batch-tokens 100000 --lr 3e-3 --schedule constant --log-every 1 \
        --json >"$tmp/overfit.out" 2>"$tmp/overfit.err"; then
        final=$(json_field "$tmp/overfit.out" final_loss)
        check "overfit: 80 steps in $((SECONDS - t0)) s, final loss $final < 0.05" \
            '"$R1_PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 0.05 else 1)" "$final"'
        last=$(q "$tmp/overfit.db" "SELECT value FROM metrics WHERE stage = 'sft' AND name = 'sft/train_loss' AND step = 80")
        check "overfit: the metrics row sft/train_loss at step 80 ($last) is the final loss" \
            '"$R1_PY" -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= 1e-6 else 1)" "$last" "$final"'
        check "overfit: the checkpoint holds config, weights, tokenizer, optimizer and state (step 80)" \
            'for f in config.json model.safetensors tokenizer.json tokenizer_config.json optimizer.safetensors trainer_state.json; do [ -s "$tmp/overfit/$f" ] || exit 1; done; [ "$(state_step "$tmp/overfit")" = 80 ]'
        for i in 0 1 2 3; do
            r=${answers[$i]##*=}
            want=$(printf '%s\n</think>\n<answer>\n%s\n</answer>' "${answers[$i]}" "$r")
            got=$("$R1_BIN/r1-model" generate --model "$tmp/overfit" --prompt "${questions[$i]}" \
                --temperature 0 --max-new-tokens 40 2>"$tmp/gen.err")
            if [ "$got" = "$want" ]; then
                pass "overfit: greedy generate reproduces '${questions[$i]}' -> $(printf %q "$got") ($(cat "$tmp/gen.err"))"
            else
                fail "overfit: greedy generate of '${questions[$i]}': got $(printf %q "$got"), want $(printf %q "$want")"
            fi
        done
    else
        fail "overfit: r1-sft failed: $(head -c 300 "$tmp/overfit.err")"
    fi
fi

# ------------------------------------------------------------------ 2. exact resume

# 12 samples of different lengths; about 3 per batch, 2 epochs: 16 steps on
# the tiny config, slow enough to kill between checkpoints.
for i in $(seq 1 12); do
    a=$((i * 7 + 3)) b=$((i * i + 11))
    steps=$(for ((k = 0; k < i % 4 + 1; k++)); do printf '%d+%d=%d. ' "$a" "$k" $((a + k)); done)
    printf '{"messages":[{"role":"user","content":"Add %d and %d."},{"role":"assistant","content":"<think>\\n%s%d+%d=%d\\n</think>\\n<answer>\\n%d\\n</answer>"}]}\n' \
        "$a" "$b" "$steps" "$a" "$b" $((a + b)) $((a + b))
done >"$tmp/resume.jsonl"
model tiny 6 "$tiny/config.json"
database resume cold_start "$tmp/resume.jsonl"
copydb resume runA && copydb resume runB && copydb resume runC
run=(--kind cold_start --model "$tmp/tiny" --epochs 2 --batch-tokens 130 --pack --lr 1e-3
     --warmup 2 --save-every 2 --log-every 1 --seed 7 --quiet)
t0=$SECONDS
"$sft" --db "$tmp/runA.db" --out "$tmp/A" "${run[@]}" 2>"$tmp/A.err"
check "resume: uninterrupted run A ($(state_step "$tmp/A") steps, $((SECONDS - t0)) s)" \
    '[ -s "$tmp/A/model.safetensors" ] && [ "$(state_step "$tmp/A")" -ge 8 ]'
total=$(state_step "$tmp/A")

# Run B, killed once a checkpoint of step >= 2 is in place.
"$sft" --db "$tmp/runB.db" --out "$tmp/B" "${run[@]}" 2>"$tmp/B.err" &
pid=$!
killed_at=
for ((w = 0; w < 6000; w++)); do
    s=$(state_step "$tmp/B")
    if [ -n "$s" ] && [ "$s" -ge 2 ]; then
        kill -9 "$pid" 2>/dev/null && killed_at=$s
        break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
done
wait "$pid" 2>/dev/null
at=$(state_step "$tmp/B")
if [ -n "$killed_at" ] && [ "${at:-0}" -lt "$total" ]; then
    pass "resume: run B killed with kill -9, its checkpoint at step ${at:-none} of $total"
else
    echo "note: run B was not killed between checkpoints (checkpoint step ${at:-none} of $total); the resume below is then a no-op"
fi
t0=$SECONDS
"$sft" --db "$tmp/runB.db" --out "$tmp/B" "${run[@]}" --resume 2>"$tmp/B2.err"
check "resume: run B continued with --resume ($((SECONDS - t0)) s) ends equal to A bit for bit (model, optimizer, state)" \
    'same_run "$tmp/A" "$tmp/B"'
# The per-step losses, lrs and gradient norms after the checkpoint (the last row of each step).
last_rows() {
    q "$1" "SELECT name, step, value, max(rowid) FROM metrics WHERE stage = 'sft' AND step > ${2:-0}
            AND name IN ('sft/train_loss', 'sft/lr', 'sft/grad_norm') GROUP BY name, step ORDER BY name, step" |
        cut -d'|' -f1-3
}
check "resume: B's per-step train_loss, lr and grad_norm after step ${at:-0} equal A's" \
    '[ -n "$(last_rows "$tmp/runA.db" "${at:-0}")" ] && [ "$(last_rows "$tmp/runA.db" "${at:-0}")" = "$(last_rows "$tmp/runB.db" "${at:-0}")" ]'
cp -r "$tmp/B" "$tmp/B.before"
check "resume: --resume of a finished run is a no-op (exit 0, files unchanged)" \
    '"$sft" --db "$tmp/runB.db" --out "$tmp/B" "${run[@]}" --resume 2>"$tmp/err" &&
     for f in model.safetensors optimizer.safetensors trainer_state.json; do cmp -s "$tmp/B/$f" "$tmp/B.before/$f" || exit 1; done'
other=("${run[@]}")
other[${#other[@]} - 2]=8 # --seed 7 -> 8
expect_error "resume: a checkpoint of another --seed is refused" "different run" \
    "$sft" --db "$tmp/runB.db" --out "$tmp/B" "${other[@]}" --resume
check "resume: the refused resume leaves the checkpoint as it was" 'same_run "$tmp/B" "$tmp/B.before"'
expect_error "resume: a checkpoint of another --epochs is refused" "different run" \
    "$sft" --db "$tmp/runB.db" --out "$tmp/B" "${run[@]}" --epochs 3 --resume
"$sft" --db "$tmp/runC.db" --out "$tmp/C" "${run[@]}" --resume 2>"$tmp/C.err"
check "resume: --resume with no checkpoint starts fresh, equal to A" 'same_run "$tmp/A" "$tmp/C"'

# ------------------------------------------------------------------ 2b. micro-batches
# --micro-batch-tokens splits each batch for gradient accumulation; the gradient
# is still the batch's. At --lr 0 the weights stay put, so every step's loss and
# gradient norm (before clipping) must agree with one chunk per batch to float
# rounding (1e-5 relative: the products have other shapes).
copydb resume micro1 && copydb resume micro2
for k in 1 2; do
    [ "$k" = 1 ] && mt=() || mt=(--micro-batch-tokens 60)
    "$sft" --db "$tmp/micro$k.db" --kind cold_start --model "$tmp/tiny" --out "$tmp/M$k" --epochs 1 \
        --batch-tokens 400 "${mt[@]}" --pack --lr 0 --max-grad-norm 0 --log-every 1 --seed 7 \
        --quiet >/dev/null 2>&1
done
metric_rows() { q "$tmp/$1.db" "SELECT step, name, value FROM metrics WHERE stage = 'sft' AND name IN ('sft/train_loss', 'sft/grad_norm') ORDER BY step, name"; }
worst=$("$R1_PY" - "$(metric_rows micro1)" "$(metric_rows micro2)" <<'EOF'
import sys
a = [l.split("|") for l in sys.argv[1].splitlines()]
b = [l.split("|") for l in sys.argv[2].splitlines()]
ok = len(a) == len(b) > 2 and all(x[:2] == y[:2] for x, y in zip(a, b))
print(f"{max(abs(float(x[2]) - float(y[2])) / abs(float(x[2])) for x, y in zip(a, b)):.2e}" if ok else "mismatch")
EOF
)
check "--micro-batch-tokens 60 (several chunks a batch): same loss and gradient norm each step (relerr ${worst:-?})" \
    '[ -n "$worst" ] && [ "$worst" != mismatch ] && awk "BEGIN { exit !($worst <= 1e-5) }"'

# ------------------------------------------------------------------ 3. metrics

copydb resume metrics
if "$sft" --db "$tmp/metrics.db" --out "$tmp/M" --kind cold_start --model "$tmp/small" --epochs 3 \
    --batch-tokens 130 --pack --lr 2e-3 --warmup 3 --schedule cosine --min-lr-ratio 0.1 \
    --eval-split 0.3 --save-every 4 --log-every 1 --json >"$tmp/M.out" 2>"$tmp/M.err"; then
    steps=$(json_field "$tmp/M.out" steps)
    n_eval=$(json_field "$tmp/M.out" eval_samples)
    n_train=$(json_field "$tmp/M.out" train_samples)
    names=$(q "$tmp/metrics.db" "SELECT name || ':' || COUNT(*) FROM metrics WHERE stage = 'sft' GROUP BY name ORDER BY name" | tr '\n' ' ')
    echo "metrics run: $steps steps, $n_train train + $n_eval held-out samples; rows: $names"
    check "metrics: $n_eval of 12 samples held out by --eval-split 0.3, the rest trained on" \
        '[ "$n_eval" -ge 1 ] && [ "$n_eval" -le 8 ] && [ $((n_train + n_eval)) -eq 12 ]'
    want_ckpt=$(for ((s = 4; s < steps; s += 4)); do echo "$s"; done; echo "$steps")
    check "metrics: train_loss, lr, grad_norm, tokens_per_s at every step 1..$steps" \
        'for n in train_loss lr grad_norm tokens_per_s; do
             [ "$(q "$tmp/metrics.db" "SELECT group_concat(step) FROM (SELECT step FROM metrics WHERE stage = '"'"'sft'"'"' AND name = '"'"'sft/$n'"'"' AND value IS NOT NULL ORDER BY step)")" = "$(seq -s, 1 "$steps")" ] || exit 1
         done'
    check "metrics: eval_loss at the checkpoints ($(echo $want_ckpt)), equal to the summary's at the end" \
        '[ "$(q "$tmp/metrics.db" "SELECT step FROM metrics WHERE stage = '"'"'sft'"'"' AND name = '"'"'sft/eval_loss'"'"' ORDER BY step")" = "$want_ckpt" ] &&
         "$R1_PY" -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= 1e-6 and float(sys.argv[1]) > 0 else 1)" \
             "$(q "$tmp/metrics.db" "SELECT value FROM metrics WHERE stage = '"'"'sft'"'"' AND name = '"'"'sft/eval_loss'"'"' AND step = $steps")" "$(json_field "$tmp/M.out" eval_loss)"'
    check "metrics: one checkpoints row per checkpoint, stage sft, the --out path" \
        '[ "$(q "$tmp/metrics.db" "SELECT group_concat(step || '"'"' '"'"' || stage || '"'"' '"'"' || path, '"'"';'"'"') FROM (SELECT * FROM checkpoints ORDER BY step)")" = \
           "$(for s in $want_ckpt; do printf "%s sft %s;" "$s" "$(realpath "$tmp/M")"; done | sed "s/;$//")" ]'
    # core/optim.h: lr(s) for 0-based step s (the row of step s + 1):
    #   s < warmup: peak (s + 1) / warmup; else floor + (peak - floor) 0.5 (1 + cos(pi p)),
    #   p = min(1, (s - warmup) / max(1, total - warmup)), floor = peak * min_lr_ratio.
    if q "$tmp/metrics.db" "SELECT step, value FROM metrics WHERE stage = 'sft' AND name = 'sft/lr' ORDER BY step" |
        "$R1_PY" -c '
import math, sys
peak, warmup, total, ratio = 2e-3, 3, int(sys.argv[1]), 0.1
worst = 0.0
for line in sys.stdin:
    step, got = line.split("|")
    s = int(step) - 1
    if s < warmup:
        want = peak * (s + 1) / warmup
    else:
        p = min(1.0, (s - warmup) / max(1, total - warmup))
        floor = peak * ratio
        want = floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * p))
    worst = max(worst, abs(float(got) - want) / want)
print(f"max relative error {worst:.3g}", end="")
sys.exit(0 if worst <= 1e-9 else 1)' "$steps" >"$tmp/lr.out" 2>&1; then
        pass "metrics: sft/lr follows warmup 3 + cosine to 0.1 of the peak over $steps steps ($(cat "$tmp/lr.out"))"
    else
        fail "metrics: sft/lr off the warmup + cosine schedule ($(tail -c 300 "$tmp/lr.out"))"
    fi
else
    fail "metrics: r1-sft failed: $(head -c 300 "$tmp/M.err")"
fi

# ------------------------------------------------------------------ 4. refusals

expect_error "refuses a kind with no samples" "no sft_samples of kind distill" \
    "$sft" --db "$tmp/overfit.db" --kind distill --model "$tmp/small" --out "$tmp/E1"
copydb overfit noasst
q "$tmp/noasst.db" "INSERT INTO sft_samples (kind, prompt, response, messages, content_hash)
                   VALUES ('cold_start', 'Only a question?', '', '[{\"role\":\"user\",\"content\":\"Only a question?\"}]', 'test-no-assistant')"
id=$(q "$tmp/noasst.db" "SELECT id FROM sft_samples WHERE content_hash = 'test-no-assistant'")
rows=$(q "$tmp/noasst.db" "SELECT COUNT(*) FROM metrics"):$(q "$tmp/noasst.db" "SELECT COUNT(*) FROM checkpoints")
expect_error "refuses a sample with no assistant turn, naming it (id $id)" "sft sample $id has no assistant turn" \
    "$sft" --db "$tmp/noasst.db" --kind cold_start --model "$tmp/small" --out "$tmp/E2"
check "the refused run wrote no checkpoint, no metrics and no checkpoints row" \
    '[ ! -e "$tmp/E2" ] && [ "$(q "$tmp/noasst.db" "SELECT COUNT(*) FROM metrics"):$(q "$tmp/noasst.db" "SELECT COUNT(*) FROM checkpoints")" = "$rows" ]'
q "$tmp/noasst.db" "INSERT INTO sft_samples (kind, prompt, response, messages, content_hash)
                   VALUES ('reasoning', 'q', 'r', '[{\"role\":\"robot\",\"content\":\"x\"}]', 'test-bad-role')"
id=$(q "$tmp/noasst.db" "SELECT id FROM sft_samples WHERE content_hash = 'test-bad-role'")
expect_error "refuses a message with an unknown role, naming the sample (id $id)" "sft sample $id: message 0 needs a role" \
    "$sft" --db "$tmp/noasst.db" --kind reasoning --model "$tmp/small" --out "$tmp/E3"
expect_error "refuses an unknown --kind" "'bogus' is not one of" \
    "$sft" --db "$tmp/overfit.db" --kind cold_start,bogus --model "$tmp/small" --out "$tmp/E4"
expect_error "refuses a template whose tokens the tokenizer lacks" "needs the token" \
    "$sft" --db "$tmp/overfit.db" --kind cold_start --model "$tmp/small" --out "$tmp/E5" --template qwen2.5
expect_error "refuses a missing database" "no such database" \
    "$sft" --db "$tmp/none.db" --kind cold_start --model "$tmp/small" --out "$tmp/E6"
expect_error "refuses --loss other than assistant or all" "assistant or all" \
    "$sft" --db "$tmp/overfit.db" --kind cold_start --model "$tmp/small" --out "$tmp/E7" --loss prompt
check "no refused run left an --out directory" \
    'for d in E1 E3 E4 E5 E6 E7; do [ ! -e "$tmp/$d" ] || exit 1; done'

# ------------------------------------------------------------------ 5. --device
# The resume samples on the tiny model (head_dim 32, which the GPU backend
# takes), one epoch with micro-batches, eval loss and two checkpoints.
dev=(--kind cold_start --model "$tmp/tiny" --epochs 1 --batch-tokens 200 --micro-batch-tokens 90 --pack
     --lr 1e-3 --warmup 1 --eval-split 0.25 --save-every 2 --log-every 1 --seed 3 --json)
dev_rows() { # the run's metrics but sft/tokens_per_s, and its checkpoints rows
    q "$tmp/$1.db" "SELECT stage, step, name, value FROM metrics WHERE name != 'sft/tokens_per_s' ORDER BY rowid"
    q "$tmp/$1.db" "SELECT stage, step, replace(path, '$(cd "$tmp" && pwd -P)/$1', 'OUT') FROM checkpoints ORDER BY id"
}
dev_json() { sed 's/"tokens_per_s":[0-9.]*,//; s/,"device":"[a-z]*"}$/}/' "$tmp/$1.out"; }
copydb resume D0 && copydb resume D1
"$sft" --db "$tmp/D0.db" --out "$tmp/D0" "${dev[@]}" >"$tmp/D0.out" 2>"$tmp/D0.err"
"$sft" --db "$tmp/D1.db" --out "$tmp/D1" "${dev[@]}" --device cpu >"$tmp/D1.out" 2>"$tmp/D1.err"
check "--device cpu: exits 0 like no flag; the summaries and trainer_state.json say device cpu ($(cat "$tmp/D1.out"))" \
    '[ -s "$tmp/D0/model.safetensors" ] && [ -s "$tmp/D1/model.safetensors" ] &&
     grep -q "\"device\":\"cpu\"}$" "$tmp/D0.out" && grep -q "\"device\":\"cpu\"}$" "$tmp/D1.out" &&
     grep -q "\"device\":[[:space:]]*\"cpu\"" "$tmp/D1/trainer_state.json" || { cat "$tmp/D0.err" "$tmp/D1.err"; false; }'
check "--device cpu: model, optimizer and trainer_state.json equal no flag's, bit for bit" 'same_run "$tmp/D0" "$tmp/D1"'
check "--device cpu: the same sft/* metrics (eval loss included; tokens/s aside), checkpoints rows and summary" \
    '[ -n "$(q "$tmp/D0.db" "SELECT 1 FROM metrics WHERE name = '"'"'sft/eval_loss'"'"' LIMIT 1")" ] &&
     [ "$(dev_rows D0)" = "$(dev_rows D1)" ] && [ "$(dev_json D0)" = "$(dev_json D1)" ]'
for k in 0 1; do
    [ $k = 1 ] && flag=(--device cpu) || flag=()
    "$sft" --db "$tmp/resume.db" --kind cold_start --model "$tmp/tiny" --batch-tokens 200 --pack --seed 3 \
        --dry-run --dump "$tmp/Ddump$k.safetensors" "${flag[@]}" >"$tmp/Ddump$k.out" 2>/dev/null
done
check "--device cpu: the --dry-run dump and its line equal no flag's ($(cat "$tmp/Ddump1.out"))" \
    '[ -s "$tmp/Ddump0.safetensors" ] && cmp -s "$tmp/Ddump0.safetensors" "$tmp/Ddump1.safetensors" &&
     [ -s "$tmp/Ddump0.out" ] && cmp -s "$tmp/Ddump0.out" "$tmp/Ddump1.out"'
expect_error "--device tpu is refused, naming it" "unknown device 'tpu'" \
    "$sft" --db "$tmp/resume.db" --out "$tmp/Dtpu" "${dev[@]}" --device tpu
check "--device tpu: a usage error (exit 2), nothing written" \
    '"$sft" --db "$tmp/resume.db" --out "$tmp/Dtpu" "${dev[@]}" --device tpu >/dev/null 2>&1; [ $? -eq 2 ] && [ ! -e "$tmp/Dtpu" ]'
# --device cuda: a fresh run, and a --resume of D0 (finished) after a metrics row
# was added past its last step, which a resume on the CPU would redo (delete)
copydb resume Dc
q "$tmp/D0.db" "INSERT INTO metrics (stage, step, name, value) VALUES ('sft', $(($(state_step "$tmp/D0") + 5)), 'sft/train_loss', 1)"
rows() { q "$tmp/$1.db" "SELECT (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM checkpoints)"; }
before=$(rows Dc) before0=$(rows D0)
cp -r "$tmp/D0" "$tmp/D0.before"
"$sft" --db "$tmp/Dc.db" --out "$tmp/Dcuda" "${dev[@]}" --device cuda >"$tmp/Dc.out" 2>"$tmp/Dc.err"
rc=$?
"$sft" --db "$tmp/D0.db" --out "$tmp/D0" "${dev[@]}" --resume --device cuda >"$tmp/Dr.out" 2>"$tmp/Dr.err"
rc_resume=$?
if [ $rc -ne 0 ]; then
    check "--device cuda with no usable GPU: exit 1, the message names CUDA ($(head -c 200 "$tmp/Dc.err"))" \
        '[ $rc -eq 1 ] && grep -qi cuda "$tmp/Dc.err"'
    check "--device cuda with no usable GPU: no --out (nor its temporary), no metrics or checkpoints rows" \
        '[ -z "$(ls -d "$tmp"/Dcuda* 2>/dev/null)" ] && [ "$(rows Dc)" = "$before" ]'
    check "--device cuda --resume with no usable GPU: exit 1, the checkpoint and every row kept" \
        '[ $rc_resume -eq 1 ] && grep -qi cuda "$tmp/Dr.err" && same_run "$tmp/D0" "$tmp/D0.before" && [ "$(rows D0)" = "$before0" ]'
    if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU' &&
        ! grep -q "built without CUDA" "$tmp/Dc.err"; then
        fail "--device cuda failed on a machine with a GPU: $(head -c 300 "$tmp/Dc.err")"
    fi
else
    check "--device cuda (a GPU): a checkpoint whose state says cuda, its rows ($(cat "$tmp/Dc.out"))" \
        '[ -s "$tmp/Dcuda/model.safetensors" ] && [ -s "$tmp/Dcuda/optimizer.safetensors" ] &&
         grep -q "\"device\":[[:space:]]*\"cuda\"" "$tmp/Dcuda/trainer_state.json" &&
         grep -q "\"device\":\"cuda\"}$" "$tmp/Dc.out" &&
         [ "$(q "$tmp/Dc.db" "SELECT COUNT(*) FROM checkpoints")" = "$(q "$tmp/D1.db" "SELECT COUNT(*) FROM checkpoints")" ]'
    check "--device cuda (a GPU): final and eval loss within 3% of the CPU's ($(cat "$tmp/D0.out"))" \
        '"$R1_PY" -c "import sys; a, b, c, d = map(float, sys.argv[1:]); sys.exit(not (abs(a - b) <= 0.03 * b and abs(c - d) <= 0.03 * d))" \
             "$(json_field "$tmp/Dc.out" final_loss)" "$(json_field "$tmp/D0.out" final_loss)" \
             "$(json_field "$tmp/Dc.out" eval_loss)" "$(json_field "$tmp/D0.out" eval_loss)"'
    check "--device cuda --resume of the CPU's finished run: a no-op (exit 0, the weights kept)" \
        '[ $rc_resume -eq 0 ] && same_tensors "$tmp/D0/model.safetensors" "$tmp/D0.before/model.safetensors"'
fi
# an older r1c's checkpoint: trainer_state.json without "device"
cp -r "$tmp/D1" "$tmp/Dold"
"$R1_PY" - "$tmp/Dold/trainer_state.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
del s["device"]
json.dump(s, open(sys.argv[1], "w"), indent="\t")
EOF
copydb D1 Dold
check "--resume of a checkpoint whose state does not name its device (an older r1c's): accepted, a no-op" \
    '"$sft" --db "$tmp/Dold.db" --out "$tmp/Dold" "${dev[@]}" --resume >/dev/null 2>"$tmp/Dold.err" &&
     same_tensors "$tmp/Dold/model.safetensors" "$tmp/D1/model.safetensors" || { cat "$tmp/Dold.err"; false; }'
finish
