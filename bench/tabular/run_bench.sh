#!/usr/bin/env bash
# Tabular anchors side by side (issue 27 section 3): XGBoost, kmpi plain kernel, kmpi RFM and the
# reference xRFM on the 12 data sets of bench/tabular. See bench/tabular/README.md.
#
# Usage: bench/tabular/run_bench.sh [OUT_PREFIX] [run_bench.py options...]
#   OUT_PREFIX  results as OUT_PREFIX.txt and OUT_PREFIX.jsonl (default bench/results/tabular)
# Environment:
#   DATA   the data sets (default /tmp/tabular-bench; written by export_datasets.sh if missing)
#   XRFM   a checkout of github.com/dmbeaglehole/xRFM, outside the repository (default
#          /tmp/xrfm-ref; without it the xRFM column reports why it did not run)
#   SHIM   a .py run before importing xrfm (torch 1.13: torch.func.jacrev = functorch.jacrev;
#          default /tmp/xrfm-shim/torch_shim.py, written here if missing)
#   BUILD  kmpi's build directory with the Python package (default build/)
# Needs: python3-xgboost python3-pandas python3-torch python3-tqdm python3-scipy (apt).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(realpath -m "${1:-$root/bench/results/tabular}")
shift || true
data=${DATA:-/tmp/tabular-bench}
xrfm=${XRFM:-/tmp/xrfm-ref}
shim=${SHIM:-/tmp/xrfm-shim/torch_shim.py}
build=$(realpath -m "${BUILD:-$root/build}")
[ -f "$data/datasets.json" ] || bash "$root/bench/tabular/export_datasets.sh" "$data"
[ -f "$build/python/kmpi/__init__.py" ] || cmake --build "$build" -j 2 --target _kmpi kmpi_python_init
if [ ! -f "$shim" ]; then
  mkdir -p "$(dirname "$shim")"
  cat > "$shim" <<'PY'
# torch 1.13 (Debian 12) has no torch.func; xRFM's l1 / lpq kernels call torch.func.jacrev.
import torch
if not hasattr(torch, "func"):
    import types
    import functorch
    torch.func = types.SimpleNamespace(jacrev=functorch.jacrev, vmap=functorch.vmap)
PY
fi
xrfm_args=()
[ -d "$xrfm/xrfm" ] && xrfm_args=(--xrfm "$xrfm" --xrfm-shim "$shim")
source "$root/scripts/mpi_env.sh"
# One process per method with 2 threads: kmpi's BLAS, XGBoost's n_jobs and torch's threads.
# OMP_WAIT_POLICY=PASSIVE: on a loaded machine XGBoost's spinning OpenMP threads cost ~100x (concrete:
# 174 s spinning vs 1.8 s passive at load 16 on 2 cores, the same model).
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE
cd "$root"
PYTHONPATH="$build/python" /usr/bin/python3 bench/tabular/run_bench.py "$data" --out "$out" \
  "${xrfm_args[@]}" "$@"
