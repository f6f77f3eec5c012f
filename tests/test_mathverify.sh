#!/usr/bin/env bash
# r1_math_equal against the reference grader, the math-verify package (what open-r1's
# accuracy reward uses), on every case of tests/fixtures/math_cases.tsv.
#   ours:   `test_mathans --judge` prints our verdict per line (1, 0 or U);
#   theirs: gold = parse("$" + gold + "$") (parse(gold) when that finds nothing),
#           likewise the prediction, then verify(gold, pred) - math-verify's README
#           usage; an empty parsed gold is "undefined" (open-r1 then gives no reward).
#           Each parse / verify has math-verify's own 5 s timeout; a timeout is "T".
# Every disagreement must be listed, with the reason, in
# tests/fixtures/mathverify_differences.tsv (gold, pred, ours, theirs, why); a listed
# case that no longer disagrees is a failure too, so the list stays true.
# Prints "PASS: ..." per section of the case file and "FAIL: ..." per unlisted (or
# stale) difference; exits non-zero on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${R1_ROOT:=$(dirname "$here")}"
: "${R1_PY:=$R1_ROOT/.venv/bin/python}"
: "${R1_TESTBIN:=$R1_ROOT/build/tests}"
bin="$R1_TESTBIN/test_mathans"
cases="$here/fixtures/math_cases.tsv"
diffs="$here/fixtures/mathverify_differences.tsv"
tmp=$(mktemp -d /tmp/r1c_mathverify.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if [ ! -x "$bin" ]; then
    echo "FAIL: math-verify agreement: $bin is missing (make build/tests/test_mathans)"
    exit 1
fi
if ! "$bin" --judge "$cases" >"$tmp/ours.tsv"; then
    echo "FAIL: math-verify agreement: $bin --judge failed"
    exit 1
fi
if ! "$R1_PY" -c 'import math_verify' 2>/dev/null; then
    echo "FAIL: math-verify agreement: math_verify is not importable by $R1_PY (scripts/install-deps.sh)"
    exit 1
fi

"$R1_PY" - "$cases" "$tmp/ours.tsv" "$diffs" <<'EOF'
import logging, sys, warnings
from collections import OrderedDict

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)
from math_verify import parse, verify
from math_verify.errors import TimeoutException

cases_path, ours_path, diffs_path = sys.argv[1:4]


def read_cases(path):
    """(line, section, fields) for every case line, like test_mathans' reader."""
    section, out = "", []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("# ") or line == "#":
                section = line[2:].strip()
                continue
            out.append((no, section, line.split("\t")))
    return out


def parse_side(text):
    try:
        got = parse("$" + text + "$", parsing_timeout=5, raise_on_error=True)
        return got if got else parse(text, parsing_timeout=5, raise_on_error=True)
    except TimeoutException:
        raise
    except Exception:
        return []


def theirs(gold, pred):
    try:
        g = parse_side(gold)
        if not g:
            return "U"
        p = parse_side(pred)
        try:
            return "1" if verify(g, p, timeout_seconds=5, raise_on_error=True) else "0"
        except TimeoutException:
            raise
        except Exception:
            return "0"
    except TimeoutException:
        return "T"


ours = {}
with open(ours_path, encoding="utf-8") as f:
    for line in f:
        no, verdict, _ = line.rstrip("\n").split("\t", 2)
        ours[int(no)] = verdict

listed = {}
with open(diffs_path, encoding="utf-8") as f:
    for no, line in enumerate(f, 1):
        line = line.rstrip("\n")
        if not line or line.startswith("# ") or line == "#":
            continue
        parts = line.split("\t")
        if len(parts) < 5:
            print(f"FAIL: mathverify_differences.tsv:{no}: needs gold, pred, ours, theirs, why")
            continue
        listed[(parts[0], parts[1])] = (parts[2], parts[3], no)

sections = OrderedDict()
fails, seen, agree, excused, timeouts = 0, set(), 0, 0, 0
for no, section, f in read_cases(cases_path):
    gold, pred = f[0], f[1] if len(f) > 1 else ""
    o, t = ours.get(no, "?"), theirs(gold, pred)
    timeouts += t == "T"
    st = sections.setdefault(section, [0, 0])
    st[0] += 1
    key = (gold, pred)
    if key in listed:
        seen.add(key)
        lo, lt, lno = listed[key]
        if o == t:
            print(f"FAIL: listed difference no longer differs (mathverify_differences.tsv:{lno}): "
                  f"gold [{gold}] pred [{pred}]: both {o}")
            fails += 1
        elif (lo, lt) != (o, t):
            print(f"FAIL: listed difference changed (mathverify_differences.tsv:{lno}): gold [{gold}] "
                  f"pred [{pred}]: listed ours {lo} / theirs {lt}, now ours {o} / theirs {t}")
            fails += 1
        else:
            st[1] += 1
            excused += 1
        continue
    if o == t:
        agree += 1
    else:
        print(f"FAIL: math_cases.tsv:{no}: gold [{gold}] pred [{pred}]: ours {o}, math-verify {t}"
              f" - {f[3] if len(f) > 3 else ''}")
        fails += 1
for key, (lo, lt, lno) in listed.items():
    if key not in seen:
        print(f"FAIL: mathverify_differences.tsv:{lno}: gold [{key[0]}] pred [{key[1]}] is not a case")
        fails += 1
for section, (n, d) in sections.items():
    print(f"PASS: math-verify agreement, {section}: {n} cases ({d} listed differences)")
total = sum(n for n, _ in sections.values())
print(f"math-verify agreement: {agree} of {total} cases agree, {excused} listed differences, "
      f"{timeouts} timeouts, {fails} failures")
sys.exit(1 if fails else 0)
EOF
