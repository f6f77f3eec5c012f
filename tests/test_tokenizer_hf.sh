#!/usr/bin/env bash
# `r1-model tokenize` against Hugging Face `tokenizers` (the reference), for the
# real DeepSeek-V3 and Qwen tokenizers (tests/fixtures/tokenizers, unpacked by
# fixture-tokenizer.sh):
#   - encode parity: every line of tests/fixtures/tok_corpus.jsonl and of ~300
#     seeded random strings gives exactly HF's
#     Tokenizer.encode(text, add_special_tokens=False).ids;
#   - round trip: `--decode` of our ids gives back the text (after the
#     tokenizer's normalizer, NFC for Qwen, applied between added tokens), and
#     equals HF's
#     decode(ids, skip_special_tokens=False) of the same ids;
#   - errors: a line that is not a JSON string or decodes to invalid UTF-8 is
#     refused with a non-zero exit and the line number on stderr.
# Prints "PASS: name" / "FAIL: name" lines; exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${R1_ROOT:=$(dirname "$here")}"
: "${R1_PY:=$R1_ROOT/.venv/bin/python}"
: "${R1_BIN:=$R1_ROOT/bin}"
cli="$R1_BIN/r1-model"
corpus="$here/fixtures/tok_corpus.jsonl"
. "$here/lib.sh"
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false

if [ ! -x "$cli" ]; then
    fail "tokenizer parity: $cli is missing (make bin/r1-model)"
    exit 1
fi

# Seeded random strings: codepoints drawn from several blocks (ASCII, Latin,
# combining marks, whitespace of every kind, CJK, kana, Hangul syllables and
# jamo, emoji with ZWJ/skin tones/flags, digits of other scripts, special-token
# fragments), plus short strings over a tiny alphabet that hit the
# pre-tokenizer's whitespace/punctuation/contraction edge cases.
"$R1_PY" - "$tmp/random.jsonl" <<'EOF' || fail "random corpus generation"
import json, random, sys

rng = random.Random(1234)
WS = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x85", "\xa0", "\u1680", "\u2028", "\u2029", "\u202f",
      "\u205f", "\u3000", "\u200b", "\u200d", "\ufeff"] + [chr(c) for c in range(0x2000, 0x200B)]
SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<|", "|>", "<\uff5c", "\uff5c>",
           "<\uff5cUser\uff5c>", "<\uff5cAssistant\uff5c>", "<\uff5cend\u2581of\u2581sentence\uff5c>", "\u2581", "<|EOT|>"]
BLOCKS = [  # (weight, ranges)
    (30, [(0x20, 0x7E)]), (8, None),  # None: whitespace list
    (5, [(0xA1, 0xFF), (0x100, 0x17F)]), (5, [(0x300, 0x36F), (0x20D0, 0x20F0)]),
    (4, [(0x370, 0x3FF), (0x400, 0x4FF)]), (3, [(0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE5B)]),
    (8, [(0x4E00, 0x9FFF), (0x3400, 0x4DBF)]), (4, [(0x3040, 0x30FF), (0x3000, 0x303F), (0xFF01, 0xFF9F)]),
    (4, [(0xAC00, 0xD7A3), (0x1100, 0x11FF)]), (6, [(0x1F300, 0x1FAFF), (0x1F3FB, 0x1F3FF), (0x1F1E6, 0x1F1FF)]),
    (3, [(0x660, 0x669), (0x966, 0x96F), (0xFF10, 0xFF19), (0xB2, 0xB3), (0xBC, 0xBE), (0x2150, 0x218B),
         (0x2460, 0x24FF)]),
    (1, [(0x80, 0xD7FF), (0xE000, 0xFFFF)]), (1, [(0x10000, 0x10FFFF)]),
]
TOTAL = sum(w for w, _ in BLOCKS)


def block_char(ranges):
    if ranges is None:
        return rng.choice(WS)
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


def pick_block():
    r = rng.uniform(0, TOTAL)
    for w, ranges in BLOCKS:
        r -= w
        if r <= 0:
            return ranges
    return BLOCKS[0][1]


out = []
for _ in range(200):  # runs from random blocks
    s, n = [], rng.randint(1, 120)
    while len(s) < n:
        if rng.random() < 0.03:
            s.append(rng.choice(SPECIAL))
            continue
        ranges = pick_block()
        for _ in range(rng.randint(1, 8)):
            s.append(block_char(ranges))
            if rng.random() < 0.05:
                s.append(rng.choice(["\u200d", "\ufe0f", "\u0301", "\U0001F3FD"]))
    out.append("".join(s))
TINY = [" ", " ", "\n", "\r", "\t", "a", "B", "1", ".", "'", "s", "LL", "\u00e9", "e\u0301", "\u4e2d", "\u3042",
        "\u00a0", "\u3000", "!", "\U0001F600", "\u1100", "\u1161"]
for _ in range(100):  # tiny alphabet, short
    out.append("".join(rng.choice(TINY) for _ in range(rng.randint(1, 12))))
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as f:
    for i, s in enumerate(out):
        s.encode("utf-8")
        f.write(json.dumps(s, ensure_ascii=(i % 5 == 0)) + "\n")
EOF

cat >"$tmp/check.py" <<'EOF'
# check.py TOKENIZER_JSON LABEL CORPUS OUR_IDS OUR_DECODED DECODE_RC
import json, re, sys
from tokenizers import Tokenizer

tok_json, label, corpus, ids_file, dec_file, dec_rc = sys.argv[1:7]
tok = Tokenizer.from_file(tok_json)
MAXSHOW = 10


def lines_of(path):  # split on \n only: U+2028 and friends are text, not line ends
    data = open(path, "rb").read()
    if data.endswith(b"\n"):
        data = data[:-1]
    return data.split(b"\n")


texts = [json.loads(b.decode("utf-8")) for b in open(corpus, "rb").read().split(b"\n") if b]
# What decode(encode(x)) gives back: x with the normalizer applied to the text
# between added tokens (HF matches those first, then normalizes the rest: NFC of
# "<|endoftext|>" + U+0338 keeps the '>' apart). Leftmost-longest match.
added = sorted({a.content for a in tok.get_added_tokens_decoder().values()}, key=len, reverse=True)
added_re = re.compile("|".join(map(re.escape, added))) if added else None


def expected(x):
    if not tok.normalizer:
        return x
    if not added_re:
        return tok.normalizer.normalize_str(x)
    out, at = [], 0
    for m in added_re.finditer(x):
        out += [tok.normalizer.normalize_str(x[at:m.start()]), m.group()]
        at = m.end()
    return "".join(out + [tok.normalizer.normalize_str(x[at:])])


n = len(texts)
ours_raw = lines_of(ids_file) if n else []
fails = 0


def fail(msg):
    global fails
    fails += 1
    print(f"FAIL: {label}: {msg}")


def show_tokens(ids, lo, hi):
    out = []
    for i in ids[lo:hi]:
        piece = tok.id_to_token(i) if i >= 0 else None
        if piece is None:
            out.append(f"{i}:<unknown>")
        else:
            out.append(f"{i}:{piece!r}={tok.decode([i], skip_special_tokens=False)!r}")
    return " ".join(out)


# encode parity
if len(ours_raw) != n:
    fail(f"encode parity: r1-model printed {len(ours_raw)} lines for {n} inputs")
ours = []
for b in ours_raw:
    try:
        ours.append([int(x) for x in b.decode("ascii").split()])
    except (ValueError, UnicodeDecodeError):
        ours.append(None)
hf = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
bad = 0
for k in range(min(n, len(ours))):
    if ours[k] == hf[k]:
        continue
    bad += 1
    if bad > MAXSHOW:
        continue
    text = texts[k]
    fail(f"encode line {k + 1}: {json.dumps(text[:200], ensure_ascii=False)}{' ...' if len(text) > 200 else ''}")
    if ours[k] is None:
        print(f"    r1c printed a line that is not ids: {ours_raw[k][:200]!r}")
        continue
    o, h = ours[k], hf[k]
    d = next((i for i in range(min(len(o), len(h))) if o[i] != h[i]), min(len(o), len(h)))
    lo = max(0, d - 3)
    print(f"    {len(o)} ids (r1c) vs {len(h)} ids (HF); first difference at token {d}")
    print(f"    r1c ids: {o[:60]}{' ...' if len(o) > 60 else ''}")
    print(f"    HF  ids: {h[:60]}{' ...' if len(h) > 60 else ''}")
    print(f"    r1c tokens [{lo}..]: {show_tokens(o, lo, d + 5)}")
    print(f"    HF  tokens [{lo}..]: {show_tokens(h, lo, d + 5)}")
if bad > MAXSHOW:
    print(f"    ... and {bad - MAXSHOW} more mismatching lines")
if bad:
    print(f"    {bad} of {n} lines differ")
elif len(ours_raw) == n:
    print(f"PASS: {label}: encode parity ({n} lines, {sum(map(len, hf))} tokens)")

# round trip and decode parity (of our own ids)
if dec_rc != "0":
    fail(f"r1-model tokenize --decode exited with status {dec_rc}")
else:
    decs = lines_of(dec_file) if n else []
    if len(decs) != n:
        fail(f"round trip: --decode printed {len(decs)} lines for {n} inputs")
    rt_bad = par_bad = 0
    for k in range(min(n, len(decs))):
        try:
            got = json.loads(decs[k].decode("utf-8", "surrogateescape"))
        except ValueError:
            got = None
        want = expected(texts[k])
        if got != want:
            rt_bad += 1
            if rt_bad <= MAXSHOW:
                fail(f"round trip line {k + 1}: decode(encode(x)) != x")
                print(f"    want {json.dumps(want[:200])}")
                shown = json.dumps(got[:200]) if got is not None else decs[k][:400].decode("utf-8", "replace")
                print(f"    got  {shown}")
        if k >= len(ours) or ours[k] is None or got is None:
            continue
        try:
            ref = tok.decode(ours[k], skip_special_tokens=False)
        except Exception as e:  # ids HF does not know
            ref = f"<HF decode failed: {e}>"
        if got != ref:
            par_bad += 1
            if par_bad <= MAXSHOW:
                fail(f"decode parity line {k + 1}: r1c decode != HF decode of the same ids")
                print(f"    HF  {json.dumps(ref[:200])}")
                print(f"    r1c {json.dumps(got[:200])}")
    if len(decs) == n and not rt_bad:
        print(f"PASS: {label}: round trip ({n} lines)")
    if len(decs) == n and not par_bad:
        print(f"PASS: {label}: decode parity with HF ({n} lines)")
sys.exit(1 if fails else 0)
EOF

# run_set NAME DIR LABEL CORPUS: encode with r1-model, decode its ids, compare.
run_set() {
    local name=$1 dir=$2 label=$3 in=$4 rc drc t0 t1
    t0=$(date +%s%N)
    "$cli" tokenize --tokenizer "$dir" <"$in" >"$tmp/$name.$label.ids" 2>"$tmp/err"
    rc=$?
    t1=$(date +%s%N)
    if [ $rc -ne 0 ]; then
        fail "$name $label: r1-model tokenize exited with status $rc: $(head -c 500 "$tmp/err")"
        return
    fi
    echo "  $name $label: r1-model tokenize took $(((t1 - t0) / 1000000)) ms"
    "$cli" tokenize --tokenizer "$dir" --decode <"$tmp/$name.$label.ids" >"$tmp/$name.$label.dec" 2>"$tmp/err"
    drc=$?
    [ $drc -eq 0 ] || echo "  --decode stderr: $(head -c 500 "$tmp/err")"
    "$R1_PY" "$tmp/check.py" "$dir/tokenizer.json" "$name $label" "$in" "$tmp/$name.$label.ids" \
        "$tmp/$name.$label.dec" "$drc" || fails=$((fails + 1))
}

for name in deepseek-v3 qwen; do
    dir="$tmp/tok-$name"
    if ! "$here/fixture-tokenizer.sh" "$name" "$dir"; then
        fail "$name: fixture-tokenizer.sh"
        continue
    fi
    run_set "$name" "$dir" corpus "$corpus"
    [ -s "$tmp/random.jsonl" ] && run_set "$name" "$dir" random "$tmp/random.jsonl"
done

# Errors: the line is named and the exit status is non-zero.
# expect_error NAME LINE_NO [--decode]: input on stdin.
expect_error() {
    local what=$1 line=$2 rc
    shift 2
    "$cli" tokenize --tokenizer "$tmp/tok-qwen" "$@" >/dev/null 2>"$tmp/err"
    rc=$?
    if [ $rc -eq 0 ]; then
        fail "error: $what: exit status 0"
    elif ! grep -Eq "(^|[^0-9])$line([^0-9]|$)" "$tmp/err"; then
        fail "error: $what: stderr does not name line $line: $(head -c 300 "$tmp/err")"
    else
        pass "error: $what (status $rc: $(head -n 1 "$tmp/err" | head -c 160))"
    fi
}
if [ -d "$tmp/tok-qwen" ]; then
    printf '"a"\n""\n"b c"\n"\\udc80"\n"d"\n' | expect_error "lone low surrogate \\udc80" 4
    printf '"ok"\n"x\\ud83d y"\n' | expect_error "unpaired high surrogate" 2
    printf '"ok"\n"ok"\n"ok"\n"ok"\nhello\n' | expect_error "line that is not JSON" 5
    printf '"ok"\n["a"]\n' | expect_error "JSON array, not a string" 2
    printf '"ok"\n"ok"\n"bad \xff\xfe byte"\n' | expect_error "raw invalid UTF-8 inside the string" 3
    printf '"ok"\n"\xe4\xb8"\n' | expect_error "truncated UTF-8 sequence" 2
    printf '1 2 3\n1 99999999 2\n' | expect_error "--decode of an id outside the vocabulary" 2 --decode
    printf '1 2 3\n1 x 2\n' | expect_error "--decode of a line that is not ids" 2 --decode
fi

# The code points nfc() keeps as barriers (core/tok_hfnfc.c) are exactly those
# HF's older NFC tables do not know, measured again against `tokenizers`.
if "$R1_PY" "$R1_ROOT/tests/ref/gen_hf_nfc_table.py" --check "$R1_ROOT/core/tok_hfnfc.c" >"$tmp/nfc_table" 2>&1; then
    pass "the HF NFC barrier table matches tokenizers"
else
    fail "the HF NFC barrier table (core/tok_hfnfc.c) does not match tokenizers:"
    sed 's/^/    /' "$tmp/nfc_table" | head -n 30
fi
exit $((fails > 0))
