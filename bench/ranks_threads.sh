#!/usr/bin/env bash
# Strong scaling and ranks x threads on this machine (DESIGN §2 "Threads"): one EigenPro 2 epoch on
# N (default 30000) Fashion-MNIST points at 1 rank x 1 thread, 2 ranks x 1 thread, 1 rank x 2
# OpenBLAS threads (the hybrid mode) and 4 ranks x 1 thread (oversubscribed on 2 cores, reported as
# such). Fixed batch and q so every run does the same arithmetic. Prints epoch seconds, speed-up
# over 1 x 1 and bytes per step; writes JSON to $1 (default ranks_threads.json).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-ranks_threads.json}")
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
n=${N:-30000}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi >/dev/null
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
run() {  # label ranks threads
  local fm=/usr/share/datasets/fashion-mnist
  OPENBLAS_NUM_THREADS=$3 mpirun -np "$2" "$build/kmpi" train \
    --data.train_features=$fm/train-images-idx3-ubyte.gz --data.train_labels=$fm/train-labels-idx1-ubyte.gz \
    --data.scale=unit --kernel.bandwidth=5 --data.limit="$n" --solver.epochs=2 \
    --solver.batch_size=2000 --solver.preconditioner_level=300 --output.metrics="$1.jsonl" >/dev/null
}
run r1t1 1 1
run r2t1 2 1
run r1t2 1 2
run r4t1 4 1
python3 - "$out" "$n" <<'PY'
import json, sys
rows = []
for label, ranks, threads, note in [("r1t1", 1, 1, ""), ("r2t1", 2, 1, ""), ("r1t2", 1, 2, "hybrid"),
                                    ("r4t1", 4, 1, "oversubscribed: 4 ranks on 2 cores")]:
    epochs = [json.loads(l) for l in open(f"{label}.jsonl") if '"epoch_s"' in l]
    best = min(e["epoch_s"] for e in epochs)
    rows.append(dict(ranks=ranks, threads=threads, epoch_s=best, bytes_per_step=epochs[-1]["bytes_per_step"], note=note))
base = rows[0]["epoch_s"]
print(f"EigenPro 2, one epoch on {sys.argv[2]} Fashion-MNIST points (batch 2000, q 300), best of 2 epochs")
print(f"{'ranks':>5} {'threads':>7} {'epoch s':>8} {'speed-up':>9} {'bytes/step/rank':>16}  note")
for r in rows:
    r["speedup"] = base / r["epoch_s"]
    print(f"{r['ranks']:>5} {r['threads']:>7} {r['epoch_s']:>8.2f} {r['speedup']:>9.2f} {r['bytes_per_step']:>16.0f}  {r['note']}")
json.dump(rows, open(sys.argv[1], "w"), indent=1)
PY
