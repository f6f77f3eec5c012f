#!/usr/bin/env bash
# Installs what r1c needs on a fresh Debian machine, and nothing that is there already.
#   Debian: the C libraries we link (SQLite, PCRE2, cJSON, utf8proc for NFC, OpenBLAS with
#           OpenMP, cmocka, Open MPI for data parallelism under mpirun) and
#           python3-torch, the reference our numeric tests compare against.
#   PyPI:   the reference packages of tests/requirements.txt, in ./.venv, a virtual environment
#           over the system Python so that it sees Debian's torch; and llama-cpp-python
#           (scripts/llama-cpp.sh: compiled once, its wheel cached in ~/.cache/r1c).
# Safe to run again; it only acts on what is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

debs=(build-essential pkg-config libsqlite3-dev sqlite3 libpcre2-dev libcjson-dev
      libopenblas-dev libopenblas-openmp-dev libcmocka-dev libutf8proc-dev clang libclang-rt-14-dev
      xz-utils python3 python3-venv python3-numpy python3-torch chromium
      libopenmpi-dev openmpi-bin)

missing=()
for p in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd=sudo
    $sudo_cmd apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian's torch is built for Debian's python3, not for whatever python3 comes first on PATH.
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "install-deps: creating $venv" >&2
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/tests/requirements.txt"; then
    echo "install-deps: pip could not install tests/requirements.txt into $venv" >&2
    exit 1
fi
"$venv/bin/python" -c "import torch, numpy, safetensors, tokenizers, jinja2, gguf" || {
    echo "install-deps: the reference Python packages do not import from $venv" >&2
    exit 1
}
# llama.cpp through llama-cpp-python: the reference of the GGUF tests (built once, cached).
"$root/scripts/llama-cpp.sh"
echo "install-deps: ok" >&2
