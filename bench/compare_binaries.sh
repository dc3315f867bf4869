#!/usr/bin/env bash
# Behaviour check for refactors: trains every solver on a small Fashion-MNIST subset at 2 ranks
# with two kmpi binaries (e.g. one built from the commit before a change) and reports whether the
# model files are byte-identical and the metrics lines carry the same keys and values (timings
# and memory excepted).
#   bash bench/compare_binaries.sh OLD_KMPI NEW_KMPI [WORKDIR]
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2")
src=$(cd "$(dirname "$0")/.." && pwd)
work=${3:-$(mktemp -d)}
mkdir -p "$work" && cd "$work"
source "$src/scripts/mpi_env.sh"
declare -A extra=(
  [direct]="--data.limit=2000 --solver.ridge=1e-6"
  [eigenpro2]=""
  [falkon]="--solver.centers=500 --solver.iterations=5"
  [eigenpro4]="--solver.centers=500 --solver.epochs=2")
status=0
for s in direct eigenpro2 falkon eigenpro4; do
  for tag in old new; do
    bin=$old; [ $tag = new ] && bin=$new
    # shellcheck disable=SC2086
    mpirun -np 2 "$bin" train --config "$src/configs/tiny.ini" --solver.name=$s ${extra[$s]} \
      --output.model=$tag.$s.kmpi --output.metrics=$tag.$s.jsonl > $tag.$s.log
  done
  if cmp -s old.$s.kmpi new.$s.kmpi; then model="identical"; else model="DIFFERENT"; status=1; fi
  metrics=$(python3 - old.$s.jsonl new.$s.jsonl <<'PY'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
timing = lambda k: k.endswith("_s") or k.startswith("solver_s") or k in ("peak_rss_mb_max", "comm_s")
same = len(a) == len(b) and all(
    list(x) == list(y) and all(x[k] == y[k] for k in x if not timing(k)) for x, y in zip(a, b))
print(f"{'same' if same else 'DIFFERENT'} ({len(a)} lines)")
PY
)
  [[ $metrics == same* ]] || status=1
  echo "$s: model $model, metrics $metrics"
done
exit $status
