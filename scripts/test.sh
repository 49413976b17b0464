#!/usr/bin/env bash
# The README's test command (and exactly what CI runs): set up, then
#   0. the format check of the C/C++ lines the last commit changed (scripts/format-check.sh HEAD~1);
#   1. gcc -O3 build, the whole ctest suite (labels quick and long);
#   2. clang -O0 build with AddressSanitizer + UndefinedBehaviorSanitizer, the whole suite again;
#   3. the numeric core's digest from both builds must be equal (gcc -O3 vs clang -O0);
#   4. per-command determinism digests (scripts/determinism-digests.sh: FP training, QAT, PTQ,
#      EfficientQAT, compile, simulate on 1 and 2 threads) equal across thread counts and builds.
# Test timeouts are multiplied by a calibration of this host's speed (scripts/calibrate.sh,
# docs/testing.md), so a slow or busy host does not fail a test by its clock.
# Usage: scripts/test.sh [--quick] [--repeat N]
#   --quick     build 1 only, label "quick" only (the inner loop)
#   --repeat N  both builds, label "quick" only, every test run N times, stopping at its first
#               failure (the suite's stability check, docs/testing.md)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
repeat=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --repeat)
      [ $# -ge 2 ] && [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: --repeat needs a positive count" >&2; exit 2; }
      repeat=$2; shift ;;
    *) echo "usage: scripts/test.sh [--quick] [--repeat N]" >&2; exit 2 ;;
  esac
  shift
done

scripts/setup.sh
jobs="$(nproc)"

echo "== format: the C/C++ lines changed by the last commit"
scripts/format-check.sh HEAD~1

# ctest's options for the selected run: the whole suite, or the quick label (repeated if asked)
ctest_args=(--output-on-failure -j"$jobs")
if [ $quick -eq 1 ] || [ $repeat -gt 0 ]; then ctest_args+=(-L quick); fi
if [ $repeat -gt 0 ]; then ctest_args+=(--repeat "until-fail:$repeat"); fi

# ctest, and on a failure each failed test's last output lines again at the very end, where a
# truncated log (CI keeps its head and tail) still shows why the test failed
run_ctest() {
  local dir=$1
  shift
  if ctest --test-dir "$dir" "$@"; then return 0; fi
  local log="$dir/Testing/Temporary/LastTest.log" name
  echo "== the failed tests' last 40 output lines (all of it: $log)"
  cut -d: -f2- "$dir/Testing/Temporary/LastTestsFailed.log" 2>/dev/null | head -5 | while read -r name; do
    echo "-- $name"
    awk -v t="$name" '$0 ~ "^[0-9]+/[0-9]+ Testing: " && $3 == t { on = 1; next }
                      on && /^<end of output>$/ { exit } on { print }' "$log" | tail -40
  done
  return 1
}

echo "== build 1: gcc, Release (-O3)"
CC=gcc CXX=g++ cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFLOE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
scale=$(scripts/calibrate.sh build)
cmake -S . -B build -DFLOE_TIMEOUT_SCALE="$scale" >/dev/null
run_ctest build "${ctest_args[@]}"
[ $quick -eq 1 ] && exit 0

echo "== build 2: clang, Debug (-O0), AddressSanitizer + UndefinedBehaviorSanitizer"
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFLOE_SANITIZE=ON -DFLOE_WERROR=ON \
  -DFLOE_TIMEOUT_SCALE="$scale" >/dev/null
cmake --build build-asan -j"$jobs"
# calibrated again: the host's load may have changed during the build
scale=$(scripts/calibrate.sh build)
cmake -S . -B build-asan -DFLOE_TIMEOUT_SCALE="$scale" >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_ctest build-asan "${ctest_args[@]}"
[ $repeat -gt 0 ] && exit 0

echo "== numeric digest: gcc -O3 vs clang -O0"
d1=$(./build/floe numerics --digest)
d2=$(./build-asan/floe numerics --digest)
echo "gcc -O3:   $d1"
echo "clang -O0: $d2"
if [ "$d1" != "$d2" ]; then
  echo "FAILED: the numeric core computes different bits in the two builds" >&2
  exit 1
fi
echo "numeric digest: 1 passed, 0 failed"

echo "== determinism digests: every command on 1 and 2 threads, gcc -O3 vs clang -O0"
scripts/determinism-digests.sh build > build/determinism-digests.txt
ASAN_OPTIONS=detect_leaks=1 scripts/determinism-digests.sh build-asan > build-asan/determinism-digests.txt
# one digest per command over both builds and both thread counts
awk '{ b = FILENAME ~ /asan/ ? "clang -O0" : "gcc -O3"; print b ", " $2 " thread(s): " $1 " " $3 }' \
  build/determinism-digests.txt build-asan/determinism-digests.txt
if ! awk '{ if (($1 in d) && d[$1] != $3) bad[$1] = 1; d[$1] = $3; n[$1]++ }
          END { p = 0; f = 0; for (c in n) if (c in bad) { f++; print "FAILED: " c " differs" } else p++;
                print "determinism digests: " p " passed, " f " failed"; exit f > 0 }' \
    build/determinism-digests.txt build-asan/determinism-digests.txt; then
  echo "FAILED: a command computes different bits across thread counts or builds" >&2
  exit 1
fi
