#!/usr/bin/env bash
# Installs a kmpi build into a scratch prefix, builds tests/consumer/ against the installed
# package (find_package(kmpi), nothing from the source tree) and runs it at 1 and 2 ranks.
#   run.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/tests/consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" -j 2 >/dev/null
[ -x "$work/prefix/bin/kmpi" ] || { echo "FAIL: kmpi binary not installed" >&2; exit 1; }
[ -f "$work/prefix/include/kmpi/train.hpp" ] || { echo "FAIL: headers not installed" >&2; exit 1; }
# The public headers stand alone: each compiles by itself against the installed tree (none of
# them reaches an internal header of src/).
for h in "$work/prefix/include/kmpi/"*.hpp; do
  echo "#include \"kmpi/$(basename "$h")\"" | mpicxx -std=c++17 -fsyntax-only -I"$work/prefix/include" -x c++ - \
    || { echo "FAIL: public header $(basename "$h") does not compile alone" >&2; exit 1; }
done
source "$src/scripts/mpi_env.sh"
for np in 1 2; do
  mpirun --timeout 120 -np $np "$work/build/consumer" > "$work/out$np.txt"
  cat "$work/out$np.txt"
  grep -q ": ok$" "$work/out$np.txt" || { echo "FAIL: consumer at $np ranks" >&2; exit 1; }
done
echo "install_consumer: ok"
