#!/usr/bin/env bash
# README command (b): install what is missing, build with warnings as errors, and run the whole
# suite: unit tests, MPI tests at 1, 2 and 4 ranks, CLI end-to-end tests, and (root) the 2-node
# cluster tests of tests/cluster/ (network namespaces; skipped with one line where unavailable).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=Release -DKMPI_WERROR=ON >/dev/null
cmake --build build-test -j "$(nproc)"
(cd build-test && ctest --output-on-failure "$@")
# Sanitizer build (ASan + UBSan) of the unit tests, readers and fuzz corpus included: a memory
# error or undefined behaviour fails the suite. Unit tests only, to keep the time down;
# KMPI_SKIP_SANITIZE=1 skips this step.
if [ "${KMPI_SKIP_SANITIZE:-0}" != 1 ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKMPI_SANITIZE=ON -DKMPI_WERROR=ON >/dev/null
  cmake --build build-asan -j "$(nproc)" --target kmpi_unit_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    OPENBLAS_NUM_THREADS=1 build-asan/tests/kmpi_unit_tests --gtest_brief=1
fi
