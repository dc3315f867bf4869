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
echo "plot: ok"
