# lib.sh - what the pipeline scripts share; source it after `set -euo pipefail`.
#
# Options: every knob of a script is a shell variable with a default (STEPS=40);
# the environment overrides the default (R1_STEPS=60, or STEPS=60) and the command
# line overrides both (--steps 60). knobs NAME... declares them; parse_options
# reads the command line; --help prints the script's header comment.
#
# Resuming: each stage writes its rows in one transaction and each checkpoint
# under a temporary name that is renamed, so a killed script leaves finished
# steps and nothing half-written. rl_loop asks the checkpoints table which steps
# finished and continues after the last one whose directory exists; a rollout
# step that is already complete is left alone, r1-reward scores only what has no
# reward, and an SFT phase whose output exists is skipped.

# Several processes: --nproc N (or R1_NPROC=N) runs r1-rollout, r1-grpo and r1-sft as
# N MPI ranks under `mpirun -np N` (each with OMP_NUM_THREADS = cores / N unless set);
# R1C_LAUNCH replaces the whole launcher, e.g. R1C_LAUNCH="mpirun -np 16 --hostfile hosts"
# for several machines. Sub-scripts inherit both.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROLLOUT_SYSTEM= EVAL_FN=eval_model # rl_loop's hooks (below); a script sets them after sourcing
bin="${R1_BIN:-$root/bin}"
QUIET=${QUIET:-0}
NPROC=${R1_NPROC:-${NPROC:-1}}

# par CMD...: CMD as the job's ranks (see above), or alone.
par() {
    if [ -n "${R1C_LAUNCH:-}" ]; then
        # shellcheck disable=SC2086 # the launcher is words, as a user types them
        $R1C_LAUNCH "$@"
    elif [ "$NPROC" -gt 1 ]; then
        local cores threads
        cores=$(nproc 2>/dev/null || echo 1)
        threads=${OMP_NUM_THREADS:-$((cores / NPROC > 0 ? cores / NPROC : 1))}
        OMP_NUM_THREADS=$threads mpirun -np "$NPROC" -x OMP_NUM_THREADS "$@"
    else
        "$@"
    fi
}

say() { [ "$QUIET" = 1 ] || echo "$@"; }
die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

# knobs NAME=DEFAULT...: R1_NAME or NAME from the environment, else DEFAULT.
KNOBS=()
knobs() {
    local kv name
    for kv in "$@"; do
        name=${kv%%=*}
        KNOBS+=("$name")
        local env="R1_$name"
        if [ -n "${!env+x}" ]; then
            printf -v "$name" '%s' "${!env}"
        elif [ -z "${!name+x}" ]; then
            printf -v "$name" '%s' "${kv#*=}"
        fi
    done
}

# --some-knob VALUE sets SOME_KNOB; --quiet sets QUIET=1; --help prints the usage.
parse_options() {
    while [ $# -gt 0 ]; do
        case "$1" in
        -h | --help)
            sed -n '2,/^[^#]/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        --quiet) QUIET=1 && shift && continue ;;
        --nproc)
            [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "--nproc needs a number of processes >= 1"
            NPROC=$2 && export R1_NPROC=$2 && shift 2 && continue
            ;;
        --*) ;;
        *) die "unexpected argument '$1' (try --help)" ;;
        esac
        local name k found=0
        name=$(echo "${1#--}" | tr 'a-z-' 'A-Z_')
        for k in "${KNOBS[@]}"; do [ "$k" = "$name" ] && found=1; done
        [ "$found" = 1 ] || die "unknown option $1 (try --help)"
        [ $# -ge 2 ] || die "$1 needs a value"
        printf -v "$name" '%s' "$2"
        shift 2
    done
}

need_bins() {
    local b
    for b in r1-data r1-model r1-rollout r1-reward r1-grpo r1-sft; do
        [ -x "$bin/$b" ] || die "$bin/$b is missing (run make)"
    done
    command -v sqlite3 >/dev/null || die "the sqlite3 shell is missing (apt-get install sqlite3)"
}

q() { sqlite3 -batch -cmd ".timeout 10000" "$DB" "$1"; }
sql_str() { printf "'%s'" "${1//\'/\'\'}"; }

quiet_flag() { [ "$QUIET" = 1 ] && echo --quiet || true; }

# eval_model MODEL PHASE STEP TEMPLATE: pass@1 on the held-out split, k samples per
# prompt at temperature 0.6 and top-p 0.95 (DeepSeek's evaluation), stored as the
# rollouts of stage eval/PHASE and summarized by r1-reward --eval as metrics
# eval/accuracy, eval/format_rate, eval/language_rate, eval/completion_len_mean.
eval_model() {
    local model=$1 phase=$2 step=$3 tpl=$4 n
    n=$(q "SELECT COUNT(*) FROM prompts WHERE split = $(sql_str "$EVAL_SPLIT")")
    [ "$n" -gt 0 ] || die "$DB has no prompts in the held-out split '$EVAL_SPLIT'"
    [ "$EVAL_PROMPTS" -gt 0 ] && [ "$EVAL_PROMPTS" -lt "$n" ] && n=$EVAL_PROMPTS
    par "$bin/r1-rollout" --db "$DB" --model "$model" --stage "eval/$phase" --step "$step" \
        --split "$EVAL_SPLIT" --prompts "$n" --group "$EVAL_K" --temperature 0.6 --top-p 0.95 \
        --max-new-tokens "$MAX_NEW_TOKENS" --template "$tpl" --stop "</answer>" --seed "$SEED" \
        --quiet >/dev/null
    "$bin/r1-reward" --db "$DB" --stage "eval/$phase" --step "$step" --eval "$phase" \
        --rewards accuracy=1,format=1,language=1 --quiet >/dev/null
    say "$(q "SELECT printf('eval %s step %d: accuracy %.3f, format %.3f, language %.3f, length %.1f ($n prompts x $EVAL_K)',
        phase, step, accuracy, format_rate, language_rate, mean_length)
        FROM eval_summary WHERE phase = $(sql_str "$phase") AND step = $step")"
}

# The last finished step of an RL stage whose checkpoint still exists: "STEP PATH",
# or nothing.
last_finished() {
    local row
    while IFS='|' read -r step path; do
        [ -d "$path" ] && row="$step $path"
    done < <(q "SELECT step, path FROM checkpoints WHERE stage = $(sql_str "$1") ORDER BY step")
    echo "${row:-}"
}

# rl_loop STAGE START_MODEL OUT_DIR STEPS TEMPLATE REWARDS PHASE: GRPO steps 0..STEPS-1
# (rollout -> reward -> grpo), the policy after step s in OUT_DIR/step-(s+1), the
# frozen reference in OUT_DIR/ref (replaced by the policy every REF_RESET_EVERY
# steps), evaluation as PHASE every EVAL_EVERY steps and at the end; OUT_DIR/final
# links the last policy. Only the latest step's directory is kept (KEEP_CHECKPOINTS=1:
# all of them); the starting model is never removed. ROLLOUT_SYSTEM, when a script sets
# it, is the system message of every rollout; EVAL_FN (default eval_model) names the
# evaluation. Both are reset here, so that the environment never sets them.
rl_loop() {
    local stage=$1 model=$2 out=$3 steps=$4 tpl=$5 rewards=$6 phase=$7 s=0 last
    mkdir -p "$out"
    if [ ! -d "$out/ref" ]; then # copied whole, then renamed: a kill leaves no half reference
        rm -rf "$out/ref.tmp"
        cp -r "$model" "$out/ref.tmp"
        mv "$out/ref.tmp" "$out/ref"
    fi
    last=$(last_finished "$stage")
    if [ -n "$last" ]; then
        s=$((${last%% *} + 1)) model=${last#* }
        [ -d "$out/step-$s" ] && model="$out/step-$s" # the same directory, as this loop names it
        say "$stage: resuming after step $((s - 1)) from $model"
    fi
    for ((; s < steps; s++)); do
        par "$bin/r1-rollout" --db "$DB" --model "$model" --stage "$stage" --step "$s" --split "$SPLIT" \
            --prompts "$PROMPTS" --group "$GROUP" --temperature "$TEMPERATURE" \
            --max-new-tokens "$MAX_NEW_TOKENS" --template "$tpl" --stop "</answer>" --seed "$SEED" \
            ${ROLLOUT_SYSTEM:+--system "$ROLLOUT_SYSTEM"} --quiet >/dev/null
        "$bin/r1-reward" --db "$DB" --stage "$stage" --step "$s" --rewards "$rewards" --quiet >/dev/null
        par "$bin/r1-grpo" --db "$DB" --stage "$stage" --step "$s" --model "$model" --ref "$out/ref" \
            --out "$out/step-$((s + 1))" --lr "$LR" --beta "$BETA" \
            --ref-reset-every "$REF_RESET_EVERY" --seed "$SEED" --quiet
        [ "$model" != "$out/step-$s" ] || [ "$KEEP_CHECKPOINTS" = 1 ] || rm -rf "$model"
        model="$out/step-$((s + 1))"
        say "$(q "SELECT printf('$stage step %d: reward %.3f, accuracy %.3f, format %.3f, length %.1f',
            $s, (SELECT mean FROM step_rewards WHERE stage = '$stage' AND step = $s AND name = 'total'),
            (SELECT mean FROM step_rewards WHERE stage = '$stage' AND step = $s AND name = 'accuracy'),
            (SELECT mean FROM step_rewards WHERE stage = '$stage' AND step = $s AND name = 'format'),
            (SELECT value FROM metrics WHERE stage = '$stage' AND step = $s
                AND name = 'rollout/completion_len_mean' ORDER BY rowid DESC LIMIT 1))")"
        if [ "$EVAL_EVERY" -gt 0 ] && [ $(((s + 1) % EVAL_EVERY)) -eq 0 ] && [ $((s + 1)) -lt "$steps" ]; then
            "$EVAL_FN" "$model" "$phase" "$((s + 1))" "$tpl"
        fi
    done
    "$EVAL_FN" "$model" "$phase" "$steps" "$tpl"
    ln -sfn "$(basename "$model")" "$out/final"
}

# json_num KEY FILE: a top-level number of a small JSON file.
json_num() { tr -d ' \t\n' <"$2" | sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }

# sft_phase STAGE MODEL OUT KINDS EPOCHS LR TEMPLATE: r1-sft, skipped when OUT holds
# a finished run (its trainer_state.json says so), resumed when it holds a partial one.
# SFT_LOSS (assistant or all), SFT_WARMUP, SFT_BATCH_TOKENS, SFT_SAVE_EVERY tune it.
sft_phase() {
    local stage=$1 model=$2 out=$3 kinds=$4 epochs=$5 lr=$6 tpl=$7 resume=()
    if [ -f "$out/trainer_state.json" ]; then
        if [ "$(json_num step "$out/trainer_state.json")" = "$(json_num total_steps "$out/trainer_state.json")" ]; then
            say "$stage: $out is finished; skipping"
            return 0
        fi
        resume=(--resume)
    fi
    par "$bin/r1-sft" --db "$DB" --stage "$stage" --kind "$kinds" --model "$model" --out "$out" \
        --epochs "$epochs" --lr "$lr" --warmup "${SFT_WARMUP:-5}" --batch-tokens "$SFT_BATCH_TOKENS" \
        --pack --template "$tpl" --save-every "${SFT_SAVE_EVERY:-50}" --seed "$SEED" \
        --loss "${SFT_LOSS:-assistant}" \
        ${resume[@]+"${resume[@]}"} $(quiet_flag)
}
