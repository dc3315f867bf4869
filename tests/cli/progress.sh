#!/usr/bin/env bash
# Progress lines (run.progress): forced on into a file, every step of every epoch is reported in
# order with numeric ETAs and no terminal control characters; falkon reports its CG iterations;
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
seen = [pat.match(l) for l in text.decode().splitlines()]
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
