#!/bin/bash
# Reproduces docs/results.md's "NorthPole-scale serving" table and measures what it costs here: the
# 3B-class shape of NorthPole's 16-card LLM run on one server, and Granite-3.3-8B's shape on the
# rack, each at 2,048 positions with every user whose KV cache fits (128-token prompts, 32 decode
# steps), through `floe deploy-check`; prints each run's serving lines, then its wall time and peak
# memory (GNU time). The peer is the published run: 28,356 tokens/s, under 1 ms per token, 672 W.
# Both models are simulated whole (deploy-check's default --full-chips 128): about 9 minutes and
# 6 GB at the peak on 2 busy cores; add --full-chips 4 to each run to compose them (about 3 minutes).
# Usage: bench/serving_deployments.sh [FLOE]
set -euo pipefail
F=${1:-$(dirname "$0")/../build/floe}
C=$(dirname "$0")/../configs
command -v /usr/bin/time >/dev/null || { echo "needs GNU time (Debian package time)" >&2; exit 1; }
run() {
  local name=$1; shift
  echo "== $name"
  /usr/bin/time -f "deploy-check took %e s wall, %M KiB peak memory" "$F" deploy-check "$@" \
    --energy "$C/energy-northpole.csv" --tokens 16 --kv-tokens 2048 --users max --prompt 128 --decode-steps 32 \
    2>&1 | grep -Ev '^deploy-check: \['
}
run "northpole-3b on one 16-card server" --model northpole-3b -m "$C/northpole.csv"
run "granite-8b on the 288-card rack" --model granite-8b -m "$C/northpole-rack.csv"
