#!/usr/bin/env bash
# run.stall_timeout on one node (tests/cluster/faults.sh has the network faults):
#  - a rank frozen mid-run (SIGSTOP): its peer gives up after run.stall_timeout = 2 s with one
#    line and exit code 4, and mpirun ends the job (also the stopped rank);
#  - time a rank spends in its own work never counts: 1.5 s of sleep after every step on every
#    rank (run.step_delay_ms) with run.stall_timeout = 1 finishes normally;
#  - nor does time the whole job is stopped (SIGSTOP to every rank, 0.5 s apart, for 4 s, then
#    SIGCONT: what Slurm's suspend does) with run.stall_timeout = 2.
source "$(dirname "$0")/common.sh"
{ fmnist_data_ini 1000; gaussian_kernel_ini; printf '%s\n' "[solver]" "name = eigenpro2" \
  "epochs = 1" "nystrom_samples = 200" "batch_size = 100"; } > st.ini

start_train st.ini 2 --output.model=frozen.kmpi --run.stall_timeout=2 --run.step_delay_ms=100 \
  --run.progress=on --run.progress_seconds=0
for _ in $(seq 600); do grep -q "epoch 1" bg.log && break; sleep 0.05; done
t0=$(date +%s.%N)
kill -STOP "$(rank_pid 1)"
for _ in $(seq 300); do kill -0 "$BG" 2> /dev/null || break; sleep 0.1; done
if kill -0 "$BG" 2> /dev/null; then
  kill -CONT "$(rank_pid 1)"; kill -9 "$BG"; cat bg.log; fail "still running 30 s after SIGSTOP"
fi
rc=0; wait "$BG" || rc=$?
secs=$(python3 -c "import time; print(f'{time.time() - $t0:.1f}')")
echo "a frozen rank: the job ended after $secs s with exit code $rc"
[ "$rc" -eq 4 ] || { cat bg.log; fail "exit code $rc, expected 4"; }
[ "$(grep -c "^kmpi: no progress for 2 s (a peer or the network is gone); aborting" bg.log)" -eq 1 ] ||
  { cat bg.log; fail "not one watchdog line"; }
[ ! -e frozen.kmpi ] || fail "a stalled run wrote the model"

run 2 train --config st.ini --output.model=slow.kmpi --run.stall_timeout=1 \
  --run.step_delay_ms=1500 --solver.epochs=1 --data.limit=300 > slow.log 2>&1 ||
  { cat slow.log; fail "local work tripped the watchdog"; }
[ -f slow.kmpi ] || fail "no model"

start_train st.ini 2 --output.model=suspended.kmpi --run.stall_timeout=2 --run.step_delay_ms=100 \
  --run.progress=on --run.progress_seconds=0
for _ in $(seq 600); do grep -q "epoch 1" bg.log && break; sleep 0.05; done
# Rank 1 first, so that rank 0 is waiting in a collective when it is stopped too.
r0=$(rank_pid 0) r1=$(rank_pid 1)
kill -STOP "$r1"
sleep 0.5
kill -STOP "$r0"
sleep 4
kill -CONT "$r0" "$r1"
rc=0; wait "$BG" || rc=$?
[ "$rc" -eq 0 ] || { cat bg.log; fail "a job stopped for 4 s and continued: exit code $rc"; }
[ -f suspended.kmpi ] || fail "no model after the suspend"
echo "stall_timeout: ok"
