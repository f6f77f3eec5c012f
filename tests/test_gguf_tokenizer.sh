#!/usr/bin/env bash
# `r1-model gguf-tokenizer` (core/gguf_tok.h): the tokenizer of a GGUF file as tokenizer.json +
# tokenizer_config.json, and back, checked against llama.cpp (llama-cpp-python, the reference
# for GGUF) and Hugging Face `tokenizers`:
#   - import: the real SmolLM2-135M-Instruct GGUF (scripts/real-model.sh, pre "smollm") rebuilt
#     as tokenizer.json gives ids identical to llama.cpp's own tokenizer on the GGUF, to HF
#     `tokenizers` on the file written and to `r1-model tokenize` on it, over
#     tests/fixtures/tok_corpus.jsonl and the lines below; BOS is added by HF exactly when
#     llama.cpp adds it (add_bos_token forced on in a copy of the GGUF); the same vocabulary
#     under other pre names (gpt-2, qwen2, llama-bpe, dbrx, qwen35, deepseek-v3, starcoder);
#   - export: configs/tiny and the Qwen and DeepSeek-V3 fixture tokenizers written as
#     vocabulary-only GGUFs (pre detected as qwen2, qwen2, deepseek-v3), and SmolLM2's and
#     GPT-2's Hugging Face pre-tokenizers (detected as smollm, gpt-2): llama.cpp on them gives
#     HF's ids on the original tokenizer.json (on text its normalizer, Qwen's NFC, leaves alone);
#   - round trips GGUF -> tokenizer.json -> GGUF keep every tokenizer.* key (tokens, types,
#     merges, special ids, pre name, chat template, ...);
#   - errors: an unknown pre name, tokenizer.ggml.model "llama", no tokens array, an
#     unrecognised pre-tokenizer on export: each refused with the file named.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${R1_ROOT:=$(dirname "$here")}"
: "${R1_PY:=$R1_ROOT/.venv/bin/python}"
: "${R1_BIN:=$R1_ROOT/bin}"
. "$here/lib.sh"
needs r1-model
cli="$R1_BIN/r1-model"
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false

if ! "$R1_PY" -c "import llama_cpp, tokenizers, gguf" 2>"$tmp/err"; then
    fail "$R1_PY lacks llama_cpp, tokenizers or gguf (scripts/install-deps.sh, scripts/llama-cpp.sh): $(tail -n 1 "$tmp/err")"
    exit 1
fi
if ! gguf=$("$R1_ROOT/scripts/real-model.sh" 2>"$tmp/err"); then
    fail "scripts/real-model.sh: $(tail -n 3 "$tmp/err")"
    exit 1
fi

# The corpus: the parity corpus plus lines aimed at the pre-tokenizers' edges.
"$R1_PY" - "$here/fixtures/tok_corpus.jsonl" "$tmp/corpus.jsonl" <<'EOF' || fail "corpus"
import json, sys
lines = [l.rstrip("\n") for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
extra = [
    "1234567", "12345678901234567890", "pi = 3.14159265358979, e = 2.718", "call 555-0123 or +1 (800) 123-4567",
    "x = 1_000_000; y = 0x1F; z = 1e-9", "٣٤٥ ४५६ ７８９ ²³ ½ Ⅻ ①②",
    "a  b   c    d", "     leading", "trailing     ", "   ", "\t\tindented\ttabs\t", "line1\nline2\n\nline4\r\nline5",
    "\n\n\n", " \n \n ", "mixed \t \n\t spaces  \n", "a\u00a0b\u2003c\u3000d",
    "def f(x):\n    return x**2 + 1  # square\n", "for (int i = 0; i < n; i++) { sum += a[i]; }",
    "if __name__ == '__main__':\n\tmain()", "<div class=\"x\">&nbsp;</div>", "SELECT * FROM t WHERE id=42;",
    "你好，世界！今天天气很好。", "机器学习是人工智能的一个分支。", "Python是一种编程语言，version 3.12", "ひらがなとカタカナ、漢字",
    "I ❤️ tokenizers 🎉🎉 👨‍👩‍👧‍👦 🇫🇷", "😀😃😄😁", "it's, I'm, you're, we've, they'll, she'd, don't",
    "IT'S I'LL YOU'RE 'LL 'S 'Ve", "the dog's bone's", "O'Neil's rock 'n' roll", "café naïve résumé Ünïcödé",
    "!!! ??? ... --- ...and then?!",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>", "a<|im_end|>b", "<|im_start|><|im_end|>", "<|endoftext|>",
    "<｜begin▁of▁sentence｜><｜User｜>hi<｜Assistant｜><think>\nok</think>",
    # Bytes SmolLM2's vocabulary has no token for (0x04, 0x14): see LLAMA_DIFFERS in ref.py.
    "!\x04!", "..\x14..",
]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for l in lines:
        f.write(l + "\n")
    for t in extra:
        f.write(json.dumps(t) + "\n")
EOF

# The reference side, one script with subcommands:
#   ids GGUF TOKENIZER_JSON CORPUS LABEL [R1_IDS]  llama.cpp on GGUF == HF on the json (== r1c)
#   bos GGUF TOKENIZER_JSON LABEL                  the same with BOS/EOS added by both
#   keys A.gguf B.gguf LABEL                       the tokenizer.* keys of both are equal (and typed alike)
#   make OUT SRC.gguf WHAT [VALUE]                 a vocabulary-only copy of SRC's tokenizer,
#                                                  with WHAT (pre, model, no-tokens, add-bos) changed
#   pre GGUF                                       prints tokenizer.ggml.pre
cat >"$tmp/ref.py" <<'EOF'
import json, os, sys

def llama(path):
    os.environ.setdefault("LLAMA_LOG_LEVEL", "error")
    import llama_cpp
    return llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)

def hf(path):
    from tokenizers import Tokenizer
    return Tokenizer.from_file(path)

# Lines where llama.cpp departs from Hugging Face for reasons of its own, compared between
# HF and r1c only. A character whose byte has no token in the vocabulary (SmolLM2 lacks
# 0x04, 0x06, 0x13, 0x14, 0x16, 0x1d, ...): HF's BPE drops it before merging, so its
# neighbours merge ("!\x04!" -> "!!"); llama.cpp keeps it as a symbol that merges with
# nothing and drops it only at the end ("!", "!"). Not a matter of the tokenizer.json.
LLAMA_DIFFERS = {"!\x04!", "..\x14.."}

def show(t):
    return json.dumps(t, ensure_ascii=False)[:160]

def cmd_ids(gguf, tj, corpus, label, r1=None):
    texts = [json.loads(l) for l in open(corpus, encoding="utf-8")]
    lm, tk = llama(gguf), hf(tj)
    # llama.cpp has no normalizer: where tokenizer.json has one (Qwen's NFC), text it changes
    # is given to llama.cpp normalized by HF's own normalizer (the caller's job with a GGUF:
    # Python's unicodedata is newer than HF's NFC tables), and such lines are counted.
    norm = tk.normalizer
    r1ids = None
    if r1 is not None:
        r1ids = [l.split() for l in open(r1, encoding="utf-8")]
        r1ids = [[int(x) for x in l] for l in r1ids]
    bad_lh, bad_r1, n_nfc, n_nfc_differs, n_skip = [], [], 0, 0, 0
    for i, t in enumerate(texts):
        want = tk.encode(t, add_special_tokens=False).ids
        src = norm.normalize_str(t) if norm else t
        if src != t:
            n_nfc += 1
            if lm.tokenize(t.encode(), add_bos=False, special=True) != want:
                n_nfc_differs += 1
        got = lm.tokenize(src.encode(), add_bos=False, special=True)
        if t in LLAMA_DIFFERS:
            n_skip += 1
        elif got != want:
            bad_lh.append((i, t, got, want))
        if r1ids is not None and (i >= len(r1ids) or r1ids[i] != want):
            bad_r1.append((i, t, r1ids[i] if i < len(r1ids) else None, want))
    n = len(texts)
    extra = f"; {n_nfc} lines the normalizer changes given to llama.cpp normalized ({n_nfc_differs} differ if not)" if norm else ""
    extra += f"; {n_skip} lines of LLAMA_DIFFERS left out" if n_skip else ""
    for what, bad, a in (("llama.cpp == HF tokenizers", bad_lh, "llama.cpp"), ("r1c == HF tokenizers", bad_r1, "r1c")):
        if what.startswith("r1c") and r1ids is None:
            continue
        if not bad:
            print(f"PASS: {label}: {what} on {n} lines{extra}")
            continue
        print(f"FAIL: {label}: {what}: {len(bad)} of {n} lines differ{extra}")
        for i, t, got, want in bad[:6]:
            print(f"    line {i + 1}: {show(t)}\n      {a}: {got[:40]}\n      HF:   {want[:40]}")

def cmd_bos(gguf, tj, label):
    lm, tk = llama(gguf), hf(tj)
    texts = ["Hello world", "", "<|im_start|>user\nhi<|im_end|>", "12 apples"]
    bad = []
    for t in texts:
        got = lm.tokenize(t.encode(), add_bos=True, special=True)
        want = tk.encode(t, add_special_tokens=True).ids
        if got != want:
            bad.append((t, got, want))
    if bad:
        print(f"FAIL: {label}: BOS/EOS differ: " + "; ".join(f"{show(t)}: llama.cpp {g[:8]} HF {w[:8]}" for t, g, w in bad))
    else:
        print(f"PASS: {label}: HF adds BOS/EOS as llama.cpp does ({len(texts)} texts)")

# A plain GGUF key/value reader (gguf.GGUFReader takes seconds on a 150k vocabulary):
# key -> (value type, element type or None, value; arrays as lists).
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

def read_kv(path):
    import struct
    data = open(path, "rb").read()
    at = 0
    def take(fmt):
        nonlocal at
        v = struct.unpack_from(fmt, data, at)[0]
        at += struct.calcsize(fmt)
        return v
    def string():
        nonlocal at
        n = take("<Q")
        s = data[at:at + n].decode("utf-8")
        at += n
        return s
    def value(t):
        return string() if t == 8 else take(SCALARS[t])
    assert data[:4] == b"GGUF", path
    at = 4
    take("<I"); take("<Q")
    out = {}
    for _ in range(take("<Q")):
        k, t = string(), take("<I")
        if t == 9:
            et, n = take("<I"), take("<Q")
            out[k] = (t, et, [value(et) for _ in range(n)])
        else:
            out[k] = (t, None, value(t))
    return out

def fields(path):
    return {k: v[2] for k, v in read_kv(path).items() if k.startswith("tokenizer.")}

def cmd_keys(a, b, label):
    # values and their GGUF types
    fa = {k: v for k, v in read_kv(a).items() if k.startswith("tokenizer.")}
    fb = {k: v for k, v in read_kv(b).items() if k.startswith("tokenizer.")}
    diff = [k for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    if diff:
        print(f"FAIL: {label}: tokenizer keys differ: " + ", ".join(
            f"{k} ({str(fa.get(k))[:60]} vs {str(fb.get(k))[:60]})" for k in diff[:6]))
    else:
        print(f"PASS: {label}: all {len(fa)} tokenizer.* keys equal ({', '.join(sorted(k.split('.')[-1] for k in fa))})")

def cmd_make(out, src, what, value=None):
    import gguf
    w = gguf.GGUFWriter(out, "llama")
    kv = read_kv(src)
    for k, (t, et, v) in kv.items():
        if not k.startswith("tokenizer."):
            continue
        if what == "no-tokens" and k == "tokenizer.ggml.tokens":
            continue
        if what == "pre" and k == "tokenizer.ggml.pre":
            v = value
        if what == "model" and k == "tokenizer.ggml.model":
            v = value
        if what == "add-bos" and k == "tokenizer.ggml.add_bos_token":
            v = True
        w.add_key_value(k, v, gguf.GGUFValueType(t), gguf.GGUFValueType(et) if et is not None else None)
    if what == "add-bos" and "tokenizer.ggml.add_eos_token" not in kv:
        w.add_bool("tokenizer.ggml.add_eos_token", True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

def cmd_pre(path):
    print(fields(path).get("tokenizer.ggml.pre"))

cmd = sys.argv[1]
globals()["cmd_" + cmd.replace("-", "_")](*sys.argv[2:])
EOF
ref() { "$R1_PY" "$tmp/ref.py" "$@" 2>"$tmp/ref.err" || { echo "    $(tail -n 3 "$tmp/ref.err")"; fail "ref.py $1 $4"; }; }

# ---- import: the real model's GGUF -> tokenizer.json ------------------------------------
if "$cli" gguf-tokenizer --gguf "$gguf" --out "$tmp/smol" 2>"$tmp/err"; then
    pass "import: gguf-tokenizer --gguf $(basename "$gguf")"
    if "$cli" tokenize --tokenizer "$tmp/smol" <"$tmp/corpus.jsonl" >"$tmp/smol.r1" 2>"$tmp/err"; then
        ref ids "$gguf" "$tmp/smol/tokenizer.json" "$tmp/corpus.jsonl" "import smollm" "$tmp/smol.r1"
    else
        fail "import smollm: r1-model tokenize on the tokenizer written: $(head -c 400 "$tmp/err")"
        ref ids "$gguf" "$tmp/smol/tokenizer.json" "$tmp/corpus.jsonl" "import smollm"
    fi
    if "$R1_PY" - "$tmp/smol/tokenizer_config.json" <<'EOF'; then
import json, sys
c = json.load(open(sys.argv[1], encoding="utf-8"))
sys.exit(not (c["gguf_tokenizer"]["pre"] == "smollm" and c["bos_token"] == "<|im_start|>"
              and c["eos_token"] == "<|im_end|>" and c["unk_token"] == "<|endoftext|>"
              and c["pad_token"] == "<|im_end|>" and c["add_bos_token"] is False
              and "<|im_start|>" in c["chat_template"] and c["model_max_length"] == 8192))
EOF
        pass "import: tokenizer_config.json keeps pre, bos/eos/unk/pad, add_bos_token, the chat template"
    else
        fail "import: tokenizer_config.json: $(head -c 600 "$tmp/smol/tokenizer_config.json")"
    fi
    # BOS: a copy of the GGUF with add_bos_token (and add_eos_token) true.
    if "$R1_PY" "$tmp/ref.py" make "$tmp/bos.gguf" "$gguf" add-bos 2>"$tmp/err" &&
        "$cli" gguf-tokenizer --gguf "$tmp/bos.gguf" --out "$tmp/bos" 2>"$tmp/err"; then
        ref bos "$tmp/bos.gguf" "$tmp/bos/tokenizer.json" "import add_bos_token"
    else
        fail "import add_bos_token: $(head -c 400 "$tmp/err")"
    fi
else
    fail "import: gguf-tokenizer --gguf $gguf: $(head -c 400 "$tmp/err")"
fi

# The other pre-tokenizer names on the same vocabulary (a copy of the GGUF with
# tokenizer.ggml.pre changed): HF on the file written splits as llama.cpp does, and the
# round trip keeps the name.
for pre in gpt-2 qwen2 llama-bpe dbrx qwen35 deepseek-v3 starcoder; do
    if "$R1_PY" "$tmp/ref.py" make "$tmp/pre-$pre.gguf" "$gguf" pre "$pre" 2>"$tmp/err" &&
        "$cli" gguf-tokenizer --gguf "$tmp/pre-$pre.gguf" --out "$tmp/pre-$pre" 2>"$tmp/err"; then
        r1=()
        "$cli" tokenize --tokenizer "$tmp/pre-$pre" <"$tmp/corpus.jsonl" >"$tmp/pre-$pre.r1" 2>/dev/null &&
            r1=("$tmp/pre-$pre.r1")
        ref ids "$tmp/pre-$pre.gguf" "$tmp/pre-$pre/tokenizer.json" "$tmp/corpus.jsonl" "import pre $pre" "${r1[@]}"
        # and back: the name comes back too, also where llama.cpp gives several names one regex
        if "$cli" gguf-tokenizer --from-dir "$tmp/pre-$pre" --out "$tmp/pre-$pre-rt.gguf" 2>"$tmp/err"; then
            ref keys "$tmp/pre-$pre.gguf" "$tmp/pre-$pre-rt.gguf" "round trip pre $pre"
        else
            fail "round trip pre $pre: $(head -c 400 "$tmp/err")"
        fi
    else
        fail "import pre $pre: $(head -c 400 "$tmp/err")"
    fi
done

# ---- export: tokenizer.json -> vocabulary-only GGUF ------------------------------------
"$here/fixture-tokenizer.sh" qwen "$tmp/qwen" || fail "fixture-tokenizer.sh qwen"
"$here/fixture-tokenizer.sh" deepseek-v3 "$tmp/deepseek-v3" || fail "fixture-tokenizer.sh deepseek-v3"
for spec in "tiny:$R1_ROOT/configs/tiny:qwen2" "qwen:$tmp/qwen:qwen2" "deepseek-v3:$tmp/deepseek-v3:deepseek-v3"; do
    IFS=: read -r name dir want <<<"$spec"
    if ! "$cli" gguf-tokenizer --from-dir "$dir" --out "$tmp/$name.gguf" 2>"$tmp/err"; then
        fail "export $name: $(head -c 400 "$tmp/err")"
        continue
    fi
    got=$("$R1_PY" "$tmp/ref.py" pre "$tmp/$name.gguf" 2>&1)
    check "export $name: tokenizer.ggml.pre is $want (got $got)" "[ \"$got\" = \"$want\" ]"
    ref ids "$tmp/$name.gguf" "$dir/tokenizer.json" "$tmp/corpus.jsonl" "export $name"
done
# Hugging Face's own spellings of the SmolLM2 and GPT-2 pre-tokenizers (Digits + ByteLevel's
# regex, ByteLevel's regex alone), with no name kept in tokenizer_config.json, are detected.
for spec in "smollm:digits" "gpt-2:bytelevel"; do
    IFS=: read -r want form <<<"$spec"
    [ -d "$tmp/smol" ] || break
    mkdir -p "$tmp/hf-$want"
    "$R1_PY" - "$tmp/smol" "$tmp/hf-$want" "$form" <<'EOF'
import json, sys
src, dst, form = sys.argv[1:]
j = json.load(open(src + "/tokenizer.json", encoding="utf-8"))
bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, bl]} \
    if form == "digits" else bl
json.dump(j, open(dst + "/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
c = json.load(open(src + "/tokenizer_config.json", encoding="utf-8"))
del c["gguf_tokenizer"]
json.dump(c, open(dst + "/tokenizer_config.json", "w", encoding="utf-8"), ensure_ascii=False)
EOF
    if "$cli" gguf-tokenizer --from-dir "$tmp/hf-$want" --out "$tmp/hf-$want.gguf" 2>"$tmp/err"; then
        got=$("$R1_PY" "$tmp/ref.py" pre "$tmp/hf-$want.gguf" 2>&1)
        check "export: HF's $form form is $want (got $got)" "[ \"$got\" = \"$want\" ]"
        ref ids "$tmp/hf-$want.gguf" "$tmp/hf-$want/tokenizer.json" "$tmp/corpus.jsonl" "export HF $form form"
    else
        fail "export HF $form form: $(head -c 400 "$tmp/err")"
    fi
done
# --pre overrides detection (the names llama.cpp treats alike).
if "$cli" gguf-tokenizer --from-dir "$R1_ROOT/configs/tiny" --pre deepseek-r1-qwen --out "$tmp/tiny-r1q.gguf" 2>"$tmp/err"; then
    got=$("$R1_PY" "$tmp/ref.py" pre "$tmp/tiny-r1q.gguf" 2>&1)
    check "export --pre deepseek-r1-qwen is kept (got $got)" "[ \"$got\" = deepseek-r1-qwen ]"
else
    fail "export --pre deepseek-r1-qwen: $(head -c 400 "$tmp/err")"
fi

# ---- round trips -------------------------------------------------------------------------
# GGUF -> tokenizer.json -> GGUF, for the real model and for the exported Qwen and DeepSeek-V3.
if [ -d "$tmp/smol" ] && "$cli" gguf-tokenizer --from-dir "$tmp/smol" --out "$tmp/smol-rt.gguf" 2>"$tmp/err"; then
    ref keys "$gguf" "$tmp/smol-rt.gguf" "round trip smollm GGUF -> json -> GGUF"
else
    fail "round trip smollm: $(head -c 400 "$tmp/err")"
fi
for name in qwen deepseek-v3 tiny-r1q; do
    [ -f "$tmp/$name.gguf" ] || continue
    if "$cli" gguf-tokenizer --gguf "$tmp/$name.gguf" --out "$tmp/$name-rt" 2>"$tmp/err" &&
        "$cli" gguf-tokenizer --from-dir "$tmp/$name-rt" --out "$tmp/$name-rt.gguf" 2>"$tmp/err"; then
        ref keys "$tmp/$name.gguf" "$tmp/$name-rt.gguf" "round trip $name GGUF -> json -> GGUF"
    else
        fail "round trip $name: $(head -c 400 "$tmp/err")"
    fi
done

# ---- errors --------------------------------------------------------------------------------
"$R1_PY" "$tmp/ref.py" make "$tmp/bad-pre.gguf" "$gguf" pre nonesuch-7 &&
    expect_error "error: unknown pre name" "bad-pre.gguf: tokenizer.ggml.pre \"nonesuch-7\"" \
        "$cli" gguf-tokenizer --gguf "$tmp/bad-pre.gguf" --out "$tmp/bad1"
"$R1_PY" "$tmp/ref.py" make "$tmp/bad-spm.gguf" "$gguf" model llama &&
    expect_error "error: SentencePiece model \"llama\"" "bad-spm.gguf: tokenizer.ggml.model is \"llama\"" \
        "$cli" gguf-tokenizer --gguf "$tmp/bad-spm.gguf" --out "$tmp/bad2"
"$R1_PY" "$tmp/ref.py" make "$tmp/bad-notok.gguf" "$gguf" no-tokens &&
    expect_error "error: no tokens array" "bad-notok.gguf: no tokenizer.ggml.tokens" \
        "$cli" gguf-tokenizer --gguf "$tmp/bad-notok.gguf" --out "$tmp/bad3"
check "errors: nothing written for a refused GGUF" "[ ! -e \"$tmp/bad1\" ] && [ ! -e \"$tmp/bad2\" ] && [ ! -e \"$tmp/bad3\" ]"
mkdir -p "$tmp/oddpre"
"$R1_PY" - "$R1_ROOT/configs/tiny" "$tmp/oddpre" <<'EOF'
import json, shutil, sys
j = json.load(open(sys.argv[1] + "/tokenizer.json", encoding="utf-8"))
j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\p{N}+"}, "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]}
json.dump(j, open(sys.argv[2] + "/tokenizer.json", "w", encoding="utf-8"), ensure_ascii=False)
shutil.copy(sys.argv[1] + "/tokenizer_config.json", sys.argv[2])
EOF
expect_error "error: unrecognised pre-tokenizer on export says --pre" "pass --pre NAME" \
    "$cli" gguf-tokenizer --from-dir "$tmp/oddpre" --out "$tmp/odd.gguf"
check "error: ... and names the file" "grep -qF \"$tmp/oddpre/tokenizer.json\" \"$tmp/err\""
expect_error "error: --pre with an unknown name" "\"nonesuch-7\" (--pre) is not one r1c knows" \
    "$cli" gguf-tokenizer --from-dir "$R1_ROOT/configs/tiny" --pre nonesuch-7 --out "$tmp/odd.gguf"
check "errors: no GGUF written on export errors" "[ ! -e \"$tmp/odd.gguf\" ]"
finish
