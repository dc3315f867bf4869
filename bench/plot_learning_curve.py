#!/usr/bin/python3
"""Plot and tabulate bench/run_learning_curve.sh's rows: test accuracy after the last epoch
against n (log scale), one line per p and projection (the rows' "projection" field: "cholesky
float64", "cholesky float32" or "eigenpro2"; inexact projections dashed), with falkon's
reference as a horizontal line; --extra rows (same format, e.g. a rerun with other solver
options) are single points, labelled by --extra-label.

    bench/plot_learning_curve.py CURVE.jsonl PLOT.svg [--falkon ACC --falkon-label TEXT]
        [--extra ROWS.jsonl --extra-label TEXT]

Prints the table (rows n, columns p) in the form of bench/results/learning_curve.txt."""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_rows(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("curve")
    ap.add_argument("plot")
    ap.add_argument("--falkon", type=float)
    ap.add_argument("--falkon-label", default="falkon")
    ap.add_argument("--extra")
    ap.add_argument("--extra-label", default="eigenpro4, other options")
    a = ap.parse_args()
    rows = read_rows(a.curve)
    ns = sorted({r["n"] for r in rows})
    series = sorted({(r["p"], r.get("projection", "")) for r in rows},
                    key=lambda k: (k[0], k[1] == "eigenpro2", k[1]))
    cell = {(r["n"], r["p"], r.get("projection", "")): r for r in rows}

    def name(k):
        return f"p = {k[0]}" + (f", {k[1]}" if k[1] else "")

    print("test accuracy after the last epoch (epochs run, elapsed s); rows n, columns p and "
          "projection")
    print(f"{'n':>9s}" + "".join(f"{name(k):>30s}" for k in series))
    for n in ns:
        line = f"{n:>9d}"
        for k in series:
            r = cell.get((n,) + k)
            line += (f"{r['test_accuracy'][-1]:>16.4f} ({len(r['test_accuracy'])} ep, "
                     f"{r['elapsed_s'][-1]:>5.0f} s)" if r else f"{'-':>30s}")
        print(line)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for k in series:
        pts = [(n, cell[(n,) + k]["test_accuracy"][-1]) for n in ns if (n,) + k in cell]
        ax.plot([x for x, _ in pts], [y for _, y in pts], "o--" if k[1] == "eigenpro2" else "o-",
                label=f"eigenpro4, {name(k)}")
    if a.extra:
        extra = read_rows(a.extra)
        ax.plot([r["n"] for r in extra], [r["test_accuracy"][-1] for r in extra], "*",
                markersize=11, color="crimson", label=a.extra_label)
    if a.falkon is not None:
        ax.axhline(a.falkon, color="k", ls="--", lw=1, label=a.falkon_label)
    ax.set_xscale("log")
    ax.set_xlabel("training rows n (60000 real, then augmented)")
    ax.set_ylabel("test accuracy (10000 real test images)")
    ax.set_title("kmpi eigenpro4 on Fashion-MNIST, 2 ranks")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(a.plot)


if __name__ == "__main__":
    main()
