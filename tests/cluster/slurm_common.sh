# Sourced by the cluster Slurm tests, after common.sh (the cluster is up): a Slurm across the
# nodes. slurmctld runs on node1 (as on a login/head node that is also a compute node), one
# slurmd per node with its own NodeName and NodeAddr (its node's address), each inside its node's
# network and UTS namespaces and in a mount namespace of its own where $LOCAL, a tmpfs, is that
# node's local scratch: a file written there on node1 is not there on node2. Client commands run
# on node1 (slurm_cmd). munged is shared (its socket is a file, which namespaces do not hide).
source "$SRC/tests/cli/slurm_common.sh"
slurm_check
# A rank that crashes leaves a core in its working directory ($WORK; core_pattern permitting);
# its backtrace is printed when the test ends.
ulimit -c unlimited 2> /dev/null || true
print_cores() {
  local core
  for core in $(find "$WORK" -maxdepth 2 -name 'core*' -type f 2> /dev/null); do
    echo "a process crashed: $core"
    command -v gdb > /dev/null &&
      gdb -batch -ex 'info registers rip rsp' -ex 'x/4gx $rsp' -ex 'thread apply all bt 30' "$KMPI" "$core" 2>&1 | grep -v "^\[New LWP" | head -120
  done
}
trap 'print_cores; slurm_cleanup; bash "$CLUSTER" down "$CL"' EXIT
NODES=${CLUSTER_NODES:-2}
LOCAL=$WORK/local
mkdir -p "$LOCAL"
slurm_start_munge
node_lines=""
for i in $(seq "$NODES"); do
  node_lines+="NodeName=node$i NodeAddr=10.213.7.$((10 + i)) CPUs=4 State=UNKNOWN"$'\n'
done
# A node that stops answering is DOWN after SlurmdTimeout (default 300 s); its jobs are requeued
# (--requeue) or fail.
SLURM_EXTRA_CONF="SlurmdTimeout=${SLURMD_TIMEOUT:-20}
TmpFS=$LOCAL" slurm_write_conf node1 10.213.7.11 6817 6818 \
  "$node_lines" "node[1-$NODES]"
on_node() { local i=$1; shift; bash "$CLUSTER" exec "$CL" "$i" "$@"; }
# Client commands run on node1; the jobs and steps they start take their environment, where MPI
# talks TCP between nodes and shared memory inside one. Each command's steps listen on ports from
# a random base (btl_tcp_port_min_v4; Open MPI's default 1024 gives every step the same ports): a
# rank of Open MPI 4.1.4 segfaulted inside MPI_Init, in the TCP BTL calling an unregistered
# active-message callback, in 4 of 140 back-to-back steps on the loaded machine, each time right
# after another short step on the same ports; with a random base 0 of 80 (tests/cluster/README.md).
on_node1_tcp() {
  OMPI_MCA_btl=tcp,vader,self OMPI_MCA_btl_tcp_if_include=10.213.7.0/24 \
    OMPI_MCA_btl_tcp_port_min_v4=$((20000 + RANDOM % 30000)) bash "$CLUSTER" exec "$CL" 1 "$@"
}
SLURM_CLIENT=(on_node1_tcp)
slurm_start_ctld on_node 1
for i in $(seq "$NODES"); do
  # The node's local scratch: a tmpfs mounted in the slurmd's own mount namespace, inherited by
  # the job steps it starts.
  slurm_start_slurmd "node$i" on_node "$i" unshare --mount --propagation private /bin/sh -c \
    'mount -t tmpfs -o size=256m kmpi-node-local "$0" && mount -t tmpfs -o mode=755 kmpi-cgroup /sys/fs/cgroup && mkdir /sys/fs/cgroup/systemd && mount -t cgroup -o none,name=systemd kmpi-cgroup /sys/fs/cgroup/systemd && exec "$@"' "$LOCAL"
done
slurm_wait_idle "$NODES"
echo "slurm up on the cluster: $(slurm_cmd sinfo -h -N -o '%N %t %c' | tr '\n' ' ')"
# The pid of node $1's slurmd (whose /proc/PID/root shows that node's local scratch).
slurmd_pid() { cat "$T/slurmd-node$1.pid"; }
# Node $1's view of path $2 (under $LOCAL).
on_node_path() { echo "/proc/$(slurmd_pid "$1")/root$2"; }
# Submits slurm/train.sbatch (sbatch options, then --export'ed variables via the environment);
# prints the job id.
submit_train() {
  slurm_cmd sbatch --parsable --chdir="$WORK" "$@" "$SRC/slurm/train.sbatch"
}
