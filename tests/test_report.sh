#!/usr/bin/env bash
# bin/r1-report end to end, on a run database filled by the real stages:
#   1. the database: a random-weight model (hidden 64, the tiny tokenizer); RL stage
#      r1-zero (3 steps of r1-rollout -> r1-reward -> r1-grpo with --stage r1-zero),
#      one step of a stage run without --stage (rows 'rl', metrics 'rollout'/'grpo'),
#      evaluations eval/base (step 0) and eval/r1-zero (steps 0 and 2) scored with
#      r1-reward --eval, an SFT run (r1-sft --stage cold-start, with eval loss);
#      inserted by hand: the phases r1 and distill (eval/ metrics with known rates), an
#      eval/distill rollout whose text holds </pre><script>, a prompt whose question
#      holds <b>&, a NULL and an infinite metric
#   2. the page: exit 0, atomic write, no network reference, no script, the phases in
#      pipeline order, 15 <svg> (evaluation bars and r1-zero's curve, 6 per RL stage,
#      1 per SFT run), no chart without data (the 'rl' stage finds its metrics), each
#      SVG well-formed XML, database text escaped, the samples chosen (a correct one
#      first), NULL shown as undefined, the database unchanged; with the GRPO metrics
#      deleted their charts say "no data"; an empty run database is a page without charts
#   3. rendering: headless Chromium screenshots the page (1200 x 3000) and
#      tests/ref/png_colors.py (standard library PNG decoder) counts the pixels of the
#      chart palette: bars of the first three colours and the rewards chart's fourth
#      line must be drawn, not just text. Chromium missing is a FAIL
#      (scripts/install-deps.sh installs it)
#   4. refusals: missing, non-database and too-new files named, bad usage exit 2
# Prints "PASS: ..." / "FAIL: ..." lines (counted by tests/run.sh); needs sqlite3.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
: "${R1_ROOT:=$root}" "${R1_BIN:=$root/bin}" "${R1_PY:=$root/.venv/bin/python}"
. "$here/lib.sh"
rep="$R1_BIN/r1-report"
tiny="$R1_ROOT/configs/tiny"

needs r1-report r1-data r1-model r1-rollout r1-reward r1-grpo r1-sft
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

db="$tmp/run.db"
q() { sqlite3 "$db" "$1"; }
# run NAME CMD...: quiet unless it fails (then its output is shown).
run() {
    local name=$1
    shift
    "$@" >"$tmp/$name.log" 2>&1 || { echo "--- $name: $*" && cat "$tmp/$name.log" && return 1; }
}

# ---------------------------------------------------------------- 1. the database
rl_step() { # rl_step STAGE_ARGS STEP MODEL_IN MODEL_OUT SEED
    run rollout "$R1_BIN/r1-rollout" --db "$db" --model "$3" $1 --step "$2" --prompts 4 --group 4 \
        --max-new-tokens 24 --seed "$5" --quiet &&
        run reward "$R1_BIN/r1-reward" --db "$db" $1 --step "$2" --rewards accuracy=1,format=1,language=0.1 --quiet &&
        run grpo "$R1_BIN/r1-grpo" --db "$db" $1 --step "$2" --model "$3" --ref "$tmp/m0" --out "$4" \
            --lr 1e-3 --quiet
}
evaluate() { # evaluate PHASE STEP MODEL
    run rollout "$R1_BIN/r1-rollout" --db "$db" --model "$3" --stage "eval/$1" --split test --step "$2" \
        --prompts 5 --group 2 --max-new-tokens 16 --seed 7 --quiet &&
        run reward "$R1_BIN/r1-reward" --db "$db" --stage "eval/$1" --step "$2" --eval "$1" \
            --rewards accuracy=1,format=1,language=0.1 --quiet
}
sft_run() {
    local i
    for i in 1 2 3 4 5 6; do
        printf '{"messages":[{"role":"user","content":"Add %d and %d."},{"role":"assistant","content":"<think>\\n%d+%d=%d\\n</think>\\n<answer>\\n%d\\n</answer>"}]}\n' \
            $i $i $i $i $((2 * i)) $((2 * i))
    done >"$tmp/cold.jsonl"
    run import "$R1_BIN/r1-data" import --db "$db" --format messages --kind cold_start --quiet "$tmp/cold.jsonl" &&
        run sft "$R1_BIN/r1-sft" --db "$db" --kind cold_start --model "$tmp/m0" --out "$tmp/sft" --epochs 3 \
            --batch-tokens 128 --log-every 1 --eval-split 0.34 --save-every 2 --lr 1e-3 --stage cold-start --quiet
}
# By hand: a test question to escape (before the evaluations, which then sample it)
# and, after the stages, two phases with known rates, an eval/distill rollout whose
# text would close the <pre> and open a script, a NULL and an infinite metric.
handmade_prompt() {
    q "INSERT INTO prompts (id, dataset, split, question, answer, meta, content_hash)
       VALUES (1000, 'handmade', 'test', 'Is <b>2 & 3</b> \"5\"?', '5', '{}', 'handmade-1')"
}
by_hand() {
    q "INSERT INTO rollouts (id, stage, step, prompt_id, sample, prompt_ids, completion_ids, logprobs,
             text, finish_reason, n_tokens, prefill)
           VALUES (5000, 'eval/distill', 0, 1000, 0, x'', x'', x'',
             'It is 5.</pre><script>alert(\"x\")</script>' || char(10) || '<answer>5</answer>', 'stop', 12,
             '<think>' || char(10));
           INSERT INTO rewards VALUES (5000, 'accuracy', 1), (5000, 'format', NULL), (5000, 'total', NULL);
           INSERT INTO metrics (stage, step, name, value) VALUES
             ('r1', 0, 'eval/accuracy', 0.55), ('r1', 0, 'eval/format_rate', 0.9),
             ('r1', 0, 'eval/language_rate', 0.8), ('r1', 0, 'eval/completion_len_mean', 310),
             ('distill', 0, 'eval/accuracy', 0.7), ('distill', 0, 'eval/format_rate', 0.95),
             ('distill', 0, 'eval/language_rate', 0.85), ('distill', 0, 'eval/completion_len_mean', 250),
             ('r1-zero', 3, 'grpo/kl', NULL), ('r1-zero', 3, 'grpo/loss', 1e999);"
}
build_db() {
    hf_config qwen2 64 2 4 2 128 768 true >"$tmp/m0.json"
    run init "$R1_BIN/r1-model" init --config "$tmp/m0.json" --tokenizer "$tiny" --out "$tmp/m0" --seed 1 &&
        run data "$R1_BIN/r1-data" init --db "$db" &&
        run synth "$R1_BIN/r1-data" synth --db "$db" --task arith --n 8 --seed 1 --quiet &&
        run synth "$R1_BIN/r1-data" synth --db "$db" --task arith --n 4 --seed 2 --split test --quiet &&
        handmade_prompt && evaluate base 0 "$tmp/m0" &&
        rl_step "--stage r1-zero" 0 "$tmp/m0" "$tmp/m1" 0 && evaluate r1-zero 0 "$tmp/m0" &&
        rl_step "--stage r1-zero" 1 "$tmp/m1" "$tmp/m2" 1 &&
        rl_step "--stage r1-zero" 2 "$tmp/m2" "$tmp/m3" 2 && evaluate r1-zero 2 "$tmp/m2" &&
        rl_step "" 0 "$tmp/m3" "$tmp/m4" 3 && sft_run && by_hand
}
start=$SECONDS
if ! build_db; then
    fail "set-up: a run database from the real stages"
    exit 1
fi
pass "set-up: a run database from the real stages ($((SECONDS - start)) s)"
check "set-up: r1-zero's metrics are recorded under its stage name" \
    '[ "$(q "SELECT COUNT(DISTINCT name) FROM metrics WHERE stage = '"'"'r1-zero'"'"' AND name IN
        ('"'"'grpo/kl'"'"', '"'"'grpo/loss'"'"', '"'"'grpo/grad_norm'"'"', '"'"'rollout/completion_len_mean'"'"')")" = 4 ]'

# ---------------------------------------------------------------- 2. the page
page="$tmp/report.html"
before=$(sha256sum "$db" | cut -d' ' -f1)
files_before=$(ls "$tmp" | grep '^run\.db' | tr '\n' ' ')
"$rep" --db "$db" --out "$page" >"$tmp/rep.out" 2>"$tmp/rep.err"
rc=$?
check "r1-report exits 0 ($(head -c 300 "$tmp/rep.err"))" '[ $rc -eq 0 ]'
check "the page is written, and no temporary file is left beside it" \
    '[ -s "$page" ] && [ -z "$(ls "$tmp" | grep "^report\.html\.")" ]'
check "summary line: the file and 15 charts" 'grep -q "wrote $page (.* 15 charts)" "$tmp/rep.out"'
check "the database is not changed (same bytes, no new files)" \
    '[ "$(sha256sum "$db" | cut -d" " -f1)" = "$before" ] &&
     [ "$(ls "$tmp" | grep "^run\.db" | tr "\n" " ")" = "$files_before" ]'

check "no network reference (only the SVG namespace)" \
    '[ -z "$(grep -oE "https?://[^\"'"'"' )<>]*" "$page" | grep -vx "http://www.w3.org/2000/svg")" ]'
check "no script, no external resource" \
    '! grep -qiE "<script|<(img|link|iframe|object|embed)[ >]|url\(| src=" "$page"'
check "15 <svg> charts: 2 evaluation, 6 per RL stage (r1-zero, rl), 1 SFT run" \
    '[ "$(grep -o "<svg " "$page" | wc -l)" = 15 ]'
check "every chart has data (the rl stage found its metrics under rollout/grpo)" \
    '! grep -q ">no data<" "$page"'
# Parts of the page, in files: grep -q at the end of a pipeline would make the writer
# die of SIGPIPE, which pipefail counts as a failure.
sed -n '/<svg /,/<\/svg>/p' "$page" >"$tmp/svgs.txt"
sed -n '/<title>Rewards/,/<\/svg>/p' "$page" | sed -n '1,/<\/svg>/p' >"$tmp/rewards.svg"
sed -n '/<h3>eval\/distill/,$p' "$page" >"$tmp/distill.html"
check "no NaN or infinity in the SVG (a NULL and an infinite metric are skipped)" \
    '! grep -qiE "([\" ML]|^)-?(nan|inf)([\" ]|$)" "$tmp/svgs.txt"'
cat >"$tmp/svgxml.py" <<'EOF'
import re, sys, xml.etree.ElementTree as ET
svgs = re.findall(r"<svg .*?</svg>", open(sys.argv[1], encoding="utf-8").read(), re.S)
for s in svgs:
    ET.fromstring(s)
print(len(svgs))
EOF
check "every <svg> is well-formed XML" '[ "$(/usr/bin/python3 "$tmp/svgxml.py" "$page" 2>&1)" = 15 ]'

phases=$(sed -n '/<h2 id="eval">/,/<\/table>/p' "$page" | grep -o '<tr><td class="l">[^<]*' | sed 's/.*>//' | uniq | tr '\n' ' ')
check "evaluation table: the phases in pipeline order (got: $phases)" '[ "$phases" = "base r1-zero r1 distill " ]'
check "evaluation table: r1 and distill rates as inserted" \
    'grep -q "<td class=\"l\">r1</td><td>0</td><td>0.550</td><td>0.900</td><td>0.800</td><td>310.0</td>" "$page" &&
     grep -q "<td class=\"l\">distill</td><td>0</td><td>0.700</td><td>0.950</td><td>0.850</td><td>250.0</td>" "$page"'
check "evaluation: bars per phase, a curve for r1-zero (evaluated at steps 0 and 2)" \
    'grep -q "<title>Evaluation by phase" "$page" && grep -q "<title>Evaluation of r1-zero by step</title>" "$page" &&
     ! grep -q "<title>Evaluation of base by step" "$page"'
stages=$(grep -o '<h3>[^<]*</h3>' "$page" | sed -n '1,2p' | tr '\n' ' ')
check "RL stages in order: r1-zero, then rl (got: $stages)" '[ "$stages" = "<h3>r1-zero</h3> <h3>rl</h3> " ]'
titles=0
for t in "Rewards (mean per step)" "Completion length (tokens)" "KL to the reference" "GRPO loss" \
    "Clipped fraction of tokens" "Gradient norm"; do
    titles=$((titles + $(grep -cF "<title>$t</title>" "$page")))
done
check "RL charts, one of each per stage: rewards, length, KL, loss, clip fraction, grad norm" '[ "$titles" = 12 ]'
check "the rewards chart has a line per reward (accuracy, format, language, total)" \
    '[ "$(grep -c "<path " "$tmp/rewards.svg")" = 4 ] &&
     [ "$(grep -oE ">(accuracy|format|language|total)</text>" "$tmp/rewards.svg" | tr -d "\n")" = \
       ">accuracy</text>>format</text>>language</text>>total</text>" ]'
check "SFT run cold-start: train and eval loss" \
    'grep -q "<title>SFT run cold-start: loss</title>" "$page" && grep -q ">sft/eval_loss<" "$page"'

check "a question from the database is escaped" \
    'grep -qF "Is &lt;b&gt;2 &amp; 3&lt;/b&gt; &quot;5&quot;?" "$page" && ! grep -qF "<b>2 & 3</b>" "$page"'
check "a completion is escaped inside its <pre>, after its prefill" \
    'grep -qF "<pre><span class=\"prefill\">&lt;think&gt;" "$page" &&
     grep -qF "It is 5.&lt;/pre&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" "$page"'
check "samples: 3 for eval/base and eval/r1-zero, 1 for eval/distill" \
    '[ "$(grep -c "<div class=\"sample\">" "$page")" = 7 ] &&
     grep -q "<h3>eval/base &middot; step 0</h3>" "$page" && grep -q "<h3>eval/r1-zero &middot; step 2</h3>" "$page"'
check "samples: the correct one is marked, a NULL reward is shown as undefined" \
    'grep -q "class=\"ok\">correct<" "$tmp/distill.html" && grep -q "<td>undefined</td>" "$tmp/distill.html"'
check "header: counts and the database path" \
    'grep -q "<th class=\"l\">sft_samples: cold_start</th><td>6</td>" "$page" && grep -qF "$db" "$page"'

"$rep" --db "$db" --out "$tmp/titled.html" --title 'Run <i>&</i> "one"' --samples 1 --quiet >"$tmp/q.out" 2>&1
check "--title is escaped, --samples 1 shows one per phase, --quiet prints nothing" \
    'grep -qF "<title>Run &lt;i&gt;&amp;&lt;/i&gt; &quot;one&quot;</title>" "$tmp/titled.html" &&
     [ "$(grep -c "<div class=\"sample\">" "$tmp/titled.html")" = 3 ] && [ ! -s "$tmp/q.out" ]'

# Charts without data: the GRPO metrics gone, each of their charts says so (KL, loss,
# clip fraction, grad norm: 4 per stage) and names what it looked for; a database with nothing in it is a page too.
q ".backup '$tmp/nogrpo.db'" && sqlite3 "$tmp/nogrpo.db" "DELETE FROM metrics WHERE name LIKE 'grpo/%'"
"$rep" --db "$tmp/nogrpo.db" --out "$tmp/nogrpo.html" --quiet 2>"$tmp/nogrpo.err"
rc=$?
check "without GRPO metrics: exit 0, 15 charts, 8 say no data and name their metrics" \
    '[ $rc -eq 0 ] && [ "$(grep -c "<svg " "$tmp/nogrpo.html")" = 15 ] &&
     [ "$(grep -c ">no data<" "$tmp/nogrpo.html")" = 8 ] && grep -q ">grpo/kl (no data)<" "$tmp/nogrpo.html" &&
     [ "$(/usr/bin/python3 "$tmp/svgxml.py" "$tmp/nogrpo.html" 2>&1)" = 15 ]'
run empty "$R1_BIN/r1-data" init --db "$tmp/empty-run.db"
"$rep" --db "$tmp/empty-run.db" --out "$tmp/empty.html" --quiet 2>"$tmp/empty.err"
rc=$?
check "an empty run database: exit 0, no chart, each section says what is missing" \
    '[ $rc -eq 0 ] && ! grep -q "<svg" "$tmp/empty.html" && grep -q "<p>No evaluation recorded" "$tmp/empty.html" &&
     grep -q "<p>No RL rollouts recorded" "$tmp/empty.html" && grep -q "<p>No SFT run recorded" "$tmp/empty.html"'

# ---------------------------------------------------------------- 3. rendering
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
    fail "chromium is missing (scripts/install-deps.sh installs it): the rendering is not checked"
elif [ ! -x /usr/bin/python3 ]; then
    fail "/usr/bin/python3 is missing: the screenshot cannot be checked"
else
    check "the PNG reader decodes every filter type (png_colors.py --self-test)" \
        '[ "$(/usr/bin/python3 "$R1_ROOT/tests/ref/png_colors.py" --self-test)" = "self-test ok" ]'
    timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --user-data-dir="$tmp/chromium" --window-size=1200,3000 --screenshot="$tmp/shot.png" \
        "file://$page" >"$tmp/chromium.log" 2>&1
    check "headless chromium screenshots the page ($(grep -v -e dbus -e '^\[' "$tmp/chromium.log" | tail -1))" '[ -s "$tmp/shot.png" ]'
    # palette 0-3 of report/svg.c, and palette 4, which no chart of this page uses
    /usr/bin/python3 "$R1_ROOT/tests/ref/png_colors.py" "$tmp/shot.png" \
        '#1f77b4' '#ff7f0e' '#2ca02c' '#d62728' '#9467bd' >"$tmp/colors" 2>&1
    px() { awk -v c="$1" '$1 == c { print $2 }' "$tmp/colors"; }
    echo "pixels near each palette colour: $(tr '\n' ' ' <"$tmp/colors")"
    check "the screenshot is 1200 x 3000" 'grep -qx "size 1200 3000" "$tmp/colors"'
    check "bars drawn: > 2000 pixels each of palette colours 0, 1, 2 (accuracy, format, language)" \
        '[ "$(px "#1f77b4")" -gt 2000 ] && [ "$(px "#ff7f0e")" -gt 2000 ] && [ "$(px "#2ca02c")" -gt 2000 ]'
    check "lines drawn: > 400 pixels of palette colour 3 (the rewards chart's total)" '[ "$(px "#d62728")" -gt 400 ]'
    check "no colour from nowhere: < 50 pixels of palette colour 4, which no chart uses" '[ "$(px "#9467bd")" -lt 50 ]'
fi

# ---------------------------------------------------------------- 4. refusals
expect_error "a missing database is named" "$tmp/nope.db" "$rep" --db "$tmp/nope.db" --out "$tmp/x.html"
check "... with exit status 1, creating nothing" \
    '"$rep" --db "$tmp/nope.db" --out "$tmp/x.html" 2>/dev/null; [ $? -eq 1 ] && [ ! -e "$tmp/nope.db" ] && [ ! -e "$tmp/x.html" ]'
echo "not a database" >"$tmp/junk.db"
expect_error "a file that is not SQLite is named" "$tmp/junk.db: cannot read: file is not a database" \
    "$rep" --db "$tmp/junk.db" --out "$tmp/x.html"
: >"$tmp/empty.db"
expect_error "an empty file is refused" "$tmp/empty.db: empty file" "$rep" --db "$tmp/empty.db" --out "$tmp/x.html"
q ".backup '$tmp/new.db'" && sqlite3 "$tmp/new.db" "PRAGMA user_version = 99"
expect_error "a newer schema is refused" "$tmp/new.db: schema version 99 is newer" "$rep" --db "$tmp/new.db" --out "$tmp/x.html"
expect_error "an unwritable --out is named" "$tmp/no/dir/r.html" "$rep" --db "$db" --out "$tmp/no/dir/r.html"
"$rep" --db "$db" >/dev/null 2>"$tmp/usage.err"
rc=$?
check "missing --out: exit 2 with usage" '[ $rc -eq 2 ] && grep -q "needs --out" "$tmp/usage.err" && grep -q "^usage: r1-report" "$tmp/usage.err"'
"$rep" --db "$db" --out "$tmp/x.html" --samples -1 >/dev/null 2>&1
rc=$?
check "--samples -1: exit 2" '[ $rc -eq 2 ]'
"$rep" --db "$db" --out "$tmp/x.html" --colour red >/dev/null 2>&1
rc=$?
check "an unknown option: exit 2" '[ $rc -eq 2 ]'
"$rep" --help >"$tmp/help.out" 2>&1
rc=$?
check "--help prints the usage, exit 0" '[ $rc -eq 0 ] && grep -q "^usage: r1-report" "$tmp/help.out"'

finish
