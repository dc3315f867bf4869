# Sourced by the cluster tests: $1 = kmpi binary, $2 = source dir, $3 = scratch dir, $4 = the MPI
# test binary. Brings up a cluster of $CLUSTER_NODES (default 2) nodes in $WORK/cluster and tears
# it down when the script ends, however it ends (a cluster left by a killed earlier run in the same
# scratch dir is torn down first). Exits 77 (ctest: skipped) with one line where this machine
# cannot make network namespaces.
CLUSTER="$2/tests/cluster/cluster.sh"
bash "$CLUSTER" down "$3/cluster" 2> /dev/null || true
bash "$CLUSTER" check || exit $?
# A small file system a killed earlier run left mounted in the scratch dir (faults.sh).
for m in $(findmnt -rn -o TARGET | grep "^$3/" || true); do umount "$m" || true; done
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
# Starts a background training run over the cluster ($1 = ranks per node, rest = kmpi train
# options) logging to bg.log; sets BG to the pid of the cluster's mpirun wrapper.
start_cluster_train() {
  local per_node=$1; shift
  : > bg.log
  cluster_run "$per_node" "$KMPI" train "$@" > bg.log 2>&1 & BG=$!
}
# The pid of world rank $2 running on node $1 (empty if there is none), started by mpirun or by
# srun.
node_rank_pid() {
  local ns pid
  ns=$(cat "$CL/prefix")-n$1
  for pid in $(ip netns pids "$ns"); do
    [ "$(cat /proc/"$pid"/comm 2> /dev/null)" = kmpi ] || continue
    # grep -z reads the NUL-separated environ itself: a `tr | grep -q` pipe here died of SIGPIPE
    # (pipefail) when grep stopped reading an environment larger than tr's buffer, and the
    # caller's `pid=$(...)` then ended the script under set -e without a word.
    grep -qxzE "(OMPI_COMM_WORLD_RANK|SLURM_PROCID)=$2" /proc/"$pid"/environ 2> /dev/null &&
      { echo "$pid"; return 0; }
  done
  return 0
}
# The kmpi processes left on node $1 (their pids, space separated).
node_kmpi_pids() {
  local pid
  for pid in $(ip netns pids "$(cat "$CL/prefix")-n$1"); do
    [ "$(cat /proc/"$pid"/comm 2> /dev/null)" = kmpi ] && printf '%s ' "$pid"
  done
  true
}
# Waits for the background run BG to end, at most $1 s after the fault injected at $2 (a
# `date +%s.%N`); sets RC and SECS (the time from the fault to the end). Past the bound the run
# is killed and the test fails: the fault hung the job.
wait_bounded() {
  local bound=$1 t0=$2
  for _ in $(seq $((bound * 10))); do kill -0 "$BG" 2> /dev/null || break; sleep 0.1; done
  if kill -0 "$BG" 2> /dev/null; then
    cat bg.log; kill -9 "$BG"; fail "the job still ran $bound s after the fault"
  fi
  RC=0; wait "$BG" || RC=$?
  SECS=$(seconds_since "$t0")
}
# Waits until file $1 exists (at most 60 s).
wait_for_file() { for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.1; done; fail "no $1"; }
# No kmpi process left on either node, at most $1 s after the job ended.
expect_no_ranks_left() {
  local left
  for _ in $(seq $(($1 * 10))); do
    left="$(node_kmpi_pids 1)$(node_kmpi_pids 2)"
    [ -z "$left" ] && return 0
    sleep 0.1
  done
  ps -o pid,stat,cmd -p "${left// /,}" || true
  fail "$2: kmpi processes left after the job ended: $left"
}
# The run the fault tests interrupt: EigenPro 2 on 2000 Fashion-MNIST rows (10% validation),
# 3 epochs of 18 steps.
fault_run_ini() {
  fmnist_data_ini 2000 "validation_fraction = 0.1"
  gaussian_kernel_ini
  printf '%s\n' "[solver]" "name = eigenpro2" "epochs = 3" "nystrom_samples = 300" \
    "batch_size = 100"
}
