#!/usr/bin/env bash
# solver.projection_epochs (issue 16): eigenpro4 with the inexact projection (solver.projection =
# eigenpro2, what auto falls back to when the Cholesky factor does not fit) on Fashion-MNIST
# 60000, p = P (default 10000), 2 ranks, with 1 (EPOCHS1 = 6 epochs, for equal time), 2 and 3
# EigenPro 2 epochs per projection (3 epochs each). Prints test accuracy, elapsed seconds and the
# projection residual after every epoch.
#
#   BUILD=build-test bash bench/run_projection_epochs.sh [WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(realpath -m "${1:-$(mktemp -d /tmp/kmpi_pe.XXXXXX)}")
build=$(realpath -m "${BUILD:-$root/build}")
p=${P:-10000}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi > /dev/null
source "$root/scripts/mpi_env.sh"
mkdir -p "$work"
cd "$work"
for cfg in "1 ${EPOCHS1:-6}" "2 3" "3 3"; do
  read -r pe epochs <<< "$cfg"
  mpirun -np "${RANKS:-2}" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" \
    --solver.name=eigenpro4 --solver.centers="$p" --solver.projection=eigenpro2 \
    --solver.projection_epochs="$pe" --solver.epochs="$epochs" --output.model="m$pe.kmpi" \
    --output.metrics="m$pe.jsonl" > "log$pe.txt" 2>&1 || { tail -20 "log$pe.txt"; exit 1; }
  /usr/bin/python3 - "$pe" "m$pe.jsonl" << 'PY'
import json, sys
pe, path = sys.argv[1:]
for r in map(json.loads, open(path)):
    if "epoch" in r and "event" not in r:
        print(f"projection_epochs {pe}: epoch {r['epoch']:.0f} {r['elapsed_s']:6.1f} s  test accuracy "
              f"{r['test_accuracy']:.4f}  projection residual {r.get('projection_residual', 0):.3f}")
PY
done
