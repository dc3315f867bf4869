#!/usr/bin/env bash
# kmpi's falkon against the PyTorch Falkon it re-implements (issue 16), side by side in one run on
# the same cores: Fashion-MNIST 60000 x 784, Gaussian bandwidth 5, p = CENTERS (default 20000)
# centers, ridge RIDGE (1e-6), ITERATIONS (10) CG iterations; kmpi at RANKS (2) ranks x 1 thread
# with solver.factor_precision float64 and float32, the peer (float32) with RANKS threads. Also
# measures the machine's SGEMM/DGEMM rates in the same run, for the floors of falkon's setup
# (p^3 float64 flops of factors + 2 p^2 d of K_ZZ + 2 n p d of K_nZ^T Y) and iteration (2 n p d
# float32 kernel flops + 4 n p c for the two products). Prints one table; writes every figure as
# JSON lines to $1 (default falkon_peer.jsonl).
#   FALKON_SRC: the peer's source (a checkout of github.com/FalkonML/falkon 0.9; the `fetch`
#   tool's snapshot, `git archive` into a directory outside this repository).
#   Needs python3-torch (apt-get install python3-torch); BUILD: a Release build (default build/);
#   FACTORS: the solver.factor_precision values to run (default "float64 float32").
#   PEER=0: kmpi's rows and floors only (no FALKON_SRC or torch needed).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$(realpath -m "${1:-falkon_peer.jsonl}")
ranks=${RANKS:-2}
p=${CENTERS:-20000}
ridge=${RIDGE:-1e-6}
iterations=${ITERATIONS:-10}
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
peer=${PEER:-1}
if ((peer)); then
  : "${FALKON_SRC:?set FALKON_SRC to the PyTorch Falkon source directory (or PEER=0)}"
  /usr/bin/python3 -c "import torch" 2> /dev/null || {
    echo "python3-torch is missing: apt-get install -y python3-torch" >&2
    exit 2
  }
fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi kmpi_bench_gemm_rate > /dev/null
source "$root/scripts/mpi_env.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mpirun -np "$ranks" "$build/bench/kmpi_bench_gemm_rate" 5 float32 2000 4096 784 > gemm32.json
mpirun -np "$ranks" "$build/bench/kmpi_bench_gemm_rate" 5 float64 2048 2048 2048 > gemm64.json
for fp in ${FACTORS:-float64 float32}; do
  mpirun -np "$ranks" "$build/kmpi" train --config "$root/configs/fashion_mnist.ini" \
    --solver.name=falkon --solver.centers="$p" --solver.iterations="$iterations" \
    --solver.ridge="$ridge" --solver.factor_precision="$fp" \
    --output.model="falkon_$fp.kmpi" --output.metrics="kmpi_$fp.jsonl" > "kmpi_$fp.log" 2>&1
done
# mpi_env.sh pins OpenBLAS to one thread per rank; the peer is one process and gets them all.
((peer == 0)) || OPENBLAS_NUM_THREADS=$ranks OMP_NUM_THREADS=$ranks /usr/bin/python3 \
  "$root/bench/peer_falkon.py" "$FALKON_SRC" "$root/../shared/peers" "$ranks" \
  "$p" "$ridge" "$iterations" 5 peer.jsonl > peer.log 2>&1
/usr/bin/python3 - "$out" "$ranks" "$p" <<'PY'
import json, os, sys
out, ranks, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n, d, c, target = 60000, 784, 10, 0.898
g32 = json.load(open("gemm32.json"))["gflops_total"] * 1e9
g64 = json.load(open("gemm64.json"))["gflops_total"] * 1e9
setup_floor = (p**3 + 2 * p * p * d) / g64 + 2 * n * p * d / g32
setup_floor32 = (p**3) / g32 + 2 * p * p * d / g64 + 2 * n * p * d / g32
iter_floor = (2 * n * p * d + 4 * n * p * c) / g32
rows = []
def first_reaching(its, key):
    for it in its:
        if it["test_accuracy"] >= target:
            return it[key], it["iteration"]
    return None, None
for fp in ("float64", "float32"):
    if not os.path.exists(f"kmpi_{fp}.jsonl"):
        continue
    lines = [json.loads(l) for l in open(f"kmpi_{fp}.jsonl")]
    setup = next(l for l in lines if l.get("event") == "setup")
    its = [l for l in lines if l.get("event") == "cg_iteration"]
    done = next(l for l in lines if l.get("event") == "done")
    per_it = (its[-1]["solver_s"] - its[0]["solver_s"]) / max(1, len(its) - 1)
    t, it = first_reaching(its, "solver_s")
    rows.append({"program": f"kmpi falkon ({fp} factors)", "setup_s": setup["setup_s"],
                 "setup_floor_s": setup_floor if fp == "float64" else setup_floor32,
                 "iteration_s": per_it, "iteration_floor_s": iter_floor,
                 "time_to_target_s": t, "iterations_to_target": it,
                 "final_accuracy": done["test_accuracy"], "wall_s": done["elapsed_s"],
                 "jitter": setup["jitter"],
                 "accuracy_per_iteration": [i["test_accuracy"] for i in its],
                 "time_per_iteration": [i["solver_s"] for i in its]})
peer = [json.loads(l) for l in open("peer.jsonl")] if os.path.exists("peer.jsonl") else []
pits = [l for l in peer if l["event"] == "cg_iteration"]
pdone = peer[-1] if peer else None
t, it = first_reaching(pits, "fit_s")
if peer:
    rows.append({"program": f"PyTorch Falkon 0.9 (float32, {ranks} threads)",
                 "setup_s": pdone["setup_s"],
                 "iteration_s": (pits[-1]["fit_s"] - pits[0]["fit_s"]) / max(1, len(pits) - 1),
                 "time_to_target_s": t, "iterations_to_target": it,
                 "final_accuracy": pdone["test_accuracy"], "wall_s": pdone["wall_s"],
                 "accuracy_per_iteration": [i["test_accuracy"] for i in pits],
                 "time_per_iteration": [i["fit_s"] for i in pits]})
peer_t = rows[-1]["time_to_target_s"] if peer else None
print(f"Fashion-MNIST 60000 x 784, p = {p}, Gaussian bandwidth 5, {ranks} cores; "
      f"SGEMM {g32/1e9:.1f} GF/s, DGEMM {g64/1e9:.1f} GF/s (all ranks, this run)")
print(f"{'program':>40} {'setup_s':>8} {'x floor':>7} {'iter_s':>7} {'x floor':>7} "
      f"{'to 0.898 s':>10} {'its':>4} {'ratio':>6} {'final':>7}")
for r in rows:
    sf = f"{r['setup_s'] / r['setup_floor_s']:.2f}" if "setup_floor_s" in r else "-"
    itf = f"{r['iteration_s'] / r['iteration_floor_s']:.2f}" if "iteration_floor_s" in r else "-"
    t = r["time_to_target_s"]
    ratio = f"{t / peer_t:.2f}" if t and peer_t else "-"
    r["time_ratio_to_peer"] = t / peer_t if t and peer_t else None
    print(f"{r['program']:>40} {r['setup_s']:8.1f} {sf:>7} {r['iteration_s']:7.2f} {itf:>7} "
          f"{(f'{t:.1f}' if t else 'never'):>10} {str(r['iterations_to_target']):>4} {ratio:>6} "
          f"{r['final_accuracy']:7.4f}")
with open(out, "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
PY
