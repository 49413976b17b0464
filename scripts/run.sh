#!/usr/bin/env bash
# The README's first command: set up, build, and run Floe's main job on built-in defaults.
# Extra arguments go to `floe run` (e.g. --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
exec ./build/floe run "$@"
