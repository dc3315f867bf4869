#!/usr/bin/env bash
# slurm/*.sbatch on a real Slurm (22.05, Debian's slurm-wlm) started on this machine: munged,
# slurmctld and slurmd with every state, spool, log, pid and socket file in the scratch dir,
# stopped by PID at the end.
#  1. train.sbatch with a 1-minute time limit and --signal=B:USR1@50: Slurm signals the batch
#     shell, which forwards to srun; kmpi checkpoints and exits 3; the script requeues the job;
#     the requeued run resumes (run.resume=auto) and finishes. The model must be bit-identical to
#     an uninterrupted 2-rank run. (run.step_delay_ms stretches the first run's 60 tiny steps
#     to ~55 s so the signal, sent at the first 30-s time-limit check after 10 s, lands mid-run.)
#  2. sweep.sbatch as a 3-task array (bandwidths 3, 5, 8); collect_sweep.py makes one table.
# If Slurm is not installed or its daemons do not come up, the test is SKIPPED (exit 77, which
# ctest reports as skipped), with the reason.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/slurm_common.sh"
slurm_check
trap slurm_cleanup EXIT
slurm_start_munge
# Free TCP ports for this instance (another test run may use the defaults).
read -r port1 port2 < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
)
slurm_write_conf localhost 127.0.0.1 "$port1" "$port2" "NodeName=localhost CPUs=4 State=UNKNOWN" \
  localhost
slurm_start_ctld
slurm_start_slurmd localhost
slurm_wait_idle 1
echo "slurm up: $(sinfo -h -o '%P %t %c CPUs')"

# 1. Train with a time limit short enough that Slurm signals it.
slurm_train_ini 1000 6 > train.ini
# The job's first run is slowed down (run.step_delay_ms; the result does not change) so that the
# signal, which comes 10-40 s into the run, lands mid-run; the requeued run goes at full speed.
first_run_slow 900 > kmpi-first-run-slow
chmod +x kmpi-first-run-slow
job=$(KMPI=$WORK/kmpi-first-run-slow CONFIG=$WORK/train.ini \
  sbatch --parsable --ntasks-per-node=2 --time=1 --signal=B:USR1@50 --chdir="$WORK" \
  "$SRC/slurm/train.sbatch") || fail "sbatch train.sbatch failed"
jobs_submitted+=("$job")
echo "submitted train.sbatch as job $job"
# The uninterrupted reference, meanwhile (the job sleeps most of the time).
run 2 train --config train.ini --output.model=reference.kmpi > reference.log
wait_job "$job" 420
expect_requeued_resumed "$job"
echo "job $job: $(grep -o 'JobState=[A-Z]* Reason=[^ ]*' job.txt), restarts $RESTARTS"
echo "train.sbatch: checkpointed on Slurm's signal, requeued $RESTARTS time(s), resumed, model bit-identical"

# 2. A 3-task sweep array.
{ fmnist_data_ini 1000 "validation_fraction = 0.2"; cat <<EOF
[solver]
name = eigenpro2
epochs = 2
nystrom_samples = 200
EOF
} > sweep.ini
sweep=$(KMPI=$KMPI CONFIG=$WORK/sweep.ini SWEEP_BANDWIDTHS="3 5 8" SWEEP_RIDGES=1e-8 \
  SWEEP_DIR=$WORK/sweep sbatch --parsable --array=0-2 --ntasks=1 --chdir="$WORK" \
  "$SRC/slurm/sweep.sbatch") || fail "sbatch sweep.sbatch failed"
jobs_submitted+=("$sweep")
wait_job "$sweep" 180
python3 "$SRC/scripts/collect_sweep.py" sweep --csv sweep.csv | tee table.txt ||
  { cat kmpi-sweep-*.out; fail "collect_sweep.py: not every task finished"; }
python3 - <<'PY' || fail "the sweep table is wrong"
import csv
rows = list(csv.DictReader(open("sweep.csv")))
assert [r["kernel.bandwidth"] for r in rows] == ["3", "5", "8"], rows
for r in rows:
    assert r["status"] == "done" and int(r["epochs"]) >= 1, r
    assert 0.5 < float(r["validation_accuracy"]) <= 1, r
PY
echo "slurm: ok"
