#!/usr/bin/env bash
# End to end: EigenPro 2 with the tiny config at 2 ranks; the metrics file has every field the
# Foundation and EigenPro 2 issues fix, and the accuracy is that of a working model.
source "$(dirname "$0")/common.sh"
run 2 train --config "$SRC/configs/tiny.ini" --output.model=ep2.kmpi --output.metrics=ep2.jsonl
python3 - ep2.jsonl <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
epochs = [l for l in lines if "epoch" in l and "event" not in l]
setup = [l for l in lines if l.get("event") == "setup"]
done = [l for l in lines if l.get("event") == "done"]
assert epochs and setup and done, lines
for e in epochs:
    for k in ("epoch", "elapsed_s", "train_mse", "test_mse", "test_accuracy", "ranks", "epoch_s", "validation_mse"):
        assert k in e, (k, e)
for k in ("batch_size", "step_size", "q", "setup_s", "critical_batch", "beta"):
    assert k in setup[0], (k, setup[0])
assert setup[0]["beta"] == 1
acc = done[0]["test_accuracy"]
print(f"eigenpro2 tiny: test accuracy {acc:.4f}")
assert acc > 0.75, acc
PY
echo "eigenpro2_tiny: ok"
