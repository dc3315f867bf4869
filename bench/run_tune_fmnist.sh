#!/usr/bin/env bash
# kmpi tune benchmark (issue 15), RANKS ranks (default 2) x 1 thread, Fashion-MNIST 60000 x 784
# (configs/fashion_mnist.ini: Gaussian kernel, unit scale, the 10000 test images), 10% of the
# training rows for validation. Needs a Release build in BUILD (default build/). Parts (PART,
# default "eigenpro2 falkon"):
#
#  eigenpro2  BANDWIDTHS (default auto: 5 log-spaced from median/4 to the median) x EPOCHS epochs
#             (default 3): the shared search (kmpi tune) against the same bandwidths trained one
#             by one with kmpi train (the group's batch size, so the models are the same ones).
#  falkon     FALKON_BANDWIDTHS (default 3,5,8) x RIDGES (default 1e-8,1e-6,1e-4,1e-2) at
#             p = CENTERS (default 10000), ITERATIONS CG iterations (default 10): kmpi tune against
#             every point trained alone with kmpi train (ALONE=first: only the first ridge of each
#             bandwidth alone, its time counted for all R ridges: at a fixed number of CG
#             iterations a run's work does not depend on its ridge).
#
# Every run is timed from mpirun's start to its end (reading the data included, the same for
# both). Table: time of the shared search, of one run alone (mean) and of all runs alone; the
# ratios; the validation curve; the selected point's test accuracy. JSON lines go to $1
# (default tune_bench.jsonl).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-tune_bench.jsonl}")
ranks=${RANKS:-2}
part=${PART:-eigenpro2 falkon}
epochs=${EPOCHS:-3}
bandwidths=${BANDWIDTHS:-auto}
falkon_bandwidths=${FALKON_BANDWIDTHS:-3,5,8}
ridges=${RIDGES:-1e-8,1e-6,1e-4,1e-2}
centers=${CENTERS:-10000}
iterations=${ITERATIONS:-10}
alone=${ALONE:-all}
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
py=/usr/bin/python3
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi >/dev/null
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
: > "$out"
common=(--config "$root/configs/fashion_mnist.ini" --data.validation_fraction=0.1
  --output.model=model.kmpi --run.progress=off)

# Runs kmpi $1 with the remaining options, prints its wall seconds (mpirun start to end).
timed() {
  local start end
  start=$(date +%s.%N)
  mpirun -np "$ranks" "$build/kmpi" "$@" > run.log 2>&1 || { cat run.log >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

# Summarises a tune run ($3 metrics, $2 its seconds, $1 the part) against runs alone: then
# quadruples (grid point, seconds, how many points that time stands for, metrics file).
summarise() {
  $py - "$out" "$@" <<'PY'
import json, sys
out, part, shared_s, tune_path = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
q = sys.argv[5:]
alone = [(int(q[i]), float(q[i + 1]), int(q[i + 2]), q[i + 3]) for i in range(0, len(q), 4)]
lines = [json.loads(l) for l in open(tune_path)]
table = [l for l in lines if l.get("event") == "tune"]
sel = [l for l in lines if l.get("event") == "tune_selected"][0]
done = [l for l in lines if l.get("event") == "done"][0]
total = sum(s * w for _, s, w, _ in alone)
one = sum(s for _, s, _, _ in alone) / len(alone)
print(f"\n{part}: {len(table)} grid points, {len(lines)} metrics lines")
print(f"{'point':>5} {'bandwidth':>10} {'ridge':>8} {'val_acc':>8} {'test_acc':>8} "
      f"{'alone_val':>9} {'alone_s':>8}")
for point, s, _, path in alone:
    t = table[point]
    runs = [json.loads(l) for l in open(path)]
    ep = [r for r in runs if "validation_accuracy" in r and "event" not in r]
    # The run alone returns the epoch of least validation mse (falkon: its one report).
    ret = min(ep, key=lambda r: r["validation_mse"]) if part == "eigenpro2" else ep[-1]
    print(f"{t['point']:>5} {t['bandwidth']:>10.4g} {t.get('ridge', 0):>8.2g} "
          f"{t['validation_accuracy']:>8.4f} {t['test_accuracy']:>8.4f} "
          f"{ret['validation_accuracy']:>9.4f} {s:>8.1f}")
print(f"selected: point {sel['point']}, bandwidth {sel['bandwidth']:.4g}"
      + (f", ridge {sel['ridge']:g}" if "ridge" in sel else "")
      + f": test accuracy {done['test_accuracy']:.4f}")
print(f"shared search {shared_s:.1f} s; one run alone {one:.1f} s (mean); all {len(table)} alone "
      f"{total:.1f} s ({len(alone)} measured)")
print(f"ratios: shared / one run = {shared_s / one:.2f}, shared / all runs = {shared_s / total:.3f}")
with open(out, "a") as f:
    f.write(json.dumps({"part": part, "points": len(table), "shared_s": shared_s,
                        "one_run_s": one, "all_runs_s": total,
                        "shared_over_one": shared_s / one, "shared_over_all": shared_s / total,
                        "selected": sel, "test_accuracy": done["test_accuracy"],
                        "table": table}) + "\n")
PY
}

for p in $part; do
  if [ "$p" = eigenpro2 ]; then
    s=$(timed tune "${common[@]}" --solver.name=eigenpro2 --solver.epochs="$epochs" \
      --tune.bandwidths="$bandwidths" --output.metrics=tune_ep2.jsonl)
    m=$($py -c 'import json
s = {l["batch_size"] for l in map(json.loads, open("tune_ep2.jsonl")) if l.get("event") == "setup"}
print(int(min(s)))')
    bws=$($py -c 'import json
g = [l for l in map(json.loads, open("tune_ep2.jsonl")) if l.get("event") == "tune_grid"][0]
print(" ".join(repr(b) for b in g["bandwidths"]))')
    args=()
    i=0
    for b in $bws; do
      t=$(timed train "${common[@]}" --solver.name=eigenpro2 --solver.epochs="$epochs" \
        --kernel.bandwidth="$b" --solver.batch_size="$m" --output.metrics=alone_$i.jsonl)
      args+=("$i" "$t" 1 alone_$i.jsonl)
      i=$((i + 1))
    done
    summarise eigenpro2 "$s" tune_ep2.jsonl "${args[@]}"
  fi
  if [ "$p" = falkon ]; then
    fopts=(--solver.name=falkon --solver.centers="$centers" --solver.iterations="$iterations")
    s=$(timed tune "${common[@]}" "${fopts[@]}" --tune.bandwidths="$falkon_bandwidths" \
      --tune.ridges="$ridges" --output.metrics=tune_falkon.jsonl)
    args=()
    i=0
    nr=$(echo "${ridges//,/ }" | wc -w)
    for b in ${falkon_bandwidths//,/ }; do
      k=0
      for r in ${ridges//,/ }; do
        if [ "$alone" = all ] || [ $k -eq 0 ]; then
          t=$(timed train "${common[@]}" "${fopts[@]}" --kernel.bandwidth="$b" \
            --solver.ridge="$r" --output.metrics=falkon_$i.jsonl)
          w=1; [ "$alone" = all ] || w=$nr
          args+=("$i" "$t" "$w" falkon_$i.jsonl)
        fi
        i=$((i + 1)); k=$((k + 1))
      done
    done
    summarise falkon "$s" tune_falkon.jsonl "${args[@]}"
  fi
done
