#!/usr/bin/env bash
# The memory planner against the OS: the per-rank estimate of `kmpi train --dry-run` is within 25%
# of the peak resident set size the same training run reaches (max over ranks, getrusage), for
# EigenPro 2 on 20000 Fashion-MNIST rows at 2 ranks (the main job's setting, a third of its n, so
# the check runs in seconds; on the full main job: 548 MiB estimated, 524 MiB measured), and for
# EigenPro 4 with p = 8000 centers and a given batch (the plan otherwise assumes the batch cap).
source "$(dirname "$0")/common.sh"
check() {
  local name=$1
  shift
  local args=(--config "$SRC/configs/fashion_mnist.ini" --data.limit=20000 --solver.epochs=1
              --output.model=m.kmpi --output.metrics=m.jsonl "$@")
  rm -f m.kmpi m.jsonl
  run 2 train "${args[@]}" --dry-run > plan.txt
  grep -q "total per rank" plan.txt || fail "$name: no plan printed: $(cat plan.txt)"
  [ -e m.kmpi ] && fail "$name: --dry-run wrote a model"
  run 2 train "${args[@]}" > train.txt
  python3 - "$name" <<'PY' || fail "$name: estimate and peak differ by more than 25%"
import json, re, sys
text = open("plan.txt").read()
m = re.search(r"total per rank: ([0-9.]+) (GiB|MiB)", text)
estimate = float(m.group(1)) * (1024 if m.group(2) == "GiB" else 1)
peak = max(json.loads(l).get("peak_rss_mb_max", 0) for l in open("m.jsonl"))
ratio = estimate / peak
print(f"memory plan ({sys.argv[1]}): estimate {estimate:.0f} MiB, measured peak {peak:.0f} MiB per rank, ratio {ratio:.2f}")
assert 0.75 <= ratio <= 1.25, ratio
PY
}
check eigenpro2
check eigenpro4 --solver.name=eigenpro4 --solver.centers=8000 --solver.batch_size=1000
check eigenpro4-float32 --solver.name=eigenpro4 --solver.centers=8000 --solver.batch_size=1000 \
  --solver.projection=cholesky --solver.factor_precision=float32

# solver.projection = auto against run.memory_limit: the float64 factor of K_ZZ when it fits, else
# the float32 one (half its p^2 / P), else EigenPro 2 projections; the run does what was planned.
# Limits between the three plans' totals, read from the dry runs.
ep4=(--config "$SRC/configs/fashion_mnist.ini" --data.limit=20000 --solver.epochs=1
     --solver.name=eigenpro4 --solver.centers=8000 --solver.batch_size=1000
     --output.model=m.kmpi --output.metrics=m.jsonl)
total() {  # MiB per rank of a dry run's plan
  run 2 train "${ep4[@]}" --dry-run "$@" |
    sed -n 's/.*total per rank: \([0-9.]*\) \(GiB\|MiB\).*/\1 \2/p' |
    awk '{ print ($2 == "GiB") ? $1 * 1024 : $1 }'
}
t64=$(total --solver.projection=cholesky)
t32=$(total --solver.projection=cholesky --solver.factor_precision=float32)
t0=$(total --solver.projection=eigenpro2)
awk -v a="$t64" -v b="$t32" -v c="$t0" 'BEGIN { exit !(a > b && b > c) }' ||
  fail "plans not ordered: float64 $t64, float32 $t32, eigenpro2 $t0 MiB"
expect_projection() {  # $1 = limit in MiB, $2 = the log's projection, $3 = the plan's item or -
  rm -f m.kmpi m.jsonl
  run 2 train "${ep4[@]}" --run.memory_limit="$1M" --dry-run > plan.txt
  if [ "$3" = - ]; then
    grep -q "exact projection" plan.txt && fail "limit $1 MiB: planned an exact projection"
  else
    grep -q "exact projection: $3 factor" plan.txt || fail "limit $1 MiB: no $3 factor planned"
  fi
  run 2 train "${ep4[@]}" --run.memory_limit="$1M" > train.txt 2>&1
  grep -q "$2" train.txt || fail "limit $1 MiB: the run did not take '$2': $(tail -3 train.txt)"
}
mid() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (a + b) / 2 }'; }
expect_projection "$(mid "$t64" 100000)" "exact projections (float64" float64
expect_projection "$(mid "$t32" "$t64")" "exact projections (float32" float32
expect_projection "$(mid "$t0" "$t32")" "EigenPro 2 epoch(s) per projection" -
echo "memory_plan: ok"
