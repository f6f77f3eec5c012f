#!/usr/bin/env bash
# bin/r1-model as a user meets it: sizes of real configurations, deterministic init,
# bf16 checkpoints, and clear, non-zero refusals of bad input that name what is wrong.
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh).
set -uo pipefail
: "${R1_BIN:?}" "${R1_ROOT:?}"
. "$(dirname "$0")/lib.sh"
m="$R1_BIN/r1-model"
fx="$R1_ROOT/tests/fixtures/configs"


# Parameter counts published for these models.
for spec in r1-distill-qwen-1.5b:1777088000 r1-distill-llama-8b:8030261248; do
    name=${spec%%:*} want=${spec##*:}
    mkdir -p "$tmp/$name"
    cp "$fx/$name.json" "$tmp/$name/config.json"
    got=$("$m" info --model "$tmp/$name" --json | sed -n 's/.*"parameters":\([0-9]*\).*/\1/p')
    check "info $name has $want parameters (got $got)" '[ "$got" = "$want" ]'
done
check "info prints llama3 scaling" '"$m" info --model "$tmp/r1-distill-llama-8b" | grep -q "llama3 scaling"'

cfg="$R1_ROOT/configs/tiny/config.json"
"$m" init --config "$cfg" --out "$tmp/a" --seed 5 && "$m" init --config "$cfg" --out "$tmp/b" --seed 5 &&
    "$m" init --config "$cfg" --out "$tmp/c" --seed 6
check "init: same seed, identical checkpoint" 'cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors"'
check "init: other seed, other weights" '! cmp -s "$tmp/a/model.safetensors" "$tmp/c/model.safetensors"'
check "init: no temporary files left" '[ -z "$(ls "$tmp/a" | grep -v -e "^config.json$" -e "^model.safetensors$")" ]'

"$m" init --config "$cfg" --out "$tmp/bf" --seed 5 --dtype bf16
check "init --dtype bf16 is half the size" \
    '[ $(stat -c %s "$tmp/bf/model.safetensors") -lt $(( $(stat -c %s "$tmp/a/model.safetensors") * 6 / 10 )) ]'
check "bf16 config says bfloat16" 'grep -q "\"bfloat16\"" "$tmp/bf/config.json"'
check "forward runs on a bf16 checkpoint" '"$m" forward --model "$tmp/bf" --tokens "1 2 3" --out "$tmp/f.st"'

"$m" init --config "$cfg" --out "$tmp/sh" --seed 5 --max-shard-size 1M
check "init --max-shard-size 1M writes an index and 4 shards" \
    '[ -f "$tmp/sh/model.safetensors.index.json" ] && [ -f "$tmp/sh/model-00004-of-00004.safetensors" ]'
"$m" forward --model "$tmp/a" --tokens "1 2 3" --targets "2 3 4" --out "$tmp/single.st"
"$m" forward --model "$tmp/sh" --tokens "1 2 3" --targets "2 3 4" --out "$tmp/sharded.st"
check "sharded and single-file checkpoints compute identical outputs" 'cmp -s "$tmp/single.st" "$tmp/sharded.st"'

expect_error "unknown command" "unknown command" "$m" frobnicate
expect_error "forward without --model" "needs --model" "$m" forward --tokens "1" --out "$tmp/x"
expect_error "token outside the vocabulary" "token 2 has id 5000" \
    "$m" forward --model "$tmp/a" --tokens "1 2 5000" --out "$tmp/x"
expect_error "a word that is not an id" "--tokens #2: word 2" \
    "$m" forward --model "$tmp/a" --tokens "1 2" --tokens "3 x4" --out "$tmp/x"
expect_error "targets of the wrong length" "--targets #1 has 2 ids" \
    "$m" forward --model "$tmp/a" --tokens "1 2 3" --targets "2 3" --out "$tmp/x"
expect_error "missing config.json" "$tmp/nowhere/config.json" \
    "$m" forward --model "$tmp/nowhere" --tokens "1" --out "$tmp/x"
check "no output written after refusals" '[ ! -e "$tmp/x" ]'

sed 's/"hidden_act"/"hidden_actt"/' "$cfg" >"$tmp/badcfg.json"
expect_error "unknown config field is named" "hidden_actt" "$m" init --config "$tmp/badcfg.json" --out "$tmp/d"

mkdir -p "$tmp/trunc" && cp "$tmp/a/config.json" "$tmp/trunc/"
head -c 100000 "$tmp/a/model.safetensors" >"$tmp/trunc/model.safetensors"
expect_error "truncated checkpoint names the file" "$tmp/trunc/model.safetensors" \
    "$m" forward --model "$tmp/trunc" --tokens "1" --out "$tmp/x"

check "--help exits 0" '"$m" --help >/dev/null'
finish
