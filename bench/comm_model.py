#!/usr/bin/env python3
"""Communication and scaling model for kmpi's solvers (bench/COMM_MODEL.md explains the terms).

Per-step bytes and messages as formulas in n, p, d, c, m, s, q, P; alpha-beta costs of ring
allreduce / allgather on typical cluster networks; predicted time per epoch and parallel efficiency
for P = 1..1024 nodes on a problem the size of EigenPro 4's largest (n = 5e6, d = 1280, p = 1e6),
and a check against the measured 1 and 2 rank figures on this machine (optional JSON from
bench/run_eigenpro2_fmnist.sh). Writes a table to stdout, JSON and an SVG plot.

    python3 bench/comm_model.py [--measured 1rank.json 2rank.json] [--out scaling]
"""
import argparse, json, math

NETWORKS = {  # latency alpha (s), inverse bandwidth beta (s/byte)
    "InfiniBand HDR 200 Gb/s": (1.5e-6, 1 / 24e9),
    "100 GbE (RoCE)": (5e-6, 1 / 11e9),
    "25 GbE (TCP)": (25e-6, 1 / 2.8e9),
}
WORD = 8  # kmpi sends float64 (batch rows, residuals, reductions)


def allreduce(P, nbytes, alpha, beta):
    """Ring allreduce (reduce-scatter + allgather): 2 (P-1) messages of nbytes / P."""
    if P == 1:
        return 0.0
    return 2 * (P - 1) * alpha + 2 * (P - 1) / P * nbytes * beta


def allgather(P, nbytes_total, alpha, beta):
    """Ring allgather of nbytes_total spread over P ranks."""
    if P == 1:
        return 0.0
    return (P - 1) * alpha + (P - 1) / P * nbytes_total * beta


def eigenpro2_epoch(n, d, c, m, q, P, R, alpha, beta):
    """One epoch = n/m steps. Per step: allgather X_B (m d), allreduce g (m c), allreduce V^T K g
    (q c); compute 2 m (n/P)(d + c) flops (the kernel block and its product with alpha)."""
    steps = n / m
    compute = 2 * m * (n / P) * (d + c) / R
    comm = allgather(P, m * d * WORD, alpha, beta) + allreduce(P, m * c * WORD, alpha, beta) \
        + allreduce(P, q * c * WORD, alpha, beta)
    return steps * compute, steps * comm


def eigenpro4_epoch(n, p, d, c, m, s, q, P, R, alpha, beta, mstar=2000.0):
    """Per batch: allgather X_B, allreduce g (m c) and the data-preconditioner term (q c); compute
    over centers, temporaries (about p on average with capacity 2p) and the data Nystrom points:
    2 m d (p + p + s)/P for f(X_B) and 2 m d p/P for h. Every T = p/m* batches a projection: one
    EigenPro 2 epoch over the p centers (p/m2 steps, m2 = m)."""
    batches = n / m
    compute = batches * 2 * m * d * (3 * p + s) / P / R
    comm = batches * (allgather(P, m * d * WORD, alpha, beta) + allreduce(P, m * c * WORD, alpha, beta)
                      + allreduce(P, q * c * WORD, alpha, beta))
    T = max(1.0, p / mstar)
    projections = batches / T
    pc, pm = eigenpro2_epoch(p, d, c, m, q, P, R, alpha, beta)
    return compute + projections * pc, comm + projections * pm


def falkon_iteration(n, p, d, c, P, R, alpha, beta, nb=64):
    """Per CG iteration: K_nZ^T (K_nZ v): 2 kernel passes 2 * 2 n p d / P, one allreduce of p c;
    the preconditioner's 4 distributed triangular solves (p^2 c / P flops, ~ (p/nb) log P messages)."""
    compute = 4 * n * p * d / P / R + 4 * p * p * c / P / R
    comm = allreduce(P, p * c * WORD, alpha, beta) + (4 * (p / nb) * math.log2(P) * alpha if P > 1 else 0.0)
    return compute, comm


def bytes_per_step_eigenpro2(m, d, c, q, P):
    """What one rank sends per step (as counted by kmpi's MPI layer: its own contribution)."""
    if P == 1:
        return 0
    return (m / P) * d * WORD * (P - 1) + m * c * WORD + q * c * WORD


def svg_plot(series, path, title):
    W, H, L, B = 720, 440, 70, 50
    xs = [x for s in series for x, _ in s["points"]]
    xmax = math.log2(max(xs))
    def X(p): return L + (W - L - 20) * math.log2(p) / xmax
    def Y(e): return H - B - (H - B - 30) * e
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<text x="{W/2}" y="18" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/>',
           f'<line x1="{L}" y1="{H-B}" x2="{L}" y2="30" stroke="black"/>',
           f'<text x="{W/2}" y="{H-10}" text-anchor="middle">nodes P (log scale)</text>',
           f'<text x="15" y="{H/2}" transform="rotate(-90 15 {H/2})" text-anchor="middle">parallel efficiency</text>']
    for k in range(0, int(xmax) + 1):
        out.append(f'<text x="{X(2**k)}" y="{H-B+16}" text-anchor="middle">{2**k}</text>')
    for e in (0, 0.25, 0.5, 0.75, 1.0):
        out.append(f'<text x="{L-8}" y="{Y(e)+4}" text-anchor="end">{e:.2f}</text>')
        out.append(f'<line x1="{L}" y1="{Y(e)}" x2="{W-20}" y2="{Y(e)}" stroke="#ddd"/>')
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
    for i, s in enumerate(series):
        col = colors[i % len(colors)]
        pts = " ".join(f"{X(p):.1f},{Y(e):.1f}" for p, e in s["points"])
        if s.get("measured"):
            for p, e in s["points"]:
                out.append(f'<circle cx="{X(p):.1f}" cy="{Y(e):.1f}" r="5" fill="{col}"/>')
        else:
            out.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="2"/>')
        out.append(f'<text x="{L+10}" y="{40+15*i}" fill="{col}">{s["label"]}</text>')
    out.append("</svg>")
    open(path, "w").write("\n".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--measured", nargs="*", default=[], help="bench/run_eigenpro2_fmnist.sh JSON files")
    ap.add_argument("--node-gflops", type=float, default=3000.0,
                    help="float32 GEMM rate of one node (default 3 TFLOP/s: a 64-core AVX-512 node)")
    ap.add_argument("--out", default="scaling")
    a = ap.parse_args()
    R = a.node_gflops * 1e9
    n, p, d, c, m, s, q = 5_000_000, 1_000_000, 1280, 10, 10_000, 3000, 150
    Ps = [2 ** k for k in range(0, 11)]
    result = {"problem": dict(n=n, p=p, d=d, c=c, m=m, s=s, q=q, node_gflops=a.node_gflops), "predicted": []}
    series = []
    print(f"problem n={n:.0e} p={p:.0e} d={d} c={c} m={m} s={s} q={q}; node float32 GEMM {a.node_gflops:.0f} GFLOP/s")
    for solver in ("eigenpro4", "falkon", "eigenpro2"):
        for net, (alpha, beta) in NETWORKS.items():
            pts, rows = [], []
            for P in Ps:
                if solver == "eigenpro2":
                    comp, comm = eigenpro2_epoch(n, d, c, m, q, P, R, alpha, beta)
                    unit = "epoch"
                elif solver == "eigenpro4":
                    comp, comm = eigenpro4_epoch(n, p, d, c, m, s, q, P, R, alpha, beta)
                    unit = "epoch"
                else:
                    comp, comm = falkon_iteration(n, p, d, c, P, R, alpha, beta)
                    unit = "CG iteration"
                t = comp + comm
                t1 = comp * P  # P = 1 has no communication
                eff = t1 / (P * t)
                pts.append((P, eff))
                rows.append(dict(P=P, seconds=t, compute_s=comp, comm_s=comm, efficiency=eff))
            result["predicted"].append(dict(solver=solver, network=net, unit=unit, rows=rows))
            series.append(dict(label=f"{solver}, {net}", points=pts))
            print(f"\n{solver} per {unit}, {net}")
            print(f"{'P':>6} {'time s':>12} {'compute s':>12} {'comm s':>10} {'efficiency':>11}")
            for r in rows:
                print(f"{r['P']:>6} {r['seconds']:>12.2f} {r['compute_s']:>12.2f} {r['comm_s']:>10.4f} {r['efficiency']:>11.3f}")
    # The model against this machine: Fashion-MNIST 60000, EigenPro 2, shared memory (vader):
    # alpha ~ 1 us, beta ~ 1 / 5 GB/s; R per rank from the benchmark's GEMM measurement.
    measured = [json.load(open(f)) for f in a.measured]
    if measured:
        print("\nmeasured on this machine (EigenPro 2, Fashion-MNIST 60000 x 784, c = 10):")
        pts = []
        base = None
        for mjs in sorted(measured, key=lambda j: j["ranks"]):
            P = mjs["ranks"]
            Rm = mjs["gemm"]["gflops_total"] * 1e9
            batch = mjs["setup"]["batch_size"]
            qq = mjs["setup"]["q"]
            comp, comm = eigenpro2_epoch(60000, 784, 10, batch, qq, P, Rm / P, 1e-6, 1 / 5e9)
            best = min(e["epoch_s"] for e in mjs["epochs"])
            base = base or best * P
            pts.append((P, base / (P * best)))
            print(f"  P={P}: predicted {comp + comm:.2f} s/epoch (compute {comp:.2f}, comm {comm:.4f}), "
                  f"measured {best:.2f} s, bytes/step/rank predicted {bytes_per_step_eigenpro2(batch, 784, 10, qq, P):.0f}"
                  f" measured {mjs['epochs'][-1].get('bytes_per_step', float('nan')):.0f}")
            result.setdefault("measured", []).append(dict(P=P, predicted_s=comp + comm, measured_s=best))
        series.append(dict(label="measured here: EigenPro 2, Fashion-MNIST (2 cores)", points=pts, measured=True))
    json.dump(result, open(a.out + ".json", "w"), indent=1)
    svg_plot(series, a.out + ".svg", f"Predicted parallel efficiency, n={n:.0e}, p={p:.0e}, d={d}")
    print(f"\nwritten {a.out}.json and {a.out}.svg")


if __name__ == "__main__":
    main()
