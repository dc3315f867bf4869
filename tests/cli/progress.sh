#!/usr/bin/env bash
# Progress lines (run.progress): forced on into a file, the read of the training file (bytes of
# rank 0's rows, up to 100%), the preconditioner setup (started, K_SS, eigenpairs: 100%) and
# every step of every epoch are reported in order with numeric ETAs and no
# terminal control characters; falkon reports its setup stages and its CG iterations;
# on a terminal (script(1) gives one; a single process without mpirun, whose ranks' stderr is a
# pipe) the line is redrawn in place; off and the default into a file (a short run, under
# run.progress_seconds) write none; results do not depend on it.
source "$(dirname "$0")/common.sh"
TINY="$SRC/configs/tiny.ini"
run 2 train --config "$TINY" --run.progress=on --run.progress_seconds=0 \
  --output.model=on.kmpi > out.txt 2> err.txt
/usr/bin/python3 - err.txt <<'PY' || fail "progress lines are wrong: $(head -3 err.txt)"
import re, sys
text = open(sys.argv[1], "rb").read()
assert b"\r" not in text and b"\x1b" not in text, "control characters in a file"
pat = re.compile(r"progress: epoch (\d+)/2, step (\d+)/(\d+) \(\d+%\), \d+ samples/s, left: "
                 r"epoch .+, run .+ \(epoch_left_s ([0-9.]+), run_left_s ([0-9.]+)\)$")
lines = text.decode().splitlines()
# The setup's progress comes first: started, K_SS built, eigenpairs found (100%, nothing left).
setup = [l for l in lines if l.startswith("progress: eigenpro2 setup")]
assert setup[0] == "progress: eigenpro2 setup started", setup
spat = re.compile(r"progress: eigenpro2 setup (\d+)%, left about .+ \(left_s ([0-9.]+)\)$")
shares = [spat.match(l) for l in setup[1:]]
assert len(shares) == 2 and all(shares), setup
assert int(shares[0][1]) < 100 and int(shares[1][1]) == 100 and float(shares[1][2]) == 0, setup
assert lines.index(setup[-1]) < min(i for i, l in enumerate(lines) if l.startswith("progress: epoch"))
# Reading the binary IDX files (training, test, then the validation rows of the training file):
# each one started, then the share of rank 0's bytes, ending at 100%.
reads = [l for l in lines if l.startswith("progress: reading ")]
assert reads and reads[0].startswith("progress: reading ") and "train-images" in reads[0], reads
rpat = re.compile(r"progress: reading \S+ (\d+)%, left about .+ \(left_s ([0-9.]+)\)$")
starts = [l for l in reads if l.endswith(" started")]
shares = [rpat.match(l) for l in reads if not l.endswith(" started")]
assert len(starts) == 3 and shares and all(shares), reads
done = [m for m in shares if int(m[1]) == 100]
assert len(done) == len(starts) and all(float(m[2]) == 0 for m in done), reads
assert len(reads) + len(setup) + sum(l.startswith("progress: epoch") for l in lines) == len(lines)
seen = [pat.match(l) for l in lines if l.startswith("progress: epoch")]
assert seen and all(seen), "a line does not match"
steps = [(int(m[1]), int(m[2]), int(m[3])) for m in seen]
total = steps[0][2]
# Every step of both epochs, in order (tiny.ini: 2700 rows in batches).
assert steps == [(e, s, total) for e in (1, 2) for s in range(1, total + 1)], steps
for m in seen:
    float(m[4]), float(m[5])
assert float(seen[-1][5]) == 0.0, "the last step leaves no time"
PY
run 2 train --config "$TINY" --solver.name=falkon --solver.centers=300 --solver.iterations=4 \
  --run.progress=on --run.progress_seconds=0 > /dev/null 2> falkon.txt
[ "$(grep -c '^progress: CG iteration [1-4]/4, [0-9.]* s each' falkon.txt)" -eq 4 ] ||
  fail "falkon: expected 4 iteration lines: $(cat falkon.txt)"
# Its setup (K_ZZ and its factors, the right-hand side): started, three stages, the last at 100%.
grep -q '^progress: falkon setup started$' falkon.txt || fail "falkon: no setup start line"
[ "$(grep -cE '^progress: falkon setup [0-9]+%, left about .+ \(left_s [0-9.]+\)$' falkon.txt)" -eq 3 ] ||
  fail "falkon: expected 3 setup progress lines: $(cat falkon.txt)"
grep -q '^progress: falkon setup 100%, left about 0 s (left_s 0.0)$' falkon.txt ||
  fail "falkon: the setup does not end at 100%"
# A text file is parsed by byte ranges: rank 0 reports its range, started and at 100%.
/usr/bin/python3 -c "
import random
random.seed(1)
with open('rows.csv', 'w') as f:
    for i in range(2000):
        x = [random.random() for _ in range(4)]
        f.write(','.join(f'{v:.6f}' for v in x) + f',{int(x[0] > 0.5)}\n')"
run 2 train --data.train_features=rows.csv --solver.name=direct --kernel.bandwidth=1 \
  --run.progress=on --run.progress_seconds=0 > /dev/null 2> csv.txt
grep -q '^progress: reading rows.csv started$' csv.txt || fail "csv: no read start line: $(cat csv.txt)"
grep -q '^progress: reading rows.csv 100%, left about 0 s (left_s 0.0)$' csv.txt ||
  fail "csv: the read does not end at 100%: $(cat csv.txt)"
run 2 train --config "$TINY" --run.progress=off --output.model=off.kmpi > /dev/null 2> off.txt
run 2 train --config "$TINY" --output.model=auto.kmpi > /dev/null 2> auto.txt
[ ! -s off.txt ] && [ ! -s auto.txt ] || fail "progress written with off / auto into a file"
cmp on.kmpi off.kmpi || fail "progress changed the model"
# At 1 and 4 ranks too: rank 0 alone writes, every step once.
for np in 1 4; do
  run $np train --config "$TINY" --run.progress=on --run.progress_seconds=0 > /dev/null 2> err$np.txt
  [ "$(grep -c '^progress: epoch' err$np.txt)" -eq "$(grep -c '^progress: epoch' err.txt)" ] ||
    fail "$np ranks: $(grep -c '^progress: epoch' err$np.txt) progress lines, 2 ranks wrote $(grep -c '^progress: epoch' err.txt)"
done
if command -v script > /dev/null; then
  script -qc "timeout 120 $KMPI train --config $TINY --solver.epochs=3 --data.limit=6000" \
    /dev/null > tty.txt < /dev/null
  grep -aq $'\rprogress: epoch 3/3, step' tty.txt || fail "no line redrawn on a terminal"
  grep -aq $'\x1b\\[K' tty.txt || fail "the terminal line is not cleared"
else
  echo "progress: script(1) missing, terminal mode not tested"
fi
echo "progress: ok"
