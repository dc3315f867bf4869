#!/usr/bin/env bash
# Tables (issue 27 §1): a CSV with a header, categorical text columns, missing values (empty, NA,
# ?) and text class labels. Train once, then: predictions identical at 1, 2 and 4 ranks and on the
# same table with its columns permuted and the label column dropped; the class names written by
# predict; the categories the same when training at 1 and 4 ranks; an independent pandas/numpy
# encoder plus kernel ridge regression agreeing with a direct-solver model trained on the raw
# table; unseen categories counted; and the bad-input lines (exit 1, one line naming the file,
# column and line, at 1 and 4 ranks, no hang).
source "$(dirname "$0")/common.sh"
PY3=/usr/bin/python3
"$PY3" -c "import pandas, numpy" 2>/dev/null || { echo "table: needs python3 with pandas"; exit 77; }
python3 - <<'PY'
import random
random.seed(5)
def table(n, target, unseen=False):
    rows = []
    for i in range(n):
        age = "" if i % 7 == 3 else f"{random.uniform(20, 60):.2f}"
        color = "" if i % 11 == 5 else random.choice(["red", "green", "blue"])
        size = "NA" if i % 13 == 4 else str(random.randint(1, 5))
        city = "?" if i % 17 == 9 else random.choice(["Paris", "Rome", "Oslo"])
        if unseen and i % 10 == 0: city = "Berlin"
        income = f"{random.gauss(50, 10):.3f}"
        a = float(age) if age else 40.0
        if target == "class":
            y = "yes" if (color == "red") ^ (a > 40) else "no"
        else:
            y = f"{a / 20 + (color == 'blue') - 0.5 * (city == 'Rome') + 0.1 * float(income) / 10:.6f}"
        rows.append([age, color, size, city, income, y])
    return rows
def write(path, header, rows, order=None):
    order = order or list(range(len(header)))
    with open(path, "w") as f:
        f.write(",".join(header[k] for k in order) + "\n")
        for r in rows: f.write(",".join(r[k] for k in order) + "\n")
cls = table(120, "class")
write("cls.csv", ["age", "color", "size", "city", "income", "label"], cls)
# The same rows, columns permuted, the label column dropped.
write("perm.csv", ["age", "color", "size", "city", "income", "label"], cls, [4, 3, 0, 2, 1])
write("reg.csv", ["age", "color", "size", "city", "income", "y"], table(100, "reg"))
write("reg_test.csv", ["age", "color", "size", "city", "income", "y"], table(30, "reg", True))
h = ["age", "color", "size", "city", "income", "label"]
# Missing values written as "-": data.missing_values at training, stored in the model.
dash = [r[:] for r in cls]
for r in dash[::9]: r[0] = "-"
write("dash.csv", h, dash)
# Bad inputs.
write("no_color.csv", h, cls, [0, 2, 3, 4, 5])
numeric = [r[:] for r in cls]; numeric[20][1] = "3"
write("color_numeric.csv", h, numeric)
word = [r[:] for r in cls]; word[30][0] = "old"
write("age_word.csv", h, word)
maybe = [r[:] for r in cls]; maybe[40][5] = "maybe"
write("label_unseen.csv", h, maybe)
empty = [r[:] + ["NA" if i % 2 else ""] for i, r in enumerate(cls)]
write("all_missing.csv", h + ["blank"], empty, [0, 1, 2, 3, 4, 6, 5])
PY

common=(--solver.name=direct --solver.ridge=1e-3 --kernel.name=gaussian --kernel.bandwidth=3
        --data.scale=standardize)
run 2 train "${common[@]}" --data.train_features=cls.csv --output.model=cls.kmpi > train2.log
grep -q "table: 5 columns (2 categorical, 6 categories one-hot" train2.log || fail "train log: $(cat train2.log)"
for np in 1 2 4; do
  run $np predict --model=cls.kmpi --data.features=cls.csv --output.predictions=p$np.txt >/dev/null
done
cmp p1.txt p2.txt && cmp p1.txt p4.txt || fail "predictions differ between 1, 2 and 4 ranks"
run 2 predict --model=cls.kmpi --data.features=perm.csv --output.predictions=perm.txt >/dev/null
cmp p1.txt perm.txt || fail "predictions on the permuted columns differ"
[ "$(sort -u p1.txt | tr '\n' ' ')" = "no yes " ] || fail "predict does not write the class names: $(sort -u p1.txt)"
run 2 eval --model=cls.kmpi --data.features=cls.csv | grep -q "accuracy" || fail "eval on names"
# An xRFM tree on the table (2 leaves of 60 rows): the encoding travels in its leaves' files, so
# predict encodes the raw (and permuted) table by column name and writes the class names, at 1
# and 4 ranks alike.
run 2 train "${common[@]}" --data.train_features=cls.csv --data.validation_fraction=0.25 \
  --rfm.iterations=1 --rfm.leaf_size=60 --output.model=tree.kmpi > tree.log
grep -q "tree: 2 leaves" tree.log || fail "table tree: $(cat tree.log)"
for np in 1 4; do
  run $np predict --model=tree.kmpi --data.features=perm.csv --output.predictions=tree$np.txt >/dev/null
done
run 2 predict --model=tree.kmpi --data.features=cls.csv --output.predictions=tree.txt >/dev/null
cmp tree.txt tree1.txt && cmp tree.txt tree4.txt || fail "table tree: predictions differ"
[ "$(sort -u tree.txt | tr '\n' ' ')" = "no yes " ] || fail "table tree: not the class names"
run 1 info --model=cls.kmpi > info2.txt
grep -q "color: categorical, 3 categories (one-hot): blue, green, red" info2.txt || fail "info: $(cat info2.txt)"
grep -q "label label: class names no, yes" info2.txt || fail "info labels: $(cat info2.txt)"
# Categories agreed over ranks: training at 1 and 4 ranks gives the same encoding.
for np in 1 4; do
  run $np train "${common[@]}" --data.train_features=cls.csv --output.model=cls$np.kmpi >/dev/null
  run 1 info --model=cls$np.kmpi | grep -E "categorical|class names" > cats$np.txt
done
diff cats1.txt cats4.txt || fail "the categories differ between 1 and 4 training ranks"
grep -E "categorical|class names" info2.txt | diff - cats1.txt || fail "categories differ from 2 ranks"

# Regression against an independent encoder (pandas) and kernel ridge regression (numpy).
run 2 train "${common[@]}" --data.train_features=reg.csv --data.missing_indicators=true \
  --output.model=reg.kmpi >/dev/null
run 4 predict --model=reg.kmpi --data.features=reg_test.csv --output.predictions=reg_pred.txt \
  > reg_predict.log
grep -q "reg_test.csv: 3 values of categories unseen in training, encoded as all zeros (city: 3)" \
  reg_predict.log || fail "unseen categories not counted: $(cat reg_predict.log)"
"$PY3" - <<'PY'
import numpy as np, pandas as pd
na = ["", "NA", "NaN", "?"]
def read(path): return pd.read_csv(path, keep_default_na=False, na_values=na)
train, test = read("reg.csv"), read("reg_test.csv")
y = train.pop("y").to_numpy(); test.pop("y")
def encode(df):
    parts = []
    for c in train.columns:
        if train[c].dtype == object:  # categorical: one-hot over the training categories, sorted
            cats = sorted(train[c].dropna().unique())
            parts += [(df[c] == k).astype(float).to_numpy() for k in cats]
        else:  # numeric: the training mean for a missing value, standardized; an indicator
            mean = train[c].mean()
            v = df[c].astype(float).fillna(mean).to_numpy()
            t = train[c].astype(float).fillna(mean).to_numpy()
            parts.append((v - t.mean()) / t.std())
            if train[c].isna().any(): parts.append(df[c].isna().astype(float).to_numpy())
    return np.stack(parts, axis=1)
X, Xt = encode(train), encode(test)
def gauss(A, B, s=3.0):
    d2 = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
    return np.exp(-np.maximum(d2, 0) / (2 * s * s))
n = len(X)
alpha = np.linalg.solve(gauss(X, X) + 1e-3 * n * np.eye(n), y)
ref = gauss(Xt, X) @ alpha
got = np.loadtxt("reg_pred.txt")
err = np.abs(got - ref).max() / np.abs(ref).max()
print(f"table: kmpi vs pandas + numpy KRR, max relative difference {err:.2e} (d = {X.shape[1]})")
assert X.shape[1] == 11, X.shape  # age + indicator, 3 colors, size + indicator, 3 cities, income
assert err < 1e-6, err
PY

# The missing-value tokens of training are the model's: predict needs no data.missing_values.
run 2 train "${common[@]}" --data.train_features=dash.csv --data.missing_values=empty,NA,- \
  --output.model=dash.kmpi | grep -q "table: 5 columns (2 categorical" || fail "'-' is not missing"
run 2 predict --model=dash.kmpi --data.features=dash.csv --output.predictions=dash.txt >/dev/null
run 1 info --model=dash.kmpi | grep -q "missing values: (empty) NA -" || fail "info: missing tokens"

# Bad input: exit code 1, one stderr line naming the file, column and line; no output left.
check_case() {  # np, pattern, args...
  local np=$1 pattern=$2; shift 2
  rm -f out.* pred.txt*
  set +e
  timeout 60 mpirun -q -np "$np" "$KMPI" "$@" --output.model=out.kmpi \
    --output.predictions=pred.txt >stdout.txt 2>stderr.txt
  local rc=$?
  set -e
  [ $rc -eq 1 ] || fail "expected exit code 1, got $rc at $np ranks for: $* :: $(cat stderr.txt)"
  [ "$(wc -l <stderr.txt)" -eq 1 ] || fail "expected one stderr line at $np ranks for: $* :: $(cat stderr.txt)"
  grep -qF -- "$pattern" stderr.txt || fail "error for '$*' at $np ranks lacks '$pattern': $(cat stderr.txt)"
  ls out.kmpi* pred.txt* >/dev/null 2>&1 && fail "output left behind at $np ranks for: $*"
  return 0
}
P="predict --model=cls.kmpi"
T="train ${common[*]}"
cases=(
  "no_color.csv: column 'color' of the model's training table is missing|$P --data.features=no_color.csv"
  "color_numeric.csv: line 22, column 2 ('color'): the number 3 in column 'color', which was categorical in training|$P --data.features=color_numeric.csv"
  "age_word.csv: line 32, column 1 ('age'): 'old' is not a number, but column 'age' was numeric in training|$P --data.features=age_word.csv"
  "label_unseen.csv: line 42, column 6 ('label'): label 'maybe' is not one of the model's classes (no, yes)|eval --model=cls.kmpi --data.features=label_unseen.csv"
  "all_missing.csv: column 6 ('blank'): every value is missing|$T --data.train_features=all_missing.csv"
  "cls.csv: line 5, column 1 ('age'): missing value '' (data.missing = error|$T --data.train_features=cls.csv --data.missing=error"
  "cls.csv: data.categorical names 'colour', which is not a feature column|$T --data.train_features=cls.csv --data.categorical=colour"
)
# An all-numeric table (nothing to encode) still keeps its column names in the model: predict on
# the raw CSV with the target column present, in another column order, or absent, at 2 ranks,
# gives the predictions of the same rows as a headerless matrix of the training column order.
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(3)
x = rng.standard_normal((300, 3))
y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2]
rows = [",".join(f"{v:.6f}" for v in (x[i, 0], y[i], x[i, 1], x[i, 2])) for i in range(300)]
open("num.csv", "w").write("a,target,b,c\n" + "\n".join(rows) + "\n")
open("num_permuted.csv", "w").write("c,target,a,b\n" + "\n".join(
    ",".join(f"{v:.6f}" for v in (x[i, 2], y[i], x[i, 0], x[i, 1])) for i in range(300)) + "\n")
open("num_nolabel.csv", "w").write("b,c,a\n" + "\n".join(
    ",".join(f"{v:.6f}" for v in (x[i, 1], x[i, 2], x[i, 0])) for i in range(300)) + "\n")
np.savetxt("num_matrix.csv", np.round(x, 6), delimiter=",", fmt="%.6f")
PY
run 2 train --data.train_features=num.csv --data.label_column=target --data.task=regression \
  --solver.name=direct --kernel.name=laplacian --kernel.bandwidth=3 --output.model=num.kmpi \
  > num.log 2>&1 || { cat num.log; fail "train on an all-numeric table"; }
for f in num.csv num_permuted.csv num_nolabel.csv num_matrix.csv; do
  run 2 predict --model=num.kmpi --data.features="$f" --output.predictions="$f.pred" > num.log 2>&1 ||
    { cat num.log; fail "predict on $f"; }
done
for f in num.csv num_permuted.csv num_nolabel.csv; do
  cmp -s "$f.pred" num_matrix.csv.pred || fail "predictions on $f differ from the matrix's"
done

count=0
for np in 1 4; do
  for entry in "${cases[@]}"; do
    IFS='|' read -r pattern args <<<"$entry"
    # shellcheck disable=SC2086
    check_case "$np" "$pattern" $args
    count=$((count + 1))
  done
done
echo "table: ok ($count bad-input cases)"
