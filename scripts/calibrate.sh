#!/usr/bin/env bash
# Prints how many times slower than the reference host this host runs right now, rounded up (at
# least 1, at most 10): scripts/test.sh multiplies every test's timeout by it (FLOE_TIMEOUT_SCALE,
# docs/testing.md). The workload is 12 runs of `floe numerics` (the numeric core's self-check and
# accuracy table: single-threaded integer work) on every core at once, one copy per core, timed 3
# times; the fastest counts. One copy per core, not one copy alone: ctest runs a test per core, so a
# host whose cores are shared with another job must show it (one copy alone found a free core beside
# a 2-thread training run and printed 1, while the tests ran 2 to 100 times slower).
# Usage: scripts/calibrate.sh BUILD_DIR
set -euo pipefail
floe="$1/floe"
copies=$(nproc)
# The workload's time on the reference host: a 2-core machine of the kind CI runs on, idle, with
# the gcc -O3 build (measured 2026-12-07; 2 copies took 0.97-1.05 s, one copy alone 0.90-0.96 s).
ref_ms=1100
best=""
for trial in 1 2 3; do
  t0=$(date +%s%N)
  pids=()
  for ((c = 0; c < copies; c++)); do
    (for i in $(seq 12); do "$floe" numerics >/dev/null; done) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
scale=$(( (best + ref_ms - 1) / ref_ms ))
[ "$scale" -lt 1 ] && scale=1
[ "$scale" -gt 10 ] && scale=10
echo "calibrate: the workload took ${best} ms on ${copies} cores (reference ${ref_ms} ms): timeouts x${scale}" >&2
echo "$scale"
