#!/usr/bin/env bash
# make test-cuda: the CUDA backend against the CPU path, on a machine with an
# NVIDIA GPU. Each program prints one line per check and exits non-zero if any
# failed; R1_CUDA_SYNC=1 reports a faulting kernel by name.
set -uo pipefail
dir="${R1_TESTBIN:?}/cuda"
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "test-cuda: no NVIDIA GPU here (nvidia-smi -L failed); these tests need one" >&2
    exit 1
fi
nvidia-smi -L
fail=0
# The op tests synchronise after every launch (a fault names its kernel); the
# model tests run as the stages do, decoding steps replayed as CUDA graphs.
for t in test_cuda_ops:1 test_cuda_model:0 test_nccl:0; do
    [ -x "$dir/${t%:*}" ] || { echo "test-cuda: $dir/${t%:*} is missing (built with CUDA=0?)" >&2; exit 1; }
    echo "== ${t%:*}"
    R1_CUDA_SYNC=${R1_CUDA_SYNC:-${t#*:}} "$dir/${t%:*}" || fail=1
done
# The stages with --device cuda on the tiny model, end to end.
root=$(cd "$(dirname "$0")/../.." && pwd)
echo "== stages --device cuda"
R1_BIN="${R1_BIN:?}" "$root/tests/cuda/stages.sh" || fail=1
[ $fail -eq 0 ] && echo "test-cuda: all passed" || echo "test-cuda: FAILED"
exit $fail
