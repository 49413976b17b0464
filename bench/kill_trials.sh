#!/usr/bin/env bash
# Crash consistency under SIGKILL (docs/reliability.md): runs floe train (a checkpoint every step),
# floe qat --machine (every step verified on the chip, a checkpoint every step), floe export,
# floe corpus, floe deploy-check --energy-csv and floe explore (two worker processes), and kills each (its whole process group, gnuplot
# included) with SIGKILL at a random moment of its run, TRIALS times per command. After each kill
# every file in the output folder must be absent, the old one, or a complete new one: a checkpoint,
# a quantized model, a token file, an energy CSV, explore's CSV or report byte-equal to the
# reference run's file of that name; a log CSV whose every line has the header's fields and which
# ends with a newline; a PNG that ends with its IEND chunk; explore's journal (appended, one write a
# line) whole lines each found in the reference's or the old journal. The killed training and QAT runs are then resumed from their last
# checkpoint (or started again when none was written) and must end with the same bytes as the
# uninterrupted run (the final checkpoint and quantized model), the killed sweeps run again (pricing
# only what the journal lacks) must end with the reference's CSV and report; the other commands are run again to
# their end. After that next run no temporary file may be left (the atomic writer removes a killed
# writer's temporaries when it next writes into their folder). Kill moments are uniform over the
# reference run's wall time, from a seeded generator (the same SEED gives the same moments); a run
# that ends before its moment (the host's load changed) counts as a trial but not as killed.
# KILL_TRIALS_DEBUG=1 prints each trial's moment.
#
# Prints, per command, the trials, how many were killed before the end, the files checked, the
# files lost (partial or wrong: must be 0), temporary files a kill left beside the outputs (the
# atomic writer's, never read), those still there after the next run (must be 0), and the resumed
# runs identical to the straight one.
# Exit status 1 when a file was lost, a temporary outlived the next run or a resumed run differs.
#
# Usage: bench/kill_trials.sh FLOE TRIALS [SEED] [WORK_DIR]
#   ctest runs it with 3 trials (kill_trials, label quick); bench: bench/kill_trials.sh build/floe 50
set -uo pipefail
floe=$(realpath "${1:?floe binary}")
trials=${2:?trials per command}
seed=${3:-1}
src=$(cd "$(dirname "$0")/.." && pwd)
work=${4:-$(mktemp -d "${TMPDIR:-/tmp}/floe-kill-XXXXXX")}
mkdir -p "$work"
work=$(realpath "$work")
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=passive
RANDOM=$seed
lost_total=0
differ_total=0
stale_total=0

# The tiny model: one layer of width 8 over bytes.
printf '{"vocab_size": 256, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
 "intermediate_size": 8, "max_position_embeddings": 8, "rms_norm_eps": 1e-05, "tie_word_embeddings": true}\n' \
  > "$work/mini.json"
mkdir -p "$work/corpus-in"
cp "$src"/docs/*.md "$work/corpus-in/"

TRAIN=(train --model "$work/mini.json" --corpus generated:200 --batch 2 --context 8 --steps 20 --ckpt-every 1
       --eval-every 0 --threads 1 --out out)
QAT_OPTS=(--machine "$src/configs/small.csv" --ckpt-every 1 --eval-windows 1 --threads 1 -o out)
QAT=(qat --teacher "$work/teacher.safetensors" --corpus generated:200 --steps 6 --batch 2 --context 8 "${QAT_OPTS[@]}")
EXPORT=(export "$work/ref-qat/out/qat-000006.safetensors" -o out/model.safetensors)
CORPUS=(corpus -t "$src/fuzz/seeds/tok-llama2.json" -i "$work/corpus-in" -o out/c.tok)
DEPLOY=(deploy-check --model tiny -m "$src/configs/northpole.csv" --energy "$src/configs/energy-northpole.csv"
        --energy-csv out/energy.csv)
# a sweep of 10 points priced by the simulator: the tiny model at two precisions over five core sizes
printf 'machine = %s/configs/small.csv\nenergy = %s/configs/energy-small.csv\nmodel = tiny\nprecision = W4A8KV8, W2A8KV8\ncontext = 32\ntier = sim\ncore_mem_bytes = %s\n' \
  "$src" "$src" "65536 .. 1048576 *2" > "$work/new.sweep"
sed 's/^context = 32/context = 16/' "$work/new.sweep" > "$work/old.sweep"
EXPLORE=(explore -q -j 2 "$work/new.sweep" -o out)

now_ms() { date +%s%3N; }

# run_ref NAME CMD...: the uninterrupted run in $work/ref-NAME; sets ref_ms (its wall time)
run_ref() {
  local name=$1; shift
  rm -rf "$work/ref-$name"; mkdir -p "$work/ref-$name/out"
  local t0; t0=$(now_ms)
  (cd "$work/ref-$name" && "$floe" "$@" > log.txt 2>&1) || { echo "kill_trials: reference run of $name failed:" >&2;
    cat "$work/ref-$name/log.txt" >&2; exit 2; }
  ref_ms=$(( $(now_ms) - t0 ))
}

# kill_run DIR MS CMD...: starts floe in DIR in a process group of its own, SIGKILLs the group after MS
# milliseconds; sets killed=1 when it was still running
kill_run() {
  local dir=$1 ms=$2; shift 2
  (cd "$dir" && exec setsid "$floe" "$@" > log.txt 2>&1) &
  local pid=$!
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  killed=0
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null && killed=1
  fi
  wait "$pid" 2>/dev/null
  # the group's last members (gnuplot) gone before the files are read
  while pgrep -g "$pid" > /dev/null 2>&1; do sleep 0.01; done
}

# check_outputs DIR REFDIR [OLDDIR]: every file of DIR/out complete (see the header); counts into
# checked, lost, temps
check_outputs() {
  local dir=$1 ref=$2 old=${3:-} f name
  for f in "$dir"/out/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    case $name in
      *.floe-tmp.*) temps=$((temps + 1)); continue ;;
    esac
    checked=$((checked + 1))
    case $name in
      *.csv)
        if [ -f "$ref/out/$name" ] && { [ "$name" = energy.csv ] || [ "$name" = explore.csv ]; }; then
          cmp -s "$f" "$ref/out/$name" || { [ -n "$old" ] && cmp -s "$f" "$old/$name"; } || lost_file "$f"
        else
          awk -F, 'NR == 1 { n = NF } NF != n { bad = 1 } END { exit bad || NR < 1 }' "$f" &&
            [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || lost_file "$f"
        fi ;;
      *.png)
        [ "$(tail -c 8 "$f" | head -c 4)" = IEND ] || lost_file "$f" ;;
      points.journal)
        { [ ! -s "$f" ] || [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ]; } &&
          ! grep -vxFf <(cat "$ref/out/$name" ${old:+"$old/$name"} 2>/dev/null) "$f" > /dev/null || lost_file "$f" ;;
      *)
        if [ -f "$ref/out/$name" ] && cmp -s "$f" "$ref/out/$name"; then :
        elif [ -n "$old" ] && [ -f "$old/$name" ] && cmp -s "$f" "$old/$name"; then :
        else lost_file "$f"; fi ;;
    esac
  done
}
lost_file() { lost=$((lost + 1)); echo "LOST: $1 ($(stat -c %s "$1") bytes)" >&2; cp "$1" "$work/lost-$RANDOM-$(basename "$1")"; }

# trials NAME RESUME OLDDIR CMD...: TRIALS kills of CMD; RESUME: train or qat (resume and compare) or
# none; OLDDIR: files put in out/ before each trial (the old outputs), or -
trials() {
  local name=$1 resume=$2 old=$3; shift 3
  local ref=$work/ref-$name t dir ms
  checked=0 lost=0 temps=0 stale=0
  local nkilled=0 same=0 resumed=0
  for ((t = 1; t <= trials; t++)); do
    dir=$work/trial-$name
    rm -rf "$dir"; mkdir -p "$dir/out"
    [ "$old" != - ] && cp "$old"/* "$dir/out/"
    ms=$(( (RANDOM * 32768 + RANDOM) % (ref_ms + 1) ))
    kill_run "$dir" "$ms" "$@"
    [ -n "${KILL_TRIALS_DEBUG:-}" ] && echo "$name trial $t: kill after $ms of $ref_ms ms, killed $killed" >&2
    nkilled=$((nkilled + killed))
    check_outputs "$dir" "$ref" "$([ "$old" != - ] && echo "$old")"
    if [ "$resume" = none ]; then
      (cd "$dir" && "$floe" "$@" > log.txt 2>&1) || echo "kill_trials: $name rerun failed: $(tail -3 "$dir/log.txt")" >&2
    else
      resumed=$((resumed + 1))
      resume_run "$dir" "$resume" "$@"
      if resume_same "$dir" "$ref" "$resume"; then same=$((same + 1)); else
        echo "DIFFERS: $name trial $t (killed after $ms ms) resumed to other bits" >&2; fi
    fi
    for f in "$dir"/out/*.floe-tmp.*; do
      [ -e "$f" ] && { stale=$((stale + 1)); echo "STALE: $name trial $t: $(basename "$f") after the next run" >&2; }
    done
  done
  lost_total=$((lost_total + lost))
  stale_total=$((stale_total + stale))
  differ_total=$((differ_total + resumed - same))
  printf '%-13s trials %3d  killed %3d  files checked %4d  lost %d  temporary files left %d (after the next run %d)' \
    "$name" "$trials" "$nkilled" "$checked" "$lost" "$temps" "$stale"
  [ "$resume" != none ] && printf '  resumed identical %d/%d' "$same" "$resumed"
  printf '\n'
}

# resume_run DIR KIND CMD...: from the last checkpoint in DIR/out, or from the start when none
resume_run() {
  local dir=$1 kind=$2; shift 2
  local last
  if [ "$kind" = explore ]; then
    (cd "$dir" && "$floe" "$@" > log.txt 2>&1)
  elif [ "$kind" = train ]; then
    last=$(cd "$dir/out" && ls ckpt-*[0-9].safetensors 2>/dev/null | sort | tail -1)
    if [ -n "$last" ]; then
      (cd "$dir" && "$floe" train --resume "out/$last" --out out --threads 1 > log.txt 2>&1)
    else (cd "$dir" && "$floe" "$@" > log.txt 2>&1); fi
  else
    last=$(cd "$dir/out" && ls qat-*.safetensors 2>/dev/null | grep -v tmp | sort | tail -1)
    if [ -n "$last" ]; then
      (cd "$dir" && "$floe" qat --resume "out/$last" "${QAT_OPTS[@]}" > log.txt 2>&1)
    else (cd "$dir" && "$floe" "$@" > log.txt 2>&1); fi
  fi || echo "kill_trials: resumed $kind run failed: $(tail -3 "$dir/log.txt")" >&2
}

resume_same() {
  local dir=$1 ref=$2 kind=$3
  if [ "$kind" = explore ]; then
    cmp -s "$dir/out/explore.csv" "$ref/out/explore.csv" && cmp -s "$dir/out/report.html" "$ref/out/report.html"
  elif [ "$kind" = train ]; then
    cmp -s "$dir/out/ckpt-000020.safetensors" "$ref/out/ckpt-000020.safetensors" &&
      cmp -s "$dir/out/ckpt-000020.optim.safetensors" "$ref/out/ckpt-000020.optim.safetensors"
  else
    cmp -s "$dir/out/qat-000006.safetensors" "$ref/out/qat-000006.safetensors" &&
      cmp -s "$dir/out/qmodel.safetensors" "$ref/out/qmodel.safetensors"
  fi
}

echo "kill trials: $trials per command, seed $seed, in $work"
run_ref train "${TRAIN[@]}"
cp "$work/ref-train/out/ckpt-000020.safetensors" "$work/teacher.safetensors"
cp "$work/ref-train/out/ckpt-000020.optim.safetensors" "$work/teacher.optim.safetensors"
trials train train - "${TRAIN[@]}"

run_ref qat "${QAT[@]}"
trials qat qat - "${QAT[@]}"

# the old outputs: the same commands on other inputs
mkdir -p "$work/old"
(cd "$work/old" && mkdir -p out &&
  "$floe" export "$work/ref-qat/out/qat-000003.safetensors" -o out/model.safetensors > /dev/null &&
  "$floe" corpus -t "$src/fuzz/seeds/tok-llama2.json" -i "$src/README.md" -o out/c.tok > /dev/null &&
  "$floe" "${DEPLOY[@]}" --tokens 4 > /dev/null &&
  "$floe" explore -q -j 2 "$work/old.sweep" -o out > /dev/null) > /dev/null 2>&1 ||
  { echo "kill_trials: old outputs failed" >&2; exit 2; }
run_ref export "${EXPORT[@]}"
trials export none "$work/old/out" "${EXPORT[@]}"
run_ref corpus "${CORPUS[@]}"
trials corpus none "$work/old/out" "${CORPUS[@]}"
run_ref deploy-check "${DEPLOY[@]}"
trials deploy-check none "$work/old/out" "${DEPLOY[@]}"
run_ref explore "${EXPLORE[@]}"
trials explore explore "$work/old/out" "${EXPLORE[@]}"

echo "files lost: $lost_total; temporaries left after the next run: $stale_total; resumed runs that differ: $differ_total"
if [ "$lost_total" -ne 0 ] || [ "$differ_total" -ne 0 ] || [ "$stale_total" -ne 0 ]; then
  echo "kill_trials: kept $work (lost files copied there as lost-*)" >&2
  exit 1
fi
[ -z "${4:-}" ] && rm -rf "$work"
exit 0
