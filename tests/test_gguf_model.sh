#!/usr/bin/env bash
# GGUF import and export of whole models (r1-model import-gguf / export-gguf), against the
# references of tests/ref/gguf_ref.py: the `gguf` package's dequantizer, the float64
# PyTorch model and llama.cpp itself (llama-cpp-python).
#   - SmolLM2-135M-Instruct (Q4_1, the real model of scripts/real-model.sh): its config;
#     weights bit-identical to gguf's dequantization with llama's q/k rows un-permuted;
#     logits (<= 1e-4), loss and every gradient (<= 3e-3) against float64 PyTorch;
#     greedy chat answers the capital question with Paris, as llama.cpp does; the chat
#     template r1c recognised renders as the stored Jinja template does.
#   - export: llama.cpp loads r1c's F32 export, logits agree (<= 3e-3) with the same argmax
#     at every position; import(export(model)) is identical (f32) or the rounded weights
#     (f16, bf16); also a random Qwen2 model (biases, no permutation) and a random Llama with
#     GQA and untied head.
#   - bad files: each refused with the key or tensor named, nothing left behind.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
needs --torch r1-model
ref="$R1_ROOT/tests/ref/gguf_ref.py"
model="$R1_BIN/r1-model"

if ! gguf=$("$R1_ROOT/scripts/real-model.sh") || ! "$R1_ROOT/scripts/llama-cpp.sh"; then
    fail "the real model or llama-cpp-python could not be set up"
    exit 1
fi

# ---- SmolLM2: import ------------------------------------------------------------------
smol="$tmp/smol"
if "$model" import-gguf --gguf "$gguf" --out "$smol" --quiet 2>"$tmp/import.err"; then
    pass "import-gguf SmolLM2-135M-Instruct"
else
    fail "import-gguf: $(cat "$tmp/import.err")"
    exit 1
fi
check "import: no temporary directory left" '[ -z "$(ls -d "$tmp"/smol.tmp-* 2>/dev/null)" ]'
for f in config.json model.safetensors generation_config.json tokenizer.json tokenizer_config.json; do
    check "import wrote $f" "[ -s '$smol/$f' ]"
done
"$R1_PY" - "$smol/config.json" >"$tmp/cfg.out" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
want = dict(model_type="llama", hidden_size=576, num_hidden_layers=30, num_attention_heads=9,
            num_key_value_heads=3, intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True,
            rope_theta=100000.0, max_position_embeddings=8192, bos_token_id=1, eos_token_id=2)
bad = {k: (c.get(k), v) for k, v in want.items() if c.get(k) != v}
print("PASS: config.json as SmolLM2's" if not bad else f"FAIL: config.json differs: {bad}")
EOF
cat "$tmp/cfg.out"
grep -q '^FAIL' "$tmp/cfg.out" && fails=$((fails + 1))
expect_error "import refuses an existing --out" "already exists" \
    "$model" import-gguf --gguf "$gguf" --out "$smol"

"$R1_PY" "$ref" weights "$gguf" "$smol" || fails=$((fails + 1))

# ---- SmolLM2: forward and backward against float64 PyTorch -------------------------------
text='["The capital of France is Paris. It is known for the Eiffel Tower and 12 museums.", "def add(a, b):\n    return a + b  # 2 + 3 = 5"]'
echo "$text" | "$R1_PY" -c 'import json,sys; [print(json.dumps(s)) for s in json.load(sys.stdin)]' |
    "$model" tokenize --tokenizer "$smol" >"$tmp/ids.txt"
"$R1_PY" - "$tmp/ids.txt" "$tmp/tokens.json" <<'EOF'
import json, sys
seqs = [[int(x) for x in l.split()] for l in open(sys.argv[1])]
json.dump([seqs, [s[1:] + [-100] for s in seqs]], open(sys.argv[2], "w"))
EOF
args=()
while read -r line; do args+=(--tokens "$line"); done <"$tmp/ids.txt"
while read -r line; do args+=(--targets "$(echo "$line" | cut -d' ' -f2-) -100"); done <"$tmp/ids.txt"
if "$model" forward --model "$smol" "${args[@]}" --out "$tmp/fwd.safetensors" 2>"$tmp/fwd.err"; then
    "$R1_PY" "$ref" parity "$gguf" "$tmp/fwd.safetensors" "$tmp/tokens.json" || fails=$((fails + 1))
else
    fail "forward on SmolLM2: $(cat "$tmp/fwd.err")"
fi

# ---- SmolLM2: chat ----------------------------------------------------------------------
q="What is the capital of France? Answer in one sentence."
"$model" generate --model "$smol" --prompt "$q" --temperature 0 --max-new-tokens 48 \
    >"$tmp/r1c.txt" 2>"$tmp/gen.err"
"$R1_PY" "$ref" chat "$gguf" "$q" >"$tmp/llama.txt" 2>"$tmp/llama.err"
check "greedy chat: r1c answers Paris ($(head -c 120 "$tmp/r1c.txt"))" 'grep -q Paris "$tmp/r1c.txt"'
check "greedy chat: llama.cpp answers Paris too ($(head -c 120 "$tmp/llama.txt"))" \
    'grep -q Paris "$tmp/llama.txt"'
mkdir -p "$tmp/chats"
cat >"$tmp/chats/chats.jsonl" <<'EOF'
[{"role": "user", "content": "What is the capital of France?"}]
[{"role": "system", "content": "You answer in French."}, {"role": "user", "content": "Hi!"}]
[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}, {"role": "user", "content": "And 3+3?"}]
EOF
"$model" tokenize --tokenizer "$smol" --messages --generation-prompt <"$tmp/chats/chats.jsonl" \
    >"$tmp/chats/r1c.jsonl"
"$R1_PY" "$ref" template "$smol" "$tmp/chats" || fails=$((fails + 1))

# ---- export ---------------------------------------------------------------------------
if "$model" export-gguf --model "$smol" --out "$tmp/smol-f32.gguf" --quiet 2>"$tmp/exp.err"; then
    pass "export-gguf f32"
    "$R1_PY" "$ref" llama-logits "$tmp/smol-f32.gguf" "$tmp/fwd.safetensors" "$tmp/tokens.json" ||
        fails=$((fails + 1))
    "$model" import-gguf --gguf "$tmp/smol-f32.gguf" --out "$tmp/smol2" --quiet &&
        "$R1_PY" "$ref" same "$smol" "$tmp/smol2" f32 || fails=$((fails + 1))
    check "round trip keeps config.json" 'cmp -s "$smol/config.json" "$tmp/smol2/config.json"'
else
    fail "export-gguf f32: $(cat "$tmp/exp.err")"
fi
for ty in f16 bf16; do
    "$model" export-gguf --model "$smol" --out "$tmp/smol-$ty.gguf" --type $ty --quiet &&
        "$model" import-gguf --gguf "$tmp/smol-$ty.gguf" --out "$tmp/smol-$ty" --quiet &&
        "$R1_PY" "$ref" same "$smol" "$tmp/smol-$ty" $ty || fails=$((fails + 1))
done
# Q8_0 as r1c writes it, read back by gguf's dequantizer and by r1c's import: the same.
if "$model" export-gguf --model "$smol" --out "$tmp/smol-q8.gguf" --type q8_0 --quiet &&
    "$model" import-gguf --gguf "$tmp/smol-q8.gguf" --out "$tmp/smol-q8" --quiet; then
    "$R1_PY" "$ref" weights "$tmp/smol-q8.gguf" "$tmp/smol-q8" || fails=$((fails + 1))
else
    fail "export-gguf q8_0 and its import"
fi
check "export q8_0: about a quarter of the f32 file" \
    '[ "$(stat -c %s "$tmp/smol-q8.gguf")" -lt "$(( $(stat -c %s "$tmp/smol-f32.gguf") * 30 / 100 ))" ]'
check "export: no temporary file left" '[ -z "$(ls "$tmp"/*.gguf.tmp* 2>/dev/null)" ]'

# Random models: Qwen2 (q/k/v biases, stored unpermuted) and Llama with GQA 4:1, untied head.
random_model qwen 5 "$(hf_config qwen2 64 2 4 2 128 1024 true)"
random_model llama 6 "$(hf_config llama 64 2 8 2 96 1024 false)"
for m in qwen llama; do
    seq="5 17 300 42 7 99 1000 3 250 11 64 128"
    "$model" forward --model "$tmp/$m" --tokens "$seq" --out "$tmp/$m-fwd.safetensors" 2>/dev/null
    echo "[[[${seq// /, }]], [[0]]]" >"$tmp/$m-tokens.json"
    if "$model" export-gguf --model "$tmp/$m" --out "$tmp/$m.gguf" --quiet 2>"$tmp/$m.err"; then
        "$R1_PY" "$ref" llama-logits "$tmp/$m.gguf" "$tmp/$m-fwd.safetensors" "$tmp/$m-tokens.json" ||
            fails=$((fails + 1))
        "$model" import-gguf --gguf "$tmp/$m.gguf" --out "$tmp/$m-back" --quiet &&
            "$R1_PY" "$ref" same "$tmp/$m" "$tmp/$m-back" f32 || fails=$((fails + 1))
    else
        fail "export-gguf $m: $(cat "$tmp/$m.err")"
    fi
done

# ---- bad files --------------------------------------------------------------------------
bad() { # KIND NEEDLE
    "$R1_PY" "$ref" bad "$1" "$tmp/bad-$1.gguf"
    expect_error "import refuses $1 naming it" "$2" \
        "$model" import-gguf --gguf "$tmp/bad-$1.gguf" --out "$tmp/bad-$1"
    check "import of $1 leaves nothing" '[ -z "$(ls -d "$tmp/bad-$1"* 2>/dev/null | grep -v gguf)" ]'
}
bad arch "general.architecture 'gpt2' is not supported"
bad shape "tensor blk.0.attn_q.weight has ggml shape [32, 24]"
bad unknown-tensor "tensor blk.0.attn_sinks.weight is not part of the llama architecture"
bad rope-scaling "llama.rope.scaling.type = 'linear'"
bad missing-key "key llama.block_count is missing"
bad huge "tensor token_embd.weight has ggml shape [32, 50]"
expect_error "export-gguf refuses an unknown --type" "--type is f32, f16, bf16 or q8_0" \
    "$model" export-gguf --model "$smol" --out "$tmp/x.gguf" --type q4_0
finish
