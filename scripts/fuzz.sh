#!/usr/bin/env bash
# Fuzzes every reader with libFuzzer for a bounded time (default 30 s each):
#   bash scripts/fuzz.sh [seconds] [reader ...]     readers: npy idx csv libsvm model
# Builds the clang + ASan/UBSan + libFuzzer targets in build-fuzz (tests/fuzz). Each run starts
# from the committed corpus tests/fuzz/corpus/<reader> (read-only) and writes what it finds to
# build-fuzz/corpus/<reader>; a crash leaves its input in build-fuzz/crashes/ and fails the
# script. Copy an input that found a bug into tests/fuzz/corpus/<reader>/ so the unit tests
# (FuzzCorpus) replay it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
readers=("$@")
[ ${#readers[@]} -gt 0 ] || readers=(npy idx csv libsvm model)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is needed (apt-get install clang)" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DKMPI_FUZZ=ON -DKMPI_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for r in "${readers[@]}"; do targets+=("fuzz_$r"); done
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"
mkdir -p build-fuzz/crashes
status=0
for r in "${readers[@]}"; do
  mkdir -p "build-fuzz/corpus/$r"
  echo "== fuzz_$r for ${seconds} s"
  if ! ASAN_OPTIONS=detect_leaks=1 "build-fuzz/tests/fuzz/fuzz_$r" "build-fuzz/corpus/$r" \
      "tests/fuzz/corpus/$r" -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
      -timeout=10 -artifact_prefix="build-fuzz/crashes/${r}-" -print_final_stats=1 \
      2>"build-fuzz/fuzz_$r.log"; then
    echo "fuzz_$r FAILED: see build-fuzz/fuzz_$r.log and build-fuzz/crashes/" >&2
    tail -30 "build-fuzz/fuzz_$r.log" >&2
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "build-fuzz/fuzz_$r.log" || true
  fi
done
exit $status
