#!/usr/bin/env bash
# Bad input: one clear error line from rank 0 naming the file or key, exit code 1, no hang, and no
# output file left behind; at 1 and 4 ranks.
source "$(dirname "$0")/common.sh"
python3 - <<'PY'
import gzip
imgs = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
labs = gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read()
open("bad_magic-ubyte", "wb").write(b"\x12\x34\x56\x78" + imgs[4:])
open("truncated-ubyte", "wb").write(imgs[: len(imgs) // 2])
# 9000 labels for 10000 images
open("short_labels-ubyte", "wb").write(labs[:4] + (9000).to_bytes(4, "big") + labs[8:8 + 9000])
PY
IMG=$FM/t10k-images-idx3-ubyte.gz
LAB=$FM/t10k-labels-idx1-ubyte.gz
expect_error() {  # np, pattern, args...
  local np=$1 pattern=$2; shift 2
  set +e
  timeout 120 mpirun -np "$np" "$KMPI" "$@" --output.model=out.kmpi --output.metrics=out.jsonl >stdout.txt 2>stderr.txt
  local rc=$?
  set -e
  [ $rc -eq 1 ] || fail "expected exit code 1, got $rc for: $* ($(cat stderr.txt))"
  local lines
  lines=$(grep -c "kmpi: error" stderr.txt || true)
  [ "$lines" -eq 1 ] || fail "expected one error line, got $lines for: $* :: $(cat stderr.txt)"
  grep -q -- "$pattern" stderr.txt || fail "error for '$*' does not mention '$pattern': $(cat stderr.txt)"
  ls out.kmpi* out.jsonl* >/dev/null 2>&1 && fail "partial output left behind for: $*"
  echo "ok ($np ranks): $(grep 'kmpi: error' stderr.txt)"
}
for np in 1 4; do
  expect_error $np "missing.npy" train --data.train_features=missing.npy --data.train_labels=$LAB
  expect_error $np "bad_magic-ubyte" train --data.train_features=bad_magic-ubyte --data.train_labels=$LAB
  expect_error $np "truncated-ubyte" train --data.train_features=truncated-ubyte --data.train_labels=$LAB
  expect_error $np "short_labels-ubyte" train --data.train_features=$IMG --data.train_labels=short_labels-ubyte
  expect_error $np "kernel.bandwith" train --data.train_features=$IMG --data.train_labels=$LAB --kernel.bandwith=3
  expect_error $np "kernel.name" train --data.train_features=$IMG --data.train_labels=$LAB --kernel.name=rbf
  expect_error $np "kernel.bandwidth" train --data.train_features=$IMG --data.train_labels=$LAB --kernel.bandwidth=0
  expect_error $np "kernel.bandwidth" train --data.train_features=$IMG --data.train_labels=$LAB --kernel.bandwidth=-2
  expect_error $np "unknown command" frobnicate
done
echo "bad_input: ok"
