#!/usr/bin/env bash
# Regenerates the embedded demo model's tokenizer, configs/tiny/tokenizer.json and
# tokenizer_config.json: 500 byte-level BPE merges learned from the GSM8K fixture, plus
# the DeepSeek-R1 special tokens the chat templates use. Deterministic: running it again
# gives the same files (tests/test_tok_train.sh checks that the committed ones match).
#   scripts/make-tiny-tokenizer.sh [OUT_DIR]     (default: configs/tiny)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="${1:-$root/configs/tiny}"
"${R1_BIN:-$root/bin}/r1-model" train-tokenizer --corpus "$root/tests/fixtures/gsm8k-train-300.jsonl" \
    --merges 500 --out "$out" \
    --special "<｜begin▁of▁sentence｜>" --special "<｜end▁of▁sentence｜>" --special "<｜▁pad▁｜>" \
    --added "<｜User｜>" --added "<｜Assistant｜>" \
    --added "<think>" --added "</think>" --added "<answer>" --added "</answer>" \
    --bos "<｜begin▁of▁sentence｜>" --eos "<｜end▁of▁sentence｜>"
