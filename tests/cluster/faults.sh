#!/usr/bin/env bash
# Faults on a 2-node cluster (2 ranks per node over TCP), EigenPro 2 on 2000 Fashion-MNIST rows,
# 3 epochs of 18 steps, a checkpoint every 0.5 s. Each fault hits node2 while node1 runs mpirun;
# the job must end by itself within a bound, leave no kmpi process on either node, and a resumed
# run (run.resume=auto, same 2 x 2 ranks) must give the model of the uninterrupted run, bit for
# bit, so the last checkpoint was intact. Prints the time from the fault to the job's end.
#  - cut: node2's cable pulled (its veth's bridge end down). Open MPI's keepalive on the orted's
#    connection to mpirun (oob_tcp_keepalive_* = 5 s idle + 3 x 2 s here) ends the job;
#    run.stall_timeout is longer (30 s) on purpose: see tests/cluster/README.md.
#  - frozen: a rank on node2 stopped (SIGSTOP: a hung node, a process stuck in the kernel); the
#    network still works, so only kmpi's watchdog (run.stall_timeout = 10) sees it: exit code 4.
#  - kill -9 of a rank on node2: the orted there reports it, mpirun ends the job.
#  - the disk fills while a checkpoint is written (the checkpoint dir a tmpfs with room for about
#    1.5 checkpoints): one line, exit code 1, the previous checkpoint intact and no temporary
#    left; with room again, the run resumes from it to the same model. A model that does not fit
#    its file system: one line, exit code 1, no model or metrics file (not even a temporary).
source "$(dirname "$0")/common.sh"
export KMPI_CLUSTER_KEEPALIVE="5 2 3"
fault_run_ini > ck.ini
cluster_run 2 "$KMPI" train --config ck.ini --output.model=ref.kmpi > ref.log 2>&1 ||
  { cat ref.log; fail "uninterrupted run"; }

# Resumes the run of checkpoint dir $1 on the cluster and compares with the uninterrupted model.
expect_resume_equal() {
  cluster_run 2 "$KMPI" train --config ck.ini --output.model="$1.kmpi" --run.checkpoint_dir="$1" \
    --run.resume=auto > "$1-resume.log" 2>&1 || { cat "$1-resume.log"; fail "$1: resume failed"; }
  grep -q "resuming" "$1-resume.log" || { cat "$1-resume.log"; fail "$1: did not resume"; }
  cmp ref.kmpi "$1.kmpi" || fail "$1: the resumed model differs from the uninterrupted one"
}
# Starts the run with checkpoint dir $1 (further options after it) and returns once a
# checkpoint exists and the run is a second further.
start_and_checkpoint() {
  local dir=$1; shift
  start_cluster_train 2 --config ck.ini --output.model="$dir-unfinished.kmpi" \
    --run.checkpoint_dir="$dir" --run.checkpoint_every=0.5 --run.step_delay_ms=100 "$@"
  wait_for_file "$dir/checkpoint.kmpi"
  sleep 1
}

# 1. The network of node2 cut mid-epoch.
start_and_checkpoint cut --run.stall_timeout=30
t0=$(date +%s.%N)
bash "$CLUSTER" cut "$CL" 2
wait_bounded 60 "$t0"
echo "cut: the job ended $SECS s after node2's network was cut, exit code $RC"
[ "$RC" -ne 0 ] || fail "cut: exit code 0"
grep -q "lost communication with a remote daemon" bg.log || { cat bg.log; fail "cut: not ended by the keepalive"; }
bash "$CLUSTER" heal "$CL" 2
expect_no_ranks_left 30 cut
[ ! -e cut-unfinished.kmpi ] || fail "cut: an interrupted run wrote the model"
expect_resume_equal cut

# 2. A rank on node2 frozen.
start_and_checkpoint frozen --run.stall_timeout=10
pid=$(node_rank_pid 2 3)
[ -n "$pid" ] || fail "frozen: no rank 3 on node2"
t0=$(date +%s.%N)
kill -STOP "$pid"
wait_bounded 60 "$t0"
echo "frozen: the job ended $SECS s after rank 3 on node2 was stopped, exit code $RC"
[ "$RC" -eq 4 ] || { cat bg.log; fail "frozen: exit code $RC, expected 4 (the watchdog)"; }
grep "no progress for 10 s" bg.log | head -1
expect_no_ranks_left 30 frozen
expect_resume_equal frozen

# 3. kill -9 of a rank on node2.
start_and_checkpoint killed
pid=$(node_rank_pid 2 3)
[ -n "$pid" ] || fail "killed: no rank 3 on node2"
t0=$(date +%s.%N)
kill -9 "$pid"
wait_bounded 60 "$t0"
echo "kill -9: the job ended $SECS s after rank 3 on node2 was killed, exit code $RC"
[ "$RC" -ne 0 ] || fail "kill -9: exit code 0"
expect_no_ranks_left 30 "kill -9"
expect_resume_equal killed

# 4. The disk fills while a checkpoint is written.
size=$(stat -c %s cut/checkpoint.kmpi)
mkdir small
if ! mount -t tmpfs -o size=$((size * 3 / 2 / 4096 * 4096)) kmpi-cluster-test small 2> mount.err; then
  echo "disk full: skipped (mount -t tmpfs failed here: $(head -1 mount.err))"
  echo "faults: ok"
  exit 0
fi
trap 'umount "$WORK/small" "$WORK/tiny" 2> /dev/null; bash "$CLUSTER" down "$CL"' EXIT
rc=0
cluster_run 2 "$KMPI" train --config ck.ini --output.model=full.kmpi --run.checkpoint_dir=small \
  --run.checkpoint_every=0 > full.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat full.log; fail "disk full: exit code $rc, expected 1"; }
[ "$(grep -c "^kmpi: error" full.log)" -eq 1 ] || { cat full.log; fail "disk full: not one line"; }
grep "^kmpi: error" full.log
grep -q "No space left on device" full.log || fail "disk full: the line does not say so"
[ "$(ls small)" = checkpoint.kmpi ] || { ls -l small; fail "disk full: more than the checkpoint left"; }
[ ! -e full.kmpi ] || fail "disk full: a model was written"
last=$(grep "^checkpoint: " full.log | tail -1)
echo "disk full: the last checkpoint kept: ${last#checkpoint: }"
mount -o remount,size=16m small
cluster_run 2 "$KMPI" train --config ck.ini --output.model=full.kmpi --run.checkpoint_dir=small \
  --run.resume=require > full-resume.log 2>&1 || { cat full-resume.log; fail "disk full: resume"; }
grep resuming full-resume.log
cmp ref.kmpi full.kmpi || fail "disk full: the resumed model differs from the uninterrupted one"
# The model (and metrics) on a file system too small for the model: one line, nothing left.
mkdir tiny
mount -t tmpfs -o size=1m kmpi-cluster-test tiny
rc=0
cluster_run 2 "$KMPI" train --config ck.ini --output.model=tiny/m.kmpi --output.metrics=tiny/m.jsonl \
  > tiny.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat tiny.log; fail "model disk full: exit code $rc, expected 1"; }
[ "$(grep -c "^kmpi: error" tiny.log)" -eq 1 ] || { cat tiny.log; fail "model disk full: not one line"; }
grep "^kmpi: error" tiny.log
[ -z "$(ls tiny)" ] || { ls -l tiny; fail "model disk full: files left: $(ls tiny)"; }
echo "faults: ok"
