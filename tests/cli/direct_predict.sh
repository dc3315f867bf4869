#!/usr/bin/env bash
# End to end: train `direct` on 5000 random Fashion-MNIST points at 2 ranks, predict the test set,
# check accuracy > 0.83 against the labels read independently (python), and check that predictions
# from the saved model are identical at 1, 2 and 4 ranks.
source "$(dirname "$0")/common.sh"
run 2 train --solver.name=direct --data.train_features=$FM/train-images-idx3-ubyte.gz \
  --data.train_labels=$FM/train-labels-idx1-ubyte.gz --data.scale=unit --data.limit=5000 \
  --kernel.bandwidth=5 --output.model=model.kmpi --output.metrics=metrics.jsonl
[ -f model.kmpi ] || fail "no model written"
grep -q '"event": "done"' metrics.jsonl || fail "metrics lack the done line"
for np in 1 2 4; do
  run $np predict --model=model.kmpi --data.features=$FM/t10k-images-idx3-ubyte.gz \
    --output.predictions=pred$np.txt
done
cmp pred1.txt pred2.txt || fail "predictions differ between 1 and 2 ranks"
cmp pred1.txt pred4.txt || fail "predictions differ between 1 and 4 ranks"
python3 - "$FM/t10k-labels-idx1-ubyte.gz" pred2.txt <<'PY'
import gzip, sys
raw = gzip.open(sys.argv[1]).read()
assert int.from_bytes(raw[:4], "big") == 0x801
labels = list(raw[8:])
pred = [int(l) for l in open(sys.argv[2])]
assert len(pred) == len(labels) == 10000, (len(pred), len(labels))
acc = sum(p == l for p, l in zip(pred, labels)) / len(labels)
print(f"direct, 5000 training points: test accuracy {acc:.4f}")
assert acc > 0.83, acc
PY
run 2 eval --model=model.kmpi --data.features=$FM/t10k-images-idx3-ubyte.gz \
  --data.labels=$FM/t10k-labels-idx1-ubyte.gz --output.metrics=eval.jsonl
grep -q '"test_accuracy"' eval.jsonl || fail "eval metrics lack test_accuracy"
run 1 info --model=model.kmpi | grep -q "centers = 5000" || fail "info does not describe the model"
echo "direct_predict: ok"
