#!/usr/bin/env bash
# README command (b): install what is missing, build with warnings as errors, and run the whole
# suite: unit tests, MPI tests at 1, 2 and 4 ranks, CLI end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DKMPI_WERROR=ON >/dev/null
cmake --build build-test -j "$(nproc)"
cd build-test
ctest --output-on-failure "$@"
