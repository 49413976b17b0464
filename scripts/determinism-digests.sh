#!/usr/bin/env bash
# Per-command determinism digests (docs/reliability.md): small runs of FP training, QAT (SiLQ),
# PTQ (GPTQ and SmoothQuant), EfficientQAT (the chip's form and the weight-only study), compile and
# simulate, each on 1 and 2 OpenMP threads, and one SHA-256 per command and thread count over the
# output files that must be deterministic (checkpoints, quantized models, programs, the simulator's
# profiles; not the logs, which hold wall times). The same inputs and seed must give the same bits
# on any thread count and in any build: scripts/test.sh compares the lines of the gcc -O3 and the
# clang -O0 sanitizer builds, and every thread count of each.
#
# Output: one line per command and thread count, "COMMAND THREADS SHA256".
# Usage: scripts/determinism-digests.sh BUILD [WORK_DIR]
#   scripts/determinism-digests.sh build | awk '{print $1, $3}' | sort -u   # one digest per command
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
floe=$(realpath "${1:?build folder}/floe")
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/floe-digests-XXXXXX")}
mkdir -p "$work"
cd "$work"
export OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1
machine=$src/configs/small.csv

# A two-layer model of width 16 with grouped-query attention: every layer's code path at a small size.
printf '{"vocab_size": 256, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
 "num_key_value_heads": 2, "intermediate_size": 32, "max_position_embeddings": 16, "rms_norm_eps": 1e-05,
 "tie_word_embeddings": true}\n' > det.json
data=(--corpus generated:300)

# run LOGNAME CMD...: floe with the given arguments, its output in LOGNAME; stops the script on failure
run() {
  local log=$1; shift
  "$floe" "$@" > "$log" 2>&1 || { echo "determinism-digests: floe $* failed:" >&2; tail -5 "$log" >&2; exit 1; }
}
digest() { cat "$@" | sha256sum | cut -c1-64; }

for n in 1 2; do
  export OMP_NUM_THREADS=$n
  run train-$n.log train --model det.json "${data[@]}" --batch 2 --context 16 --steps 8 --ckpt-every 0 \
    --eval-every 0 --threads $n --out train-$n
  echo "train $n $(digest train-$n/ckpt-000008.safetensors train-$n/ckpt-000008.optim.safetensors)"
done
teacher=train-1/ckpt-000008.safetensors # relative: the outputs record it

for n in 1 2; do
  export OMP_NUM_THREADS=$n
  run qat-$n.log qat --teacher "$teacher" "${data[@]}" --steps 4 --batch 2 --context 16 --eval-windows 1 \
    --threads $n -o qat-$n
  echo "qat $n $(digest qat-$n/qat-000004.safetensors qat-$n/qmodel.safetensors)"
done

for n in 1 2; do
  export OMP_NUM_THREADS=$n
  run ptq-$n.log ptq --method gptq -t "$teacher" "${data[@]}" --calib-batches 1 -b 2 --threads $n \
    -o ptq-gptq-$n.safetensors
  run ptq-$n.log ptq --method smoothquant -t "$teacher" "${data[@]}" --calib-batches 1 -b 2 -w 2 \
    --wbits-layer 0=8 --threads $n -o ptq-sq-$n.safetensors
  echo "ptq $n $(digest ptq-gptq-$n.safetensors ptq-sq-$n.safetensors)"
done

for n in 1 2; do
  export OMP_NUM_THREADS=$n
  eq=(--teacher "$teacher" "${data[@]}" --block-samples 4 --block-epochs 1 --batch 2 --context 16 --steps 3
      --threads $n)
  run eqat-$n.log qat --method efficientqat -w 2 "${eq[@]}" --eval-windows 1 -o eqat-$n
  run eqatw-$n.log qat --method efficientqat --weight-only -w 3 --group 8 "${eq[@]}" -o eqatw-$n
  echo "efficientqat $n $(digest eqat-$n/qat-000003.safetensors eqat-$n/qmodel.safetensors \
    eqatw-$n/e2eqp-000003.safetensors eqatw-$n/model.safetensors)"
done

for n in 1 2; do
  export OMP_NUM_THREADS=$n
  run compile-$n.log compile --qmodel qat-1/qmodel.safetensors -m "$machine" --tokens 4 -o prog-$n.flp \
    --placement place-$n.csv
  echo "compile $n $(digest prog-$n.flp place-$n.csv)"
done

for n in 1 2; do
  export OMP_NUM_THREADS=$n
  run sim-$n.log sim prog-1.flp -m "$machine" --profile prof-$n.csv --regions regions-$n.csv --quiet
  echo "sim $n $(digest prof-$n.csv regions-$n.csv)"
done

[ -z "${2:-}" ] && rm -rf "$work"
exit 0
