#!/usr/bin/env bash
# Faults under Slurm across two nodes (slurm_common.sh), each on slurm/train.sbatch -N 2
# --ntasks-per-node=2 checkpointing every 0.5 s with run.stall_timeout = 10. Under srun there is
# no orted and no out-of-band keepalive: what ends a job is srun (a task that exits), kmpi's
# watchdog (a peer that stops answering) and slurmctld (a node that stops answering, after
# SlurmdTimeout = 20 s here). Each job must leave the running state within a bound, leave no
# kmpi process on either node, and the job (requeued or resubmitted on the same checkpoint
# directory) must end with the uninterrupted run's model, byte for byte.
#  1. kill -9 of a rank on node2: srun's --kill-on-bad-exit ends the step, the job fails (a
#     crash is not requeued); a resubmitted job resumes.
#  2. node2's network cut mid-epoch: the watchdog ends the ranks on both sides; slurmctld marks
#     node2 down and requeues the job (--requeue), or the job fails first (the batch script saw
#     srun exit); once the network is back, the requeued job, or a resubmitted one, resumes.
#  3. A requeue onto a changed config (the same checkpoint directory, other options): refused in
#     one line, exit code 1, the job not requeued again, the checkpoint untouched.
source "$(dirname "$0")/common.sh"
source "$SRC/tests/cluster/slurm_common.sh"

slurm_train_ini 1000 4 > train.ini
run 4 train --config train.ini --output.model=reference.kmpi > reference.log 2>&1 ||
  { cat reference.log; fail "the uninterrupted run at 4 ranks"; }
cat > kmpi-slow << EOF
#!/bin/bash
exec "$KMPI" "\$@" --run.step_delay_ms=\${STEP_DELAY_MS:-300}
EOF
chmod +x kmpi-slow
ckpt_args="--run.checkpoint_every=0.5"
# Submits train.sbatch -N 2 x 2 with run dir $1 (the checkpoint in $1/checkpoint); sets JOB.
submit_in() {
  JOB=$(KMPI=$WORK/kmpi-slow CONFIG=${CONFIG:-$WORK/train.ini} RUN_DIR=$WORK/$1 STALL_TIMEOUT=10 \
    EXTRA_ARGS=$ckpt_args submit_train -N 2 --ntasks-per-node=2 --output="$WORK/$1.out") ||
    fail "$1: sbatch failed"
  jobs_submitted+=("$JOB")
}
job_state() { slurm_cmd squeue -h -j "$1" -o %T 2> /dev/null; }
# Waits until job $1 is no longer RUNNING, at most $2 s after the fault at $3 (a date +%s.%N);
# sets SECS and STATE (PENDING after a requeue, empty once it left the queue).
wait_not_running() {
  local job=$1 bound=$2 t0=$3
  for _ in $(seq $((bound * 10))); do
    STATE=$(job_state "$job")
    [ "$STATE" = RUNNING ] || [ "$STATE" = COMPLETING ] || break
    sleep 0.1
  done
  SECS=$(seconds_since "$t0")
  [ "$STATE" != RUNNING ] || { cat "$WORK/$4.out"; fail "$4: job $job still running $bound s after the fault"; }
}
# Job $2 of run dir $1 ended: resubmits it on the same checkpoint directory unless it was
# requeued, waits for it to finish and compares its model with the uninterrupted run's.
expect_finished_equal() {
  local dir=$1 job=$2
  if [ -n "$(job_state "$job")" ]; then
    echo "$dir: job $job was requeued; waiting for it"
  else
    STEP_DELAY_MS=0 submit_in "$dir"
    job=$JOB
    echo "$dir: resubmitted as job $job"
  fi
  wait_job "$job" 240
  grep -q "resuming from" "$dir.out" || { cat "$dir.out"; fail "$dir: no resume"; }
  cmp "$dir/model.kmpi" reference.kmpi ||
    fail "$dir: the model after the fault and the resume differs from the uninterrupted run"
  echo "$dir: $(grep -c "resuming from" "$dir.out") resume(s), model identical to the uninterrupted run"
}

# 1. kill -9 of rank 3 (on node2).
submit_in killed
job=$JOB
wait_for_file killed/checkpoint/checkpoint.kmpi
sleep 1
pid=$(node_rank_pid 2 3)
[ -n "$pid" ] || fail "killed: no rank 3 on node2"
t0=$(date +%s.%N)
kill -9 "$pid"
wait_not_running "$job" 60 "$t0" killed
echo "kill -9 under srun: job $job left the running state $SECS s after rank 3 on node2 was killed" \
  "(state now: ${STATE:-ended})"
expect_no_ranks_left 30 "kill -9"
wait_job "$job" 60
grep "exit code" killed.out | tail -2
expect_finished_equal killed "$job"

# 2. node2's network cut mid-epoch.
submit_in cut
job=$JOB
wait_for_file cut/checkpoint/checkpoint.kmpi
sleep 1
t0=$(date +%s.%N)
bash "$CLUSTER" cut "$CL" 2
wait_not_running "$job" 120 "$t0" cut
echo "network cut under srun: job $job left the running state $SECS s after node2's network was cut" \
  "(state now: ${STATE:-ended})"
grep -h "no progress for 10 s" cut.out | head -2
grep -q "a peer made no progress for 10 s" cut.out || { cat cut.out; fail "cut: train.sbatch did not say so"; }
expect_no_ranks_left 30 "network cut"
slurm_cmd sinfo -h -N -o '%N %t' | tr '\n' ' '
echo
bash "$CLUSTER" heal "$CL" 2
expect_finished_equal cut "$job"

# 3. A requeue onto another config: the signalled job's config changes before it runs again.
sed 's/^bandwidth = 5$/bandwidth = 3/' train.ini > changed.ini
cp train.ini current.ini
CONFIG=$WORK/current.ini submit_in changed
job=$JOB
wait_for_file changed/checkpoint/checkpoint.kmpi
slurm_cmd scancel --signal=USR1 --batch "$job"
for _ in $(seq 300); do grep -q "requeueing job $job" changed.out && break; sleep 0.1; done
grep -q "requeueing job $job" changed.out || { cat changed.out; fail "changed: no requeue"; }
cp changed/checkpoint/checkpoint.kmpi before.kmpi
cp changed.ini current.ini  # the requeued run starts at least cred_expire (5 s) later
wait_job "$job" 120
slurm_cmd scontrol show job "$job" > changed-job.txt
grep -q "JobState=FAILED" changed-job.txt || { cat changed-job.txt changed.out; fail "changed: not failed"; }
[ "$(grep -c "^kmpi: error" changed.out)" -eq 1 ] || { cat changed.out; fail "changed: not one line"; }
grep "^kmpi: error" changed.out
grep -q "refusing to resume" changed.out || fail "changed: the line does not refuse the resume"
cmp before.kmpi changed/checkpoint/checkpoint.kmpi || fail "changed: the checkpoint was touched"
[ ! -e changed/model.kmpi ] || fail "changed: a model was written"
echo "changed config on a requeue: refused, job FAILED, checkpoint untouched"
echo "slurm_faults: ok"
