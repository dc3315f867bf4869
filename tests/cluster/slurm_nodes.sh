#!/usr/bin/env bash
# Slurm across two nodes (slurm_common.sh: a slurmd per node namespace, slurmctld on node1):
#  1. srun -N 2 places 2 tasks on each node.
#  2. slurm/train.sbatch with -N 2 --ntasks-per-node=2: signalled as Slurm signals it before the
#     time limit (USR1 to the batch shell, here by scancel --signal=USR1 --batch mid-run), kmpi
#     checkpoints and exits 3, the script requeues the job, the requeued job resumes on the two
#     nodes and finishes: its model is byte-for-byte the uninterrupted run's at 4 ranks.
#  3. run.memory_limit=auto is taken per node: at 2 + 1 ranks on two nodes each rank may use
#     available / 2, against available / 3 with the same 3 ranks on one node.
#  4. Paths only one node has (its local scratch): a checkpoint directory, and training data, on
#     node1's local scratch end a 2-node job with one line naming the path, exit code 1, and
#     nothing left there.
source "$(dirname "$0")/common.sh"
source "$SRC/tests/cluster/slurm_common.sh"

# 1. Placement.
placed=$(slurm_cmd srun -N 2 --ntasks-per-node=2 hostname | sort | uniq -c | tr -s ' ' | tr '\n' ,)
[ "$placed" = " 2 node1, 2 node2," ] || fail "srun -N 2 --ntasks-per-node=2 placed: $placed"
echo "srun -N 2 --ntasks-per-node=2: 2 tasks on node1, 2 on node2"

# 2. train.sbatch across the two nodes: signalled, checkpointed, requeued, resumed.
slurm_train_ini 1000 4 > train.ini
# The first run is slowed down (run.step_delay_ms; the result does not change) so the signal
# lands mid-run; the requeued run goes at full speed.
first_run_slow 300 > kmpi-first-run-slow
chmod +x kmpi-first-run-slow
job=$(KMPI=$WORK/kmpi-first-run-slow CONFIG=$WORK/train.ini submit_train -N 2 \
  --ntasks-per-node=2) || fail "sbatch train.sbatch -N 2 failed"
jobs_submitted+=("$job")
echo "submitted train.sbatch -N 2 --ntasks-per-node=2 as job $job"
run 4 train --config train.ini --output.model=reference.kmpi > reference.log 2>&1 ||
  { cat reference.log; fail "the uninterrupted run at 4 ranks"; }
# Mid-run: once the job has reported its first epoch (4 epochs of 10 steps of 0.3 s).
for _ in $(seq 600); do
  grep -q "^epoch 1 " "kmpi-train-$job.out" 2> /dev/null && break
  sleep 0.1
done
grep -q "^epoch 1 " "kmpi-train-$job.out" || { cat "kmpi-train-$job.out"; fail "job $job made no progress"; }
slurm_cmd scancel --signal=USR1 --batch "$job"
t0=$(date +%s.%N)
wait_job "$job" 240
expect_requeued_resumed "$job"
grep -q " NodeList=node\[1-2\]" job.txt || { cat job.txt; fail "job $job did not run on both nodes"; }
echo "train.sbatch -N 2: checkpointed on USR1, requeued $RESTARTS time(s), resumed across the" \
  "two nodes, finished $(seconds_since "$t0") s after the signal; model identical to 4 ranks on one node"

# 3. The memory limit per node.
placed=$(slurm_cmd srun -N 2 -n 3 hostname | sort | uniq -c | tr -s ' ' | tr '\n' ,)
[ "$placed" = " 2 node1, 1 node2," ] || fail "srun -N 2 -n 3 placed: $placed"
limit_of() { sed -n 's/.*limit (run.memory_limit): \([0-9.e+]*\) GiB.*/\1/p' "$1"; }
slurm_cmd srun -N 2 -n 3 "$KMPI" train --config train.ini --dry-run > plan-nodes.log 2>&1 ||
  { cat plan-nodes.log; fail "dry run at 2 nodes"; }
run 3 train --config train.ini --dry-run > plan-one.log 2>&1 ||
  { cat plan-one.log; fail "dry run at 3 ranks on one node"; }
ln=$(limit_of plan-nodes.log)
l1=$(limit_of plan-one.log)
[ -n "$ln" ] && [ -n "$l1" ] || { cat plan-nodes.log plan-one.log; fail "no memory limit printed"; }
ratio=$(python3 -c "print(f'{$l1 / $ln:.3f}')")
echo "memory limit per rank: $ln GiB at 2 + 1 ranks on two nodes, $l1 GiB at 3 ranks on one node" \
  "(ratio $ratio, expected 2/3: each node divides its own memory by its own ranks)"
python3 -c "assert abs($l1 / $ln - 2 / 3) < 0.04" || fail "the memory limit is not taken per node"

# 4. Paths that only node1 has. The checkpoint directory:
expect_one_line() {  # $1 = log, $2 = exit code, $3 = what
  [ "$2" -eq 1 ] || { cat "$1"; fail "$3: exit code $2, expected 1"; }
  [ "$(grep -c "^kmpi: error" "$1")" -eq 1 ] || { cat "$1"; fail "$3: not one error line"; }
  echo "$3: $(grep "^kmpi: error" "$1")"
}
rc=0
slurm_cmd srun -N 2 --ntasks-per-node=2 "$KMPI" train --config train.ini --output.model=local.kmpi \
  --run.checkpoint_dir="$LOCAL/ck" --run.checkpoint_every=0 > local-ck.log 2>&1 || rc=$?
expect_one_line local-ck.log "$rc" "checkpoint dir on node1's local scratch"
grep "^kmpi: error" local-ck.log | grep -q "$LOCAL/ck.*every node shares" ||
  fail "the line does not name the path and the cause"
[ -d "$(on_node_path 1 "$LOCAL/ck")" ] || fail "rank 0 did not make the directory on node1"
[ ! -e "$(on_node_path 2 "$LOCAL/ck")" ] || fail "node2 sees node1's local scratch"
left=$(ls -A "$(on_node_path 1 "$LOCAL/ck")")
[ -z "$left" ] || fail "files left in node1's checkpoint dir: $left"
[ ! -e local.kmpi ] || fail "a model was written"
# The training data:
slurm_cmd srun -N 1 -w node1 cp "$FM/train-images-idx3-ubyte.gz" "$FM/train-labels-idx1-ubyte.gz" \
  "$LOCAL/"
rc=0
slurm_cmd srun -N 2 --ntasks-per-node=2 "$KMPI" train --config train.ini --output.model=local.kmpi \
  --data.train_features="$LOCAL/train-images-idx3-ubyte.gz" \
  --data.train_labels="$LOCAL/train-labels-idx1-ubyte.gz" > local-data.log 2>&1 || rc=$?
expect_one_line local-data.log "$rc" "training data on node1's local scratch only"
grep "^kmpi: error" local-data.log | grep -q "$LOCAL/train-" || fail "the line does not name the file"
[ ! -e local.kmpi ] || fail "a model was written"
echo "slurm_nodes: ok"
