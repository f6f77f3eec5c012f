#!/usr/bin/env bash
# fixture-tokenizer.sh NAME DIR: unpacks tests/fixtures/tokenizers/NAME into DIR
# (tokenizer.json + tokenizer_config.json), ready for r1_tok_load / the `tokenizers` package.
set -euo pipefail
src="$(cd "$(dirname "$0")" && pwd)/fixtures/tokenizers/$1"
[ -f "$src/tokenizer.json.xz" ] || { echo "fixture-tokenizer: no tokenizer fixture '$1'" >&2; exit 1; }
mkdir -p "$2"
xz -dc "$src/tokenizer.json.xz" >"$2/tokenizer.json"
cp "$src/tokenizer_config.json" "$2/"
