#!/usr/bin/env bash
# falkon's test metrics per CG iteration (solver.eval_every): one cg_iteration metrics line per
# k-th iteration with the test metrics of that iterate; the last iterate's equal the final
# report's (the kept K(test, Z) block sums in another order than the tiles: 1e-5 relative on the
# mse); the same at 1, 2 and 4 ranks; every 2nd with eval_every = 2; none with eval_every = 0.
source "$(dirname "$0")/common.sh"
FALKON=(--config "$SRC/configs/tiny.ini" --solver.name=falkon --solver.centers=500
  --solver.iterations=6)
for np in 1 2 4; do
  run $np train "${FALKON[@]}" --output.metrics=every_$np.jsonl > every_$np.log
done
run 2 train "${FALKON[@]}" --solver.eval_every=2 --output.metrics=every2.jsonl > /dev/null
run 2 train "${FALKON[@]}" --solver.eval_every=0 --output.metrics=never.jsonl > /dev/null
/usr/bin/python3 - <<'PY'
import json
def lines(path):
    return [json.loads(l) for l in open(path)]
curves = {}
for np in (1, 2, 4):
    L = lines(f"every_{np}.jsonl")
    its = [l for l in L if l.get("event") == "cg_iteration"]
    final = [l for l in L if "epoch" in l and "event" not in l][-1]
    assert [l["iteration"] for l in its] == [1, 2, 3, 4, 5, 6], its
    last = its[-1]
    assert abs(last["test_mse"] - final["test_mse"]) <= 1e-5 * final["test_mse"], (last, final)
    assert abs(last["test_accuracy"] - final["test_accuracy"]) <= 1e-3, (last, final)
    curves[np] = [l["test_accuracy"] for l in its]
    print(f"{np} ranks: test accuracy per iteration {curves[np]}")
for np in (2, 4):
    assert all(abs(a - b) <= 2e-4 for a, b in zip(curves[np], curves[1])), (np, curves)
assert [l["iteration"] for l in lines("every2.jsonl") if l.get("event") == "cg_iteration"] == [2, 4, 6]
assert not [l for l in lines("never.jsonl") if l.get("event") == "cg_iteration"]
PY
echo "falkon_eval_every: ok"
