#!/usr/bin/python3
"""Grokking modular arithmetic with RFM (DESIGN §1.5; "Emergence in non-neural models: grokking
modular arithmetic via average gradient outer product", Mallinar et al.).

For each prime p and operation (a+b, a-b, a*b, a/b mod p) every pair (a, b) is one row: the two
one-hot codes of a and b concatenated (d = 2p), the class (a op b) mod p (division: b != 0). A
seeded shuffle gives --train-fraction of the pairs for training, --validation-fraction for RFM's
iteration selection, the rest for the test. `kmpi train` runs with mpirun -np --ranks: Gaussian
kernel (bandwidth 2.5), direct solver, full metric, rfm.agop_power 0.5 and
rfm.center_gradients; the test accuracy of every RFM iteration comes from the metrics JSON lines
("event": "rfm"), the learned M from output.metric_matrix.

Writes to --out: <op>_p<p>.png (accuracy per iteration and M as an image), and results.txt (one
line per run and the accuracy per iteration). The plain kernel (iteration 0) is at or near 0 test
accuracy; the learned M shows the circulant (Fourier) blocks of the group structure for + and -.

    /usr/bin/python3 bench/modular_arithmetic.py --primes 61 --ops add --train-fraction 0.5
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pairs_and_classes(p, op):
    """All (a, b) pairs the operation is defined on, and (a op b) mod p."""
    a, b = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
    a, b = a.ravel(), b.ravel()
    if op == "add":
        y = (a + b) % p
    elif op == "sub":
        y = (a - b) % p
    elif op == "mul":
        y = (a * b) % p
    elif op == "div":
        keep = b != 0
        a, b = a[keep], b[keep]
        inverse = np.array([pow(int(v), p - 2, p) for v in b])
        y = (a * inverse) % p
    else:
        raise ValueError(op)
    return a, b, y


def one_hot_rows(a, b, p):
    x = np.zeros((len(a), 2 * p))
    x[np.arange(len(a)), a] = 1
    x[np.arange(len(a)), p + b] = 1
    return x


def run(args, p, op, work):
    a, b, y = pairs_and_classes(p, op)
    x = one_hot_rows(a, b, p)
    order = np.random.default_rng(args.seed).permutation(len(y))
    n_train = int(round(args.train_fraction * len(y)))
    n_val = int(round(args.validation_fraction * len(y)))
    fit, test = order[: n_train + n_val], order[n_train + n_val :]
    # kmpi holds out data.validation_fraction of its training file (seeded) for validation.
    files = {}
    for name, rows in (("train", fit), ("test", test)):
        files[name] = os.path.join(work, f"{op}_p{p}_{name}")
        np.save(files[name] + "_x.npy", x[rows])
        np.save(files[name] + "_y.npy", y[rows].astype(np.int64))
    metrics = os.path.join(work, f"{op}_p{p}.jsonl")
    m_file = os.path.join(work, f"{op}_p{p}_m.npy")
    cmd = ["mpirun", "-np", str(args.ranks), args.kmpi, "train",
           f"--data.train_features={files['train']}_x.npy",
           f"--data.train_labels={files['train']}_y.npy",
           f"--data.test_features={files['test']}_x.npy",
           f"--data.test_labels={files['test']}_y.npy",
           "--data.task=classification",
           f"--data.validation_fraction={n_val / (n_train + n_val):.6f}",
           "--kernel.name=gaussian", f"--kernel.bandwidth={args.bandwidth}",
           "--solver.name=direct", f"--solver.ridge={args.ridge}", "--solver.precision=float64",
           f"--solver.seed={args.seed}",
           f"--rfm.iterations={args.iterations}", "--rfm.metric=full",
           f"--rfm.agop_samples={args.agop_samples}",
           f"--rfm.agop_power={args.power}",
           f"--rfm.center_gradients={'false' if args.no_centering else 'true'}",
           f"--output.metrics={metrics}", f"--output.metric_matrix={m_file}"]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_mpi_yield_when_idle="1",
               OMPI_MCA_btl="self,vader", OMPI_MCA_btl_vader_single_copy_mechanism="none",
               OMPI_MCA_hwloc_base_binding_policy="none", OPENBLAS_NUM_THREADS="1")
    start = time.time()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.time() - start
    if done.returncode != 0:
        sys.exit(f"kmpi failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    lines = [json.loads(l) for l in open(metrics)]
    its = [l for l in lines if l.get("event") == "rfm"]
    selected = [l for l in lines if l.get("event") == "rfm_selected"][0]["iteration"]
    m = np.load(m_file)
    return {"p": p, "op": op, "n_train": n_train, "n_validation": n_val, "n_test": len(test),
            "iterations": [int(l["iteration"]) for l in its],
            "test_accuracy": [l["test_accuracy"] for l in its],
            "validation_accuracy": [l["validation_accuracy"] for l in its],
            "selected": int(selected), "seconds": seconds, "m": m,
            "fit_s": sum(l["fit_s"] for l in its), "agop_s": sum(l["agop_s"] for l in its)}


SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def plot(r, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.8))
    ax.plot(r["iterations"], r["test_accuracy"], "o-", label="test")
    ax.plot(r["iterations"], r["validation_accuracy"], "s--", label="validation", alpha=0.7)
    ax.set_xlabel("RFM iteration (0 = plain kernel)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"(a {SYMBOL[r['op']]} b) mod {r['p']}, {r['n_train']} training pairs")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    m = r["m"]
    # The diagonal dominates M; off-diagonal blocks hold the structure, so clip at a quantile.
    shown = m - np.diag(np.diag(m))
    lim = np.quantile(np.abs(shown), 0.995)
    bx.imshow(shown, cmap="RdBu_r", vmin=-lim, vmax=lim)
    bx.set_title(f"learned M (iteration {r['selected']}), diagonal removed")
    bx.set_xticks([0, r["p"]], ["a", "b"])
    bx.set_yticks([0, r["p"]], ["a", "b"])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--primes", default="61", help="comma-separated, e.g. 61,97")
    ap.add_argument("--ops", default="add", help="comma-separated of add,sub,mul,div")
    ap.add_argument("--train-fraction", type=float, default=0.5, help="0.3 .. 0.7")
    ap.add_argument("--validation-fraction", type=float, default=0.1)
    ap.add_argument("--iterations", type=int, default=25)
    ap.add_argument("--agop-samples", type=int, default=0,
                    help="rfm.agop_samples (0 = every training row; the AGOP costs "
                    "2 N_s n p (2p + 1) flops an iteration, so p = 97 wants ~1500)")
    ap.add_argument("--power", type=float, default=0.5)
    ap.add_argument("--no-centering", action="store_true")
    ap.add_argument("--bandwidth", type=float, default=2.5)
    ap.add_argument("--ridge", type=float, default=1e-8)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kmpi", default=os.path.join(ROOT, "build", "kmpi"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "modular"))
    args = ap.parse_args()
    if not 0.3 <= args.train_fraction <= 0.7:
        sys.exit("--train-fraction: 0.3 .. 0.7")
    os.makedirs(args.out, exist_ok=True)
    text = os.path.join(args.out, "results.txt")
    with tempfile.TemporaryDirectory() as work, open(text, "a") as log:
        for p in (int(v) for v in args.primes.split(",")):
            for op in args.ops.split(","):
                r = run(args, p, op, work)
                plot(r, os.path.join(args.out, f"{op}_p{p}_f{args.train_fraction:g}.png"))
                best = r["test_accuracy"][r["iterations"].index(r["selected"])]
                line = (f"(a {SYMBOL[op]} b) mod {p}: train {r['n_train']}, validation "
                        f"{r['n_validation']}, test {r['n_test']} pairs, {args.ranks} ranks, "
                        f"power {args.power:g}, centring {not args.no_centering}: "
                        f"selected iteration {r['selected']} test accuracy {best:.4f} "
                        f"(plain kernel {r['test_accuracy'][0]:.4f}), {r['seconds']:.1f} s "
                        f"(fits {r['fit_s']:.1f} s, AGOPs {r['agop_s']:.1f} s; AGOP samples "
                        f"{args.agop_samples or 'all'})\n"
                        f"  test accuracy per iteration: "
                        + " ".join(f"{v:.4f}" for v in r["test_accuracy"]) + "\n")
                print(line, end="", flush=True)
                log.write(line)


if __name__ == "__main__":
    main()
