#!/usr/bin/env bash
# Checkpoint and resume end to end (EigenPro 2, 1800 Fashion-MNIST rows, 3 epochs of 18 steps):
#  - checkpoints on a timer do not change the model (bit-identical to a run without them);
#  - SIGUSR1 to ONE rank mid-run: every rank stops at the same step, a checkpoint, exit code 3,
#    no model; resuming at the same rank count gives a bit-identical model;
#  - checkpoint at 4 ranks, resume at 2: the same model within 1e-4 relative (float32 kernel
#    blocks summed in another order; 4 vs 2 uninterrupted runs differ by ~5e-6 here);
#  - the same with data.scale = standardize (checkpoint at 2 ranks, resume at 4);
#  - kill -9 of one rank: mpirun ends within 30 s with a non-zero code, and resuming from the
#    last timer checkpoint completes with the bit-identical model;
#  - a corrupted or incompatible checkpoint, or none with run.resume=require: a one-line refusal.
source "$(dirname "$0")/common.sh"
{ fmnist_data_ini 2000 "validation_fraction = 0.1"; gaussian_kernel_ini; cat <<EOF
[solver]
name = eigenpro2
epochs = 3
nystrom_samples = 300
batch_size = 100
EOF
} > ck.ini

wait_for_file() { for _ in $(seq 300); do [ -f "$1" ] && return 0; sleep 0.1; done; fail "no $1"; }

run 2 train --config ck.ini --output.model=ref2.kmpi > ref2.log
run 4 train --config ck.ini --output.model=ref4.kmpi > ref4.log

# Timer checkpoints after every step leave the result unchanged.
run 2 train --config ck.ini --output.model=timer.kmpi --run.checkpoint_dir=timer \
  --run.checkpoint_every=0 > timer.log
cmp ref2.kmpi timer.kmpi || fail "checkpointing changed the model"
grep -q "checkpoint: epoch 3, step 18 of 18" timer.log || fail "no checkpoint after the last step"

# SIGUSR1 to rank 1 only, mid-run.
start_train ck.ini 2 --output.model=sig.kmpi --output.metrics=sig.jsonl --run.checkpoint_dir=sig \
  --run.checkpoint_every=600 --run.step_delay_ms=40
wait_for_file sig.jsonl.tmp  # created after the data are read, before the solver starts
sleep 1.5
kill -USR1 "$(rank_pid 1)"
rc=0; wait "$BG" || rc=$?
[ "$rc" -eq 3 ] || { cat bg.log; fail "SIGUSR1: exit code $rc, expected 3"; }
grep "checkpoint: epoch" bg.log
[ -f sig/checkpoint.kmpi ] || fail "SIGUSR1: no checkpoint"
[ ! -e sig.kmpi ] || fail "SIGUSR1: an interrupted run wrote the final model"
grep -q '"event": "checkpointed", "signal": 10' sig.jsonl || fail "SIGUSR1: no checkpointed event"
run 2 train --config ck.ini --output.model=sig.kmpi --output.metrics=sig.jsonl \
  --run.checkpoint_dir=sig --run.resume=require | tee resume.log | grep resuming
cmp ref2.kmpi sig.kmpi || fail "resume at 2 ranks is not bit-identical to the uninterrupted run"
[ "$(grep -c '"epoch": ' sig.jsonl)" -eq 3 ] || fail "resumed metrics do not hold 3 epoch lines"

# Checkpoint at 4 ranks (SIGTERM this time, to rank 3), resume at 2.
start_train ck.ini 4 --output.model=x.kmpi --output.metrics=four.jsonl --run.checkpoint_dir=four \
  --run.step_delay_ms=40
wait_for_file four.jsonl.tmp
sleep 1.5
kill -TERM "$(rank_pid 3)"
rc=0; wait "$BG" || rc=$?
[ "$rc" -eq 3 ] || { cat bg.log; fail "SIGTERM at 4 ranks: exit code $rc, expected 3"; }
run 2 train --config ck.ini --output.model=four.kmpi --run.checkpoint_dir=four \
  --run.resume=require | grep resuming
expect_weights_close ref2.kmpi four.kmpi 1e-4
expect_weights_close ref4.kmpi four.kmpi 1e-4

# data.scale = standardize: the scaling's sums have the same bits at every rank count
# (parallel/exact_sum.hpp), so the scaled rows and the data fingerprint do too, and a checkpoint
# written at 2 ranks (after epoch 1) resumes at 4, to the 4-rank model.
std=(--config ck.ini --data.scale=standardize --kernel.bandwidth=40)
run 2 train "${std[@]}" --solver.epochs=1 --output.model=std1.kmpi --run.checkpoint_dir=std \
  --run.checkpoint_every=0 > std1.log
run 4 train "${std[@]}" --output.model=std.kmpi --run.checkpoint_dir=std --run.resume=require |
  grep resuming
run 4 train "${std[@]}" --output.model=std4.kmpi > std4.log
expect_weights_close std4.kmpi std.kmpi 1e-4

# kill -9 of one rank: no hang.
start_train ck.ini 2 --output.model=k9.kmpi --run.checkpoint_dir=k9 --run.checkpoint_every=0.3 \
  --run.step_delay_ms=40
wait_for_file k9/checkpoint.kmpi
sleep 0.5
t0=$(date +%s.%N)
kill -9 "$(rank_pid 1)"
rc=0; wait "$BG" || rc=$?
t1=$(date +%s.%N)
secs=$(python3 -c "print(f'{$t1 - $t0:.1f}')")
echo "kill -9 of rank 1: mpirun ended after $secs s with code $rc"
[ "$rc" -ne 0 ] || fail "kill -9: mpirun exited 0"
python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 30 else 1)" || fail "kill -9: took $secs s"
run 2 train --config ck.ini --output.model=k9.kmpi --run.checkpoint_dir=k9 --run.resume=auto |
  grep resuming
cmp ref2.kmpi k9.kmpi || fail "resume after kill -9 is not bit-identical"

# Refusals: one line from rank 0, exit 1, nothing written (expect_refusal).
expect_refusal ck.ini "kernel.bandwidth = 4 here, 5 in the checkpoint" --run.checkpoint_dir=timer \
  --run.resume=auto --kernel.bandwidth=4
expect_refusal ck.ini "solver.batch_size = 50 here, 100 in the checkpoint" \
  --run.checkpoint_dir=timer --run.resume=require --solver.batch_size=50
expect_refusal ck.ini "data.limit = 1900 here, 2000 in the checkpoint" --run.checkpoint_dir=timer \
  --run.resume=auto --data.limit=1900
# The same options on other data (every label shifted): the data fingerprint refuses it.
python3 - "$FM/train-labels-idx1-ubyte.gz" <<'PY'
import gzip, sys
b = bytearray(gzip.open(sys.argv[1]).read())
b[8:] = bytes((x + 1) % 10 for x in b[8:])
open("shifted-labels-idx1-ubyte", "wb").write(b)
PY
expect_refusal ck.ini "data.fingerprint = " --run.checkpoint_dir=timer --run.resume=auto \
  --data.train_labels=shifted-labels-idx1-ubyte
expect_refusal ck.ini "run.resume = require but there is no checkpoint" --run.checkpoint_dir=empty \
  --run.resume=require
python3 - timer/checkpoint.kmpi <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[-100] ^= 0x01; open(sys.argv[1], "wb").write(b)
PY
expect_refusal ck.ini "checksum mismatch" --run.checkpoint_dir=timer --run.resume=auto
echo "checkpoint_resume: ok"
