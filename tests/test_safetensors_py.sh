#!/usr/bin/env bash
# r1c's safetensors reader and writer against the Python safetensors package.
# Python writes F32, F16 and BF16 files (every 16-bit pattern included) and a
# sharded checkpoint; `test_safetensors --convert` reads them to float32 and
# writes F32, `--write-bf16` writes BF16; Python then loads r1c's files and
# requires them to equal torch's own conversions bit for bit (NaN as NaN).
# Prints "PASS: name" / "FAIL: name" lines; exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${R1_ROOT:=$(dirname "$here")}"
: "${R1_PY:=$R1_ROOT/.venv/bin/python}"
: "${R1_TESTBIN:=$R1_ROOT/build/tests}"
bin="$R1_TESTBIN/test_safetensors"
. "$here/lib.sh"

# 1. Python writes the inputs.
if ! "$R1_PY" - "$tmp" <<'EOF'; then
import json, os, sys
import numpy as np
import torch
from safetensors.numpy import save_file as save_np
from safetensors.torch import save_file as save_pt

d = sys.argv[1]
g = torch.Generator().manual_seed(1234)
every16 = torch.arange(0, 65536, dtype=torch.int32).to(torch.int16)
special = torch.tensor([0.0, -0.0, 1.0, -1.0, float("inf"), float("-inf"), float("nan"),
                        1e-40, -1e-45, 3.4028235e38, 65504.0, 1.0 + 2**-8, 1.0 + 3 * 2**-8])
# float32 bit patterns on bf16 rounding ties and either side of them, both signs
hi = torch.arange(2048, dtype=torch.int64) * 0x10000 + 0x3F000000
ties = (hi[:, None] + torch.tensor([0x7FFF, 0x8000, 0x8001])[None, :]).reshape(-1)
ties = torch.cat([ties, ties - 0x80000000])
tensors = {
    "model.embed_tokens.weight": torch.randn(17, 8, generator=g),
    "model.layers.0.self_attn.q_proj.bias": torch.randn(8, generator=g) * 1e-3,
    "model.norm.weight": torch.randn(3, 2, 5, generator=g).to(torch.bfloat16),
    "every_bf16": every16.view(torch.bfloat16).reshape(256, 256),
    "every_f16": every16.clone().view(torch.float16).reshape(64, 1024),
    "half_random": (torch.randn(33, generator=g) * 100).to(torch.float16),
    "special_f32": special,
    "scalar": torch.tensor(2.5),
    "empty": torch.zeros(0, 4),
    "ties": ties.to(torch.int32).view(torch.float32),
}
save_pt(tensors, f"{d}/pt.safetensors", metadata={"format": "pt", "note": "r1c test"})
rng = np.random.default_rng(7)
save_np({"np_f32": rng.standard_normal((4, 5)).astype(np.float32),
         "np_f16": rng.standard_normal(9).astype(np.float16)}, f"{d}/np.safetensors")
os.mkdir(f"{d}/ckpt")
shards = [{"a": torch.randn(4, 4, generator=g).to(torch.bfloat16)},
          {"b": torch.randn(6, generator=g), "c": torch.randn(2, 3, generator=g).half()}]
weight_map = {}
for i, s in enumerate(shards):
    name = f"model-{i + 1:05d}-of-00002.safetensors"
    save_pt(s, f"{d}/ckpt/{name}", metadata={"format": "pt"})
    weight_map.update({k: name for k in s})
with open(f"{d}/ckpt/model.safetensors.index.json", "w") as f:
    json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f)
save_np({"f64": np.zeros(3)}, f"{d}/f64.safetensors")
EOF
    fail "python writes the inputs"
    exit 1
fi
pass "python writes the inputs"

# 2. r1c converts them.
run() { # name, then the test_safetensors arguments
    local name=$1
    shift
    if "$bin" "$@" 2>"$tmp/err"; then pass "$name"; else fail "$name ($(cat "$tmp/err"))"; fi
}
run "r1c reads torch file, writes F32" --convert "$tmp/pt.safetensors" "$tmp/pt_f32.safetensors"
run "r1c reads torch file, writes BF16" --write-bf16 "$tmp/pt.safetensors" "$tmp/pt_bf16.safetensors"
run "r1c reads numpy file, writes F32" --convert "$tmp/np.safetensors" "$tmp/np_f32.safetensors"
run "r1c reads sharded checkpoint" --convert "$tmp/ckpt" "$tmp/ckpt_f32.safetensors"
if "$bin" --convert "$tmp/f64.safetensors" "$tmp/f64_out.safetensors" 2>"$tmp/err"; then
    fail "r1c refuses F64 (it accepted it)"
elif grep -q 'f64.safetensors: tensor "f64".*F64' "$tmp/err"; then
    pass "r1c refuses F64 naming file and tensor"
else
    fail "r1c refuses F64 naming file and tensor ($(cat "$tmp/err"))"
fi

# 3. Python checks r1c's files.
if ! "$R1_PY" - "$tmp" <<'EOF'; then
import sys
import torch
from safetensors import safe_open
from safetensors.torch import load_file

d = sys.argv[1]
bad = 0

def same(a, b):
    """Bit-equal, except that any NaN matches any NaN (payloads may differ)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    na, nb = torch.isnan(a.float()), torch.isnan(b.float())
    if not torch.equal(na, nb):
        return False
    bits = {torch.float32: torch.int32, torch.bfloat16: torch.int16}[a.dtype]
    return torch.equal(a[~na].view(bits), b[~nb].view(bits))

def check(name, ok):
    global bad
    print(("PASS: " if ok else "FAIL: ") + name)
    bad += not ok

def compare(orig_path, out_path, dtype, label):
    orig, out = load_file(orig_path), load_file(out_path)
    check(f"{label}: same tensor names", sorted(orig) == sorted(out))
    for k in sorted(orig):
        want = orig[k].to(torch.float32).to(dtype)
        check(f"{label}: {k} equals torch .to({dtype})", k in out and same(out[k], want))

compare(f"{d}/pt.safetensors", f"{d}/pt_f32.safetensors", torch.float32, "F32")
compare(f"{d}/pt.safetensors", f"{d}/pt_bf16.safetensors", torch.bfloat16, "BF16")
compare(f"{d}/np.safetensors", f"{d}/np_f32.safetensors", torch.float32, "numpy F32")
shards = {}
for i in (1, 2):
    shards.update(load_file(f"{d}/ckpt/model-0000{i}-of-00002.safetensors"))
out = load_file(f"{d}/ckpt_f32.safetensors")
check("sharded: same tensor names", sorted(shards) == sorted(out))
for k in sorted(shards):
    check(f"sharded: {k} equals torch", k in out and same(out[k], shards[k].float()))
with safe_open(f"{d}/pt_f32.safetensors", "pt") as f:
    check("metadata kept", f.metadata() == {"format": "pt", "note": "r1c test"})
with open(f"{d}/pt_f32.safetensors", "rb") as f:
    n = int.from_bytes(f.read(8), "little")
    check("header padded to 8 bytes", n % 8 == 0)
sys.exit(1 if bad else 0)
EOF
    fails=$((fails + 1))
fi
[ "$fails" -eq 0 ]
