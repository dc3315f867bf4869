#!/usr/bin/env bash
# Writes the tabular data sets of bench/tabular (see README.md) into OUT: OUT/<name>.csv,
# OUT/<name>_{train,val,test}.csv (seed 0, 60/20/20) and OUT/datasets.json.
# Needs the Debian packages of scripts/install_bench_data.sh. Keep OUT outside the repository.
# Usage: bench/tabular/export_datasets.sh OUT
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
command -v Rscript >/dev/null || { echo "Rscript missing: run scripts/install_bench_data.sh" >&2; exit 1; }
mkdir -p "$1"
out=$(cd "$1" && pwd)
Rscript --vanilla "$here/export_datasets.R" "$out" >/dev/null
/usr/bin/python3 "$here/split_datasets.py" "$out"
echo "wrote $out/datasets.json"
