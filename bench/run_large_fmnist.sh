#!/usr/bin/env bash
# Large-model benchmark of the EigenPro 4 / Falkon issue: Fashion-MNIST 60000 x 784, Gaussian
# bandwidth 5, RANKS ranks (default 2) x 1 thread; for each p in CENTERS (default "10000") trains
# falkon (ITERATIONS CG iterations, default 20, ridge RIDGE, default 1e-6) and eigenpro4 (EPOCHS
# epochs, default 3) and prints one table: setup and training seconds, test accuracy (per epoch for
# eigenpro4), peak memory per rank. Figures are also written as JSON to $1 (default
# large_fmnist.json). Needs a Release build in BUILD (default build/). PROJECTION sets eigenpro4's
# solver.projection (default auto).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-large_fmnist.json}")
ranks=${RANKS:-2}
centers=${CENTERS:-10000}
epochs=${EPOCHS:-3}
iterations=${ITERATIONS:-20}
ridge=${RIDGE:-1e-6}
projection=${PROJECTION:-auto}  # eigenpro4's solver.projection: auto | cholesky | eigenpro2
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi >/dev/null
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for p in $centers; do
  mpirun -np "$ranks" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" \
    --solver.name=falkon --solver.centers="$p" --solver.iterations="$iterations" \
    --solver.ridge="$ridge" --output.model=falkon$p.kmpi --output.metrics=falkon_$p.jsonl
  mpirun -np "$ranks" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" \
    --solver.name=eigenpro4 --solver.centers="$p" --solver.epochs="$epochs" \
    --solver.projection="$projection" \
    --output.model=ep4_$p.kmpi --output.metrics=eigenpro4_$p.jsonl
done
python3 - "$out" "$ranks" $centers <<'PY'
import json, sys
out, ranks, centers = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = []
print(f"Fashion-MNIST 60000 x 784, Gaussian bandwidth 5, {ranks} ranks x 1 thread")
print(f"{'solver':>10} {'p':>6} {'epoch':>5} {'setup_s':>8} {'elapsed_s':>9} {'test acc':>9} {'peak MiB/rank':>14}")
for p in centers:
    for solver, name in (("falkon", f"falkon_{p}.jsonl"), ("eigenpro4", f"eigenpro4_{p}.jsonl")):
        lines = [json.loads(l) for l in open(name)]
        setup = next(l for l in lines if l.get("event") == "setup")
        for e in (l for l in lines if "epoch" in l and "event" not in l):
            row = {"solver": solver, "centers": int(p), "epoch": e["epoch"],
                   "setup_s": setup["setup_s"], "elapsed_s": e["elapsed_s"],
                   "test_accuracy": e.get("test_accuracy"), "peak_rss_mb_max": e.get("peak_rss_mb_max"),
                   "iterations": e.get("iterations"), "epoch_s": e.get("epoch_s")}
            rows.append(row)
            print(f"{solver:>10} {p:>6} {row['epoch']:>5.0f} {row['setup_s']:>8.2f} {row['elapsed_s']:>9.2f} "
                  f"{row['test_accuracy']:>9.4f} {row['peak_rss_mb_max'] or 0:>14.0f}")
json.dump({"ranks": ranks, "rows": rows}, open(out, "w"), indent=1)
print(f"written {out}")
PY
