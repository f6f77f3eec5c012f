#!/usr/bin/env bash
# bin/r1-data import / export: the real data sets (when ../shared/data is there) and
# the slices of them in tests/fixtures/data (always), idempotence, all-or-nothing
# failure, --skip-bad, stdin, round trips through export, UTF-8 kept byte for
# byte, and a database killed in the middle of an import.
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
: "${R1_BIN:?}" "${R1_ROOT:?}"
. "$(dirname "$0")/lib.sh"
d="$R1_BIN/r1-data"
fx="$R1_ROOT/tests/fixtures/data"
shared="$R1_ROOT/../shared/data"
# same NAME WANT GOT: passes when GOT is WANT, else says both.
same() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1 (want '$2', got '$3')"; fi; }
q() { sqlite3 "$@"; }

if ! command -v sqlite3 >/dev/null; then
    fail "the sqlite3 shell is missing (apt-get install sqlite3)"
    exit 1
fi

# expect_status STATUS NAME NEEDLE CMD...: CMD must exit STATUS (1: bad data,
# 2: bad options) and say NEEDLE on stderr.
expect_status() {
    local want=$1 name=$2 needle=$3 rc
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "$name (exit $rc, want $want: $(head -c 300 "$tmp/err"))"
    elif ! grep -qF -- "$needle" "$tmp/err"; then
        fail "$name (stderr lacks '$needle': $(head -c 300 "$tmp/err"))"
    else
        pass "$name"
    fi
}

# import_all DB DIR: every data set under DIR in its format (quietly).
import_all() {
    "$d" import --db "$1" --quiet --format gsm8k "$2/gsm8k/train.jsonl" "$2/gsm8k/test.jsonl" &&
        "$d" import --db "$1" --quiet --format math "$2/math500/test.jsonl" "$2/aime24/test.jsonl" \
            "$2/amc23/test.jsonl" &&
        "$d" import --db "$1" --quiet --format jsonl --question-field question \
            --answer-field answer "$2/cmath/test.jsonl"
}

counts() { q "$1" "SELECT group_concat(dataset || '/' || split || '=' || prompts, ' ') FROM
    (SELECT * FROM dataset_counts ORDER BY dataset, split)"; }
answer() { q "$1" "SELECT answer FROM prompts WHERE dataset = '$2' ORDER BY id LIMIT 1 OFFSET $3"; }

# ---- the fixture slices: every format, the defaults for dataset and split ----
db="$tmp/fx.db"
check "import every fixture slice" 'import_all "$db" "$fx"'
same "fixture counts per dataset/split" \
    "aime24/test=5 amc23/test=20 cmath/test=20 gsm8k/test=21 gsm8k/train=21 math500/test=20" \
    "$(counts "$db")"
same "first GSM8K train answer" 72 "$(answer "$db" gsm8k 0)"
same "GSM8K answer '1,080' loses its comma" 1080 \
    "$(q "$db" "SELECT answer FROM prompts WHERE question LIKE 'Adam earns %'")"
same "GSM8K solution is the text before ####" \
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May." \
    "$(q "$db" "SELECT solution FROM prompts WHERE id = 1" | tail -n 1)"
same "AMC 27.0 is stored as 27" 27 "$(answer "$db" amc23 0)"
same "AMC -1.0 is stored as -1" -1 "$(answer "$db" amc23 15)"
same "AIME answer" 204 "$(answer "$db" aime24 0)"
same "AIME id and url go to meta, the repeated question does not" \
    '{"id":60,"url":"https://artofproblemsolving.com/wiki/index.php/2024_AIME_I_Problems/Problem_1"}' \
    "$(q "$db" "SELECT meta FROM prompts WHERE dataset = 'aime24' ORDER BY id LIMIT 1")"
same "MATH-500 LaTeX answer" '\left( 3, \frac{\pi}{2} \right)' "$(answer "$db" math500 0)"
same "MATH-500 subject, level and unique_id go to meta" \
    '{"subject":"Precalculus","level":2,"unique_id":"test/precalculus/807.json"}' \
    "$(q "$db" "SELECT meta FROM prompts WHERE dataset = 'math500' ORDER BY id LIMIT 1")"
zh='妈妈带了30元，买了一条鱼，剩6元，这条鱼多少钱？'
same "CMATH Chinese question intact" "$zh" "$(q "$db" "SELECT question FROM prompts WHERE dataset = 'cmath' AND answer = '24'")"
same "CMATH Chinese question intact, byte for byte" "$(printf '%s' "$zh" | od -An -tx1 | tr -d ' \n')" \
    "$(q "$db" "SELECT lower(hex(question)) FROM prompts WHERE dataset = 'cmath' AND answer = '24'")"
same "CMATH grade etc. go to meta" '{"grade":1,"reasoning_step":2,"num_digits":2}' \
    "$(q "$db" "SELECT meta FROM prompts WHERE dataset = 'cmath' AND answer = '24'")"
same "source names the file" "$fx/cmath/test.jsonl" \
    "$(q "$db" "SELECT DISTINCT source FROM prompts WHERE dataset = 'cmath'")"

# ---- idempotence: the same files again add nothing ----
before=$(counts "$db")
import_all "$db" "$fx"
same "importing everything twice adds nothing" "$before" "$(counts "$db")"
"$d" import --db "$db" --format gsm8k "$fx/gsm8k/test.jsonl" 2>"$tmp/err"
same "the second import reports what was already there" \
    "r1-data import: added 0, already present 21, skipped 0 bad lines" "$(cat "$tmp/err")"
# shellcheck disable=SC2034 # cr is used inside check's quotes
cr=$'\r'
check "no progress line when stderr is not a terminal" '! grep -qF "$cr" "$tmp/err"'

# ---- options: --dataset, --split, stdin ----
"$d" import --db "$tmp/o.db" --quiet --format gsm8k --dataset mine --split dev "$fx/gsm8k/test.jsonl"
same "--dataset and --split" "mine/dev=21" "$(counts "$tmp/o.db")"
"$d" import --db "$tmp/stdin.db" --quiet --format gsm8k - <"$fx/gsm8k/train.jsonl"
# shellcheck disable=SC2002 # a pipe on stdin, not a file
cat "$fx/cmath/test.jsonl" | "$d" import --db "$tmp/stdin.db" --quiet --format jsonl -
same "stdin (-): dataset from the format, split train" "gsm8k/train=21 jsonl/train=20" "$(counts "$tmp/stdin.db")"
same "stdin (-): source is stdin" stdin "$(q "$tmp/stdin.db" "SELECT DISTINCT source FROM prompts")"
sed 's/"question"/"q"/; s/"answer"/"a"/' "$fx/cmath/test.jsonl" >"$tmp/renamed.jsonl"
"$d" import --db "$tmp/fields.db" --quiet --format jsonl --question-field q --answer-field a \
    --dataset cmath "$tmp/renamed.jsonl"
same "--question-field/--answer-field" "$zh|24" \
    "$(q "$tmp/fields.db" "SELECT question, answer FROM prompts WHERE id = 3")"

expect_status 2 "messages needs --kind" "--kind" "$d" import --db "$tmp/x.db" --format messages "$fx/cmath/test.jsonl"
expect_status 2 "unknown --kind" "--kind must be" "$d" import --db "$tmp/x.db" --format messages --kind sft "$fx/cmath/test.jsonl"
expect_status 1 "missing file is named" "$tmp/nowhere.jsonl: cannot open" \
    "$d" import --db "$tmp/x.db" --format gsm8k "$tmp/nowhere.jsonl"
expect_status 2 "unknown format" "unknown --format 'yaml'" "$d" import --db "$tmp/x.db" --format yaml x
expect_status 2 "--kind is only for messages" "--kind is only for" "$d" import --db "$tmp/x.db" --format gsm8k --kind distill x
expect_status 2 "export: --step is only for rollouts" "--step and --stage are only for" "$d" export --db "$db" --table prompts --step 1
check "import --help exits 0" '"$d" import --help >/dev/null'
check "export --help exits 0" '"$d" export --help >/dev/null'

# ---- a bad line in the middle: exit 1, FILE:LINE, database unchanged ----
bad="$tmp/bad"
mkdir -p "$bad/gsm8k"
{ head -n 10 "$fx/gsm8k/test.jsonl"; echo '{"question": "What is 1+1?", "answer": "2"}'; tail -n 11 "$fx/gsm8k/test.jsonl"; } >"$bad/gsm8k/test.jsonl"
q "$db" .dump >"$tmp/dump.before"
expect_status 1 "GSM8K answer without ####: names file and line" "$bad/gsm8k/test.jsonl:11: the answer has no \"#### N\"" \
    "$d" import --db "$db" --format gsm8k --dataset other "$bad/gsm8k/test.jsonl"
q "$db" .dump >"$tmp/dump.after"
check "after a failed import the database is unchanged" 'cmp -s "$tmp/dump.before" "$tmp/dump.after"'
cp "$fx/cmath/test.jsonl" "$tmp/trunc.jsonl" && echo '{"question": "1+1", "answer": "2"' >>"$tmp/trunc.jsonl"
expect_status 1 "bad JSON names the line and column" "trunc.jsonl:21: column 34: expected ',' or '}'" \
    "$d" import --db "$tmp/atomic.db" --format jsonl "$tmp/trunc.jsonl"
same "a failed import into a new database leaves it empty" 0 "$(q "$tmp/atomic.db" "SELECT count(*) FROM prompts")"
printf '{"question": "bad \xff byte", "answer": "1"}\n' >"$tmp/utf8.jsonl"
expect_status 1 "invalid UTF-8 is refused" "utf8.jsonl:1: column 19: invalid UTF-8 in a string" \
    "$d" import --db "$tmp/atomic.db" --format jsonl "$tmp/utf8.jsonl"
echo '{"question": "a\u0000b", "answer": "1"}' >"$tmp/nul.jsonl"
expect_status 1 "an embedded NUL is refused" "nul.jsonl:1: column 16: \\u0000" \
    "$d" import --db "$tmp/atomic.db" --format jsonl "$tmp/nul.jsonl"
echo '{"question": "q", "answer": "1", "n": 01}' >"$tmp/num.jsonl"
expect_status 1 "JSON that cJSON would take but RFC 8259 does not (01)" "num.jsonl:1: column 40" \
    "$d" import --db "$tmp/atomic.db" --format jsonl "$tmp/num.jsonl"
echo '{"problem": "p", "solution": "s"}' >"$tmp/noanswer.jsonl"
expect_status 1 "math line without an answer" 'noanswer.jsonl:1: no "answer" field' \
    "$d" import --db "$tmp/atomic.db" --format math "$tmp/noanswer.jsonl"

# ---- --skip-bad: the good lines go in, the bad ones are counted ----
{ cat "$bad/gsm8k/test.jsonl"; echo 'not json'; echo '{"question": "q"}'; echo; } >"$tmp/skip.jsonl"
"$d" import --db "$tmp/skip.db" --format gsm8k --skip-bad "$tmp/skip.jsonl" 2>"$tmp/err"
check "--skip-bad exits 0" '[ $? -eq 0 ]'
same "--skip-bad summary" "r1-data import: added 21, already present 0, skipped 3 bad lines" "$(tail -n 1 "$tmp/err")"
check "--skip-bad names the skipped lines" 'grep -qF "skip.jsonl:11: the answer has no" "$tmp/err" && grep -qF "skip.jsonl:24: no \"answer\" field" "$tmp/err"'
"$d" import --db "$tmp/skip.db" --format gsm8k --skip-bad --quiet "$tmp/skip.jsonl" 2>"$tmp/err"
check "--quiet prints nothing" '[ ! -s "$tmp/err" ]'

# ---- chat samples ----
msgs="$tmp/chat.jsonl"
cat >"$msgs" <<'EOF'
{"messages": [{"role": "system", "content": "Think first."}, {"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "<think>\n2+3=5\n</think>\n\n\\boxed{5}"}]}
{"messages":[{"role":"user","content":"一共有几个苹果？"},{"role":"assistant","content":"答案是 7。"},{"role":"user","content":"再加 \"三\" 个呢？"},{"role":"assistant","content":"10 \ud83c\udf4e"}]}
{"id": 7, "messages":[{"role":"user","content":"Tab\there"},{"role":"assistant","content":"ok"}]}
EOF
"$d" import --db "$tmp/sft.db" --quiet --format messages --kind cold_start "$msgs"
same "chat samples imported" 3 "$(q "$tmp/sft.db" "SELECT count(*) FROM sft_samples WHERE kind = 'cold_start'")"
same "prompt = last user message, response = last assistant message" '再加 "三" 个呢？|10 🍎' \
    "$(q "$tmp/sft.db" "SELECT prompt, response FROM sft_samples WHERE id = 2")"
same "messages = the array's text as written" \
    '[{"role":"user","content":"Tab\there"},{"role":"assistant","content":"ok"}]' \
    "$(q "$tmp/sft.db" "SELECT messages FROM sft_samples WHERE id = 3")"
same "content_hash is of the messages text" 3 \
    "$(q "$tmp/sft.db" "SELECT count(DISTINCT content_hash) FROM sft_samples WHERE length(content_hash) = 16")"
"$d" import --db "$tmp/sft.db" --format messages --kind cold_start "$msgs" 2>"$tmp/err"
same "chat samples twice: nothing added" "r1-data import: added 0, already present 3, skipped 0 bad lines" "$(cat "$tmp/err")"
"$d" import --db "$tmp/sft.db" --quiet --format messages --kind distill "$msgs"
same "the same samples under another kind are other rows" "cold_start=3 distill=3" \
    "$(q "$tmp/sft.db" "SELECT group_concat(kind || '=' || samples, ' ') FROM sft_counts")"
{ head -n 1 "$msgs"; echo '{"messages":[{"role":"user","content":"only a question"}]}'; tail -n 2 "$msgs"; } >"$tmp/chatbad.jsonl"
expect_status 1 "chat line without an assistant message" "chatbad.jsonl:2: no assistant message" \
    "$d" import --db "$tmp/sft.db" --format messages --kind reasoning "$tmp/chatbad.jsonl"
same "failed chat import added nothing" 0 "$(q "$tmp/sft.db" "SELECT count(*) FROM sft_samples WHERE kind = 'reasoning'")"
echo '{"messages":[{"role":"tool","content":"x"},{"role":"user","content":"q"}]}' >"$tmp/role.jsonl"
expect_status 1 "unknown role" 'role.jsonl:1: message 0: needs a "role" of system, user or assistant' \
    "$d" import --db "$tmp/sft.db" --format messages --kind reasoning "$tmp/role.jsonl"

# ---- export -> import -> export is the identity ----
"$d" export --db "$db" --table prompts >"$tmp/p1.jsonl"
"$d" import --db "$tmp/rt.db" --quiet --format jsonl --question-field question --answer-field answer "$tmp/p1.jsonl"
"$d" export --db "$tmp/rt.db" --table prompts >"$tmp/p2.jsonl"
check "prompts round trip (export, import, export: identical)" '[ -s "$tmp/p1.jsonl" ] && cmp -s "$tmp/p1.jsonl" "$tmp/p2.jsonl"'
same "round trip keeps datasets, splits and counts" "$(counts "$db")" "$(counts "$tmp/rt.db")"
same "round trip keeps meta" "$(q "$db" "SELECT group_concat(meta) FROM prompts")" \
    "$(q "$tmp/rt.db" "SELECT group_concat(meta) FROM prompts")"
same "exported prompt line" \
    '{"question":"妈妈带了30元，买了一条鱼，剩6元，这条鱼多少钱？","answer":"24","dataset":"cmath","split":"test","meta":{"grade":1,"reasoning_step":2,"num_digits":2}}' \
    "$("$d" export --db "$db" --table prompts --dataset cmath | sed -n 3p)"
same "export --dataset --split" 21 "$("$d" export --db "$db" --table prompts --dataset gsm8k --split test | wc -l)"
"$d" export --db "$tmp/sft.db" --table sft --kind cold_start >"$tmp/s1.jsonl"
"$d" import --db "$tmp/rt2.db" --quiet --format messages --kind cold_start "$tmp/s1.jsonl"
"$d" export --db "$tmp/rt2.db" --table sft >"$tmp/s2.jsonl"
check "sft round trip (export, import, export: identical)" '[ "$(wc -l <"$tmp/s1.jsonl")" -eq 3 ] && cmp -s "$tmp/s1.jsonl" "$tmp/s2.jsonl"'
same "round trip keeps the content hashes" "$(q "$tmp/sft.db" "SELECT group_concat(content_hash) FROM sft_samples WHERE kind = 'cold_start'")" \
    "$(q "$tmp/rt2.db" "SELECT group_concat(content_hash) FROM sft_samples")"
same "exported sft line" \
    '{"messages":[{"role":"user","content":"Tab\there"},{"role":"assistant","content":"ok"}],"kind":"cold_start"}' \
    "$(sed -n 3p "$tmp/s1.jsonl")"

# rollouts: ids and logprobs from their little-endian BLOBs, rewards by name
q "$tmp/sft.db" "INSERT INTO prompts (id, dataset, split, question, answer, content_hash) VALUES (1, 'd', 'train', 'q', '5', 'h');
INSERT INTO rollouts (id, step, prompt_id, sample, prompt_ids, completion_ids, logprobs, text, finish_reason, n_tokens)
  VALUES (1, 3, 1, 0, X'01000000', X'0700000000010000FFFFFFFF', X'000000BF0000803F00000000', 'a \"b\"', 'stop', 3),
         (2, 4, 1, 1, X'', X'', X'', '', 'length', 0);
INSERT INTO rewards VALUES (1, 'accuracy', 1.0), (1, 'format', 0.25), (1, 'total', NULL);"
same "rollouts export" \
    '{"stage":"rl","step":3,"prompt_id":1,"sample":0,"text":"a \"b\"","finish_reason":"stop","completion_ids":[7,256,-1],"logprobs":[-0.5,1,0],"rewards":{"accuracy":1,"format":0.25,"total":null}}' \
    "$("$d" export --db "$tmp/sft.db" --table rollouts --step 3)"
same "rollouts export: empty blobs, no rewards" \
    '{"stage":"rl","step":4,"prompt_id":1,"sample":1,"text":"","finish_reason":"length","completion_ids":[],"logprobs":[],"rewards":{}}' \
    "$("$d" export --db "$tmp/sft.db" --table rollouts --dataset d | tail -n 1)"
expect_status 1 "export of a missing database does not create it" "no such database" \
    "$d" export --db "$tmp/none.db" --table prompts
check "... and leaves no file" '[ ! -e "$tmp/none.db" ]'

# ---- killed in the middle: all or nothing ----
# gen N: N chat lines of about 400 bytes, each different.
gen() {
    awk -v n="$1" 'BEGIN {
        pad = "Let x be the number of apples; then we compute each step carefully and check it."
        for (i = 0; i < n; i++)
            printf "{\"messages\":[{\"role\":\"user\",\"content\":\"Problem %d: %s\"},{\"role\":\"assistant\",\"content\":\"<think>\\n%s\\n%s\\n</think>\\n\\n%d\"}]}\n", i, pad, pad, pad, i % 97
    }'
}
n=300000
gen $n >"$tmp/big.jsonl"
# on_disk DB: bytes in the database file and its WAL.
on_disk() { echo $(($(stat -c %s "$1") + $(stat -c %s "$1-wal" 2>/dev/null || echo 0))); }
# killed_import NAME DB MODE: imports big.jsonl (MODE file: named on the command
# line; pipe: on stdin from a pipe) and kills it with SIGKILL once it has run 0.4 s
# and begun writing pages to disk (more than its page cache holds), then checks
# that the database is sound and holds all the samples or none.
killed_import() {
    local name=$1 db=$2 mode=$3 pid rows size0 written i=0
    size0=$(on_disk "$db")
    if [ "$mode" = file ]; then
        "$d" import --db "$db" --bulk --format messages --kind reasoning "$tmp/big.jsonl" 2>/dev/null &
    else
        "$d" import --db "$db" --format messages --kind reasoning - 2>/dev/null < <(cat "$tmp/big.jsonl") &
    fi
    pid=$!
    sleep 0.4
    while [ "$(on_disk "$db")" -lt $((size0 + (1 << 20))) ] && [ $i -lt 100 ] && kill -0 "$pid" 2>/dev/null; do
        sleep 0.05
        i=$((i + 1))
    done
    written=$((($(on_disk "$db") - size0) >> 20))
    if kill -9 "$pid" 2>/dev/null; then wait "$pid" 2>/dev/null; else
        wait "$pid"
        echo "note: $name finished before it could be killed; nothing was interrupted"
    fi
    same "$name: integrity_check after kill -9" ok "$(q "$db" 'PRAGMA integrity_check')"
    rows=$(q "$db" 'SELECT count(*) FROM sft_samples')
    check "$name: all or nothing after kill -9 with $written MB written ($rows rows)" '[ "$rows" -eq 0 ] || [ "$rows" -eq $n ]'
    "$d" import --db "$db" --quiet --format messages --kind reasoning "$tmp/big.jsonl"
    same "$name: the next import completes" $n "$(q "$db" 'SELECT count(*) FROM sft_samples')"
}
# A large file with --bulk goes through a rollback journal; a pipe (size unknown) through the WAL.
"$d" init --db "$tmp/kill1.db" >/dev/null
killed_import "bulk import from a file" "$tmp/kill1.db" file
check "bulk import: back in WAL mode after it" '[ "$(q "$tmp/kill1.db" "PRAGMA journal_mode")" = wal ]'
"$d" init --db "$tmp/kill2.db" >/dev/null
killed_import "import from a pipe" "$tmp/kill2.db" pipe

# ---- the real data sets ----
if [ -d "$shared" ]; then
    real="$tmp/real.db"
    check "import every real data set" 'import_all "$real" "$shared"'
    same "real counts per dataset/split" \
        "aime24/test=30 amc23/test=40 cmath/test=600 gsm8k/test=1319 gsm8k/train=7473 math500/test=500" \
        "$(counts "$real")"
    same "real: first GSM8K train answer" 72 "$(answer "$real" gsm8k 0)"
    same "real: no GSM8K answer keeps a comma" 0 "$(q "$real" "SELECT count(*) FROM prompts WHERE dataset = 'gsm8k' AND answer LIKE '%,%'")"
    same "real: GSM8K train line 346 ('#### 1,080')" 1080 "$(answer "$real" gsm8k 345)"
    same "real: AMC 27.0 -> 27" 27 "$(answer "$real" amc23 0)"
    same "real: CMATH Chinese intact" "$zh" "$(q "$real" "SELECT question FROM prompts WHERE dataset = 'cmath' AND id = (SELECT min(id) + 2 FROM prompts WHERE dataset = 'cmath')")"
    same "real: every answer present" 0 "$(q "$real" "SELECT count(*) FROM prompts WHERE answer IS NULL OR answer = ''")"
    before=$(counts "$real")
    import_all "$real" "$shared"
    same "real: importing twice adds nothing" "$before" "$(counts "$real")"
    "$d" export --db "$real" --table prompts >"$tmp/r1.jsonl"
    "$d" import --db "$tmp/real2.db" --quiet --format jsonl "$tmp/r1.jsonl"
    "$d" export --db "$tmp/real2.db" --table prompts >"$tmp/r2.jsonl"
    check "real: round trip through export is the identity" 'cmp -s "$tmp/r1.jsonl" "$tmp/r2.jsonl"'
else
    echo "note: $shared not found; the full data sets were not checked"
fi

# ---- review findings: pairs, exactness, the --db name, concurrent first opens ----
e="$tmp/edge.db"
"$d" init --db "$e" >/dev/null
printf '%s\n' '{"messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"}]}' >"$tmp/trailing_user.jsonl"
expect_error "a conversation ending with a user turn is a bad line" "no assistant message after the last user message" \
    "$d" import --db "$e" --format messages --kind reasoning "$tmp/trailing_user.jsonl"
printf '%s\n' '{"messages":[{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"},{"role":"assistant","content":"a2"}]}' >"$tmp/pairs.jsonl"
"$d" import --db "$e" --quiet --format messages --kind reasoning "$tmp/pairs.jsonl"
same "the SFT pair is the last user turn and its reply" "q2|a2" "$(q "$e" "SELECT prompt || '|' || response FROM sft_samples")"
printf '%s\n' '{"problem":"p","answer":12345678901234567890}' >"$tmp/huge.jsonl"
expect_error "a gold answer number past 2^53 is refused, not rounded" "too large to be exact" \
    "$d" import --db "$e" --format math "$tmp/huge.jsonl"
printf '%s\n' '{"problem":"p","answer":9007199254740991}' >"$tmp/big_ok.jsonl"
"$d" import --db "$e" --quiet --format math --dataset big "$tmp/big_ok.jsonl"
same "the largest exact integer answer is kept digit for digit" 9007199254740991 "$(q "$e" "SELECT answer FROM prompts WHERE dataset = 'big'")"
expect_error "--db '' is refused (SQLite would use a temporary database)" "needs a file name" \
    "$d" import --db "" --format gsm8k "$R1_ROOT/tests/fixtures/gsm8k-train-300.jsonl"
expect_error "stats on a missing database is an error, not a new file" "no such database" "$d" stats --db "$tmp/nope.db"
check "stats created nothing" '[ ! -e "$tmp/nope.db" ]'
for i in 1 2 3 4 5; do
    rm -f "$tmp/race.db"*
    "$d" init --db "$tmp/race.db" >/dev/null 2>"$tmp/race1" &
    "$d" init --db "$tmp/race.db" >/dev/null 2>"$tmp/race2" &
    "$d" synth --db "$tmp/race.db" --task arith --n 5 --seed 1 --quiet 2>"$tmp/race3" &
    wait
    cat "$tmp/race1" "$tmp/race2" "$tmp/race3" >>"$tmp/race.err"
done
if [ -s "$tmp/race.err" ]; then
    fail "five races of three first opens: no errors ($(sort "$tmp/race.err" | uniq -c | head -c 400))"
else
    pass "five races of three first opens: no errors"
fi

printf '\xEF\xBB\xBF{"question":"bom","answer":"x #### 5"}\n' >"$tmp/bom.jsonl"
"$d" import --db "$e" --quiet --format gsm8k --dataset bom "$tmp/bom.jsonl"
same "a UTF-8 byte order mark at the start of a file is skipped" 5 "$(q "$e" "SELECT answer FROM prompts WHERE dataset = 'bom'")"

finish
