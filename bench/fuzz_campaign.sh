#!/usr/bin/env bash
# Fuzz campaign (docs/reliability.md): runs each libFuzzer target for MINUTES CPU-minutes, one target
# at a time (one fuzzing process, so its wall time is its CPU time), from a fresh corpus of the seeds
# fuzz/seeds.sh writes, with the allocator allowed to fail (out-of-memory paths fuzzed too). Crashes,
# out-of-memory and timeouts do not stop a target (libFuzzer's fork mode); their inputs are kept in
# BUILD/fuzz/campaign/<target>-artifacts/. Prints one line per target: CPU-minutes, executions,
# coverage (libFuzzer's cov: edges and ft: features, from its last stats line), corpus size,
# crashes, out-of-memory and timeouts.
#
# usage: bench/fuzz_campaign.sh MINUTES [BUILD] [TARGET...]
#   MINUTES  CPU-minutes per target (a positive number, e.g. 1 or 0.5)
#   BUILD    a clang build with the fuzz targets (default build-fuzz:
#            CC=clang cmake -S . -B build-fuzz && cmake --build build-fuzz --target floe fuzz_<target>...)
#   TARGET   default: every fuzz_* in BUILD/fuzz
# The machine is shared: run it niced (nice -n 10 bench/fuzz_campaign.sh 1).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] && [[ "$1" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { sed -n '2,16p' "$0" >&2; exit 2; }
minutes=$1
build=${2:-build-fuzz}
shift $(( $# >= 2 ? 2 : 1 ))
secs=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60 + 0.5); print s < 1 ? 1 : s }')
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$build"/fuzz/fuzz_*; do
    [ -x "$f" ] && targets+=("$(basename "$f" | sed 's/^fuzz_//')")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz_campaign.sh: no fuzz targets in $build/fuzz" >&2; exit 1; }
[ -x "$build/floe" ] || { echo "fuzz_campaign.sh: $build/floe is missing (it writes the seeds)" >&2; exit 1; }
out=$build/fuzz/campaign
mkdir -p "$out"
export ASAN_OPTIONS="allocator_may_return_null=1:max_allocation_size_mb=256:detect_leaks=1"
# One thread: the loaders need none, and a fuzzer's CPU time is then its own work, not OpenBLAS or
# OpenMP workers spinning. The harnesses' files go to memory (/dev/shm where there is one), so the
# atomic writer's fsyncs do not make a target wait on the disk.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi

printf '%-12s %8s %8s %12s %8s %8s %8s %8s %6s %9s\n' target cpu_min wall_min executions cov ft corpus crashes ooms \
  timeouts
status=0
for t in "${targets[@]}"; do
  exe=$build/fuzz/fuzz_$t
  corpus=$out/$t-corpus
  art=$out/$t-artifacts
  log=$out/$t.log
  sh fuzz/seeds.sh "$build/floe" "$PWD" "$t" "$corpus"
  mkdir -p "$art"
  # Runs until the fuzzer and its fork-mode jobs (all waited for) have had MINUTES of CPU (user +
  # system): on a busy host a run of MINUTES wall-clock minutes gets less. Each further run resumes
  # from the corpus so far; executions and failures add up, coverage is the last run's (it reloads
  # the whole corpus).
  TIMEFORMAT='%U %S %R'
  : > "$log"
  cpu_s=0 wall_s=0 execs=0 crashes=0 ooms=0 timeouts=0 last=
  while :; do
    left=$(awk -v c="$cpu_s" -v t="$secs" 'BEGIN { l = int(t - c + 0.5); print l }')
    [ "$left" -ge 3 ] || break
    { time "$exe" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$left" \
        -timeout=30 -rss_limit_mb=2048 -artifact_prefix="$art/" "$corpus" > "$log.run" 2>&1 || status=1; } \
      2> "$out/$t.time"
    cat "$log.run" >> "$log"
    read -r u s r < "$out/$t.time"
    cpu_s=$(awk -v c="$cpu_s" -v u="$u" -v s="$s" 'BEGIN { print c + u + s }')
    wall_s=$(awk -v w="$wall_s" -v r="$r" 'BEGIN { print w + r }')
    run=$(grep -E '^#[0-9]+: cov: ' "$log.run" | tail -1 || true)
    [ -n "$run" ] || break
    last=$run
    field() { sed -nE "s|.* $1:? ([0-9/]+).*|\\1|p" <<< "$last"; }
    f=$(field "oom/timeout/crash")
    execs=$((execs + $(sed -E 's/^#([0-9]+):.*/\1/' <<< "$last")))
    ooms=$((ooms + $(cut -d/ -f1 <<< "$f"))) timeouts=$((timeouts + $(cut -d/ -f2 <<< "$f")))
    crashes=$((crashes + $(cut -d/ -f3 <<< "$f")))
    echo "--- run done: cpu ${cpu_s}s of ${secs}s" >> "$log"
  done
  rm -f "$log.run"
  printf '%-12s %8.2f %8.2f %12s %8s %8s %8s %8s %6s %9s\n' "$t" "$(awk -v c="$cpu_s" 'BEGIN { print c / 60 }')" \
    "$(awk -v w="$wall_s" 'BEGIN { print w / 60 }')" "$execs" "$(field cov)" "$(field ft)" "$(field corp)" \
    "$crashes" "$ooms" "$timeouts"
done
echo "(cpu_min: user + system minutes of the fuzzer and its jobs; wall_min: their wall time on this host;" \
     "inputs of failures in $out/<target>-artifacts/)"
exit $status
