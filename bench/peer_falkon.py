"""The PyTorch Falkon (FalkonML/falkon 0.9, CPU, float32) on Fashion-MNIST, the peer of kmpi's
falkon in bench/run_falkon_peer.sh. Not part of kmpi: run from the peer's public source on
Debian's python3-torch, with ../shared/peers/falkon_cpu_shim.py standing in for its compiled
helpers.

    python3 peer_falkon.py FALKON_SRC SHIM_DIR THREADS M PENALTY ITERATIONS SIGMA OUT.jsonl

Same problem as kmpi's configs/fashion_mnist.ini: pixels / 255 (data.scale = unit), one-hot 0/1
targets, Gaussian kernel exp(-|x - z|^2 / (2 sigma^2)), M uniformly drawn centers. Writes one JSON
line per CG iteration (test accuracy, the peer's own fit time, which excludes the evaluations,
and the wall time since fit() was called) and one "done" line.
"""
import gzip
import json
import sys
import time

import numpy as np


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic == 0x803:
        n, r, c = (int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(3))
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, r * c)
    return np.frombuffer(data, np.uint8, offset=8)


def main():
    src, shim, threads, m, penalty, iterations, sigma, out = sys.argv[1:9]
    sys.path.insert(0, src)
    sys.path.insert(0, shim)
    import torch
    import falkon
    import falkon_cpu_shim  # noqa: F401  (patches falkon.c_ext)

    torch.set_num_threads(int(threads))
    base = "/usr/share/datasets/fashion-mnist/"
    x = torch.from_numpy(idx(base + "train-images-idx3-ubyte.gz").astype(np.float32) / 255)
    labels = idx(base + "train-labels-idx1-ubyte.gz").astype(np.int64)
    xt = torch.from_numpy(idx(base + "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255)
    labels_t = idx(base + "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    y = torch.zeros(len(labels), 10)
    y[torch.arange(len(labels)), torch.from_numpy(labels)] = 1
    yt = torch.zeros(len(labels_t), 10)
    yt[torch.arange(len(labels_t)), torch.from_numpy(labels_t)] = 1

    lines = []
    start = [0.0]
    model_ref = []

    def accuracy_error(truth, pred):
        acc = float((pred.argmax(1) == truth.argmax(1)).float().mean())
        it = len(lines) + 1
        lines.append({"event": "cg_iteration", "iteration": it, "test_accuracy": acc,
                      "fit_s": model_ref[0].fit_times_[-1],
                      "wall_s": time.perf_counter() - start[0]})
        print(json.dumps(lines[-1]), flush=True)
        return 1 - acc, "test error"

    opts = falkon.FalkonOptions(use_cpu=True, keops_active="no", debug=False)
    kernel = falkon.kernels.GaussianKernel(sigma=float(sigma), opt=opts)
    model = falkon.Falkon(kernel=kernel, penalty=float(penalty), M=int(m),
                          maxiter=int(iterations), seed=1, error_fn=accuracy_error,
                          error_every=1, options=opts)
    model_ref.append(model)
    start[0] = time.perf_counter()
    model.fit(x, y, Xts=xt, Yts=yt)
    wall = time.perf_counter() - start[0]
    acc = float((model.predict(xt).argmax(1) == yt.argmax(1)).float().mean())
    done = {"event": "done", "test_accuracy": acc, "setup_s": model.fit_times_[0],
            "fit_s": model.fit_times_[-1], "wall_s": wall, "threads": int(threads),
            "M": int(m), "penalty": float(penalty), "iterations": int(iterations)}
    lines.append(done)
    print(json.dumps(done), flush=True)
    with open(out, "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
