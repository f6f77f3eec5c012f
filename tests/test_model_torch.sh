#!/usr/bin/env bash
# Parity of the C model (bin/r1-model init + forward/backward) with the float64
# PyTorch reference tests/ref/model_ref.py, on small Qwen2 / Llama configs that
# between them cover: tied and untied heads, GQA ratios 1, 2 and 4, an explicit
# head_dim != hidden/heads, llama3 rope_scaling at positions where it matters,
# one and several sequences per batch, ignored (-100) targets.
# Per case it checks the checkpoint layout init wrote, logits, loss and every
# gradient; and that a batch of 3 sequences equals 3 separate forwards (C only).
# Prints "PASS: <case> <what> relerr=<x>" / "FAIL: ..." lines.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
model="$R1_BIN/r1-model"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

if [ ! -x "$model" ]; then
    fail "r1-model missing: $model (run make)"
    exit 1
fi

# config TYPE HIDDEN LAYERS HEADS KV_HEADS INTER VOCAB TIED ROPE_SCALING [EXTRA]
# Only fields the C loader knows. initializer_range 0.1 (not 0.02) so attention
# and softmax are far from uniform and the gradients are not all tiny.
config() {
    printf '{"model_type":"%s","hidden_size":%d,"num_hidden_layers":%d,' "$1" "$2" "$3"
    printf '"num_attention_heads":%d,"num_key_value_heads":%d,"intermediate_size":%d,' "$4" "$5" "$6"
    printf '"vocab_size":%d,"max_position_embeddings":512,"rms_norm_eps":1e-06,' "$7"
    printf '"rope_theta":10000.0,"tie_word_embeddings":%s,"initializer_range":0.1,' "$8"
    printf '"bos_token_id":1,"eos_token_id":2,"hidden_act":"silu","torch_dtype":"float32",'
    printf '"rope_scaling":%s%s}\n' "$9" "${10:-}"
}

# ids LEN VOCAB: LEN random token ids (bash RANDOM, seeded below: reproducible).
ids() {
    local i out=()
    for ((i = 0; i < $1; i++)); do out+=($((RANDOM % $2))); done
    echo "${out[*]}"
}

# targets LEN VOCAB: like ids but about one in five is -100 (ignored); the
# first is always real so every sequence contributes to the loss.
targets() {
    local i out=()
    for ((i = 0; i < $1; i++)); do
        if [ "$i" -gt 0 ] && [ $((RANDOM % 5)) -eq 0 ]; then out+=(-100); else out+=($((RANDOM % $2))); fi
    done
    echo "${out[*]}"
}

# run_case NAME SEED "LEN LEN ..." CONFIG_JSON [INIT_OPTION...]: init a model, make sequences of
# the given lengths, run the C forward with targets. Files in $tmp/NAME.
run_case() {
    local name=$1 seed=$2 lens=$3 dir="$tmp/$1" vocab len args=()
    mkdir -p "$dir"
    echo "$4" >"$dir/config.json"
    vocab=$(sed 's/.*"vocab_size":\([0-9]*\).*/\1/' "$dir/config.json")
    for len in $lens; do
        ids "$len" "$vocab" >>"$dir/tokens.txt"
        targets "$len" "$vocab" >>"$dir/targets.txt"
    done
    while read -r line; do args+=(--tokens "$line"); done <"$dir/tokens.txt"
    while read -r line; do args+=(--targets "$line"); done <"$dir/targets.txt"
    if ! "$model" init --config "$dir/config.json" --out "$dir/model" --seed "$seed" "${@:5}" >"$dir/init.log" 2>&1; then
        cat "$dir/init.log"
        fail "$name init"
        return
    fi
    if ! "$model" forward --model "$dir/model" "${args[@]}" --out "$dir/out.safetensors" >"$dir/fwd.log" 2>&1; then
        cat "$dir/fwd.log"
        fail "$name forward"
        return
    fi
    cases+=("$name")
}

# separate NAME: forward each sequence of case NAME on its own, no targets.
separate() {
    local dir="$tmp/$1" i=0 line
    while read -r line; do
        if ! "$model" forward --model "$dir/model" --tokens "$line" --out "$dir/sep$i.safetensors" >"$dir/sep.log" 2>&1; then
            cat "$dir/sep.log"
            fail "$1 separate forward $i"
            return
        fi
        i=$((i + 1))
    done <"$dir/tokens.txt"
    separated+=("$1")
}

RANDOM=1234
cases=() separated=()
llama3='{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":64}'
run_case qwen2_tied_gqa2 11 "11 29 1" "$(config qwen2 64 2 4 2 96 97 true null)"
run_case llama_untied_mha 12 "37" "$(config llama 48 2 4 4 80 89 false null)"
run_case llama_head_dim 13 "9 14" "$(config llama 48 2 4 2 64 61 false null ',"head_dim":16')"
# hd 16, theta 1e4, original context 64: the 8 frequencies fall in all three
# llama3 bands (kept, blended, divided by 8); positions reach 299.
run_case llama3_rope 14 "300 45" "$(config llama 64 2 4 2 96 71 false "$llama3")"
# Written as 100 KB shards: the reference reads them through the index.
run_case qwen2_untied_gqa4 15 "16 5 33" "$(config qwen2 64 2 8 2 96 97 false null)" --max-shard-size 100K
[ -d "$tmp/qwen2_tied_gqa2/model" ] && separate qwen2_tied_gqa2

[ ${#cases[@]} -gt 0 ] || exit 1
R1_TMP="$tmp" R1_SEPARATED="${separated[*]}" PYTHONPATH="$R1_ROOT/tests/ref" \
    "$R1_PY" - "${cases[@]}" <<'EOF' || failed=1
import copy, os, sys
import torch
from safetensors.torch import load_file
import model_ref as ref

torch.set_num_threads(min(2, os.cpu_count()))
tmp = os.environ["R1_TMP"]
LOGIT_TOL, LOSS_TOL, GRAD_TOL, SEP_TOL = 1e-4, 1e-4, 1e-3, 1e-5
ok = True


def relerr(a, b):
    """max|a-b| / max|b| over a tensor (b the reference)."""
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / max(float(b.abs().max()), 1e-30))


def check(case, what, err, tol):
    global ok
    good = err <= tol
    ok &= good
    print(f"{'PASS' if good else 'FAIL'}: {case} {what} relerr={err:.3g}")


def report(case, what, good, detail):
    global ok
    ok &= good
    print(f"{'PASS' if good else 'FAIL'}: {case} {what}" + (f" {detail}" if detail else ""))


def read_ids(path):
    with open(path) as f:
        return [[int(x) for x in line.split()] for line in f if line.strip()]


def check_init(case, cfg, params):
    """Names and shapes exactly as Hugging Face lays them out; norms 1, biases 0,
    matrices with the configured standard deviation."""
    want = ref.param_shapes(cfg)
    got = {n: tuple(t.shape) for n, t in params.items()}
    report(case, "init-layout", got == want,
           f"tensors={len(got)}" if got == want else
           f"missing={sorted(set(want) - set(got))} extra={sorted(set(got) - set(want))} "
           f"shape-mismatch={[n for n in want if n in got and got[n] != want[n]]}")
    if got != want:
        return
    std, worst = cfg["initializer_range"], 0.0
    for n, t in params.items():
        t = t.double()
        if n.endswith("norm.weight"):
            worst = max(worst, float((t - 1).abs().max()))
        elif n.endswith(".bias"):
            worst = max(worst, float(t.abs().max()))
        else:  # sample statistics: numel >= 1024 here, so the mean has ~3% noise
            worst = max(worst, abs(float(t.std()) / std - 1), abs(float(t.mean())) / std)
    check(case, "init-values", worst, 0.2)


def check_case(case):
    d = os.path.join(tmp, case)
    cfg, params = ref.load(os.path.join(d, "model"))
    check_init(case, cfg, params)
    seqs, tgts = read_ids(os.path.join(d, "tokens.txt")), read_ids(os.path.join(d, "targets.txt"))
    logits, loss, grads = ref.grads(cfg, params, seqs, tgts)
    out = load_file(os.path.join(d, "out.safetensors"))
    T, V = logits.shape
    if "logits" not in out or tuple(out["logits"].shape) != (T, V):
        report(case, "logits", False, f"shape {tuple(out['logits'].shape) if 'logits' in out else None} != {(T, V)}")
    else:
        check(case, f"logits[{T}x{V}]", relerr(out["logits"], logits), LOGIT_TOL)
    if "loss" not in out or out["loss"].numel() != 1:
        report(case, "loss", False, "missing or not [1]")
    else:
        check(case, f"loss={float(loss):.6f}", relerr(out["loss"].reshape(()), loss), LOSS_TOL)
    check_grads(case, out, grads)
    if cfg.get("rope_scaling") and "logits" in out:
        # The test must be able to see the scaling: without it, the reference is
        # far (>100x the tolerance) from what the C model computes.
        plain = copy.deepcopy(cfg)
        plain["rope_scaling"] = None
        err = relerr(out["logits"], ref.forward(plain, params, seqs))
        report(case, "rope-scaling-matters", err > 100 * LOGIT_TOL, f"relerr-without-scaling={err:.3g}")


def check_grads(case, out, grads):
    names = {k[len("grad."):] for k in out if k.startswith("grad.")}
    same = names == set(grads)
    report(case, "grad-names", same, f"tensors={len(names)}" if same else
           f"missing={sorted(set(grads) - names)} extra={sorted(names - set(grads))}")
    worst, worst_name, bad = 0.0, "", []
    for n in sorted(set(grads) & names):
        c = out["grad." + n]
        err = relerr(c, grads[n]) if c.shape == grads[n].shape else float("inf")
        if err > GRAD_TOL:
            bad.append((err, n, tuple(c.shape)))
        elif err >= worst:
            worst, worst_name = err, n
    # A broken backward breaks most tensors: name the first few, count the rest.
    for err, n, shape in bad[:4]:
        check(case, f"grad.{n} shape={shape}", err, GRAD_TOL)
    if len(bad) > 4:
        report(case, f"grads: {len(bad) - 4} more tensors over {GRAD_TOL}", False, "")
    if worst_name:
        check(case, f"grads ({len(names) - len(bad)} tensors, worst {worst_name})", worst, GRAD_TOL)


def check_separate(case):
    """Rows of the batched logits equal each sequence's own forward (C only)."""
    d = os.path.join(tmp, case)
    batched = load_file(os.path.join(d, "out.safetensors"))["logits"]
    lens = [len(s) for s in read_ids(os.path.join(d, "tokens.txt"))]
    alone = torch.cat([load_file(os.path.join(d, f"sep{i}.safetensors"))["logits"] for i in range(len(lens))])
    check(case, f"batch-of-{len(lens)}-equals-separate", relerr(batched, alone), SEP_TOL)


for case in sys.argv[1:]:
    try:
        check_case(case)
    except Exception as e:  # one broken case must not hide the others
        report(case, "compare", False, f"{type(e).__name__}: {e}")
for case in os.environ["R1_SEPARATED"].split():
    try:
        check_separate(case)
    except Exception as e:
        report(case, "separate", False, f"{type(e).__name__}: {e}")
sys.exit(0 if ok else 1)
EOF

# The reference itself against textbook formulas and finite differences.
PYTHONPATH="$R1_ROOT/tests/ref" "$R1_PY" "$R1_ROOT/tests/ref/model_ref.py" --selftest || failed=1
exit "$failed"
