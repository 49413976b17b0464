#!/usr/bin/env bash
# Floe's training step against PyTorch's on this machine, in one run (docs/trainer.md, "PyTorch as
# the peer"): FP and QAT of a built-in shape at batch 1 x T, Floe (bench_train_shapes) and
# scripts/bench_train_peer.py alternately, the same thread count for both, and the ratio of their
# tokens/s. The peer is whichever torch `python3` imports (Debian's python3-torch here); it gets the
# same OpenBLAS settings from the environment as Floe.
#
# Usage: bench/train_peer.sh BUILD [MODEL smollm2-135m] [T 2048] [threads 2] [steps 2] [fp|qat|both]
set -euo pipefail
build=$(realpath "${1:?build folder}")
model=${2:-smollm2-135m} T=${3:-2048} threads=${4:-2} steps=${5:-2} what=${6:-both}
src=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python3}
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
work=$(mktemp -d "${TMPDIR:-/tmp}/floe-peer-XXXXXX")
trap 'rm -rf "$work"' EXIT
tps() { sed -n 's/.* \([0-9.]*\) tokens\/s.*/\1/p' <<< "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for kind in fp qat; do
  [ "$what" = both ] || [ "$what" = "$kind" ] || continue
  if [ "$kind" = fp ]; then
    floe=$("$build/bench/bench_train_shapes" fp "$model" "$T" 1 "$steps" "$work/teacher.safetensors" | tail -1)
  else
    [ -f "$work/teacher.safetensors" ] || "$build/bench/bench_train_shapes" fp "$model" "$T" 1 1 "$work/teacher.safetensors" > /dev/null
    floe=$("$build/bench/bench_train_shapes" qat "$model" "$T" 1 "$steps" "$work/teacher.safetensors" | tail -1)
  fi
  echo "floe  $floe"
  if ! peer=$("$py" "$src/scripts/bench_train_peer.py" "$kind" "$model" "$T" "$steps" "$threads" | tail -1); then
    echo "peer  failed (killed for memory? PyTorch's QAT at 2,048 tokens needs over 24 GB)"
    continue
  fi
  echo "peer  $peer"
  echo "$kind $model T $T threads $threads: Floe / PyTorch tokens/s = $(ratio "$(tps "$floe")" "$(tps "$peer")")"
done
