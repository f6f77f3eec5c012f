#!/usr/bin/env bash
# The main job: R1-Zero -> R1 -> distillation on the embedded tiny model, on the CPU.
#
#   pipelines/demo.sh [DIR] [--size full|ci|smoke] [--seed S] [--nproc N] [--quiet]   (also: make demo)
#
# Everything goes to DIR (default runs/demo), the run database to DIR/run.db:
#   0. data: r1-data synth chain tasks (sums of four digits, worded in English or
#      Chinese) in splits pretrain, train (RL prompts) and test (held out);
#   1. the base model: the tiny Qwen2-shaped model (configs/tiny) pretrained with
#      r1-sft --loss all on documents in the R1-Zero template. The corpus is built
#      to be web-like: some solutions are worked in <think>, some worked without
#      tags, some are bare <answer>s that are right only one time in four, and the
#      working is in either language. The base model is weak but not hopeless: it
#      sometimes reasons, sometimes guesses, and mixes languages;
#   2. R1-Zero (pipelines/r1-zero.sh): GRPO with accuracy + format rewards;
#   3. R1 (pipelines/r1.sh): cold start from the R1-Zero rollouts, reasoning RL
#      with the language-consistency reward, rejection sampling + SFT of the base
#      (with pipelines/data/non-reasoning.jsonl), a final RL stage;
#   4. distillation (pipelines/distill.sh) into a smaller student (configs/tiny-student),
#      pretrained on the same corpus;
#   5. the table base -> r1-zero -> r1 -> student -> distill (pass@1 accuracy,
#      format rate, language rate, mean length on the held-out split; student is
#      the student before distillation) and DIR/report.html
#      (bin/r1-report).
# --size full takes about 10 minutes on 2 cores; ci (a few minutes) and smoke (the
# sanitizer build's test) are smaller. Run it again after a kill: it continues.
# --nproc N runs the rollout, GRPO and SFT stages as N MPI ranks (see pipelines/lib.sh).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
knobs OUT="$root/runs/demo" SIZE=full SEED=1
args=()
while [ $# -gt 0 ]; do # DIR may come anywhere among the options
    case "$1" in
    --quiet | --help | -h) args+=("$1") && shift ;;
    --*) args+=("$1" "${2:-}") && shift $(($# >= 2 ? 2 : 1)) ;;
    *) OUT=$1 && shift ;;
    esac
done
parse_options ${args[@]+"${args[@]}"}
case "$SIZE" in
# pretraining docs (base, student), R1-Zero steps, R1 stage 2 and 4 steps, rejection
# sampling prompts, eval prompts, eval samples per prompt
full) sizes=(18000 12000 40 15 10 500 100 4) ;;
ci) sizes=(3000 1500 12 4 3 60 40 2) ;;
# a model this small is never right: the cold start takes whatever finished
smoke) sizes=(400 200 3 2 1 16 8 2) && export R1_COLD_START_FILTER=stop ;;
*) die "--size is full, ci or smoke" ;;
esac
[ -x "$bin/r1-report" ] || make -C "$root" -s all
need_bins
export R1_EVAL_PROMPTS=${sizes[6]} R1_EVAL_K=${sizes[7]} R1_SEED=$SEED QUIET
mkdir -p "$OUT"
DB="$OUT/run.db"
start=$(date +%s)

say "== 0. data: $DB"
if [ ! -f "$DB" ] || [ "$(q "SELECT COUNT(*) FROM prompts WHERE split = 'test'")" = 0 ]; then
    "$bin/r1-data" init --db "$DB" >/dev/null
    "$bin/r1-data" synth --db "$DB" --task chain --level 1 --lang mixed --n "${sizes[0]}" \
        --split pretrain --seed "$SEED" --quiet
    "$bin/r1-data" synth --db "$DB" --task chain --level 1 --lang mixed --n 500 --split train \
        --seed "$((SEED + 1))" --quiet
    "$bin/r1-data" synth --db "$DB" --task chain --level 1 --lang mixed --n 200 --split test \
        --seed "$((SEED + 2))" --quiet
fi
[ "$QUIET" = 1 ] || sqlite3 -header -column "$DB" "SELECT * FROM dataset_counts"

# The pretraining corpus: each task becomes one document, its style drawn from a
# hash of the prompt id and the seed (reproducible; SQLite's random() is not).
corpus() {
    q "WITH h AS (SELECT question, solution, answer, meta,
            ((id * 2654435761 + $SEED * 40503) % 4294967296) AS x FROM prompts WHERE split = 'pretrain'),
        d AS (SELECT question, answer, json_extract(meta, '\$.lang') AS lang,
            (x % 1000) / 1000.0 AS style, ((x / 1000) % 1000) / 1000.0 AS luck,
            (x / 1000000) % 10 AS off, ((x / 10000000) % 2) AS swap,
            CASE WHEN ((x / 10000000) % 2) = 1 THEN
                CASE json_extract(meta, '\$.lang') WHEN 'zh' THEN replace(solution, '从左往右算：', 'left to right: ')
                ELSE replace(solution, 'left to right: ', '从左往右算：') END
            ELSE solution END AS work FROM h)
    SELECT json_object('messages', json_array(json_object('role', 'user', 'content', question),
        json_object('role', 'assistant', 'content', CASE
        WHEN style < 0.3 THEN '<think>' || char(10) || work || char(10) || '</think>' || char(10) ||
            '<answer>' || char(10) || answer || char(10) || '</answer>'
        WHEN style < 0.7 THEN '<answer>' || char(10) || (CASE WHEN luck < 0.25 THEN answer
            ELSE max(0, answer + (CASE WHEN off < 5 THEN -1 - off ELSE off - 4 END)) END) ||
            char(10) || '</answer>'
        ELSE work || char(10) || 'The answer is ' || answer || '.' END))) FROM d"
}

# pretrain NAME CONFIG: a model created from CONFIG and pretrained on the corpus.
pretrain() {
    local dir="$OUT/$1"
    [ -f "$dir-init/config.json" ] || "$bin/r1-model" init --config "$2" --tokenizer "$root/configs/tiny" \
        --out "$dir-init" --seed "$SEED" >/dev/null
    SFT_LOSS=all SFT_WARMUP=20 SFT_BATCH_TOKENS=2048 SFT_SAVE_EVERY=200 sft_phase "pretrain-$1" "$dir-init" "$dir" pretrain 1 2e-3 r1-zero
}

say "== 1. the base model: $OUT/base (pretraining on ${sizes[0]} documents)"
if [ "$(q "SELECT COUNT(*) FROM sft_samples WHERE kind = 'pretrain'")" = 0 ]; then
    corpus >"$OUT/pretrain.jsonl"
    "$bin/r1-data" import --db "$DB" --format messages --kind pretrain --quiet "$OUT/pretrain.jsonl"
fi
pretrain base "$root/configs/tiny/config.json"

say "== 2. R1-Zero"
"$root/pipelines/r1-zero.sh" --db "$DB" --model "$OUT/base" --out "$OUT/r1-zero" \
    --steps "${sizes[2]}" --lr 2e-4 --max-new-tokens 96 --eval-every 10

say "== 3. R1"
"$root/pipelines/r1.sh" --db "$DB" --base "$OUT/base" --out "$OUT/r1" \
    --reasoning-steps "${sizes[3]}" --final-steps "${sizes[4]}" --lr 2e-4 --max-new-tokens 96 \
    --cold-start-lr 1e-3 --sft-lr 1e-3 \
    --rs-prompts "${sizes[5]}" --rs-per-prompt 2 --sft-batch-tokens 2048 \
    --non-reasoning-file "$root/pipelines/data/non-reasoning.jsonl"

say "== 4. distillation into a smaller student"
pretrain student "$root/configs/tiny-student/config.json"
"$root/pipelines/distill.sh" --db "$DB" --student "$OUT/student" --out "$OUT/distill" \
    --lr 1e-3 --max-new-tokens 96 --sft-batch-tokens 2048 --student-template r1-zero

say "== 5. the result ($(($(date +%s) - start)) s)"
sqlite3 -header -column "$DB" "SELECT phase, step, ROUND(accuracy, 3) AS accuracy,
        ROUND(format_rate, 3) AS format, ROUND(language_rate, 3) AS language,
        ROUND(mean_length, 1) AS length
    FROM eval_summary e
    WHERE phase IN ('base', 'r1-zero', 'r1', 'student', 'distill')
      AND step = (SELECT MAX(step) FROM eval_summary WHERE phase = e.phase)
    ORDER BY CASE phase WHEN 'base' THEN 0 WHEN 'r1-zero' THEN 1 WHEN 'r1' THEN 2
        WHEN 'student' THEN 3 ELSE 4 END"
"$bin/r1-report" --db "$DB" --out "$OUT/report.html" --quiet
echo "report: $OUT/report.html"
