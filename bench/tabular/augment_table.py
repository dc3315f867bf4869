#!/usr/bin/python3
"""A large table with categorical columns for the xRFM scale run (issue 27, section 3): N rows
drawn with replacement (numpy default_rng(SEED)) from ggplot2's diamonds (bench/tabular/
export_datasets.sh writes diamonds.csv), each numeric field jittered so no row repeats exactly:
carat, x, y, z and price times (1 + 0.02 e), depth and table plus 0.3 e (e standard normal), and
1% of the table fields left empty (missing). The text columns cut, color and clarity stay as they
are (categorical); the target is price (regression).

Usage: augment_table.py DIAMONDS_CSV N OUT_CSV [--seed 0] [--test-rows 20000 TEST_CSV]
Prints one line: rows written, categorical columns, seconds.
"""
import argparse
import time

import numpy as np
import pandas as pd


def augmented(base, n, rng):
    rows = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    for c in ("carat", "x", "y", "z", "price"):
        rows[c] = rows[c] * (1 + 0.02 * rng.standard_normal(n))
    for c in ("depth", "table"):
        rows[c] = rows[c] + 0.3 * rng.standard_normal(n)
    rows["price"] = rows["price"].round(0)
    for c in ("carat", "x", "y", "z", "depth", "table"):
        rows[c] = rows[c].round(3)
    rows["table"] = rows["table"].astype(object)
    rows.loc[rng.random(n) < 0.01, "table"] = ""
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("diamonds")
    p.add_argument("n", type=int)
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test", nargs=2, metavar=("ROWS", "CSV"))
    a = p.parse_args()
    t = time.time()
    base = pd.read_csv(a.diamonds, keep_default_na=False, na_values=[""])
    rng = np.random.default_rng(a.seed)
    augmented(base, a.n, rng).to_csv(a.out, index=False)
    if a.test:
        augmented(base, int(a.test[0]), rng).to_csv(a.test[1], index=False)
    print(f"{a.out}: {a.n} rows, categorical cut, color, clarity, {time.time() - t:.1f} s")


if __name__ == "__main__":
    main()
