#!/usr/bin/env bash
# Runs the whole test suite and ends with one line "N passed, M failed".
#   C unit tests:      $R1_TESTBIN/test_*   (cmocka; each case counts)
#   reference tests:   tests/test_*.sh      (each prints "PASS: name" / "FAIL: name" lines)
# The reference tests compare our executables ($R1_BIN) with PyTorch and the
# Python reference packages in .venv (made by scripts/install-deps.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_BIN:=$root/bin}" "${R1_TESTBIN:=$root/build/tests}"
export R1_BIN R1_ROOT="$root" R1_PY="${R1_PY:-$root/.venv/bin/python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
only="${1:-}"
pass=0 fail=0 failed=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# Cases passed and failed in a cmocka log: the sums of its "[  PASSED  ] N test(s)."
# and "[  FAILED  ] N test(s)" lines (one of each per group).
cmocka_sum() { sed -n "s/^\[  $1  \] \([0-9]*\) test.*/\1/p" "$2" | awk '{s += $1} END {print s + 0}'; }

count() { # $1 = name, $2 = exit status, $3 = log file, $4 = pass pattern, $5 = fail pattern
    local p f
    if [ "$4" = cmocka ]; then
        p=$(cmocka_sum PASSED "$3") f=$(cmocka_sum FAILED "$3")
    else
        p=$(grep -cE "$4" "$3" || true) f=$(grep -cE "$5" "$3" || true)
    fi
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # crashed before reporting
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi # ran nothing: that is a failure
    pass=$((pass + p))
    fail=$((fail + f))
    if [ "$f" -ne 0 ]; then failed+=("$1"); cat "$3"; fi
    printf '%-32s %3d passed, %d failed\n' "$1" "$p" "$f"
}

for t in "$R1_TESTBIN"/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    [ -n "$only" ] && [[ "$name" != *"$only"* ]] && continue
    (cd "$log" && "$t") >"$log/$name.out" 2>&1
    count "$name" $? "$log/$name.out" cmocka -
done
for t in "$here"/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    [ -n "$only" ] && [[ "$name" != *"$only"* ]] && continue
    bash "$t" >"$log/$name.out" 2>&1
    count "$name" $? "$log/$name.out" '^PASS: ' '^FAIL: '
done
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
