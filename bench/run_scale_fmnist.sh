#!/usr/bin/env bash
# Scale run of the EigenPro 4 issue: N (default 1,000,000) rows of augmented Fashion-MNIST
# (nonzero translations up to SHIFT = 2 pixels, elastic field ELASTIC = 0; bench/augment_fmnist.cpp) x 784, P = CENTERS
# (default 50000) centers, eigenpro4 for EPOCHS (default 3) epochs on RANKS (default 2) ranks x 1
# thread, tested on the real 10000 Fashion-MNIST test images after each epoch. Prints the memory
# plan (kmpi train --dry-run), then one line per epoch: seconds, test accuracy, peak RSS per rank;
# the machine's used/available memory is sampled every 20 s into mem.log.
#
#   bash bench/run_scale_fmnist.sh [WORKDIR]     (default: a new directory under /tmp, kept)
#
# Needs ~0.8 GB of disk for the generated data and n d 8 / RANKS bytes of memory per rank for the
# data block (3 GiB at 2 ranks for n = 1e6). One epoch took ~25-30 min on the 2-core machine.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(realpath -m "${1:-$(mktemp -d /tmp/kmpi_scale.XXXXXX)}")
n=${N:-1000000}
centers=${CENTERS:-50000}
epochs=${EPOCHS:-3}
ranks=${RANKS:-2}
build=$(realpath -m "${BUILD:-$root/build}")  # absolute: the script cds into its work dir
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target kmpi kmpi_augment_fmnist >/dev/null
source "$root/scripts/mpi_env.sh"
mkdir -p "$work"
cd "$work"
echo "working in $work"
if [[ ! -f x$n.npy ]]; then
  "$build/bench/kmpi_augment_fmnist" --n "$n" --out-x "x$n.npy" --out-y "y$n.npy" --shift "${SHIFT:-2}" \
    --elastic "${ELASTIC:-0}"
fi
args=(train --config "$root/configs/fashion_mnist.ini" --data.train_features="x$n.npy"
  --data.train_labels="y$n.npy" --solver.name=eigenpro4 --solver.centers="$centers"
  --solver.epochs="$epochs" --run.checkpoint_dir=ck --output.model=scale.kmpi
  --output.metrics=scale.jsonl)
mpirun -np "$ranks" "$build/kmpi" "${args[@]}" --dry-run
(while true; do echo "$(date +%T) used_mb/available_mb $(free -m | awk '/Mem:/{print $3, $7}')"; sleep 20; done) >mem.log &
sampler=$!
trap 'kill $sampler 2>/dev/null || true' EXIT
mpirun -np "$ranks" "$build/kmpi" "${args[@]}"
python3 - <<'PY'
import json
for line in open("scale.jsonl"):
    j = json.loads(line)
    if j.get("event") == "setup":
        print(f"setup {j['setup_s']:.1f} s: batch {j['batch_size']}, q {j['q']}, step {j['step_size']}")
    elif "epoch" in j and "event" not in j:
        print(f"epoch {j['epoch']:.0f}: {j['epoch_s']:.0f} s, test accuracy {j['test_accuracy']:.4f}, "
              f"train mse {j['train_mse']:.5f}, peak {j['peak_rss_mb_max']:.0f} MiB per rank")
PY
awk '{print $4}' mem.log | sort -n | head -1 | xargs -I{} echo "lowest available memory (whole machine): {} MiB"
