#!/usr/bin/env bash
# The Laplace family (kernel.exponent, kernel.norm_p) end to end on 1500 Fashion-MNIST rows:
#  - every solver trains with p = 1.5, q = 0.7 and its model predicts the same at 1 and 2 ranks
#    (the model file carries q and p: version 3);
#  - kmpi tune (shared products) and RFM (the AGOP's p != 2 gradients) run with p = 1;
#  - the Laplacian given as q = 1, p = 2 writes the same model file byte for byte as without them;
#  - refusals: the family on another kernel, q > p.
source "$(dirname "$0")/common.sh"
{ fmnist_data_ini 1500 "validation_fraction = 0.2"; printf '%s\n' "[kernel]" "name = laplacian" \
  "bandwidth = 10"; } > lpq.ini
declare -A extra=(
  [direct]="--solver.ridge=1e-6"
  [eigenpro2]="--solver.epochs=1 --solver.nystrom_samples=200 --solver.batch_size=100"
  [falkon]="--solver.centers=300 --solver.iterations=5"
  [eigenpro4]="--solver.centers=300 --solver.epochs=1 --solver.nystrom_samples=200")
for s in direct eigenpro2 falkon eigenpro4; do
  # shellcheck disable=SC2086
  run 2 train --config lpq.ini --solver.name=$s ${extra[$s]} --kernel.exponent=0.7 \
    --kernel.norm_p=1.5 --output.model=$s.kmpi --output.metrics=$s.jsonl > $s.log
  grep '"event": "done"' $s.jsonl > /dev/null || fail "$s: no done line"
  "$KMPI" info --model $s.kmpi > $s.info
  python3 - $s.kmpi <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
version, = struct.unpack_from("<I", b, 8)
d, = struct.unpack_from("<Q", b, 40)
q, p = struct.unpack_from("<dd", b, 64 + 16 * d + 4)  # after the metric kind (none)
assert (version, q, p) == (3, 0.7, 1.5), (version, q, p)
PY
  for np in 1 2; do
    run $np predict --model $s.kmpi --data.features=$FM/t10k-images-idx3-ubyte.gz \
      --data.limit=500 --output.predictions=$s.pred$np.txt > /dev/null
  done
  cmp -s $s.pred1.txt $s.pred2.txt || fail "$s: predictions differ between 1 and 2 ranks"
done

run 2 tune --config lpq.ini --solver.name=falkon --solver.centers=300 --solver.iterations=5 \
  --kernel.exponent=1 --kernel.norm_p=1 --tune.bandwidths=5,10 --tune.ridges=1e-6,1e-4 \
  --output.model=tune.kmpi > tune.log
run 2 train --config lpq.ini --solver.name=direct --solver.ridge=1e-6 --kernel.norm_p=1 \
  --rfm.iterations=1 --rfm.metric=diagonal --rfm.agop_samples=300 --output.model=rfm.kmpi \
  --output.metrics=rfm.jsonl > rfm.log
grep -q '"event": "rfm"' rfm.jsonl || fail "rfm: no rfm metrics line"

run 2 train --config lpq.ini --solver.name=direct --solver.ridge=1e-6 --output.model=plain.kmpi \
  > plain.log
run 2 train --config lpq.ini --solver.name=direct --solver.ridge=1e-6 --kernel.exponent=1 \
  --kernel.norm_p=2 --output.model=given.kmpi > given.log
cmp -s plain.kmpi given.kmpi || fail "the Laplacian with q = 1, p = 2 given is another model"

if run 1 train --config lpq.ini --kernel.name=gaussian --kernel.exponent=0.5 > bad.log 2>&1; then
  fail "the family on the gaussian kernel was accepted"
fi
grep -q "kernel.name = laplacian" bad.log || fail "unclear refusal: $(cat bad.log)"
if run 1 train --config lpq.ini --kernel.exponent=1.5 --kernel.norm_p=1 > bad2.log 2>&1; then
  fail "q > p was accepted"
fi
grep -q "0 < kernel.exponent <= kernel.norm_p <= 2" bad2.log || fail "unclear refusal: $(cat bad2.log)"
echo "lpq family: ok"
