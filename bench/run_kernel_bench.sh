#!/usr/bin/env bash
# Kernel blocks vs. GEMM on one core (one rank, DESIGN §5): runs kmpi_bench_kernels with
# OPENBLAS_NUM_THREADS=1, keeps the JSON, prints kernel, precision, GFLOP/s and the ratio to the
# SGEMM/DGEMM of the same shape measured in the same run.
#   bench/run_kernel_bench.sh [out.json]          (default bench_kernels.json)
# Environment: KMPI_BENCH_KERNELS (the binary; default: the first kmpi_bench_kernels under
# build*/bench of the source tree), BENCH_MIN_TIME (seconds per repetition, default 0.2),
# BENCH_REPS (repetitions, default 3), BENCH_ARGS (more Google Benchmark flags, e.g.
# --benchmark_filter=float32).
#
# Repetitions are interleaved in random order and the table shows the best of them: on a shared
# machine other processes only ever slow a run down, so the fastest repetition is the closest to
# what the code can do, and interleaving keeps a burst of load from hitting one benchmark's
# repetitions (and not its GEMM's) all together. "spread" is (best - worst) / best.
set -euo pipefail

out=${1:-bench_kernels.json}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${KMPI_BENCH_KERNELS:-}
if [[ -z "$bin" ]]; then
  for candidate in "$root"/build/bench/kmpi_bench_kernels "$root"/build*/bench/kmpi_bench_kernels; do
    if [[ -x "$candidate" ]]; then bin=$candidate; break; fi
  done
fi
if [[ -z "$bin" || ! -x "$bin" ]]; then
  echo "run_kernel_bench.sh: kmpi_bench_kernels not found; build it or set KMPI_BENCH_KERNELS" >&2
  exit 1
fi

# Google Benchmark 1.7 (Debian 12) takes --benchmark_min_time as plain seconds; 1.8+ documents
# a suffixed form ("0.2s" or "100x"). Use whichever this binary's --help describes.
min_time=${BENCH_MIN_TIME:-0.2}
if "$bin" --help 2>&1 | grep -q '<integer>x'; then min_time="${min_time}s"; fi
reps=${BENCH_REPS:-3}

echo "running $bin: OPENBLAS_NUM_THREADS=1, $reps interleaved repetitions of >= $min_time s -> $out" >&2
# shellcheck disable=SC2086
OPENBLAS_NUM_THREADS=1 "$bin" --benchmark_min_time="$min_time" --benchmark_repetitions="$reps" \
  --benchmark_enable_random_interleaving=true --benchmark_format=json \
  --benchmark_out="$out" --benchmark_out_format=json ${BENCH_ARGS:-} >/dev/null

python3 - "$out" <<'PY'
import json, os, sys

with open(sys.argv[1]) as f:
    data = json.load(f)
runs = {}   # name -> list of GFLOP/s, in the order benchmarks were registered
for b in data["benchmarks"]:
    if b.get("run_type", "iteration") != "iteration":
        continue  # mean/median/stddev aggregates: recomputed below from the repetitions
    runs.setdefault(b.get("run_name", b["name"]), []).append(b["GFLOP/s"])

rows = []
for name, rates in runs.items():
    op, precision, shape = name.split("/")[:3]  # op/precision/m x t x d[/real_time]
    best = max(rates)
    rows.append((op, precision, shape, best, (best - min(rates)) / best, len(rates)))
gemm = {(p, s): g for op, p, s, g, _, _ in rows if op in ("sgemm", "dgemm")}
# Interleaving shuffles the JSON; show GEMM first, then the kernels, per precision and shape.
order = ["sgemm", "dgemm", "gaussian", "laplacian", "matern1.5", "matern2.5", "cauchy"]
def size(shape):  # m x t x d -> -(m t d), biggest first
    m, t, d = (int(v) for v in shape.split("x"))
    return -m * t * d
noisy = False
rows.sort(key=lambda r: (r[1], size(r[2]), order.index(r[0]) if r[0] in order else len(order)))

print(f"{'kernel':<10} {'precision':<9} {'m x t x d':<14} {'GFLOP/s':>8} {'ratio to gemm':>13} {'spread':>7}")
for op, p, s, g, spread, n in rows:
    ref = gemm.get((p, s))
    ratio = f"{g / ref:.3f}" if ref else "n/a"
    print(f"{op:<10} {p:<9} {s:<14} {g:>8.1f} {ratio:>13} {spread:>6.0%}")
    if ref and g > 1.02 * ref:
        noisy = True
ctx = data.get("context", {})
print(f"({ctx.get('host_name', '?')}, {ctx.get('num_cpus', '?')} CPUs, "
      f"OPENBLAS_NUM_THREADS={ctx.get('OPENBLAS_NUM_THREADS', '?')}, best of {max(n for *_, n in rows)} "
      f"repetitions; GFLOP/s = 2 m t d / time for every row; "
      f"load average now {os.getloadavg()[0]:.2f})")
if noisy:
    print("warning: a kernel block beat the GEMM it contains: the machine was busy while this ran; "
          "rerun on an idle machine or raise BENCH_REPS", file=sys.stderr)
PY
