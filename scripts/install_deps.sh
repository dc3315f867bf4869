#!/usr/bin/env bash
# Installs the Debian packages kmpi needs, if any is missing (idempotent).
#   install_deps.sh                      kmpi's own packages
#   install_deps.sh --no-recommends P..  packages P instead (scripts/install_bench_data.sh)
set -euo pipefail
recommends=()
if [ "${1:-}" = "--no-recommends" ]; then
  recommends=(--no-install-recommends)
  shift
fi
packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libscalapack-openmpi-dev
          libopenblas-dev libboost-program-options-dev libgtest-dev zlib1g-dev dataset-fashion-mnist
          libbenchmark-dev python3 libhdf5-openmpi-dev
          pybind11-dev python3-pybind11 python3-mpi4py python3-numpy python3-pytest  # python/ (import kmpi)
          python3-matplotlib python3-sklearn  # scripts/kmpi-plot; the README's Python example
          slurm-wlm munge  # slurm-wlm and munge: tests/cli/slurm.sh runs the slurm/ scripts on a real Slurm
          iproute2)  # ip netns: tests/cluster/ builds a cluster of namespaces
[ $# -gt 0 ] && packages=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${recommends[@]}" "${missing[@]}" >/dev/null
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -qq >/dev/null 2>&1 || true
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${recommends[@]}" "${missing[@]}" >/dev/null
else
  echo "these Debian packages are needed; install them as root: apt-get install ${recommends[*]} ${missing[*]}" >&2
  exit 1
fi
