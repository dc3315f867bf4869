#!/usr/bin/env python3
"""One table from a slurm/sweep.sbatch job array: a row per task with its overrides (task-<i>.args)
and its final metrics (the last epoch line and the "done" line of task-<i>.jsonl).

usage: collect_sweep.py SWEEP_DIR [--csv OUT.csv] [--heatmap OUT.png|svg|pdf]
Prints an aligned table sorted by task index; tasks without a finished metrics file show
"missing" (still running, failed, or never started), and the exit code is then 1. --heatmap draws
the finished tasks as a kernel.bandwidth x solver.ridge grid of their test accuracy (or test mse,
or validation mse when there is no test set), each cell labelled with its value.
"""
import csv
import glob
import json
import os
import re
import sys

COLUMNS = ["task", "kernel.bandwidth", "solver.ridge", "epochs", "train_mse", "validation_mse",
           "validation_accuracy", "test_mse", "test_accuracy", "elapsed_s", "status"]


def task_row(sweep_dir, index):
    row = {"task": index, "status": "missing"}
    args_path = os.path.join(sweep_dir, f"task-{index}.args")
    if os.path.exists(args_path):
        for key, value in re.findall(r"--([\w.]+)=(\S+)", open(args_path).read()):
            row[key] = value
    metrics_path = os.path.join(sweep_dir, f"task-{index}.jsonl")
    if not os.path.exists(metrics_path):
        return row
    lines = [json.loads(l) for l in open(metrics_path) if l.strip()]
    epochs = [l for l in lines if "epoch" in l and "event" not in l]
    done = [l for l in lines if l.get("event") == "done"]
    if epochs:
        last = epochs[-1]
        row["epochs"] = int(last["epoch"])
        for key in ("train_mse", "validation_mse", "validation_accuracy", "test_mse",
                    "test_accuracy"):
            if key in last:
                row[key] = last[key]
    if done:
        for key in ("test_mse", "test_accuracy", "elapsed_s"):
            if key in done[0]:
                row[key] = done[0][key]
        row["status"] = "done"
    return row


def fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def heatmap(rows, path):
    """The sweep's grid, one cell per (bandwidth, ridge) pair; written atomically."""
    done = [r for r in rows if r["status"] == "done"]
    metric = next((m for m in ("test_accuracy", "test_mse", "validation_mse")
                   if any(m in r for r in done)), None)
    if metric is None:
        raise SystemExit(f"collect_sweep.py: {path}: no finished task has a metric to draw")
    number = lambda r, k: float(r.get(k, "nan"))
    bandwidths = sorted({number(r, "kernel.bandwidth") for r in done})
    ridges = sorted({number(r, "solver.ridge") for r in done})
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    grid = np.full((len(ridges), len(bandwidths)), np.nan)
    for r in done:
        if metric in r:
            grid[ridges.index(number(r, "solver.ridge")),
                 bandwidths.index(number(r, "kernel.bandwidth"))] = float(r[metric])
    fig, ax = plt.subplots(figsize=(1.2 * len(bandwidths) + 3, 0.8 * len(ridges) + 2),
                           constrained_layout=True)
    image = ax.imshow(grid, cmap="viridis" if metric.endswith("accuracy") else "viridis_r",
                      aspect="auto", origin="lower")
    fig.colorbar(image, ax=ax, label=metric)
    ax.set_xticks(range(len(bandwidths)), [fmt(b) for b in bandwidths])
    ax.set_yticks(range(len(ridges)), [fmt(r) for r in ridges])
    ax.set_xlabel("kernel.bandwidth")
    ax.set_ylabel("solver.ridge")
    for (i, j), value in np.ndenumerate(grid):
        if not np.isnan(value):
            ax.text(j, i, fmt(value), ha="center", va="center", color="w")
    tmp = path + ".tmp" + os.path.splitext(path)[1]
    fig.savefig(tmp)
    os.replace(tmp, path)


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    sweep_dir = argv[1]
    indices = sorted({int(m.group(1)) for p in glob.glob(os.path.join(sweep_dir, "task-*.*"))
                      for m in [re.search(r"task-(\d+)\.", os.path.basename(p))] if m})
    if not indices:
        print(f"{sweep_dir}: no task-<i>.args or task-<i>.jsonl files", file=sys.stderr)
        return 1
    rows = [task_row(sweep_dir, i) for i in indices]
    widths = [max(len(c), *(len(fmt(r.get(c))) for r in rows)) for c in COLUMNS]
    print("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths)))
    for r in rows:
        print("  ".join(fmt(r.get(c)).ljust(w) for c, w in zip(COLUMNS, widths)))
    if "--csv" in argv:
        with open(argv[argv.index("--csv") + 1], "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    if "--heatmap" in argv:
        heatmap(rows, argv[argv.index("--heatmap") + 1])
    return 0 if all(r["status"] == "done" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
