#!/usr/bin/env bash
# The data, separated from the solver (issue 16): falkon (and eigenpro4 with SOLVERS="falkon
# eigenpro4") at the same p on the 60000 real Fashion-MNIST rows and on N (default 200000) rows of
# bench/augment_fmnist.cpp (the 60000 originals, then nonzero translations of at most SHIFTS
# steps of STEP (default 1) pixels, no field), tested on the 10000 real test images. One JSON
# line per run to OUT (default augment_effect.jsonl in the work dir) and a table on stdout.
#
#   bash bench/run_augment_effect.sh [WORKDIR]
#   (defaults P=10000 N=200000 SHIFTS="1 2" STEP=1 RANKS=2 REAL=1 ITERATIONS=10 EPOCHS=3;
#    REAL=0 skips the 60000 real rows)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(realpath -m "${1:-$(mktemp -d /tmp/kmpi_augment.XXXXXX)}")
n=${N:-200000}
p=${P:-10000}
ranks=${RANKS:-2}
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi kmpi_augment_fmnist > /dev/null
source "$root/scripts/mpi_env.sh"
mkdir -p "$work"
cd "$work"
out=${OUT:-$work/augment_effect.jsonl}
echo "working in $work"
step=${STEP:-1}
tag() { [[ $step == 1 ]] && echo "s$1" || echo "s$1x$step"; }
for shift in ${SHIFTS:-1 2}; do
  t=$(tag "$shift")
  [[ -f x$n-$t.npy ]] || "$build/bench/kmpi_augment_fmnist" --n "$n" --shift "$shift" \
    --step "$step" --elastic 0 --out-x "x$n-$t.npy" --out-y "y$n-$t.npy"
done
run() {  # $1 = data label, $2 = solver, then data options
  local data=$1 solver=$2
  shift 2
  local args=(train --config "$root/configs/fashion_mnist.ini" "$@" --solver.name="$solver"
    --solver.centers="$p" --output.model="m-$data-$solver.kmpi" --output.metrics="m-$data-$solver.jsonl")
  if [[ $solver == falkon ]]; then
    args+=(--solver.ridge=1e-6 --solver.iterations="${ITERATIONS:-10}")
  else
    args+=(--solver.epochs="${EPOCHS:-3}")
  fi
  local t0=$SECONDS
  mpirun -np "$ranks" "$build/kmpi" "${args[@]}" > "log-$data-$solver.txt" 2>&1 ||
    { cat "log-$data-$solver.txt"; exit 1; }
  python3 - "$data" "$solver" "m-$data-$solver.jsonl" "$((SECONDS - t0))" "$p" "$out" << 'PY'
import json, sys
data, solver, path, wall, p, out = sys.argv[1:]
reports = [json.loads(l) for l in open(path)]
reports = [r for r in reports if "test_accuracy" in r and r.get("event") not in ("final", "done")]
acc = [r["test_accuracy"] for r in reports]
elapsed = [round(r["elapsed_s"], 1) for r in reports if "elapsed_s" in r]
final = [json.loads(l) for l in open(path) if json.loads(l).get("event") == "done"]
last = final[-1]["test_accuracy"] if final and "test_accuracy" in final[-1] else acc[-1]
row = {"data": data, "solver": solver, "p": int(p), "wall_s": int(wall), "test_accuracy": last,
       "per_report": acc, "elapsed_s": elapsed}
open(out, "a").write(json.dumps(row) + "\n")
print(f"{data:14s} {solver:10s} p {p:>6s}  test accuracy {last:.4f}  wall {wall} s")
PY
}
for solver in ${SOLVERS:-falkon}; do
  [[ ${REAL:-1} == 0 ]] || run real60k "$solver"  # REAL=0: the augmented rows only
  for shift in ${SHIFTS:-1 2}; do
    t=$(tag "$shift")
    run "aug${n}-$t" "$solver" --data.train_features="x$n-$t.npy" \
      --data.train_labels="y$n-$t.npy"
  done
done
