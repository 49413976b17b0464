#!/usr/bin/env bash
# Prints how many times slower than the reference host this host runs right now, rounded up (at
# least 1, at most 10): scripts/test.sh multiplies every test's timeout by it (FLOE_TIMEOUT_SCALE,
# docs/testing.md). The workload is 12 runs of `floe numerics` (the numeric core's self-check and
# accuracy table: single-threaded integer work), timed 3 times; the fastest counts.
# Usage: scripts/calibrate.sh BUILD_DIR
set -euo pipefail
floe="$1/floe"
# The workload's time on the reference host: a 2-core machine of the kind CI runs on, idle, with
# the gcc -O3 build (measured 2026-12-06; 12 runs took 0.89-0.93 s).
ref_ms=1000
best=""
for trial in 1 2 3; do
  t0=$(date +%s%N)
  for i in $(seq 12); do "$floe" numerics >/dev/null; done
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
done
scale=$(( (best + ref_ms - 1) / ref_ms ))
[ "$scale" -lt 1 ] && scale=1
[ "$scale" -gt 10 ] && scale=10
echo "calibrate: the workload took ${best} ms (reference ${ref_ms} ms): timeouts x${scale}" >&2
echo "$scale"
