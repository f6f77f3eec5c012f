# lib.sh - what the benchmark scripts share; source it.
#   last_json CMD...   runs CMD (its other output goes to stderr) and prints its last line
#                      that is a JSON object; fails if CMD fails or prints none
#   timed CMD...       runs CMD (its output to stderr) and prints its wall-clock seconds
#   $bench_config      the bench model's config.json (the shape of bench/bench_model.c), as
#                      bin/r1-model init reads it
bench_config="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bench_model_config.json"

last_json() {
    local out line
    out=$("$@") || { echo "bench: '$*' failed" >&2; return 1; }
    line=$(printf '%s\n' "$out" | grep '^{' | tail -n 1) || true
    printf '%s\n' "$out" | grep -v '^{' >&2 || true
    [ -n "$line" ] || { echo "bench: '$*' printed no JSON result" >&2; return 1; }
    printf '%s\n' "$line"
}

timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >&2
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
