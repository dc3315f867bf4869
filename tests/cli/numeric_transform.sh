#!/usr/bin/env bash
# data.numeric_transform = quantile and tune.numeric_transforms (issue 27), at 1, 2 and 4 ranks,
# on a table whose target depends on the log of a heavy-tailed column:
#  - `kmpi tune --tune.numeric_transforms=none,quantile`: the score it logs for each value equals
#    the validation score of `kmpi tune` run with that value alone, it keeps the lower one, its
#    selected config names that value, and its model is the one `kmpi train --config` of the
#    selected config writes (byte for byte); the same choice and config at every rank count, and
#    the same model bytes but the weights (the direct solve's rounding depends on the grid);
#  - predict on the raw test CSV applies the stored knots (the same predictions at every rank
#    count, to the direct solve's rounding);
#  - refusals, one line each: a bad value, the transform on a file that is not a table, several
#    values with run.checkpoint_dir.
source "$(dirname "$0")/common.sh"
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(3)
def rows(n):
    x = rng.lognormal(0, 2, n)  # spans six orders of magnitude
    z = rng.uniform(-1, 1, n)
    k = rng.integers(0, 4, n)
    y = np.log(x) + z + 0.05 * rng.standard_normal(n)
    return x, z, k, y
for name, n in (("train", 300), ("val", 100), ("test", 80)):
    x, z, k, y = rows(n)
    with open(f"{name}.csv", "w") as f:
        f.write("x,z,k,y\n")
        for i in range(n):
            f.write(f"{x[i]!r},{z[i]!r},{'' if i % 9 == 4 else int(k[i])},{y[i]!r}\n")
    np.save(f"{name}.npy", np.stack([x, z], axis=1))
    np.save(f"{name}_y.npy", y.reshape(-1, 1))
PY
printf '%s\n' "[data]" "train_features = train.csv" "label_column = y" "task = regression" \
  "validation_features = val.csv" "scale = standardize" "[kernel]" "name = laplacian" \
  "[solver]" "name = direct" "precision = float64" "[tune]" "bandwidths = 1,4" \
  "ridges = 1e-6,1e-3" > nt.ini

# The validation mse the log reports for the selected point of a one-value tune.
selected_mse() { sed -n 's/^tune: selected .*(validation mse \([^)]*\)).*/\1/p' "$1"; }

for value in none quantile; do
  run 1 tune --config nt.ini --data.numeric_transform=$value > alone-$value.log
done
for np in 1 2 4; do
  run $np tune --config nt.ini --tune.numeric_transforms=none,quantile \
    --tune.selected_config=sel$np.ini --output.model=m$np.kmpi > both$np.log
  line=$(grep '^tune.numeric_transforms: selected-point scores' both$np.log) ||
    fail "$np ranks: no scores line"
  # The scores of each value are those of the tune of that value alone (%f in the line).
  for value in none quantile; do
    alone=$(selected_mse alone-$value.log)
    got=$(echo "$line" | sed -n "s/.* $value \([0-9.e+-]*\)[,:].*/\1/p")
    python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); \
assert abs(a - b) <= 1e-6 * max(1, abs(a)), (a, b)" "$alone" "$got" ||
      fail "$np ranks: $value scored $got here, $alone alone"
  done
  none=$(selected_mse alone-none.log)
  quantile=$(selected_mse alone-quantile.log)
  want=$(python3 -c "import sys; print('quantile' if float(sys.argv[2]) < float(sys.argv[1]) \
else 'none')" "$none" "$quantile")
  grep -q "data.numeric_transform = $want; training" both$np.log ||
    fail "$np ranks: kept the other value (none $none, quantile $quantile)"
  grep -qx "numeric_transform = $want" sel$np.ini || fail "$np ranks: config lacks the value"
  if grep -q '^\[tune\]' sel$np.ini; then fail "$np ranks: tune options in the config"; fi
  run $np train --config sel$np.ini --output.model=again$np.kmpi > again$np.log
  cmp m$np.kmpi again$np.kmpi || fail "$np ranks: the tuned model is not the selected config's"
  cmp sel1.ini sel$np.ini || fail "$np ranks: another selected config than at 1 rank"
  # Everything before the weights (300 x 1 f64) and the CRC: header, scaling, the table section
  # (knots, means) and the centers, the same bytes as at 1 rank.
  head=$(( $(stat -c %s m1.kmpi) - 300 * 8 - 4 ))
  cmp -n $head m1.kmpi m$np.kmpi || fail "$np ranks: the model before its weights differs"
  # The test table as new data comes: without its target, the columns in another order.
  awk -F, -v OFS=, '{ print $3, $1, $2 }' test.csv > raw.csv
  run $np predict --model=m$np.kmpi --data.features=raw.csv \
    --output.predictions=p$np.csv > /dev/null
  # The direct solve's rounding depends on the process grid: the same to 1e-8.
  python3 -c "import sys; a = [float(l) for l in open(sys.argv[1])]; \
b = [float(l) for l in open(sys.argv[2])]; assert len(a) == len(b) and \
max(abs(x - y) for x, y in zip(a, b)) <= 1e-8 * max(map(abs, a)), 'differ'" p1.csv p$np.csv ||
    fail "$np ranks: other predictions than at 1 rank"
done
# This data is made for the quantile map (y depends on log x): it wins here.
grep -qx "numeric_transform = quantile" sel1.ini || fail "quantile did not win on log-shaped data"
# Predictions on the raw test CSV against its targets: well below the target's variance.
python3 - <<'PY' || fail "quantile model does not predict the test table"
import csv
y = [float(r["y"]) for r in csv.DictReader(open("test.csv"))]
p = [float(l) for l in open("p1.csv")]
m = sum(y) / len(y)
mse = sum((a - b) ** 2 for a, b in zip(p, y)) / len(y)
var = sum((a - m) ** 2 for a in y) / len(y)
print(f"test mse {mse:.4f}, target variance {var:.4f}")
assert mse < 0.25 * var, (mse, var)
PY

# Refusals: one line, exit 1.
expect_refusal() {
  local want=$1; shift
  if run 2 "$@" > refused.log 2>&1; then fail "accepted: $*"; fi
  grep -q "$want" refused.log || { cat refused.log; fail "no '$want' for: $*"; }
}
expect_refusal "tune.numeric_transforms: 'log' is not a value" \
  tune --config nt.ini --tune.numeric_transforms=none,log
expect_refusal "train.npy: data.numeric_transform = quantile needs a table" \
  train --data.train_features=train.npy --data.train_labels=train_y.npy \
  --data.numeric_transform=quantile
mkdir -p ck
expect_refusal "leave run.checkpoint_dir empty" \
  tune --config nt.ini --tune.numeric_transforms=none,quantile --run.checkpoint_dir=ck
echo "numeric_transform: ok"
