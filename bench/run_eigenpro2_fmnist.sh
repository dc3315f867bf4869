#!/usr/bin/env bash
# EigenPro 2 benchmark of the EigenPro 2 issue (DESIGN §5): Fashion-MNIST 60000 x 784, Gaussian
# bandwidth 5, RANKS ranks (default 2) x 1 thread, EPOCHS epochs (default 5). In one run it measures
# the float32 GEMM rate R of the whole machine (all ranks at once, the step's shape), trains, and
# prints one table (and writes the same figures as JSON to $1, default eigenpro2_fmnist.json):
# test accuracy per epoch, seconds per epoch against the floor 2 n^2 (d + c) / R, setup time as a
# share of an epoch, peak memory per rank (from the OS) and bytes sent per step per rank (counted
# by the MPI layer). Needs a Release build in build/ (scripts/run_main.sh makes one).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-eigenpro2_fmnist.json}")
ranks=${RANKS:-2}
epochs=${EPOCHS:-5}
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi kmpi_bench_gemm_rate >/dev/null
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpirun -np "$ranks" "$build/bench/kmpi_bench_gemm_rate" 5 float32 2000 4096 784 > "$work/gemm.json"
cd "$work"
mpirun -np "$ranks" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" \
  --solver.epochs="$epochs" --output.model=model.kmpi --output.metrics=metrics.jsonl "${@:2}"
python3 - "$work/gemm.json" "$work/metrics.jsonl" "$out" "$ranks" <<'PY'
import json, sys, platform, os
gemm = json.load(open(sys.argv[1]))
lines = [json.loads(l) for l in open(sys.argv[2])]
setup = next(l for l in lines if l.get("event") == "setup")
epochs = [l for l in lines if "epoch" in l and "event" not in l]
n, d, c = 60000, 784, 10
R = gemm["gflops_total"] * 1e9
floor = 2 * n * n * (d + c) / R
rows = []
print(f"EigenPro 2, Fashion-MNIST {n} x {d}, Gaussian bandwidth 5, {sys.argv[4]} ranks x 1 thread")
print(f"float32 GEMM rate of the machine R = {gemm['gflops_total']:.1f} GFLOP/s (all ranks at once); "
      f"epoch floor 2 n^2 (d + c) / R = {floor:.2f} s")
print(f"setup (Nystrom s = {setup['nystrom_samples']:.0f}, q = {setup['q']:.0f}, batch {setup['batch_size']:.0f}): "
      f"{setup['setup_s']:.2f} s")
print(f"{'epoch':>5} {'epoch_s':>8} {'x floor':>8} {'test acc':>9} {'test mse':>9} {'setup/epoch':>12} {'peak MiB/rank':>14} {'bytes/step/rank':>16}")
for e in epochs:
    row = {"epoch": e["epoch"], "epoch_s": e["epoch_s"], "over_floor": e["epoch_s"] / floor,
           "test_accuracy": e.get("test_accuracy"), "test_mse": e.get("test_mse"),
           "setup_share": setup["setup_s"] / e["epoch_s"], "peak_rss_mb_max": e.get("peak_rss_mb_max"),
           "bytes_per_step": e.get("bytes_per_step")}
    rows.append(row)
    print(f"{row['epoch']:>5.0f} {row['epoch_s']:>8.2f} {row['over_floor']:>8.3f} {row['test_accuracy']:>9.4f} "
          f"{row['test_mse']:>9.5f} {row['setup_share']:>12.3f} {row['peak_rss_mb_max']:>14.0f} {row['bytes_per_step']:>16.0f}")
result = {"machine": platform.node(), "cpus": os.cpu_count(), "ranks": int(sys.argv[4]), "gemm": gemm,
          "floor_s": floor, "setup": setup, "epochs": rows}
json.dump(result, open(sys.argv[3], "w"), indent=1)
print(f"written {sys.argv[3]}")
PY
