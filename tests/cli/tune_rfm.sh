#!/usr/bin/env bash
# kmpi tune with RFM inside (issue 26), at 1, 2 and 4 ranks, on a small regression table whose
# target depends on two of six features (y = x0^2 + 0.5 x1 + noise):
#  - a grid over kernel.bandwidth x rfm.agop_power x rfm.metric: every point runs the RFM loop and
#    keeps its best iteration; each point's validation mse equals that of `kmpi train` alone with
#    the point's options (the selected iteration of the same loop, bit for bit), and the selected
#    point is the best of those runs alone;
#  - tune.selected_config: `kmpi train --config` with it writes the tuned model byte for byte;
#  - the Laplace family as a dimension (tune.norms), and tune.samples = 3 random points (seeded:
#    the same points at every rank count, inside the listed ranges);
#  - refusals: an RFM dimension without rfm.iterations, a bad metric name.
source "$(dirname "$0")/common.sh"
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(1)
X = rng.uniform(-1, 1, (500, 6))
y = X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.05 * rng.standard_normal(500)
np.save("x.npy", X)
np.save("y.npy", y.reshape(-1, 1))
PY
printf '%s\n' "[data]" "train_features = x.npy" "train_labels = y.npy" "task = regression" \
  "validation_fraction = 0.2" "scale = standardize" "[kernel]" "name = laplacian" \
  "bandwidth = 10" "[solver]" "name = direct" "ridge = 1e-6" "precision = float64" "[rfm]" \
  "iterations = 3" > rfm.ini
GRID=(--tune.bandwidths=5,10 --tune.agop_powers=0.5,1 --tune.rfm_metrics=diagonal,full)

for np in 1 2 4; do
  run $np tune --config rfm.ini "${GRID[@]}" --output.model=tuned$np.kmpi \
    --output.metrics=tune$np.jsonl --tune.selected_config=selected$np.ini > tune$np.log
  [ "$(grep -c '"event": "tune"' tune$np.jsonl)" -eq 8 ] || fail "$np ranks: not 8 points"
  # Each point alone: `kmpi train` with its options.
  /usr/bin/python3 - tune$np.jsonl > points$np.txt <<'PY'
import json, sys
for l in map(json.loads, open(sys.argv[1])):
    if l.get("event") == "tune":
        print(l["point"], l["bandwidth"], l["rfm.agop_power"], l["rfm.metric"], repr(l["validation_mse"]))
PY
  while read -r i b power metric mse <&3; do
    run $np train --config rfm.ini --kernel.bandwidth=$b --rfm.agop_power=$power \
      --rfm.metric=$metric --output.model=alone$np-$i.kmpi --output.metrics=alone$np-$i.jsonl \
      > alone$np-$i.log
    /usr/bin/python3 - alone$np-$i.jsonl "$mse" <<'PY' || fail "$np ranks, point $i: tune's validation mse is not the run alone's"
import json, sys
best = [l for l in map(json.loads, open(sys.argv[1])) if l.get("event") == "rfm" and l["best"] == 1]
assert repr(best[-1]["validation_mse"]) == sys.argv[2], (best[-1], sys.argv[2])
PY
  done 3< points$np.txt
  # The selected point is the least validation mse of the runs alone (ties: the first).
  sel=$(/usr/bin/python3 -c "
import json
t = [l for l in map(json.loads, open('tune$np.jsonl')) if l.get('event') == 'tune']
s = [l for l in map(json.loads, open('tune$np.jsonl')) if l.get('event') == 'tune_selected'][0]
best = min(t, key=lambda l: l['validation_mse'])
assert s['point'] == best['point'], (s, best)
print(int(s['point']))")
  cmp tuned$np.kmpi alone$np-$sel.kmpi || fail "$np ranks: the tuned model is not the run alone's"
  run $np train --config selected$np.ini --output.model=config$np.kmpi > config$np.log
  cmp tuned$np.kmpi config$np.kmpi || fail "$np ranks: train --config selected.ini differs"
  echo "tune with RFM at $np ranks: 8 points equal their runs alone, selected point $sel," \
    "train --config reproduces the model"
done

# tune.groups: the points fitted on groups of ranks at once (each group a sub-communicator with
# all the rows) give every point's validation mse of the runs above to 1e-12 (another rank count
# rounds the reductions otherwise), and the selected point, fitted again on all ranks, the same
# model file byte for byte.
for np_groups in "2 2" "4 2" "4 4"; do
  read -r np g <<< "$np_groups"
  run $np tune --config rfm.ini "${GRID[@]}" --tune.groups=$g --output.model=groups$np-$g.kmpi \
    --output.metrics=groups$np-$g.jsonl > groups$np-$g.log
  grep -q "8 points on $g groups of ranks at once" groups$np-$g.log || fail "$np ranks: no $g groups"
  cmp tuned$np.kmpi groups$np-$g.kmpi || fail "$np ranks, $g groups: not the tuned model"
  /usr/bin/python3 - tune$np.jsonl groups$np-$g.jsonl <<'PY' || fail "$np ranks, $g groups: points differ"
import json, sys
a, b = ([l for l in map(json.loads, open(f)) if l.get("event") == "tune"] for f in sys.argv[1:])
assert len(a) == len(b) == 8
for p, q in zip(a, b):
    assert abs(p["validation_mse"] - q["validation_mse"]) <= 1e-12 * p["validation_mse"], (p, q)
PY
  echo "tune.groups = $g at $np ranks: the same 8 scores and the same model"
done
run 2 tune --config rfm.ini "${GRID[@]}" --tune.groups=3 > refused0.log 2>&1 &&
  fail "tune.groups = 3 at 2 ranks accepted"
grep -q "option tune.groups: auto or a count from 1 to the 2 ranks, not '3'" refused0.log ||
  fail "no clear refusal (tune.groups)"

# The Laplace family as a dimension, and a seeded random search: the same points at 1 and 4 ranks.
for np in 1 4; do
  run $np tune --config rfm.ini --tune.bandwidths=2,20 --tune.norms=1,2 --tune.exponents=0.5,1 \
    --tune.samples=3 --output.metrics=random$np.jsonl > random$np.log
done
/usr/bin/python3 - <<'PY' || fail "tune.samples: points not seeded or outside the ranges"
import json
pts = [[(l["bandwidth"], l["kernel.norm_p"], l["kernel.exponent"]) for l in map(json.loads, open(f"random{n}.jsonl"))
        if l.get("event") == "tune"] for n in (1, 4)]
assert pts[0] == pts[1] and len(pts[0]) == 3, pts
for b, p, q in pts[0]:
    assert 2 <= b <= 20 and 1 <= float(p) <= 2 and 0.5 <= float(q) <= min(1, float(p)), (b, p, q)
print("random points", pts[0])
PY

run 1 tune --config rfm.ini --rfm.iterations=0 --tune.agop_powers=0.5 > refused1.log 2>&1 &&
  fail "an RFM dimension without rfm.iterations was accepted"
grep -q "tune.agop_powers: needs rfm.iterations > 0" refused1.log || fail "no clear refusal (1)"
run 1 tune --config rfm.ini --tune.rfm_metrics=diag > refused2.log 2>&1 && fail "bad metric accepted"
grep -q "'diag' is not a metric" refused2.log || fail "no clear refusal (2)"
echo "tune_rfm: ok"
