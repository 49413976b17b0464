#!/usr/bin/env bash
# Installs every Debian package Floe needs. Does nothing when they are all there already.
# Usage: scripts/setup.sh            (as root, or with sudo available)
set -euo pipefail

PACKAGES=(
  # build
  cmake make gcc g++ clang pkg-config
  # scripts/format-check.sh: clang-format and git clang-format
  clang-format
  # clang's OpenMP and sanitizer/fuzzer runtimes (the sanitizer build and the fuzzers use clang)
  libomp-14-dev libclang-rt-14-dev
  # libraries
  libcmocka-dev libcsv-dev libopenblas-dev libcjson-dev libdnnl-dev
  # SystemC virtual platform and RTL co-simulation
  libsystemc-dev verilator
  # plots
  gnuplot-nox
  # floe explore under mpirun (Open MPI)
  openmpi-bin libopenmpi-dev
  # GNU time: peak memory in bench/serving_deployments.sh
  time
  # default training corpus (plain-text fortunes, about 2.5 MB of English)
  fortunes
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
