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

# Prints the [data] section of a config on the Fashion-MNIST training set, unit-scaled:
# $1 = data.limit, further arguments = further [data] lines.
fmnist_data_ini() {
  local limit=$1; shift
  printf '%s\n' "[data]" "train_features = $FM/train-images-idx3-ubyte.gz" \
    "train_labels = $FM/train-labels-idx1-ubyte.gz" "scale = unit" "limit = $limit" "$@"
}
# The kernel section the checkpoint tests share.
gaussian_kernel_ini() { printf '%s\n' "[kernel]" "name = gaussian" "bandwidth = 5"; }
# The short EigenPro 2 run of the Slurm tests: $1 rows, $2 epochs of batches of 100.
slurm_train_ini() {
  fmnist_data_ini "$1"
  gaussian_kernel_ini
  printf '%s\n' "[solver]" "name = eigenpro2" "epochs = $2" "nystrom_samples = 200" \
    "batch_size = 100"
}

# Fails unless the weights of models $1 and $2 agree to $3 relative to max |w| of $1 (the layout
# of include/kmpi/model.hpp, read independently of kmpi).
expect_weights_close() {
  python3 - "$1" "$2" "$3" <<'PY'
import array, struct, sys
def weights(path):
    b = open(path, "rb").read()
    version, = struct.unpack_from("<I", b, 8)
    d, c, p = struct.unpack_from("<QQQ", b, 40)
    off = 64 + 16 * d
    if version >= 2:  # the metric section: kind u32, then 0, d or d*d values of S
        kind, = struct.unpack_from("<I", b, off)
        off += 4 + 8 * (0, d, d * d)[kind]
    if version >= 3:  # the Laplace family: kernel.exponent, kernel.norm_p (f64 each)
        off += 16
    if version >= 4:  # the table section: u64 length, then the table
        length, = struct.unpack_from("<Q", b, off)
        off += 8 + length
    off += 8 * p * d
    w = array.array("d"); w.frombytes(b[off:off + 8 * p * c]); return w
a, b = weights(sys.argv[1]), weights(sys.argv[2])
assert len(a) == len(b), (len(a), len(b))
rel = max(abs(x - y) for x, y in zip(a, b)) / max(abs(x) for x in a)
print(f"relative weight difference {rel:.2e} (tolerance {sys.argv[3]})")
assert rel <= float(sys.argv[3]), rel
PY
}

# Starts a background training run ($1 = config, $2 = ranks, rest = options) logging to bg.log;
# sets BG to mpirun's pid.
start_train() {
  local ini=$1 np=$2; shift 2
  : > bg.log  # truncated here, so a wait on the log never reads the previous run's
  mpirun -np "$np" "$KMPI" train --config "$ini" "$@" > bg.log 2>&1 & BG=$!
}
# The pid of rank $1 of the background run (mpirun forks the ranks in rank order here).
rank_pid() { pgrep -P "$BG" | sort -n | sed -n "$(($1 + 1))p"; }

# Runs `kmpi ARGS...` at 2 ranks in the background again and again, each time sending SIGTERM to
# rank 1 after $2 seconds, until a run finishes (exit 0); every stopped run must exit 3 (written
# a checkpoint). $1 = the fewest stops that exercise the resumes. Sets STOPS.
stop_until_done() {
  local least=$1 after=$2; shift 2
  STOPS=0
  for attempt in $(seq 30); do
    : > bg.log
    mpirun -np 2 "$KMPI" "$@" > bg.log 2>&1 & BG=$!
    # From the 11th stop on, each a little later than the last (x6 by the 30th): on a loaded
    # machine the start alone can take most of $after, and the run must still get somewhere
    # between stops. The first ten keep $after, so a quiet machine still stops the run often.
    sleep "$(python3 -c "print($after * (1 + max(0, $attempt - 10) / 4))")"
    kill -TERM "$(rank_pid 1)" 2>/dev/null || true
    rc=0; wait "$BG" || rc=$?
    grep -h "resuming" bg.log || true
    [ "$rc" -eq 0 ] && break
    [ "$rc" -eq 3 ] || { cat bg.log; fail "stop $attempt: exit code $rc, expected 3"; }
    STOPS=$((STOPS + 1))
  done
  [ "$STOPS" -ge "$least" ] || fail "only $STOPS stops: the test did not exercise resumes"
  echo "stopped $STOPS times"
}

# A refused training run at 2 ranks ($1 = config, $2 = expected text, rest = options): exit 1,
# one line from rank 0, nothing written.
expect_refusal() {
  local ini=$1 want=$2; shift 2
  rc=0; run 2 train --config "$ini" --output.model=no.kmpi "$@" > refusal.log 2>&1 || rc=$?
  [ "$rc" -eq 1 ] || { cat refusal.log; fail "expected exit 1, got $rc: $*"; }
  [ "$(grep -c "^kmpi: error" refusal.log)" -eq 1 ] || { cat refusal.log; fail "not one line"; }
  grep "^kmpi: error" refusal.log
  grep -q -- "$want" refusal.log || { cat refusal.log; fail "message lacks '$want'"; }
  [ ! -e no.kmpi ] || fail "a refused run wrote a model"
}

# Predicts the Fashion-MNIST test set from model.kmpi at 1, 2 and 4 ranks (pred1.txt, pred2.txt,
# pred4.txt) and fails unless the three are identical.
predict_fmnist_test_at_1_2_4() {
  for np in 1 2 4; do
    run $np predict --model=model.kmpi --data.features=$FM/t10k-images-idx3-ubyte.gz \
      --output.predictions=pred$np.txt
  done
  cmp pred1.txt pred2.txt || fail "predictions differ between 1 and 2 ranks"
  cmp pred1.txt pred4.txt || fail "predictions differ between 1 and 4 ranks"
}

# Fails unless the class predictions in $1 reach a test accuracy above $2 against the
# Fashion-MNIST test labels, read independently in python; $3 names the run in the printed line.
expect_fmnist_test_accuracy() {
  python3 - "$FM/t10k-labels-idx1-ubyte.gz" "$1" "$2" "$3" <<'PY'
import gzip, sys
raw = gzip.open(sys.argv[1]).read()
assert int.from_bytes(raw[:4], "big") == 0x801
labels = list(raw[8:])
pred = [int(l) for l in open(sys.argv[2])]
assert len(pred) == len(labels) == 10000, (len(pred), len(labels))
acc = sum(p == l for p, l in zip(pred, labels)) / len(labels)
print(f"{sys.argv[4]}: test accuracy {acc:.4f}")
assert acc > float(sys.argv[3]), acc
PY
}

# Trains at 2 ranks on the first $1 (data.limit) Fashion-MNIST training points, unit-scaled, with
# kernel.bandwidth = 5 and the further options, into model.kmpi and metrics.jsonl; fails unless
# the model is written.
train_fmnist_model() {
  local limit=$1; shift
  run 2 train --data.train_features=$FM/train-images-idx3-ubyte.gz \
    --data.train_labels=$FM/train-labels-idx1-ubyte.gz --data.scale=unit --data.limit="$limit" \
    --kernel.bandwidth=5 --output.model=model.kmpi --output.metrics=metrics.jsonl "$@"
  [ -f model.kmpi ] || fail "no model written"
}
