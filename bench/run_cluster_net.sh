#!/usr/bin/env bash
# Performance over the network (issue 13): the same 2 ranks over TCP between two "nodes" of
# tests/cluster/cluster.sh (network namespaces joined by veths and a bridge, 1 rank per node)
# and over shared memory on one node (plain mpirun, btl vader). For each of REPEATS rounds
# (default 3; the transports interleaved so drifting load on the shared machine hits both):
#   - the float32 GEMM rate of 2 ranks at once (kmpi_bench_gemm_rate, the EigenPro 2 step's shape)
#   - ping-pong 8 B .. 64 MiB and its alpha-beta fit (kmpi_bench_pingpong), shm and tcp, and the
#     three collectives of an EigenPro 2 step at the sizes STEP = m,d,c,q (default 2000,784,10,420:
#     the batch and q of EigenPro 2 on Fashion-MNIST)
#   - EigenPro 2 and eigenpro4 on ROWS Fashion-MNIST rows (default 20000), EPOCHS epochs (default
#     2; eigenpro4 with CENTERS centers, default 5000), shm and tcp; epoch times, bytes per step
#     (counted by kmpi's MPI layer) and, for EigenPro 2, the time in the step's collectives
# Every figure goes as one JSON line to $1 (default cluster_net.jsonl), tagged with the round,
# transport, solver, ROWS and the machine's load average; bench/comm_model.py --check reads it
# (runs at several ROWS may share one file: `cat` them). The models trained over both transports
# are compared byte for byte (the same rank count: they must be identical).
# Needs root (namespaces) and a Release build in BUILD (default build/; built here if missing).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-cluster_net.jsonl}")
rows=${ROWS:-20000}
epochs=${EPOCHS:-2}
centers=${CENTERS:-5000}
repeats=${REPEATS:-3}
max_bytes=${MAX_BYTES:-67108864}
step=${STEP:-2000,784,10,420}
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
cluster=$root/tests/cluster/cluster.sh
bash "$cluster" check
if [ ! -x "$build/kmpi" ] || [ ! -x "$build/bench/kmpi_bench_pingpong" ] ||
  [ ! -x "$build/bench/kmpi_bench_gemm_rate" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
  nice cmake --build "$build" -j "${JOBS:-1}" \
    --target kmpi kmpi_bench_pingpong kmpi_bench_gemm_rate > /dev/null
fi
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d)
cl=$work/cluster
trap 'bash "$cluster" down "$cl"; rm -rf "$work"' EXIT
bash "$cluster" up "$cl" 2
: > "$out"

# Appends the JSON lines of file $1 to $out with the fields of JSON object $2 added.
tag() {
  /usr/bin/python3 - "$1" "$2" "$out" << 'PY'
import json, os, sys
extra = json.loads(sys.argv[2])
extra["load1"] = os.getloadavg()[0]
with open(sys.argv[3], "a") as f:
    for line in open(sys.argv[1]):
        line = line.strip()
        if line.startswith("{"):
            f.write(json.dumps({**json.loads(line), **extra}) + "\n")
PY
}
# Runs ARGS... over transport $1: shm = 2 ranks on this machine, tcp = 1 rank on each node.
on() {
  local transport=$1; shift
  if [ "$transport" = shm ]; then
    mpirun --timeout 900 -np 2 "$@"
  else
    bash "$cluster" mpirun "$cl" --timeout 900 -np 2 --map-by ppr:1:node "$@"
  fi
}
train() {  # $1 transport, $2 solver, $3 round
  local t=$1 solver=$2 r=$3 extra=()
  [ "$solver" = eigenpro4 ] && extra=(--solver.centers="$centers")
  rm -f "$work/m.jsonl" "$work/$solver.$t.kmpi"
  on "$t" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" --solver.name="$solver" \
    --data.limit="$rows" --solver.epochs="$epochs" "${extra[@]}" \
    --output.model="$work/$solver.$t.kmpi" --output.metrics="$work/m.jsonl" > "$work/log" 2>&1 ||
    { cat "$work/log"; exit 1; }
  tag "$work/m.jsonl" "{\"round\": $r, \"transport\": \"$t\", \"run\": \"$solver\", \"rows\": $rows}"
}

cd "$work"
for r in $(seq "$repeats"); do
  mpirun -np 2 "$build/bench/kmpi_bench_gemm_rate" 5 float32 2000 4096 784 > gemm.json
  tag gemm.json "{\"round\": $r, \"transport\": \"shm\", \"run\": \"gemm\", \"rows\": $rows}"
  # Alternate which transport goes first.
  if [ $((r % 2)) = 1 ]; then order="shm tcp"; else order="tcp shm"; fi
  for t in $order; do
    on "$t" "$build/bench/kmpi_bench_pingpong" "$t" "$max_bytes" 0.3 "$step" > pp.jsonl
    tag pp.jsonl "{\"round\": $r, \"transport\": \"$t\", \"run\": \"pingpong\", \"rows\": $rows}"
  done
  for solver in eigenpro2 eigenpro4; do
    for t in $order; do train "$t" "$solver" "$r"; done
    cmp "$work/$solver.shm.kmpi" "$work/$solver.tcp.kmpi" ||
      { echo "run_cluster_net: $solver's models over shm and tcp differ" >&2; exit 1; }
  done
  echo "run_cluster_net: round $r of $repeats done (load $(cut -d' ' -f1 /proc/loadavg))"
done
echo "written $out"
