#!/usr/bin/env bash
# The bad-input contract (issue 5), one table row per case, each at 1 and 4 ranks: exit code 1,
# exactly one line on stderr (rank 0's "kmpi: error ...", naming the file and line/row, or the
# option key), no hang (timeout), no core dump, and no output file or temporary left behind.
# Columns: ranks (both | 4 = only at 4 ranks), a text the message must contain, the arguments.
source "$(dirname "$0")/common.sh"
python3 - <<'PY'
import struct, os
def npy(path, descr, shape, values, fmt, version=1, magic=b"\x93NUMPY"):
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    while (10 + len(d) + 1) % 64: d += " "
    d += "\n"
    head = magic + bytes([version, 0]) + struct.pack("<H", len(d)) + d.encode()
    open(path, "wb").write(head + b"".join(struct.pack(fmt, v) for v in values))
n, d = 40, 3
X = [((i * 7 + j * 3) % 11) / 11.0 for i in range(n) for j in range(d)]
Y = [i % 3 for i in range(n)]
npy("x.npy", "<f8", "(%d, %d)" % (n, d), X, "<d")
npy("y.npy", "<i8", "(%d,)" % n, Y, "<q")
npy("x4.npy", "<f8", "(%d, 4)" % n, [0.5] * (n * 4), "<d")
npy("y_short.npy", "<i8", "(%d,)" % (n - 5), Y[:-5], "<q")
npy("y_half.npy", "<f8", "(%d,)" % n, [v + (0.5 if i == 17 else 0) for i, v in enumerate(Y)], "<d")
npy("y_inf.npy", "<f8", "(%d,)" % n, [float("inf") if i == 9 else v for i, v in enumerate(Y)], "<d")
npy("x_nan.npy", "<f8", "(%d, %d)" % (n, d), [float("nan") if k == 3 * 12 + 1 else v for k, v in enumerate(X)], "<d")
npy("tiny.npy", "<f8", "(3, 3)", X[:9], "<d")
npy("tiny_y.npy", "<i8", "(3,)", Y[:3], "<q")
npy("badmagic.npy", "<f8", "(%d, %d)" % (n, d), X, "<d", magic=b"\x93NUMPX")
npy("version9.npy", "<f8", "(%d, %d)" % (n, d), X, "<d", version=9)
npy("truncated.npy", "<f8", "(%d, %d)" % (n, d), X[:50], "<d")
npy("absurd.npy", "<f8", "(4000000000000, 5000000000)", [], "<d")
open("absurd-idx3-ubyte", "wb").write(bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 0xFFFFFFF, 28) + b"\0" * 100)
open("badmagic-idx1-ubyte", "wb").write(bytes([0x12, 0x34, 8, 1]) + struct.pack(">I", 3) + b"\0\1\2")
open("empty.npy", "wb").close(); open("empty.csv", "wb").close(); open("empty.svm", "wb").close()
os.makedirs("dir.npy", exist_ok=True)
rows = "\n".join(",".join(str(X[i * d + j]) for j in range(d)) + ",%d" % Y[i] for i in range(n))
open("ok.csv", "w").write("a,b,c,label\n" + rows + "\n")
def csv_with(line_no, text):  # replaces 1-based line `line_no` (the header is line 1)
    lines = ("a,b,c,label\n" + rows).split("\n"); lines[line_no - 1] = text
    return "\n".join(lines) + "\n"
open("ragged.csv", "w").write(csv_with(23, "1,2,3"))
open("word.csv", "w").write(csv_with(31, "0.1,zero,0.3,1"))
open("nan.csv", "w").write(csv_with(12, "0.1,0.2,nan,1"))
open("inf_label.csv", "w").write(csv_with(35, "0.1,0.2,0.3,inf"))
svm = ["%d 1:%g 2:%g 3:%g" % (Y[i], X[i * d], X[i * d + 1] + 0.01, X[i * d + 2] + 0.01) for i in range(n)]
open("ok.svm", "w").write("\n".join(svm) + "\n")
def svm_with(line_no, text):
    s = list(svm); s[line_no - 1] = text; open_text = "\n".join(s) + "\n"; return open_text
open("idx0.svm", "w").write(svm_with(27, "1 0:1 2:3"))
open("idxneg.svm", "w").write(svm_with(8, "1 -2:1"))
open("idxorder.svm", "w").write(svm_with(33, "1 3:1 2:3"))
open("idxbig.svm", "w").write(svm_with(19, "1 1:1 9:1"))
open("multilabel.svm", "w").write(svm_with(5, "1,2 1:1"))
open("nanlabel.svm", "w").write(svm_with(38, "nan 1:1"))
open("fake.h5", "w").write("1,2,3\n")
open("unknown.ini", "w").write("[solver]\nepochz = 3\n")
open("wrongtype.ini", "w").write("[solver]\nepochs = many\n")
PY
# A valid model for the predict cases, and damaged copies of it.
run 1 train --data.train_features=x.npy --data.train_labels=y.npy --solver.name=direct \
  --kernel.bandwidth=1 --output.model=model.kmpi >/dev/null 2>&1 || fail "could not train the reference model"
size=$(stat -c %s model.kmpi)
head -c $((size / 2)) model.kmpi >truncated.kmpi
cp model.kmpi corrupt.kmpi && printf '\x55' | dd of=corrupt.kmpi bs=1 seek=$((size - 20)) conv=notrunc status=none
cp model.kmpi newer.kmpi && printf '\x63' | dd of=newer.kmpi bs=1 seek=8 conv=notrunc status=none

T="train --solver.name=direct"
TX="$T --data.train_features=x.npy --data.train_labels=y.npy"
P="predict --data.features=x.npy"
TF="train --solver.name=falkon --data.train_features=x.npy --data.train_labels=y.npy"
cases=(
  "both|missing.npy: no such file|$T --data.train_features=missing.npy --data.train_labels=y.npy"
  "both|x.npy/sub.npy: cannot open|$T --data.train_features=x.npy/sub.npy --data.train_labels=y.npy"
  "both|dir.npy: is a directory|$T --data.train_features=dir.npy --data.train_labels=y.npy"
  "both|empty.npy: empty file|$T --data.train_features=empty.npy --data.train_labels=y.npy"
  "both|empty.csv: empty file|$T --data.train_features=empty.csv"
  "both|empty.svm: empty file|$T --data.train_features=empty.svm"
  "both|badmagic.npy: not a .npy file|$T --data.train_features=badmagic.npy --data.train_labels=y.npy"
  "both|badmagic-idx1-ubyte: not an IDX file|$T --data.train_features=x.npy --data.train_labels=badmagic-idx1-ubyte"
  "both|version9.npy: unsupported .npy format version 9|$T --data.train_features=version9.npy --data.train_labels=y.npy"
  "both|truncated.npy: truncated|$T --data.train_features=truncated.npy --data.train_labels=y.npy"
  "both|absurd.npy: absurd .npy shape|$T --data.train_features=absurd.npy --data.train_labels=y.npy"
  "both|absurd-idx3-ubyte: absurd IDX shape|$T --data.train_features=absurd-idx3-ubyte --data.train_labels=y.npy"
  "both|ragged.csv: line 23: has 3 values|$T --data.train_features=ragged.csv"
  "both|word.csv: line 31, column 2 ('b'): 'zero' is not a number|$T --data.train_features=word.csv --data.categorical=none"
  "both|nan.csv: line 12, column 3: 'nan' is NaN|$T --data.train_features=nan.csv"
  "both|inf_label.csv: line 35, column 4: 'inf' is Inf (a label)|$T --data.train_features=inf_label.csv"
  "both|x_nan.npy: row 12, column 1|$T --data.train_features=x_nan.npy --data.train_labels=y.npy"
  "both|y_inf.npy: row 9|$T --data.train_features=x.npy --data.train_labels=y_inf.npy"
  "both|nanlabel.svm: line 38: label 'nan' is NaN|$T --data.train_features=nanlabel.svm"
  "both|idx0.svm: line 27: feature index 0|$T --data.train_features=idx0.svm"
  "both|idxneg.svm: line 8: negative feature index|$T --data.train_features=idxneg.svm"
  "both|idxorder.svm: line 33: feature indices must increase|$T --data.train_features=idxorder.svm"
  "both|idxbig.svm: line 19: feature index 9 is beyond the dimension 3|$T --data.train_features=idxbig.svm --data.dimension=3"
  "both|multilabel.svm: line 5: multi-label line|$T --data.train_features=multilabel.svm"
  "both|y_short.npy: 35 labels for 40 rows|$T --data.train_features=x.npy --data.train_labels=y_short.npy"
  "both|y_half.npy: row 17: classification label 2.5|$T --data.train_features=x.npy --data.train_labels=y_half.npy --data.task=classification"
  "4|tiny.npy: 3 training rows are fewer than the 4 ranks|$T --data.train_features=tiny.npy --data.train_labels=tiny_y.npy"
  "both|x4.npy: has 4 features per row but the model expects 3|$TX --data.test_features=x4.npy --data.test_labels=y.npy"
  "both|x4.npy: has 4 features per row but the model expects 3|predict --model=model.kmpi --data.features=x4.npy"
  "both|idxbig.svm: line 19: feature index 9 is beyond the dimension 3|predict --model=model.kmpi --data.features=idxbig.svm"
  "both|truncated.kmpi: truncated|$P --model=truncated.kmpi"
  "both|corrupt.kmpi|$P --model=corrupt.kmpi"
  "both|newer.kmpi: written by a newer kmpi|$P --model=newer.kmpi"
  "both|ok.csv: not a kmpi model|$P --model=ok.csv"
  "both|missing.kmpi: no such file|$P --model=missing.kmpi"
  "both|epochz|$TX --config=unknown.ini"
  "both|solver.epochs: expected an integer|$TX --config=wrongtype.ini"
  "both|kernel.bandwith|$TX --kernel.bandwith=3"
  "both|kernel.bandwidth: must be > 0|$TX --kernel.bandwidth=0"
  "both|data.validation_fraction: must be|$TX --data.validation_fraction=0.9"
  "both|data.label_column and data.train_labels conflict|$TX --data.label_column=last"
  "both|data.test_labels is given without data.test_features|$TX --data.test_labels=y.npy"
  "both|data.limit = 100 asks for more rows than x.npy has (40)|$TX --data.limit=100"
  "both|data.dimension and data.format = csv conflict|$T --data.train_features=ok.csv --data.format=csv --data.dimension=4"
  "both|x.npy: this format holds no labels|$T --data.train_features=x.npy"
  "both|fake.h5: not an HDF5 file|$T --data.train_features=fake.h5:/x --data.train_labels=y.npy"
  "both|name the data set|$T --data.train_features=fake.h5 --data.train_labels=y.npy"
  "both|memory: the run needs about|$TX --run.memory_limit=1M"
  "both|x4.npy: has 4 features per row but the training data has 3|$TF --data.centers=x4.npy"
  "both|missing.npy: no such file|$TF --data.centers=missing.npy"
  "both|data.centers and solver.centers conflict|$TF --data.centers=x.npy --solver.centers=5"
  "both|data.centers: only solver.name = falkon or eigenpro4 has centers, not direct|$TX --data.centers=x.npy"
  "both|run.memory_limit: expected auto or a positive size|$TX --run.memory_limit=lots"
)
check_case() {  # np, pattern, args...
  local np=$1 pattern=$2; shift 2
  rm -f out.* pred.txt*
  set +e
  # One rank runs as an MPI singleton: the same program, without mpirun's ~2 s wait on exit 1.
  local launch=(timeout 60 mpirun -q -np "$np")
  [ "$np" -eq 1 ] && launch=(timeout 60)
  "${launch[@]}" "$KMPI" "$@" --output.model=out.kmpi --output.metrics=out.jsonl \
    --output.predictions=pred.txt >stdout.txt 2>stderr.txt
  local rc=$?
  set -e
  [ $rc -eq 1 ] || fail "expected exit code 1, got $rc at $np ranks for: $* :: $(cat stderr.txt)"
  local lines
  lines=$(wc -l <stderr.txt)
  [ "$lines" -eq 1 ] || fail "expected one stderr line, got $lines at $np ranks for: $* :: $(cat stderr.txt)"
  grep -q '^kmpi: error' stderr.txt || fail "stderr is not rank 0's error line for: $* :: $(cat stderr.txt)"
  if [ "$np" -gt 1 ]; then grep -q '^kmpi: error (rank [0-9])' stderr.txt || fail "no failing rank named: $(cat stderr.txt)"; fi
  grep -qF -- "$pattern" stderr.txt || fail "error for '$*' at $np ranks does not contain '$pattern': $(cat stderr.txt)"
  ls out.kmpi* out.jsonl* pred.txt* core* >/dev/null 2>&1 && fail "output or core left behind at $np ranks for: $*"
  return 0
}
count=0
for np in 1 4; do
  for entry in "${cases[@]}"; do
    IFS='|' read -r ranks pattern args <<<"$entry"
    [ "$ranks" = both ] || [ "$ranks" = "$np" ] || continue
    # shellcheck disable=SC2086
    check_case "$np" "$pattern" $args
    count=$((count + 1))
  done
done
echo "bad_input_table: $count cases ok"
