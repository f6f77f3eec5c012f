# lib.sh - what the shell tests share; source it after `set -uo pipefail`.
# Gives $tmp (a fresh directory, removed on exit), a failure count, and:
#   pass NAME / fail NAME         print "PASS: NAME" / "FAIL: NAME" (tests/run.sh counts them)
#   check NAME 'SHELL TEST'       pass or fail on the test's status
#   expect_error NAME NEEDLE CMD  CMD must exit non-zero and say NEEDLE on stderr
#   finish                        the script's exit status: non-zero when anything failed
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
