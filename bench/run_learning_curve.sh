#!/usr/bin/env bash
# Learning curve of issue 16: eigenpro4 test accuracy on the 10000 real Fashion-MNIST test images
# for n = the 60000 real rows and NS (default 200000 1000000) rows of augmented Fashion-MNIST
# (bench/augment_fmnist.cpp, the 60000 originals first, then AUGMENT = "--shift 2 --step 0.25":
# nonzero sub-pixel translations of 0.25 and 0.5 pixel, elastic 0), at PS (default 10000 20000 50000)
# centers, 2 ranks x 1 thread. Epochs: EPOCHS_SMALL (default 2) for n < 1e6, EPOCHS_LARGE
# (default 1) for n = 1e6: one 1M x 50000 epoch is ~25 min on the 2-core machine.
# Appends one JSON row per (n, p) to OUT (default WORKDIR/learning_curve.jsonl) with the test
# accuracy after every epoch and the elapsed seconds, and skips a pair already in OUT (a killed
# run resumes where it stopped). FACTOR (default float64) is solver.factor_precision: float32
# stores the exact projection's factor in half the memory (rows carry a "factor" field). Then
# plots: bench/plot_learning_curve.py OUT PLOT. EXTRA: further kmpi train arguments (e.g.
# --run.memory_limit=10G where the plan's upper bound is above the machine's auto limit).
# REAL=0 skips the n = 60000 row (only NS). Rows carry the run's q and batch size.
#
#   BUILD=build-test bash bench/run_learning_curve.sh [WORKDIR]   (default: new dir under /tmp)
#
# Disk: 0.8 GB per million generated rows; memory: the plan printed by kmpi train --dry-run.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(realpath -m "${1:-$(mktemp -d /tmp/kmpi_curve.XXXXXX)}")
ranks=${RANKS:-2}
build=$(realpath -m "${BUILD:-$root/build}")
augment=${AUGMENT:---shift 2 --step 0.25}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi kmpi_augment_fmnist > /dev/null
source "$root/scripts/mpi_env.sh"
mkdir -p "$work"
cd "$work"
out=${OUT:-$work/learning_curve.jsonl}
touch "$out"
echo "working in $work, results in $out"
real=60000
((${REAL:-1})) || real=
for n in $real ${NS:-200000 1000000}; do
  for p in ${PS:-10000 20000 50000}; do
    factor=${FACTOR:-float64}
    done=$(grep "\"n\": $n, \"p\": $p," "$out" | grep -c "\"factor\": \"$factor\"" || true)
    # Rows from before FACTOR have no factor field: float64.
    [[ $factor != float64 ]] || done=$((done + $(grep "\"n\": $n, \"p\": $p," "$out" |
      grep -vc '"factor"' || true)))
    ((done == 0)) || continue
    data=()
    if ((n > 60000)); then
      # shellcheck disable=SC2086  # $augment is a list of generator options
      [[ -f x$n.npy ]] || "$build/bench/kmpi_augment_fmnist" --n "$n" $augment \
        --out-x "x$n.npy" --out-y "y$n.npy"
      data=(--data.train_features="x$n.npy" --data.train_labels="y$n.npy")
    fi
    epochs=${EPOCHS_SMALL:-2}
    ((n < 1000000)) || epochs=${EPOCHS_LARGE:-1}
    factor=${FACTOR:-float64}
    tag=n$n-p$p
    [[ $factor == float64 ]] || tag=$tag-$factor
    rm -f "m-$tag.jsonl"
    # shellcheck disable=SC2086  # $EXTRA is a list of arguments
    mpirun -np "$ranks" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" "${data[@]}" \
      --solver.name=eigenpro4 --solver.centers="$p" --solver.epochs="$epochs" \
      --solver.factor_precision="$factor" ${EXTRA:-} \
      --output.model="m-$tag.kmpi" --output.metrics="m-$tag.jsonl" > "log-$tag.txt" 2>&1 ||
      { tail -20 "log-$tag.txt"; exit 1; }
    /usr/bin/python3 - "$n" "$p" "m-$tag.jsonl" "$out" "$augment" "$factor" << 'PY'
import json, sys
n, p, path, out, augment, factor = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
epochs = [r for r in rows if "epoch" in r and "event" not in r]
setup = next(r for r in rows if r.get("event") == "setup")
row = {"n": int(n), "p": int(p), "solver": "eigenpro4",
       "data": "real" if int(n) == 60000 else "augmented " + augment,
       "projection": setup.get("projection", ""), "factor": factor,
       "setup_s": round(setup.get("setup_s", setup.get("elapsed_s", 0)), 1),
       "q": setup.get("q"), "batch_size": setup.get("batch_size"),
       "projection_residual": [e.get("projection_residual") for e in epochs],
       "test_accuracy": [e["test_accuracy"] for e in epochs],
       "elapsed_s": [round(e["elapsed_s"], 1) for e in epochs],
       "train_mse": [e["train_mse"] for e in epochs],
       "peak_rss_mb_max": max(e["peak_rss_mb_max"] for e in epochs)}
open(out, "a").write(json.dumps(row) + "\n")
print(f"n {n:>7s} p {p:>6s}: test accuracy " +
      " ".join(f"{a:.4f}" for a in row["test_accuracy"]) + f" after {row['elapsed_s'][-1]:.0f} s")
PY
  done
done
