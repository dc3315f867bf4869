#!/usr/bin/env bash
# The xRFM scale run (issue 27, section 3): a table of ROWS rows (default 1e6) with categorical
# columns and missing values (bench/tabular/augment_table.py: diamonds drawn with replacement and
# jittered), a tree of RFMs with leaves of at most LEAF rows (default 50000; falkon in every
# leaf), trained by `kmpi train` on 2 ranks of this machine (shared memory) and on 2 nodes of the
# namespace cluster (tests/cluster/cluster.sh, 1 rank per node, TCP). For each: wall time, every
# rank's peak resident memory (/usr/bin/time around each rank), the tree, and the test RMSE on
# 20000 fresh rows. The two models must be identical (same rank count: same partition and
# reduction order). Results: $1 (default tree_scale.txt) and the metrics lines as $1.jsonl.
# Needs root for the cluster part (skipped, with a line, where namespaces cannot be made), the
# diamonds CSV (DATA, default /tmp/tabular-bench, written by bench/tabular/export_datasets.sh),
# a Release build in BUILD (default build/). RUNS (default "shm nodes") picks the runs.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-tree_scale.txt}")
rows=${ROWS:-1000000}
leaf=${LEAF:-50000}
data=${DATA:-/tmp/tabular-bench}
build=$(realpath -m "${BUILD:-$root/build}")
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
[ -f "$data/diamonds.csv" ] || bash "$root/bench/tabular/export_datasets.sh" "$data"
[ -x "$build/kmpi" ] || { cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null &&
  cmake --build "$build" -j 2 --target kmpi > /dev/null; }
table=$work/table_$rows.csv test=$work/table_test.csv
[ -f "$table" ] || /usr/bin/python3 "$root/bench/tabular/augment_table.py" "$data/diamonds.csv" \
  "$rows" "$table" --test 20000 "$test"
cat > "$work/tree.ini" <<INI
[data]
label_column = price
scale = standardize
missing_indicators = true
validation_fraction = 0.1
[kernel]
name = laplacian
bandwidth = 10
[solver]
name = falkon
centers = 2000
iterations = 10
ridge = 1e-6
[rfm]
iterations = 1
metric = diagonal
leaf_size = $leaf
split_samples = 20000
INI
source "$root/scripts/mpi_env.sh"
export OPENBLAS_NUM_THREADS=1
cluster=$root/tests/cluster/cluster.sh
# One rank: its own wall time and peak resident set (KB), tagged with its rank.
rank_cmd=(/bin/sh -c 'exec /usr/bin/time -f "rank $OMPI_COMM_WORLD_RANK on $(hostname): $0 $1 ... %e s, peak %M KB" "$0" "$@"'
  "$build/kmpi" train --config "$work/tree.ini" --data.train_features="$table"
  --data.test_features="$test")
run() {  # $1 name, then the launcher
  local name=$1; shift
  local t0; t0=$(date +%s.%N)
  "$@" "${rank_cmd[@]}" --output.model="$work/$name.kmpi" --output.metrics="$work/$name.jsonl" \
    > "$work/$name.log" 2>&1 || { tail -30 "$work/$name.log"; exit 1; }
  local wall; wall=$(python3 -c "import time; print(f'{time.time() - $t0:.0f}')")
  {
    echo "== $name: $rows rows, leaves <= $leaf rows, wall $wall s (load $(cut -d' ' -f1 /proc/loadavg))"
    grep -E "^rank [0-9]+ on|^tree:" "$work/$name.log"
  } | tee -a "$out"
  sed "s/^{/{\"run\": \"$name\", /" "$work/$name.jsonl" >> "$out.jsonl"
}
touch "$out" "$out.jsonl"
echo "xRFM scale run (bench/run_tree_scale.sh): $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB" | tee -a "$out"
runs=${RUNS:-shm nodes}
[[ " $runs " == *" shm "* ]] && run shm mpirun --timeout 7200 -np 2
if [[ " $runs " == *" nodes "* ]] && bash "$cluster" check; then
  cl=$work/cluster
  trap 'bash "$cluster" down "$cl"' EXIT
  bash "$cluster" up "$cl" 2
  run nodes bash "$cluster" mpirun "$cl" --timeout 7200 -np 2 --map-by ppr:1:node
  if cmp -s "$work/shm.kmpi" "$work/nodes.kmpi"; then
    echo "models of the two runs: identical" | tee -a "$out"
  else
    echo "models of the two runs: DIFFERENT" | tee -a "$out"
  fi
fi
