#!/usr/bin/env bash
# bin/r1-sft against the float64 PyTorch reference tests/ref/sft_ref.py, on the
# first batch of a --dry-run --dump for random models of both families (Qwen2:
# attention biases, GQA 2, untied head; Llama: GQA 4, tied head; norms and
# biases perturbed) and 5 samples: a short one, one with a long system
# message, a multi-turn one (two assistant turns), a long one and a
# non-reasoning one. The token ids and assistant masks come from
# `r1-model tokenize --messages` over the messages stored in the database.
#   1. --pack --batch-tokens 100000 (every sample in the first batch),
#      --loss assistant and --loss all, no clipping: the batch loss, each
#      sample's loss and every gradient; with --max-grad-norm 0.05 the clipped
#      gradients
#   2. --max-len shorter than the longest sample: cut samples' targets stop at
#      the cut; a sample whose assistant tokens all lie beyond it is dropped
#      (--loss assistant) but kept with --loss all
#   3. isolation: a database where sample 2's assistant text differs leaves
#      every other sample's loss bit-identical, and equal to the reference
#      loss of that sample forwarded alone
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
sft="$R1_BIN/r1-sft"
refpy="$R1_ROOT/tests/ref/sft_ref.py"
tiny="$R1_ROOT/configs/tiny"

needs --torch r1-sft r1-data r1-model
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"


# The samples, one {"messages": [...]} a line; $2 is the assistant text of the
# second one (the isolation check changes it).
samples() {
    local sys="You are a careful assistant. Think step by step inside the think tags, then give the final answer inside the answer tags, and never skip a step."
    cat <<EOF
{"messages":[{"role":"user","content":"What is 2+3?"},{"role":"assistant","content":"<think>\n2+3=5\n</think>\n<answer>\n5\n</answer>"}]}
{"messages":[{"role":"system","content":"$sys"},{"role":"user","content":"Compute 12*11."},{"role":"assistant","content":"$1"}]}
{"messages":[{"role":"user","content":"What is 7-2?"},{"role":"assistant","content":"<think>\n7-2=5\n</think>\n<answer>\n5\n</answer>"},{"role":"user","content":"And 5*5?"},{"role":"assistant","content":"<think>\n5*5=25\n</think>\n<answer>\n25\n</answer>"}]}
{"messages":[{"role":"user","content":"Tom has 3 boxes with 14 apples each. He eats 5 apples. How many are left?"},{"role":"assistant","content":"<think>\nThree boxes of 14 apples make 3*14=42 apples. After eating 5 there are 42-5=37 left. Check: 37+5=42 and 42/3=14.\n</think>\n<answer>\n37\n</answer>"}]}
{"messages":[{"role":"user","content":"Say hello."},{"role":"assistant","content":"Hello!"}]}
EOF
}

# database NAME SECOND_ASSISTANT_TEXT: $tmp/NAME.db with the samples, and the
# token ids and masks r1-sft trains on ($tmp/NAME.tok, $tmp/NAME.ids).
database() {
    local db="$tmp/$1.db"
    samples "$2" >"$tmp/$1.jsonl"
    if ! "$R1_BIN/r1-data" init --db "$db" >/dev/null ||
        ! "$R1_BIN/r1-data" import --db "$db" --format messages --kind cold_start --quiet "$tmp/$1.jsonl" ||
        ! q "$db" "SELECT messages FROM sft_samples ORDER BY id" |
        "$R1_BIN/r1-model" tokenize --tokenizer "$tiny" --messages >"$tmp/$1.tok" ||
        ! q "$db" "SELECT id FROM sft_samples ORDER BY id" >"$tmp/$1.ids"; then
        fail "database $1"
        return 1
    fi
}

qwen=$(hf_config qwen2 64 2 4 2 96 768 false)
llama=$(hf_config llama 64 2 8 2 96 768 true)
random_model qwen 41 "$qwen"
random_model llama 42 "$llama"
database base '<think>\n12*11=132, since 12*10=120 and 120+12=132\n</think>\n<answer>\n132\n</answer>'
database changed '<think>\n11*12 is 121+11=132\n</think>\n<answer>\n132\n</answer>'
check "databases: 5 samples each, sample 2 differs" \
    '[ "$(wc -l <"$tmp/base.tok")" -eq 5 ] && [ "$(cat "$tmp/base.ids")" = "$(cat "$tmp/changed.ids")" ] &&
     [ "$(sed -n 2p "$tmp/base.tok")" != "$(sed -n 2p "$tmp/changed.tok")" ] &&
     [ "$(sed 2d "$tmp/base.tok")" = "$(sed 2d "$tmp/changed.tok")" ]'

# Sample lengths in tokens and where each one's first assistant token is. The
# --max-len cases cut 3 tokens before sample 2's first assistant token (its
# long system message: no assistant target left), which must also cut sample 4
# inside its assistant text.
read -r -a lens <<<"$("$R1_PY" -c 'import json, sys; print(" ".join(str(len(json.loads(l)["ids"])) for l in open(sys.argv[1])))' "$tmp/base.tok")"
read -r -a firsts <<<"$("$R1_PY" -c 'import json, sys; print(" ".join(str(json.loads(l)["assistant_mask"].index(1)) for l in open(sys.argv[1])))' "$tmp/base.tok")"
maxlen=$((firsts[1] - 3))
echo "sample lengths: ${lens[*]}; first assistant tokens at: ${firsts[*]}; --max-len $maxlen"
check "--max-len $maxlen: sample 2 ($((lens[1])) tokens) cut before its answer, sample 4 (${lens[3]}) inside it" \
    '[ "$maxlen" -lt "${lens[1]}" ] && [ "$maxlen" -lt "${lens[3]}" ] && [ "$maxlen" -gt $((firsts[3] + 1)) ]'

cases="$tmp/cases.jsonl"
: >"$cases"
# dry NAME FAMILY DB LOSS MAX_LEN CLIP [OPTION...]: one dry-run dump (every sample
# in one batch) and its case line.
dry() {
    local name=$1 fam=$2 db=$3 loss=$4 maxlen=$5 clip=$6
    shift 6
    [ -d "$tmp/$fam" ] && [ -f "$tmp/$db.db" ] || return 1
    if ! "$sft" --db "$tmp/$db.db" --kind cold_start --model "$tmp/$fam" --dry-run \
        --dump "$tmp/$name.st" --batch-tokens 100000 --loss "$loss" --max-len "$maxlen" \
        --max-grad-norm "$clip" "$@" >"$tmp/$name.log" 2>&1; then
        fail "$name: r1-sft --dry-run ($(head -c 300 "$tmp/$name.log"))"
        return 1
    fi
    printf '{"name":"%s","model":"%s","dump":"%s","tokens":"%s","ids":"%s","loss":"%s","max_len":%d,"max_grad_norm":%s}\n' \
        "$name" "$tmp/$fam" "$tmp/$name.st" "$tmp/$db.tok" "$tmp/$db.ids" "$loss" "$maxlen" "$clip" >>"$cases"
    echo "$name: $(cat "$tmp/$name.log")"
}
# isolation NAME FAMILY LOSS: the base dump against the changed database's.
isolation() {
    local name=$1 fam=$2 loss=$3
    dry "$name-changed" "$fam" changed "$loss" 4096 0 --pack || return
    printf '{"name":"%s","kind":"isolation","model":"%s","dump":"%s","dump_changed":"%s","tokens":"%s","ids":"%s","changed":2,"loss":"%s","max_len":4096}\n' \
        "$name" "$tmp/$fam" "$tmp/$fam-$loss.st" "$tmp/$name-changed.st" "$tmp/base.tok" "$tmp/base.ids" "$loss" >>"$cases"
}

for fam in qwen llama; do
    for loss in assistant all; do
        dry "$fam-$loss" "$fam" base "$loss" 4096 0 --pack
        dry "$fam-$loss-maxlen$maxlen" "$fam" base "$loss" "$maxlen" 0 --pack
        isolation "$fam-$loss-isolation" "$fam" "$loss"
    done
    dry "$fam-assistant-clip0.05" "$fam" base assistant 4096 0.05 --pack
done
# Without --pack the batch is the shuffled order sorted by length: the same
# samples with bit-identical losses (each keeps its own attention and
# positions wherever it lies in the batch).
dry "qwen-assistant-nopack" qwen base assistant 4096 0
if "$R1_PY" - "$tmp/qwen-assistant.st" "$tmp/qwen-assistant-nopack.st" "${lens[*]}" >"$tmp/nopack.out" 2>&1 <<'EOF'
import sys
from safetensors.torch import load_file
a, b = load_file(sys.argv[1]), load_file(sys.argv[2])
lens = [int(x) for x in sys.argv[3].split()]
ia, ib = [int(x) for x in a["sample_ids"]], [int(x) for x in b["sample_ids"]]
la, lb = dict(zip(ia, a["sample_loss"].tolist())), dict(zip(ib, b["sample_loss"].tolist()))
print(f"packed order {ia}, unpacked {ib}, lengths {[lens[i - 1] for i in ib]}", end="")
sys.exit(0 if sorted(ia) == sorted(ib) and ia != ib and la == lb
         and [lens[i - 1] for i in ib] == sorted(lens) else 1)
EOF
then
    pass "without --pack: the batch in length order, the same sample losses bit for bit ($(cat "$tmp/nopack.out"))"
else
    fail "without --pack: the batch in length order, the same sample losses bit for bit ($(tail -c 400 "$tmp/nopack.out"))"
fi

[ -s "$cases" ] || { fail "no dry runs to check"; exit 1; }
"$R1_PY" "$refpy" check "$cases" || fails=$((fails + 1))
"$R1_PY" "$refpy" --selftest || fails=$((fails + 1))
finish
