#!/usr/bin/env bash
# `kmpi convert` writes its two outputs both or neither: a failed features write leaves the
# user's existing labels file as it was (DESIGN §3: nothing already written is lost), and no
# temporary file stays behind either way.
source "$(dirname "$0")/common.sh"
python3 - <<'PY'
with open("train.svm", "w") as f:
    for i in range(40):
        f.write("%d 1:%r 2:%r\n" % (i % 2, i * 0.25, (i % 7) * 0.5 + 0.1))
PY
printf 'the labels the user already has\n' > y.npy
cp y.npy y.before
if run 2 convert --data.features=train.svm --output.data=missing/dir/X.npy --output.labels=y.npy \
    >out.txt 2>&1; then
  fail "convert into a missing directory succeeded"
fi
grep -q "missing/dir" out.txt || fail "the error does not name the path: $(cat out.txt)"
cmp -s y.npy y.before || fail "a failed features write changed the existing labels file"
ls | grep -q "convert-part" && fail "convert left a temporary file: $(ls)"
run 2 convert --data.features=train.svm --output.data=x.npy --output.labels=y.npy >/dev/null
cmp -s y.npy y.before && fail "a successful convert did not write the labels"
python3 -c "
import sys
for p, shape in (('x.npy', '(40, 2)'), ('y.npy', '(40,)')):
    b = open(p, 'rb').read(128)
    assert b[:6] == b'\x93NUMPY' and shape.encode() in b, (p, b)
" || fail "convert wrote malformed outputs"
ls | grep -q "convert-part" && fail "convert left a temporary file: $(ls)"
echo "ok"
