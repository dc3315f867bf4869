#!/usr/bin/python3
"""Splits the CSVs that export_datasets.R wrote into seeded 60/20/20 train/val/test files, checks
that every file loads with pandas as described, and writes OUT/datasets.json.

Usage: /usr/bin/python3 split_datasets.py OUT

Same rule for every set: numpy.random.default_rng(0), fresh per set; classification sets are split
per class (classes in sorted order, each class's rows permuted and cut 60/20/20), regression sets
as a whole. Cut sizes: train = round(0.6 n), val = round(0.2 n) (halves up), test = the rest. Each
split file keeps the rows in their original order and copies their text lines unchanged.
"""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 0
READ = dict(keep_default_na=False, na_values=[""])  # only empty fields are missing ("None" is a level)


def cut_sizes(n):
    n_train = (6 * n + 5) // 10
    n_val = (2 * n + 5) // 10
    return n_train, n_val


def split_indices(y, classification):
    rng = np.random.default_rng(SEED)
    groups = [np.flatnonzero(y == c) for c in sorted(np.unique(y))] if classification \
        else [np.arange(len(y))]
    parts = ([], [], [])
    for idx in groups:
        perm = rng.permutation(idx)
        n_train, n_val = cut_sizes(len(perm))
        for part, sel in zip(parts, (perm[:n_train], perm[n_train:n_train + n_val],
                                     perm[n_train + n_val:])):
            part.append(sel)
    return [np.sort(np.concatenate(p)) for p in parts]


def deb_version(pkg):
    return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                          text=True, check=True).stdout


def check(cond, msg):
    if not cond:
        sys.exit(f"split_datasets.py: {msg}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: split_datasets.py OUT")
    out = Path(sys.argv[1])
    meta = pd.read_csv(out / "_r_meta.tsv", sep="\t", keep_default_na=False, dtype=str)
    entries = []
    for m in meta.to_dict("records"):
        name, target, task = m["name"], m["target"], m["task"]
        rows, cols, na_cells = int(m["rows"]), int(m["columns"]), int(m["missing_cells"])
        cats = [c for c in m["categorical"].split(";") if c]
        na_cols = [c for c in m["columns_with_missing"].split(";") if c]
        path = out / f"{name}.csv"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        check(len(lines) == rows + 1, f"{name}: {len(lines)} lines for {rows} rows")

        df = pd.read_csv(path, **READ)
        check(df.shape == (rows, cols), f"{name}: pandas shape {df.shape}, R {rows} x {cols}")
        check(int(df.isna().sum().sum()) == na_cells, f"{name}: missing cells differ from R")
        check(sorted(df.columns[df.isna().any()]) == sorted(na_cols), f"{name}: NA columns differ")
        text_cols = [c for c in df.columns if df[c].dtype == object]
        expect_text = cats + ([target] if task == "classification" else [])
        check(sorted(text_cols) == sorted(expect_text), f"{name}: text columns {text_cols}")
        check(not df[target].isna().any(), f"{name}: target has missing values")
        default_na = int(pd.read_csv(path).isna().sum().sum())  # plain pd.read_csv(path)

        classification = task == "classification"
        y = df[target].to_numpy()
        splits = split_indices(y, classification)
        check(sum(len(s) for s in splits) == rows, f"{name}: split sizes")
        check(len(np.unique(np.concatenate(splits))) == rows, f"{name}: splits overlap")
        files = {}
        for part, idx in zip(("train", "val", "test"), splits):
            f = out / f"{name}_{part}.csv"
            f.write_text(lines[0] + "".join(lines[i + 1] for i in idx), encoding="utf-8")
            sdf = pd.read_csv(f, **READ)
            check(sdf.shape == (len(idx), cols), f"{name}_{part}: shape {sdf.shape}")
            check(list(sdf.columns) == list(df.columns), f"{name}_{part}: columns")
            for c in df.columns:  # same values as the rows of the full file
                a, b = df[c].iloc[idx].reset_index(drop=True), sdf[c]
                check(a.equals(b) or (a.isna() == b.isna()).all() and (a[a.notna()] == b[b.notna()]).all(),
                      f"{name}_{part}: column {c} differs")
            files[part] = {"file": f.name, "rows": len(idx)}

        e = {
            "name": name,
            "file": path.name,
            "target": target,
            "task": task,
            "rows": rows,
            "columns": cols,
            "features": cols - 1,
            "categorical_columns": cats,
            "has_categorical": bool(cats),
            "has_missing": na_cells > 0,
            "missing_cells": na_cells,
            "columns_with_missing": na_cols,
            "duplicate_rows": int(df.duplicated().sum()),
            "source_package": m["deb"],
            "source_package_version": deb_version(m["deb"]),
            "source": f"R {m['rpkg']}::{m['object']}",
            "splits": files,
        }
        if classification:
            counts = df[target].value_counts().sort_index()
            e["classes"] = {str(k): int(v) for k, v in counts.items()}
            e["split_class_counts"] = {
                part: {str(k): int(v) for k, v in df[target].iloc[idx].value_counts().sort_index().items()}
                for part, idx in zip(("train", "val", "test"), splits)}
        if default_na != na_cells:
            e["note"] = (f"plain pd.read_csv reads {default_na} missing cells, not {na_cells}: "
                         "read with keep_default_na=False, na_values=['']")
        entries.append(e)
        print(f"{name:12s} {rows:6d} x {cols:3d}  {task:14s} cat={len(cats):2d} missing={na_cells:4d}  "
              f"train/val/test {len(splits[0])}/{len(splits[1])}/{len(splits[2])}")

    manifest = {
        "generated_by": "bench/tabular/export_datasets.sh",
        "read_with": "pandas.read_csv(file, keep_default_na=False, na_values=[''])",
        "missing_values": "empty fields",
        "split": {"seed": SEED, "fractions": {"train": 0.6, "val": 0.2, "test": 0.2},
                  "rng": "numpy.random.default_rng(0), fresh per set",
                  "stratified": "per class for classification, none for regression",
                  "row_order": "original order within each split"},
        "datasets": entries,
    }
    (out / "datasets.json").write_text(json.dumps(manifest, indent=1) + "\n")
    (out / "_r_meta.tsv").unlink()


if __name__ == "__main__":
    main()
