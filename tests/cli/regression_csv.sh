#!/usr/bin/env bash
# End to end, regression: CSV features with a header and floating targets (task = regression by
# the element type), standardize scaling stored in the model, the direct solver (ridge ~ 0) at 2
# ranks; predicting the training rows at 1 and 4 ranks reproduces the targets (interpolation),
# which only holds if predict applies the stored scaling. Values at 1 and 4 ranks agree to 1e-12
# relative: the per-rank partial sums are added in a different order (class indices, by contrast,
# are compared byte for byte in direct_predict.sh).
source "$(dirname "$0")/common.sh"
python3 - <<'PY'
import math, random
random.seed(3)
with open("x.csv", "w") as fx, open("y.csv", "w") as fy:
    fx.write("a,b,c\n")
    for i in range(400):
        a, b, c = random.uniform(-50, 50), random.uniform(0, 1), random.uniform(1000, 2000)
        fx.write(f"{a},{b},{c}\n")
        fy.write(f"{math.sin(a / 10) + b * b},{c / 1000 - 1.5}\n")
PY
run 2 train --solver.name=direct --solver.ridge=1e-10 --data.train_features=x.csv \
  --data.train_labels=y.csv --data.scale=standardize --kernel.name=laplacian --kernel.bandwidth=3 \
  --output.model=reg.kmpi --output.metrics=reg.jsonl
grep -q '"train_mse"' reg.jsonl || fail "no train_mse"
for np in 1 4; do
  run $np predict --model=reg.kmpi --data.features=x.csv --output.predictions=p$np.txt
done
python3 - <<'PY'
a = [list(map(float, l.split(","))) for l in open("p1.txt")]
b = [list(map(float, l.split(","))) for l in open("p4.txt")]
assert len(a) == len(b)
worst = max(abs(x - y) / (1 + abs(x)) for r, s in zip(a, b) for x, y in zip(r, s))
print(f"1 vs 4 ranks: largest relative difference {worst:.1e}")
assert worst < 1e-12, worst
PY
python3 - <<'PY'
rows = [list(map(float, l.split(","))) for l in open("y.csv")]
pred = [list(map(float, l.split(","))) for l in open("p1.txt")]
assert len(pred) == len(rows) and all(len(p) == 2 for p in pred), (len(pred), pred[:2])
err = max(abs(a - b) for r, p in zip(rows, pred) for a, b in zip(r, p))
print(f"regression interpolation: max |prediction - target| on the training rows = {err:.2e}")
assert err < 1e-4, err
PY
echo "regression_csv: ok"
