#!/usr/bin/env bash
# Fuzzes the tokenizer's encoder with libFuzzer under ASan + UBSan (make fuzz).
#   scripts/fuzz.sh [SECONDS]     (default 60; the DeepSeek, Qwen and demo tokenizers in turn)
# Seeds: the lines of tests/fixtures/tok_corpus.jsonl. A crash or a failed check stops the
# run with a reproducer file (crash-*) in build/fuzz/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs="${1:-60}"
out="$root/build/fuzz"
mkdir -p "$out/seeds"
command -v clang >/dev/null || { echo "fuzz: clang is needed (scripts/install-deps.sh)" >&2; exit 1; }
srcs=(util hashmap jsonstr tokenizer tok_encode tok_unicode tok_hfnfc)
clang -std=c11 -O1 -g -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$root/core" $(printf "$root/core/%s.c " "${srcs[@]}") "$root/tests/fuzz_tokenizer.c" \
    -lcjson -lpcre2-8 -lutf8proc -o "$out/fuzz_tokenizer"
"$root/tests/fixture-tokenizer.sh" deepseek-v3 "$out/tok-deepseek-v3"
"$root/tests/fixture-tokenizer.sh" qwen "$out/tok-qwen"
i=0
while IFS= read -r line; do printf '\001%s' "$line" >"$out/seeds/$i"; i=$((i + 1)); done \
    <"$root/tests/fixtures/tok_corpus.jsonl"
export R1_FUZZ_TOKENIZERS="$out/tok-deepseek-v3:$out/tok-qwen:$root/configs/tiny"
cd "$out"
./fuzz_tokenizer -max_total_time="$secs" -max_len=4096 -print_final_stats=1 seeds 2>&1 | tail -n 12
