#!/bin/bash
# Reproduces docs/results.md's QAT table and plot: config S (trained with the defaults: floe train
# --model S) quantized by RTN PTQ, calibrated PTQ and SiLQ QAT after 100 and 1000 steps at W4A8KV8,
# W4A4KV4, W2A8KV8 and W8A8KV8, every model scored on the whole validation split through the
# integer forward (floe eval --qmodel). About an hour on 2 idle cores.
# Usage: bench/results_qat.sh TEACHER_CKPT OUT_DIR [FLOE]
set -euo pipefail
T=${1:?teacher checkpoint}; OUT=${2:?output folder}; F=${3:-$(dirname "$0")/../build/floe}
export OMP_WAIT_POLICY=passive
mkdir -p "$OUT"; cd "$OUT"
ppl() { grep -Eo 'perplexity +[0-9.]+' "$1" | tail -1 | grep -Eo '[0-9.]+$'; }
$F eval --ckpt "$T" -j 2 > teacher.txt
SETS=("w4a8kv8:-w 4 -a 8 --kvbits 8" "w4a4kv4:-w 4 -a 4 --kvbits 4" "w2a8kv8:-w 2 -a 8 --kvbits 8" "w8a8kv8:-w 8 -a 8 --kvbits 8")
for set in "${SETS[@]}"; do
  name=${set%%:*}; bits=${set#*:}
  for m in rtn calib; do
    [ -s ptq-$m-$name.txt ] || $F ptq --method $m --teacher "$T" $bits -o ptq-$m-$name.safetensors --eval -j 2 > ptq-$m-$name.txt
  done
  for n in 100 150 1000; do
    if [ ! -s qat$n-$name.txt ]; then
      $F qat --teacher "$T" $bits --steps $n --eval-every $((n / 10)) -o qat$n-$name -j 2 > qat$n-$name.log
      $F eval --qmodel qat$n-$name/qmodel.safetensors -j 2 > qat$n-$name.txt
    fi
  done
done
{
  echo "setting,teacher,rtn,calib,silq100,silq150,silq1000"
  for set in "${SETS[@]}"; do
    name=${set%%:*}
    echo "$name,$(ppl teacher.txt),$(ppl ptq-rtn-$name.txt),$(ppl ptq-calib-$name.txt),$(ppl qat100-$name.txt),$(ppl qat150-$name.txt),$(ppl qat1000-$name.txt)"
  done
} > table.csv
cat table.csv
# step 0 of each curve: the calibrated PTQ model SiLQ starts from
for set in "${SETS[@]}"; do
  name=${set%%:*}
  { echo "0,$(ppl ptq-calib-$name.txt)"; awk -F, 'NR > 1 && $7 != "" { print $1 "," $7 }' qat1000-$name/qat.csv; } > curve-$name.csv
done
gnuplot <<GP
set terminal pngcairo size 900,560
set output 'qat_ppl_steps.png'
set datafile separator ','
set title 'SiLQ QAT of config S: validation perplexity (integer forward) against QAT steps'
set xlabel 'QAT steps (1000-step runs, batch 8 x 128; step 0: the calibrated PTQ start)'
set ylabel 'validation perplexity'
set grid; set key top right
teacher = $(ppl teacher.txt)
plot for [s in "w4a8kv8 w4a4kv4 w2a8kv8 w8a8kv8"] 'curve-'.s.'.csv' using 1:2 with linespoints pt 7 title s, \
     teacher with lines dt 2 lw 2 lc rgb 'black' title 'FP teacher'
GP
