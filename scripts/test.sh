#!/usr/bin/env bash
# The README's test command (and exactly what CI runs): set up, then
#   1. gcc -O3 build, the whole ctest suite (labels quick and long);
#   2. clang -O0 build with AddressSanitizer + UndefinedBehaviorSanitizer, the whole suite again;
#   3. the numeric core's digest from both builds must be equal (gcc -O3 vs clang -O0).
# Usage: scripts/test.sh [--quick]     --quick: build 1 only, label "quick" only (the inner loop)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/setup.sh
jobs="$(nproc)"

echo "== build 1: gcc, Release (-O3)"
CC=gcc CXX=g++ cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DFLOE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
if [ $quick -eq 1 ]; then
  ctest --test-dir build -L quick --output-on-failure -j"$jobs"
  exit 0
fi
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build 2: clang, Debug (-O0), AddressSanitizer + UndefinedBehaviorSanitizer"
CC=clang CXX=clang++ cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFLOE_SANITIZE=ON -DFLOE_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

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
