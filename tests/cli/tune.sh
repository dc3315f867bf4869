#!/usr/bin/env bash
# kmpi tune end to end (2000 Fashion-MNIST rows, a 20% validation split, 2 ranks):
#  - eigenpro2, 3 bandwidths stepped together: one table line per point; every point's
#    validation accuracy equals that of `kmpi train` alone with its bandwidth (and the group's
#    batch size), the selected point is the best of those independent runs, and the written model
#    is byte-identical to the run alone of the selected bandwidth;
#  - shared and point-by-point (tune.shared = false) runs give the same table and model;
#  - falkon over bandwidths x ridges (the shared grid, float64): every point's scores agree with
#    `kmpi train` alone, and so does the selection;
#  - the validation curve drawn by kmpi-plot;
#  - tune.bandwidths = auto: log-spaced from a quarter of the median distance to the median;
#  - tune.folds = 3: mean scores over the folds, the selected point refitted on every row
#    (byte-identical to train alone);
#  - stopped by SIGTERM again and again and resumed: the uninterrupted run's model, each table
#    line once (the shared run, the point-by-point one, the 3-fold one and the falkon grid);
#  - refusals in one line: tune options given to train, a ridge for eigenpro2, a bad list, no
#    validation split.
source "$(dirname "$0")/common.sh"
{ fmnist_data_ini 2000 "validation_fraction = 0.2"; gaussian_kernel_ini; cat <<EOF2
[solver]
name = eigenpro2
epochs = 2
nystrom_samples = 300
EOF2
} > tune.ini
GRID=--tune.bandwidths=2.5,5,10
TEST_SET=(--data.test_features=$FM/t10k-images-idx3-ubyte.gz
  --data.test_labels=$FM/t10k-labels-idx1-ubyte.gz)

run 2 tune --config tune.ini $GRID --output.model=tuned.kmpi --output.metrics=tune.jsonl \
  --tune.selected_config=selected.ini "${TEST_SET[@]}" | tee tune.log
[ "$(grep -c '"event": "tune"' tune.jsonl)" -eq 3 ] || fail "not 3 tune table lines"
grep -q '"event": "tune_selected"' tune.jsonl || fail "no tune_selected line"
m=$(/usr/bin/python3 -c '
import json
s = {l["batch_size"] for l in map(json.loads, open("tune.jsonl")) if l.get("event") == "setup"}
assert len(s) == 1, s
print(int(s.pop()))')
echo "common batch size $m"

# The brute force: each bandwidth trained alone; its returned model is the epoch of least
# validation mse, whose validation accuracy must be the tune table's.
for b in 2.5 5 10; do
  run 2 train --config tune.ini --kernel.bandwidth=$b --solver.batch_size=$m \
    --output.model=alone_$b.kmpi --output.metrics=alone_$b.jsonl "${TEST_SET[@]}" > alone_$b.log
done
selected=$(/usr/bin/python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("tune.jsonl")]
table = {l["bandwidth"]: l for l in lines if l.get("event") == "tune"}
best = None
for b in (2.5, 5.0, 10.0):
    epochs = [l for l in map(json.loads, open(f"alone_{b:g}.jsonl")) if "validation_mse" in l]
    ret = min(epochs, key=lambda l: l["validation_mse"])  # the first of the least mse
    t = table[b]
    assert abs(t["validation_accuracy"] - ret["validation_accuracy"]) < 1e-12, (b, t, ret)
    assert abs(t["test_accuracy"] - ret["test_accuracy"]) < 1e-12, (b, t, ret)
    print(f"bandwidth {b:g}: validation accuracy {t['validation_accuracy']:.4f} "
          f"(alone {ret['validation_accuracy']:.4f}), test {t['test_accuracy']:.4f}", flush=True)
    if best is None or ret["validation_accuracy"] > best[1]:
        best = (b, ret["validation_accuracy"])
sel = [l for l in lines if l.get("event") == "tune_selected"][0]
assert sel["bandwidth"] == best[0], (sel, best)
print(f"{best[0]:g}")
PY
)
echo "$selected"; selected=$(echo "$selected" | tail -1)
echo "selected bandwidth $selected"
cmp tuned.kmpi "alone_$selected.kmpi" || fail "the tuned model differs from the run alone"
# The selected point as tune reports it (every option it differs in from a run alone, the
# group's batch among them) and as the config it writes: `kmpi train --config` with that file
# alone reproduces the tuned model byte for byte.
/usr/bin/python3 - "$m" "$selected" <<'PY' || fail "tune_selected does not name the options a run alone needs"
import json, sys
sel = [json.loads(l) for l in open("tune.jsonl") if '"tune_selected"' in l][0]
assert sel["options"] == {"kernel.bandwidth": sys.argv[2], "solver.batch_size": sys.argv[1]}, sel
PY
grep -q "kmpi train reproduces it with --kernel.bandwidth=$selected --solver.batch_size=$m" tune.log ||
  fail "the log's selected line lacks the options"
run 2 train --config selected.ini --output.model=from_config.kmpi > from_config.log
cmp tuned.kmpi from_config.kmpi || fail "train --config selected.ini differs from the tuned model"

# The validation curve drawn by kmpi-plot (an SVG with the run's label).
"$SRC/scripts/kmpi-plot" tuned=tune.jsonl -o curve.svg > /dev/null
grep -q "tuned" curve.svg || fail "the validation curve lacks the run's label"

# Point by point with a fixed batch: the same table and model as the shared run.
run 2 tune --config tune.ini $GRID --solver.batch_size=100 --output.model=shared.kmpi \
  --output.metrics=shared.jsonl > shared.log
run 2 tune --config tune.ini $GRID --solver.batch_size=100 --tune.shared=false \
  --output.model=single.kmpi --output.metrics=single.jsonl > single.log
cmp shared.kmpi single.kmpi || fail "shared and point-by-point tune models differ"
/usr/bin/python3 - <<'PY'
import json
def table(path):
    return [(l["bandwidth"], l["validation_mse"], l["validation_accuracy"])
            for l in map(json.loads, open(path)) if l.get("event") == "tune"]
a, b = table("shared.jsonl"), table("single.jsonl")
assert a == b, (a, b)
print("shared = point by point:", a)
PY

# falkon over 2 bandwidths x 2 ridges: the selection agrees with train at every point.
cat > falkon.ini <<EOF2
$(fmnist_data_ini 2000 "validation_fraction = 0.2")
$(gaussian_kernel_ini)
[solver]
name = falkon
centers = 300
iterations = 8
precision = float64
EOF2
run 2 tune --config falkon.ini --tune.bandwidths=3,6 --tune.ridges=1e-07,0.001 --output.model=falkon_tuned.kmpi --output.metrics=falkon.jsonl \
  > falkon.log
for b in 3 6; do
  for r in 1e-07 0.001; do
    run 2 train --config falkon.ini --kernel.bandwidth=$b \
      --solver.ridge=$r --output.model=falkon_${b}_$r.kmpi --output.metrics=falkon_${b}_$r.jsonl \
      > /dev/null
  done
done
/usr/bin/python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("falkon.jsonl")]
table = [l for l in lines if l.get("event") == "tune"]
assert len(table) == 4, table
best = None
for t in table:
    alone = [l for l in map(json.loads, open(f"falkon_{t['bandwidth']:g}_{t['ridge']:g}.jsonl"))
             if "validation_accuracy" in l][-1]
    # The grid's CG products (one GEMM for both ridges) round differently from a run alone:
    # in float64 the fits agree to ~1e-12 (src/solvers/falkon_grid.cpp), so the scores do too.
    assert abs(t["validation_mse"] - alone["validation_mse"]) <= 1e-9 * alone["validation_mse"], (t, alone)
    assert t["validation_accuracy"] == alone["validation_accuracy"], (t, alone)
    print(f"falkon bandwidth {t['bandwidth']:g} ridge {t['ridge']:g}: validation accuracy "
          f"{t['validation_accuracy']:.4f} (alone {alone['validation_accuracy']:.4f})")
    if best is None or t["validation_accuracy"] > best["validation_accuracy"]:
        best = t
sel = [l for l in lines if l.get("event") == "tune_selected"][0]
assert (sel["bandwidth"], sel["ridge"]) == (best["bandwidth"], best["ridge"]), (sel, best)
PY

# The automatic grid: 5 bandwidths from median / 4 to the median.
run 2 tune --config tune.ini --tune.bandwidths=auto --solver.epochs=1 --output.metrics=auto.jsonl \
  > auto.log
/usr/bin/python3 - <<'PY'
import json
g = [l for l in map(json.loads, open("auto.jsonl")) if l.get("event") == "tune_grid"][0]
med, bw = g["median_distance"], g["bandwidths"]
assert 8 < med < 15, med  # Fashion-MNIST on [0, 1] pixels: about 11.5
expected = [med * 2 ** (-2 + k / 2) for k in range(5)]
# The metrics carry 10 significant digits.
assert all(abs(a - b) <= 1e-9 * b for a, b in zip(bw, expected)), (bw, expected)
print(f"auto grid: median {med:.4f}, bandwidths {[round(b, 3) for b in bw]}")
PY

# k folds: each point's score is the mean over 3 folds, the selection the best mean, and the
# model the selected bandwidth refitted on every row: byte-identical to train alone on them.
FOLDS=(--data.validation_fraction=0 --tune.folds=3)
run 2 tune --config tune.ini $GRID "${FOLDS[@]}" --solver.batch_size=100 --output.model=folds.kmpi \
  --output.metrics=folds.jsonl > folds.log
fold_bw=$(/usr/bin/python3 - <<'PY'
import json
lines = [json.loads(l) for l in open("folds.jsonl")]
table = [l for l in lines if l.get("event") == "tune"]
assert len(table) == 3, table
for t in table:
    f = t["validation_accuracy_folds"]
    assert t["folds"] == 3 and len(f) == 3, t
    assert abs(t["validation_accuracy"] - sum(f) / 3) < 1e-9, t
best = max(table, key=lambda t: t["validation_accuracy"])
sel = [l for l in lines if l.get("event") == "tune_selected"][0]
assert sel["bandwidth"] == best["bandwidth"], (sel, best)
print(f"{best['bandwidth']:g}")
PY
)
echo "3 folds selected bandwidth $fold_bw"
run 2 train --config tune.ini --data.validation_fraction=0 --solver.batch_size=100 \
  --kernel.bandwidth="$fold_bw" --output.model=refit_alone.kmpi > /dev/null
cmp folds.kmpi refit_alone.kmpi || fail "the refitted model differs from train alone"

# Stopped and resumed again and again: the uninterrupted model, each table line once.
# $1 = tag, $2 = the uninterrupted model, $3 = its table lines, further arguments = the run.
stop_and_resume() {
  local tag=$1 ref=$2 lines=$3; shift 3
  rm -rf "ck_$tag"
  echo "$tag:"
  stop_until_done 2 1.5 tune "$@" --output.model="resumed_$tag.kmpi" \
    --output.metrics="resumed_$tag.jsonl" --run.checkpoint_dir="ck_$tag" --run.resume=auto
  cmp "$ref" "resumed_$tag.kmpi" || fail "$tag: the resumed tune model differs"
  [ "$(grep -c '"event": "tune"' "resumed_$tag.jsonl")" -eq "$lines" ] ||
    fail "$tag: the resumed metrics do not hold each table line once"
}
EP2=(--config tune.ini $GRID --solver.batch_size=100 --run.step_delay_ms=80)
stop_and_resume shared shared.kmpi 3 "${EP2[@]}"
stop_and_resume single shared.kmpi 3 "${EP2[@]}" --tune.shared=false
stop_and_resume folds folds.kmpi 3 "${EP2[@]}" "${FOLDS[@]}"
stop_and_resume falkon falkon_tuned.kmpi 4 --config falkon.ini --tune.bandwidths=3,6 \
  --tune.ridges=1e-07,0.001 --run.step_delay_ms=400

expect_tune_refusal() {
  local want=$1 cmd=$2; shift 2
  rc=0; run 2 "$cmd" --config tune.ini --output.model=no.kmpi "$@" > refusal.log 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat refusal.log; fail "expected exit 1, got $rc: $*"; }
  [ "$(grep -c "^kmpi: error" refusal.log)" -eq 1 ] || { cat refusal.log; fail "not one line"; }
  grep "^kmpi: error" refusal.log
  grep -q -- "$want" refusal.log || { cat refusal.log; fail "message lacks '$want'"; }
  [ ! -e no.kmpi ] || fail "a refused run wrote a model"
}
expect_tune_refusal "is an option of \`kmpi tune\`" train $GRID
expect_tune_refusal "has no ridge" tune $GRID --tune.ridges=1e-3
expect_tune_refusal "option tune.bandwidths: 'x' is not a positive number" tune --tune.bandwidths=2,x
expect_tune_refusal "selects on a validation split" tune $GRID --data.validation_fraction=0
echo "tune: ok"
