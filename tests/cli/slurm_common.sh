# Sourced by the Slurm tests (after tests/cli/common.sh): a real Slurm (22.05, Debian's slurm-wlm)
# started by the test, with every state, spool, log, pid and socket file in a short directory of its
# own under /run ($T; munge's in another), stopped by pid at the end (slurm_cleanup; the caller puts
# it in its EXIT trap, which keeps the logs in $WORK/slurm-logs). Not under $WORK: slurmd's PMIx
# socket lives in its spool directory and a UNIX socket path has at most 107 characters, which a
# build directory such as ~/projects/.../build-release/tests/cluster_x/slurm/spool/node1/ passes
# ("pmixp_usock_create_srv: UNIX socket path is too long"; the suite runs these tests from a
# work directory deeper than that, tests/CMakeLists.txt). Skips (exit 77, ctest: skipped) with one line where Slurm cannot run here.
#
#   slurm_check                          the tools, root and the munge user, or skip
#   slurm_start_munge                    munged with its own key and socket
#   slurm_write_conf HOST ADDR PORT1 PORT2 NODE_LINES PARTITION_NODES
#   slurm_start_ctld [PREFIX...]         slurmctld (PREFIX: a command that runs it on a node)
#   slurm_start_slurmd NAME [PREFIX...]  the slurmd of node NAME
#   slurm_wait_idle N                    until N nodes are idle, or skip
#   slurm_cmd CMD...                     a client command (through $SLURM_CLIENT, if set)
#   wait_job JOB LIMIT                   until JOB (all its array tasks) has left the queue
skip() { echo "SKIPPED: $*"; exit 77; }
slurm_check() {
  local tool
  for tool in munged slurmctld slurmd sbatch scontrol squeue scancel srun; do
    command -v "$tool" > /dev/null || skip "$tool not found (apt-get install slurm-wlm munge)"
  done
  [ "$(id -u)" -eq 0 ] || skip "starting slurmctld/slurmd needs root"
  id munge > /dev/null 2>&1 || skip "no 'munge' user (is the munge package installed?)"
}

T=$(mktemp -d /run/kmpi-slurm.XXXXXX)
mkdir -p "$T/state" "$T/spool"
chmod 755 "$WORK" "$T"
export SLURM_CONF=$T/slurm.conf
SLURM_CLIENT=()  # a prefix that runs client commands where slurmctld can be reached
slurm_pids=()    # the daemons this test started, stopped in reverse order
jobs_submitted=()
MUNGE_DIR=

slurm_cmd() { "${SLURM_CLIENT[@]}" "$@"; }

slurm_cleanup() {
  if [ ${#jobs_submitted[@]} -gt 0 ]; then
    slurm_cmd scancel --quiet "${jobs_submitted[@]}" 2> /dev/null || true
  fi
  local i p
  for ((i = ${#slurm_pids[@]} - 1; i >= 0; i--)); do
    p=${slurm_pids[$i]}
    kill "$p" 2> /dev/null || continue
    for _ in $(seq 50); do kill -0 "$p" 2> /dev/null || break; sleep 0.2; done
    kill -9 "$p" 2> /dev/null || true
  done
  [ -z "$MUNGE_DIR" ] || rm -rf "$MUNGE_DIR"
  mkdir -p "$WORK/slurm-logs" && cp "$T"/*.log "$WORK/slurm-logs/" 2> /dev/null || true
  # A slurmd's namespace may still hold its spool mounted for a moment: retry the removal.
  rm -rf "$T" 2> /dev/null || { sleep 1; rm -rf "$T" 2> /dev/null || true; }
}

# The pid a daemon wrote to file $1 (they daemonise, so $! is not theirs).
daemon_pid() {
  for _ in $(seq 50); do
    [ -s "$1" ] && { slurm_pids+=("$(cat "$1")"); return 0; }
    sleep 0.1
  done
  return 1
}

# munged runs as user munge, which must reach its socket: a checkout under a private directory
# (mktemp -d makes mode 700) would hide $WORK, so munge's files get a directory of their own;
# not in /tmp, which a node may have to itself.
slurm_start_munge() {
  MUNGE_DIR=$(mktemp -d /run/kmpi-munge.XXXXXX)
  chown munge: "$MUNGE_DIR"
  chmod 755 "$MUNGE_DIR"  # munged wants the socket dir executable by all
  dd if=/dev/urandom of="$MUNGE_DIR/munge.key" bs=1024 count=1 status=none
  chown munge: "$MUNGE_DIR/munge.key"
  chmod 400 "$MUNGE_DIR/munge.key"
  runuser -u munge -- munged --socket="$MUNGE_DIR/munge.sock" --key-file="$MUNGE_DIR/munge.key" \
    --pid-file="$MUNGE_DIR/munged.pid" --log-file="$MUNGE_DIR/munged.log" \
    --seed-file="$MUNGE_DIR/munged.seed" ||
    skip "munged did not start: $(tail -2 "$MUNGE_DIR/munged.log" 2> /dev/null)"
  daemon_pid "$MUNGE_DIR/munged.pid" || skip "munged wrote no pid file"
}

# $1/$2 = slurmctld's host name and address, $3/$4 = its and slurmd's ports, $5 = the NodeName
# lines, $6 = the partition's nodes; $SLURM_EXTRA_CONF = more lines. Each slurmd's spool, pid and
# log file is its node's own (%n).
slurm_write_conf() {
  cat > "$SLURM_CONF" << EOF
ClusterName=kmpitest
SlurmctldHost=$1($2)
SlurmctldPort=$3
SlurmdPort=$4
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again (default 120 s).
AuthInfo=socket=$MUNGE_DIR/munge.sock,cred_expire=5
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool/%n
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd-%n.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/builtin
# The main scheduling loop every 2 s (default 60 s): a requeued job starts once its begin time
# (cred_expire + 1 s) has passed, not up to a minute later.
SchedulerParameters=sched_interval=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=pmix
SlurmdParameters=config_overrides
EnforcePartLimits=ALL
ReturnToService=2
KillWait=10
MinJobAge=600
${SLURM_EXTRA_CONF:-}
$5
PartitionName=test Nodes=$6 Default=YES MaxTime=INFINITE State=UP
EOF
}

slurm_start_ctld() {
  "$@" slurmctld -f "$SLURM_CONF" ||
    skip "slurmctld did not start: $(tail -3 "$T/slurmctld.log" 2> /dev/null)"
  daemon_pid "$T/slurmctld.pid" ||
    skip "slurmctld did not start: $(tail -3 "$T/slurmctld.log" 2> /dev/null)"
}

slurm_start_slurmd() {
  local name=$1
  shift
  mkdir -p "$T/spool/$name"
  "$@" slurmd -f "$SLURM_CONF" -N "$name" ||
    skip "slurmd $name did not start: $(tail -3 "$T/slurmd-$name.log" 2> /dev/null)"
  daemon_pid "$T/slurmd-$name.pid" ||
    skip "slurmd $name did not start: $(tail -3 "$T/slurmd-$name.log" 2> /dev/null)"
}

slurm_wait_idle() {
  for _ in $(seq 60); do
    [ "$(slurm_cmd sinfo -h -N -t idle -o %N 2> /dev/null | wc -l)" -ge "$1" ] && return 0
    sleep 0.5
  done
  skip "the Slurm nodes did not become idle: $(slurm_cmd sinfo -N 2>&1 | tail -2 | tr '\n' ' ')"
}

wait_job() {
  local t0=$SECONDS
  while [ -n "$(slurm_cmd squeue -h -j "$1" 2> /dev/null)" ]; do
    [ $((SECONDS - t0)) -lt "$2" ] ||
      { slurm_cmd scontrol show job "$1"; fail "job $1 still queued after $2 s"; }
    sleep 1
  done
}
# A wrapper script (on stdout) that runs $KMPI with run.step_delay_ms=$1 on a job's first run only
# (the result does not change), so a signal lands mid-run; a requeued run goes at full speed.
first_run_slow() {
  printf '%s\n' '#!/bin/bash' \
    "if [ \"\${SLURM_RESTART_COUNT:-0}\" -eq 0 ]; then exec \"$KMPI\" \"\$@\" --run.step_delay_ms=$1; fi" \
    "exec \"$KMPI\" \"\$@\""
}
# Job $1 (train.sbatch, output kmpi-train-$1.out, model run-$1/model.kmpi) was signalled with
# USR1, checkpointed, requeued, resumed and finished with reference.kmpi's model, byte for byte.
# Leaves `scontrol show job` in job.txt; sets RESTARTS.
expect_requeued_resumed() {
  local job=$1 out=kmpi-train-$1.out
  slurm_cmd scontrol show job "$job" > job.txt
  cat "$out"
  grep -q "JobState=COMPLETED" job.txt || { cat job.txt; fail "job $job did not complete"; }
  RESTARTS=$(sed -n 's/.*Restarts=\([0-9]*\).*/\1/p' job.txt)
  [ "${RESTARTS:-0}" -ge 1 ] || fail "job $job was never requeued"
  grep -q "received USR1, forwarding" "$out" || fail "the batch shell got no USR1"
  grep -q "stopped on signal 10 after writing a checkpoint" "$out" ||
    fail "kmpi did not checkpoint on the signal"
  grep -q "requeueing job $job" "$out" || fail "no requeue"
  grep -q "resuming from" "$out" || fail "the requeued job did not resume"
  cmp "run-$job/model.kmpi" reference.kmpi ||
    fail "job $job's model (signalled, requeued, resumed) differs from the uninterrupted run"
}
