# Sourced by the cluster tests: $1 = kmpi binary, $2 = source dir, $3 = scratch dir, $4 = the MPI
# test binary. Brings up a cluster of $CLUSTER_NODES (default 2) nodes in $WORK/cluster and tears
# it down when the script ends, however it ends (a cluster left by a killed earlier run in the same
# scratch dir is torn down first). Exits 77 (ctest: skipped) with one line where this machine
# cannot make network namespaces.
CLUSTER="$2/tests/cluster/cluster.sh"
bash "$CLUSTER" down "$3/cluster" 2> /dev/null || true
bash "$CLUSTER" check || exit $?
source "$2/tests/cli/common.sh"
MPI_TESTS=${4:-}
CL=$WORK/cluster
trap 'bash "$CLUSTER" down "$CL"' EXIT
bash "$CLUSTER" up "$CL" "${CLUSTER_NODES:-2}"
# mpirun over the cluster, $1 ranks per node on every node, then the program and its arguments.
cluster_run() {
  local per_node=$1; shift
  bash "$CLUSTER" mpirun "$CL" --timeout 300 -np $((per_node * ${CLUSTER_NODES:-2})) \
    --map-by ppr:"$per_node":node "$@"
}
# Seconds since $1 (a `date +%s.%N`), one decimal.
seconds_since() { python3 -c "import time; print(f'{time.time() - $1:.1f}')"; }
