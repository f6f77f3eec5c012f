#!/usr/bin/env bash
# r1-model train-tokenizer: deterministic, reproduces the committed demo tokenizer
# (configs/tiny), loads in Hugging Face `tokenizers` with the same ids as ours, and
# r1-model init refuses a tokenizer larger than the model's vocabulary.
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh).
set -uo pipefail
: "${R1_BIN:?}" "${R1_ROOT:?}" "${R1_PY:?}"
. "$(dirname "$0")/lib.sh"

R1_BIN="$R1_BIN" "$R1_ROOT/scripts/make-tiny-tokenizer.sh" "$tmp/a" >/dev/null
R1_BIN="$R1_BIN" "$R1_ROOT/scripts/make-tiny-tokenizer.sh" "$tmp/b" >/dev/null
check "training twice gives identical files" \
    'cmp -s "$tmp/a/tokenizer.json" "$tmp/b/tokenizer.json" && cmp -s "$tmp/a/tokenizer_config.json" "$tmp/b/tokenizer_config.json"'
check "configs/tiny is what scripts/make-tiny-tokenizer.sh makes" \
    'cmp -s "$tmp/a/tokenizer.json" "$R1_ROOT/configs/tiny/tokenizer.json"'

# Parity with Hugging Face on the training data and the tokenizer corpus.
"$R1_PY" - "$R1_ROOT/tests/fixtures/gsm8k-train-300.jsonl" "$R1_ROOT/tests/fixtures/tok_corpus.jsonl" \
    >"$tmp/lines.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    row = json.loads(line)
    print(json.dumps(row["question"])); print(json.dumps(row["answer"]))
for line in open(sys.argv[2], encoding="utf-8"):
    print(line.rstrip("\n"))
print(json.dumps("<｜User｜>1+1?<｜Assistant｜><think>\n1+1=2</think> <answer>2</answer><｜end▁of▁sentence｜>"))
PY
if "$R1_BIN/r1-model" tokenize --tokenizer "$tmp/a" <"$tmp/lines.jsonl" >"$tmp/ours.txt"; then
    "$R1_PY" - "$tmp/a/tokenizer.json" "$tmp/lines.jsonl" "$tmp/ours.txt" <<'PY'
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
texts = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
ours = open(sys.argv[3]).read().split("\n")
bad = [i for i, t in enumerate(texts)
       if [int(x) for x in ours[i].split()] != tok.encode(t, add_special_tokens=False).ids]
size = tok.get_vocab_size(with_added_tokens=True)
print(("PASS" if size == 765 else "FAIL") + f": the demo tokenizer has 765 ids (got {size})")
print(("PASS" if not bad else "FAIL") + f": ids equal Hugging Face on {len(texts)} lines"
      + (f" (first mismatch: line {bad[0] + 1})" if bad else ""))
specials = [tok.token_to_id(s) for s in ["<｜begin▁of▁sentence｜>", "<think>", "</answer>"]]
print(("PASS" if specials == [756, 761, 764] else "FAIL") + f": added tokens follow the merges {specials}")
PY
else
    echo "FAIL: r1-model tokenize on the trained tokenizer"
fi

small=$(sed 's/"vocab_size": 768/"vocab_size": 700/' "$R1_ROOT/configs/tiny/config.json")
echo "$small" >"$tmp/small.json"
check "init refuses a tokenizer larger than vocab_size" \
    '! "$R1_BIN/r1-model" init --config "$tmp/small.json" --tokenizer "$tmp/a" --out "$tmp/m" 2>"$tmp/err" && grep -q "765 ids but vocab_size is 700" "$tmp/err"'
"$R1_BIN/r1-model" init --config "$R1_ROOT/configs/tiny/config.json" --tokenizer "$tmp/a" --out "$tmp/m2" >/dev/null
check "init --tokenizer copies the tokenizer into the model directory" \
    'cmp -s "$tmp/m2/tokenizer.json" "$tmp/a/tokenizer.json" && [ -f "$tmp/m2/tokenizer_config.json" ]'
finish
