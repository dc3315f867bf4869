#!/usr/bin/env bash
# LIBSVM and CSV end to end: the same data as LIBSVM, as CSV with a label column, and converted
# to .npy by `kmpi convert` (at 3 ranks) gives the same predictions, trained at 1 and 4 ranks.
# Direct solver on the same numbers, so the predicted classes must be identical and the eval
# accuracies equal.
source "$(dirname "$0")/common.sh"
python3 - <<'PY'
import math
n, d = 90, 6
rows = []
for i in range(n):
    x = [0.0 if (i * 7 + j) % 4 == 0 else round(math.sin(i * 0.37 + j * 1.3), 6) for j in range(d)]
    rows.append((i % 3, x))
with open("train.svm", "w") as f:
    for y, x in rows:
        f.write("%d %s\n" % (y, " ".join("%d:%r" % (j + 1, v) for j, v in enumerate(x) if v != 0)))
with open("train.csv", "w") as f:
    f.write(",".join("f%d" % j for j in range(d)) + ",label\n")
    for y, x in rows:
        f.write(",".join(repr(v) for v in x) + ",%d\n" % y)
PY
common=(--solver.name=direct --kernel.bandwidth=2)
run 1 train --data.train_features=train.svm "${common[@]}" --output.model=svm1.kmpi >/dev/null
run 4 train --data.train_features=train.svm "${common[@]}" --output.model=svm4.kmpi >/dev/null
run 4 train --data.train_features=train.csv --data.label_column=label "${common[@]}" --output.model=csv4.kmpi >/dev/null
run 3 convert --data.features=train.svm --output.data=x.npy --output.labels=y.npy >/dev/null
run 2 train --data.train_features=x.npy --data.train_labels=y.npy "${common[@]}" --output.model=npy2.kmpi >/dev/null
[ -e x.npy.tmp ] && fail "convert left its temporary file"
# --dry-run prints the memory plan and writes nothing.
run 2 train --data.train_features=train.svm "${common[@]}" --output.model=dry.kmpi --dry-run >dry.txt
grep -q "total per rank" dry.txt || fail "no memory plan printed: $(cat dry.txt)"
[ -e dry.kmpi ] && fail "--dry-run wrote a model"
for m in svm1 svm4 csv4 npy2; do
  run 2 eval --model=$m.kmpi --data.features=train.svm --output.metrics=$m.jsonl >/dev/null
  run 1 predict --model=$m.kmpi --data.features=x.npy --output.predictions=$m.pred >/dev/null
done
python3 - <<'PY'
import json
acc = {m: json.loads(open(m + ".jsonl").read().splitlines()[-1])["test_accuracy"] for m in ["svm1", "svm4", "csv4", "npy2"]}
assert len(set(acc.values())) == 1 and min(acc.values()) > 0.5, acc
preds = {m: open(m + ".pred").read() for m in acc}
assert len(set(preds.values())) == 1, "predictions differ between formats / rank counts"
print("text_formats: accuracy", acc, "identical predictions")
PY
