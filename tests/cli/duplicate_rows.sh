#!/usr/bin/env bash
# Duplicate rows train as well as without them, for every solver: 5000 Fashion-MNIST rows, then
# the same rows plus exact copies of 1250 of them (shuffled in), and for falkon also copies with
# 1e-3 pixel noise (near-duplicates). Test accuracy on the 10000 test images must stay within
# 0.01 of the run without copies. (Before the fix falkon reached 0.13-0.6 on such data, with
# exit code 0: exact duplicate centers made K_ZZ singular, near-duplicates stalled its CG.)
source "$(dirname "$0")/common.sh"
/usr/bin/python3 - "$FM" <<'PY'
import gzip, sys, numpy as np
fm = sys.argv[1]
X = np.frombuffer(gzip.open(fm + "/train-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 784)
y = np.frombuffer(gzip.open(fm + "/train-labels-idx1-ubyte.gz").read()[8:], np.uint8).astype(np.int64)
rng = np.random.default_rng(7)
rows = rng.choice(60000, 5000, replace=False)
X, y = X[rows].astype(np.float64), y[rows]
copies = rng.choice(5000, 1250, replace=False)
for name, extra in (("exact", X[copies]), ("near", X[copies] + rng.uniform(0, 1e-3, (1250, 784)))):
    order = rng.permutation(6250)
    np.save(f"x_{name}.npy", np.vstack([X, extra])[order])
    np.save(f"y_{name}.npy", np.concatenate([y, y[copies]])[order])
np.save("x_orig.npy", X)
np.save("y_orig.npy", y)
PY
NP=2
accuracy() {  # solver-args... ; data set name in $DATA, ranks in $NP
  run $NP train --data.train_features=x_$DATA.npy --data.train_labels=y_$DATA.npy \
    --data.test_features=$FM/t10k-images-idx3-ubyte.gz --data.test_labels=$FM/t10k-labels-idx1-ubyte.gz \
    --data.scale=unit --kernel.bandwidth=5 --output.metrics=m.jsonl "$@" > train.log ||
    fail "training failed on $DATA: $(tail -2 train.log)"
  /usr/bin/python3 -c 'import json; print([json.loads(l) for l in open("m.jsonl")][-1]["test_accuracy"])'
}
check() {  # label, data sets..., then -- solver args
  local label=$1; shift
  local sets=()
  while [ "$1" != "--" ]; do sets+=("$1"); shift; done
  shift
  DATA=orig; local base; base=$(accuracy "$@")
  for DATA in "${sets[@]}"; do
    local acc; acc=$(accuracy "$@")
    echo "$label: without copies $base, with $DATA copies $acc"
    /usr/bin/python3 -c "import sys; sys.exit(abs($acc - $base) > 0.01)" ||
      fail "$label on $DATA duplicates: accuracy $acc vs $base without them"
  done
}
check direct exact -- --solver.name=direct --solver.ridge=1e-6
check eigenpro2 exact -- --solver.name=eigenpro2 --solver.epochs=2
check falkon exact near -- --solver.name=falkon --solver.centers=1000 --solver.ridge=1e-6 \
  --solver.iterations=10
check "falkon (float32 factors)" exact near -- --solver.name=falkon --solver.centers=1000 \
  --solver.ridge=1e-6 --solver.iterations=10 --solver.factor_precision=float32
# eigenpro4's exact projection factors K_ZZ + eps I with falkon's jitter rule (repeated centers
# make K_ZZ singular: the factor retries with eps x 100); the EigenPro 2 projection needs none.
check "eigenpro4 (cholesky projection)" exact near -- --solver.name=eigenpro4 \
  --solver.centers=1000 --solver.epochs=2 --solver.projection=cholesky
check "eigenpro4 (eigenpro2 projection)" exact -- --solver.name=eigenpro4 --solver.centers=1000 \
  --solver.epochs=2 --solver.projection=eigenpro2
# Dropping duplicate centers is decided on replicated data: the same at 1 and 4 ranks.
for NP in 1 4; do
  check "falkon ($NP ranks)" exact -- --solver.name=falkon --solver.centers=1000 \
    --solver.ridge=1e-6 --solver.iterations=10
done
echo "duplicate_rows: ok"
