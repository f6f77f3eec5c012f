# lib.sh - what the shell tests share; source it after `set -uo pipefail`.
# Gives $tmp (a fresh directory, removed on exit), a failure count, and:
#   pass NAME / fail NAME         print "PASS: NAME" / "FAIL: NAME" (tests/run.sh counts them)
#   check NAME 'SHELL TEST'       pass or fail on the test's status
#   expect_error NAME NEEDLE CMD  CMD must exit non-zero and say NEEDLE on stderr
#   finish                        the script's exit status: non-zero when anything failed
#   needs [--torch] BIN...        the executables of $R1_BIN, the sqlite3 shell and (--torch)
#                                 torch + safetensors in $R1_PY, or a FAIL that ends the script
#   q DB SQL                      sqlite3 on DB
#   hf_config TYPE HIDDEN LAYERS HEADS KV_HEADS INTER VOCAB TIED [MAX_POS [EXTRA]]
#                                 a small Qwen2/Llama config.json (MAX_POS default 256;
#                                 initializer_range 0.1, so distributions are peaked)
#   random_model NAME SEED CONFIG_JSON
#                                 a random checkpoint in $tmp/NAME with the tiny tokenizer,
#                                 norm weights and biases given random values too
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1"; fails=$((fails + 1)); }
check() { if eval "$2"; then pass "$1"; else fail "$1"; fi; }
expect_error() {
    local name=$1 needle=$2
    shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then
        fail "$name (exit 0)"
    elif ! grep -qF -- "$needle" "$tmp/err"; then
        fail "$name (stderr lacks '$needle': $(head -c 300 "$tmp/err"))"
    else
        pass "$name"
    fi
}
finish() { [ "$fails" -eq 0 ]; }

needs() {
    local torch=0 b
    [ "${1:-}" = --torch ] && torch=1 && shift
    for b in "$@"; do
        [ -x "$R1_BIN/$b" ] || { fail "$R1_BIN/$b missing (run make)"; exit 1; }
    done
    command -v sqlite3 >/dev/null || { fail "the sqlite3 shell is missing (apt-get install sqlite3)"; exit 1; }
    if [ "$torch" = 1 ] && ! "$R1_PY" -c "import torch, safetensors" 2>/dev/null; then
        fail "$R1_PY lacks torch or safetensors (scripts/install-deps.sh)"
        exit 1
    fi
}
q() { sqlite3 "$1" "$2"; }
hf_config() {
    printf '{"model_type":"%s","hidden_size":%d,"num_hidden_layers":%d,' "$1" "$2" "$3"
    printf '"num_attention_heads":%d,"num_key_value_heads":%d,"intermediate_size":%d,' "$4" "$5" "$6"
    printf '"vocab_size":%d,"max_position_embeddings":%d,"rms_norm_eps":1e-06,' "$7" "${9:-256}"
    printf '"rope_theta":10000.0,"tie_word_embeddings":%s,"initializer_range":0.1,' "$8"
    printf '"bos_token_id":1,"eos_token_id":2,"hidden_act":"silu","torch_dtype":"float32"%s}\n' "${10:-}"
}
random_model() {
    echo "$3" >"$tmp/$1.json"
    if ! "$R1_BIN/r1-model" init --config "$tmp/$1.json" --tokenizer "$R1_ROOT/configs/tiny" \
        --out "$tmp/$1" --seed "$2" >"$tmp/$1.log" 2>&1 ||
        ! "$R1_PY" "$R1_ROOT/tests/ref/rollout_ref.py" perturb "$tmp/$1" "$2" >>"$tmp/$1.log" 2>&1; then
        cat "$tmp/$1.log"
        fail "model $1"
        return 1
    fi
}
