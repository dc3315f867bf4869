#!/usr/bin/env bash
# The fault sweep (issue 28): every fault site that short runs pass (src/base/fault.hpp: each
# collective wrapper and agreed decision, each file open/write/rename of the writers, the solvers'
# step loops) made to throw on one rank, over short runs of train (each solver, RFM, the xRFM
# tree), tune (a validation split, folds), predict and convert at 2 and 4 ranks, and each time the job must
#  - end by itself within BOUND seconds (no hang; the stall watchdog is off, so a hang shows);
#  - exit with the code README documents (expected_code: 1, DESIGN §3: an agreed error, or
#    MPI_Abort from a lone failure);
#  - print exactly one error line ("kmpi: error (rank r)..." or "[rank r] kmpi: fatal: ..."),
#    naming the rank the fault was injected on;
#  - leave no temporary file (*.tmp*, *.convert-part) in the run's directory or checkpoints;
#  - lose nothing and leave no partial output: every output (model, predictions, metrics, metric
#    matrix, selected config, converted arrays) is there before the run with other bytes, and after
#    it is either unchanged or whole (the clean run's bytes; metrics: its number of lines);
#  - leave a checkpoint, if any, that resumes (run.resume = require) to the clean run's model.
# Sites are discovered by a clean run with KMPI_FAULT=list, per scenario and rank count; each is
# injected at its first, middle and last passages (the writers' io sites also at their last four), on
# rank 0 and on the last rank.
# CI runs a sample (2 ranks, one rank choice per site, first passages, the middle one of a solver's
# loop, 4 ranks for one scenario);
# KMPI_FULL_FAULT_SWEEP=1 runs everything at 2 and 4 ranks (report in the summary line).
source "$(dirname "$0")/common.sh"
FULL=${KMPI_FULL_FAULT_SWEEP:-0}
BOUND=${KMPI_FAULT_BOUND:-20}
# For a part of the sweep: a space-separated subset of scenarios, a regex of the sites, the rank
# counts of the full sweep.
ONLY=${KMPI_FAULT_SCENARIOS:-}
SITES=${KMPI_FAULT_SITES:-.}
RANK_COUNTS=${KMPI_FAULT_RANK_COUNTS:-2 4}
# Tiny synthetic data (300 rows, 16 features, 3 classes), so a run takes a fraction of a second.
/usr/bin/python3 - <<'PY'
import numpy as np
r = np.random.default_rng(1)
x = r.standard_normal((300, 16))
np.save("X.npy", x)
np.save("y.npy", np.argmax(x @ r.standard_normal((16, 3)), 1).astype(np.int64))
np.save("Xt.npy", r.standard_normal((100, 16)))
PY
DATA=(--data.train_features=$WORK/X.npy --data.train_labels=$WORK/y.npy --kernel.name=gaussian
  --kernel.bandwidth=4)
TRAIN=("${DATA[@]}" --data.validation_fraction=0.2)
EP2=(--solver.name=eigenpro2 --solver.epochs=2 --solver.batch_size=60 --solver.nystrom_samples=100)
CK=(--run.checkpoint_dir=ck --run.checkpoint_every=0)

# Sets CMD (the kmpi arguments) and OUTS (the files it writes) for scenario $1.
scenario() {
  OUTS=(model.kmpi metrics.jsonl)
  case $1 in
    eigenpro2) CMD=(train "${TRAIN[@]}" "${EP2[@]}" "${CK[@]}") ;;
    eigenpro4) CMD=(train "${TRAIN[@]}" --solver.name=eigenpro4 --solver.epochs=2
      --solver.centers=100 --solver.batch_size=60 --solver.nystrom_samples=60 "${CK[@]}") ;;
    falkon) CMD=(train "${TRAIN[@]}" --solver.name=falkon --solver.centers=100
      --solver.iterations=4 "${CK[@]}") ;;
    direct) CMD=(train "${TRAIN[@]}" --solver.name=direct) ;;
    rfm) CMD=(train "${TRAIN[@]}" "${EP2[@]}" --rfm.iterations=2 --rfm.metric=diagonal
      --rfm.agop_samples=100 --output.metric_matrix=m.npy "${CK[@]}")
      OUTS+=(m.npy) ;;
    tree) CMD=(train "${TRAIN[@]}" --solver.name=direct --rfm.iterations=1 --rfm.leaf_size=150
      "${CK[@]}") ;;
    tune) CMD=(tune "${TRAIN[@]}" "${EP2[@]}" --tune.bandwidths=4,6 --tune.shared=false
      --tune.selected_config=selected.ini "${CK[@]}")
      OUTS+=(selected.ini) ;;
    tune_folds) CMD=(tune "${DATA[@]}" "${EP2[@]}" --data.validation_fraction=0 --tune.folds=2
      --tune.bandwidths=4,6 "${CK[@]}") ;;
    predict) CMD=(predict --model="$WORK/predict.kmpi" --data.features=$WORK/Xt.npy
      --output.predictions=pred.txt)
      OUTS=(pred.txt) ;;
    convert) CMD=(convert --data.features=$WORK/X.npy --data.labels=$WORK/y.npy
      --output.data=X2.npy --output.labels=y2.npy)
      OUTS=(X2.npy y2.npy) ;;
  esac
  [ "${CMD[0]}" = train ] || [ "${CMD[0]}" = tune ] &&
    CMD+=(--output.model=model.kmpi --output.metrics=metrics.jsonl)
  CMD+=(--run.stall_timeout=0)
}

# Runs kmpi at $1 ranks with KMPI_FAULT=$2 in the current directory; sets RC and SECONDS_TAKEN.
launch() {
  local np=$1 fault=$2; shift 2
  local t0; t0=$(date +%s.%N)
  RC=0
  KMPI_FAULT=$fault KMPI_FAULT_LIST=$PWD/sites.txt timeout -k 5 $((BOUND + 15)) \
    mpirun --timeout "$BOUND" -np "$np" "$KMPI" "${CMD[@]}" "$@" > out.log 2>&1 || RC=$?
  SECONDS_TAKEN=$(echo "$(date +%s.%N) - $t0" | bc)
}

PROBLEMS=()
problem() { PROBLEMS+=("$*"); echo "PROBLEM: $*"; }

# The exit code README documents for an injected fault of kind $1: "error" is a kmpi::Error on one
# rank, which the ranks agree on or which ends the job through MPI_Abort (1 either way); the
# watchdog's 4 (kStallExitCode) and a signal's 3 would each mean the fault was not handled.
expected_code() {
  case $1 in
    error) echo 1 ;;
    clean | resume) echo 0 ;;
    *) fail "expected_code: unknown kind $1" ;;
  esac
}

# Checks the injected run in the current directory against the clean one in $1: $2 names it, $3
# is the kind of fault (expected_code), $4 the rank it was injected on.
check_injection() {
  local ref=$1 what=$2 rcount
  if grep -q "time limit for job execution\|mpirun: Forwarding signal" out.log || [ "$RC" -eq 124 ] ||
    [ "$(echo "$SECONDS_TAKEN >= $BOUND" | bc)" -eq 1 ]; then
    problem "$what: HANG (rc $RC after ${SECONDS_TAKEN}s)"; return
  fi
  local code; code=$(expected_code "$3")
  [ "$RC" -eq "$code" ] || problem "$what: exit code $RC, expected $code"
  rcount=$(grep -cE '^(\[rank [0-9]+\] )?kmpi: (error|fatal)' out.log || true)
  [ "$rcount" -eq 1 ] || problem "$what: $rcount error lines: $(grep -E 'kmpi: (error|fatal)' out.log | head -3 | tr '\n' '|')"
  # The one line names the rank that failed: "kmpi: error (rank r): ..." when the ranks agreed,
  # "[rank r] kmpi: fatal: ..." when it failed alone.
  [ "$rcount" -ne 1 ] || [ -z "$4" ] ||
    grep -qE "^(kmpi: error \(rank $4\)|\[rank $4\] kmpi: fatal)" out.log ||
    problem "$what: the error line does not name rank $4: $(grep -E 'kmpi: (error|fatal)' out.log)"
  # No temporary left behind (the writers' "<name>.tmp", "<name>.tmp.<pid>[.<n>]", the tree's
  # "<model>.tmp-tree-<pid>.leaf-<k>", convert's "<name>.convert-part"): a writer that fails
  # removes its own, whichever rank failed (the tree's split checkpoints too, since they use
  # detail::rename_into_place as the other writers).
  local left
  left=$(find . -path ./resume -prune -o \( -name '*.tmp*' -o -name '*.convert-part' \) -print |
    sort | tr '\n' ' ')
  [ -z "$left" ] || problem "$what: temporary files left behind: $left"
  for o in "${OUTS[@]}"; do
    [ -e "$o" ] || { problem "$what: the previous $o is gone"; continue; }
    cmp -s "$o" <(echo previous) && continue
    case $o in
      metrics.jsonl) [ "$(wc -l < "$o")" -eq "$(wc -l < "$ref/$o")" ] ||
        problem "$what: partial $o ($(wc -l < "$o") of $(wc -l < "$ref/$o") lines)" ;;
      *) cmp -s "$o" "$ref/$o" || problem "$what: partial $o" ;;
    esac
  done
  # (A checkpoint directory without a checkpoint file: the first write failed; nothing to resume.)
  if [ -d ck ] && [ -n "$(find ck -name '*.kmpi')" ]; then
    RESUMED=$((RESUMED + 1))
    mkdir -p resume && cp -r ck resume/ && cd resume
    launch "$NP" "" --run.resume=require
    [ "$RC" -eq "$(expected_code resume)" ] || problem "$what: the checkpoint left behind does not resume (rc $RC: $(grep -m1 kmpi: out.log))"
    [ "$RC" -ne 0 ] || cmp -s model.kmpi "$ref/model.kmpi" ||
      problem "$what: resuming the checkpoint left behind gives another model"
    cd ..
  fi
}

# The passages of site $2 on rank $3 in sites file $1 (0 if it never passes it).
count_of() { awk -v s="$2" -v r="$3" '$1 == r && $2 == s { n = $3 } END { print n + 0 }' "$1"; }

# Injects site $2 on rank $3 at passage $4 of $5, scenario $1 (CMD, OUTS, NP, REF set).
inject() {
  local name=$1 site=$2 rank=$3 pass=$4 count=$5
  local dir=$REF/../$site.r$rank.p$pass
  mkdir -p "$dir" && cd "$dir"
  # Outputs of an earlier run, which a failed run must leave as they are (or replace whole).
  for o in "${OUTS[@]}"; do echo previous > "$o"; done
  launch "$NP" "site=$site,rank=$rank,pass=$pass"
  INJECTIONS=$((INJECTIONS + 1))
  grep -q "fault injected at $site" out.log ||
    problem "$name np=$NP $site rank $rank pass $pass: the fault did not fire (rc $RC)"
  check_injection "$REF" "$name np=$NP $site rank=$rank pass=$pass/$count" error "$rank"
}

INJECTIONS=0 RESUMED=0 SITES_SEEN=() SAMPLED=()
# Sweeps scenario $1 at $2 ranks.
sweep() {
  local name=$1 site rank count pass k=0 new_here=0
  NP=$2 REF=$WORK/$1.np$2/ref
  scenario "$name"
  mkdir -p "$REF" && cd "$REF"
  launch "$NP" list
  [ "$RC" -eq "$(expected_code clean)" ] || { cat out.log; fail "$name at $NP ranks: the clean run failed (rc $RC)"; }
  local before=$INJECTIONS
  for site in $(awk '{ print $2 }' sites.txt | sort -u | grep -E "$SITES"); do
    SITES_SEEN+=("$site")
    k=$((k + 1))
    local ranks=(0 $((NP - 1)))
    # The sample: each collective or file site once in the whole sweep (at most 3 new ones per
    # scenario, so they spread over the scenarios), io.rename and a solver's loop site in every
    # scenario that passes them; one rank per site, alternating (the other one where it never
    # passes it).
    if [ "$FULL" != 1 ]; then
      case $site in
        io.rename) ;;  # where a writer could lose a previous file: in every scenario
        comm.* | io.*)
          [[ " ${SAMPLED[*]} " != *" $site "* ]] && [ "$new_here" -lt 3 ] || continue
          SAMPLED+=("$site")
          new_here=$((new_here + 1)) ;;
      esac
      rank=${ranks[$((k % 2))]}
      [ "$(count_of "$REF/sites.txt" "$site" "$rank")" -gt 0 ] || rank=${ranks[$(((k + 1) % 2))]}
      ranks=("$rank")
    fi
    for rank in "${ranks[@]}"; do
      count=$(count_of "$REF/sites.txt" "$site" "$rank")
      [ "$count" -gt 0 ] || continue
      local passes=(1)
      # A solver's loop site: a later passage, after checkpoints were written (the sample: the
      # middle one only; the full sweep: the first, middle and last).
      case $site in comm.* | io.*) ;; *) passes=($(((count + 1) / 2))) ;; esac
      if [ "$FULL" = 1 ]; then
        passes+=(1)
        [ "$count" -gt 2 ] && passes+=($(((count + 1) / 2)))
        [ "$count" -gt 1 ] && passes+=("$count")
        # The writers' last files (model, metric matrix, metrics, selected config) come last.
        case $site in io.*) for t in 1 2 3; do [ "$count" -gt $((t + 2)) ] && passes+=($((count - t))); done ;; esac
      fi
      read -r -a passes <<< "$(printf '%s\n' "${passes[@]}" | sort -nu | tr '\n' ' ')"
      for pass in "${passes[@]}"; do inject "$name" "$site" "$rank" "$pass" "$count"; done
    done
  done
  echo "$name at $NP ranks: $k sites, $((INJECTIONS - before)) injections"
}

# A malformed KMPI_FAULT: one line naming it from rank 0 and exit code 1 on every rank, at 1 and 2
# ranks (not std::terminate's abort, exit code 134, as before issue 28's fix).
mkdir -p "$WORK/malformed" && cd "$WORK/malformed"
for case in 1:garbage 2:site=x,rank=abc 2:site=eigenpro2.step,pass=0; do
  np=${case%%:*} spec=${case#*:} RC=0
  KMPI_FAULT=$spec timeout -k 5 60 mpirun --timeout 30 -np "$np" "$KMPI" info > out.log 2>&1 || RC=$?
  [ "$RC" -eq 1 ] || fail "KMPI_FAULT=$spec at $np ranks: exit code $RC, expected 1: $(cat out.log)"
  # (mpirun adds its own note on a non-zero exit code; kmpi's lines are those naming kmpi.)
  [ "$(grep -c kmpi out.log)" -eq 1 ] && grep -qE '^kmpi: error( \(rank 0\))?: KMPI_FAULT: ' out.log &&
    ! grep -qE 'terminate called|MPI_ABORT|Aborted|core dumped' out.log ||
    fail "KMPI_FAULT=$spec at $np ranks: expected one line 'kmpi: error...: KMPI_FAULT: ...', got: $(cat out.log)"
done
echo "fault_sweep: a malformed KMPI_FAULT ends every rank with exit code 1 and one line"

# The model predict reads (eigenpro2, 2 ranks, no faults).
mkdir -p "$WORK/make_model" && cd "$WORK/make_model"
run 2 train "${TRAIN[@]}" "${EP2[@]}" --output.model="$WORK/predict.kmpi" > /dev/null

SCENARIOS=(eigenpro2 eigenpro4 falkon direct rfm tree tune tune_folds predict convert)
[ -n "$ONLY" ] && read -r -a SCENARIOS <<< "$ONLY"
for name in "${SCENARIOS[@]}"; do
  if [ "$FULL" = 1 ]; then
    for np in $RANK_COUNTS; do sweep "$name" "$np"; done
  else
    # The sample: 2 ranks, and 4 for the checkpointing eigenpro2 run.
    sweep "$name" 2
    [ "$name" = eigenpro2 ] && sweep "$name" 4
  fi
done
DISTINCT=$(printf '%s\n' "${SITES_SEEN[@]}" | sort -u | wc -l)
echo "fault_sweep: $DISTINCT distinct sites, $INJECTIONS injections, $RESUMED checkpoints resumed," \
  "${#PROBLEMS[@]} problems (full sweep: $FULL)"
if [ "${#PROBLEMS[@]}" -gt 0 ]; then
  printf '  %s\n' "${PROBLEMS[@]}"
  fail "fault_sweep: ${#PROBLEMS[@]} problems"
fi
echo "fault_sweep: ok"
