#!/usr/bin/env bash
# RFM benchmark (issue 12), RANKS ranks (default 2) x 1 thread. Needs a Release build in BUILD
# (default build/). Two parts, chosen by PART (default "fmnist synthetic"):
#
#  fmnist     Fashion-MNIST 60000 x 784 (configs/fashion_mnist.ini: Gaussian, bandwidth 5, unit
#             scale), eigenpro2 inside, EPOCHS epochs per fit (default 2), T RFM iterations
#             (default 2), AGOP over SAMPLES rows (default 20000), for each metric in METRICS
#             (default "diagonal full"), rfm.agop_power POWER (default 1) and
#             rfm.center_gradients CENTER (default false); validation 10%. Table: validation and test accuracy per
#             RFM iteration (iteration 0 = the plain kernel), fit and AGOP seconds, the AGOP's time
#             against one epoch of the same run.
#  synthetic  y = f(x) + noise on x uniform in [-1, 1]^d: "sparse" f = x_0^2 + 0.5 x_1 and
#             "lowrank" f = sin(2 w_1.x) + (w_2.x)^2 (w_1, w_2 random unit vectors), for each d in
#             DIMS (default "50 200") and n in SIZES (default "10000"), SOLVER inside (default
#             eigenpro2; direct for n <= 20000 is also sensible), Laplacian bandwidth 10 on
#             standardized features. Table: test mse plain (iteration 0) vs RFM (returned model), and
#             the largest principal angle between the top-k eigenvectors of the learned M and the
#             true subspace (k = 2).
#
# Figures go to stdout and, as JSON lines, to $1 (default rfm_bench.jsonl).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-rfm_bench.jsonl}")
ranks=${RANKS:-2}
part=${PART:-fmnist synthetic}
epochs=${EPOCHS:-2}
iterations=${T:-2}
samples=${SAMPLES:-20000}
metrics=${METRICS:-diagonal full}
dims=${DIMS:-50 200}
sizes=${SIZES:-10000}
solver=${SOLVER:-eigenpro2}
power=${POWER:-1}        # rfm.agop_power (fmnist part)
center=${CENTER:-false}  # rfm.center_gradients (fmnist part)
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
py=/usr/bin/python3
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi >/dev/null
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
: > "$out"

for p in $part; do
  if [ "$p" = fmnist ]; then
    for m in $metrics; do
      mpirun -np "$ranks" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" \
        --solver.name=eigenpro2 --solver.epochs="$epochs" --data.validation_fraction=0.1 \
        --rfm.iterations="$iterations" --rfm.metric="$m" --rfm.agop_samples="$samples" \
        --rfm.agop_power="$power" --rfm.center_gradients="$center" \
        --output.metrics=fmnist_$m.jsonl --output.model=fmnist_$m.kmpi
      $py - fmnist_$m.jsonl "$m" "$out" <<'PY'
import json, sys
path, metric, out = sys.argv[1:]
lines = [json.loads(l) for l in open(path)]
epochs = [l for l in lines if "epoch" in l and "event" not in l]
epoch_s = sum(e["epoch_s"] for e in epochs) / len(epochs)
print(f"Fashion-MNIST 60000, eigenpro2, {metric} metric: mean epoch {epoch_s:.1f} s")
print(f"{'iter':>4} {'val acc':>8} {'test acc':>8} {'fit_s':>7} {'agop_s':>7} {'agop/epoch':>10}")
with open(out, "a") as f:
    for l in (l for l in lines if l.get("event") == "rfm"):
        ratio = l["agop_s"] / epoch_s
        print(f"{l['iteration']:>4.0f} {l['validation_accuracy']:>8.4f} {l['test_accuracy']:>8.4f} "
              f"{l['fit_s']:>7.1f} {l['agop_s']:>7.1f} {ratio:>10.2f}")
        f.write(json.dumps({"bench": "fmnist", "metric": metric, "epoch_s": epoch_s, **l}) + "\n")
sel = next(l for l in lines if l.get("event") == "rfm_selected")
done = next(l for l in lines if l.get("event") == "done")
print(f"selected iteration {sel['iteration']:.0f}: test accuracy {done['test_accuracy']:.4f}")
PY
    done
  fi
  if [ "$p" = synthetic ]; then
    for d in $dims; do
      for n in $sizes; do
        for target in sparse lowrank; do
          $py - "$n" "$d" "$target" <<'PY'
import sys, numpy as np
n, d, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(7)
w = np.linalg.qr(rng.standard_normal((d, 2)))[0].T  # two orthonormal directions
def f(x):
    if target == "sparse":
        return x[:, 0] ** 2 + 0.5 * x[:, 1]
    return np.sin(2 * x @ w[0]) + (x @ w[1]) ** 2
basis = np.eye(d)[:2] if target == "sparse" else w
for name, rows, noise in (("train", n, 0.05), ("test", 5000, 0.0)):
    x = rng.uniform(-1, 1, (rows, d))
    y = f(x) + noise * rng.standard_normal(rows)
    np.save(f"{name}_x.npy", x); np.save(f"{name}_y.npy", y)
np.save("basis.npy", basis)
PY
          mpirun -np "$ranks" "$build/kmpi" train --data.train_features=train_x.npy \
            --data.train_labels=train_y.npy --data.test_features=test_x.npy \
            --data.test_labels=test_y.npy --data.task=regression --data.scale=standardize \
            --data.validation_fraction=0.1 --kernel.name=laplacian --kernel.bandwidth=10 \
            --solver.name="$solver" --solver.epochs="$epochs" --solver.ridge="$(
              $py -c "print(1e-3 / $n)")" --rfm.iterations="$iterations" --rfm.metric=full \
            --rfm.agop_samples="$samples" --output.metrics=syn.jsonl --output.metric_matrix=m.npy \
            > syn.log
          $py - syn.jsonl m.npy basis.npy "$n" "$d" "$target" "$solver" "$out" <<'PY'
import json, sys, numpy as np
path, mpath, bpath, n, d, target, solver, out = sys.argv[1:]
lines = [json.loads(l) for l in open(path)]
its = [l for l in lines if l.get("event") == "rfm"]
done = next(l for l in lines if l.get("event") == "done")
m, basis = np.load(mpath), np.load(bpath)
vals, vecs = np.linalg.eigh(m)
top = vecs[:, ::-1][:, :2]
# Principal angles between span(top) and span(basis^T): singular values of basis @ top.
cosines = np.linalg.svd(basis @ top, compute_uv=False)
angle = float(np.degrees(np.arccos(np.clip(cosines.min(), -1, 1))))
row = {"bench": "synthetic", "target": target, "n": int(n), "d": int(d), "solver": solver,
       "plain_test_mse": its[0]["test_mse"], "rfm_test_mse": done["test_mse"],
       "largest_angle_deg": angle, "fit_s": [l["fit_s"] for l in its],
       "agop_s": [l["agop_s"] for l in its]}
print(f"{target:>8} n={n:>7} d={d:>4} {solver}: test mse plain {row['plain_test_mse']:.5f} "
      f"rfm {row['rfm_test_mse']:.5f} (x{row['rfm_test_mse'] / row['plain_test_mse']:.2f}), "
      f"largest principal angle {angle:.1f} deg")
open(out, "a").write(json.dumps(row) + "\n")
PY
        done
      done
    done
  fi
done
echo "written $out"
