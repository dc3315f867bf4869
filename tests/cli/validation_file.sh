#!/usr/bin/env bash
# Validation rows from a file (data.validation_features / data.validation_labels, issue 27):
#  - RFM (direct, float64) at 1, 2 and 4 ranks: no training row is held out; the plain fit's
#    (iteration 0) validation mse equals a numpy kernel ridge regression on the training rows
#    scored on the file's rows; the returned model's mse on the file (`kmpi eval`) equals the
#    selected iteration's validation mse; the models agree across the rank counts; Python's
#    fit(X_val=, y_val=) writes the CLI's model file byte for byte (when the package is built);
#  - kmpi tune scores on the file: the tuned model's mse on it is the selected point's score;
#  - a table with class names: the validation CSV is encoded with the training table's encoding
#    and its names read; eval's accuracy on it is the selected iteration's validation accuracy;
#    rows of a class the training rows lack count as misses (eval refuses them);
#  - the xRFM tree at 1, 2 and 4 ranks: each leaf's validation rows are the file's rows a serial
#    numpy routing (the split directions and thresholds read from the tree file) sends there,
#    plus min(rfm.refill_size - routed, int(0.2 n)) of the leaf's n training rows (the rows
#    missing from the leaf model's centers), the same rows at every rank count; at 1 rank each
#    leaf's model is `kmpi train` alone on its rows with exactly those validation rows; a larger
#    or smaller rfm.refill_size changes the count by the rule; Python's tree with X_val predicts
#    as the CLI's tree;
#  - refusals: the file with data.validation_fraction (train, tune and tree: one line naming
#    both keys), labels without the file, a file without labels.
source "$(dirname "$0")/common.sh"
PY3=/usr/bin/python3
"$PY3" - <<'PY'
import numpy as np
rng = np.random.default_rng(27)
def table(n, d):
    x = rng.uniform(-1, 1, (n, d))
    y = 2 * x[:, 0] + np.where(x[:, 0] < 0, np.sin(4 * x[:, 1]), np.sin(4 * x[:, 2]))
    return x, y
x, y = table(700, 6); np.save("x.npy", x); np.save("y.npy", y)
x, y = table(200, 6); np.save("vx.npy", x); np.save("vy.npy", y)
x, y = table(1200, 6); np.save("tx.npy", x); np.save("ty.npy", y)
x, y = table(300, 6); np.save("tvx.npy", x); np.save("tvy.npy", y)
# A table: a categorical column and class names.
def csv(path, n):
    with open(path, "w") as f:
        f.write("a,b,color,label\n")
        for _ in range(n):
            a, b = rng.uniform(-1, 1, 2)
            color = rng.choice(["red", "green", "blue"])
            label = "hi" if (a + (color == "red") - 0.5 * b > 0.3) else "lo"
            f.write(f"{a:.6f},{b:.6f},{color},{label}\n")
csv("t.csv", 300); csv("tv.csv", 100)
PY
common=(--data.train_features=x.npy --data.train_labels=y.npy --data.task=regression
        --kernel.name=laplacian --kernel.bandwidth=2 --solver.name=direct --solver.precision=float64
        --solver.ridge=1e-5)
rfm=(--rfm.iterations=2 --rfm.metric=diagonal)
val=(--data.validation_features=vx.npy --data.validation_labels=vy.npy)

# --- RFM on the file's rows, at 1, 2 and 4 ranks.
for np in 1 2 4; do
  run $np train "${common[@]}" "${rfm[@]}" "${val[@]}" --output.model=m$np.kmpi --output.metrics=m$np.jsonl \
    > m$np.log
  grep -q "700 rows x 6 features" m$np.log || fail "rows held out at $np ranks: $(cat m$np.log)"
done
expect_weights_close m1.kmpi m2.kmpi 1e-9
expect_weights_close m1.kmpi m4.kmpi 1e-9
run 2 eval --model=m2.kmpi --data.features=vx.npy --data.labels=vy.npy --output.metrics=e.jsonl \
  > /dev/null
"$PY3" - <<'PY'
import json, numpy as np
x, y, vx, vy = (np.load(f) for f in ("x.npy", "y.npy", "vx.npy", "vy.npy"))
def laplacian(a, b):
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return np.exp(-np.sqrt(np.maximum(d2, 0)) / 2)
n = len(x)
alpha = np.linalg.solve(laplacian(x, x) + 1e-5 * n * np.eye(n), y)
ref = float(np.mean((laplacian(vx, x) @ alpha - vy) ** 2))
lines = [json.loads(l) for l in open("m2.jsonl")]
rfm = {l["iteration"]: l for l in lines if l.get("event") == "rfm"}
sel = [l for l in lines if l.get("event") == "rfm_selected"][0]["iteration"]
ev = [json.loads(l) for l in open("e.jsonl") if '"eval"' in l][0]["test_mse"]
print(f"iteration 0 validation mse {rfm[0]['validation_mse']:.10g}, numpy {ref:.10g}; "
      f"selected iteration {sel}: {rfm[sel]['validation_mse']:.10g}, eval on the file {ev:.10g}")
assert abs(rfm[0]["validation_mse"] - ref) <= 1e-8 * ref
assert abs(rfm[sel]["validation_mse"] - ev) <= 1e-9 * ev
assert sel > 0, "RFM did not improve on the plain fit: the test shows less"
PY
PYDIR=$(dirname "$KMPI")/python
if [ -e "$PYDIR/kmpi/__init__.py" ]; then
  PYTHONPATH=$PYDIR "$PY3" - <<'PY'
import numpy as np, kmpi
x, y, vx, vy = (np.load(f) for f in ("x.npy", "y.npy", "vx.npy", "vy.npy"))
m = kmpi.KernelRegressor(solver="direct", kernel="laplacian", bandwidth=2.0, ridge=1e-5,
                         precision="float64", rfm_iterations=2, rfm_metric="diagonal")
m.fit(x, y, X_val=vx, y_val=vy).save("py.kmpi")  # its log: that of m1.kmpi
assert open("py.kmpi", "rb").read() == open("m1.kmpi", "rb").read(), "Python's model differs"
print("Python fit(X_val=, y_val=): the CLI's model file, byte for byte")
PY
else
  echo "(no Python package next to $KMPI: the Python comparison is skipped)"
fi

# --- kmpi tune selects on the file.
run 2 tune "${common[@]}" "${val[@]}" --tune.bandwidths=1,4 \
  --output.model=tuned.kmpi --output.metrics=tune.jsonl > tune.log
run 2 eval --model=tuned.kmpi --data.features=vx.npy --data.labels=vy.npy \
  --output.metrics=te.jsonl > /dev/null
"$PY3" - <<'PY'
import json
lines = [json.loads(l) for l in open("tune.jsonl")]
points = {l["point"]: l for l in lines if l.get("event") == "tune"}
best = [l for l in lines if l.get("event") == "tune_selected"][0]["point"]
ev = [json.loads(l) for l in open("te.jsonl") if '"eval"' in l][0]["test_mse"]
assert len(points) == 2 and min(p["validation_mse"] for p in points.values()) == points[best]["validation_mse"]
assert abs(points[best]["validation_mse"] - ev) <= 1e-9 * ev, (points, ev)
print(f"tune: selected point {best}, validation mse {ev:.6g} = eval on the file")
PY

# --- A table: the validation CSV's categories and class names, encoded as the training table.
run 2 train --data.train_features=t.csv --data.validation_features=tv.csv --data.scale=standardize \
  --kernel.name=laplacian --kernel.bandwidth=3 --solver.name=direct --solver.ridge=1e-3 \
  --rfm.iterations=1 --rfm.metric=diagonal --output.model=t.kmpi --output.metrics=t.jsonl > t.log
run 2 eval --model=t.kmpi --data.features=tv.csv --output.metrics=tve.jsonl > /dev/null
"$PY3" - <<'PY'
import json
lines = [json.loads(l) for l in open("t.jsonl")]
sel = [l for l in lines if l.get("event") == "rfm_selected"][0]["iteration"]
acc = [l for l in lines if l.get("event") == "rfm" and l["iteration"] == sel][0]["validation_accuracy"]
ev = [json.loads(l) for l in open("tve.jsonl") if '"eval"' in l][0]["test_accuracy"]
assert acc == ev and acc > 0.7, (acc, ev)
print(f"table: validation accuracy {acc:.4f} = eval on the validation CSV")
PY
# A validation CSV with rows of a class the training rows lack ("mid"): they count as misses, as
# the reference scores them (eval of such a file still refuses the name).
{ cat tv.csv; printf '%s\n' "0.1,0.2,red,mid" "-0.3,0.5,blue,mid" "0.7,-0.1,green,mid"; } > tvu.csv
run 2 train --data.train_features=t.csv --data.validation_features=tvu.csv \
  --data.scale=standardize --kernel.name=laplacian --kernel.bandwidth=3 --solver.name=direct \
  --solver.ridge=1e-3 --rfm.iterations=1 --rfm.metric=diagonal --output.model=tu.kmpi \
  --output.metrics=tu.jsonl > tu.log
grep -q "tvu.csv: 3 rows of classes the training rows lack; they count as misses" tu.log ||
  fail "no count of the unseen-class rows: $(cat tu.log)"
"$PY3" - <<'PY'
import json
def accuracies(path):
    return {l["iteration"]: l["validation_accuracy"] for l in map(json.loads, open(path))
            if l.get("event") == "rfm"}
known, unseen = accuracies("t.jsonl"), accuracies("tu.jsonl")
assert known.keys() == unseen.keys(), (known, unseen)
for it in known:  # 100 scored rows + 3 misses
    assert abs(unseen[it] - known[it] * 100 / 103) < 1e-8, (it, known[it], unseen[it])  # 9 digits
print(f"unseen classes: validation accuracy {unseen} = {known} x 100 / 103")
PY
if run 2 eval --model=tu.kmpi --data.features=tvu.csv > eu.log 2>&1; then
  fail "eval accepted a class the model lacks"
fi
grep -q "label 'mid' is not one of the model's classes" eu.log || fail "eval: $(cat eu.log)"
# The tree routes them down too; each leaf (every class name known) scores them as misses.
run 2 train --data.train_features=t.csv --data.validation_features=tvu.csv \
  --data.scale=standardize --kernel.name=laplacian --kernel.bandwidth=3 --solver.name=direct \
  --solver.ridge=1e-3 --rfm.iterations=1 --rfm.metric=diagonal --rfm.leaf_size=150 \
  --rfm.split_samples=300 --output.model=tu-tree.kmpi > tu-tree.log
routed=$(sed -n 's/^tree: leaf [0-9]*: \([0-9]*\) validation rows routed.*/\1/p' tu-tree.log |
  awk '{ s += $1 } END { print s }')
[ "$routed" = 103 ] || fail "tree: $routed validation rows routed, not 103: $(cat tu-tree.log)"

# --- The xRFM tree: 1200 training rows, leaves of 600, 300 validation rows.
tree=(--data.train_features=tx.npy --data.train_labels=ty.npy --data.task=regression
      --kernel.name=laplacian --kernel.bandwidth=2 --solver.name=direct --solver.precision=float64
      --solver.ridge=1e-5 --rfm.iterations=2 --rfm.metric=diagonal --rfm.leaf_size=600
      --data.validation_features=tvx.npy --data.validation_labels=tvy.npy)
for np in 1 2 4; do
  run $np train "${tree[@]}" --output.model=tree$np.kmpi --output.metrics=tree$np.jsonl > tree$np.log
  run 2 predict --model=tree$np.kmpi --data.features=tvx.npy --output.predictions=tp$np.txt
done
for r in 200 100; do
  run 2 train "${tree[@]}" --rfm.refill_size=$r --output.model=r$r.kmpi --output.metrics=r$r.jsonl \
    > r$r.log
done
cat > tree_check.py <<'PY'
import json, struct, sys, numpy as np
tx, ty, vx, vy = (np.load(f) for f in ("tx.npy", "ty.npy", "tvx.npy", "tvy.npy"))

def read_tree(path):
    b = open(path, "rb").read()
    assert b[:8] == b"KMPITREE"
    d, c, nodes, leaves = struct.unpack_from("<QQQQ", b, 16)
    off, out = 56, []
    for _ in range(nodes):
        kind, a, bb = struct.unpack_from("<III", b, off)
        thr, = struct.unpack_from("<d", b, off + 12)
        v = np.frombuffer(b, "<f8", d, off + 28)
        out.append((kind, a, bb, thr, v))
        off += 28 + 8 * d
    spans = [struct.unpack_from("<QQ", b, off + 16 * l) for l in range(leaves)]
    return out, [b[o:o + n] for o, n in spans]

def leaf_model(m):  # centers (p x d) and the diagonal S (or None)
    version, = struct.unpack_from("<I", m, 8)
    d, c, p = struct.unpack_from("<QQQ", m, 40)
    off = 64 + 16 * d
    kind, = struct.unpack_from("<I", m, off)
    s = np.frombuffer(m, "<f8", (0, d, d * d)[kind], off + 4) if kind else None
    off += 4 + 8 * (0, d, d * d)[kind] + (16 if version >= 3 else 0)
    if version >= 4:
        length, = struct.unpack_from("<Q", m, off); off += 8 + length
    return np.frombuffer(m, "<f8", p * d, off).reshape(p, d), s

def route(nodes, x):  # the leaf index of each row: x . v summed in index order, <= goes left
    out = []
    for row in x:
        i = 0
        while nodes[i][0] == 0:
            s = 0.0
            for j in range(len(row)): s += row[j] * nodes[i][4][j]
            i = nodes[i][1] if s <= nodes[i][3] else nodes[i][2]
        out.append(nodes[i][1])
    return np.array(out)

def check(path, metrics, refill_size=1500):
    nodes, leaves = read_tree(path)
    lt, lv = route(nodes, tx), route(nodes, vx)
    lines = [json.loads(l) for l in open(metrics) if '"tree_node"' in l]
    removed = []
    for l, m in enumerate(leaves):
        rows, routed = np.flatnonzero(lt == l), np.flatnonzero(lv == l)
        line = [x for x in lines if x.get("leaf") == l][0]
        want = 0 if len(routed) > refill_size else min(refill_size - len(routed), int(len(rows) * 0.2))
        assert line["rows"] == len(rows) and line["validation_rows"] == len(routed), (line, len(rows), len(routed))
        assert line["refilled"] == want, (line, want)
        centers, s = leaf_model(m)
        u = tx[rows] * (s if s is not None else 1)  # scale none: a center is x S
        hit = np.array([np.argmin(np.abs(u - z).max(1)) for z in centers])
        assert np.abs(u[hit] - centers).max() <= 1e-12 and len(set(hit)) == len(hit)
        gone = np.setdiff1d(np.arange(len(rows)), hit)
        assert len(gone) == want, (len(gone), want)
        removed.append((rows, rows[gone], routed))
    return removed

mode = sys.argv[1]
if mode == "ranks":
    got = [check(f"tree{np}.kmpi", f"tree{np}.jsonl") for np in (1, 2, 4)]
    for other in got[1:]:
        for (r1, g1, v1), (r2, g2, v2) in zip(got[0], other):
            assert np.array_equal(r1, r2) and np.array_equal(g1, g2) and np.array_equal(v1, v2)
    # The files of each leaf's rows for `kmpi train` alone (1 rank): its training rows in order,
    # the routed validation rows in the file's order, then the moved rows in order.
    for l, (rows, gone, routed) in enumerate(got[0]):
        keep = np.setdiff1d(rows, gone)
        np.save(f"leaf{l}_x.npy", tx[keep]); np.save(f"leaf{l}_y.npy", ty[keep])
        np.save(f"leaf{l}_vx.npy", np.vstack([vx[routed], tx[gone]]))
        np.save(f"leaf{l}_vy.npy", np.concatenate([vy[routed], ty[gone]]))
        print(f"leaf {l}: {len(rows)} rows, {len(routed)} validation rows routed, {len(gone)} moved")
    p1 = np.loadtxt("tp1.txt")
    for np_ in (2, 4):
        p = np.loadtxt(f"tp{np_}.txt")
        assert np.max(np.abs(p - p1)) <= 1e-6 * np.max(np.abs(p1)), np.max(np.abs(p - p1))
else:
    for path, metrics, r in (("r200.kmpi", "r200.jsonl", 200), ("r100.kmpi", "r100.jsonl", 100)):
        print(f"refill_size {r}: moved", [len(g) for _, g, _ in check(path, metrics, r)])
    _, leaves = read_tree("tree1.kmpi")
    for l, m in enumerate(leaves):
        open(f"leaf{l}.kmpi", "wb").write(m)
PY
"$PY3" tree_check.py ranks
"$PY3" tree_check.py refill
for l in 0 1; do
  run 1 train --data.train_features=leaf${l}_x.npy --data.train_labels=leaf${l}_y.npy \
    "${tree[@]:2:8}" --data.validation_features=leaf${l}_vx.npy \
    --data.validation_labels=leaf${l}_vy.npy --output.model=alone$l.kmpi > alone$l.log
  expect_weights_close leaf$l.kmpi alone$l.kmpi 0
done
# The leaves validated on those rows: at 1 rank the tree's log has the leaves' RFM lines (their
# validation mse per iteration) one leaf after the other, as the runs alone print them.
diff <(grep "^rfm iteration" tree1.log | sed 's/, fit .*//') \
  <(cat alone0.log alone1.log | grep "^rfm iteration" | sed 's/, fit .*//') \
  || fail "the leaves' validation scores are not those of their rows alone"
if [ -e "$PYDIR/kmpi/__init__.py" ]; then
  PYTHONPATH=$PYDIR "$PY3" - <<'PY'
import numpy as np, kmpi
tx, ty, vx, vy = (np.load(f) for f in ("tx.npy", "ty.npy", "tvx.npy", "tvy.npy"))
m = kmpi.KernelRegressor(solver="direct", kernel="laplacian", bandwidth=2.0, ridge=1e-5,
                         precision="float64", rfm_iterations=2, rfm_metric="diagonal",
                         options={"rfm.leaf_size": 600})
m.fit(tx, ty, X_val=vx, y_val=vy)
p, cli = m.predict(vx), np.loadtxt("tp1.txt")
assert np.max(np.abs(p - cli)) <= 1e-12 * np.max(np.abs(cli)), np.max(np.abs(p - cli))
print("Python tree with X_val: the CLI tree's predictions")
PY
fi

# --- Refusals: one line naming both keys, at 2 ranks, for train, tune and the tree.
refuse() {
  local want=$1; shift
  local rc=0
  run 2 "$@" > refusal.log 2>&1 || rc=$?
  [ "$rc" -eq 1 ] && grep -q "$want" refusal.log || { cat refusal.log; fail "expected '$want'"; }
  [ "$(grep -c "kmpi: error" refusal.log)" -eq 1 ] || { cat refusal.log; fail "not one line"; }
}
both="data.validation_features and data.validation_fraction conflict"
refuse "$both" train "${common[@]}" "${rfm[@]}" "${val[@]}" --data.validation_fraction=0.2 \
  --output.model=x.kmpi
refuse "$both" tune "${common[@]}" "${val[@]}" --data.validation_fraction=0.2 --tune.bandwidths=1,4
refuse "$both" train "${tree[@]}" --data.validation_fraction=0.2 --output.model=x.kmpi
refuse "data.validation_labels needs data.validation_features" train "${common[@]}" \
  --data.validation_labels=vy.npy --data.validation_fraction=0.2
refuse "vx.npy: the validation rows need labels" train "${common[@]}" "${rfm[@]}" \
  --data.validation_features=vx.npy
[ ! -e x.kmpi ] || fail "a refused run wrote a model"
echo "validation_file: ok"
