#!/usr/bin/env bash
# r1c's GGUF dequantization against the gguf Python package, bit for bit, on tensors that
# llama.cpp itself quantized. Python (gguf) writes a small random-weight F32 llama GGUF
# (hidden 256, intermediate 512, 2 layers, vocab 512 with a minimal gpt2 tokenizer; the
# weights have outliers, scattered exact zeros and all-zero blocks); llama.cpp's
# llama_model_quantize (llama-cpp-python, scripts/llama-cpp.sh) turns it into each file
# type below, and the ggml types each output must hold are checked (llama.cpp picks
# per-tensor types: Q4_K_M writes Q4_K and Q6_K, and the Q4_0..Q5_1 types keep
# output.weight in Q6_K). `r1-model gguf-info --dequant` writes every tensor as float32
# and each must equal gguf.quants.dequantize exactly (the same bit patterns). One PASS
# per file type, then the same on the real SmolLM2-135M Q4_1 file (Q4_1, Q8_0 and F32
# tensors; scripts/real-model.sh), and a few checks of gguf-info itself.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${R1_ROOT:=$(dirname "$here")}"
: "${R1_BIN:=$R1_ROOT/bin}"
: "${R1_PY:=$R1_ROOT/.venv/bin/python}"
. "$here/lib.sh"
needs r1-model
if ! "$R1_PY" -c "import gguf, numpy, safetensors" 2>/dev/null; then
    fail "$R1_PY lacks gguf, numpy or safetensors (scripts/install-deps.sh)"
    exit 1
fi

cat >"$tmp/ref.py" <<'EOF'
import ctypes, sys
import numpy as np
import gguf

def make(path):
    """A random F32 llama GGUF that llama.cpp accepts."""
    rng = np.random.default_rng(1234)
    H, I, L, V, NH, NKV = 256, 512, 2, 512, 4, 2
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(L)
    w.add_context_length(256)
    w.add_embedding_length(H)
    w.add_feed_forward_length(I)
    w.add_head_count(NH)
    w.add_head_count_kv(NKV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(H // NH)
    w.add_vocab_size(V)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    # gpt2 byte-level BPE: the 256 byte symbols, 254 merges of letter pairs, <s>, </s>
    bs = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    letters = "abcdefghijklmnop"
    merges = [f"{a} {b}" for a in letters for b in letters][:254]
    tokens = [chr(c) for c in cs] + [m.replace(" ", "") for m in merges] + ["<s>", "</s>"]
    w.add_tokenizer_model("gpt2")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.NORMAL] * (V - 2) + [gguf.TokenType.CONTROL] * 2)
    w.add_token_merges(merges)
    w.add_bos_token_id(V - 2)
    w.add_eos_token_id(V - 1)

    def weight(*shape):
        x = (rng.standard_normal(shape) * 0.05).astype(np.float32)
        flat = x.reshape(-1)
        flat[rng.integers(0, flat.size, flat.size // 500)] *= 40.0  # outliers
        flat[rng.integers(0, flat.size, flat.size // 50)] = 0.0  # scattered exact zeros
        flat[256:512] = 0.0  # an all-zero K-quant super-block
        flat[1024:1056] = 0.0  # an all-zero 32-element block
        return x

    def norm():
        return (1 + 0.1 * rng.standard_normal(H)).astype(np.float32)

    w.add_tensor("token_embd.weight", weight(V, H))
    for i in range(L):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm())
        w.add_tensor(p + "attn_q.weight", weight(H, H))
        w.add_tensor(p + "attn_k.weight", weight(NKV * H // NH, H))
        w.add_tensor(p + "attn_v.weight", weight(NKV * H // NH, H))
        w.add_tensor(p + "attn_output.weight", weight(H, H))
        w.add_tensor(p + "ffn_norm.weight", norm())
        w.add_tensor(p + "ffn_gate.weight", weight(I, H))
        w.add_tensor(p + "ffn_up.weight", weight(I, H))
        w.add_tensor(p + "ffn_down.weight", weight(H, I))
    w.add_tensor("output_norm.weight", norm())
    w.add_tensor("output.weight", weight(V, H))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

def quantize(src, outdir, ftypes):
    import llama_cpp
    for ft in ftypes:
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + ft)
        params.nthread = 2
        dst = f"{outdir}/{ft}.gguf"
        rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(params))
        if rc != 0:
            sys.exit(f"llama_model_quantize to {ft} returned {rc}")

def compare(label, gguf_path, st_path, want_types):
    """One PASS/FAIL line: the file holds want_types and every tensor is bit-exact."""
    from safetensors.numpy import load_file
    r = gguf.GGUFReader(gguf_path)
    got = load_file(st_path)
    have = sorted({t.tensor_type.name for t in r.tensors})
    bad = [f"no {w} tensor (llama.cpp wrote {' '.join(have)})" for w in want_types if w not in have]
    for t in r.tensors:
        ref = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        ref = ref.reshape(tuple(int(d) for d in reversed(t.shape.tolist())))
        g = got.get(t.name)
        if g is None:
            bad.append(f"{t.name} missing from {st_path}")
        elif g.shape != ref.shape:
            bad.append(f"{t.name}: shape {g.shape}, gguf says {ref.shape}")
        elif not np.array_equal(g.view(np.uint32), ref.view(np.uint32)):
            n = int((g.view(np.uint32) != ref.view(np.uint32)).sum())
            diff = np.nanmax(np.abs(g.astype(np.float64) - ref.astype(np.float64)))
            bad.append(f"{t.name} ({t.tensor_type.name}): {n} elements differ, "
                       f"max abs diff {diff:.3g}")
    if len(got) != len(r.tensors):
        bad.append(f"{len(got)} tensors written, the GGUF has {len(r.tensors)}")
    n_el = sum(int(t.n_elements) for t in r.tensors)
    if bad:
        print(f"FAIL: {label}: " + "; ".join(bad[:5]))
    else:
        print(f"PASS: {label}: {len(r.tensors)} tensors, {n_el} elements bit-exact "
              f"({' '.join(have)})")
    return not bad

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2])
    elif cmd == "quantize":
        quantize(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == "compare":  # LABEL GGUF ST TYPES,...  (repeated)
        a, ok = sys.argv[2:], True
        for i in range(0, len(a), 4):
            ok &= compare(a[i], a[i + 1], a[i + 2], [w for w in a[i + 3].split(",") if w])
        sys.exit(0 if ok else 1)
EOF

# file type -> the ggml types its output must hold
ftypes=(Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K_M Q5_K_M Q6_K F16 BF16)
declare -A want=([Q4_0]=Q4_0 [Q4_1]=Q4_1 [Q5_0]=Q5_0 [Q5_1]=Q5_1 [Q8_0]=Q8_0
    [Q4_K_M]=Q4_K,Q6_K [Q5_K_M]=Q5_K,Q6_K [Q6_K]=Q6_K [F16]=F16 [BF16]=BF16)

# compare LABEL GGUF TYPES: dequantize with r1c, then check against Python
args=()
dequant() {
    if "$R1_BIN/r1-model" gguf-info --gguf "$2" --dequant "$tmp/$1.safetensors" >"$tmp/$1.info" 2>&1; then
        args+=("$1" "$2" "$tmp/$1.safetensors" "$3")
    else
        fail "$1: r1-model gguf-info --dequant: $(head -c 300 "$tmp/$1.info")"
    fi
}

if ! "$R1_PY" "$tmp/ref.py" make "$tmp/F32.gguf" >"$tmp/make.log" 2>&1; then
    fail "writing the F32 GGUF: $(tail -c 300 "$tmp/make.log")"
else
    dequant F32-source "$tmp/F32.gguf" F32
    if ! "$R1_PY" -c "import llama_cpp" 2>/dev/null; then
        fail "llama_cpp is not installed in $R1_PY (run scripts/llama-cpp.sh)"
    elif ! "$R1_PY" "$tmp/ref.py" quantize "$tmp/F32.gguf" "$tmp" "${ftypes[@]}" >"$tmp/quant.log" 2>&1; then
        fail "llama.cpp quantization: $(grep -v '^\[' "$tmp/quant.log" | tail -c 400)"
    else
        for ft in "${ftypes[@]}"; do dequant "$ft" "$tmp/$ft.gguf" "${want[$ft]}"; done
    fi
fi

real=$("$R1_ROOT/scripts/real-model.sh" 2>"$tmp/real.log")
if [ -z "$real" ] || [ ! -f "$real" ]; then
    fail "SmolLM2-135M Q4_1 GGUF unavailable: $(tail -c 300 "$tmp/real.log")"
else
    dequant SmolLM2-135M-Q4_1 "$real" Q4_1,Q8_0,F32
fi

if [ ${#args[@]} -gt 0 ]; then
    "$R1_PY" "$tmp/ref.py" compare "${args[@]}" >"$tmp/compare.out" 2>&1
    cat "$tmp/compare.out"
    grep -q '^[PF][AI][SI][SL]: ' "$tmp/compare.out" || fail "comparison crashed"
    fails=$((fails + $(grep -c '^FAIL: ' "$tmp/compare.out")))
fi

# gguf-info itself: the text and JSON listings, and errors naming the file
if [ -f "$tmp/F32.gguf" ]; then
    "$R1_BIN/r1-model" gguf-info --gguf "$tmp/F32.gguf" >"$tmp/info.txt" 2>&1
    check "gguf-info lists version, keys and tensors" \
        "grep -q '^GGUF version 3, alignment 32' '$tmp/info.txt' &&
         grep -q 'tokenizer.ggml.tokens = array of 512 str' '$tmp/info.txt' &&
         grep -q '  blk.1.ffn_down.weight F32 ne \[512, 256\] offset' '$tmp/info.txt'"
    "$R1_BIN/r1-model" gguf-info --gguf "$tmp/F32.gguf" --json >"$tmp/info.json" 2>&1
    cat >"$tmp/check_info.py" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
kv = {e["key"]: e for e in j["kv"]}
t = {e["name"]: e for e in j["tensors"]}
assert j["version"] == 3 and j["alignment"] == 32 and j["n_tensors"] == 21, j
assert kv["llama.block_count"] == {"key": "llama.block_count", "type": "u32", "value": 2}
m = kv["tokenizer.ggml.merges"]
assert m["type"] == "array" and m["elem_type"] == "str" and m["n"] == 254 and m["head"][0] == "a a"
assert t["token_embd.weight"]["ne"] == [256, 512] and t["token_embd.weight"]["type"] == "F32"
EOF
    check "gguf-info --json" "'$R1_PY' '$tmp/check_info.py' '$tmp/info.json'"
fi
head -c 100 "$real" >"$tmp/cut.gguf" 2>/dev/null || printf 'GGUF' >"$tmp/cut.gguf"
expect_error "gguf-info on a truncated file names it" "$tmp/cut.gguf" \
    "$R1_BIN/r1-model" gguf-info --gguf "$tmp/cut.gguf"
printf 'GGML\3\0\0\0' >"$tmp/magic.gguf"
expect_error "gguf-info on a bad magic" "not a GGUF file" \
    "$R1_BIN/r1-model" gguf-info --gguf "$tmp/magic.gguf"
finish
