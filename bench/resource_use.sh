#!/usr/bin/env bash
# Peak memory (maximum resident set size, GNU time's %M) and wall time of each main command
# (docs/reliability.md, "Resource use"): train, qat, ptq, eval (float and quantized), compile, sim
# and deploy-check on the built-in configs S and M (M: the largest whose float model trains on a
# host of 16-32 GB; few steps, one calibration batch), and on granite-8b, the largest built-in shape,
# the commands that take random weights: deploy-check (the memory plan, then the composed
# simulation of a 4-token prompt and 1 decode step on configs/northpole-rack.csv) and compile (on
# one chip: refused, the figure is what it takes to refuse). Each row: config, command, peak MB,
# seconds, exit status.
#
# Usage: bench/resource_use.sh [FLOE] [WORK_DIR] [CONFIGS...]   (default configs: S M granite-8b)
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
floe=$(realpath "${1:-$src/build/floe}")
keep=${2:-}
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/floe-resources-XXXXXX")}
shift 2 2>/dev/null || shift $#
configs=("$@")
[ ${#configs[@]} -eq 0 ] && configs=(S M granite-8b)
mkdir -p "$work"
cd "$work" || exit 2
export OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive
np=$src/configs/northpole.csv
ne=$src/configs/energy-northpole.csv
data=(--corpus generated:2000)

printf '%-11s %-34s %10s %9s %5s\n' config command peak_MB seconds exit
# measure CONFIG LABEL CMD...: one row
measure() {
  local cfg=$1 label=$2; shift 2
  /usr/bin/time -f '%M %e' -o time.txt "$floe" "$@" > "out-$cfg-${label%% *}.txt" 2>&1
  local rc=$? kb s
  read -r kb s < <(tail -1 time.txt)
  printf '%-11s %-34s %10.1f %9.2f %5d\n' "$cfg" "$label" "$(echo "$kb / 1024" | bc -l)" "$s" "$rc"
}

for cfg in "${configs[@]}"; do
  case $cfg in
    granite-8b)
      measure "$cfg" "deploy-check --plan-only (rack)" deploy-check --model "$cfg" -m "$src/configs/northpole-rack.csv" \
        --plan-only
      measure "$cfg" "deploy-check (rack, composed)" deploy-check --model "$cfg" -m "$src/configs/northpole-rack.csv" \
        --energy "$ne" --tokens 4 --decode 1
      measure "$cfg" "compile (one chip: refused)" compile --model "$cfg" -m "$np" --tokens 16 -o "g-$cfg.flp" ;;
    *)
      t=train-$cfg/ckpt-000002.safetensors
      measure "$cfg" "train (2 steps, batch 8)" train --model "$cfg" "${data[@]}" --steps 2 --ckpt-every 0 \
        --eval-every 0 --out "train-$cfg"
      measure "$cfg" "qat (2 steps, batch 8)" qat --teacher "$t" "${data[@]}" --steps 2 --eval-windows 1 -o "qat-$cfg"
      measure "$cfg" "ptq gptq (1 batch of 8)" ptq --method gptq -t "$t" "${data[@]}" --calib-batches 1 \
        -o "ptq-$cfg.safetensors"
      measure "$cfg" "eval --ckpt" eval --ckpt "$t" "${data[@]}"
      measure "$cfg" "eval --qmodel" eval --qmodel "ptq-$cfg.safetensors" "${data[@]}"
      measure "$cfg" "compile (16-token prefill)" compile --qmodel "ptq-$cfg.safetensors" -m "$np" --tokens 16 \
        -o "p-$cfg.flp"
      measure "$cfg" "sim (that prefill)" sim "p-$cfg.flp" -m "$np" --quiet
      measure "$cfg" "deploy-check" deploy-check --qmodel "ptq-$cfg.safetensors" -m "$np" --energy "$ne" ;;
  esac
done
[ -z "$keep" ] && rm -rf "$work"
exit 0
