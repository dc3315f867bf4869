#!/usr/bin/env bash
# Puts kmpi's Open MPI defaults (scripts/openmpi-mca-params.conf: the daemons' keepalive, so a job
# whose node is cut off ends) where Open MPI reads them for this user: ~/.openmpi/mca-params.conf.
# Lines already there for the same parameters are replaced; other lines are kept.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)/openmpi-mca-params.conf
dest=${1:-$HOME/.openmpi/mca-params.conf}
mkdir -p "$(dirname "$dest")"
tmp=$(mktemp "$dest.XXXXXX")
if [ -f "$dest" ]; then grep -v '^[[:space:]]*oob_tcp_keepalive_' "$dest" > "$tmp" || true; fi
grep -v '^#' "$src" | grep . >> "$tmp"
mv "$tmp" "$dest"
echo "kmpi: Open MPI defaults written to $dest"
