#!/usr/bin/env bash
# RFM end to end (eigenpro2 inside, 2000 Fashion-MNIST rows, 2 RFM iterations, diagonal metric):
#  - one metrics line per RFM iteration, the selected iteration and the final line; the learned
#    metric written with output.metric_matrix (d values); predictions identical at 1/2/4 ranks;
#  - a synthetic regression (RFM improves every iteration) stopped by SIGTERM again and again
#    (inside iterations and between them) and resumed each time ends with the model of the
#    uninterrupted run, bit for bit, and each rfm metrics line once;
#  - refusals: RFM without a validation split, RFM with a given metric.
source "$(dirname "$0")/common.sh"
{ fmnist_data_ini 2000 "validation_fraction = 0.2"; gaussian_kernel_ini; cat <<EOF2
[solver]
name = eigenpro2
epochs = 2
nystrom_samples = 300
batch_size = 100
[rfm]
iterations = 2
metric = diagonal
agop_samples = 500
EOF2
} > rfm.ini

run 2 train --config rfm.ini --output.model=model.kmpi --output.metrics=ref.jsonl \
  --output.metric_matrix=m.npy --data.test_features=$FM/t10k-images-idx3-ubyte.gz \
  --data.test_labels=$FM/t10k-labels-idx1-ubyte.gz | tee ref.log
[ "$(grep -c '"event": "rfm"' ref.jsonl)" -ge 2 ] || fail "fewer than 2 rfm metrics lines"
grep -q '"event": "rfm_selected"' ref.jsonl || fail "no rfm_selected line"
grep '"event": "done"' ref.jsonl | grep -q test_accuracy || fail "done line lacks test metrics"
/usr/bin/python3 - <<'PY'
import json, numpy as np
m = np.load("m.npy")
assert m.shape == (784,), m.shape
assert np.all(np.isfinite(m)) and m.min() >= 0 and abs(m.max() - 1) < 1e-12, (m.min(), m.max())
lines = [json.loads(l) for l in open("ref.jsonl")]
its = [l for l in lines if l.get("event") == "rfm"]
for l in its:
    print(f"iteration {l['iteration']}: validation accuracy {l['validation_accuracy']:.4f}, "
          f"test accuracy {l['test_accuracy']:.4f}, fit {l['fit_s']:.2f} s, agop {l['agop_s']:.2f} s")
sel = [l for l in lines if l.get("event") == "rfm_selected"][0]["iteration"]
best = max(its, key=lambda l: (l["validation_accuracy"], -l["iteration"]))
assert best["iteration"] == sel, (best, sel)
done = [l for l in lines if l.get("event") == "done"][0]
assert abs(done["test_accuracy"] - best["test_accuracy"]) < 1e-12, (done, best)
PY
predict_fmnist_test_at_1_2_4

# Stopped again and again, resumed each time: the uninterrupted run's model. A regression whose
# target depends on 2 of 20 features, so every RFM iteration improves and all 3 run.
/usr/bin/python3 - <<'PY'
import numpy as np
rng = np.random.default_rng(3)
x = rng.uniform(-1, 1, (2000, 20))
y = x[:, 0] ** 2 + 0.5 * x[:, 1] + 0.05 * rng.standard_normal(2000)
np.save("syn_x.npy", x); np.save("syn_y.npy", y)
PY
cat > syn.ini <<EOF2
[data]
train_features = syn_x.npy
train_labels = syn_y.npy
task = regression
scale = standardize
validation_fraction = 0.2
[kernel]
name = laplacian
bandwidth = 10
[solver]
name = eigenpro2
epochs = 5
nystrom_samples = 300
batch_size = 100
[rfm]
iterations = 3
metric = full
agop_samples = 500
EOF2
run 2 train --config syn.ini --output.model=syn.kmpi --output.metrics=syn.jsonl > syn.log
[ "$(grep -c '"event": "rfm"' syn.jsonl)" -eq 4 ] || { cat syn.log; fail "not 4 rfm iterations"; }
rm -rf ck
stop_until_done 3 1.2 train --config syn.ini --output.model=resumed.kmpi \
  --output.metrics=resumed.jsonl --run.checkpoint_dir=ck --run.resume=auto --run.step_delay_ms=30
cmp syn.kmpi resumed.kmpi || fail "the resumed RFM run's model differs from the uninterrupted one"
[ "$(grep -c '"event": "rfm"' resumed.jsonl)" -eq 4 ] ||
  fail "the resumed metrics do not hold each rfm line once"

expect_refusal rfm.ini "RFM selects its iteration on a validation split" --data.validation_fraction=0
expect_refusal rfm.ini "kernel.metric must be none" --kernel.metric=diagonal --kernel.metric_file=m.npy
echo "rfm: ok"
