#!/usr/bin/env bash
# A K-point random RFM search (issue 26): `kmpi tune --tune.samples=K` with RFM inside against
# the same K points run alone with `kmpi train` (each a fresh mpirun: what a user's shell loop
# does), and the search with tune.groups = auto (the points on groups of ranks at once). Data: a
# synthetic regression, N rows x D features (y = x0^2 + 0.5 x1 + noise), Laplacian kernel,
# direct solver, rfm.iterations = 3; the search over bandwidth [2, 20], agop power [0.5, 1] and
# both metrics. RANKS ranks (default 2); build in BUILD (default build/).
# Usage: bash bench/run_rfm_search.sh [OUT.txt]  (K=30 N=2000 D=20 by default)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-rfm_search.txt}")
K=${K:-30}; N=${N:-2000}; D=${D:-20}; ranks=${RANKS:-2}
build=$(realpath -m "${BUILD:-$root/build}")
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; cd "$work"
/usr/bin/python3 - "$N" "$D" <<'PY'
import sys, numpy as np
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
X = rng.uniform(-1, 1, (n, d)); y = X[:, 0] ** 2 + 0.5 * X[:, 1] + 0.05 * rng.standard_normal(n)
np.save("x.npy", X); np.save("y.npy", y.reshape(-1, 1))
PY
printf '%s\n' "[data]" "train_features = x.npy" "train_labels = y.npy" "task = regression" \
  "validation_fraction = 0.2" "scale = standardize" "[kernel]" "name = laplacian" \
  "bandwidth = 10" "[solver]" "name = direct" "ridge = 1e-6" "precision = float64" "[rfm]" \
  "iterations = 3" > rfm.ini
SEARCH=(--tune.bandwidths=2,20 --tune.agop_powers=0.5,1 --tune.rfm_metrics=diagonal,full
        --tune.samples="$K")
now() { date +%s.%N; }
t0=$(now)
mpirun -np "$ranks" "$build/kmpi" tune --config rfm.ini "${SEARCH[@]}" --output.metrics=search.jsonl > search.log
t1=$(now)
mpirun -np "$ranks" "$build/kmpi" tune --config rfm.ini "${SEARCH[@]}" --tune.groups=auto > groups.log
t2=$(now)
/usr/bin/python3 - > points.txt <<'PY'
import json
for l in map(json.loads, open("search.jsonl")):
    if l.get("event") == "tune":
        print(repr(l["bandwidth"]), l["rfm.agop_power"], l["rfm.metric"])
PY
while read -r b power metric; do
  mpirun -np "$ranks" "$build/kmpi" train --config rfm.ini --kernel.bandwidth="$b" \
    --rfm.agop_power="$power" --rfm.metric="$metric" --output.model=alone.kmpi > /dev/null < /dev/null
done < points.txt
t3=$(now)
/usr/bin/python3 - "$t0" "$t1" "$t2" "$t3" "$K" "$N" "$D" "$ranks" "$(grep -o 'on [0-9]* groups' groups.log || echo 'on 1 group')" <<'PY' | tee "$out"
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5]); K, N, D, P, g = sys.argv[5:]
print(f"{K}-point RFM search, {N} x {D} rows, direct + rfm.iterations 3, {P} ranks:")
print(f"  kmpi tune --tune.samples={K}            {t1 - t0:7.1f} s")
print(f"  kmpi tune ... --tune.groups=auto ({g}) {t2 - t1:7.1f} s")
print(f"  {K} x kmpi train alone (one mpirun each) {t3 - t2:7.1f} s")
print(f"  ratios: search / alone {(t1 - t0) / (t3 - t2):.2f}, groups / alone {(t2 - t1) / (t3 - t2):.2f}")
PY
