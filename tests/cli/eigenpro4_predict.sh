#!/usr/bin/env bash
# End to end: train `eigenpro4` (2 epochs) on 6000 random Fashion-MNIST points with p = 600
# centers at 2 ranks, check the model holds p centers, that predictions from it are identical at
# 1, 2 and 4 ranks, and that test accuracy (labels read independently in python) is above 0.80.
source "$(dirname "$0")/common.sh"
run 2 train --solver.name=eigenpro4 --solver.centers=600 --solver.epochs=2 --solver.nystrom_samples=1000 \
  --data.train_features=$FM/train-images-idx3-ubyte.gz \
  --data.train_labels=$FM/train-labels-idx1-ubyte.gz --data.scale=unit --data.limit=6000 \
  --kernel.bandwidth=5 --output.model=model.kmpi --output.metrics=metrics.jsonl
[ -f model.kmpi ] || fail "no model written"
grep -q '"solver": "eigenpro4"' metrics.jsonl || fail "metrics lack the eigenpro4 lines"
run 1 info --model=model.kmpi | grep -q "centers = 600" || fail "the model does not hold 600 centers"
for np in 1 2 4; do
  run $np predict --model=model.kmpi --data.features=$FM/t10k-images-idx3-ubyte.gz \
    --output.predictions=pred$np.txt
done
cmp pred1.txt pred2.txt || fail "predictions differ between 1 and 2 ranks"
cmp pred1.txt pred4.txt || fail "predictions differ between 1 and 4 ranks"
python3 - "$FM/t10k-labels-idx1-ubyte.gz" pred2.txt <<'PY'
import gzip, sys
raw = gzip.open(sys.argv[1]).read()
labels = list(raw[8:])
pred = [int(l) for l in open(sys.argv[2])]
assert len(pred) == len(labels) == 10000, (len(pred), len(labels))
acc = sum(p == l for p, l in zip(pred, labels)) / len(labels)
print(f"eigenpro4, 6000 training points, 600 centers: test accuracy {acc:.4f}")
assert acc > 0.80, acc
PY
echo "eigenpro4_predict: ok"
