#!/usr/bin/env bash
# Chat-format SFT import: `r1-data import --format messages` of 800K samples of
# about 1 KB each (the same file on every machine: an awk script with its own
# Park-Miller generator, no rand()), into a fresh run database.
# Prints samples/s for the first import, for importing the same file again (every
# line already present) and for exporting the table, the database's bytes per
# sample and its page size, and whether the goal (>= 100K samples/s) is met.
# Usage: bench/bench_import.sh [N]   (default 800000; R1_BIN as for bench/run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${R1_BIN:=$(dirname "$here")/bin}"
n=${1:-800000}
goal=100000
d="$R1_BIN/r1-data"
tmp=$(mktemp -d /tmp/r1c_bench_import.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# gen N: N lines {"messages":[system?, user, assistant]}; sentences of English and
# Chinese words with escapes (\n, \") as real reasoning traces have; every line differs.
gen() {
    awk -v n="$1" '
    function rnd(k) { seed = (seed * 16807) % 2147483647; return seed % k }
    function sentence(   s, k) {
        s = word[rnd(nw)]
        for (k = 1 + rnd(12); k > 0; k--) s = s " " word[rnd(nw)]
        return s "."
    }
    BEGIN {
        seed = 12345
        nw = split("the of and to a in is that for it as with was on be by this are we from " \
                   "number sum twice half total each remaining apples minutes dollars equation " \
                   "let x y so therefore check wait compute multiply divide subtract add result " \
                   "\\\"quoted\\\" 答案 所以 我们 计算 一共 剩下 每个 因此", word, " ")
        for (p = 0; p < 512; p++) pool[p] = sentence() " " sentence()
        for (i = 0; i < n; i++) {
            user = "Problem " i ": " pool[rnd(512)] " " pool[rnd(512)] " " pool[rnd(512)]
            think = pool[rnd(512)]
            for (k = 0; k < 7; k++) think = think "\\n" pool[rnd(512)]
            sys = i % 4 == 0 ? "{\"role\":\"system\",\"content\":\"Think step by step.\"}," : ""
            printf "{\"messages\":[%s{\"role\":\"user\",\"content\":\"%s\"},", sys, user
            printf "{\"role\":\"assistant\",\"content\":\"<think>\\n%s\\n</think>\\n\\n", think
            printf "The answer is \\\\boxed{%d}.\"}]}\n", i % 997
        }
    }'
}

# timed CMD...: runs CMD, prints its wall-clock seconds.
timed() {
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

gen "$n" >"$tmp/chat.jsonl"
bytes=$(stat -c %s "$tmp/chat.jsonl")
sync # so that writing the input back does not compete with the import
echo "== SFT import: $n chat samples, $((bytes / n)) bytes a line on average ($((bytes >> 20)) MiB), $(nproc) CPUs"
db="$tmp/run.db"
"$d" init --db "$db" >/dev/null
first=$(timed "$d" import --db "$db" --quiet --format messages --kind reasoning "$tmp/chat.jsonl")
rows=$(sqlite3 "$db" "SELECT count(*) FROM sft_samples")
[ "$rows" -eq "$n" ] || { echo "bench: $rows samples in the database, want $n" >&2; exit 1; }
# The same into a fresh database with --bulk (a rollback journal instead of the WAL).
"$d" init --db "$tmp/bulk.db" >/dev/null
bulk=$(timed "$d" import --db "$tmp/bulk.db" --bulk --quiet --format messages --kind reasoning "$tmp/chat.jsonl")
rows=$(sqlite3 "$tmp/bulk.db" "SELECT count(*) FROM sft_samples")
rm -f "$tmp/bulk.db"*
[ "$rows" -eq "$n" ] || { echo "bench: $rows samples in the database, want $n" >&2; exit 1; }
again=$(timed "$d" import --db "$db" --quiet --format messages --kind reasoning "$tmp/chat.jsonl")
export_s=$(timed sh -c "'$d' export --db '$db' --table sft >'$tmp/out.jsonl'")
db_bytes=$(stat -c %s "$db")
page=$(sqlite3 "$db" "PRAGMA page_size")
awk -v n="$n" -v a="$first" -v k="$bulk" -v b="$again" -v e="$export_s" -v size="$db_bytes" \
    -v page="$page" -v goal="$goal" 'BEGIN {
    rate = n / k
    printf "%-36s%8.2f s %10.0f samples/s\n", "import (new samples, WAL)", a, n / a
    printf "%-36s%8.2f s %10.0f samples/s\n", "import --bulk (new samples)", k, rate
    printf "%-36s%8.2f s %10.0f samples/s\n", "import again (all already present)", b, n / b
    printf "%-36s%8.2f s %10.0f samples/s\n", "export --table sft", e, n / e
    printf "database: %.0f bytes/sample (%.0f MiB, page size %d)\n", size / n, size / 1048576, page
    printf "goal import >= %d samples/s: with --bulk %s (%.0f); in WAL %s (%.0f)\n", goal,
           (rate >= goal ? "met" : "NOT met"), rate, (n / a >= goal ? "met" : "NOT met"), n / a
}'
