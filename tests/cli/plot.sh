#!/usr/bin/env bash
# kmpi-plot on real metrics files: two short runs (eigenpro2, falkon) give a PNG and an SVG that
# parse as images; bad input is one line naming the file and line, exit 1, and no image left.
source "$(dirname "$0")/common.sh"
PLOT="$SRC/scripts/kmpi-plot"
for s in eigenpro2 falkon; do
  run 2 train --config "$SRC/configs/tiny.ini" --solver.name=$s --solver.centers=300 \
    --solver.iterations=4 --output.metrics=$s.jsonl > $s.log
done
"$PLOT" eigenpro2.jsonl falkon=falkon.jsonl -o curve.png --title "tiny" > plot.log
"$PLOT" eigenpro2.jsonl falkon.jsonl -o curve.svg > /dev/null
/usr/bin/python3 - <<'PY' || fail "the images do not parse"
import struct, xml.etree.ElementTree as ET
png = open("curve.png", "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height = struct.unpack(">II", png[16:24])
assert width > 300 and height > 200, (width, height)
root = ET.parse("curve.svg").getroot()
assert root.tag.endswith("svg"), root.tag
# Both runs are drawn: their labels are in the SVG's text.
text = open("curve.svg").read()
assert "eigenpro2" in text and "falkon" in text
PY
printf '{"epoch": 1, "train_mse": 0.1}\nnot json\n' > broken.jsonl
if "$PLOT" broken.jsonl -o bad.png 2> err.txt; then fail "a broken metrics file was plotted"; fi
[ "$(wc -l < err.txt)" -eq 1 ] || fail "expected one error line, got: $(cat err.txt)"
grep -q "broken.jsonl: line 2 is not JSON" err.txt || fail "unexpected message: $(cat err.txt)"
[ ! -e bad.png ] && ! ls bad.png.tmp* > /dev/null 2>&1 || fail "an image was left behind"
if "$PLOT" missing.jsonl -o bad.png 2> err.txt; then fail "a missing file was plotted"; fi
grep -q "missing.jsonl: No such file" err.txt || fail "unexpected message: $(cat err.txt)"
# The sweep collector's heat map: 2 bandwidths x 2 ridges of (made-up) finished tasks.
mkdir sweep
i=0
for bw in 2 5; do
  for ridge in 1e-6 1e-3; do
    echo "--kernel.bandwidth=$bw --solver.ridge=$ridge" > sweep/task-$i.args
    printf '{"epoch": 1, "test_accuracy": 0.%d1}\n{"event": "done", "test_accuracy": 0.%d1}\n' \
      $((80 + i)) $((80 + i)) > sweep/task-$i.jsonl
    i=$((i + 1))
  done
done
/usr/bin/python3 "$SRC/scripts/collect_sweep.py" sweep --heatmap sweep.svg > sweep.txt ||
  fail "collect_sweep.py --heatmap failed"
/usr/bin/python3 - <<'PY' || fail "the heat map is wrong"
import xml.etree.ElementTree as ET
assert ET.parse("sweep.svg").getroot().tag.endswith("svg")
text = open("sweep.svg").read()
# Every cell is labelled with its task's value, and the axes name the swept options.
for value in ("0.801", "0.811", "0.821", "0.831"):
    assert value in text, value
assert "kernel.bandwidth" in text and "solver.ridge" in text
PY
echo "plot: ok"
