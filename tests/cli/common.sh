# Sourced by the CLI tests: $1 = kmpi binary, $2 = source dir, $3 = scratch dir.
set -euo pipefail
KMPI=$1
SRC=$2
WORK=$3
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK"
source "$SRC/scripts/mpi_env.sh"
FM=/usr/share/datasets/fashion-mnist
run() { local np=$1; shift; mpirun --timeout 300 -np "$np" "$KMPI" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
