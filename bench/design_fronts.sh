#!/usr/bin/env bash
# Accuracy x latency and accuracy x energy fronts after QAT (docs/design-choice.md, "Fronts after
# QAT"): the per-layer choices `floe design` makes over the whole weight-memory range (its front.csv),
# uniform W2, W4 and W8, and hand-picked mixes, each QAT-trained the same way (SiLQ, every 25th step
# verified on the machine), scored on the same validation windows and deployed with deploy-check.
#
# Usage: bench/design_fronts.sh BUILD OUT [MODEL S] [QAT_STEPS 100] [JOBS 1] [CORPUS fortunes]
#                               [TEACHER_STEPS 1000] [MACHINE configs/northpole.csv] [ENERGY configs/energy-northpole.csv]
# Writes OUT/fronts.csv (name, validation loss after QAT, decode latency us/token, energy uJ/token,
# weight bytes (design.csv's per-layer figures), chips, cores, the --wbits-layer string) and OUT/fronts.png; each point's run in OUT/p-NAME/
# (its deploy-check report in OUT/p-NAME/deploy-check.txt). JOBS points train at once. The teacher
# (OUT/teacher) is trained once: TEACHER_STEPS steps of batch 8 on CORPUS, as docs/design-choice.md's S teacher.
#
# Environment (defaults: the measured S run's settings):
#   TEACHER_THREADS=2     threads of the teacher's training and of its evaluation
#   DESIGN_THREADS=2      threads of `floe design`
#   POINT_THREADS=2       threads of each QAT point (JOBS of them run at once: JOBS x POINT_THREADS cores)
#   TEACHER_CKPT_EVERY=0  teacher checkpoint every N steps (0: only at the end)
#   POINT_CKPT_EVERY=0    QAT checkpoint every N steps of each point (0: only at the end)
#   ONLY=""               space-separated point names (as in OUT/points.txt): train, deploy and list
#                         only these (a run split over hosts, each with the same teacher bits)
# Reruns skip what is done (a finished teacher, its evaluation, the design, a point with its
# qmodel.safetensors) and resume a teacher or point from its last checkpoint (bit-identical to a
# straight run), so a run cut short (a time limit) goes on where it stopped.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
floe=$(realpath "${1:?build folder}/floe")
out=${2:?output folder}
model=${3:-S} steps=${4:-100} jobs=${5:-1} corpus=${6:-fortunes} tsteps=${7:-1000}
machine=$(realpath "${8:-$src/configs/northpole.csv}") energy=$(realpath "${9:-$src/configs/energy-northpole.csv}")
mkdir -p "$out"
out=$(realpath "$out")
export OMP_WAIT_POLICY=passive
tthreads=${TEACHER_THREADS:-2} dthreads=${DESIGN_THREADS:-2} pthreads=${POINT_THREADS:-2}
tckpt=${TEACHER_CKPT_EVERY:-0} pckpt=${POINT_CKPT_EVERY:-0}
# the newest checkpoint in folder $1 named $2-<step>.safetensors (a teacher's also needs its .optim file)
last_ckpt() {
  local f last=""
  for f in "$1/$2"-[0-9]*[0-9].safetensors; do
    [ -f "$f" ] && { [ "$2" != ckpt ] || [ -f "${f%.safetensors}.optim.safetensors" ]; } && last=$f
  done
  echo "$last"
}
teacher=$out/teacher/ckpt-$(printf %06d "$tsteps").safetensors
if [ ! -f "$teacher" ]; then
  last=$(last_ckpt "$out/teacher" ckpt)
  "$floe" train --model "$model" --corpus "$corpus" --steps "$tsteps" --batch 8 --eval-every 0 \
    --ckpt-every "$tckpt" -j "$tthreads" ${last:+--resume "$last"} --out "$out/teacher" >> "$out/teacher.log"
fi
[ -s "$out/teacher-eval.log" ] ||
  "$floe" eval --ckpt "$teacher" --corpus "$corpus" -j "$tthreads" > "$out/teacher-eval.log"
echo "teacher: $(grep -m1 -i 'loss' "$out/teacher-eval.log")"
[ -f "$out/design/front.csv" ] || "$floe" design --teacher "$teacher" -m "$machine" --energy "$energy" \
  --budget memory=1e15 -j "$dthreads" -o "$out/design" > "$out/design.log"
layers=$(sed -n 's/^design: [^(]*(\([0-9]*\) layers).*/\1/p' "$out/design.log")
layers=${layers:-4}
# points: NAME SPEC (a --wbits-layer string naming every layer)
uni() { local s="" l; for ((l = 0; l < layers; l++)); do s+="${s:+,}$l=$1"; done; echo "$s"; }
mix() { local s="" l; for ((l = 0; l < layers; l++)); do s+="${s:+,}$l=$([ $l = 0 ] || [ $l = $((layers - 1)) ] && echo "$1" || echo "$2")"; done; echo "$s"; }
{
  echo "uniform-W2 $(uni 2)"; echo "uniform-W4 $(uni 4)"; echo "uniform-W8 $(uni 8)"
  echo "ends-W8-rest-W4 $(mix 8 4)"; echo "ends-W8-rest-W2 $(mix 8 2)"; echo "ends-W4-rest-W2 $(mix 4 2)"
  col=$(head -1 "$out/design/front.csv" | tr ',' '\n' | grep -n '^wbits_layer$' | cut -d: -f1)
  tail -n +2 "$out/design/front.csv" | cut -d, -f"$col"- | tr ' ' ',' | awk '!seen[$0]++' | nl -w1 -s' ' | sed 's/^/design-/'
} | awk '!seen[$2]++' > "$out/points.txt"
if [ -n "${ONLY:-}" ]; then
  for name in $ONLY; do
    grep -q "^$name " "$out/points.txt" || { echo "design_fronts: ONLY names $name, not in $out/points.txt" >&2; exit 2; }
  done
  awk -v only=" $ONLY " 'index(only, " " $1 " ")' "$out/points.txt" > "$out/run.txt"
else
  cp "$out/points.txt" "$out/run.txt"
fi

point() {
  local name=$1 spec=$2 dir=$out/p-$1 last
  if [ ! -f "$dir/qmodel.safetensors" ]; then
    last=$(last_ckpt "$dir" qat)
    if [ -n "$last" ]; then
      "$floe" qat --resume "$last" --teacher "$teacher" --steps "$steps" --eval-windows 0 -m "$machine" \
        --verify-every 25 --ckpt-every "$pckpt" -j "$pthreads" -o "$dir" >> "$dir.log" 2>&1
    else
      "$floe" qat --teacher "$teacher" --wbits 4 --wbits-layer "$spec" --steps "$steps" --batch 8 --eval-windows 0 \
        -m "$machine" --verify-every 25 --ckpt-every "$pckpt" -j "$pthreads" -o "$dir" > "$dir.log" 2>&1
    fi
    echo "point $name: $SECONDS s" >> "$dir.log"
  fi
  local val dc
  val=$(tail -1 "$dir/qat.csv" | cut -d, -f6)
  "$floe" deploy-check --qmodel "$dir/qmodel.safetensors" -m "$machine" --energy "$energy" > "$dir/deploy-check.txt"
  dc=$(cat "$dir/deploy-check.txt")
  local lat en chips cores
  lat=$(sed -n 's/^latency *decode \([0-9.]*\) us per token.*/\1/p' <<< "$dc")
  en=$(sed -n 's/^energy *\([0-9.e+-]*\) J per token decoded.*/\1/p' <<< "$dc")
  chips=$(sed -n 's/^fits *yes: \([0-9]*\) chip.*/\1/p' <<< "$dc")
  cores=$(sed -n 's/^fits *yes: [0-9]* chip(s), \([0-9]*\) cores.*/\1/p' <<< "$dc")
  # weight bytes: design.csv's per-layer cost of each layer's width
  local bytes
  bytes=$(awk -F, -v spec="$spec" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; n = split(spec, a, ",")
      for (i = 1; i <= n; i++) { split(a[i], kv, "="); w[kv[1]] = kv[2] } next }
    $c["linear"] == "all" && ($c["layer"] in w) && $c["wbits"] == w[$c["layer"]] { sum += $c["memory_bytes"] }
    END { printf "%.0f", sum }' "$out/design/design.csv")
  echo "$name,$val,$lat,$(awk -v e="$en" 'BEGIN { printf "%.1f", e * 1e6 }'),$bytes,$chips,$cores,\"$spec\"" > "$dir.row"
}
export -f point last_ckpt
export floe teacher steps machine energy out corpus pthreads pckpt
xargs -P "$jobs" -L 1 bash -c 'point "$0" "$1"' < "$out/run.txt"
{
  echo "name,val_loss,latency_us,energy_uj,weight_bytes,chips,cores,wbits_layer"
  while read -r name _; do cat "$out/p-$name.row"; done < "$out/run.txt"
} > "$out/fronts.csv.tmp" && mv "$out/fronts.csv.tmp" "$out/fronts.csv"
if command -v gnuplot > /dev/null; then
  gnuplot <<GP
set terminal pngcairo size 1500,450
set output "$out/fronts.png"
set datafile separator ","
set multiplot layout 1,3 title "$model after $steps QAT steps on $(basename "$machine")"
set ylabel "validation loss (nats/token)"; set key off; set grid
set xlabel "decode latency (us/token)"
plot "$out/fronts.csv" every ::1 using 3:2 with points pt 7, "" every ::1 using 3:2:1 with labels offset 0,0.8 font ",7"
set xlabel "energy (uJ/token)"; set xtics rotate by -30
plot "$out/fronts.csv" every ::1 using 4:2 with points pt 7, "" every ::1 using 4:2:1 with labels offset 0,0.8 font ",7"
set xlabel "weights (MB)"
plot "$out/fronts.csv" every ::1 using (\$5/1e6):2 with points pt 7, "" every ::1 using (\$5/1e6):2:1 with labels offset 0,0.8 font ",7"
unset multiplot
GP
fi
cut -d, -f1-7 "$out/fronts.csv" | column -s, -t
