#!/usr/bin/env bash
# Faults around writing files, on a 2-node cluster (tests/cluster/cluster.sh; EigenPro 2 on 2000
# Fashion-MNIST rows as in faults.sh). Every mpirun has a timeout and every wait a bound.
#  1. Signals during a checkpoint write. slow_io.c (LD_PRELOAD) makes each fsync and the rename of
#     a checkpoint's temporary take 0.4 s and logs when it starts, so the signals land inside
#     the write:
#     a. the ranks signalled (as srun and slurmstepd do): SIGTERM to all 4 ranks while they sync
#        their rows of a timer checkpoint, SIGTERM again 0.3 s later, SIGUSR1 during the
#        checkpoint the stop then writes;
#     b. mpirun signalled: SIGUSR1 (Open MPI forwards it to every rank, node2's too) while rank 0
#        renames the sealed temporary, and again 0.3 s later.
#     Each must exit 3 with exactly one checkpoint and nothing else in its directory, one
#     "stopped on signal" line and one "checkpointed" metrics event, and resume
#     (run.resume=auto) to the uninterrupted model, byte for byte.
#     c. SIGTERM to mpirun during a rename (measured, see README): Open MPI SIGKILLs the ranks
#        about 1 s later (odls_base_sigkill_timeout), so there is no exit 3 and the write in
#        flight leaves its temporary; the previous checkpoint must be intact and resume to the
#        uninterrupted model, and the resume removes the leftover.
#  2. The metrics file alone fills its disk (a 4 KiB tmpfs; 12 epochs write ~5.8 KB), the model
#     and checkpoints elsewhere with room, at 2 ranks (2 x 1, no checkpoints) and 4 (2 x 2, a
#     checkpoint every 0.5 s): the run stops at the epoch whose line did not fit
#     (src/driver/metrics.hpp), with one "kmpi: error" line naming the file, exit code 1, the tmpfs
#     left empty and no model; at 4 ranks the last checkpoint resumes, with room, to the
#     uninterrupted model and a metrics file with every line of the uninterrupted run's.
#  3. The model on a full disk (1 MiB tmpfs) while the metrics has room: one line naming the
#     model's temporary, exit code 1, nothing on the tmpfs, no metrics file either.
# Skipped (77, one line) without network namespaces (common.sh), cc or mount -t tmpfs.
source "$(dirname "$0")/common.sh"
skip() { echo "SKIPPED: $*"; exit 77; }
command -v cc > /dev/null || skip "no C compiler (cc) to build the slow-I/O preload"
cc -shared -fPIC -O2 -o slow_io.so "$SRC/tests/cluster/slow_io.c" -ldl 2> cc.log ||
  { cat cc.log; fail "slow_io.c does not build"; }
mkdir small tiny
mount -t tmpfs -o size=4k kmpi-write-faults "$WORK/small" 2> mount.err ||
  skip "mount -t tmpfs failed here: $(head -1 mount.err)"
trap 'umount "$WORK/small" "$WORK/tiny" 2> /dev/null; bash "$CLUSTER" down "$CL"' EXIT
mount -t tmpfs -o size=1m kmpi-write-faults "$WORK/tiny"

fault_run_ini > ck.ini
LONG=(--solver.epochs=12 --solver.patience=100)  # the metrics runs: 12 epochs, no early stop
cluster_run 2 "$KMPI" train --config ck.ini --output.model=ref.kmpi > ref.log 2>&1 ||
  { cat ref.log; fail "uninterrupted run"; }
cluster_run 2 "$KMPI" train --config ck.ini "${LONG[@]}" --output.model=ref12.kmpi \
  --output.metrics=ref12.jsonl > ref12.log 2>&1 || { cat ref12.log; fail "uninterrupted run, 12 epochs"; }

SLOW=(-x LD_PRELOAD="$WORK/slow_io.so" -x KMPI_SLOW_IO_MS=400 -x KMPI_SLOW_IO_LOG="$WORK/io.log")
# Starts a slowed checkpointing run with checkpoint dir $1 in the background (BG, bg.log).
start_slow() {
  local dir=$1; shift
  : > bg.log; : > io.log
  cluster_run 2 "${SLOW[@]}" "$KMPI" train --config ck.ini --output.model="$dir-unfinished.kmpi" \
    --output.metrics="$dir.jsonl" --run.checkpoint_dir="$dir" --run.checkpoint_every=1 \
    --run.step_delay_ms=50 "$@" > bg.log 2>&1 & BG=$!
}
# Waits (at most 30 s) until io.log has a delayed call matching the regex $1.
wait_for_io() {
  for _ in $(seq 300); do grep -qE "$1" io.log && return 0; sleep 0.1; done
  cat bg.log io.log; fail "no slowed call matching '$1' within 30 s"
}
# Sends signal $1 to every rank (world ranks 0, 1 on node1 and 2, 3 on node2).
signal_ranks() {
  local r pid
  for r in 0 1 2 3; do
    pid=$(node_rank_pid $((r / 2 + 1)) "$r")
    [ -n "$pid" ] || fail "no rank $r to signal"
    kill -"$1" "$pid"
  done
}
mpirun_pid() {
  local pid
  for pid in $(ip netns pids "$(cat "$CL/prefix")-n1"); do
    [ "$(cat /proc/"$pid"/comm 2> /dev/null)" = mpirun ] && { echo "$pid"; return; }
  done
  fail "no mpirun on node1"
}
# The directory $1 holds exactly one file, checkpoint.kmpi.
expect_only_checkpoint() {
  [ "$(ls -A "$1")" = checkpoint.kmpi ] || { ls -la "$1"; fail "$1: not exactly one checkpoint"; }
}
# Resumes the run of checkpoint dir $1 (3 epochs, further options after it) and compares the
# model with the uninterrupted one.
expect_resume_equal() {
  local dir=$1; shift
  cluster_run 2 "$KMPI" train --config ck.ini --output.model="$dir.kmpi" \
    --run.checkpoint_dir="$dir" --run.resume=auto "$@" > "$dir-resume.log" 2>&1 ||
    { cat "$dir-resume.log"; fail "$dir: resume failed"; }
  grep -q "resuming" "$dir-resume.log" || { cat "$dir-resume.log"; fail "$dir: did not resume"; }
  cmp ref.kmpi "$dir.kmpi" || fail "$dir: the resumed model differs from the uninterrupted one"
}
# The checks of a run stopped by signals: exit 3, one checkpoint, one stop, resumes equal.
expect_clean_stop() {
  local dir=$1 what=$2
  [ "$RC" -eq 3 ] || { cat bg.log; fail "$what: exit code $RC, expected 3"; }
  expect_only_checkpoint "$dir"
  [ "$(grep -c "^kmpi: stopped on signal" bg.log)" -eq 1 ] || { cat bg.log; fail "$what: not one stop"; }
  ! grep -q "kmpi: error\|fatal" bg.log || { cat bg.log; fail "$what: an error"; }
  [ "$(grep -c '"event": "checkpointed"' "$dir.jsonl")" -eq 1 ] ||
    fail "$what: not one checkpointed event in $dir.jsonl"
  [ ! -e "$dir-unfinished.kmpi" ] || fail "$what: an interrupted run wrote the model"
  echo "$what: exit code 3 $SECS s after the first signal; $(grep -c "^checkpoint: " bg.log)" \
    "checkpoints written, the last: $(grep "^checkpoint: " bg.log | tail -1 | cut -d' ' -f2-7)"
  expect_resume_equal "$dir"
}

# 1a. SIGTERM, SIGTERM, SIGUSR1 to the ranks.
start_slow ranks
wait_for_io "fsync .*checkpoint.kmpi.tmp.[0-9]+.1$"
t0=$(date +%s.%N)
signal_ranks TERM
sleep 0.3
signal_ranks TERM
wait_for_io "checkpoint.kmpi.tmp.[0-9]+.2$"
signal_ranks USR1
wait_bounded 60 "$t0"
expect_clean_stop ranks "SIGTERM x 2 + SIGUSR1 to the ranks during a checkpoint write"

# 1b. SIGUSR1 twice to mpirun while rank 0 renames.
start_slow usr1
wait_for_io "rename .*checkpoint.kmpi.tmp.[0-9]+.1$"
t0=$(date +%s.%N)
kill -USR1 "$(mpirun_pid)"
sleep 0.3
kill -USR1 "$(mpirun_pid)"
wait_bounded 60 "$t0"
expect_clean_stop usr1 "SIGUSR1 x 2 to mpirun during the rename"

# 1c. SIGTERM to mpirun while rank 0 renames the second checkpoint.
start_slow term
wait_for_io "rename .*checkpoint.kmpi.tmp.[0-9]+.2$"
t0=$(date +%s.%N)
kill -TERM "$(mpirun_pid)"
wait_bounded 60 "$t0"
echo "SIGTERM to mpirun during the rename: exit code $RC $SECS s after it; left in term/:" \
  "$(ls term | tr '\n' ' ')"
[ "$RC" -ne 0 ] && [ "$RC" -ne 3 ] || { cat bg.log; fail "SIGTERM to mpirun: exit code $RC"; }
[ -f term/checkpoint.kmpi ] || { ls -la term; fail "SIGTERM to mpirun: the previous checkpoint is gone"; }
left=""
for _ in $(seq 100); do
  left="$(node_kmpi_pids 1)$(node_kmpi_pids 2)"
  [ -z "$left" ] && break
  sleep 0.1
done
[ -z "$left" ] || fail "SIGTERM to mpirun: kmpi processes left 10 s after mpirun ended: $left"
expect_resume_equal term
expect_only_checkpoint term

# 2. The metrics file alone fills its disk.
for per_node in 1 2; do
  np=$((2 * per_node)) dir=mck$np
  opts=()
  [ "$np" -eq 4 ] && opts=(--run.checkpoint_dir="$dir" --run.checkpoint_every=0.5)
  rc=0
  t0=$(date +%s.%N)
  cluster_run "$per_node" "$KMPI" train --config ck.ini "${LONG[@]}" --output.model="$dir.kmpi" \
    --output.metrics=small/m.jsonl "${opts[@]}" > "$dir.log" 2>&1 || rc=$?
  secs=$(seconds_since "$t0")
  [ "$rc" -eq 1 ] || { cat "$dir.log"; fail "metrics disk full, $np ranks: exit code $rc, expected 1"; }
  [ "$(grep -c "^kmpi: error" "$dir.log")" -eq 1 ] || { cat "$dir.log"; fail "metrics disk full, $np ranks: not one line"; }
  grep -q "^kmpi: error.*small/m.jsonl.*No space left on device" "$dir.log" ||
    { cat "$dir.log"; fail "metrics disk full, $np ranks: the line does not name the file and the cause"; }
  [ -z "$(ls -A small)" ] || { ls -la small; fail "metrics disk full, $np ranks: files left: $(ls -A small)"; }
  [ ! -e "$dir.kmpi" ] || fail "metrics disk full, $np ranks: a model was written"
  echo "metrics disk full, $np ranks: exit code 1 after $secs s, stopped after $(grep "^epoch" "$dir.log" | tail -1 | cut -d" " -f1-2) of 12; $(grep "^kmpi: error" "$dir.log")"
done
expect_only_checkpoint mck4
echo "metrics disk full, 4 ranks: the last checkpoint kept: $(grep "^checkpoint: " mck4.log | tail -1 | cut -d' ' -f2-7)"
cluster_run 2 "$KMPI" train --config ck.ini "${LONG[@]}" --output.model=mck4.kmpi \
  --output.metrics=mck4.jsonl --run.checkpoint_dir=mck4 --run.resume=require > mck4-resume.log 2>&1 ||
  { cat mck4-resume.log; fail "metrics disk full: resume"; }
cmp ref12.kmpi mck4.kmpi || fail "metrics disk full: the resumed model differs from the uninterrupted one"
# Every line of the uninterrupted run's metrics is there after the resume (timings differ).
events() { python3 -c "import json, sys; [print(json.loads(l).get('event', 'epoch %s' % json.loads(l).get('epoch'))) for l in open(sys.argv[1])]" "$1"; }
[ "$(events mck4.jsonl)" = "$(events ref12.jsonl)" ] ||
  { diff <(events ref12.jsonl) <(events mck4.jsonl); fail "metrics disk full: the resumed metrics lost lines"; }
echo "metrics disk full: the resume completed the model and all $(wc -l < mck4.jsonl) metrics lines"

# 3. The model on a full disk, the metrics with room.
rc=0
cluster_run 2 "$KMPI" train --config ck.ini --output.model=tiny/m.kmpi --output.metrics=mfull.jsonl \
  > mfull.log 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { cat mfull.log; fail "model disk full: exit code $rc, expected 1"; }
[ "$(grep -c "^kmpi: error" mfull.log)" -eq 1 ] || { cat mfull.log; fail "model disk full: not one line"; }
grep -q "^kmpi: error.*tiny/m.kmpi.tmp.*No space left on device" mfull.log ||
  { cat mfull.log; fail "model disk full: the line does not name the file and the cause"; }
[ -z "$(ls -A tiny)" ] || { ls -la tiny; fail "model disk full: files left: $(ls -A tiny)"; }
[ ! -e mfull.jsonl ] && [ ! -e mfull.jsonl.tmp ] || fail "model disk full: a metrics file was left"
echo "model disk full: exit code 1; $(grep "^kmpi: error" mfull.log)"
echo "write_faults: ok"
