#!/usr/bin/env bash
# Checkpoint and resume of Falkon and EigenPro 4 end to end (tiny Fashion-MNIST subsets):
#    Falkon (1500 rows, p = 300, 12 CG iterations; the state is the CG iterate, residual,
#    direction and per-column scalars) and EigenPro 4 (1500 rows, p = 300, 3 epochs of 14 steps,
#    T = 3; checkpoints at projection boundaries, where the state is alpha and the counters).
#  - a checkpoint after every step does not change the model (bit-identical);
#  - SIGUSR1 to ONE rank mid-run (the log shows the solver running): exit code 3, a checkpoint,
#    no model; resuming at the same rank count gives a bit-identical model;
#  - SIGTERM to rank 3 of a 4-rank run, resume at 2: the same model within 1e-9 relative for
#    Falkon (float64 kernel here: the factors are recomputed on another BLACS grid, and 2 vs 4
#    uninterrupted runs differ by ~1e-12; with float32 tiles they differ by ~4e-4, as the small
#    ridge amplifies rounding) and 1e-4 for EigenPro 4 (float32 kernel blocks summed in another
#    order, as for EigenPro 2 in checkpoint_resume.sh; 2 vs 4 differ by ~2e-6 here);
#  - a checkpoint of other solver options, or of the other solver: a one-line refusal.
source "$(dirname "$0")/common.sh"
common_ini() { fmnist_data_ini 1500 "$@"; gaussian_kernel_ini; }  # $@ = further [data] lines
{ common_ini; cat <<EOF
[solver]
name = falkon
centers = 300
ridge = 1e-6
iterations = 12
tolerance = 0
precision = float64
EOF
} > falkon.ini
{ common_ini "validation_fraction = 0.1"; cat <<EOF
[solver]
name = eigenpro4
epochs = 3
centers = 300
nystrom_samples = 300
model_nystrom_samples = 150
batch_size = 100
projection_period = 3
EOF
} > eigenpro4.ini

wait_for_log() { for _ in $(seq 600); do grep -q "$1" bg.log && return 0; sleep 0.05; done; fail "no '$1'"; }
# Signal $3 to rank $4 once bg.log shows $2, expect exit code 3 and a checkpoint in dir $1.
interrupt() {
  local dir=$1 text=$2 sig=$3 rank=$4
  wait_for_log "$text"
  kill "-$sig" "$(rank_pid "$rank")"
  rc=0; wait "$BG" || rc=$?
  [ "$rc" -eq 3 ] || { cat bg.log; fail "$sig: exit code $rc, expected 3"; }
  grep "checkpoint: " bg.log
  [ -f "$dir/checkpoint.kmpi" ] || fail "$sig: no checkpoint"
}

for s in falkon eigenpro4; do
  if [ $s = falkon ]; then running="falkon: iteration 3,"; last="CG iteration 12 "; tol=1e-9
  else running="epoch 1:"; last="epoch 3, step 14 of 14"; tol=1e-4; fi
  run 2 train --config $s.ini --output.model=$s-ref2.kmpi > /dev/null
  run 4 train --config $s.ini --output.model=$s-ref4.kmpi > /dev/null
  expect_weights_close $s-ref2.kmpi $s-ref4.kmpi $tol

  # Checkpoints after every step leave the model unchanged.
  run 2 train --config $s.ini --output.model=$s-timer.kmpi --run.checkpoint_dir=$s-timer \
    --run.checkpoint_every=0 > timer.log
  cmp $s-ref2.kmpi $s-timer.kmpi || fail "$s: checkpointing changed the model"
  grep -q "checkpoint: $last" timer.log || fail "$s: no checkpoint after the last step"

  # SIGUSR1 to rank 1 only, mid-run; resume at 2 ranks.
  start_train $s.ini 2 --output.model=$s-sig.kmpi --output.metrics=$s-sig.jsonl \
    --run.checkpoint_dir=$s-sig --run.step_delay_ms=100
  interrupt $s-sig "$running" USR1 1
  [ ! -e $s-sig.kmpi ] || fail "$s: an interrupted run wrote the final model"
  grep -q '"event": "checkpointed", "signal": 10' $s-sig.jsonl || fail "$s: no checkpointed event"
  run 2 train --config $s.ini --output.model=$s-sig.kmpi --output.metrics=$s-sig.jsonl \
    --run.checkpoint_dir=$s-sig --run.resume=require | grep resuming
  cmp $s-ref2.kmpi $s-sig.kmpi || fail "$s: resume at 2 ranks is not bit-identical"

  # SIGTERM to rank 3 of 4; resume at 2 ranks.
  start_train $s.ini 4 --output.model=x.kmpi --run.checkpoint_dir=$s-four --run.step_delay_ms=100
  interrupt $s-four "$running" TERM 3
  run 2 train --config $s.ini --output.model=$s-four.kmpi --run.checkpoint_dir=$s-four \
    --run.resume=require | grep resuming
  expect_weights_close $s-ref2.kmpi $s-four.kmpi $tol
done
[ "$(grep -c '"epoch": ' eigenpro4-sig.jsonl)" -eq 3 ] || fail "eigenpro4: resumed metrics lack epochs"

expect_refusal falkon.ini "solver.centers = 200 here, 300 in the checkpoint" \
  --run.checkpoint_dir=falkon-timer --run.resume=auto --solver.centers=200
expect_refusal eigenpro4.ini "solver.projection_period = 2 here, 3 in the checkpoint" \
  --run.checkpoint_dir=eigenpro4-timer --run.resume=auto --solver.projection_period=2
expect_refusal eigenpro4.ini "written by solver falkon, this run uses eigenpro4" \
  --run.checkpoint_dir=falkon-timer --run.resume=require
# solver.projection = auto is resolved before the checkpoint's fingerprint: a resume whose memory
# limit makes auto choose the other projection is refused, not continued from the other's state
# (eigenpro4-timer resolved auto to cholesky; the limit here lies between the two plans' totals).
plan_total() {
  run 2 train --config eigenpro4.ini --dry-run --output.model=x.kmpi "$@" |
    sed -n 's/.*total per rank: \([0-9.e+-]*\) GiB.*/\1/p'
}
with=$(plan_total --solver.projection=cholesky --solver.factor_precision=float32)
without=$(plan_total --solver.projection=eigenpro2)
limit=$(python3 -c "w, o = $with, $without; assert o < w, (o, w); print(int((w + o) / 2 * 2**30))")
expect_refusal eigenpro4.ini "solver.projection = eigenpro2 here, cholesky in the checkpoint" \
  --run.checkpoint_dir=eigenpro4-timer --run.resume=auto --run.memory_limit=$limit
echo "checkpoint_solvers: ok"
