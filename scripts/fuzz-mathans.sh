#!/usr/bin/env bash
# Fuzzes answer extraction, math equivalence and the countdown checker (core/mathans.c,
# core/mathexpr.c) with libFuzzer under ASan + UBSan.
#   scripts/fuzz-mathans.sh [SECONDS]     (default 60)
# Seeds: every case of tests/fixtures/math_cases.tsv (gold<TAB>prediction) and every
# completion of tests/fixtures/extract_cases.tsv. A crash, a failed check or an input
# slower than 2 s stops the run with a reproducer file (crash-* / timeout-*) in
# build/fuzz-mathans/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs="${1:-60}"
out="$root/build/fuzz-mathans"
mkdir -p "$out/seeds"
command -v clang >/dev/null || { echo "fuzz: clang is needed (scripts/install-deps.sh)" >&2; exit 1; }
srcs=(util rng mathexpr mathans)
clang -std=c11 -O1 -g -D_DEFAULT_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I"$root/core" $(printf "$root/core/%s.c " "${srcs[@]}") "$root/tests/fuzz_mathans.c" \
    -lm -o "$out/fuzz_mathans"
i=0
while IFS= read -r line; do
    case "$line" in '' | '# '*) continue ;; esac
    printf '%s' "$line" | cut -f1,2 | tr -d '\n' >"$out/seeds/m$i"
    i=$((i + 1))
done <"$root/tests/fixtures/math_cases.tsv"
while IFS= read -r line; do
    case "$line" in '' | '# '*) continue ;; esac
    printf '%s' "$line" | cut -f1 | sed 's/\\n/\n/g' >"$out/seeds/e$i"
    i=$((i + 1))
done <"$root/tests/fixtures/extract_cases.tsv"
# A dictionary of the LaTeX and markup the parsers know, so mutations build real syntax.
for t in '\\frac' '\\dfrac' '\\sqrt' '\\sqrt[' '\\text{' '\\mathrm{' '\\left(' '\\right)' '\\{' '\\}' \
    '\\pi' '\\infty' '\\pm' '\\cup' '\\le' '\\ge' '\\ne' '\\in' '\\cdot' '\\times' '\\div' '^\\circ' '\\%' \
    '\\sin' '\\log_' '\\ln' '\\binom' '\\lfloor' '\\rfloor' '\\overline{' '\\emptyset' '\\alpha' \
    '\\begin{pmatrix}' '\\end{pmatrix}' '\\\\' '\\boxed{' '\\fbox{' '</think>' '<answer>' '</answer>' '####' \
    'answer is' '1,234' '0.5' '1e-3' '2 1/2' 'cm' ' and ' '\\,' '\\!' '{,}' '$'; do
    printf '"%s"\n' "$t"
done >"$out/mathans.dict"
cd "$out"
./fuzz_mathans -max_total_time="$secs" -max_len=4096 -timeout=2 -dict=mathans.dict -print_final_stats=1 \
    seeds 2>&1 | tail -n 12
