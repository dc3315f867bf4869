#!/usr/bin/env bash
# bench/augment_fmnist.cpp (the augmented Fashion-MNIST of the scale runs), checked independently
# with numpy on the case that used to copy 15% of the originals (--shift 1 --elastic 0):
#  - the first 60000 rows are the originals in order, with their labels;
#  - every other row equals a nonzero translation by at most 1 pixel (zero fill) of some original
#    with that original's label, computed here from the source images; with --step 0.5, a
#    translation by half a pixel, sampled bilinearly (evaluated here with the same formula);
#  - no row repeats an earlier one, beyond repeats the source set itself has;
#  - the same seed gives the same bytes; --n beyond what translations can give is refused in one
#    line, and nothing is left behind.
source "$(dirname "$0")/common.sh"
AUG=$(dirname "$KMPI")/bench/kmpi_augment_fmnist
[ -x "$AUG" ] || fail "$AUG not built"
"$AUG" --n 150000 --shift 1 --elastic 0 --seed 3 --out-x x.npy --out-y y.npy > gen.log
grep -q "wrote 150000 rows" gen.log || fail "generator: $(cat gen.log)"
"$AUG" --n 150000 --shift 1 --elastic 0 --seed 3 --out-x x2.npy --out-y y2.npy > /dev/null
cmp -s x.npy x2.npy && cmp -s y.npy y2.npy || fail "the same seed gave different rows"
"$AUG" --n 150000 --shift 1 --elastic 0.5 --seed 3 --out-x xe.npy --out-y ye.npy > gen_e.log
"$AUG" --n 150000 --shift 1 --step 0.5 --seed 3 --out-x xh.npy --out-y yh.npy > gen_h.log
/usr/bin/python3 - "$FM" <<'PY'
import gzip, sys
import numpy as np
fm = sys.argv[1]
def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
src = idx(f"{fm}/train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28)
lab = idx(f"{fm}/train-labels-idx1-ubyte.gz", 8).astype(np.int64)
n0 = len(src)
def translate(dy, dx):
    # augment_fmnist.cpp's bilinear sample at (y - dy, x - dx), zero outside, rounded half up.
    pad = np.zeros((n0, 32, 32))
    pad[:, 2:30, 2:30] = src
    y0, x0 = int(np.floor(-dy)), int(np.floor(-dx))
    fy, fx = -dy - y0, -dx - x0
    def p(a, b):
        return pad[:, 2 + y0 + a:30 + y0 + a, 2 + x0 + b:30 + x0 + b]
    v = (1 - fy) * ((1 - fx) * p(0, 0) + fx * p(0, 1)) + fy * ((1 - fx) * p(1, 0) + fx * p(1, 1))
    return np.floor(np.clip(v, 0, 255) + 0.5).astype(np.uint8)
for xs, ys, step in (("x.npy", "y.npy", 1.0), ("xe.npy", "ye.npy", None),
                     ("xh.npy", "yh.npy", 0.5)):
    x, y = np.load(xs), np.load(ys)
    assert x.shape == (150000, 784) and y.shape == (150000,), (x.shape, y.shape)
    assert (x[:n0] == src.reshape(n0, -1)).all() and (y[:n0] == lab).all(), "originals"
    rows = np.ascontiguousarray(x).view(np.dtype((np.void, 784))).ravel()
    distinct = len(np.unique(rows))
    src_distinct = len(np.unique(np.ascontiguousarray(src.reshape(n0, -1)).view(
        np.dtype((np.void, 784))).ravel()))
    assert distinct == len(rows) - (n0 - src_distinct), \
        f"{xs}: {len(rows) - distinct} repeated rows, the source set has {n0 - src_distinct}"
    if step is None:
        continue
    # Every nonzero translation of every original, with its label: {row bytes: labels}.
    shifted = {}
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            t = translate(dy * step, dx * step)
            if step == 1:  # whole pixels: the plain slice copy, independent of the formula
                t = np.zeros_like(src)
                ys0, ye0 = max(0, dy), 28 + min(0, dy)
                xs0, xe0 = max(0, dx), 28 + min(0, dx)
                t[:, ys0:ye0, xs0:xe0] = src[:, ys0 - dy:ye0 - dy, xs0 - dx:xe0 - dx]
            for i, b in enumerate(np.ascontiguousarray(t.reshape(n0, -1)).view(
                    np.dtype((np.void, 784))).ravel()):
                shifted.setdefault(b.tobytes(), set()).add(int(lab[i]))
    bad = [i for i in range(n0, len(rows)) if int(y[i]) not in shifted.get(rows[i].tobytes(), ())]
    assert not bad, (f"{xs}: {len(bad)} rows are no labelled nonzero translation by {step} "
                     f"pixel of an original, e.g. {bad[:3]}")
print(f"augment: 150000 rows, no repeats beyond the source set's {n0 - src_distinct}; every "
      "translated row is a nonzero shift (1 or 0.5 pixel) of an original with its label")
PY
if "$AUG" --n 600000 --shift 1 --elastic 0 --out-x big.npy --out-y bigy.npy 2> refuse.err; then
  fail "--n 600000 with 8 translations and no field was accepted"
fi
[ "$(wc -l < refuse.err)" -eq 1 ] && grep -q "exceeds the 540000 distinct rows" refuse.err ||
  fail "refusal: $(cat refuse.err)"
ls big.npy* bigy.npy* 2> /dev/null && fail "a refused run left files"
echo "PASS augment"
