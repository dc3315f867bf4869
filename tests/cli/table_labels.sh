#!/usr/bin/env bash
# Tables, continued (issue 27 §1): RFC 4180 quoted fields ("a, b" and doubled quotes in a
# categorical column, written by pandas' to_csv) read as one category each; and class names from
# a separate labels file (data.train_labels / data.labels) give the same model file, byte for
# byte, as the same names in the table's label column (with a header line naming it), the same
# predictions without a header line, at 1, 2 and 4 ranks, and eval reads them; bad labels files
# are one error naming the file and line.
source "$(dirname "$0")/common.sh"
PY3=/usr/bin/python3
"$PY3" -c "import pandas, numpy" 2>/dev/null || { echo "table_labels: needs python3 with pandas"; exit 77; }
"$PY3" - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(11)
n = 90
age = rng.uniform(20, 60, n).round(2)
age[::9] = np.nan
shape = rng.choice(["a, b", 'say "hi"', "plain"], n)
color = rng.choice(["red", "green", "blue"], n)
label = np.where((color == "red") ^ (age > 40) ^ (shape == "a, b"), "yes, sir", "no")
df = pd.DataFrame({"age": age, "shape": shape, "color": color})
df.assign(label=label).to_csv("full.csv", index=False, na_rep="")
df.to_csv("feats.csv", index=False, na_rep="")
pd.Series(label, name="label").to_csv("labels.csv", index=False)
pd.Series(label).to_csv("plain.csv", index=False, header=False)
pd.Series(label[:-2], name="label").to_csv("short.csv", index=False)
odd = label.copy(); odd[17] = "maybe"
pd.Series(odd, name="label").to_csv("odd.csv", index=False)
PY
grep -q '"say ""hi"""' feats.csv || fail "pandas did not quote the field: $(head -3 feats.csv)"
common=(--solver.name=direct --solver.ridge=1e-3 --kernel.bandwidth=2 --data.scale=standardize)
run 2 train "${common[@]}" --data.train_features=full.csv --output.model=col.kmpi >/dev/null
run 1 info --model=col.kmpi > info.txt
grep -qF "shape: categorical, 3 categories (one-hot): a, b, plain, say \"hi\"" info.txt ||
  fail "quoted categories: $(cat info.txt)"
grep -qF "label label: class names no, yes, sir" info.txt || fail "class names: $(cat info.txt)"
# At the same rank count (the training means are sums over ranks: their last bits may differ).
for np in 1 4; do
  run $np train "${common[@]}" --data.train_features=full.csv --output.model=col$np.kmpi >/dev/null
  run $np train "${common[@]}" --data.train_features=feats.csv --data.train_labels=labels.csv \
    --output.model=file$np.kmpi >/dev/null
  cmp col$np.kmpi file$np.kmpi || fail "labels file at $np ranks: not the label column's model file"
done
run 2 train "${common[@]}" --data.train_features=feats.csv --data.train_labels=plain.csv \
  --output.model=plain.kmpi >/dev/null
for np in 1 2 4; do
  run $np predict --model=col.kmpi --data.features=feats.csv --output.predictions=c$np.txt >/dev/null
  run $np predict --model=plain.kmpi --data.features=feats.csv --output.predictions=p$np.txt >/dev/null
  cmp c1.txt c$np.txt && cmp c1.txt p$np.txt || fail "predictions differ at $np ranks"
done
grep -qx "yes, sir" c1.txt || fail "predict does not write the names: $(sort -u c1.txt)"
a=$(run 2 eval --model=col.kmpi --data.features=full.csv | grep -o "accuracy [0-9.]*")
b=$(run 2 eval --model=plain.kmpi --data.features=feats.csv --data.labels=labels.csv | grep -o "accuracy [0-9.]*")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "eval with a labels file: '$b', with the column: '$a'"
expect_error() {  # pattern, args...
  local pattern=$1; shift
  set +e
  timeout 60 mpirun -q -np 2 "$KMPI" "$@" >stdout.txt 2>stderr.txt
  local rc=$?
  set -e
  [ $rc -eq 1 ] && [ "$(wc -l <stderr.txt)" -eq 1 ] && grep -qF -- "$pattern" stderr.txt ||
    fail "expected one error line with '$pattern' (rc $rc): $(cat stderr.txt)"
}
expect_error "short.csv: 89 labels for 90 rows of features in feats.csv" \
  train "${common[@]}" --data.train_features=feats.csv --data.train_labels=short.csv \
  --output.model=out.kmpi
expect_error "odd.csv: line 19: label 'maybe' is not one of the model's classes (no, yes, sir)" \
  eval --model=col.kmpi --data.features=feats.csv --data.labels=odd.csv
echo "table_labels: ok"
