#!/usr/bin/env bash
# llama-cpp-python, the reference our GGUF tests and benchmarks compare against (never used
# by r1c itself), into ./.venv. It compiles llama.cpp from source (about 3.5 minutes on 2
# cores), so the wheel is built once into a cache the machine keeps ($R1_CACHE, default
# ~/.cache/r1c/wheels) and installed from there afterwards. Portable flags: a native build
# emitted AMX instructions that crashed on these machines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=0.3.36
wheels="${R1_CACHE:-$HOME/.cache/r1c}/wheels"
py="$root/.venv/bin/python"
[ -x "$py" ] || { echo "llama-cpp: $py missing (run scripts/install-deps.sh)" >&2; exit 1; }
if "$py" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$version')" 2>/dev/null; then
    exit 0
fi
mkdir -p "$wheels"
if ! ls "$wheels"/llama_cpp_python-$version-*.whl >/dev/null 2>&1; then
    echo "llama-cpp: building llama-cpp-python $version (about 3.5 minutes)" >&2
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
-DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_BF16=OFF" \
        "$py" -m pip wheel -q --disable-pip-version-check --no-deps "llama-cpp-python==$version" -w "$wheels" >&2
fi
# Its Python dependencies (typing-extensions, diskcache, jinja2, numpy) from the registry;
# numpy is Debian's already.
"$py" -m pip install -q --disable-pip-version-check "$wheels"/llama_cpp_python-$version-*.whl >&2
"$py" -c "import llama_cpp" || { echo "llama-cpp: llama_cpp does not import" >&2; exit 1; }
