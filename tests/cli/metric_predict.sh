#!/usr/bin/env bash
# End to end, a Mahalanobis kernel: `kmpi train kernel.metric=diagonal kernel.metric_file=m.npy`
# (direct, regression, standardize) at 2 ranks, then `kmpi predict` at 1 and 4 ranks. Predicting
# the training rows reproduces the targets (interpolation), which only holds if predict applies
# the stored scaling and S; the metric's zero weight on column c makes predictions blind to it
# (changing c changes nothing), which only holds if S is applied at all. Bad metric files and
# options give one error line naming the file or key, exit 1, and no model file.
source "$(dirname "$0")/common.sh"
python3 - <<'PY'
import math, random, struct
random.seed(12)
with open("x.csv", "w") as fx, open("y.csv", "w") as fy, open("q.csv", "w") as fq:
    fx.write("a,b,c\n")
    fq.write("a,b,c\n")
    for i in range(300):
        a, b, c = random.uniform(-5, 5), random.uniform(0, 1), random.uniform(100, 200)
        fx.write(f"{a},{b},{c}\n")
        fq.write(f"{a},{b},{random.uniform(100, 200)}\n")  # the same rows, another c
        fy.write(f"{math.sin(a) + b * b}\n")
def npy(path, shape, values):  # a version-1.0 float64 .npy, written by hand
    d = "{'descr': '<f8', 'fortran_order': False, 'shape': %s, }" % shape
    d += " " * (63 - (10 + len(d)) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode())
        f.write(struct.pack("<%dd" % len(values), *values))
npy("m.npy", "(3,)", [4.0, 0.25, 0.0])
npy("bad.npy", "(4,)", [1.0, 1.0, 1.0, 1.0])
npy("asym.npy", "(3, 3)", [1.0, 0.5, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
PY
TRAIN="train --solver.name=direct --solver.ridge=1e-10 --data.train_features=x.csv
  --data.train_labels=y.csv --data.scale=standardize --kernel.name=laplacian --kernel.bandwidth=2"
run 2 $TRAIN --kernel.metric=diagonal --kernel.metric_file=m.npy --output.model=m.kmpi
run 1 info --model=m.kmpi | tee info.txt
grep -q "metric diagonal" info.txt || fail "info does not name the metric"
for np in 1 4; do
  run $np predict --model=m.kmpi --data.features=x.csv --output.predictions=p$np.txt
done
run 2 predict --model=m.kmpi --data.features=q.csv --output.predictions=pq.txt
python3 - <<'PY'
read = lambda p: [float(l) for l in open(p)]
y, p1, p4, pq = read("y.csv"), read("p1.txt"), read("p4.txt"), read("pq.txt")
assert len(p1) == len(y) == len(p4) == len(pq) == 300
worst = max(abs(a - b) / (1 + abs(a)) for a, b in zip(p1, p4))
print(f"1 vs 4 ranks: largest relative difference {worst:.1e}")
assert worst < 1e-12, worst
err = max(abs(a - b) for a, b in zip(y, p1))
print(f"interpolation with the metric: max |prediction - target| = {err:.2e}")
assert err < 1e-4, err
blind = max(abs(a - b) / (1 + abs(a)) for a, b in zip(p1, pq))
print(f"column c (metric weight 0) changed: largest relative difference {blind:.1e}")
assert blind < 1e-12, blind
PY

# Refusals: exit 1, one line from rank 0 naming the file or key, no model written.
expect_metric_refusal() {
  local want=$1; shift
  rc=0; run 2 $TRAIN --output.model=no.kmpi "$@" > refusal.log 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat refusal.log; fail "expected exit 1, got $rc: $*"; }
  [ "$(grep -c "^kmpi: error" refusal.log)" -eq 1 ] || { cat refusal.log; fail "not one line"; }
  grep "^kmpi: error" refusal.log
  grep -q -- "$want" refusal.log || { cat refusal.log; fail "message lacks '$want'"; }
  [ ! -e no.kmpi ] || fail "a refused run wrote a model"
  ls | grep -q '^no.kmpi' && fail "a refused run left a temporary model file" || true
}
expect_metric_refusal "bad.npy: wrong shape for a diagonal metric on d = 3" \
  --kernel.metric=diagonal --kernel.metric_file=bad.npy
expect_metric_refusal "asym.npy: not symmetric" --kernel.metric=full --kernel.metric_file=asym.npy
expect_metric_refusal "absent.npy: no such file" --kernel.metric=full --kernel.metric_file=absent.npy
expect_metric_refusal "needs kernel.metric_file" --kernel.metric=full
expect_metric_refusal "kernel.metric_file is given but kernel.metric = none" --kernel.metric_file=m.npy
echo "metric_predict: ok"
