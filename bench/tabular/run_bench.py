#!/usr/bin/python3
"""Tabular anchors side by side (issue 27, section 3): XGBoost, kmpi's plain kernel, kmpi RFM and
the reference xRFM on the real data sets of bench/tabular (export_datasets.sh writes them).

For each data set, in one run: every method trains on name_train.csv, uses name_val.csv the way
it selects (XGBoost: early stopping; RFM / xRFM: the best iteration; plain kernel: not at all) and
is scored once on name_test.csv: accuracy for classification, RMSE (the target's units) for
regression. Wall time = fit + predicting the test rows (the shared encoding is not counted).

Encoding (pandas, fitted on the training split only), the same matrix for every kernel method:
  numeric column      missing -> training mean (+ a 0/1 indicator column when the training
                      split has missing values there), then standardized with the training
                      mean / standard deviation (a constant column: divided by 1)
  categorical column  one-hot over the training split's levels (missing = its own level; a level
                      not seen in training: all zeros), 0/1, not standardized
  regression target   standardized with the training mean / std for the kernel methods (their
                      predictions are mapped back); XGBoost gets the raw target
XGBoost gets the same one-hot columns and the raw numeric columns with NaN left missing (it routes
missing values itself).

Usage: run_bench.py DATA_DIR [--out bench/results/tabular] [--datasets a,b] [--methods ...]
Results are appended to OUT.jsonl as each method finishes; OUT.txt (table + mean ranks) is
rebuilt from OUT.jsonl at the end (--report-only: only that).
"""
import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import traceback

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = ["xgboost", "kmpi", "kmpi_rfm", "kmpi_recipe", "xrfm"]
LABELS = {
    "xgboost": "XGBoost",
    "kmpi": "kmpi plain",
    "kmpi_rfm": "kmpi RFM",
    "kmpi_recipe": "kmpi recipe",
    "xrfm": "xRFM (ref)",
}


# ---------------------------------------------------------------- encoding
def read(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


class Encoder:
    """Fitted on the training frame only; transform gives the kernel matrix and XGBoost's."""

    def __init__(self, train, target, categorical):
        features = [c for c in train.columns if c != target]
        # A column pandas reads as text is categorical even if the manifest does not say so.
        self.cat = [c for c in features if c in categorical or train[c].dtype == object]
        self.num = [c for c in features if c not in self.cat]
        x = train[self.num].astype(np.float64)
        self.mean = x.mean()
        self.std = x.fillna(self.mean).std(ddof=0).replace(0.0, 1.0)
        self.indicate = [c for c in self.num if x[c].isna().any()]
        self.levels = {c: sorted(train[c].fillna("(missing)").astype(str).unique())
                       for c in self.cat}

    def one_hot(self, df):
        blocks = []
        for c in self.cat:
            v = df[c].fillna("(missing)").astype(str).to_numpy()
            levels = np.array(self.levels[c])
            blocks.append((v[:, None] == levels[None, :]).astype(np.float64))
        return np.hstack(blocks) if blocks else np.zeros((len(df), 0))

    def kernel_matrix(self, df):
        x = df[self.num].astype(np.float64)
        ind = x[self.indicate].isna().to_numpy(np.float64)
        z = ((x.fillna(self.mean) - self.mean) / self.std).to_numpy(np.float64)
        return np.ascontiguousarray(np.hstack([z, ind, self.one_hot(df)]))

    def tree_matrix(self, df):
        return np.hstack([df[self.num].astype(np.float64).to_numpy(), self.one_hot(df)])

    @property
    def kernel_dimension(self):
        return len(self.num) + len(self.indicate) + sum(len(v) for v in self.levels.values())


# ---------------------------------------------------------------- methods
def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)))


def run_xgboost(d, args):
    import xgboost as xgb
    common = dict(tree_method="hist", n_jobs=args.threads, n_estimators=2000, learning_rate=0.05,
                  max_depth=6, min_child_weight=1, subsample=0.8, colsample_bytree=0.8,
                  reg_lambda=1.0, early_stopping_rounds=100, random_state=0)
    t = time.time()
    if d["task"] == "regression":
        model = xgb.XGBRegressor(objective="reg:squarederror", eval_metric="rmse", **common)
        model.fit(d["Xt_train"], d["y_train"], eval_set=[(d["Xt_val"], d["y_val"])], verbose=False)
        pred = model.predict(d["Xt_test"])
        score = rmse(pred, d["y_test"])
    else:
        k = len(d["classes"])
        obj = dict(objective="binary:logistic", eval_metric="logloss") if k == 2 else \
            dict(objective="multi:softprob", eval_metric="mlogloss")
        model = xgb.XGBClassifier(**obj, **common)
        model.fit(d["Xt_train"], d["c_train"], eval_set=[(d["Xt_val"], d["c_val"])], verbose=False)
        pred = np.asarray(model.predict(d["Xt_test"])).astype(int).ravel()
        score = float(np.mean(d["classes"][pred] == d["y_test"]))
    wall = time.time() - t
    return score, wall, {"best_iteration": int(model.best_iteration), "n_estimators": 2000}


def kmpi_solver(n_train, args):
    """The recipe's solver for n training rows (direct up to --direct-max rows, else falkon)."""
    ridge = 1e-3 / n_train  # kmpi's per-point ridge: (K + 1e-3 I) alpha = Y, xRFM's reg 1e-3
    if n_train <= args.direct_max:
        return {"solver": "direct", "ridge": ridge}, "direct"
    return ({"solver": "falkon", "ridge": ridge, "centers": args.centers,
             "iterations": args.falkon_iterations},
            f"falkon p={args.centers}, {args.falkon_iterations} CG it")


def run_kmpi(d, args, rfm):
    import kmpi
    n = len(d["X_train"])
    solver, solver_text = kmpi_solver(n, args)
    params = dict(kernel="laplacian", bandwidth=10.0, scale="none", precision=args.precision,
                  seed=1, **solver)
    X, X_test = d["X_train"], d["X_test"]
    if d["task"] == "regression":
        y = d["z_train"]
        est_cls = kmpi.KernelRegressor
    else:
        y = d["y_train"]
        est_cls = kmpi.KernelClassifier
    info = {"solver": solver_text, "d": int(X.shape[1])}
    fit_args = {}
    if rfm:
        # The validation split selects the RFM iteration: fit(..., X_val=, y_val=).
        metric = "full" if X.shape[1] <= 2000 else "diagonal"
        params.update(rfm_iterations=5, rfm_metric=metric)
        fit_args = dict(X_val=d["X_val"],
                        y_val=d["z_val"] if d["task"] == "regression" else d["y_val"])
        info.update(rfm_metric=metric)
    t = time.time()
    with LogTee() as log:
        model = est_cls(**params).fit(X, y, **fit_args)
    pred = model.predict(X_test)
    wall = time.time() - t
    for line in log.text().splitlines():
        if line.startswith("rfm: returning iteration"):
            info["best_iteration"] = int(line.split()[3])
    if d["task"] == "regression":
        score = rmse(pred * d["y_std"] + d["y_mean"], d["y_test"])
    else:
        score = float(np.mean(pred == d["y_test"]))
    return score, wall, info


def run_kmpi_recipe(d, args):
    """The documented tabular recipe (configs/tabular.ini, README "Tables: the recipe") on the raw
    CSV files, through the command line as a user runs it, at --ranks ranks: `kmpi tune` (RFM
    inside, tune.numeric_transforms) on at most --recipe-tune-rows training rows (seeded) validated
    on the val CSV, writing
    the selected point as a config; with more than --recipe-leaf training rows, `kmpi train` of the
    xRFM tree with that config and leaves of at most --recipe-leaf rows (the val CSV routed down),
    else `kmpi train` of one model with it; then `kmpi predict` of the test CSV."""
    import subprocess
    import tempfile
    f, n, leaf = d["files"], d["shape"]["train"], args.recipe_leaf
    limit = args.recipe_tune_rows if n > args.recipe_tune_rows else 0
    launch = ["mpirun", "--timeout", "7200", "-np", str(args.ranks), args.kmpi]
    common = ["--config", os.path.join(ROOT, "configs", "tabular.ini"),
              f"--data.train_features={f['train']}", f"--data.label_column={d['target']}",
              f"--data.task={d['task']}"]
    # Every fit validates on the val CSV, the tune on a sample too (its rows of a class the sample
    # lacks count as misses: shuttle's 6 Bpv.Close training rows may all be left out).
    validation_file = f"--data.validation_features={f['val']}"
    tune_validation = validation_file
    info = {"ranks": args.ranks, "leaf": leaf, "tune_rows": limit or n}
    with tempfile.TemporaryDirectory() as w:
        def kmpi(*cmd):
            r = subprocess.run(launch + list(cmd), capture_output=True, text=True)
            if r.returncode != 0:
                said = [line for line in (r.stderr + r.stdout).splitlines()
                        if line.startswith("kmpi: error")]
                raise RuntimeError(cmd[0] + ": " + (said[0] if said else r.stderr.strip()[-300:]))
            return r.stdout
        t = time.time()
        sel, model = os.path.join(w, "selected.ini"), os.path.join(w, "model.kmpi")
        log = kmpi("tune", *common, tune_validation, f"--data.limit={limit}",
                   f"--tune.selected_config={sel}", f"--output.model={model}")
        selected = [line[len("tune: selected"):].strip() for line in log.splitlines()
                    if line.startswith("tune: selected")]
        info["selected"] = " | ".join(selected)  # one per tune.numeric_transforms value
        for line in log.splitlines():
            if line.startswith("tune.numeric_transforms: selected-point scores"):
                info["transforms"] = line.split("scores", 1)[1].strip()
        if limit:  # tuned on a sample: train on every row, a tree when there are many
            tree = [f"--rfm.leaf_size={leaf}"] if n > leaf else []
            log = kmpi("train", "--config", sel, "--data.limit=0", "--data.validation_fraction=0",
                       validation_file, *tree, f"--output.model={model}")
            for line in log.splitlines():
                if line.startswith("tree: ") and " leaves, " in line:
                    info["leaves"] = int(line.split()[1])
        # The test table as new data comes: its feature columns, without the target column.
        features = os.path.join(w, "test_features.csv")
        read(f["test"]).drop(columns=[d["target"]]).to_csv(features, index=False)
        pred_file = os.path.join(w, "pred.csv")
        kmpi("predict", f"--model={model}", f"--data.features={features}",
             f"--output.predictions={pred_file}")
        wall = time.time() - t
        pred = pd.read_csv(pred_file, header=None, keep_default_na=False).iloc[:, 0].to_numpy()
    if d["task"] == "regression":
        score = rmse(pred.astype(np.float64), d["y_test"])
    else:
        score = float(np.mean(pred.astype(str) == d["y_test"]))
    return score, wall, info


class LogTee:
    """Copies what kmpi's C++ code writes to file descriptor 1 (its log) into a temporary file
    and, after the block, to the real stdout; text() returns it (the RFM's chosen iteration)."""

    def __enter__(self):
        import tempfile
        sys.stdout.flush()
        self.file = tempfile.TemporaryFile(mode="w+b")
        self.saved = os.dup(1)
        os.dup2(self.file.fileno(), 1)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        os.dup2(self.saved, 1)
        os.close(self.saved)
        self.file.seek(0)
        self.data = self.file.read().decode(errors="replace")
        self.file.close()
        sys.stdout.write(self.data)
        return False

    def text(self):
        return self.data


def import_xrfm(args):
    if args.xrfm_shim:
        spec = importlib.util.spec_from_file_location("xrfm_shim", args.xrfm_shim)
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
    sys.path.insert(0, args.xrfm)
    import torch
    torch.set_num_threads(args.threads)
    from xrfm import xRFM
    return torch, xRFM


def run_xrfm(d, args):
    torch, xRFM = import_xrfm(args)
    torch.manual_seed(0)
    # xRFM's own defaults (Laplacian 'l2_high_dim', bandwidth 10, full M, reg 1e-3, 5 iterations,
    # best by validation: mse / brier), on CPU with a small leaf.
    model = xRFM(device=torch.device("cpu"), max_leaf_size=args.xrfm_leaf, n_threads=args.threads,
                 random_state=0, verbose=False)
    # The AGOP in batches of --xrfm-agop-batch rows (its default on CPU: 10000). torch 1.13's
    # einsum has no contraction-order optimisation: 'li,ij,id->ljd' makes a classes x centers x
    # batch intermediate (letter: 26 x 5000 x 10000 floats, the process was killed at 22 GB).
    # Batching changes only the order of the AGOP's sum. (rfm_params and the splitter's
    # default_rfm_params are one dict in xRFM's constructor; both are set.)
    for params in (model.rfm_params, model.default_rfm_params):
        params["fit"]["M_batch_size"] = args.xrfm_agop_batch
    X = d["X_train"].astype(np.float32)
    X_val = d["X_val"].astype(np.float32)
    X_test = d["X_test"].astype(np.float32)
    t = time.time()
    if d["task"] == "regression":
        model.fit(X, d["z_train"].astype(np.float32), X_val, d["z_val"].astype(np.float32))
        pred = np.asarray(model.predict(X_test), np.float64).reshape(-1)
        wall = time.time() - t
        score = rmse(pred * d["y_std"] + d["y_mean"], d["y_test"])
    else:
        model.fit(X, d["c_train"].astype(np.int64), X_val, d["c_val"].astype(np.int64))
        pred = np.asarray(model.predict(X_test)).reshape(-1).astype(int)
        wall = time.time() - t
        score = float(np.mean(d["classes"][pred] == d["y_test"]))
    leaves = sum(_count_leaves(tree) for tree in model.trees)
    return score, wall, {"max_leaf_size": args.xrfm_leaf, "leaves": leaves,
                         "agop_batch": args.xrfm_agop_batch}


def _count_leaves(node):
    if node.get("type") == "leaf":
        return 1
    return sum(_count_leaves(node[k]) for k in ("left", "right") if k in node)


# ---------------------------------------------------------------- data
def load(data_dir, meta):
    s = meta["splits"]
    train, val, test = (read(os.path.join(data_dir, s[k]["file"]))
                        for k in ("train", "val", "test"))
    target = meta["target"]
    enc = Encoder(train, target, set(meta.get("categorical_columns", [])))
    d = {"task": meta["task"], "name": meta["name"], "target": target,
         "files": {k: os.path.join(data_dir, s[k]["file"]) for k in ("train", "val", "test")}}
    for part, df in (("train", train), ("val", val), ("test", test)):
        d["X_" + part] = enc.kernel_matrix(df)
        d["Xt_" + part] = enc.tree_matrix(df)
        if meta["task"] == "regression":
            d["y_" + part] = df[target].astype(np.float64).to_numpy()
        else:
            d["y_" + part] = df[target].astype(str).to_numpy()
    if meta["task"] == "regression":
        d["y_mean"], d["y_std"] = float(d["y_train"].mean()), float(d["y_train"].std())
        for part in ("train", "val"):
            d["z_" + part] = (d["y_" + part] - d["y_mean"]) / d["y_std"]
    else:
        d["classes"] = np.unique(d["y_train"])
        for part in ("train", "val"):
            d["c_" + part] = np.searchsorted(d["classes"], d["y_" + part])
    d["shape"] = {"train": len(train), "val": len(val), "test": len(test),
                  "d_kernel": enc.kernel_dimension, "indicators": len(enc.indicate),
                  "categorical": len(enc.cat)}
    return d


# ---------------------------------------------------------------- report
def ranks(values, higher_better):
    """Average ranks (1 = best), ties shared."""
    v = np.asarray(values, np.float64) * (-1 if higher_better else 1)
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    i = 0
    while i < len(v):
        j = i
        while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return r


def report(jsonl, txt, header_lines):
    rows = [json.loads(line) for line in open(jsonl) if line.strip()]
    latest = {}
    for r in rows:  # a later line for the same (set, method) replaces an earlier one
        latest[(r["dataset"], r["method"])] = r
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = [m for m in METHODS if any(k[1] == m for k in latest)]
    out = list(header_lines)
    out.append("")
    head = f"{'data set':<12} {'task':<6} {'n_train':>7} {'d':>4}  " + "  ".join(
        f"{LABELS[m]:>20}" for m in methods)
    out.append("test accuracy (classification, higher is better) / RMSE (regression, lower is "
               "better); seconds = fit + predict on the shared 2-core machine")
    out.append(head)
    out.append("-" * len(head))
    rank_rows = {m: [] for m in methods}
    complete = 0
    wins = {m: [0, 0] for m in methods if m != "xgboost"}
    for s in sets:
        rs = {m: latest.get((s, m)) for m in methods}
        any_r = next(r for r in rs.values() if r)
        cells = []
        for m in methods:
            r = rs[m]
            if r is None:
                cells.append(f"{'no result':>20}")
            elif r.get("error"):
                cells.append(f"{'failed':>20}")
            else:
                fmt = f"{r['score']:.4f}" if r["task"] == "classification" else f"{r['score']:.5g}"
                cells.append(f"{fmt + ' (' + format(r['wall_s'], '.1f') + ' s)':>20}")
        out.append(f"{s:<12} {any_r['task'][:6]:<6} {any_r['n_train']:>7} {any_r['d']:>4}  "
                   + "  ".join(cells))
        ok = [m for m in methods if rs[m] and not rs[m].get("error")]
        higher = any_r["task"] == "classification"
        if len(ok) == len(methods):
            complete += 1
            for m, rk in zip(methods, ranks([rs[m]["score"] for m in methods], higher)):
                rank_rows[m].append(rk)
        xg = rs.get("xgboost")
        if xg and not xg.get("error"):
            for m in wins:
                r = rs[m]
                if r and not r.get("error"):
                    better = r["score"] > xg["score"] if higher else r["score"] < xg["score"]
                    wins[m][0] += int(better)
                    wins[m][1] += 1
    out.append("")
    out.append(f"mean rank over the {complete} data sets where every method ran "
               "(1 = best, ties share):")
    for m in methods:
        if rank_rows[m]:
            out.append(f"  {LABELS[m]:<12} {np.mean(rank_rows[m]):.2f}")
    out.append("ahead of XGBoost (strictly better test score) on:")
    for m, (w, n) in wins.items():
        out.append(f"  {LABELS[m]:<12} {w} of {n} data sets")
    failed = [r for r in latest.values() if r.get("error")]
    if failed:
        out.append("failures:")
        for r in failed:
            out.append(f"  {r['dataset']} {LABELS[r['method']]}: {r['error']}")
    notes = sorted({f"  {r['dataset']} {LABELS[r['method']]}: {r['info']}" for r in latest.values()
                    if r.get("info")})
    out.append("details per run:")
    out.extend(notes)
    text = "\n".join(out) + "\n"
    with open(txt, "w") as f:
        f.write(text)
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("data", help="directory written by export_datasets.sh (datasets.json)")
    p.add_argument("--out", default="bench/results/tabular", help="OUT.jsonl and OUT.txt")
    p.add_argument("--datasets", default="", help="comma-separated names (default: all)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--direct-max", type=int, default=20000,
                   help="kmpi: direct solve up to this many training rows, else falkon")
    p.add_argument("--centers", type=int, default=5000, help="kmpi falkon centers")
    p.add_argument("--falkon-iterations", type=int, default=20)
    p.add_argument("--precision", default="float32", help="kmpi kernel block precision")
    p.add_argument("--xrfm", default="", help="checkout of dmbeaglehole/xRFM (outside the repo)")
    p.add_argument("--xrfm-shim", default="", help="a .py run before importing xrfm (torch 1.13)")
    p.add_argument("--xrfm-leaf", type=int, default=5000, help="xRFM max_leaf_size")
    p.add_argument("--xrfm-agop-batch", type=int, default=1000,
                   help="xRFM M_batch_size (rows per AGOP batch)")
    p.add_argument("--kmpi", default=os.path.join(ROOT, "build", "kmpi"),
                   help="the kmpi binary (kmpi recipe)")
    p.add_argument("--ranks", type=int, default=2, help="kmpi recipe: MPI ranks")
    p.add_argument("--recipe-tune-rows", type=int, default=5000,
                   help="kmpi recipe: tune on at most this many training rows (seeded)")
    p.add_argument("--recipe-leaf", type=int, default=10000,
                   help="kmpi recipe: more training rows than this: the xRFM tree, leaves of at"
                        " most this many rows")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("--fresh", action="store_true", help="truncate OUT.jsonl first")
    args = p.parse_args()

    jsonl, txt = args.out + ".jsonl", args.out + ".txt"
    header = [
        "Tabular anchors side by side (bench/tabular/run_bench.py; issue 27 section 3)",
        "kmpi plain: Laplacian kernel, bandwidth 10, numeric columns standardized (training mean"
        " / std;",
        "  missing -> training mean + 0/1 indicator), categorical one-hot 0/1, ridge 1e-3 / n_train"
        f" (= K + 1e-3 I), direct solve when n_train <= {args.direct_max},",
        f"  else falkon with {args.centers} centers ({args.falkon_iterations} CG iterations);"
        f" kernel blocks {args.precision}; regression targets standardized.",
        "kmpi RFM: the same + rfm.iterations 5, full M when d <= 2000, best iteration on the"
        " val split (fit(X, y, X_val=, y_val=)).",
        "XGBoost: hist, n_jobs 2, depth 6, eta 0.05, subsample / colsample 0.8, up to 2000 trees,"
        " early stopping 100 on the val split.",
        "kmpi recipe: configs/tabular.ini on the raw CSVs (kmpi's own encoding), `kmpi tune`"
        " (bandwidths 2,5,10,20 x ridges 1e-6,1e-3,1e-2 x RFM",
        "  diagonal/full, 3 iterations, direct, once with the numeric columns as they are and once"
        " as quantile normal scores: tune.numeric_transforms)",
        f"  scored on the val CSV; with more than {args.recipe_tune_rows} training rows: tuned on"
        " a seeded sample of that many, scored on the val CSV,",
        "  then `kmpi train` of the selected point on every training row with the val CSV"
        f" (the xRFM tree, leaves <= {args.recipe_leaf} rows, when there are more); {args.ranks}"
        " ranks.",
        "xRFM (reference, CPU, torch 1.13): its defaults (l2_high_dim Laplace, bandwidth 10,"
        " full M, reg 1e-3, 5 iterations,",
        f"  best by val mse / brier), max_leaf_size {args.xrfm_leaf}, AGOP batch"
        f" {args.xrfm_agop_batch}, same encoded matrix as kmpi (no categorical_info).",
        "Timings: each method in turn, 2 threads, on a 2-core machine SHARED with other"
        " engineers' builds (load 9-17): indicative only.",
        "The kmpi recipe column was run later than the others (same machine, data and splits;"
        " load 4-8); each cell is the latest line of OUT.jsonl for its data set and method.",
    ]
    if args.report_only:
        report(jsonl, txt, header)
        return
    with open(os.path.join(args.data, "datasets.json")) as f:
        manifest = json.load(f)
    wanted = [s for s in args.datasets.split(",") if s]
    sets = [m for m in manifest["datasets"] if not wanted or m["name"] in wanted]
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            sys.exit(f"unknown method {m}; choose from {METHODS}")
    os.makedirs(os.path.dirname(os.path.abspath(jsonl)), exist_ok=True)
    if args.fresh:
        open(jsonl, "w").close()
    for meta in sets:
        d = load(args.data, meta)
        print(f"== {meta['name']} ({meta['task']}): {d['shape']}", flush=True)
        for m in methods:
            rec = {"dataset": meta["name"], "task": meta["task"], "method": m,
                   "n_train": d["shape"]["train"], "n_val": d["shape"]["val"],
                   "n_test": d["shape"]["test"], "d": d["shape"]["d_kernel"],
                   "metric": "accuracy" if meta["task"] == "classification" else "rmse",
                   "host": platform.node(), "load_before": os.getloadavg()[0],
                   "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            try:
                if m == "xgboost":
                    score, wall, info = run_xgboost(d, args)
                elif m == "kmpi":
                    score, wall, info = run_kmpi(d, args, rfm=False)
                elif m == "kmpi_rfm":
                    score, wall, info = run_kmpi(d, args, rfm=True)
                elif m == "kmpi_recipe":
                    score, wall, info = run_kmpi_recipe(d, args)
                else:
                    if not args.xrfm:
                        raise RuntimeError("no --xrfm checkout given")
                    score, wall, info = run_xrfm(d, args)
                rec.update(score=score, wall_s=round(wall, 2), info=info)
            except Exception as e:  # noqa: BLE001 - a failing method is recorded, not fatal
                traceback.print_exc()
                rec.update(error=f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            rec["load_after"] = os.getloadavg()[0]
            print(json.dumps(rec), flush=True)
            with open(jsonl, "a") as f:
                f.write(json.dumps(rec) + "\n")
    report(jsonl, txt, header)


if __name__ == "__main__":
    main()
