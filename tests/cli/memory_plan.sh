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
echo "memory_plan: ok"
