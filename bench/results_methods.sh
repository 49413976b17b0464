#!/bin/bash
# Reproduces docs/results.md's method comparison on config S (the teacher trained with the defaults:
# floe train --model S): every method on the same data and the same metrics, each with its cost in
# tokens it reads beyond the teacher's training and in wall seconds.
#
#   1. the chip's format, integer forward (floe eval --qmodel): RTN, calibrated PTQ, GPTQ,
#      SmoothQuant, SiLQ (100 steps), EfficientQAT (Block-AP + 100 E2E-QP steps) at W4A8KV8, W4A4KV4
#      and W2A8KV8;
#   2. weight-only, activations float (floe eval --ckpt): RTN, GPTQ and EfficientQAT (Block-AP, then
#      E2E-QP) at W4 and W3 (group 128) and W2 (group 64), asymmetric, as EfficientQAT reports.
#
# Writes OUT/integer.csv and OUT/weight_only.csv (method, setting, perplexity, tokens, seconds):
# tokens are those the method reads beyond the teacher's training (calibration and training), seconds
# the method's own wall time (PTQ: the time `floe ptq` prints; QAT: the run's wall time less one
# validation pass, which it also makes). About 40 minutes on 2 idle cores; finished parts are kept. Usage: bench/results_methods.sh TEACHER_CKPT OUT_DIR [FLOE]
set -euo pipefail
T=${1:?teacher checkpoint}; OUT=${2:?output folder}; F=$(realpath "${3:-$(dirname "$0")/../build/floe}")
T=$(realpath "$T")
export OMP_WAIT_POLICY=passive
mkdir -p "$OUT"; cd "$OUT"
ppl() { grep -Eo 'perplexity +[0-9.]+' "$1" | tail -1 | grep -Eo '[0-9.]+$'; }
# run NAME CMD...: the command's output in NAME.txt and its wall time in NAME.time (kept if present)
run() {
  local n=$1; shift
  if [ ! -s "$n.time" ]; then
    local t0; t0=$(date +%s.%N)
    "$@" > "$n.txt" 2>&1
    echo "$(date +%s.%N) - $t0" | bc > "$n.time"
  fi
}
# the PTQ method's own time, as `floe ptq` prints it
ptq_secs() { grep -Eo 'calibration +[0-9]+ tokens, [0-9.]+ s' "$1.txt" | grep -Eo '[0-9.]+ s$' | grep -Eo '[0-9.]+'; }
# a training run's time less the evaluation it made at its end
train_secs() { echo "$(cat "$1.time") - $(cat "$2.time")" | bc | xargs printf '%.1f'; }
$F eval --ckpt "$T" -j 2 > teacher.txt
ctx=128; calib=$((4 * 8 * ctx))            # 4 calibration batches of 8 x 128 tokens
qat_tokens=$((100 * 8 * ctx))               # 100 steps of 8 x 128
bap_tokens=$((128 * ctx * 2))               # Block-AP: 128 sequences x 2 epochs
e2e_wo_tokens=$((300 * 8 * ctx))            # weight-only E2E-QP: 300 steps of 8 x 128

echo "method,setting,perplexity,tokens,seconds" > integer.csv
for set in "w4a8kv8:-w 4 -a 8 --kvbits 8" "w4a4kv4:-w 4 -a 4 --kvbits 4" "w2a8kv8:-w 2 -a 8 --kvbits 8"; do
  name=${set%%:*}; bits=${set#*:}
  for m in rtn calib gptq smoothquant; do
    # shellcheck disable=SC2086
    run ptq-$m-$name $F ptq --method $m --teacher "$T" $bits -o ptq-$m-$name.safetensors --eval -j 2
    tok=$calib; [ $m = rtn ] && tok=0
    echo "$m,$name,$(ppl ptq-$m-$name.txt),$tok,$(ptq_secs ptq-$m-$name)" >> integer.csv
  done
  # shellcheck disable=SC2086
  run silq-$name $F qat --method silq --teacher "$T" $bits --steps 100 -o silq-$name -j 2
  run silq-$name-eval $F eval --qmodel silq-$name/qmodel.safetensors -j 2
  echo "silq100,$name,$(ppl silq-$name-eval.txt),$((calib + qat_tokens)),$(train_secs silq-$name silq-$name-eval)" >> integer.csv
  # shellcheck disable=SC2086
  run eqat-$name $F qat --method efficientqat --teacher "$T" $bits --steps 100 -o eqat-$name -j 2
  run eqat-$name-eval $F eval --qmodel eqat-$name/qmodel.safetensors -j 2
  echo "efficientqat,$name,$(ppl eqat-$name-eval.txt),$((calib + bap_tokens + qat_tokens)),$(train_secs eqat-$name eqat-$name-eval)" >> integer.csv
done

echo "method,setting,perplexity,tokens,seconds" > weight_only.csv
for w in 4 3 2; do
  g=128; [ $w = 2 ] && g=64
  name=w${w}g$g
  for m in rtn gptq; do
    run wo-$m-$name $F ptq --method $m --weight-only --asym -w $w --group $g --teacher "$T" -o wo-$m-$name.safetensors --eval -j 2
    tok=$calib; [ $m = rtn ] && tok=0
    echo "$m,$name,$(ppl wo-$m-$name.txt),$tok,$(ptq_secs wo-$m-$name)" >> weight_only.csv
  done
  run wo-eqat-$name $F qat --method efficientqat --weight-only -w $w --group $g --teacher "$T" -o wo-eqat-$name -j 2
  run wo-eqat-$name-eval $F eval --ckpt wo-eqat-$name/model.safetensors -j 2
  echo "efficientqat,$name,$(ppl wo-eqat-$name.txt),$((bap_tokens + e2e_wo_tokens)),$(train_secs wo-eqat-$name wo-eqat-$name-eval)" >> weight_only.csv
done
echo "FP teacher perplexity $(ppl teacher.txt)"
cat integer.csv weight_only.csv
