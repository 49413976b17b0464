#!/usr/bin/env bash
# Points per second of floe explore's two tiers (docs/explore.md, "Speed"), with 1 and 2 worker
# processes and under mpirun with 2 ranks: a sweep of 96 analytical points (tiny, S and M on the
# small and northpole machines over core memory and SRAM width, re-pricing off), and the same
# sweep's tiny and S points by the simulator.
# Usage: bench/explore_throughput.sh [BUILD]   (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
floe="$PWD/$build/floe"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
src=$PWD
sweep() { # tier models machine
  cat >"$dir/s.sweep" <<EOS
machine = $src/configs/$3.csv
energy = $src/configs/energy-northpole.csv
model = $2
precision = W4A8KV8, W2A8KV8
core_mem_bytes = 262144 .. 2097152 *2
sram_bytes_per_cycle = 32 .. 256 *2
tier = $1
reprice = none
EOS
}
run() { # label command...
  rm -rf "$dir/o"
  local t0 t1 n
  t0=$(date +%s.%N)
  "${@:2}" -q "$dir/s.sweep" -o "$dir/o" >/dev/null
  t1=$(date +%s.%N)
  n=$(($(wc -l <"$dir/o/explore.csv") - 1))
  awk -v l="$1" -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%-44s %5d points  %7.2f s  %8.1f points/s\n", l, n, b - a, n / (b - a) }'
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
for m in northpole; do
  sweep analytic "tiny, S, M" $m
  run "analytic, $m, 1 worker" "$floe" explore -j 1
  run "analytic, $m, 2 workers" "$floe" explore -j 2
  command -v mpirun >/dev/null && run "analytic, $m, mpirun -np 2" mpirun -np 2 --oversubscribe "$floe" explore
  sweep sim "tiny, S" $m
  run "simulator, $m, 1 worker" "$floe" explore -j 1
  run "simulator, $m, 2 workers" "$floe" explore -j 2
  command -v mpirun >/dev/null && run "simulator, $m, mpirun -np 2" mpirun -np 2 --oversubscribe "$floe" explore
done
